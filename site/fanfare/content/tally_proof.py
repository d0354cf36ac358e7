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

from fanfare.infra import sql
from fanfare.votes import merkle

Q = sql.queries("tally_proof")


def publish_root(conn: psycopg.Connection, category_id: int, reason: str) -> dict:
    """Commit to every vote counted in the category now, as a new root version; return it.

    Call it inside the transaction that changed what is counted (final, an invalidation), then
    purge keys.root_published(category_id) after COMMIT. Earlier roots are kept.
    """
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        # One publisher per category at a time, without blocking the writer's tally rows.
        cur.execute(Q.lock_category, (category_id,))
        placeholder = bytes(merkle.HASH_BYTES)
        cur.execute(
            Q.new_root, {"category_id": category_id, "placeholder": placeholder, "reason": reason}
        )
        root_id, version = cur.fetchone()
        cur.execute(Q.snapshot_leaves, {"root_id": root_id, "category_id": category_id})
        cur.execute(Q.leaf_hashes, (root_id,))
        leaves = cur.fetchone()[0] or b""
        built = merkle.levels([leaves]) if leaves else []
        root = built[-1] if built else merkle.empty_root()
        tree_size = len(leaves) // merkle.HASH_BYTES
        with cur.copy(Q.copy_levels) as copy:
            for level, hashes in enumerate(built):
                copy.write_row((root_id, level, len(hashes) // merkle.HASH_BYTES, hashes))
        cur.execute(Q.set_root, (root, tree_size, root_id))
    return {"version": version, "root": root.hex(), "tree_size": tree_size, "reason": reason}


def roots(conn: psycopg.Connection, category_id: int) -> list[dict]:
    """Every root published for a category, newest first, root as hex."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(Q.roots, (category_id,)).fetchall()


def inclusion_proof(conn: psycopg.Connection, vote_id: uuid.UUID) -> dict | None:
    """The proof that a vote is in its category's current root; None before any root.

    The leaf is built from the vote as stored now, so a vote changed after the root was
    published no longer verifies: that is the point. `included` is False for a vote the
    current root does not count (rejected, or invalidated since).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        subject = cur.execute(Q.proof_subject, (vote_id,)).fetchone()
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
            Q.audit_path, {"position": subject["position"], "root_id": subject["root_id"]}
        ).fetchall()
    hashes = [row["sibling"] for row in rows]
    return {**proof, "leaf_index": subject["position"], "audit_path": [h.hex() for h in hashes]}
