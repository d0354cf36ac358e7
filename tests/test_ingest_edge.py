"""Votes through the real edge and gunicorn+gevent ingest: limiter keys and Redis failures."""

from __future__ import annotations

from edge_http import open_vote, post_vote

HX = {"HX-Request": "true"}


def test_spoofed_x_forwarded_for_does_not_change_the_limiter_key(make_stack, demo, redis_url):
    stack = make_stack(
        demo,
        redis_url,
        "web",  # the edge's own /healthz goes to web
        "ingest",
        "edge",
        FANFARE_VOTE_LIMIT_PER_IP="3/minute",
        FANFARE_VOTE_LIMIT_CEILING_FACTOR="1",  # 429 at once past it, rather than a challenge
        FANFARE_VOTE_LIMIT_PER_SUBNET="1000/minute",
    )
    form = open_vote(demo)

    # No cookie each time (a new voter), and a different claimed client address each time.
    codes = [
        post_vote(stack.url(), form, {**HX, "X-Forwarded-For": f"203.0.113.{i}"})[0]
        for i in range(3)
    ]
    status, headers, body = post_vote(stack.url(), form, {**HX, "X-Forwarded-For": "198.51.100.7"})

    assert codes == [202, 202, 202]
    assert status == 429
    assert int(headers["Retry-After"]) > 0
    assert headers["Cache-Control"] == "private, no-store"
    assert "wait a minute" in body


def test_redis_stopped_gives_503_with_retry_after_through_the_edge(
    make_stack, demo, redis_url, redis_server
):
    stack = make_stack(demo, redis_url, "web", "ingest", "edge")
    form = open_vote(demo)
    assert post_vote(stack.url(), form, HX)[0] == 202

    redis_server.stop()
    answers = [post_vote(stack.url(), form, HX) for _ in range(5)]
    plain = post_vote(stack.url(), form, {})

    assert [status for status, _, _ in answers] == [503] * 5
    assert all(headers["Retry-After"] == "5" for _, headers, _ in answers)
    assert "try again in a few seconds" in answers[0][2]
    assert plain[0] == 503 and "<html" in plain[2]
