-- Editor accounts (web/admin/accounts.py).

-- name: insert_editor
-- Create an account; return its id.
INSERT INTO editors (email, password_hash, role) VALUES (%s, %s, %s) RETURNING id

-- name: editor_for_sign_in
-- The active account with this email, with its password hash.
SELECT id, email, role, password_hash FROM editors WHERE email = %s AND active

-- name: set_password_hash
-- Replace an account's password hash (a rehash with the current parameters).
UPDATE editors SET password_hash = %s WHERE id = %s

-- name: record_login
-- Note that an account signed in now.
UPDATE editors SET last_login_at = now() WHERE id = %s

-- name: active_editor
-- An active account by id.
SELECT id, email, role FROM editors WHERE id = %s AND active

-- name: all_editors
-- Every account, active first, then by email.
SELECT id, email, role, active, created_at, last_login_at FROM editors
ORDER BY active DESC, email

-- name: set_active
-- Enable or disable an account.
UPDATE editors SET active = %s WHERE id = %s

-- name: set_role
-- Make an account an editor or an admin.
UPDATE editors SET role = %s WHERE id = %s
