"""Who the client is (IP, subnet), and flask-limiter on Redis for editor sign-in.

The client IP is request.remote_addr after ProxyFix trusted exactly PROXY_HOPS hops, so a
client-sent X-Forwarded-For cannot choose its own key. If Redis fails, the limiter raises and
errors.py answers 503: limits are never silently switched off. Votes are not limited here: their
per-IP, per-subnet and per-voter limits are checked inside the one vote script
(votes/enqueue.lua), from the same setting strings, so a vote costs one Redis round trip.
"""

from __future__ import annotations

import functools
import ipaddress

from flask import Flask, request
from flask_limiter import Limiter
from limits.storage import RedisStorage

from fanfare.infra import redis_client
from fanfare.infra.gather import Gatherer

# The usual Flask extension object: configured per app in init_app, state in app.extensions.
limiter = Limiter(key_func=lambda: client_ip(), key_prefix="fanfare-limit")


def client_ip() -> str:
    """The client's address as seen by the edge."""
    return request.remote_addr or "unknown"


def client_subnet() -> str:
    """The client's /24 (IPv4) or /64 (IPv6): one household, office or mobile NAT pool."""
    return subnet_of(client_ip())


@functools.lru_cache(maxsize=65536)
def subnet_of(ip: str) -> str:
    """An address's /24 or /64; cached, as parsing it cost about 1.5% of a vote's CPU."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def init_app(app: Flask) -> None:
    """Use the app's Redis for counters and fail loudly (503) rather than open."""
    # Counters go through the process's Gatherer (one pipeline per flush) on the app's own
    # deliberately sized, blocking pool, not a second default pool that fails past 100.
    app.config.setdefault("RATELIMIT_STORAGE_URI", "fanfare+redis://")
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"gatherer": redis_client.gatherer(app)})
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config["RATELIMIT_SWALLOW_ERRORS"] = False
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = False
    limiter.init_app(app)


class GatheredRedisStorage(RedisStorage):
    """flask-limiter's Redis storage, with each counter hit sent through a Gatherer.

    Selected with RATELIMIT_STORAGE_URI "fanfare+redis://" and the gatherer (whose client's
    pool is shared) in RATELIMIT_STORAGE_OPTIONS; everything but `incr` is RedisStorage's own.
    """

    STORAGE_SCHEME = ["fanfare+redis"]

    def __init__(self, uri: str, *, gatherer: Gatherer, **options: object) -> None:
        super().__init__("redis://", connection_pool=gatherer.client.connection_pool, **options)
        self.gatherer = gatherer
        script = self.lua_incr_expire
        self._incr_sha = gatherer.script(script.script, script.sha)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """The fixed-window counter: INCRBY and set its expiry, in the next shared flush."""
        key = self.prefixed_key(key)
        reply = self.gatherer.call("EVALSHA", self._incr_sha, 1, key, expiry, amount)
        return int(reply)  # type: ignore[arg-type]
