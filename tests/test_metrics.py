"""/metrics under gunicorn: one scrape reports the whole service, whichever worker answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from edge_http import post_vote, request
from test_ingest_edge import HX, open_vote

from fanfare.ops import scrape

VOTES = 60
LIMITS = {
    "FANFARE_VOTE_LIMIT_PER_IP": "10000/minute",
    "FANFARE_VOTE_LIMIT_PER_SUBNET": "10000/minute",
    "FANFARE_WORKERS": "2",
}


def test_one_scrape_counts_every_vote_whichever_worker_answered(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "ingest", "edge", **LIMITS)
    form = open_vote(demo)
    # Concurrent, each on its own connection: both gunicorn workers take some.
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: post_vote(stack.url(), form, HX)[0], range(VOTES)))
    assert statuses == [202] * VOTES
    assert post_vote(stack.url(), {"category": "x", "nominee": "1"}, HX)[0] == 400
    assert post_vote(stack.url(), {**form, "category": "999999"}, HX)[0] == 422

    samples = scrape.fetch(stack.url("ingest") + "/metrics")

    assert scrape.total(samples, "fanfare_votes_accepted_total") == VOTES
    assert scrape.total(samples, "fanfare_votes_refused_total", reason="malformed") == 1
    assert scrape.total(samples, "fanfare_votes_refused_total", reason="unknown_category") == 1
    answered = scrape.total(
        samples, "fanfare_http_request_duration_seconds_count", endpoint="votes.cast", status="202"
    )
    assert answered == VOTES
    workers = {path.name for path in (stack.run_dir / "metrics" / "ingest").glob("counter_*.db")}
    assert len(workers) == 2, f"expected both workers' files, found {workers}"
    assert scrape.total(samples, "fanfare_redis_pool_connections", state="max") > 0


def test_metrics_are_for_the_operators_network_only(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "ingest", "edge")
    assert request(stack.url() + "/metrics").status == 200  # 127.0.0.1 is in the purge ACL
    hidden = request(stack.url() + "/metrics", source="127.0.0.9")
    assert hidden.status == 404 and "fanfare_" not in hidden.body
