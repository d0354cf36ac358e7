"""`make fleet`: a fleet on one machine, what WAIT costs, how ingest scales, and a failover drill.

Starts harness.fleet.Fleet (2 edges, 2 web, 3 ingest, 2 writers, PgBouncer, a Redis primary and
replica under three Sentinels) on free 127.0.0.1 ports against a fresh demo database, then:

1. measures ingest with wrk: one ingest with WAIT 1 against one without (an extra ingest process
   of the same fleet), alternating rounds; one ingest against all three at once;
2. proves a publish-style purge reaches both edges;
3. runs a bounded spike of votes from distinct voters (each its own 127.x.y.z address) while it
   SIGKILLs the Redis primary (Sentinel promotes the replica; the old primary comes back as its
   replica), kills an edge, an ingest process and a writer, and restarts PgBouncer;
4. checks every 202 against PostgreSQL: lost, duplicated, unexpected; and how long votes were
   answered 503 around the failover.

Results go to bench/results/fleet.json. Everything started is stopped by PID, even on failure.
usage: .venv/bin/python bench/fleet.py [--seconds 40] [--concurrency 60]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/, as bench/ scripts do

import loadgen  # noqa: E402
from fleet_drill import failover_drill, purge_reaches_every_edge  # noqa: E402
from services import STACK_ENV, ballot  # noqa: E402

from harness.database import Databases  # noqa: E402
from harness.fleet import Fleet  # noqa: E402
from harness.process import free_port, wait_http  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fleet.json"
ROUND_SECONDS = 5
CONNECTIONS = 50
# Every writer takes over a killed writer's unacked entries after this long.
FLEET_ENV = {**STACK_ENV, "FANFARE_CLAIM_IDLE_MS": "3000", "FANFARE_WORKERS": "1"}


def summary(result: loadgen.Result) -> dict:
    """votes/s (202s), p99 and what else was answered, for one wrk round."""
    return {
        "votes_per_s": round(result.rate(202), 1),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "non_202": sum(n for code, n in result.statuses.items() if code != 202),
        "timeouts": result.timeouts,
    }


def flush_cost(fleet: Fleet, *, flushes: int = 300, size: int = 50) -> dict:
    """What WAIT 1 adds to one gathered flush: pipelines of `size` XADDs, with and without it,
    alternating, straight to the primary (no HTTP, so the figure is WAIT's own)."""
    times: dict[str, list[float]] = {"wait_off": [], "wait_on": []}
    with fleet.primary.client() as client:
        for i in range(flushes * 2):
            label = "wait_on" if i % 2 else "wait_off"
            pipe = client.pipeline(transaction=False)
            for _ in range(size):
                pipe.xadd("bench:flush-cost", {"v": "1"}, maxlen=10_000)
            if label == "wait_on":
                pipe.execute_command("WAIT", 1, 500)
            started = time.perf_counter()
            replies = pipe.execute()
            times[label].append((time.perf_counter() - started) * 1000)
            assert label == "wait_off" or replies[-1] == 1, "the replica did not confirm"
        client.delete("bench:flush-cost")
    return {
        label: {"median_ms": round(statistics.median(v), 3), "p99_ms": round(_p99(v), 3)}
        for label, v in times.items()
    } | {"flushes_each": flushes, "commands_per_flush": size}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(fleet: Fleet, category: int, nominees: list[int]) -> dict:
    """WAIT on against off (one ingest each, alternating), then one ingest against three."""
    rounds: dict[str, list[dict]] = {"wait_on": [], "wait_off": []}
    for _ in range(2):
        for label, name in (("wait_on", "ingest1"), ("wait_off", "nowait")):
            result = loadgen.votes(
                fleet.url(name),
                category,
                nominees,
                connections=CONNECTIONS,
                seconds=ROUND_SECONDS,
            )
            rounds[label].append(summary(result))
    one = loadgen.votes(
        fleet.url("ingest1"), category, nominees, connections=CONNECTIONS, seconds=ROUND_SECONDS
    )
    each = CONNECTIONS // 3 + 1
    runs = [
        loadgen.Wrk(
            fleet.url(name) + "/votes",
            connections=each,
            seconds=ROUND_SECONDS,
            script="vote.lua",
            args=(str(category), ",".join(map(str, nominees))),
        )
        for name in fleet.names("ingest")
    ]
    three = [run.result() for run in runs]
    via_edge = loadgen.votes(
        fleet.url("edge1"), category, nominees, connections=CONNECTIONS, seconds=ROUND_SECONDS
    )
    return {
        "conditions": f"wrk, {CONNECTIONS} connections, {ROUND_SECONDS} s rounds, direct to "
        "ingest (1 gunicorn worker each), on the same shared 2-core machine",
        "wait": rounds,
        "wait_per_flush": flush_cost(fleet),
        "one_ingest": summary(one),
        "three_ingests": {
            "votes_per_s": round(sum(r.rate(202) for r in three), 1),
            "p99_ms_worst": max(r.p99_ms for r in three),
            "per_process": [summary(r) for r in three],
        },
        "through_edge1_director": summary(via_edge),
    }


def run(args: argparse.Namespace, workdir: Path) -> dict:
    """Stand the fleet up, measure, drill, check; tear it all down."""
    with Databases(prefix="fanfare_fleet") as databases:
        database_url = databases.create_demo()
        category, nominees = ballot(database_url)
        with Fleet(
            run_dir=workdir,
            server_url=databases.server_url,
            database_url=database_url,
            env=FLEET_ENV,
        ) as fleet:
            print(f"fleet up under {workdir}", flush=True)
            # One more ingest of the same fleet with WAIT off, only for measuring its cost.
            assert fleet.stack is not None
            fleet.stack.ports["nowait"] = nowait_port = free_port()
            fleet.stack.spawn(
                "nowait",
                ["bash", "-c", fleet.stack.commands["ingest"]],
                env={"FANFARE_INGEST_PORT": str(nowait_port), "FANFARE_REDIS_WAIT_REPLICAS": "0"},
            )
            wait_http(fleet.url("nowait") + "/healthz", timeout=60)
            measured = measure(fleet, category, nominees)
            fleet.stack.stop("nowait")
            print(json.dumps(measured, indent=1), flush=True)
            purge = purge_reaches_every_edge(fleet, database_url)
            print(f"purge on both edges: {purge}", flush=True)
            drill = failover_drill(
                fleet,
                database_url,
                category,
                nominees,
                seconds=args.seconds,
                concurrency=args.concurrency,
            )
            return {"measured": measured, "purge": purge, "failover": drill}


def main() -> int:
    """Run it, write the results, and exit 0 only if no accepted vote was lost or doubled."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the vote spike")
    parser.add_argument("--concurrency", type=int, default=60, help="voters voting at once")
    args = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="fanfare-fleet-") as workdir:
        results = run(args, Path(workdir))
    results["run"] = {
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": "2 cores shared with other engineers' test runs: figures are indicative",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    check = results["failover"]["check"]
    print(json.dumps(results["failover"], indent=1))
    print(f"written to {RESULTS}")
    ok = check["lost"] == 0 and check["duplicated"] == 0 and results["purge"]["both"]
    return 0 if ok and results["failover"]["answers"].get("500", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
