-- Editors' translations of content texts (content/translations.py).

-- name: one
-- One row's translation into one language: its published texts, pending draft and schedule.
SELECT language, texts, draft, publish_at, published_at, updated_at
FROM translations WHERE kind = %s AND target_id = %s AND language = %s

-- name: one_locked
-- The same, locked for the transaction that publishes it.
SELECT language, texts, draft, publish_at, published_at, updated_at
FROM translations WHERE kind = %s AND target_id = %s AND language = %s
FOR UPDATE

-- name: of_row
-- Every language a row has a translation or a draft in.
SELECT language, texts, draft, publish_at, published_at, updated_at
FROM translations WHERE kind = %s AND target_id = %s

-- name: save_draft
-- Store the pending draft of a translation, replacing any earlier one (its schedule stays).
INSERT INTO translations (kind, target_id, language, draft, updated_by)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (kind, target_id, language) DO UPDATE
SET draft = EXCLUDED.draft, updated_by = EXCLUDED.updated_by, updated_at = now()

-- name: discard_draft
-- Throw a translation's pending draft (and its schedule) away.
UPDATE translations SET draft = NULL, publish_at = NULL, updated_at = now()
WHERE kind = %s AND target_id = %s AND language = %s

-- name: schedule
-- Have the scheduler publish a translation's pending draft at a given time.
UPDATE translations SET publish_at = %s
WHERE kind = %s AND target_id = %s AND language = %s AND draft IS NOT NULL

-- name: unschedule
-- Keep a translation's pending draft, but stop the scheduler from publishing it.
UPDATE translations SET publish_at = NULL WHERE kind = %s AND target_id = %s AND language = %s

-- name: publish
-- Make the pending draft the published translation.
UPDATE translations
SET texts = draft, draft = NULL, publish_at = NULL, published_at = now(), updated_at = now()
WHERE kind = %s AND target_id = %s AND language = %s

-- name: unpublish
-- Withdraw the published translation: fans see the default language's texts again.
UPDATE translations SET texts = NULL, published_at = NULL, updated_at = now()
WHERE kind = %s AND target_id = %s AND language = %s

-- name: published_for
-- One language's published texts of some rows of a kind, for the fan pages.
SELECT target_id, texts FROM translations
WHERE language = %s AND kind = %s AND target_id = ANY(%s) AND texts IS NOT NULL

-- name: due
-- Translation drafts whose scheduled publish has come, oldest first; ones another scheduler
-- holds are skipped.
SELECT kind, target_id, language FROM translations WHERE publish_at <= %s
ORDER BY publish_at
FOR UPDATE SKIP LOCKED
