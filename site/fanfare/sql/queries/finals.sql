-- Final only when counted (content/finals.py).

-- name: awaiting
-- Windows closed before a moment that are not yet declared counted, oldest close first.
SELECT w.id, w.category_id, w.closes_at FROM voting_windows w
WHERE w.closes_at <= %s
  AND NOT EXISTS (SELECT 1 FROM window_finals f WHERE f.window_id = w.id)
ORDER BY w.closes_at, w.id

-- name: mark_final
-- Declare a window counted; nothing if another scheduler did already.
INSERT INTO window_finals (window_id, category_id) VALUES (%s, %s)
ON CONFLICT (window_id) DO NOTHING
RETURNING window_id
