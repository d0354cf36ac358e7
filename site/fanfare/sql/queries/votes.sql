-- Votes in PostgreSQL: the writer's batch statements (workers/vote_store.py) and receipts.

-- name: insert_votes
-- Insert a batch of judged votes, each once; return the ids that were really new.
-- The last four columns are the fraud review signals (keyed hashes and flags, issue 14).
INSERT INTO votes (vote_id, category_id, nominee_id, window_id, voter_id, ip_hash, cast_at,
                   counted, reject_reason,
                   subnet_hash, ua_hash, new_voter, challenge_solved)
SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[],
                     %s::text[], %s::timestamptz[], %s::boolean[], %s::text[],
                     %s::text[], %s::text[], %s::boolean[], %s::boolean[])
ON CONFLICT (vote_id) DO NOTHING
RETURNING vote_id

-- name: decided_before
-- What an earlier transaction decided for redelivered votes.
SELECT vote_id, counted, reject_reason FROM votes WHERE vote_id = ANY(%s)

-- name: use_quota
-- Charge votes to each (window, voter) and return the totals used.
-- Sorted, so concurrent writers lock usage rows in the same order (no deadlocks).
INSERT INTO voter_usage (window_id, voter_id, used)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::int[]) ORDER BY 1, 2
ON CONFLICT (window_id, voter_id) DO UPDATE SET used = voter_usage.used + EXCLUDED.used
RETURNING window_id, voter_id, used

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
