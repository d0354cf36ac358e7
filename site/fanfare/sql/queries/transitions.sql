-- What the clock changes in (since, now]: read by edge/transitions.py to choose keys to purge.

-- name: windows_moved
-- Windows that opened or closed in (since, now], with whether they closed.
SELECT w.category_id, c.event_id, w.closes_at > %(since)s AND w.closes_at <= %(now)s AS closed
FROM voting_windows w JOIN categories c ON c.id = w.category_id
WHERE (w.opens_at > %(since)s AND w.opens_at <= %(now)s)
   OR (w.closes_at > %(since)s AND w.closes_at <= %(now)s)

-- name: published
-- Events, categories and nominees whose scheduled publish came in (since, now].
SELECT 'event' AS kind, id, id AS event_id, NULL::bigint AS category_id FROM events
WHERE published_at > %(since)s AND published_at <= %(now)s
UNION ALL
SELECT 'category', id, event_id, id FROM categories
WHERE published_at > %(since)s AND published_at <= %(now)s
UNION ALL
SELECT 'nominee', n.id, c.event_id, n.category_id
FROM nominees n JOIN categories c ON c.id = n.category_id
WHERE n.published_at > %(since)s AND n.published_at <= %(now)s
