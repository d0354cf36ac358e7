"""POST /votes and the receipts, in-process against real PostgreSQL (the ballot) and Redis."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis
from prometheus_client import REGISTRY

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.votes.stream import STREAM

HX = {"HX-Request": "true"}


def ids(database_url: str, category_slug: str) -> tuple[int, list[int]]:
    """A category's id and its nominees' ids."""
    with psycopg.connect(database_url) as conn:
        (category_id,) = conn.execute(
            "SELECT id FROM categories WHERE slug = %s", (category_slug,)
        ).fetchone()
        nominees = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM nominees WHERE category_id = %s ORDER BY position", (category_id,)
            )
        ]
    return category_id, nominees


@pytest.fixture
def ingest(demo, redis_url, app_settings):
    """The ingest app on the demo event; limits high enough not to interfere."""
    app = create_ingest_app(
        app_settings(
            demo,
            redis_url,
            VOTE_LIMIT_PER_IP="1000/minute",
            VOTE_LIMIT_PER_SUBNET="1000/minute",
        )
    )
    yield app
    db.close(app)


@pytest.fixture
def voter(ingest):
    """One fan's browser: a test client that keeps its cookies."""
    return ingest.test_client()


@pytest.fixture
def open_category(demo) -> tuple[int, list[int]]:
    return ids(demo, "breakthrough-artist")


def stream_length(redis_url: str) -> int:
    with redis.Redis.from_url(redis_url) as r:
        return r.xlen(STREAM)


def test_htmx_vote_is_queued_and_answers_a_receipt_fragment(voter, open_category, redis_url):
    category, nominees = open_category

    response = voter.post("/votes", data={"category": category, "nominee": nominees[0]}, headers=HX)

    assert response.status_code == 202
    body = response.get_data(as_text=True)
    receipt = re.search(r'class="vote-receipt">([0-9a-f-]{36})<', body).group(1)
    assert receipt[14] == "7"  # a UUIDv7: time-ordered
    assert "Nova Reyes" in body and "<html" not in body
    assert response.headers["Cache-Control"] == "private, no-store"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/votes" in cookie
    with redis.Redis.from_url(redis_url) as r:
        [(_, fields)] = r.xrange(STREAM)
    assert fields[b"v"].decode() == receipt and fields[b"n"] == str(nominees[0]).encode()
    assert b"127.0.0.1" not in b"".join(fields.values())  # only a keyed hash of the IP


def test_plain_form_post_redirects_to_a_receipt_that_says_queued(voter, open_category):
    category, nominees = open_category

    response = voter.post("/votes", data={"category": category, "nominee": nominees[1]})

    assert response.status_code == 303
    assert re.fullmatch(r"/votes/[0-9a-f-]{36}", response.location)
    page = voter.get(response.location)
    assert page.status_code == 200
    assert "Queued" in page.get_data(as_text=True) and "The Lantern Kids" in page.get_data(
        as_text=True
    )
    assert page.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    "form",
    [{}, {"category": "x", "nominee": "1"}, {"category": "1", "nominee": "-2"}, {"nominee": "1"}],
)
def test_malformed_input_is_400_with_a_fragment(voter, form, redis_url):
    response = voter.post("/votes", data=form, headers=HX)

    assert response.status_code == 400
    assert "couldn't read that vote" in response.get_data(as_text=True)
    assert stream_length(redis_url) == 0


def test_unknown_nominee_is_422(voter, demo, open_category, redis_url):
    category, _ = open_category
    _, other_nominees = ids(demo, "song-of-the-year")

    response = voter.post(
        "/votes", data={"category": category, "nominee": other_nominees[0]}, headers=HX
    )

    assert response.status_code == 422
    assert "isn't on the ballot" in response.get_data(as_text=True)
    assert stream_length(redis_url) == 0


@pytest.mark.parametrize(
    ("slug", "words"),
    [("best-live-performance", "has closed"), ("music-video", "hasn't opened yet")],
)
def test_vote_outside_the_window_is_409(voter, demo, slug, words, redis_url):
    category, nominees = ids(demo, slug)

    response = voter.post("/votes", data={"category": category, "nominee": nominees[0]}, headers=HX)

    assert response.status_code == 409
    assert words in response.get_data(as_text=True)
    assert stream_length(redis_url) == 0


def test_over_quota_is_409_with_the_earlier_receipt(voter, open_category, redis_url):
    category, nominees = open_category
    first = voter.post("/votes", data={"category": category, "nominee": nominees[0]}, headers=HX)
    receipt = re.search(r'class="vote-receipt">([0-9a-f-]{36})<', first.get_data(as_text=True))

    again = voter.post("/votes", data={"category": category, "nominee": nominees[1]}, headers=HX)

    assert again.status_code == 409
    assert f"/votes/{receipt.group(1)}" in again.get_data(as_text=True)
    assert stream_length(redis_url) == 1


def test_plain_form_errors_are_full_pages(voter, demo):
    category, nominees = ids(demo, "best-live-performance")

    response = voter.post("/votes", data={"category": category, "nominee": nominees[0]})

    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "<html" in body and "has closed" in body and "Back to Best Live Performance" in body


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}],
)
def test_cross_origin_post_is_403_and_queues_nothing(voter, open_category, headers, redis_url):
    category, nominees = open_category

    response = voter.post(
        "/votes", data={"category": category, "nominee": nominees[0]}, headers={**HX, **headers}
    )

    assert response.status_code == 403
    assert "only be sent from this site" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    assert stream_length(redis_url) == 0


def test_rate_limit_per_voter_answers_429_with_retry_after(
    demo, redis_url, open_category, app_settings
):
    app = create_ingest_app(app_settings(demo, redis_url, VOTE_LIMIT_PER_VOTER="3/minute"))
    try:
        client = app.test_client()
        category, nominees = open_category
        codes = [
            client.post(
                "/votes", data={"category": category, "nominee": nominees[0]}, headers=HX
            ).status_code
            for _ in range(3)
        ]
        limited = client.post(
            "/votes", data={"category": category, "nominee": nominees[0]}, headers=HX
        )
    finally:
        db.close(app)

    assert codes == [202, 409, 409]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "wait a minute" in limited.get_data(as_text=True)


def test_redis_down_answers_503_and_never_202(voter, open_category, redis_server):
    category, nominees = open_category
    warm = voter.post("/votes", data={"category": category, "nominee": nominees[0]}, headers=HX)
    assert warm.status_code == 202

    redis_server.stop()
    answers = [
        voter.post("/votes", data={"category": category, "nominee": n}, headers=HX)
        for n in nominees
    ]

    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["Retry-After"] == "5" for a in answers)
    assert "try again in a few seconds" in answers[0].get_data(as_text=True)


def test_unknown_receipts_are_404(voter):
    assert voter.get("/votes/not-a-receipt").status_code == 404
    assert voter.get("/votes/0192f0c4-8a3b-7c2d-9e4f-0123456789ab").status_code == 404


def test_redis_out_of_memory_answers_503(voter, open_category, redis_url):
    category, nominees = open_category
    with redis.Redis.from_url(redis_url) as r:
        r.config_set("maxmemory", 1)  # every write is refused: noeviction
        try:
            response = voter.post(
                "/votes", data={"category": category, "nominee": nominees[0]}, headers=HX
            )
        finally:
            r.config_set("maxmemory", 0)
        assert not r.exists(STREAM)

    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_ingest_keeps_accepting_on_the_last_ballot_when_postgres_is_gone(
    demo, redis_url, open_category, app_settings
):
    category, nominees = open_category
    first = create_ingest_app(app_settings(demo, redis_url))
    first.test_client().post("/votes", data={"category": category, "nominee": 999}, headers=HX)
    db.close(first)
    # A fresh process whose PostgreSQL is unreachable falls back on the shared (stale) ballot.
    second = create_ingest_app(
        app_settings(
            "postgresql://127.0.0.1:1/nowhere?connect_timeout=1",
            redis_url,
            BALLOT_CACHE_SECONDS=0,
        )
    )
    try:
        response = second.test_client().post(
            "/votes", data={"category": category, "nominee": nominees[2]}, headers=HX
        )
    finally:
        db.close(second)

    assert response.status_code == 202


def test_votes_survive_redis_forgetting_its_scripts(voter, open_category, redis_url):
    category, nominees = open_category
    with redis.Redis.from_url(redis_url) as r:
        r.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT

    response = voter.post("/votes", data={"category": category, "nominee": nominees[0]}, headers=HX)

    assert response.status_code == 202
    assert stream_length(redis_url) == 1


def gathered() -> float:
    """Commands gathered so far in this process, as /metrics counts them."""
    return REGISTRY.get_sample_value("fanfare_redis_gathered_commands_total") or 0.0


def test_concurrent_votes_share_pipelines(ingest, open_category, redis_url):
    category, nominees = open_category
    stats = ingest.extensions["fanfare.metrics"]
    before = gathered()

    def cast(i: int) -> int:
        form = {"category": category, "nominee": nominees[i % len(nominees)]}
        return ingest.test_client().post("/votes", data=form, headers=HX).status_code

    with ThreadPoolExecutor(50) as pool:
        codes = list(pool.map(cast, range(200)))

    assert codes == [202] * 200 and stream_length(redis_url) == 200
    # Three limiter counters and one quota+XADD script per vote, in fewer flushes than commands.
    assert stats["gather_commands"] == 800
    assert stats["gather_flushes"] < 800
    assert gathered() - before == stats["gather_commands"]  # what /metrics reports
    metrics = ingest.test_client().get("/metrics").get_data(as_text=True)
    assert "fanfare_redis_gathered_commands_total" in metrics
