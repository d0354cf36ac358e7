"""The exporter: queue depth grows while no writer runs and drains after; the writer's metrics."""

from __future__ import annotations

import redis
from edge_http import post_vote, wait_until
from test_ingest_edge import HX, open_vote
from test_metrics import LIMITS

from fanfare.ops import figures, scrape

VOTES = 30


def _figure(stack, name: str) -> float | None:
    """One figure as the exporter serves it, or None while it has not sampled it."""
    try:
        samples = scrape.fetch(stack.url("exporter"))
    except OSError:  # not listening yet
        return None
    found = [value for sample, _, value in samples if sample == name]
    return found[0] if found else None


def test_queue_depth_rises_without_a_writer_and_falls_when_one_runs(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "ingest", "edge", **LIMITS)
    stack.start("exporter")
    wait_until(lambda: _figure(stack, "fanfare_queue_depth") == 0, timeout=20)
    form = open_vote(demo)
    assert [post_vote(stack.url(), form, HX)[0] for _ in range(VOTES)] == [202] * VOTES

    wait_until(lambda: _figure(stack, "fanfare_queue_depth") == VOTES, timeout=20)
    assert _figure(stack, "fanfare_queue_writers") == 0
    assert wait_until(lambda: _figure(stack, "fanfare_queue_lag_seconds"), timeout=10) > 0
    assert _figure(stack, "fanfare_redis_up") == 1 and _figure(stack, "fanfare_postgres_up") == 1
    assert _figure(stack, "fanfare_edge_requests_total") >= VOTES

    stack.start("worker")
    wait_until(lambda: _figure(stack, "fanfare_queue_depth") == 0, timeout=30)
    assert wait_until(lambda: _figure(stack, "fanfare_queue_writers"), timeout=10) == 1
    writer = scrape.fetch(stack.url("writer"))
    assert scrape.total(writer, "fanfare_writer_votes_total", outcome="counted") == VOTES
    assert scrape.total(writer, "fanfare_writer_batch_duration_seconds_count") >= 1
    wait_until(
        lambda: scrape.total(scrape.fetch(stack.url("writer")), "fanfare_purges_sent_total"),
        timeout=10,
    )
    # The ops page's samples: accepted votes were seen as a rate, depth came back to 0.
    client = redis.Redis.from_url(redis_url)
    try:
        series = figures.history(client, ["queue_depth", "accepted_per_s"])
    finally:
        client.close()
    depths = [value for _, value in series["queue_depth"]]
    assert max(depths) == VOTES and depths[-1] == 0
    assert sum(value for _, value in series["accepted_per_s"]) > 0
    assert "event=batch entries=" in stack.log("worker").read_text()
