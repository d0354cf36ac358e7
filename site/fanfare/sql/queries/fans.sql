-- Fan accounts (fanfare/fans/accounts.py).

-- name: sign_in
-- The account for an address hash, created on first sign-in.
INSERT INTO fans (public_id, email_hash, nickname, last_sign_in_at)
VALUES (%s, %s, %s, now())
ON CONFLICT (email_hash) DO UPDATE SET last_sign_in_at = now()
RETURNING id, public_id, nickname

-- name: get
-- One account by id.
SELECT id, public_id, nickname, created_at FROM fans WHERE id = %s

-- name: rename
-- The name the leaderboard shows.
UPDATE fans SET nickname = %s WHERE id = %s

-- name: erase
-- Delete an account; its predictions keep fan_id NULL (the foreign key's ON DELETE SET NULL).
DELETE FROM fans WHERE id = %s
