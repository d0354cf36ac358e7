"""The naive baseline: sync Flask, one INSERT and commit into PostgreSQL per vote.

What a first version of a voting endpoint usually looks like; bench/ runs it under gunicorn with
5 sync workers (`-k sync -w 5`) beside fanfare, to show what queueing votes in Redis buys.
"""

from __future__ import annotations

import os
import secrets

import psycopg
from flask import Flask, request

app = Flask(__name__)
_conn: psycopg.Connection | None = None

CREATE = """
CREATE TABLE IF NOT EXISTS naive_votes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id  bigint NOT NULL,
    nominee_id   bigint NOT NULL,
    voter_id     text NOT NULL,
    cast_at      timestamptz NOT NULL DEFAULT now()
)
"""


def connection() -> psycopg.Connection:
    """One autocommit connection per worker process, opened on first use."""
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return _conn


@app.post("/votes")
def vote() -> tuple[str, int]:
    """Validate the form crudely, insert the vote, answer 202."""
    category, nominee = request.form.get("category", ""), request.form.get("nominee", "")
    if not (category.isdigit() and nominee.isdigit()):
        return "bad vote", 400
    connection().execute(
        "INSERT INTO naive_votes (category_id, nominee_id, voter_id) VALUES (%s, %s, %s)",
        (int(category), int(nominee), secrets.token_urlsafe(16)),
    )
    return "<p>Thanks, your vote is in.</p>", 202
