-- Votes in PostgreSQL: the writer's batch statements (workers/vote_store.py) and receipts.

-- name: begin_batch
-- Open the batch's transaction and make sure the session has its staging table, in one round
-- trip (no parameters: sent as one simple query). Temporary (no WAL), made once per session,
-- emptied at every COMMIT; a rolled-back batch leaves nothing in it either. Its columns are
-- votes' insert columns, in order; the last four are the fraud review signals (issue 14).
BEGIN;
CREATE TEMP TABLE IF NOT EXISTS vote_batch (
    vote_id uuid, category_id bigint, nominee_id bigint, window_id bigint, voter_id text,
    ip_hash text, cast_at timestamptz, counted boolean, reject_reason text,
    subnet_hash text, ua_hash text, new_voter boolean, challenge_solved boolean
) ON COMMIT DELETE ROWS

-- name: copy_staging
-- Fill the staging table with a judged batch (binary COPY: no per-value text conversion).
COPY vote_batch FROM STDIN (FORMAT BINARY)

-- name: store_staged
-- Store the staged batch and COMMIT, in one round trip (no parameters: one simple query).
-- The first statement stores each staged vote once:
--   new:     the votes not stored before (ON CONFLICT (vote_id) DO NOTHING);
--   usage:   the new valid ones charged to their voter's usage in the window;
--   charged: each new valid vote within its category's max_votes_per_voter or past it; within
--            the batch a voter's votes are charged in vote_id (= time) order, so the earliest
--            count (as ballot.allowed_votes: the n-th new vote counts while usage before this
--            batch + n <= quota);
--   tallies: the new valid votes within the quota added to their nominee's tally;
--   over:    the votes past the quota marked in the staging table, for the second statement
--            (a statement cannot change the rows it inserts).
-- Each step sorted, so concurrent writers take row locks in the same order (no deadlocks):
-- votes, then voter_usage, then tallies. It returns only the exceptions: a vote stored before
-- (over_quota NULL; the writer reads what was decided) or past the quota (true).
-- The second statement marks those rejected ('over_quota' is ballot.Reason.OVER_QUOTA).
WITH new AS (
    INSERT INTO votes (vote_id, category_id, nominee_id, window_id, voter_id, ip_hash, cast_at,
                       counted, reject_reason, subnet_hash, ua_hash, new_voter, challenge_solved)
    SELECT * FROM vote_batch ORDER BY vote_id
    ON CONFLICT (vote_id) DO NOTHING
    RETURNING vote_id, category_id, nominee_id, window_id, voter_id, counted
), usage AS (
    INSERT INTO voter_usage (window_id, voter_id, used)
    SELECT window_id, voter_id, count(*) FROM new WHERE counted GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (window_id, voter_id) DO UPDATE SET used = voter_usage.used + EXCLUDED.used
    RETURNING window_id, voter_id, used
), charged AS (
    SELECT n.vote_id, n.category_id, n.nominee_id,
           u.used - count(*) OVER mine + row_number() OVER (mine ORDER BY n.vote_id)
               > c.max_votes_per_voter AS over_quota
    FROM new n
    JOIN usage u ON u.window_id = n.window_id AND u.voter_id = n.voter_id
    JOIN categories c ON c.id = n.category_id
    WHERE n.counted
    WINDOW mine AS (PARTITION BY n.window_id, n.voter_id)
), tallied AS (
    INSERT INTO tallies (category_id, nominee_id, votes)
    SELECT category_id, nominee_id, count(*) FROM charged WHERE NOT over_quota
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (category_id, nominee_id)
    DO UPDATE SET votes = tallies.votes + EXCLUDED.votes, updated_at = now()
), over AS (
    UPDATE vote_batch b SET counted = false, reject_reason = 'over_quota'
    FROM charged c WHERE c.over_quota AND b.vote_id = c.vote_id
)
SELECT b.vote_id, c.over_quota FROM vote_batch b
LEFT JOIN new n ON n.vote_id = b.vote_id
LEFT JOIN charged c ON c.vote_id = b.vote_id
WHERE n.vote_id IS NULL OR c.over_quota;
UPDATE votes SET counted = false, reject_reason = 'over_quota'
WHERE vote_id = ANY(ARRAY(SELECT vote_id FROM vote_batch WHERE reject_reason = 'over_quota'));
COMMIT

-- name: decided_before
-- What an earlier transaction decided for redelivered votes.
SELECT vote_id, counted, reject_reason FROM votes WHERE vote_id = ANY(%s)

-- name: receipt_status
-- How a stored vote was decided, for its receipt.
SELECT counted, reject_reason, category_id, nominee_id FROM votes WHERE vote_id = %s
