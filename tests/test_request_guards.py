"""Body size caps and the cross-origin check, in-process against the real apps."""

from __future__ import annotations

import io

import pytest
import redis
from ballots import open_ballot

from fanfare.app import create_ingest_app, create_web_app
from fanfare.infra import db
from fanfare.votes.stream import STREAM

HX = {"HX-Request": "true"}


@pytest.fixture
def web(demo, redis_url, app_settings, tmp_path):
    app = create_web_app(app_settings(demo, redis_url, MEDIA_ROOT=str(tmp_path / "media")))
    yield app
    db.close(app)


@pytest.fixture
def ingest(demo, redis_url, app_settings):
    app = create_ingest_app(app_settings(demo, redis_url))
    yield app
    db.close(app)


def test_an_oversized_vote_is_refused_with_413_and_nothing_queued(ingest, demo, redis_url):
    category, nominee = open_ballot(demo)
    body = f"category={category}&nominee={nominee}&pad=" + "x" * 20_000
    response = ingest.test_client().post(
        "/votes",
        data=body,
        headers={**HX, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "far bigger than a vote" in response.get_data(as_text=True)
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(STREAM) == 0


def test_a_multipart_sign_in_over_the_small_cap_gets_a_friendly_413(web):
    files = {
        "email": "ed@example.org",
        "password": "x",
        "blob": (io.BytesIO(b"\0" * 20_000), "a.bin"),
    }
    response = web.test_client().post("/admin/login", data=files)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "That was too big" in body and "Traceback" not in body


def test_every_other_request_is_capped_by_max_content_length(web):
    response = web.test_client().post("/admin/markdown", data={"text": "x" * (1024 * 1024 + 1)})
    assert response.status_code == 413


def test_a_small_vote_still_passes_the_cap(ingest, demo):
    category, nominee = open_ballot(demo)
    response = ingest.test_client().post(
        "/votes", data={"category": category, "nominee": nominee}, headers=HX
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("host", "origin", "allowed"),
    [
        # Behind the edge the Host has no port, whatever port the browser used.
        ("fans.example", "http://fans.example:8000", True),
        ("fans.example", "https://fans.example", True),
        ("fans.example", "http://evil.example:8000", False),
        ("fans.example", "null", False),
        # Straight to the app, ports are compared, default ports normalised.
        ("127.0.0.1:8001", "http://127.0.0.1:8001", True),
        ("127.0.0.1:8001", "http://127.0.0.1:8002", False),
        ("fans.example:80", "http://fans.example", True),
        ("fans.example:443", "https://fans.example", True),
        ("fans.example:443", "http://fans.example", False),
    ],
)
def test_origin_without_sec_fetch_site_is_compared_with_the_site(web, host, origin, allowed):
    # Older Safari sends Origin but no Sec-Fetch-Site; a same-origin form must not get 403.
    response = web.test_client().post(
        "/admin/login",
        data={"email": "nobody@example.org", "password": "wrong"},
        headers={"Host": host, "Origin": origin},
    )
    assert (response.status_code != 403) is allowed, response.status_code


def test_trusted_origins_is_a_list_not_a_substring(demo, redis_url, app_settings, monkeypatch):
    monkeypatch.setenv("FANFARE_TRUSTED_ORIGINS", "https://fans.example.com https://obs.example")
    app = create_web_app(app_settings(demo, redis_url))
    try:
        client = app.test_client()

        def status(origin: str) -> int:
            headers = {"Origin": origin, "Sec-Fetch-Site": "cross-site"}
            form = {"email": "nobody@example.org", "password": "wrong"}
            return client.post("/admin/login", data=form, headers=headers).status_code

        assert status("https://fans.example.co") == 403
        assert status("https://example.com") == 403
        assert status("https://fans.example.com") == 401  # trusted: reaches the sign-in
        assert status("https://obs.example") == 401
    finally:
        db.close(app)
