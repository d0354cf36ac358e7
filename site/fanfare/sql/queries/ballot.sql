-- The ballot a vote is judged against, loaded in one go by ingest (cached) and the worker.

-- name: categories
-- Every published category of a published event, with its quota.
SELECT c.id, c.slug, c.name, c.max_votes_per_voter FROM categories c
JOIN events e ON e.id = c.event_id AND e.published_at <= now()
WHERE c.published_at <= now()

-- name: windows
-- Every voting window, in time order.
SELECT id, category_id, opens_at, closes_at FROM voting_windows ORDER BY opens_at

-- name: nominees
-- Every published nominee's name.
SELECT id, category_id, name FROM nominees WHERE published_at <= now()

-- name: translated_names
-- The published translations of category and nominee names, for answers in a page's language.
SELECT language, kind, target_id, texts->>'name' AS name FROM translations
WHERE kind IN ('category', 'nominee') AND coalesce(texts->>'name', '') <> ''
