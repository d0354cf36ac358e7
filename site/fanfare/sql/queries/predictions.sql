-- The prediction game: rounds, pending predictions, scoring, the feed, the leaderboard
-- (fanfare/predictions/).

-- name: load_rounds
-- Everything a prediction is judged against, for some rounds; the lock comes from the one view.
SELECT r.id, r.kind, l.locks_at,
       coalesce((SELECT array_agg(o.id ORDER BY o.position, o.id)
                 FROM prediction_options o WHERE o.round_id = r.id), '{}') AS option_ids,
       coalesce((SELECT array_agg(c.at ORDER BY c.at, c.id)
                 FROM round_state_changes c WHERE c.round_id = r.id), '{}') AS change_at,
       coalesce((SELECT array_agg(c.suspended ORDER BY c.at, c.id)
                 FROM round_state_changes c WHERE c.round_id = r.id), '{}') AS change_suspended
FROM prediction_rounds r JOIN prediction_round_locks l ON l.round_id = r.id
WHERE r.id = ANY(%s)

-- name: list_rounds
-- Every round of an event with its options and effective lock, soonest lock first.
SELECT r.*, l.locks_at AS effective_locks_at, c.slug AS category_slug,
       (SELECT jsonb_agg(jsonb_build_object('id', o.id, 'label', o.label)
                         ORDER BY o.position, o.id)
        FROM prediction_options o WHERE o.round_id = r.id) AS options
FROM prediction_rounds r
JOIN prediction_round_locks l ON l.round_id = r.id
LEFT JOIN categories c ON c.id = r.category_id
WHERE r.event_id = %s
ORDER BY l.locks_at NULLS LAST, r.id

-- name: round_event
-- The event a round belongs to.
SELECT event_id FROM prediction_rounds WHERE id = %s

-- name: create_round
-- A new round; its options follow.
INSERT INTO prediction_rounds (event_id, category_id, question, kind, points, locks_at,
                               lock_offset_seconds)
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING id

-- name: create_option
-- One option of a round, in its place.
INSERT INTO prediction_options (round_id, label, nominee_id, position) VALUES (%s, %s, %s, %s)

-- name: record_change
-- A suspension or reopening, effective exactly at `at`.
INSERT INTO round_state_changes (round_id, at, suspended, source, feed_seq)
VALUES (%s, %s, %s, %s, %s)

-- name: enter_result
-- The first pair of eyes: the result, not yet counting.
UPDATE prediction_rounds
SET result_option_ids = %s, result_number = %s, result_entered_by = %s, result_entered_at = now()
WHERE id = %s

-- name: verify_result
-- The second pair of eyes (the table's CHECK refuses the same editor too).
UPDATE prediction_rounds SET result_verified_by = %s, result_verified_at = now() WHERE id = %s

-- name: durable_predictions
-- Which of these fans' predictions PostgreSQL already holds, and from when.
SELECT fan_id, submitted_at FROM predictions WHERE round_id = %s AND fan_id = ANY(%s)

-- name: upsert_pending
-- The worker's judgement: the same rules as rules.judge, in SQL, by each prediction's own time;
-- a newer prediction replaces an older one, never the reverse.
INSERT INTO predictions AS p (round_id, fan_id, option_ids, number, submitted_at)
SELECT %(round)s, x.fan_id, x.option_ids, x.number, x.at
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS x(fan_id bigint, option_ids bigint[], number numeric, at timestamptz)
JOIN fans f ON f.id = x.fan_id
JOIN prediction_round_locks l ON l.round_id = %(round)s
WHERE x.at < l.locks_at
  AND NOT coalesce((SELECT c.suspended FROM round_state_changes c
                    WHERE c.round_id = %(round)s AND c.at <= x.at
                    ORDER BY c.at DESC, c.id DESC LIMIT 1), false)
ON CONFLICT (round_id, fan_id) DO UPDATE
   SET option_ids = excluded.option_ids, number = excluded.number,
       submitted_at = excluded.submitted_at
   WHERE excluded.submitted_at > p.submitted_at
RETURNING p.fan_id

-- name: score_round
-- Every prediction of one round at once: a pick is all or nothing; a top 3 earns full points
-- per exact place and half for a right name in the wrong place; a number earns full points
-- when exact and half within 10%.
UPDATE predictions p SET points = CASE r.kind
    WHEN 'pick' THEN CASE WHEN p.option_ids[1] = r.result_option_ids[1] THEN r.points ELSE 0 END
    WHEN 'top3' THEN (
        SELECT coalesce(sum(CASE WHEN p.option_ids[i] = r.result_option_ids[i] THEN r.points
                                 WHEN p.option_ids[i] = ANY (r.result_option_ids)
                                 THEN r.points / 2 ELSE 0 END), 0)
        FROM generate_subscripts(p.option_ids, 1) AS i)
    WHEN 'number' THEN CASE WHEN p.number = r.result_number THEN r.points
                            WHEN abs(p.number - r.result_number) <= abs(r.result_number) / 10
                            THEN r.points / 2 ELSE 0 END
    END
FROM prediction_rounds r
WHERE r.id = %s AND p.round_id = r.id

-- name: mark_scored
-- When the round was scored.
UPDATE prediction_rounds SET scored_at = now() WHERE id = %s

-- name: refresh_leaderboard
-- Rebuild the board without blocking readers (its unique index allows CONCURRENTLY).
REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard

-- name: due_linked
-- Linked rounds whose category has closed (and settled), still without a verified result.
SELECT r.id FROM prediction_rounds r
WHERE r.category_id IS NOT NULL AND r.result_verified_at IS NULL
  AND (SELECT max(w.closes_at) FROM voting_windows w WHERE w.category_id = r.category_id)
      <= %s

-- name: tally_result
-- The final tally as the result: the options' nominees in order of votes (pick 1, top3 3),
-- or the category's total votes for a number.
UPDATE prediction_rounds r SET
    result_option_ids = CASE WHEN r.kind = 'number' THEN NULL ELSE (
        SELECT array_agg(id ORDER BY votes DESC, position, id) FROM (
            SELECT o.id, o.position, coalesce(t.votes, 0) AS votes
            FROM prediction_options o
            LEFT JOIN tallies t ON t.category_id = r.category_id AND t.nominee_id = o.nominee_id
            WHERE o.round_id = r.id
            ORDER BY votes DESC, o.position, o.id
            LIMIT CASE WHEN r.kind = 'top3' THEN 3 ELSE 1 END) ranked) END,
    result_number = CASE WHEN r.kind = 'number' THEN (
        SELECT coalesce(sum(votes), 0) FROM tallies t WHERE t.category_id = r.category_id)
        END,
    result_entered_at = now(), result_verified_at = now()
WHERE r.id = %s

-- name: feed_last_seq
-- The last feed message applied (0 before the first).
SELECT coalesce(max(seq), 0) FROM feed_messages

-- name: feed_seen
-- The body hash of an applied message, to tell a duplicate from a reused seq.
SELECT body_sha256 FROM feed_messages WHERE seq = %s

-- name: feed_record
-- A message applied.
INSERT INTO feed_messages (seq, body_sha256) VALUES (%s, %s)

-- name: leaderboard_top
-- The first places of a board, ties sharing a rank.
SELECT l.rank, l.place, l.points, f.nickname, f.public_id
FROM leaderboard l JOIN fans f ON f.id = l.fan_id
WHERE l.event_id = %s AND l.place <= %s
ORDER BY l.place

-- name: leaderboard_around
-- A fan's own row and the places either side.
WITH me AS (SELECT place FROM leaderboard WHERE event_id = %(scope)s AND fan_id = %(fan)s)
SELECT l.rank, l.place, l.points, f.nickname, f.public_id, l.fan_id = %(fan)s AS is_me
FROM leaderboard l JOIN fans f ON f.id = l.fan_id, me
WHERE l.event_id = %(scope)s AND l.place BETWEEN me.place - %(n)s AND me.place + %(n)s
ORDER BY l.place

-- name: leaderboard_card
-- What a fan's share card shows.
SELECT f.nickname, f.public_id, l.rank, l.points,
       (SELECT count(*) FROM leaderboard a WHERE a.event_id = l.event_id) AS fans
FROM fans f LEFT JOIN leaderboard l ON l.fan_id = f.id AND l.event_id = %s
WHERE f.public_id = %s
