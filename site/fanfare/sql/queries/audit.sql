-- The audit log: who did what, when (content/audit.py).

-- name: record
-- Append one entry.
INSERT INTO audit_log (editor_id, editor_email, action, kind, target_id, detail)
VALUES (%s, %s, %s, %s, %s, %s)

-- name: recent
-- The newest entries first, up to a limit.
SELECT at, editor_email, action, kind, target_id, detail FROM audit_log
ORDER BY at DESC, id DESC
LIMIT %s
