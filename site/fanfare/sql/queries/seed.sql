-- The demo event that `make run` seeds into an empty database (content/seed.py).

-- name: any_event
-- A row if any event exists.
SELECT 1 FROM events LIMIT 1

-- name: insert_event
-- The demo event, published; return its id.
INSERT INTO events (slug, name, tagline, starts_at, published_at)
VALUES ('fan-awards-2026', 'Fan Awards 2026', %s, %s, %s)
RETURNING id

-- name: insert_category
-- A published category; return its id.
INSERT INTO categories (event_id, slug, name, description, position,
                        max_votes_per_voter, results_mode, published_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id

-- name: insert_window
-- A category's voting window; return its id.
INSERT INTO voting_windows (category_id, opens_at, closes_at) VALUES (%s, %s, %s) RETURNING id

-- name: insert_nominee
-- A published nominee.
INSERT INTO nominees (category_id, slug, name, tagline, bio, position, published_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)

-- name: cast_final_votes
-- A few hundred counted votes for each nominee of a closed category, cast before it closed.
INSERT INTO votes (vote_id, category_id, nominee_id, window_id, voter_id, cast_at, counted)
SELECT gen_random_uuid(), n.category_id, n.id, %(window)s,
       'demo-' || n.id || '-' || g, %(closed)s - g * interval '1 minute', true
FROM nominees n
CROSS JOIN LATERAL generate_series(1, 400 + ((n.id * 7919) %% 1300)) g
WHERE n.category_id = %(category)s

-- name: tally_counted_votes
-- A category's tallies from its counted votes.
INSERT INTO tallies (category_id, nominee_id, votes)
SELECT category_id, nominee_id, count(*) FROM votes
WHERE category_id = %s AND counted
GROUP BY 1, 2
