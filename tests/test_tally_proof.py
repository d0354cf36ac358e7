"""The verifiable tally: Merkle roots over counted votes, receipts' proofs and the offline CLI."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import psycopg
import pytest
from click.testing import CliRunner

from fanfare.app import create_ingest_app
from fanfare.cli import main as cli
from fanfare.content.tally_proof import inclusion_proof, publish_root
from fanfare.infra import db
from fanfare.votes import merkle


def rfc9162_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, straight from the RFC's recursive definition."""
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return merkle.node_hash(rfc9162_root(leaves[:split]), rfc9162_root(leaves[split:]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100])
def test_levels_give_rfc9162_roots_and_every_path_verifies(size):
    votes = sorted((uuid.uuid4(), n % 7 + 1) for n in range(size))
    built = merkle.levels(merkle.leaf_hash(v, n) for v, n in votes)

    assert built[-1] == rfc9162_root([merkle.leaf(v, n) for v, n in votes])
    for index, (vote_id, nominee_id) in enumerate(votes):
        proof = {
            "vote_id": str(vote_id),
            "nominee_id": nominee_id,
            "leaf_index": index,
            "tree_size": size,
            "audit_path": [h.hex() for h in merkle.audit_path(built, index)],
        }
        assert merkle.verify(proof, built[-1].hex())
        assert not merkle.verify({**proof, "nominee_id": nominee_id + 1}, built[-1].hex())
        assert not merkle.verify({**proof, "leaf_index": (index + 1) % (size + 1)}, built[-1].hex())


def test_a_leaf_cannot_pass_for_a_node():
    a, b = merkle.leaf_hash(uuid.UUID(int=1), 1), merkle.leaf_hash(uuid.UUID(int=2), 2)
    assert merkle.node_hash(a, b) != hashlib.sha256(b"\x00" + a + b).digest()


def one(database_url: str, sql: str, params: tuple = ()):
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchone()


def final_category(demo: str) -> tuple[int, str]:
    """The demo's closed, counted category and its current root."""
    return one(
        demo,
        "SELECT c.id, encode(r.root, 'hex') FROM categories c"
        " JOIN tally_roots r ON r.category_id = c.id WHERE c.slug = 'best-live-performance'"
        " ORDER BY r.version DESC LIMIT 1",
    )


def proof_of(demo: str, vote_id: uuid.UUID) -> dict:
    with psycopg.connect(demo) as conn:
        return inclusion_proof(conn, vote_id)


def run_cli(tmp_path, proof: dict, root: str):
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    return CliRunner().invoke(cli, ["verify-receipt", str(path), "--root", root])


def test_a_counted_votes_proof_verifies_with_the_cli(demo, tmp_path):
    category_id, root = final_category(demo)
    (vote_id,) = one(
        demo, "SELECT vote_id FROM votes WHERE category_id = %s LIMIT 1", (category_id,)
    )
    proof = proof_of(demo, vote_id)

    result = run_cli(tmp_path, proof, root)

    assert result.exit_code == 0, result.output
    assert f"verified: vote {vote_id}" in result.output
    (counted,) = one(
        demo, "SELECT count(*) FROM votes WHERE category_id = %s AND counted", (category_id,)
    )
    assert proof["tree_size"] == counted and proof["root"] == root


def test_changing_one_counted_votes_nominee_makes_verification_fail(demo, tmp_path):
    category_id, root = final_category(demo)
    vote_id, nominee_id = one(
        demo, "SELECT vote_id, nominee_id FROM votes WHERE category_id = %s LIMIT 1", (category_id,)
    )
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE votes SET nominee_id = (SELECT id FROM nominees WHERE category_id = %s"
            " AND id <> %s LIMIT 1) WHERE vote_id = %s",
            (category_id, nominee_id, vote_id),
        )

    result = run_cli(tmp_path, proof_of(demo, vote_id), root)

    assert result.exit_code != 0
    assert "NOT VERIFIED" in result.output


def test_the_cli_refuses_garbage_and_a_wrong_root(demo, tmp_path):
    category_id, root = final_category(demo)
    (vote_id,) = one(
        demo, "SELECT vote_id FROM votes WHERE category_id = %s LIMIT 1", (category_id,)
    )
    assert run_cli(tmp_path, proof_of(demo, vote_id), "00" * 32).exit_code != 0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(cli, ["verify-receipt", str(bad), "--root", root])
    assert result.exit_code != 0 and "not a proof file" in result.output


def test_an_invalidation_after_final_publishes_a_new_root_and_keeps_the_old(demo, tmp_path):
    category_id, first_root = final_category(demo)
    (vote_id,) = one(
        demo, "SELECT vote_id FROM votes WHERE category_id = %s LIMIT 1", (category_id,)
    )
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE votes SET counted = false, reject_reason = 'invalidated' WHERE vote_id = %s",
            (vote_id,),
        )
        second = publish_root(conn, category_id, "invalidated: 1 vote from a flagged subnet")

    assert second["version"] == 2 and second["root"] != first_root
    with psycopg.connect(demo) as conn:
        versions = conn.execute(
            "SELECT version, tree_size, reason FROM tally_roots WHERE category_id = %s ORDER BY 1",
            (category_id,),
        ).fetchall()
    assert versions[1][1] == versions[0][1] - 1 and versions[1][2].startswith("invalidated")
    assert proof_of(demo, vote_id)["included"] is False
    assert run_cli(tmp_path, proof_of(demo, vote_id), second["root"]).exit_code != 0


def test_the_receipt_offers_its_proof_as_a_private_json_download(demo, redis_url, app_settings):
    category_id, root = final_category(demo)
    (vote_id,) = one(
        demo, "SELECT vote_id FROM votes WHERE category_id = %s LIMIT 1", (category_id,)
    )
    app = create_ingest_app(app_settings(demo, redis_url))
    try:
        client = app.test_client()
        answer = client.get(f"/votes/{vote_id}/proof.json")
        missing = client.get(f"/votes/{uuid.uuid4()}/proof.json")
    finally:
        db.close(app)

    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert merkle.verify(answer.get_json(), root)
    assert missing.status_code == 404


def test_a_root_over_100k_votes_is_set_based_and_quick(demo):
    category_id = one(demo, "SELECT id FROM categories WHERE slug = 'breakthrough-artist'")[0]
    with psycopg.connect(demo) as conn:
        conn.execute(
            "INSERT INTO votes (vote_id, category_id, nominee_id, voter_id, cast_at, counted)"
            " SELECT gen_random_uuid(), %s, (SELECT min(id) FROM nominees WHERE category_id = %s),"
            " 'load-' || g, now(), true FROM generate_series(1, 100000) g",
            (category_id, category_id),
        )
        started = time.monotonic()
        root = publish_root(conn, category_id, "final")
        seconds = time.monotonic() - started
        (vote_id,) = conn.execute(
            "SELECT vote_id FROM votes WHERE category_id = %s ORDER BY vote_id OFFSET 4321 LIMIT 1",
            (category_id,),
        ).fetchone()
        started = time.monotonic()
        proof = inclusion_proof(conn, vote_id)
        proof_seconds = time.monotonic() - started
    print(f"\nroot over 100,000 votes: {seconds:.2f} s; one proof: {proof_seconds * 1000:.1f} ms")
    assert root["tree_size"] == 100_000 and merkle.verify(proof, root["root"])
    assert proof["leaf_index"] == 4321 and len(proof["audit_path"]) == 17  # in the full 2**16 half
    assert seconds < 30 and proof_seconds < 2  # generous: the machine is shared
