"""The votes "done when" check: 10,000 votes through the edge from 1,000 voters, concurrently.

Starts its own PostgreSQL database, redis-server and stack (edge, web, ingest, worker) on free
127.0.0.1 ports, votes, waits for the worker to drain, then checks that the sum of tallies equals
the number of 202s, that every receipt reads "Counted", and that no answer was a 5xx. Prints
votes/s and latency percentiles. Cleans up everything it started.

usage: .venv/bin/python bench/vote_load.py [--voters 1000] [--votes-per-voter 10]
                                           [--concurrency 200]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psycopg  # noqa: E402
from gevent.pool import Pool  # noqa: E402

# Run as `python bench/vote_load.py`: put the repository root on the path, for harness/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import STACK_ENV  # noqa: E402

from harness.database import Databases  # noqa: E402
from harness.redis_server import RedisServer  # noqa: E402
from harness.stack import Stack  # noqa: E402

RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')


class Voter:
    """One fan: a keep-alive connection to the edge and the voter cookie it was given."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookie: str | None = None

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, text

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def run(args: argparse.Namespace, workdir: Path) -> int:
    """Stand up a private database, Redis and stack, vote through them, check; clean up."""
    with (
        Databases(prefix="fanfare_bench") as databases,
        RedisServer(workdir=workdir / "redis", persistent=True) as redis_server,
    ):
        database_url = databases.create_demo()
        with psycopg.connect(database_url) as conn:
            (category,) = conn.execute(
                "UPDATE categories SET max_votes_per_voter = %s WHERE slug = 'breakthrough-artist'"
                " RETURNING id",
                (args.votes_per_voter,),
            ).fetchone()
            nominees = [r[0] for r in conn.execute(
                "SELECT id FROM nominees WHERE category_id = %s", (category,)
            )]  # fmt: skip
        with Stack(
            run_dir=workdir / "stack",
            database_url=database_url,
            redis_url=redis_server.url,
            workers=args.ingest_workers,
            env=STACK_ENV,
        ) as stack:
            stack.start("web", "ingest", "edge", "worker")
            return vote(args, stack, database_url, category, nominees)


def vote(
    args: argparse.Namespace, stack: Stack, database_url: str, category: int, nominees: list[int]
) -> int:
    """The voting phase, the drain and the checks; 0 when every 202 was counted exactly once."""
    host, port = "127.0.0.1", stack.ports["edge"]
    print(f"stack up: edge :{port}, {args.voters} voters x {args.votes_per_voter} votes, "
          f"concurrency {args.concurrency}, ingest workers {args.ingest_workers}")  # fmt: skip

    statuses: Counter[int] = Counter()
    origins: Counter[str] = Counter()
    latencies: list[float] = []
    receipts: list[str] = []

    def vote_as(i: int) -> None:
        voter = Voter(host, port)
        try:
            for k in range(args.votes_per_voter):
                body = urllib.parse.urlencode(
                    {"category": category, "nominee": nominees[(i + k) % len(nominees)]}
                )
                started = time.perf_counter()
                status, text = voter.request("POST", "/votes", body, {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "HX-Request": "true", "Sec-Fetch-Site": "same-origin",
                })  # fmt: skip
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status >= 500:
                    # Ours is a friendly fragment; Varnish's own 503 means it gave up.
                    origins["ingest" if "very busy" in text else "edge"] += 1
                if status == 202:
                    receipts.append(RECEIPT.search(text).group(1))
        finally:
            voter.close()

    started = time.perf_counter()
    Pool(args.concurrency).map(vote_as, range(args.voters))
    elapsed = time.perf_counter() - started
    accepted = statuses[202]

    drain_started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        while True:
            (tallied,) = conn.execute(
                "SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %s",
                (category,),
            ).fetchone()
            conn.commit()
            if tallied >= accepted or time.perf_counter() - drain_started > 120:
                break
            gevent.sleep(0.2)
    drained = time.perf_counter() - drain_started

    counted: Counter[str] = Counter()

    def check(chunk: list[str]) -> None:
        voter = Voter(host, port)
        try:
            for receipt in chunk:
                status, text = voter.request("GET", f"/votes/{receipt}")
                state = re.search(r"<h2>(Counted|Queued|Not counted)</h2>", text)
                counted[state.group(1) if state and status == 200 else f"HTTP {status}"] += 1
        finally:
            voter.close()

    Pool(50).map(check, [receipts[i::50] for i in range(50)])

    fives = sum(n for code, n in statuses.items() if code >= 500)
    print(f"answers: {dict(sorted(statuses.items()))}; 5xx from {dict(origins)}")
    print(f"votes/s (202s / wall time of the voting phase): {accepted / elapsed:,.0f}"
          f"  [{accepted} in {elapsed:.2f} s]")  # fmt: skip
    print(f"latency ms: p50 {percentile(latencies, .5) * 1000:.1f}  "
          f"p95 {percentile(latencies, .95) * 1000:.1f}  "
          f"p99 {percentile(latencies, .99) * 1000:.1f}  "
          f"max {max(latencies) * 1000:.1f}")  # fmt: skip
    print(f"worker drained the backlog {drained:.2f} s after the last vote")
    print(f"sum of tallies {tallied} vs 202s {accepted}; receipts {dict(counted)}; 5xx {fives}")
    ok = tallied == accepted and counted == Counter({"Counted": accepted}) and fives == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--votes-per-voter", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--ingest-workers", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fanfare-vote-load-"))
    code = 1
    try:
        code = run(args, workdir)
        return code
    finally:
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}/stack")


if __name__ == "__main__":
    raise SystemExit(main())
