"""Queue figures from Redis alone: depth and writer lag rise while no writer acks, then fall."""

from __future__ import annotations

import redis

from fanfare.ops.queue import queue_stats
from fanfare.votes.stream import DEAD_LETTERS, GROUP, STREAM


def test_depth_and_lag_count_every_unacked_entry(redis_url):
    client = redis.Redis.from_url(redis_url)
    try:
        assert queue_stats(client).depth == 0
        ids = [client.xadd(STREAM, {"v": str(i)}, id=f"{1_000 + i}-0") for i in range(5)]
        before_group = queue_stats(client, now_ms=4_000)
        assert (before_group.depth, before_group.lag_seconds, before_group.writers) == (5, 3.0, 0)

        client.xgroup_create(STREAM, GROUP, id="0")
        client.xreadgroup(GROUP, "w1", {STREAM: ">"}, count=2)  # 2 pending, 3 undelivered
        reading = queue_stats(client, now_ms=4_000)
        assert (reading.depth, reading.pending, reading.writers) == (5, 2, 1)
        assert reading.lag_seconds == 3.0  # the oldest pending entry

        client.xack(STREAM, GROUP, *ids[:2])
        assert queue_stats(client, now_ms=4_000).lag_seconds == 2.998  # next undelivered

        client.xreadgroup(GROUP, "w1", {STREAM: ">"})
        client.xack(STREAM, GROUP, *ids[2:])
        client.xadd(DEAD_LETTERS, {"entry": "x"})
        drained = queue_stats(client, now_ms=4_000)
        assert (drained.depth, drained.lag_seconds, drained.dead_letters) == (0, 0.0, 1)
    finally:
        client.close()


def test_a_lag_redis_got_wrong_counts_no_phantom_depth(redis_url):
    """After an AOF replay Redis's group `lag` can stay high with every entry delivered (make
    chaos saw ~5,400 for good); ENTRIESREAD 0 makes Redis report the same kind of wrong lag."""
    client = redis.Redis.from_url(redis_url)
    try:
        for i in range(5):
            client.xadd(STREAM, {"v": str(i)}, id=f"{1_000 + i}-0")
        client.xgroup_create(STREAM, GROUP, id="$")
        client.execute_command("XGROUP", "SETID", STREAM, GROUP, "$", "ENTRIESREAD", 0)
        assert next(g for g in client.xinfo_groups(STREAM))["lag"] == 5  # Redis is wrong here
        stats = queue_stats(client, now_ms=4_000)
        assert (stats.depth, stats.lag_seconds) == (0, 0.0)
    finally:
        client.close()
