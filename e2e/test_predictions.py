"""A fan signs in by magic link, predicts, and sees their rank: with JavaScript and without."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from playwright.sync_api import expect

from e2e.pages import AccountPage, LeaderboardPage, PredictionsPage
from fanfare.predictions import rounds, scoring
from harness.stack import Stack

pytestmark = [pytest.mark.fan, pytest.mark.local_only]
LINK = re.compile(r"sign-in mail for (?P<to>\S+): (?P<link>\S+)")


def mailed_link(stack: Stack, email: str, timeout: float = 15.0) -> str:
    """The newest link the stack's SMTP sink (the Procfile's `mail`) received for an address."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            m["link"]
            for m in LINK.finditer(stack.log("mail").read_text())
            if m["to"].lower() == email.lower()
        ]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise TimeoutError(f"no sign-in mail for {email}")


def open_round(stack_db, question: str, locks_in: float) -> list[str]:
    """A pick round on the demo event locking `locks_in` seconds from now."""
    event_id = stack_db.execute("SELECT min(id) AS id FROM events").fetchone()["id"]
    rounds.create(
        stack_db,
        {"id": None, "email": "e2e"},
        event_id=event_id,
        question=question,
        kind="pick",
        points=30,
        options=[("Nova", None), ("Orion", None)],
        locks_at=datetime.now(UTC) + timedelta(seconds=locks_in),
    )
    return ["Nova", "Orion"]


def score_when_locked(stack: Stack, question: str, winner: str) -> None:
    """The editors' four eyes, done directly: result entered and verified, then scored."""
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        rid, locks_at = conn.execute(
            "SELECT r.id, l.locks_at FROM prediction_rounds r"
            " JOIN prediction_round_locks l ON l.round_id = r.id WHERE question = %s",
            (question,),
        ).fetchone()
        time.sleep(max(0.0, (locks_at - datetime.now(UTC)).total_seconds()) + 0.1)
        option = conn.execute(
            "SELECT id FROM prediction_options WHERE round_id = %s AND label = %s", (rid, winner)
        ).fetchone()[0]
        conn.execute(
            "UPDATE prediction_rounds SET result_option_ids = %s, result_entered_at = now(),"
            " result_verified_at = now() WHERE id = %s",
            ([option], rid),
        )
        with redis.Redis.from_url(stack.env["REDIS_URL"]) as r:
            scoring.score(conn, r, rid)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_fan_signs_in_predicts_and_sees_their_rank(
    javascript, fan_context, base_url, local_stack, stack_db, edge_purge
):
    email = f"fan-{uuid.uuid4().hex[:8]}@example.org"
    question = f"Who takes it ({'js' if javascript else 'no-js'} {uuid.uuid4().hex[:4]})?"
    open_round(stack_db, question, locks_in=8)
    edge_purge("predictions")
    page = fan_context(java_script_enabled=javascript).new_page()

    account = AccountPage(page, base_url)
    account.ask_for_link(email)
    expect(page.get_by_role("status")).to_contain_text("sign-in link is on its way")
    account.follow_link(mailed_link(local_stack, email))
    expect(account.heading).to_contain_text("Hello, fan-")

    predictions = PredictionsPage(page, base_url)
    predictions.open()
    predictions.predict(question, "Orion")
    if javascript:
        expect(predictions.answer(question)).to_contain_text("Saved")
    else:
        expect(page).to_have_url(re.compile(r"/account\?saved=\d+"))
        expect(page.get_by_role("status")).to_contain_text("Prediction saved")

    score_when_locked(local_stack, question, "Orion")
    edge_purge("leaderboard")
    if javascript:
        board = LeaderboardPage(page, base_url)
        board.open()
        expect(board.my_rank).to_contain_text("(you)")
        expect(board.my_rank).to_contain_text("30 pts")
    else:
        account.open()
        expect(account.my_rank).to_contain_text("(you)")
        expect(account.my_rank).to_contain_text("30 pts")
