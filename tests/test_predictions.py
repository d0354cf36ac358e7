"""Predictions end to end in the app: Redis-only path, exact lock, feed, four eyes, scoring."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from fanfare.predictions import feed, queue, rounds, scoring
from fanfare.predictions.jobs import PredictionJob
from fanfare.web.admin import accounts as editor_accounts
from tests.fan_support import (
    fan_app,
    fan_ids,
    make_round,
    sign_in,
    smtp_fixture,  # noqa: F401  (the smtp fixture)
)

SECRET = "feed-secret"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(demo, redis_url, app_settings, smtp):
    settings = app_settings(
        demo,
        redis_url,
        SMTP_URL=smtp.url,
        FEED_SECRET=SECRET,
        SIGN_IN_LIMIT_PER_IP="1000 per minute",
        ADMIN_LOGIN_LIMIT_IP="1000 per minute",
    )
    yield from fan_app(settings)


@pytest.fixture
def fan(client, smtp):
    sign_in(client, smtp, "player@example.org")
    return client


def redis_of(app):
    return app.extensions["fanfare.redis"]


def persist(app, conninfo):
    with psycopg.connect(conninfo) as conn:
        return queue.persist(conn, redis_of(app))


def stored(conninfo):
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "SELECT fan_id, option_ids, number, points FROM predictions ORDER BY id"
        ).fetchall()


def hx(client, rid, **form):
    return client.post(f"/account/predictions/{rid}", data=form, headers={"HX-Request": "true"})


def test_a_prediction_is_queued_in_redis_and_persisted_by_the_job(app, fan, demo):
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    answer = hx(fan, rid, option=options[0])
    assert answer.status_code == 202 and "Saved" in answer.get_data(as_text=True)
    assert stored(demo) == []  # nothing written to PostgreSQL on the request path
    assert hx(fan, rid, option=options[2]).status_code == 202  # a change overwrites
    assert persist(app, demo) == 1
    (fan_id,) = fan_ids(demo)
    assert stored(demo) == [(fan_id, [options[2]], None, None)]
    # Durable now, so the next pass forgets it in Redis.
    assert persist(app, demo) == 0
    assert redis_of(app).hlen(queue.pending_key(rid)) == 0
    assert not redis_of(app).sismember(queue.DIRTY, rid)


def test_bad_choices_and_signed_out_fans_are_refused(app, fan, demo, client):
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    assert hx(fan, rid, option="999").status_code == 422
    assert hx(fan, rid).status_code == 422
    assert hx(fan, 424242, option=options[0]).status_code == 404
    anonymous = app.test_client()
    assert hx(anonymous, rid, option=options[0]).status_code == 401
    no_js = anonymous.post(f"/account/predictions/{rid}", data={"option": options[0]})
    assert no_js.status_code == 401 and "sign in" in no_js.get_data(as_text=True).lower()


def test_the_lock_a_second_ahead_accepts_before_and_refuses_at_it(app, fan, demo):
    lock = datetime.now(UTC) + timedelta(seconds=3)
    rid, options = make_round(demo, locks_at=lock)
    assert hx(fan, rid, option=options[1]).status_code == 202
    time.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 0.05)
    late = hx(fan, rid, option=options[0])
    assert late.status_code == 409 and "locked" in late.get_data(as_text=True)
    assert persist(app, demo) == 1
    assert [row[1] for row in stored(demo)] == [[options[1]]]


def test_the_worker_rejudges_by_the_prediction_time(app, fan, demo):
    """A suspension recorded late, for a moment already past, still takes effect at its moment."""
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    before = datetime.now(UTC)
    assert hx(fan, rid, option=options[1]).status_code == 202
    body = json.dumps({"seq": 1, "round": rid, "action": "suspend", "at": before.isoformat()})
    signed = {"X-Fanfare-Signature": feed.signature(SECRET, body.encode())}
    assert fan.post("/feed/rounds", data=body, headers=signed).status_code == 200
    assert persist(app, demo) == 0  # refused by the rules at its own time, and forgotten
    assert stored(demo) == [] and redis_of(app).hlen(queue.pending_key(rid)) == 0
    assert hx(fan, rid, option=options[1]).status_code == 409


def post_feed(client, message, *, secret=SECRET, raw=None):
    body = raw if raw is not None else json.dumps(message).encode()
    return client.post(
        "/feed/rounds",
        data=body,
        headers={
            "X-Fanfare-Signature": feed.signature(secret, body),
            "Content-Type": "application/json",
        },
    )


def test_the_feed_applies_in_order_ignores_duplicates_and_refuses_bad_signatures(app, fan, demo):
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    suspend = {"seq": 1, "round": rid, "action": "suspend"}
    reopen = {"seq": 2, "round": rid, "action": "reopen"}
    assert post_feed(fan, suspend, secret="wrong").status_code == 401
    assert fan.post("/feed/rounds", data=json.dumps(suspend)).status_code == 401
    assert hx(fan, rid, option=options[0]).status_code == 202  # the forged one did nothing
    ahead = post_feed(fan, reopen)
    assert ahead.status_code == 409 and ahead.get_json() == {
        "outcome": "out_of_order",
        "expected": 1,
    }
    assert post_feed(fan, suspend).get_json()["outcome"] == "applied"
    refused = hx(fan, rid, option=options[0])
    assert refused.status_code == 409 and "suspended" in refused.get_data(as_text=True)
    again = post_feed(fan, suspend)
    assert again.status_code == 200 and again.get_json() == {"outcome": "duplicate", "expected": 2}
    assert post_feed(fan, {**suspend, "action": "reopen"}).status_code == 409  # seq reused
    assert post_feed(fan, reopen).get_json()["outcome"] == "applied"
    assert hx(fan, rid, option=options[0]).status_code == 202
    assert post_feed(fan, {"seq": 3, "round": 999999, "action": "suspend"}).status_code == 422
    assert post_feed(fan, None, raw=b"not json").status_code == 422
    with psycopg.connect(demo) as conn:
        applied = conn.execute("SELECT seq FROM feed_messages ORDER BY seq").fetchall()
        changes = conn.execute(
            "SELECT suspended, source FROM round_state_changes ORDER BY id"
        ).fetchall()
    assert applied == [(1,), (2,)]
    assert changes == [(True, "feed"), (False, "feed")]


def test_a_feed_change_ahead_takes_effect_at_its_exact_moment(app, fan, demo):
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(hours=1))
    at = datetime.now(UTC) + timedelta(seconds=3)
    assert (
        post_feed(
            fan, {"seq": 1, "round": rid, "action": "suspend", "at": at.isoformat()}
        ).status_code
        == 200
    )
    assert hx(fan, rid, option=options[0]).status_code == 202
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert hx(fan, rid, option=options[0]).status_code == 409


def editor_client(app, conninfo, email):
    with psycopg.connect(conninfo) as conn:
        editor_accounts.create_editor(conn, email, PASSWORD)
    client = app.test_client()
    assert (
        client.post("/admin/login", data={"email": email, "password": PASSWORD}).status_code == 303
    )
    return client


def test_four_eyes_result_scores_every_prediction_and_ranks_with_ties(app, client, smtp, demo):
    rid, options = make_round(demo, locks_at=datetime.now(UTC) + timedelta(minutes=5), points=10)
    picks = {"a@example.org": 0, "b@example.org": 0, "c@example.org": 1}
    for email, index in picks.items():
        fan = app.test_client()
        sign_in(fan, smtp, email)
        assert hx(fan, rid, option=options[index]).status_code == 202
    first = editor_client(app, demo, "first@example.org")
    second = editor_client(app, demo, "second@example.org")
    early = first.post(f"/admin/predictions/{rid}/result", data={"option": options[0]})
    assert early.status_code == 400  # not before the lock
    with psycopg.connect(demo) as conn:  # the lock moves to now: every prediction was before it
        conn.execute("UPDATE prediction_rounds SET locks_at = now() WHERE id = %s", (rid,))
    assert first.post(f"/admin/predictions/{rid}/suspend").status_code == 303  # audited, harmless
    assert (
        first.post(f"/admin/predictions/{rid}/result", data={"option": options[0]}).status_code
        == 303
    )
    own = first.post(f"/admin/predictions/{rid}/verify")
    assert own.status_code == 409 and "different editor" in own.get_data(as_text=True)
    assert stored(demo) == []  # still in Redis: scoring persists the round's pending ones first
    assert second.post(f"/admin/predictions/{rid}/verify").status_code == 303
    assert sorted(row[3] for row in stored(demo)) == [0, 10, 10]
    board = client.get("/leaderboard").get_data(as_text=True)
    assert board.count(">#1<") == 2 and ">#3<" in board and "10 pts" in board
    with psycopg.connect(demo) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert {"suspend", "enter_result", "verify_result"} <= set(actions)


def test_linked_round_takes_the_final_tally_through_the_scheduler_job(app, fan, demo):
    with psycopg.connect(demo) as conn:
        category_id, closes_at = conn.execute(
            "SELECT c.id, w.closes_at FROM categories c"
            " JOIN voting_windows w ON w.category_id = c.id WHERE w.closes_at < now() LIMIT 1"
        ).fetchone()
        nominees = conn.execute(
            "SELECT n.id, n.name, coalesce(t.votes, 0) FROM nominees n LEFT JOIN tallies t"
            " ON t.nominee_id = n.id WHERE n.category_id = %s ORDER BY 3 DESC",
            (category_id,),
        ).fetchall()
        rid = rounds.create(
            conn,
            {"id": None, "email": "t"},
            event_id=conn.execute("SELECT min(id) FROM events").fetchone()[0],
            question="Winner?",
            kind="pick",
            points=25,
            category_id=category_id,
            options=[(name, nid) for nid, name, _ in nominees],
        )
        winner_option = conn.execute(
            "SELECT id FROM prediction_options WHERE round_id = %s AND nominee_id = %s",
            (rid, nominees[0][0]),
        ).fetchone()[0]
        (fan_id,) = fan_ids(demo)
        conn.execute(
            "INSERT INTO predictions (round_id, fan_id, option_ids, submitted_at)"
            " VALUES (%s, %s, %s, %s)",
            (rid, fan_id, [winner_option], closes_at - timedelta(minutes=5)),
        )
    job = PredictionJob()
    job.use_redis(redis_of(app), refresh_every=0)
    with psycopg.connect(demo) as conn:
        changed = job(conn, datetime.now(UTC), datetime.now(UTC))
    assert "leaderboard" in changed
    assert stored(demo)[0][3] == 25
    assert "25 pts" in fan.get("/account/rank").get_data(as_text=True)


def test_predictions_page_and_share_card_are_cacheable(app, fan, demo, client):
    rid, _ = make_round(demo, locks_at=datetime.now(UTC) + timedelta(seconds=100))
    page = client.get("/predictions")
    assert page.status_code == 200 and "Who wins?" in page.get_data(as_text=True)
    assert (
        "s-maxage=100" in page.headers["Cache-Control"]
        or "s-maxage=99" in page.headers["Cache-Control"]
    )
    assert set(page.headers["xkey"].split()) >= {"predictions"}
    with psycopg.connect(demo) as conn:
        scoring.refresh(conn)
        conn.commit()
        (public_id,) = conn.execute("SELECT public_id FROM fans").fetchone()
    card = client.get(f"/fans/{public_id}")
    assert card.status_code == 200 and 'property="og:image"' in card.get_data(as_text=True)
    assert card.headers["Cache-Control"].startswith("public")
    image = client.get(f"/fans/{public_id}/card.png")
    assert image.mimetype == "image/png" and image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/fans/nobody").status_code == 404
