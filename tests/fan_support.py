"""Helpers shared by the fan-account and prediction tests (not fixtures: conftest is shared)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import psycopg
import pytest
from flask import Flask

from fanfare.app import create_web_app
from fanfare.fans import outbox
from fanfare.infra import db
from fanfare.predictions import rounds
from harness.smtp_server import SmtpServer

SCHEDULER = {"id": None, "email": "test"}


@pytest.fixture(name="smtp")
def smtp_fixture() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port that keeps what it receives (import it as a fixture)."""
    with SmtpServer() as server:
        yield server


def fan_app(settings: dict) -> Iterator[Flask]:
    """A web app for a fixture to yield; its pool is closed afterwards."""
    app = create_web_app(settings)
    yield app
    db.close(app)


def deliver(client, smtp: SmtpServer) -> int:
    """Do the scheduler's mail job now: send what the app's outbox holds to `smtp`."""
    r = client.application.extensions["fanfare.redis"]
    return outbox.send_pending(r, smtp.url, "fanfare <test@example.org>")


def sign_in(client, smtp: SmtpServer, email: str) -> str:
    """The whole magic-link journey through the app; returns the link's path."""
    assert client.post("/account/sign-in", data={"email": email}).status_code == 200
    deliver(client, smtp)
    path = urlsplit(smtp.wait_link(email)).path
    assert client.get(path).status_code == 200
    answer = client.post(path)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return path


def event_id(conninfo: str) -> int:
    """The demo event."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute("SELECT id FROM events ORDER BY id LIMIT 1").fetchone()[0]


def make_round(
    conninfo: str,
    *,
    locks_at: datetime | None,
    kind: str = "pick",
    options: tuple[str, ...] = ("Ada", "Bo", "Cy", "Di"),
    points: int = 10,
    category_id: int | None = None,
) -> tuple[int, list[int]]:
    """A round on the demo event; returns its id and option ids in order."""
    with psycopg.connect(conninfo) as conn:
        rid = rounds.create(
            conn,
            SCHEDULER,
            event_id=event_id(conninfo),
            question="Who wins?",
            kind=kind,
            points=points,
            options=[(label, None) for label in options] if kind != "number" else [],
            locks_at=locks_at,
            category_id=category_id,
        )
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM prediction_options WHERE round_id = %s ORDER BY position", (rid,)
            )
        ]
    return rid, ids


def fan_ids(conninfo: str) -> list[int]:
    """Every account id, oldest first."""
    with psycopg.connect(conninfo) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM fans ORDER BY id")]
