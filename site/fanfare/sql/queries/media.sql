-- Photos and their renditions (content/media.py).

-- name: store_photo
-- Insert a photo by content hash (a repeat upload refreshes its renditions); return the row.
INSERT INTO photos (digest, width, height, alt, renditions)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (digest) DO UPDATE SET renditions = EXCLUDED.renditions
RETURNING *

-- name: photo_by_id
-- A photo by id.
SELECT * FROM photos WHERE id = %s
