-- The tally's Merkle roots and receipts' proofs (content/tally_proof.py, docs/verify.md).

-- name: lock_category
-- One root publisher per category at a time, without blocking the writer's tally rows.
SELECT 1 FROM categories WHERE id = %s FOR NO KEY UPDATE

-- name: new_root
-- The next root version of a category, its hash filled in once the tree is built.
INSERT INTO tally_roots (category_id, version, root, tree_size, reason)
SELECT %(category_id)s, COALESCE(max(version), 0) + 1, %(placeholder)s, 0, %(reason)s
FROM tally_roots WHERE category_id = %(category_id)s
RETURNING id, version

-- name: snapshot_leaves
-- The counted receipts the root commits to, in canonical vote_id order, in one statement;
-- a vote invalidated after review (fraud) is left out, as it is from the tallies.
INSERT INTO tally_leaves (root_id, vote_id, position, nominee_id)
SELECT %(root_id)s, vote_id, row_number() OVER (ORDER BY vote_id) - 1, nominee_id
FROM votes WHERE category_id = %(category_id)s AND counted AND invalidation_id IS NULL

-- name: leaf_hashes
-- Every leaf hash in order, as one string: SHA-256(0x00 || vote_id (16) || nominee_id (8, BE)).
-- The same encoding as fanfare.votes.merkle.leaf_hash; PostgreSQL hashes and orders them.
SELECT string_agg(sha256('\x00'::bytea || uuid_send(vote_id) || int8send(nominee_id)),
                  ''::bytea ORDER BY position) AS hashes
FROM tally_leaves WHERE root_id = %s

-- name: copy_levels
-- The tree's levels, one row each.
COPY tally_levels (root_id, level, width, hashes) FROM STDIN

-- name: set_root
-- The built root and its size.
UPDATE tally_roots SET root = %s, tree_size = %s WHERE id = %s

-- name: roots
-- Every root of a category, newest first, as hex.
SELECT version, encode(root, 'hex') AS root, tree_size, reason, published_at
FROM tally_roots WHERE category_id = %s
ORDER BY version DESC

-- name: proof_subject
-- A vote as stored now, its category's current root, and its leaf in it (if counted there).
SELECT r.id AS root_id, r.version, r.root, r.tree_size, r.reason, r.published_at,
       l.position, v.vote_id, v.nominee_id, c.slug AS category_slug
FROM votes v
JOIN categories c ON c.id = v.category_id
JOIN LATERAL (
    SELECT * FROM tally_roots WHERE category_id = v.category_id ORDER BY version DESC LIMIT 1
) r ON true
LEFT JOIN tally_leaves l ON l.root_id = r.id AND l.vote_id = v.vote_id
WHERE v.vote_id = %s

-- name: audit_path
-- The sibling at each level below the root, 32 bytes read from each level's string.
-- A level where the node was carried up unchanged has no sibling.
SELECT substring(hashes FROM ((%(position)s >> level) # 1) * 32 + 1 FOR 32) AS sibling
FROM tally_levels
WHERE root_id = %(root_id)s AND ((%(position)s >> level) # 1) < width
ORDER BY level
