"""A fleet's Redis: WAIT per gathered flush, clients that follow Sentinel, psycopg via PgBouncer.

Real redis-server, redis-sentinel and pgbouncer processes on free ports, started here and
stopped by PID.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from fanfare.infra import connect, db
from fanfare.infra.gather import Gatherer, NotReplicated
from harness.database import Databases
from harness.pgbouncer import PgBouncer
from harness.redis_server import RedisServer
from harness.sentinel import Sentinels


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A Redis primary and one replica of it, in sync."""
    primary = RedisServer(workdir=tmp_path / "primary").start()
    replica = RedisServer(workdir=tmp_path / "replica", replica_of=primary.port)
    try:
        replica.start()
        primary.wait_replicas(1)
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def _settings(sentinels: Sentinels) -> dict[str, object]:
    return {
        "REDIS_URL": "redis://ignored:1/0",
        "REDIS_SENTINELS": sentinels.addresses,
        "REDIS_SENTINEL_MASTER": sentinels.name,
    }


def test_a_flush_answers_once_the_replica_has_it(pair):
    primary, replica = pair
    with primary.client() as client:
        gatherer = Gatherer(client, wait_replicas=1, wait_timeout_ms=2000)
        assert gatherer.call("SET", "k", "v") in (True, b"OK")
        with replica.client() as replica_client:
            assert replica_client.get("k") == b"v"  # WAIT returned: the replica holds it


def test_without_a_replica_the_caller_is_refused_not_told_ok(pair):
    primary, replica = pair
    replica.stop()
    with primary.client() as client:
        gatherer = Gatherer(client, wait_replicas=1, wait_timeout_ms=200)
        started = time.monotonic()
        with pytest.raises(NotReplicated):
            gatherer.call("SET", "k", "v")
        assert time.monotonic() - started < 5  # WAIT gave up after its timeout
        # Errors that are the command's own still reach their caller as they are.
        with pytest.raises(redis.ResponseError):
            gatherer.call("INCR", "k")
        assert gatherer.stats["gather_not_replicated"] == 1
        # NotReplicated is a RedisError, so ingest answers it with the one 503.
        assert issubclass(NotReplicated, redis.RedisError)


def test_wait_off_sends_no_wait(pair):
    primary, _ = pair
    with primary.client() as client:
        gatherer = Gatherer(client)  # make run: no replica to wait for
        client.config_resetstat()
        gatherer.call("SET", "k", "v")
        assert "cmdstat_wait" not in client.info("commandstats")


def test_the_client_follows_sentinel_to_the_promoted_replica(pair, tmp_path):
    primary, replica = pair
    with Sentinels(workdir=tmp_path / "sentinels", primary_port=primary.port) as sentinels:
        client = connect.redis_client(_settings(sentinels), max_connections=4, socket_timeout=2)
        try:
            gatherer = Gatherer(client, wait_replicas=1, wait_timeout_ms=2000)
            gatherer.call("XADD", "votes", "*", "v", "1")  # confirmed by the replica
            assert client.connection_pool.get_master_address() == ("127.0.0.1", primary.port)

            primary.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            primary.process.wait()  # type: ignore[union-attr]
            took = sentinels.wait_for_primary(replica.port, timeout=30)
            # Until then every write failed as a RedisError (a 503), and now it lands anew.
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.xadd("votes", {"v": "2"})
                    break
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "the client never reconnected"
                    time.sleep(0.1)
            assert client.connection_pool.get_master_address() == ("127.0.0.1", replica.port)
            assert [f[b"v"] for _, f in client.xrange("votes")] == [b"1", b"2"]
            assert took < 30
        finally:
            client.close()


def test_psycopg_behind_pgbouncer_in_transaction_mode(tmp_path):
    kwargs = connect.pg_kwargs({"DB_BEHIND_PGBOUNCER": True})
    assert kwargs == {"prepare_threshold": None}
    assert connect.pg_kwargs({"DB_BEHIND_PGBOUNCER": False}) == {}
    with Databases(prefix="fanfare_test_bouncer") as databases:
        url = databases.create()
        with PgBouncer(workdir=tmp_path / "pgbouncer", server_url=databases.server_url) as bouncer:
            pool = db.make_pool(bouncer.url(url), min_size=1, max_size=2, behind_pgbouncer=True)
            pool.open(wait=True)
            try:
                # More than psycopg's default threshold (5): without prepare_threshold=None it
                # would prepare the statement, and the next transaction may land on another
                # server connection that never saw it.
                for number in range(12):
                    with pool.connection() as conn:
                        row = conn.execute("SELECT %s::int AS n", (number,)).fetchone()
                        assert row["n"] == number
            finally:
                pool.close()
            bouncer.restart()
            with psycopg.connect(bouncer.url(url), **kwargs) as conn:
                assert conn.execute("SELECT count(*) FROM tallies").fetchone() == (0,)
