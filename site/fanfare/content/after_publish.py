"""The one step after any publish, from the editor area or the scheduler, once it has COMMITted.

Purge exactly the keys whose cached pages changed, at every edge, and drop the ballot that
ingest processes share, so fans see and can vote on the new content within a second. The audit
entry is already written, in the publishing transaction itself (content/publishing.py).
Framework-free: the scheduler runs it too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

from fanfare.edge.purge import PurgeClient
from fanfare.votes.ballot import forget_shared

log = logging.getLogger(__name__)


def announce(changed: Iterable[str], *, purger: PurgeClient, redis_client: redis.Redis) -> None:
    """Purge the changed keys and make ingest reload its ballot. Call only after COMMIT."""
    changed = set(changed)
    if not changed:
        return
    # After COMMIT only: a purge before it would let the edge fetch the old version again.
    purger.purge(changed)
    try:
        forget_shared(redis_client)
    except redis.RedisError as exc:
        # The publish stands; ingest's shared copy expires by itself within seconds anyway.
        log.warning("could not drop the shared ballot: %r", exc)
    log.info("published; purging %s", " ".join(sorted(changed)))
