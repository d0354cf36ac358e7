"""Publishing a category's Merkle root over its counted votes, and each receipt's proof.

`publish_root` snapshots the counted receipts in one set-based statement (tally_leaves), lets
PostgreSQL hash and order the leaves (one bytea out, however many votes), builds the levels here
and stores each as one string of hashes, so a proof later costs one indexed row and one 32-byte
slice per level. The tree's encoding is fanfare.votes.merkle's (docs/verify.md).
"""

from __future__ import annotations

import uuid

import psycopg
from psycopg.rows import dict_row, tuple_row

from fanfare.votes import merkle

SNAPSHOT_LEAVES = """
INSERT INTO tally_leaves (root_id, vote_id, position, nominee_id)
SELECT %(root_id)s, vote_id, row_number() OVER (ORDER BY vote_id) - 1, nominee_id
FROM votes WHERE category_id = %(category_id)s AND counted
"""
# The same leaf encoding as merkle.leaf_hash: 0x00 || vote_id (16 bytes) || nominee_id (8, BE).
LEAF_HASHES = """
SELECT string_agg(sha256('\\x00'::bytea || uuid_send(vote_id) || int8send(nominee_id)),
                  ''::bytea ORDER BY position)
FROM tally_leaves WHERE root_id = %s
"""
PROOF_SUBJECT = """
SELECT r.id AS root_id, r.version, r.root, r.tree_size, r.reason, r.published_at,
       l.position, v.vote_id, v.nominee_id, v.counted, c.slug AS category_slug
FROM votes v
JOIN categories c ON c.id = v.category_id
JOIN LATERAL (
    SELECT * FROM tally_roots WHERE category_id = v.category_id ORDER BY version DESC LIMIT 1
) r ON true
LEFT JOIN tally_leaves l ON l.root_id = r.id AND l.vote_id = v.vote_id
WHERE v.vote_id = %s
"""
# The sibling at each level below the root; a level where the node was carried up has none.
AUDIT_PATH = """
SELECT substring(hashes FROM ((%(position)s >> level) # 1) * 32 + 1 FOR 32)
FROM tally_levels
WHERE root_id = %(root_id)s AND ((%(position)s >> level) # 1) < width
ORDER BY level
"""


def publish_root(conn: psycopg.Connection, category_id: int, reason: str) -> dict:
    """Commit to every vote counted in the category now, as a new root version; return it.

    Call it inside the transaction that changed what is counted (final, an invalidation), then
    purge keys.root_published(category_id) after COMMIT. Earlier roots are kept.
    """
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        # One publisher per category at a time, without blocking the writer's tally rows.
        cur.execute("SELECT 1 FROM categories WHERE id = %s FOR NO KEY UPDATE", (category_id,))
        cur.execute(
            "INSERT INTO tally_roots (category_id, version, root, tree_size, reason)"
            " SELECT %s, COALESCE(max(version), 0) + 1, %s, 0, %s FROM tally_roots"
            " WHERE category_id = %s RETURNING id, version",
            (category_id, bytes(merkle.HASH_BYTES), reason, category_id),
        )
        root_id, version = cur.fetchone()
        cur.execute(SNAPSHOT_LEAVES, {"root_id": root_id, "category_id": category_id})
        cur.execute(LEAF_HASHES, (root_id,))
        leaves = cur.fetchone()[0] or b""
        built = merkle.levels([leaves]) if leaves else []
        root = built[-1] if built else merkle.empty_root()
        tree_size = len(leaves) // merkle.HASH_BYTES
        with cur.copy("COPY tally_levels (root_id, level, width, hashes) FROM STDIN") as copy:
            for level, hashes in enumerate(built):
                copy.write_row((root_id, level, len(hashes) // merkle.HASH_BYTES, hashes))
        cur.execute(
            "UPDATE tally_roots SET root = %s, tree_size = %s WHERE id = %s",
            (root, tree_size, root_id),
        )
    return {"version": version, "root": root.hex(), "tree_size": tree_size, "reason": reason}


def roots(conn: psycopg.Connection, category_id: int) -> list[dict]:
    """Every root published for a category, newest first, root as hex."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT version, encode(root, 'hex') AS root, tree_size, reason, published_at"
            " FROM tally_roots WHERE category_id = %s ORDER BY version DESC",
            (category_id,),
        ).fetchall()
    return rows


def inclusion_proof(conn: psycopg.Connection, vote_id: uuid.UUID) -> dict | None:
    """The proof that a vote is in its category's current root; None before any root.

    The leaf is built from the vote as stored now, so a vote changed after the root was
    published no longer verifies: that is the point. `included` is False for a vote the
    current root does not count (rejected, or invalidated since).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        subject = cur.execute(PROOF_SUBJECT, (vote_id,)).fetchone()
        if subject is None:
            return None
        proof = {
            "algorithm": merkle.ALGORITHM,
            "category": subject["category_slug"],
            "root": subject["root"].hex(),
            "root_version": subject["version"],
            "root_reason": subject["reason"],
            "published_at": subject["published_at"].isoformat(),
            "vote_id": str(subject["vote_id"]),
            "nominee_id": subject["nominee_id"],
            "tree_size": subject["tree_size"],
            "included": subject["position"] is not None,
        }
        if subject["position"] is None:
            return proof
        rows = cur.execute(
            AUDIT_PATH, {"position": subject["position"], "root_id": subject["root_id"]}
        ).fetchall()
    hashes = [row["substring"] for row in rows]
    return {**proof, "leaf_index": subject["position"], "audit_path": [h.hex() for h in hashes]}
