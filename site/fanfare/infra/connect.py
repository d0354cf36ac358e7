"""How every process reaches Redis and PostgreSQL, from its settings; Flask-free for the workers.

Redis is found through Sentinel when REDIS_SENTINELS is set (a fleet: the client follows the
primary across a failover), else at REDIS_URL. PostgreSQL may sit behind PgBouncer in
transaction mode, where a server connection changes between transactions, so psycopg must not
prepare statements (DB_BEHIND_PGBOUNCER).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.sentinel import Sentinel, SentinelConnectionPool

from fanfare.settings import words

# How long a caller waits for a free pooled connection before the vote answers 503.
POOL_WAIT_SECONDS = 2


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool (it asks Sentinel for the primary on every connect) that waits when full.

    redis-py's SentinelConnectionPool fails at once past max_connections, like its default pool;
    a burst of votes should wait briefly for a connection instead (see DESIGN: redis-py 8).
    """

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        """Close the connections to the primary and to the Sentinels (client.close() comes here)."""
        super().disconnect(*args, **kwargs)
        for sentinel in self.sentinel_manager.sentinels:
            sentinel.close()


def sentinel_addresses(value: object) -> list[tuple[str, int]]:
    """REDIS_SENTINELS ("host:port host:port") as (host, port) pairs."""
    pairs = []
    for word in words(value or ""):
        host, _, port = word.rpartition(":")
        pairs.append((host, int(port)))
    return pairs


def redis_client(
    values: Mapping[str, object], *, max_connections: int, socket_timeout: float = 5.0
) -> redis.Redis:
    """A client of the Redis primary; its pool waits briefly for a free connection when full."""
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": POOL_WAIT_SECONDS,
        "socket_connect_timeout": 2,
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
    }
    sentinels = sentinel_addresses(values.get("REDIS_SENTINELS"))
    if not sentinels:
        pool = redis.BlockingConnectionPool.from_url(str(values["REDIS_URL"]), **options)
        return redis.Redis(connection_pool=pool)
    # The database number and password still come from REDIS_URL; only the address moves.
    url = urlsplit(str(values["REDIS_URL"]))
    db = int(url.path.strip("/") or 0)
    manager = Sentinel(
        sentinels, sentinel_kwargs={"socket_timeout": 1, "socket_connect_timeout": 1}
    )
    return manager.master_for(
        str(values["REDIS_SENTINEL_MASTER"]),
        connection_pool_class=BlockingSentinelPool,
        db=db,
        password=url.password,
        **options,
    )


def pg_kwargs(values: Mapping[str, object]) -> dict[str, Any]:
    """Extra psycopg.connect() arguments: behind PgBouncer, never prepare statements."""
    return {"prepare_threshold": None} if values.get("DB_BEHIND_PGBOUNCER") else {}


def gather_options(values: Mapping[str, object]) -> dict[str, int]:
    """The Gatherer's replication check: WAIT for this many replicas, this long, per flush."""
    return {
        "wait_replicas": int(values.get("REDIS_WAIT_REPLICAS") or 0),  # type: ignore[call-overload]
        "wait_timeout_ms": int(values.get("REDIS_WAIT_TIMEOUT_MS") or 0),  # type: ignore[call-overload]
    }
