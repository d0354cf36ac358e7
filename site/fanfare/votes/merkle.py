"""The tally's Merkle tree: leaf and node encoding, building by levels, and proof checking.

The tree is RFC 9162's (Certificate Transparency v2) with SHA-256: a leaf hashes as
SHA-256(0x00 || leaf) and a node as SHA-256(0x01 || left || right), so a leaf can never pass
for a node. Levels pair neighbours left to right; an odd last node is carried up unchanged,
which gives exactly RFC 9162's left-balanced tree. A leaf is a counted receipt: the vote_id's
16 bytes (RFC 9562 order) then the nominee_id as 8 bytes big-endian; leaves are sorted by
vote_id. docs/verify.md is the reader's version. No database here: the CLI checks offline.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_BYTES = 32
ALGORITHM = "fanfare-merkle-v1: RFC 9162 tree, SHA-256, leaf = vote_id(16) || nominee_id(8, BE)"


def leaf(vote_id: uuid.UUID, nominee_id: int) -> bytes:
    """A counted receipt's 24 leaf bytes."""
    return vote_id.bytes + nominee_id.to_bytes(8, "big")


def leaf_hash(vote_id: uuid.UUID, nominee_id: int) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(LEAF_PREFIX + leaf(vote_id, nominee_id)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """RFC 9162's hash of the empty tree: SHA-256 of nothing."""
    return hashlib.sha256(b"").digest()


def next_level(hashes: bytes) -> bytes:
    """Pair neighbours of a level (concatenated 32-byte hashes); an odd last one moves up."""
    width = len(hashes) // HASH_BYTES
    parents = bytearray()
    for i in range(0, width - 1, 2):
        start = i * HASH_BYTES
        parents += node_hash(
            hashes[start : start + HASH_BYTES], hashes[start + HASH_BYTES : start + 2 * HASH_BYTES]
        )
    if width % 2:
        parents += hashes[(width - 1) * HASH_BYTES :]
    return bytes(parents)


def levels(leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """Every level from the leaf hashes up to the root (the last level holds one hash)."""
    level = b"".join(leaf_hashes)
    built = [level]
    while len(level) > HASH_BYTES:
        level = next_level(level)
        built.append(level)
    return built


def audit_path(built: list[bytes], index: int) -> list[bytes]:
    """The sibling hashes from leaf `index` up to the root (promoted levels have none)."""
    path = []
    for level in built[:-1]:
        sibling = (index ^ 1) * HASH_BYTES
        if sibling < len(level):
            path.append(level[sibling : sibling + HASH_BYTES])
        index >>= 1
    return path


def root_from_path(leaf_digest: bytes, index: int, tree_size: int, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root a leaf and its audit path lead to; ValueError if none."""
    if not 0 <= index < tree_size:
        raise ValueError("leaf index outside the tree")
    fn, sn, digest = index, tree_size - 1, leaf_digest
    for sibling in path:
        if sn == 0:
            raise ValueError("audit path longer than the tree")
        if fn % 2 == 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("audit path shorter than the tree")
    return digest


def verify(proof: dict, root_hex: str) -> bool:
    """Whether a receipt's proof (the JSON the receipt page offers) leads to root_hex."""
    try:
        digest = leaf_hash(uuid.UUID(proof["vote_id"]), int(proof["nominee_id"]))
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if any(len(h) != HASH_BYTES for h in path):
            return False
        found = root_from_path(digest, int(proof["leaf_index"]), int(proof["tree_size"]), path)
    except (KeyError, TypeError, ValueError, OverflowError):
        return False
    return found.hex() == root_hex.strip().lower()
