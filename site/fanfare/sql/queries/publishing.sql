-- Drafts, publish, unpublish and scheduled publish (content/publishing.py).
-- {table} is one of publishing.KINDS' tables (events, categories, nominees), filled in by the
-- caller; so are the column lists of insert_row and update_row, from the kind's fields.

-- name: live_row
-- The live row of {table} by id, whatever its published_at.
SELECT * FROM {table} WHERE id = %s

-- name: live_row_locked
-- The live row of {table} by id, locked for the transaction that publishes it.
SELECT * FROM {table} WHERE id = %s FOR UPDATE

-- name: windows
-- A category's voting windows in time order.
SELECT id, opens_at, closes_at FROM voting_windows WHERE category_id = %s ORDER BY opens_at, id

-- name: draft
-- The pending draft of a row.
SELECT data, publish_at, updated_at, updated_by FROM drafts WHERE kind = %s AND target_id = %s

-- name: listing
-- Rows of {table} with their working name and pending draft; {where} and {order} complete it.
SELECT t.*, coalesce(d.data->>'name', t.name) AS working_name,
       d.id IS NOT NULL AS has_draft, d.publish_at AS draft_publish_at
FROM {table} t LEFT JOIN drafts d ON d.kind = %s AND d.target_id = t.id
{where}
ORDER BY {order}

-- name: insert_row
-- A new row of {table}, unpublished, with the given {columns} and their {values}; return its id.
INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING id

-- name: save_draft
-- Store the pending draft of a row, replacing any earlier one (its schedule stays).
INSERT INTO drafts (kind, target_id, data, updated_by) VALUES (%s, %s, %s, %s)
ON CONFLICT (kind, target_id) DO UPDATE
SET data = EXCLUDED.data, updated_by = EXCLUDED.updated_by, updated_at = now()

-- name: delete_draft
-- Throw a row's pending draft away.
DELETE FROM drafts WHERE kind = %s AND target_id = %s

-- name: schedule_draft
-- Have the scheduler publish a row's pending draft at a given time.
UPDATE drafts SET publish_at = %s WHERE kind = %s AND target_id = %s

-- name: unschedule_draft
-- Keep a row's pending draft, but stop the scheduler from publishing it.
UPDATE drafts SET publish_at = NULL WHERE kind = %s AND target_id = %s

-- name: update_row
-- Copy the changed fields ({assignments}) of a draft onto the live row of {table}.
UPDATE {table} SET {assignments}, updated_at = now() WHERE id = %s

-- name: schedule_row
-- Make a row of {table} visible to fans at a given time.
UPDATE {table} SET published_at = %s WHERE id = %s

-- name: publish_row
-- Make a row of {table} visible to fans now.
UPDATE {table} SET published_at = now() WHERE id = %s

-- name: unpublish_row
-- Hide a row of {table} from fans.
UPDATE {table} SET published_at = NULL WHERE id = %s

-- name: window_has_votes
-- A row if any vote was counted in the window: the writer charges every vote valid in a window
-- to voter_usage (over the quota too), so its primary key answers without scanning votes. A vote
-- the writer rejected (the window was moved, the category unpublished) does not hold a window.
SELECT 1 AS x FROM voter_usage WHERE window_id = %s LIMIT 1

-- name: insert_window
-- A new voting window of a category.
INSERT INTO voting_windows (category_id, opens_at, closes_at) VALUES (%s, %s, %s)

-- name: update_window
-- Move a voting window.
UPDATE voting_windows SET opens_at = %s, closes_at = %s WHERE id = %s

-- name: delete_window
-- Remove a voting window (one without votes).
DELETE FROM voting_windows WHERE id = %s

-- name: event_categories
-- The ids of an event's categories.
SELECT id FROM categories WHERE event_id = %s

-- name: due_drafts
-- Drafts whose scheduled publish has come, oldest first; ones another scheduler holds are skipped.
SELECT kind, target_id, updated_by FROM drafts WHERE publish_at <= %s
ORDER BY publish_at
FOR UPDATE SKIP LOCKED
