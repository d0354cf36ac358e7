"""GET /votes/<receipt>: queued (Redis), counted or rejected (Redis, else PostgreSQL)."""

from __future__ import annotations

import uuid

import psycopg
import redis
from flask import Blueprint
from flask.wrappers import Response

from fanfare.http import i18n
from fanfare.infra import db, redis_client, sql
from fanfare.ingest import ballot_cache
from fanfare.ingest.answers import Problem, answer, install
from fanfare.votes.ballot import Ballot
from fanfare.votes.stream import receipt_key

Q = sql.queries("votes")
bp = install(Blueprint("receipts", __name__))
Q = sql.queries("votes")


def _names(category_id: int, nominee_id: int) -> tuple[str | None, str | None]:
    """Category and nominee names from the cached ballot, if it can be had."""
    try:
        ballot: Ballot = ballot_cache.ballot()
    except (db.DatabaseError, psycopg.OperationalError, redis.RedisError):
        return None, None
    rules = ballot.rules_in(category_id, i18n.content_language())
    if rules is None:
        return None, None
    return rules.name, rules.nominees.get(nominee_id)


def _status_from_db(vote_id: uuid.UUID) -> dict | None:
    with db.connection() as conn:
        row = conn.execute(Q.receipt_status, (vote_id,)).fetchone()
    if row is None:
        return None
    return {
        "state": "counted" if row["counted"] else "rejected",
        "reason": row["reject_reason"],
        "category_id": row["category_id"],
        "nominee_id": row["nominee_id"],
    }


@bp.get("/votes/<receipt>")
@bp.get("/<lang:lang>/votes/<receipt>")
def receipt(receipt: str) -> Response:
    """Queued, counted, or not counted with the reason: from Redis, else PostgreSQL."""
    try:
        vote_id = uuid.UUID(receipt)
    except ValueError:
        raise Problem(404, "no_receipt") from None
    found = redis_client.client().hgetall(receipt_key(str(vote_id)))
    if found:
        status = {
            "state": found.get(b"s", b"queued").decode(),
            "reason": found[b"r"].decode() if b"r" in found else None,
            "category_id": int(found.get(b"c", 0)),
            "nominee_id": int(found.get(b"n", 0)),
        }
    else:
        status = _status_from_db(vote_id)
        if status is None:
            raise Problem(404, "no_receipt")
    category, nominee = _names(status["category_id"], status["nominee_id"])
    return answer(
        "receipt_status",
        200,
        receipt=str(vote_id),
        category=category,
        nominee=nominee,
        **status,
    )
