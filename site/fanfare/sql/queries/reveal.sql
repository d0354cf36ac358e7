-- Reveal on cue (content/reveal.py).

-- name: set_reveal
-- Reveal an on_cue category at a moment; no row if it is not on_cue.
UPDATE categories SET reveal_at = %s, updated_at = now()
WHERE id = %s AND results_mode = 'on_cue'
RETURNING id

-- name: revealed_between
-- on_cue categories whose reveal falls in (since, now].
SELECT id FROM categories
WHERE results_mode = 'on_cue' AND reveal_at > %s AND reveal_at <= %s
