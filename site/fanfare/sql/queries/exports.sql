-- What editors export (content/exports.py): every nominee, so totals are the tallies'.

-- name: categories
-- Categories with their last window and whether it is counted.
-- Template: {where} picks them (a category, or an event's).
SELECT c.id, c.slug, c.name, c.results_mode, e.slug AS event_slug, e.name AS event_name,
       w.closes_at, w.closes_at <= now() AS closed, f.counted_at
FROM categories c JOIN events e ON e.id = c.event_id
LEFT JOIN LATERAL (
    SELECT id, closes_at FROM voting_windows WHERE category_id = c.id
    ORDER BY closes_at DESC LIMIT 1
) w ON true
LEFT JOIN window_finals f ON f.window_id = w.id
WHERE {where}
ORDER BY c.position, c.id

-- name: results
-- Every nominee of a category with its counted votes, most first.
SELECT n.id AS nominee_id, n.slug, n.name, n.published_at IS NOT NULL AS published,
       COALESCE(t.votes, 0) AS votes
FROM nominees n LEFT JOIN tallies t ON t.nominee_id = n.id AND t.category_id = n.category_id
WHERE n.category_id = %s
ORDER BY votes DESC, n.position, n.id

-- name: audit_log
-- The whole audit log, oldest first.
SELECT at, editor_email AS editor, action, kind, target_id, detail::text AS detail
FROM audit_log ORDER BY at, id
