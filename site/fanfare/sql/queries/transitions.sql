-- What the clock changes in (since, now]: read by edge/transitions.py to choose keys to purge.

-- name: windows_moved
-- Windows that opened or closed in (since, now], with whether they closed.
SELECT w.category_id, c.event_id, w.closes_at > %(since)s AND w.closes_at <= %(now)s AS closed
FROM voting_windows w JOIN categories c ON c.id = w.category_id
WHERE (w.opens_at > %(since)s AND w.opens_at <= %(now)s)
   OR (w.closes_at > %(since)s AND w.closes_at <= %(now)s)

-- name: published
-- Events, categories and nominees whose scheduled publish came in (since, now], each with what
-- edge/keys.py needs to name its pages: a category's event, a nominee's category, an event's
-- categories.
SELECT 'event' AS kind, id, NULL::bigint AS event_id, NULL::bigint AS category_id,
       ARRAY(SELECT c.id FROM categories c WHERE c.event_id = events.id) AS category_ids
FROM events
WHERE published_at > %(since)s AND published_at <= %(now)s
UNION ALL
SELECT 'category', id, event_id, NULL, NULL FROM categories
WHERE published_at > %(since)s AND published_at <= %(now)s
UNION ALL
SELECT 'nominee', id, NULL, category_id, NULL FROM nominees
WHERE published_at > %(since)s AND published_at <= %(now)s
