"""fanfare.edge.PurgeClient against real Varnish edges: several edges, dead edges, retries."""

from __future__ import annotations

import os
import signal
import socket

import pytest
from edge_http import request, wait_until

from fanfare.edge.purge import PurgeClient


@pytest.fixture(scope="module")
def two_edges(module_stack, module_demo, redis_server):
    """Two Varnish edges in front of one web app, as in a multi-edge deployment.

    One pair for the module: each test caches what it purges first, and leaves both edges
    running (a frozen edge is thawed in a finally).
    """
    first = module_stack(module_demo, redis_server.url, "web", "edge")
    second = module_stack(
        module_demo,
        redis_server.url,
        "edge",
        FANFARE_WEB_PORT=str(first.ports["web"]),
        FANFARE_INGEST_PORT=str(first.ports["ingest"]),
    )
    yield first, second
    # Stop the second edge first, or web waits out its keep-alive connections on shutdown.
    second.close()


def cached(edge: str, *pages: str) -> None:
    for page in pages:
        request(edge + page)
        assert request(edge + page).cache == "HIT"


def test_purges_reach_every_edge(two_edges):
    edges = [stack.url() for stack in two_edges]
    for edge in edges:
        cached(edge, "/history", "/")
    client = PurgeClient(edges)
    client.purge(["history"], soft=False)
    assert client.flush(timeout=10)
    assert client.purged == {edge: 1 for edge in edges}
    for edge in edges:
        assert request(edge + "/history").cache == "MISS"
        assert request(edge + "/").cache == "HIT"


def test_a_dead_edge_neither_blocks_the_caller_nor_the_other_edges(two_edges):
    live = two_edges[0].url()
    cached(live, "/history")
    # A socket that accepts connections but never answers: the worst kind of dead edge.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)
        dead = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        client = PurgeClient([dead, live], timeout=1.0, attempts=2)
        client.purge(["history"], soft=False)  # returns at once: nobody has answered yet
        assert not client.flush(timeout=0.1)
        wait_until(lambda: request(live + "/history").cache == "MISS", timeout=5)
    assert client.flush(timeout=15)  # the dead edge is given up on, not retried forever


def test_an_edge_that_stalls_is_retried_until_it_purges(two_edges, caplog):
    stack = two_edges[1]
    edge = stack.url()
    cached(edge, "/history")
    client = PurgeClient([edge], timeout=0.5)
    varnish = stack.processes["edge"].pid
    os.killpg(varnish, signal.SIGSTOP)  # our own Varnish, frozen: connections hang
    try:
        client.purge(["history"], soft=False)
        assert not client.flush(timeout=1.5)  # at least one attempt timed out meanwhile
    finally:
        os.killpg(varnish, signal.SIGCONT)
    assert client.flush(timeout=15)
    assert "failed (timed out); retry" in caplog.text and "gave up" not in caplog.text
    # (The timed-out request may itself be served after SIGCONT, so the count is 0 or 1.)
    assert request(edge + "/history").cache == "MISS"


def test_hard_purge_wins_over_a_pending_soft_one_and_bad_keys_are_dropped(two_edges):
    edge = two_edges[0].url()
    cached(edge, "/history")
    client = PurgeClient([edge])
    client.purge(["history", "two words", ""], soft=True)
    client.purge(["history"], soft=False)
    assert client.flush(timeout=10)
    # Hard: the next request waits for a fresh copy instead of getting the stale one.
    assert request(edge + "/history").cache == "MISS"
