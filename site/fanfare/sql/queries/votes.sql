-- Votes in PostgreSQL: the writer's batch statements (workers/vote_store.py) and receipts.

-- name: create_staging
-- The session's staging table for one batch, made once per connection.
-- Temporary (no WAL), emptied at every COMMIT; a rolled-back batch leaves nothing in it either.
-- Its columns are votes' insert columns, in order.
CREATE TEMP TABLE IF NOT EXISTS vote_batch (
    vote_id uuid, category_id bigint, nominee_id bigint, window_id bigint, voter_id text,
    ip_hash text, cast_at timestamptz, counted boolean, reject_reason text
) ON COMMIT DELETE ROWS

-- name: copy_staging
-- Fill the staging table with a judged batch (binary COPY: no per-value text conversion).
COPY vote_batch FROM STDIN (FORMAT BINARY)

-- name: insert_and_charge
-- Store each staged vote once, charge the new valid ones to their voter's quota, and return
-- every new vote with its voter's usage after this batch (NULL for a vote that is not valid).
-- One statement instead of two, and nothing to send but the staging table's name.
-- Sorted, so concurrent writers take row locks in the same order (no deadlocks).
WITH new AS (
    INSERT INTO votes (vote_id, category_id, nominee_id, window_id, voter_id, ip_hash, cast_at,
                       counted, reject_reason)
    SELECT * FROM vote_batch ORDER BY vote_id
    ON CONFLICT (vote_id) DO NOTHING
    RETURNING vote_id, window_id, voter_id, counted
), usage AS (
    INSERT INTO voter_usage (window_id, voter_id, used)
    SELECT window_id, voter_id, count(*) FROM new WHERE counted GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (window_id, voter_id) DO UPDATE SET used = voter_usage.used + EXCLUDED.used
    RETURNING window_id, voter_id, used
)
SELECT new.vote_id, usage.used FROM new LEFT JOIN usage USING (window_id, voter_id)

-- name: decided_before
-- What an earlier transaction decided for redelivered votes.
SELECT vote_id, counted, reject_reason FROM votes WHERE vote_id = ANY(%s)

-- name: reject_votes
-- Mark votes as not counted, with the reason.
UPDATE votes SET counted = false, reject_reason = %s WHERE vote_id = ANY(%s)

-- name: add_tallies
-- Add counted votes to each (category, nominee) tally.
-- Sorted, so concurrent writers lock tally rows in the same order (no deadlocks).
INSERT INTO tallies (category_id, nominee_id, votes)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) ORDER BY 1, 2
ON CONFLICT (category_id, nominee_id)
DO UPDATE SET votes = tallies.votes + EXCLUDED.votes, updated_at = now()

-- name: receipt_status
-- How a stored vote was decided, for its receipt.
SELECT counted, reject_reason, category_id, nominee_id FROM votes WHERE vote_id = %s
