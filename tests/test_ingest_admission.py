"""Admission control: past a worker's in-flight cap a vote is refused at once, nothing queued."""

from __future__ import annotations

import http.client
import re
import select
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest
import redis
from edge_http import open_vote, post_vote, wait_until

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.ingest.admission import Admission
from fanfare.settings import ROOT
from fanfare.votes.stream import STREAM

HX = {"HX-Request": "true"}


@pytest.fixture
def one_at_a_time(demo, redis_url, app_settings):
    """An ingest worker whose cap is one vote in flight."""
    app = create_ingest_app(
        app_settings(
            demo, redis_url, VOTE_WORKER_SHEDDING=True, VOTE_MIN_IN_FLIGHT=1, VOTE_BUDGET_SECONDS=0
        )
    )
    yield app
    db.close(app)


@pytest.fixture
def form(demo) -> dict:
    """A vote for the first nominee of the demo's open category."""
    return open_vote(demo)


def while_one_vote_is_in_flight(app, form: dict, redis_url: str, then):
    """Hold one vote inside Redis (writes paused), run `then()`, and return the held answer."""
    held: list = []
    with redis.Redis.from_url(redis_url) as r:
        app.test_client().get("/healthz")  # warm: the ballot is loaded before the pause
        app.test_client().post("/votes", data={"category": "1"}, headers=HX)
        r.execute_command("CLIENT", "PAUSE", 3000, "WRITE")
        try:
            worker = threading.Thread(
                target=lambda: held.append(app.test_client().post("/votes", data=form, headers=HX))
            )
            worker.start()
            deadline = time.monotonic() + 5
            while app.extensions["fanfare.vote_admission"].in_flight < 1:
                assert time.monotonic() < deadline, "the first vote never got in flight"
                time.sleep(0.01)
            result = then()
            assert r.xlen(STREAM) == 0  # the held vote is not in yet, and the shed one never
        finally:
            r.execute_command("CLIENT", "UNPAUSE")
        worker.join(10)
    return held[0], result


def test_past_the_cap_a_vote_gets_503_at_once_and_nothing_is_queued(one_at_a_time, form, redis_url):
    held, shed = while_one_vote_is_in_flight(
        one_at_a_time,
        form,
        redis_url,
        lambda: one_at_a_time.test_client().post("/votes", data=form, headers=HX),
    )

    assert shed.status_code == 503
    assert 2 <= int(shed.headers["Retry-After"]) <= 5
    assert shed.headers["Cache-Control"] == "private, no-store"
    assert "very busy" in shed.get_data(as_text=True)
    assert held.status_code == 202  # the admitted vote is answered, not dropped
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(STREAM) == 1
    assert one_at_a_time.extensions["fanfare.metrics"]["votes_shed"] == 1


def test_without_js_the_503_page_carries_the_form_to_press_again(one_at_a_time, form, redis_url):
    _, shed = while_one_vote_is_in_flight(
        one_at_a_time,
        form,
        redis_url,
        lambda: one_at_a_time.test_client().post("/votes", data=form),
    )

    body = shed.get_data(as_text=True)
    assert shed.status_code == 503 and "<html" in body
    again = re.search(
        r'<form class="vote-form card" method="post" action="/votes">.*?</form>', body, re.S
    )
    assert again is not None
    assert f'name="nominee" value="{form["nominee"]}"' in again.group(0)
    assert re.search(r'name="press" value="[A-Za-z0-9_-]{16,64}"', again.group(0))
    assert "Send my vote again" in again.group(0)


def test_the_cap_follows_the_best_rate_times_the_budget():
    gate = Admission(budget_seconds=0.5, min_in_flight=10)
    assert gate.cap == 10
    second = int(time.monotonic())
    answered = 0
    while int(time.monotonic()) == second:  # answer votes as fast as we can for one second
        assert gate.enter()
        gate.leave()
        answered += 1
    gate.enter()
    gate.leave()  # the first answer of the next second closes the count

    # Within one vote: the last answer of the loop may already fall in the next second.
    assert abs(gate.cap - max(10, int(answered * 0.5))) <= 1
    assert all(gate.enter() for _ in range(gate.cap))
    assert not gate.enter() and gate.stats["votes_shed"] == 1


def test_through_gunicorn_and_the_edge_a_shed_vote_closes_its_connection_and_gets_the_busy_503(
    make_stack, demo, redis_url, form
):
    """A real worker past its cap (one vote held inside Redis): the shed answer closes its
    keep-alive connection (gunicorn drops an app's own Connection header, so a keep-alive flood
    of sheds once held the event loop), and the worker's 503 reaches the fan through the edge
    with its Retry-After and friendly words, as the edge's own 503 does; nothing is queued."""
    stack = make_stack(
        demo,
        redis_url,
        "web",  # the edge's own /healthz goes to web
        "ingest",
        "edge",
        FANFARE_VOTE_WORKER_SHEDDING="true",
        FANFARE_VOTE_MIN_IN_FLIGHT="1",
        FANFARE_VOTE_BUDGET_SECONDS="0",
    )
    assert post_vote(stack.url("ingest"), form, HX)[0] == 202  # warm: the ballot is loaded
    held: list = []
    with redis.Redis.from_url(redis_url) as r:
        r.delete(STREAM)
        r.execute_command("CLIENT", "PAUSE", 10000, "WRITE")
        try:
            worker = threading.Thread(
                target=lambda: held.append(post_vote(stack.url("ingest"), form, HX))
            )
            worker.start()
            wait_until(lambda: r.info("clients")["blocked_clients"] >= 1, timeout=5)

            keep_alive = _post_keep_alive(stack.url("ingest"), form)
            edge_htmx = post_vote(stack.url(), form, HX)
            edge_plain = post_vote(stack.url(), form, {})
            assert r.xlen(STREAM) == 0
        finally:
            r.execute_command("CLIENT", "UNPAUSE")
        worker.join(10)

        status, headers, closed = keep_alive
        assert status == 503 and headers["Connection"] == "close" and closed
        status, headers, body = edge_htmx
        assert status == 503 and 2 <= int(headers["Retry-After"]) <= 5
        assert headers["Cache-Control"] == "private, no-store"
        assert "very busy" in body and "<html" not in body
        status, headers, body = edge_plain
        assert status == 503 and 2 <= int(headers["Retry-After"]) <= 5
        assert "<html" in body and "Send my vote again" in body
        assert held[0][0] == 202  # the admitted vote is answered, not dropped
        assert r.xlen(STREAM) == 1


def _post_keep_alive(base: str, form: dict) -> tuple[int, dict[str, str], bool]:
    """POST a vote on an HTTP/1.1 keep-alive connection: status, headers, and whether the
    server closed the connection after the answer."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/votes",
            body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", **HX},
        )
        response = conn.getresponse()
        response.read()
        headers = dict(response.getheaders())
        if conn.sock is None:  # http.client let go of it: the answer said Connection: close
            return response.status, headers, True
        readable, _, _ = select.select([conn.sock], [], [], 3)  # a kept connection stays quiet
        return response.status, headers, bool(readable) and conn.sock.recv(1) == b""
    finally:
        conn.close()


@pytest.mark.xfail(
    # Not strict: the starvation depends on how the flood and the loop interleave, and it has
    # passed now and then on a loaded machine; pytest -ra reports it as XPASS when it does.
    strict=False,
    reason="known open bug (issue 12), intermittent: shed answers now close their connection, "
    "but the admitted votes' wake-ups (gevent callbacks) still queue behind the greenlets of "
    "the reconnecting shed clients, so a vote sent right after the flood can find the cap "
    "still full (503); worker shedding is off by default",
)
def test_a_flood_of_shed_votes_never_starves_the_admitted_ones(make_stack, demo, redis_url, form):
    """A keep-alive flood far past the cap (wrk, 300 connections) on a real gunicorn gevent
    worker: votes keep being queued through it, and the worker takes a vote at once afterwards.
    It once held every admitted vote on the gatherer's lock for as long as the flood lasted."""
    assert shutil.which("wrk"), "wrk is not installed: run `make test` (system-deps installs it)"
    # Every wrk vote is a new voter from 127.0.0.1: raise the per-IP limits and the budget.
    unlimited = {f"FANFARE_VOTE_LIMIT_PER_{k}": "100000000/minute" for k in ("IP", "SUBNET")}
    unlimited |= {f"FANFARE_NEW_VOTER_BUDGET_PER_{k}": "100000000" for k in ("IP", "SUBNET")}
    stack = make_stack(
        demo,
        redis_url,
        "ingest",
        FANFARE_VOTE_WORKER_SHEDDING="true",
        FANFARE_VOTE_MIN_IN_FLIGHT="20",
        FANFARE_VOTE_BUDGET_SECONDS="0",
        **unlimited,
    )
    url = stack.url("ingest") + "/votes"
    assert post_vote(stack.url("ingest"), form, HX)[0] == 202  # warm: the ballot is loaded
    script = ROOT / "bench" / "lua" / "vote.lua"
    with redis.Redis.from_url(redis_url) as r:
        flood = subprocess.Popen(
            ["wrk", "-t2", "-c300", "-d6s", "-s", script.name, url, "--", str(form["category"]),
             str(form["nominee"])],
            cwd=script.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(1)
            assert r.xlen(STREAM) > 1, "nothing was queued once the flood began"
        finally:
            flood.wait(20)
        started = time.monotonic()
        status, _, _ = post_vote(stack.url("ingest"), form, HX)
        assert status == 202 and time.monotonic() - started < 2
