"""The prediction game at 100,000 fans × 20 rounds (2,000,000 predictions).

Measures: scoring one round (the set-based UPDATE) and the concurrent leaderboard refresh in
PostgreSQL; leaderboard pages through the edge; predictions accepted per second in the 10 s before
a lock (and that none is accepted at or after it); a sign-in storm of 1,000 magic-link requests
in 10 s from 1,000 client addresses across 127.0.0.0/8, with errors and p99.

usage: python bench/predictions.py      (stands up its own site; also a scenario of bench/run.py)
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen  # noqa: E402
from measure import median, varnish_counters  # noqa: E402
from services import Site  # noqa: E402

from fanfare.fans import sessions  # noqa: E402
from fanfare.predictions import queue, rounds, scoring  # noqa: E402

FANS, ROUNDS, OPTIONS = 100_000, 20, 4
SPIKE_FANS, SPIKE_SECONDS, SPIKE_CONNECTIONS = 2_000, 10, 100
STORM, STORM_SECONDS, STORM_THREADS = 1_000, 10, 200
SCHEDULER = {"id": None, "email": "bench"}
FORM_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Sec-Fetch-Site": "same-origin",
}

SEED_FANS = """
INSERT INTO fans (public_id, email_hash, nickname)
SELECT 'bench-' || g, md5('bench' || g), 'fan ' || g FROM generate_series(1, %s) g
"""
# Every fan predicts every round; options spread so that points (and so ranks) differ.
SEED_PREDICTIONS = """
INSERT INTO predictions (round_id, fan_id, option_ids, submitted_at)
SELECT r.id, f.id, ARRAY[(SELECT o.id FROM prediction_options o WHERE o.round_id = r.id
                          ORDER BY o.position OFFSET (f.id * 7 + r.id * 13) %% 4 LIMIT 1)],
       now() - interval '2 hours'
FROM prediction_rounds r CROSS JOIN fans f
WHERE r.id = ANY(%s)
"""


def _timed(conn: psycopg.Connection, query: str, params: object = ()) -> float:
    started = time.perf_counter()
    conn.execute(query, params)  # type: ignore[arg-type]
    return time.perf_counter() - started


def seed_and_score(database_url: str) -> dict:
    """Seed 2M predictions, score each round in one statement, refresh concurrently."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        event_id = conn.execute("SELECT min(id) FROM events").fetchone()[0]
        started = time.perf_counter()
        conn.execute(SEED_FANS, (FANS,))
        ids = []
        for n in range(ROUNDS):
            with conn.transaction():
                ids.append(
                    rounds.create(
                        conn,
                        SCHEDULER,
                        event_id=event_id,
                        question=f"Bench round {n}",
                        kind="pick",
                        points=10 + n,
                        options=[(f"O{i}", None) for i in range(OPTIONS)],
                        locks_at=datetime.now(UTC) - timedelta(hours=1),
                    )  # fmt: skip
                )
        conn.execute(SEED_PREDICTIONS, (ids,))
        conn.execute("ANALYZE predictions")
        seed_s = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        score_s = []
        for rid in ids:
            conn.execute(
                "UPDATE prediction_rounds SET result_option_ids = ARRAY[(SELECT min(id)"
                " FROM prediction_options WHERE round_id = %s)], result_verified_at = now()"
                " WHERE id = %s",
                (rid, rid),
            )
            score_s.append(_timed(conn, scoring.Q.score_round, (rid,)))
        refresh_s = []
        for _ in range(2):
            started = time.perf_counter()
            scoring.refresh(conn)
            refresh_s.append(time.perf_counter() - started)
        rows = conn.execute("SELECT count(*) FROM leaderboard").fetchone()[0]
    return {
        "predictions": count,
        "seed_s": round(seed_s, 1),
        "score_round_s": {"median": round(median(score_s), 3), "max": round(max(score_s), 3)},
        "refresh_concurrently_s": [round(s, 2) for s in refresh_s],
        "leaderboard_rows": rows,
    }


def leaderboard_pages(site: Site, seconds: float, connections: int) -> dict:
    """Cache-hit throughput of the leaderboard through the edge."""
    edge = site.url("edge")
    for _ in range(3):
        loadgen.run(edge + "/leaderboard", script="get.lua", args=("/leaderboard",),
                    connections=1, seconds=1)  # fmt: skip
    before = varnish_counters(site.edge_workdir())
    result = loadgen.gets(edge, ["/leaderboard"], connections=connections, seconds=seconds)
    after = varnish_counters(site.edge_workdir())
    hits = after.get("MAIN.cache_hit", 0) - before.get("MAIN.cache_hit", 0)
    requests = after.get("MAIN.client_req", 0) - before.get("MAIN.client_req", 0)
    return {
        "req_per_s": round(result.rate(200), 1),
        "p99_ms": result.p99_ms,
        "hit_ratio": round(hits / requests, 4) if requests else 0.0,
        "non_200": result.requests - result.count(200),
    }


def spike_before_lock(site: Site) -> dict:
    """SPIKE_FANS signed-in fans predict through the edge from lock-10 s until lock+2 s."""
    r = site.redis()
    with psycopg.connect(site.database_url, autocommit=True) as conn:
        fan_ids = [
            row[0]
            for row in conn.execute("SELECT id FROM fans ORDER BY id LIMIT %s", (SPIKE_FANS,))
        ]
        event_id = conn.execute("SELECT min(id) FROM events").fetchone()[0]
        lock = datetime.now(UTC) + timedelta(seconds=SPIKE_SECONDS + 3)
        rid = rounds.create(
            conn, SCHEDULER, event_id=event_id, question="Spike round", kind="pick", points=10,
            options=[(f"S{i}", None) for i in range(OPTIONS)], locks_at=lock,
        )  # fmt: skip
        options = [
            row[0]
            for row in conn.execute("SELECT id FROM prediction_options WHERE round_id = %s", (rid,))
        ]
    tokens = [sessions.start(r, fan_id, lifetime=3600) for fan_id in fan_ids]
    with tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False) as handle:
        handle.write("\n".join(tokens) + "\n")
    time.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds() - SPIKE_SECONDS))
    result = loadgen.run(
        site.url("edge") + f"/account/predictions/{rid}", script="predict.lua",
        args=(handle.name, ",".join(map(str, options))),
        connections=SPIKE_CONNECTIONS, seconds=SPIKE_SECONDS + 2,
    )  # fmt: skip
    Path(handle.name).unlink()
    with psycopg.connect(site.database_url) as conn:
        persisted = queue.persist(conn, r, [rid])
        late = conn.execute(
            "SELECT count(*) FROM predictions WHERE round_id = %s AND submitted_at >= %s",
            (rid, lock),
        ).fetchone()[0]
    accepted = result.count(202)
    print(f"  predictions: spike statuses {result.statuses}", flush=True)
    return {
        "accepted": accepted,
        "accepted_per_s": round(accepted / SPIKE_SECONDS, 1),
        "refused_after_lock": result.count(409),
        "other": result.requests - accepted - result.count(409),
        "timeouts": result.timeouts,
        "p99_ms": result.p99_ms,
        "persisted_fans": persisted,
        "persisted_at_or_after_lock": late,
    }


def sign_in_storm(site: Site) -> dict:
    """STORM sign-in requests paced over STORM_SECONDS, each from its own loopback address."""
    assert site.stack is not None
    port = site.port("edge")
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    started = time.monotonic()

    def one(i: int) -> None:
        time.sleep(max(0.0, started + i * STORM_SECONDS / STORM - time.monotonic()))
        source = (f"127.{20 + i // 65536}.{i // 256 % 256}.{i % 256 or 1}", 0)
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=source)
            body = f"email=storm{i}%40example.org"
            conn.request("POST", "/account/sign-in", body=body, headers=FORM_HEADERS)
            status = str(conn.getresponse().status)
            conn.close()
        except OSError as exc:
            status = type(exc).__name__
        with lock:
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=lambda k=k: [one(i) for i in range(k, STORM, STORM_THREADS)])
               for k in range(STORM_THREADS)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=STORM_SECONDS + 60)
    wall = time.monotonic() - started
    mailed, deadline = 0, time.monotonic() + 60
    while mailed < STORM and time.monotonic() < deadline:  # the outbox drains behind the storm
        time.sleep(1)
        mailed = site.stack.log("mail").read_text().count("sign-in mail for storm")
    drained = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "wall_s": round(wall, 1),
        "statuses": statuses,
        "errors": sum(n for s, n in statuses.items() if s != "200"),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "mails_received": mailed,
        "all_mail_sent_after_s": round(drained, 1),
    }


def _wait_smtp(port: int, timeout: float = 30.0) -> None:
    """Until the stack's mail sink accepts connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no SMTP sink on port {port}")


def scenario(site: Site, profile: object) -> dict:
    """bench/run.py's `predictions` scenario."""
    assert site.stack is not None
    site.stack.start("mail")
    _wait_smtp(int(site.stack.env["FANFARE_SMTP_URL"].rsplit(":", 1)[1]))
    measured = {"scoring": seed_and_score(site.database_url)}
    print(f"  predictions: scoring {json.dumps(measured['scoring'])}", flush=True)
    seconds = float(getattr(profile, "read_seconds", 5))
    connections = int(getattr(profile, "read_connections", 100))
    measured["leaderboard_pages"] = leaderboard_pages(site, seconds, connections)
    print(f"  predictions: leaderboard {json.dumps(measured['leaderboard_pages'])}", flush=True)
    measured["spike_before_lock"] = spike_before_lock(site)
    print(f"  predictions: spike {json.dumps(measured['spike_before_lock'])}", flush=True)
    # The scheduler sends the queued sign-in mail (its mail job); started only now, so its
    # first leaderboard refresh does not overlap the measurements above.
    site.stack.start("scheduler")
    measured["sign_in_storm"] = sign_in_storm(site)
    print(f"  predictions: storm {json.dumps(measured['sign_in_storm'])}", flush=True)
    return measured


def main() -> int:
    """Stand up a site of its own, run the scenario once, print the figures."""
    run_dir = Path(tempfile.mkdtemp(prefix="fanfare-bench-predictions-"))
    try:
        with Site(run_dir) as site:
            print(json.dumps(scenario(site, object()), indent=1))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
