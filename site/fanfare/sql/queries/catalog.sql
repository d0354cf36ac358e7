-- The fan pages' reads: only published content, with each category's window.

-- name: current_event
-- The published event that starts latest: the one the home page is about.
SELECT * FROM events WHERE published_at <= now()
ORDER BY starts_at DESC NULLS LAST, id DESC
LIMIT 1

-- name: categories
-- Published categories of published events, each with the window its page is about.
-- That window is the open one, else the next upcoming one, else the one that closed last.
-- Template: {where} narrows it (and may order it).
SELECT c.id, c.event_id, c.slug, c.name, c.description, c.position,
       c.max_votes_per_voter, c.results_mode, c.reveal_at, c.show_turnout, e.time_zone,
       w.id AS window_id, w.opens_at, w.closes_at, f.counted_at
FROM categories c
JOIN events e ON e.id = c.event_id AND e.published_at <= now()
LEFT JOIN LATERAL (
    SELECT id, opens_at, closes_at FROM voting_windows
    WHERE category_id = c.id
    ORDER BY closes_at <= now(),
             CASE WHEN closes_at > now() THEN opens_at END,
             closes_at DESC
    LIMIT 1
) w ON true
LEFT JOIN window_finals f ON f.window_id = w.id
WHERE c.published_at <= now() {where}

-- name: nominees
-- Published nominees with their photo.
-- Template: {where} narrows it (and may order it).
SELECT n.id, n.category_id, n.slug, n.name, n.tagline, n.bio, n.position,
       p.digest AS photo_digest, p.width AS photo_width, p.height AS photo_height,
       p.alt AS photo_alt, p.renditions AS photo_renditions
FROM nominees n LEFT JOIN photos p ON p.id = n.photo_id
WHERE n.published_at <= now() {where}

-- name: results
-- Counted votes per published nominee of a category, most first.
SELECT n.id, n.slug, n.name, COALESCE(t.votes, 0) AS votes
FROM nominees n LEFT JOIN tallies t
  ON t.nominee_id = n.id AND t.category_id = n.category_id
WHERE n.category_id = %s AND n.published_at <= now()
ORDER BY votes DESC, n.position, n.id

-- name: turnout
-- Votes counted so far in a category, whatever its nominees' state.
SELECT COALESCE(sum(votes), 0)::bigint AS votes FROM tallies WHERE category_id = %s

-- name: winners
-- Every published category whose last window has closed, latest first, with its leader.
-- final: that window is counted (window_finals); shown: not an on_cue category before its reveal.
SELECT e.id AS event_id, e.name AS event_name, e.slug AS event_slug, e.time_zone,
       c.id AS category_id, c.slug AS category_slug, c.name AS category_name, w.closes_at,
       f.window_id IS NOT NULL AS final,
       c.results_mode <> 'on_cue' OR c.reveal_at <= now() AS shown,
       n.id AS nominee_id, n.slug AS nominee_slug, n.name AS nominee_name, t.votes
FROM categories c
JOIN events e ON e.id = c.event_id AND e.published_at <= now()
JOIN LATERAL (
    SELECT id, closes_at FROM voting_windows
    WHERE category_id = c.id ORDER BY closes_at DESC LIMIT 1
) w ON w.closes_at <= now()
LEFT JOIN window_finals f ON f.window_id = w.id
LEFT JOIN LATERAL (
    SELECT nominee_id, votes FROM tallies
    WHERE category_id = c.id AND votes > 0 ORDER BY votes DESC LIMIT 1
) t ON true
LEFT JOIN nominees n ON n.id = t.nominee_id
WHERE c.published_at <= now()
ORDER BY w.closes_at DESC, c.position

-- name: next_history_change
-- When /history next changes by the clock: a published category's close, or a scheduled reveal.
SELECT least(
    (SELECT min(w.closes_at) FROM voting_windows w
     JOIN categories c ON c.id = w.category_id AND c.published_at <= now()
     JOIN events e ON e.id = c.event_id AND e.published_at <= now()
     WHERE w.closes_at > now()),
    (SELECT min(reveal_at) FROM categories WHERE results_mode = 'on_cue' AND reveal_at > now())
) AS at
