-- Fraud review (site/fanfare/fraud/): velocity flags, invalidations, the fraud rate.

-- name: detect
-- Upsert a flag for every burst in the current and previous time bucket; return the changed ones.
-- One branch per kind: votes for one nominee per IP, subnet and UA hash; new voters per subnet.
-- A flag's row is rewritten only when its count grew, so an unchanged burst costs no write.
WITH recent AS (
  SELECT vote_id, category_id, nominee_id, ip_hash, subnet_hash, ua_hash, new_voter, cast_at,
         date_bin(make_interval(secs => %(window)s), cast_at, TIMESTAMPTZ 'epoch') AS bucket
  FROM votes
  WHERE cast_at >= date_bin(make_interval(secs => %(window)s), %(now)s, TIMESTAMPTZ 'epoch')
                   - make_interval(secs => %(window)s)
    AND invalidation_id IS NULL
), bursts AS (
  SELECT 'ip' AS kind, ip_hash AS subject, category_id, nominee_id, bucket, count(*) AS n,
         min(cast_at) AS first_at, max(cast_at) AS last_at,
         (array_agg(vote_id ORDER BY cast_at))[1:10] AS sample, %(ip)s AS threshold
  FROM recent WHERE ip_hash <> ''
  GROUP BY 2, 3, 4, 5 HAVING count(*) >= %(ip)s
  UNION ALL
  SELECT 'subnet', subnet_hash, category_id, nominee_id, bucket, count(*),
         min(cast_at), max(cast_at), (array_agg(vote_id ORDER BY cast_at))[1:10],
         %(subnet)s
  FROM recent WHERE subnet_hash <> ''
  GROUP BY 2, 3, 4, 5 HAVING count(*) >= %(subnet)s
  UNION ALL
  SELECT 'ua', ua_hash, category_id, nominee_id, bucket, count(*),
         min(cast_at), max(cast_at), (array_agg(vote_id ORDER BY cast_at))[1:10], %(ua)s
  FROM recent WHERE ua_hash <> ''
  GROUP BY 2, 3, 4, 5 HAVING count(*) >= %(ua)s
  UNION ALL
  SELECT 'new_voters', subnet_hash, category_id, 0, bucket, count(*),
         min(cast_at), max(cast_at), (array_agg(vote_id ORDER BY cast_at))[1:10],
         %(new_voters)s
  FROM recent WHERE subnet_hash <> '' AND new_voter
  GROUP BY 2, 3, 4, 5 HAVING count(*) >= %(new_voters)s
)
INSERT INTO fraud_flags (kind, subject, category_id, nominee_id, bucket_start, window_seconds,
                         vote_count, threshold, first_vote_at, last_vote_at, sample_vote_ids)
SELECT kind, subject, category_id, nominee_id, bucket, %(window)s, n, threshold, first_at,
       last_at, sample
FROM bursts
ON CONFLICT (kind, subject, category_id, nominee_id, bucket_start) DO UPDATE
SET vote_count = EXCLUDED.vote_count, last_vote_at = EXCLUDED.last_vote_at,
    sample_vote_ids = EXCLUDED.sample_vote_ids, updated_at = now()
WHERE fraud_flags.vote_count <> EXCLUDED.vote_count
RETURNING id, kind, subject, (xmax = 0) AS tripped

-- name: flags_newest
-- The newest flags with their category's and nominee's names, for the Fraud page.
SELECT f.*, c.name AS category, n.name AS nominee FROM fraud_flags f
LEFT JOIN categories c ON c.id = f.category_id LEFT JOIN nominees n ON n.id = f.nominee_id
ORDER BY f.created_at DESC, f.id DESC LIMIT %s

-- name: flag_selection
-- What a flag concerns: its kind, hash, category, nominee and time bucket.
SELECT kind, subject, category_id, nominee_id, bucket_start,
       bucket_start + make_interval(secs => window_seconds)
FROM fraud_flags WHERE id = %s

-- name: insert_invalidation
-- Record an invalidation (its vote count follows once the votes are marked); return its id.
INSERT INTO fraud_invalidations (editor_id, editor_email, reason, flag_id, selection, vote_count)
VALUES (%s, %s, %s, %s, %s, 0) RETURNING id

-- name: mark_votes
-- Invalidate the counted votes of one signal hash in [from, to); return how many per nominee.
-- A template: {column} is a signal column from fraud/invalidation.py COLUMNS and {extra} its
-- fixed narrowing clauses (category, nominee, new voters only).
WITH hit AS (
  UPDATE votes SET invalidation_id = %(id)s
  WHERE counted AND invalidation_id IS NULL AND {column} = %(subject)s
    AND cast_at >= %(from)s AND cast_at < %(to)s {extra}
  RETURNING category_id, nominee_id
)
SELECT category_id, nominee_id, count(*) FROM hit GROUP BY 1, 2 ORDER BY 1, 2

-- name: unmark_votes
-- Count an invalidation's votes again; return how many per nominee.
WITH hit AS (
  UPDATE votes SET invalidation_id = NULL WHERE invalidation_id = %(id)s
  RETURNING category_id, nominee_id
)
SELECT category_id, nominee_id, count(*) FROM hit GROUP BY 1, 2 ORDER BY 1, 2

-- name: lock_tallies
-- Lock these tally rows in the writer's (category, nominee) order, so the two never deadlock.
SELECT 1 FROM tallies
WHERE (category_id, nominee_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))
ORDER BY category_id, nominee_id FOR UPDATE

-- name: move_tallies
-- Add a signed number of votes to each (category, nominee) tally.
UPDATE tallies t SET votes = t.votes + d.delta, updated_at = now()
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS d(category_id, nominee_id, delta)
WHERE t.category_id = d.category_id AND t.nominee_id = d.nominee_id

-- name: set_invalidation_count
-- How many votes an invalidation marked.
UPDATE fraud_invalidations SET vote_count = %s WHERE id = %s

-- name: invalidation_for_undo
-- Lock an invalidation before undoing it; undone_at says whether it already was.
SELECT undone_at FROM fraud_invalidations WHERE id = %s FOR UPDATE

-- name: mark_undone
-- Record who undid an invalidation, and why.
UPDATE fraud_invalidations SET undone_at = now(), undone_by = %s, undo_reason = %s WHERE id = %s

-- name: recent_invalidations
-- Invalidations, newest first.
SELECT * FROM fraud_invalidations ORDER BY created_at DESC, id DESC LIMIT %s

-- name: fraud_rate
-- Over the last %(minutes)s: votes in flags, new flags, and invalidated votes (not undone).
SELECT
  (SELECT coalesce(sum(vote_count), 0) FROM fraud_flags
   WHERE updated_at >= now() - make_interval(mins => %(minutes)s)) AS flagged,
  (SELECT count(*) FROM fraud_flags
   WHERE created_at >= now() - make_interval(mins => %(minutes)s)) AS flags,
  (SELECT coalesce(sum(vote_count), 0) FROM fraud_invalidations
   WHERE created_at >= now() - make_interval(mins => %(minutes)s) AND undone_at IS NULL)
   AS invalidated
