"""Redis must be >= 7 and, in production, durable: checked at startup and by /healthz, said out
loud; and a Redis restart with AOF keeps every 202'd vote."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest
import redis
from ballots import open_ballot

from fanfare.app import create_ingest_app
from fanfare.infra import db
from fanfare.infra.redis_checks import RedisUnfit, durability_problems, version_problem
from fanfare.votes.stream import STREAM
from harness.redis_server import RedisServer
from workers.vote_writer import VoteWriter

HX = {"HX-Request": "true"}
OPEN = {"VOTE_LIMIT_PER_IP": "1000/minute", "VOTE_LIMIT_PER_SUBNET": "1000/minute"}


def test_redis_6_is_named_and_refused():
    problem = version_problem("6.2.14")
    assert problem and "6.2.14" in problem and ">= 7" in problem
    assert version_problem("7.0.15") is None and version_problem("7.2.4") is None
    assert version_problem("8.0.0") is None


def test_durability_problems_name_each_setting():
    durable = {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"}
    assert durability_problems(durable) == []
    assert durability_problems({**durable, "appendfsync": "always"}) == []
    lossy = {**durable, "appendonly": "no", "maxmemory-policy": "allkeys-lru"}
    problems = durability_problems(lossy)
    assert len(problems) == 2 and "appendonly" in problems[0] and "allkeys-lru" in problems[1]


def test_production_ingest_refuses_to_start_on_a_redis_without_aof(demo, redis_url, app_settings):
    # The test Redis has no AOF, like this machine's default one.
    with pytest.raises(RedisUnfit, match="appendonly"):
        create_ingest_app(app_settings(demo, redis_url, ENV="production"))


def test_development_ingest_warns_once_and_keeps_working(demo, redis_url, app_settings, caplog):
    caplog.set_level(logging.WARNING, logger="fanfare.redis")
    app = create_ingest_app(app_settings(demo, redis_url, **OPEN))
    try:
        client = app.test_client()
        category, nominee = open_ballot(demo)
        form = {"category": category, "nominee": nominee}
        vote = client.post("/votes", data=form, headers=HX)
        health = [client.get("/healthz").status_code for _ in range(3)]
    finally:
        db.close(app)
    assert vote.status_code == 202 and health == [200] * 3
    warnings = [m for m in caplog.messages if "not durable" in m]
    assert len(warnings) == 1 and "appendonly" in warnings[0]


@pytest.fixture
def aof_redis(tmp_path):
    """A private Redis configured as production: AOF, fsync every second, noeviction."""
    with RedisServer(workdir=tmp_path / "aof-redis", persistent=True) as server:
        yield server


def test_production_health_and_votes_refuse_once_redis_stops_persisting(
    demo, aof_redis, app_settings
):
    app = create_ingest_app(app_settings(demo, aof_redis.url, ENV="production", **OPEN))
    try:
        client = app.test_client()
        category, nominee = open_ballot(demo)
        assert client.get("/healthz").status_code == 200
        with aof_redis.client() as r:
            r.config_set("appendonly", "no")  # an operator's mistake, or a replaced server
        health = client.get("/healthz")
        vote = client.post("/votes", data={"category": category, "nominee": nominee}, headers=HX)
    finally:
        db.close(app)
    assert health.status_code == 503 and "appendonly" in health.get_json()["redis"]
    assert vote.status_code == 503 and "Retry-After" in vote.headers
    with aof_redis.client() as r:
        assert r.xlen(STREAM) == 0


def test_a_redis_crash_with_aof_keeps_every_202d_vote(demo, aof_redis, app_settings):
    app = create_ingest_app(app_settings(demo, aof_redis.url, **OPEN))
    try:
        category, nominee = open_ballot(demo)
        form = {"category": category, "nominee": nominee}
        # A new client per vote: five fans, each with a quota of one.
        answers = [app.test_client().post("/votes", data=form, headers=HX) for _ in range(5)]
    finally:
        db.close(app)
    assert [a.status_code for a in answers] == [202] * 5
    time.sleep(1.5)  # appendfsync everysec: what was acknowledged a second ago is on disk
    aof_redis.process.kill()  # SIGKILL: no save at shutdown
    aof_redis.process.wait()
    aof_redis.start()

    with aof_redis.client() as r:
        assert r.xlen(STREAM) == 5
    writer_client = redis.Redis.from_url(aof_redis.url, socket_timeout=15)
    writer = VoteWriter(redis_client=writer_client, conninfo=demo, consumer="after-crash")
    for _ in range(3):
        writer.step()
    writer.close()
    with psycopg.connect(demo) as conn:
        counted = conn.execute(
            "SELECT count(*) FROM votes WHERE category_id = %s AND counted"
            " AND voter_id NOT LIKE 'demo-%%'",
            (category,),
        ).fetchone()[0]
    assert counted == 5
