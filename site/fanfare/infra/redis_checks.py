"""What fanfare needs from its Redis server, checked at startup and by /healthz. Flask-free.

- Redis 7 or newer: the enqueue script's `#!lua` line, XAUTOCLAIM's deleted-ids reply and
  XTRIM MINID are all Redis 7. On Redis 6 every vote would fail with a bare error.
- Durability: a 202 means the vote survives a Redis restart, which needs AOF
  (`appendonly yes`, `appendfsync everysec` or `always`) and `maxmemory-policy noeviction`.
  Production refuses to run without it; development (whose Redis rarely has AOF) warns once.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger("fanfare.redis")
MIN_VERSION = (7, 0)
DURABLE = {
    "appendonly": {"yes"},
    "appendfsync": {"everysec", "always"},
    "maxmemory-policy": {"noeviction"},
}


class RedisUnfit(redis.RedisError):
    """The Redis server cannot keep fanfare's promises (too old, or not durable in production)."""


def version_problem(version: str) -> str | None:
    """Why this server version will not do, or None."""
    try:
        numbers = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return f"Redis reports an unreadable version {version!r}"
    if numbers < MIN_VERSION:
        return (
            f"Redis {version} is too old: fanfare needs Redis >= 7 "
            "(the enqueue script's #!lua line, XAUTOCLAIM, XTRIM MINID)"
        )
    return None


def durability_problems(config: dict[str, str]) -> list[str]:
    """Each setting that lets a 202'd vote be lost, from CONFIG GET's answer."""
    return [
        f"{name} is {config.get(name, 'unknown')!r}, needs {' or '.join(sorted(wanted))}"
        for name, wanted in DURABLE.items()
        if config.get(name) not in wanted
    ]


class ServerCheck:
    """Checks one Redis once it passes; logs the durability warning once per process."""

    def __init__(self, *, production: bool) -> None:
        self.production = production
        self.passed = False
        self._warned = False

    def __call__(self, client: redis.Redis, *, again: bool = False) -> None:
        """Raise RedisUnfit when the server will not do; free once passed, unless `again`."""
        if self.passed and not again:
            return
        self.passed = False  # until this check passes again: requests re-check meanwhile
        version = str(client.info("server").get("redis_version", "?"))
        problem = version_problem(version)
        if problem:
            log.error("%s", problem)
            raise RedisUnfit(problem)
        try:
            raw = {}
            for name in DURABLE:
                raw.update(client.config_get(name))
            config = {_text(k): _text(v) for k, v in raw.items()}
        except redis.ResponseError as exc:  # CONFIG renamed away (managed Redis): cannot tell
            config = {}
            log.warning("cannot read Redis's persistence settings (%s)", exc)
        problems = durability_problems(config)
        if problems and self.production:
            message = "Redis would lose accepted votes on a restart: " + "; ".join(problems)
            log.error("%s", message)
            raise RedisUnfit(message)
        if problems and not self._warned:
            self._warned = True
            log.warning(
                "!!! Redis %s is not durable (%s): a restart loses every queued vote. "
                "Fine for development; production refuses this.",
                version,
                "; ".join(problems),
            )
        self.passed = True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
