"""Fraud layers (issue 14): what they cost honest fans, and what they take from ballot-stuffers.

Two private stacks side by side (edge, web, ingest, worker, scheduler; each its own database
and redis-server on free 127.0.0.1 ports): "off" with the new-voter budget and detection
thresholds out of reach (the behaviour before the issue), "on" with the defaults. Each simulated
fan or bot binds its own 127.0.0.0/8 source address, so the edge sees it as its own client IP.

0. The enqueue script alone, for a returning and a new voter, alternating: the budget's cost.
1. Honest fans, in alternating rounds on the two stacks: each fan (its own address, 20 fans per
   /24) casts a first vote as a new voter, then a second with its cookie in another category.
   Reports p50/p95 per stack and the p50 ratio on/off (target: at most +10%).
2. Ballot-stuffing for --seconds (at most 60) each, on each stack: a cookieless bot from one IP;
   a cookieless bot on every address of one /24; a bot that keeps its cookie. The vote limits
   count per minute from the first vote and the budget per voting window, so the votes taken in
   such a run are the votes a bot gets counted in its first minute. Every 202 is checked
   against the tallies once the workers drain.

usage: .venv/bin/python bench/fraud.py [--fans 200] [--rounds 4] [--seconds 5]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402
from gevent.pool import Pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fanfare.fraud.budget import KNOWN, new_voter  # noqa: E402
from fanfare.infra.gather import Gatherer  # noqa: E402
from fanfare.votes.ballot import load_ballot  # noqa: E402
from fanfare.votes.stream import Vote, VoteQueue, server_time, uuid7  # noqa: E402
from harness.database import Databases  # noqa: E402
from harness.redis_server import RedisServer  # noqa: E402
from harness.stack import Stack  # noqa: E402

FORM = {
    "Content-Type": "application/x-www-form-urlencoded",
    "HX-Request": "true",
    "Sec-Fetch-Site": "same-origin",
}
OUT_OF_REACH = "1000000000"
# "off": every fraud layer of issue 14 out of reach; the vote limits stay the product's.
OFF = {
    "FANFARE_NEW_VOTER_BUDGET_PER_IP": OUT_OF_REACH,
    "FANFARE_NEW_VOTER_BUDGET_PER_SUBNET": OUT_OF_REACH,
    **{
        f"FANFARE_DETECT_{name}": OUT_OF_REACH
        for name in ("PER_IP", "PER_SUBNET", "PER_UA", "NEW_VOTERS_PER_SUBNET")
    },
}
COMMON = {"FANFARE_LOG_LEVEL": "warning"}


class Client:
    """One fan or bot: its own source address, a keep-alive connection, maybe a cookie."""

    def __init__(self, port: int, address: str, *, keeps_cookie: bool = True) -> None:
        self.conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(address, 0)
        )
        self.keeps_cookie = keeps_cookie
        self.cookie: str | None = None

    def vote(self, category: int, nominee: int) -> tuple[int, float]:
        """POST /votes; returns (status, seconds)."""
        headers = dict(FORM, **({"Cookie": self.cookie} if self.cookie else {}))
        body = urllib.parse.urlencode({"category": category, "nominee": nominee})
        started = time.perf_counter()
        self.conn.request("POST", "/votes", body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        cookie = response.getheader("Set-Cookie")
        if cookie and self.keeps_cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, elapsed

    def close(self) -> None:
        self.conn.close()


class Site:
    """One stack with its own database and Redis, and the ids the bench votes for."""

    def __init__(self, name: str, stack: Stack, database_url: str) -> None:
        self.name, self.stack, self.database_url = name, stack, database_url
        self.port = stack.ports["edge"]
        self.accepted = 0
        with psycopg.connect(database_url) as conn:
            self.ballot = {
                slug: (category, [n for (n,) in conn.execute(
                    "SELECT id FROM nominees WHERE category_id = %s ORDER BY id", (category,)
                )])
                for slug, category in conn.execute("SELECT slug, id FROM categories")
            }  # fmt: skip

    def tallied(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(
                "SELECT COALESCE(sum(t.votes), 0) FROM tallies t JOIN categories c"
                " ON c.id = t.category_id"
                " WHERE c.slug IN ('breakthrough-artist', 'song-of-the-year')"
            ).fetchone()[0]

    def flags(self) -> Counter[str]:
        with psycopg.connect(self.database_url) as conn:
            return Counter(dict(conn.execute("SELECT kind, count(*) FROM fraud_flags GROUP BY 1")))


def honest_round(site: Site, first: int, fans: int) -> tuple[list[float], list[float]]:
    """fans honest fans (addresses from `first` on): a new voter's vote, then a returning one."""
    breakthrough, b_nominees = site.ballot["breakthrough-artist"]
    song, s_nominees = site.ballot["song-of-the-year"]
    new, returning = [], []

    def fan(i: int) -> None:
        n = first + i
        client = Client(site.port, f"127.{100 + n // 5000}.{n // 20 % 250}.{n % 20 + 1}")
        try:
            status, seconds = client.vote(breakthrough, b_nominees[n % len(b_nominees)])
            assert status == 202, f"honest new voter got {status}"
            new.append(seconds)
            status, seconds = client.vote(song, s_nominees[n % len(s_nominees)])
            assert status == 202, f"honest returning voter got {status}"
            returning.append(seconds)
            site.accepted += 2
        finally:
            client.close()

    Pool(25).map(fan, range(fans))
    return new, returning


def stuff(site: Site, addresses: list[str], *, keeps_cookie: bool, seconds: float) -> Counter:
    """Bots on these addresses post as fast as they are answered for `seconds`.

    At most 8 requests in flight, each bot cycling over its share of the addresses: the
    question is what the fraud layers let through, not what admission control sheds.
    """
    category, nominees = site.ballot["breakthrough-artist"]
    answers: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    bots = min(8, len(addresses))

    def bot(k: int) -> None:
        mine = [Client(site.port, a, keeps_cookie=keeps_cookie) for a in addresses[k::bots]]
        try:
            turn = 0
            while time.monotonic() < deadline:
                status, _ = mine[turn % len(mine)].vote(category, nominees[0])
                answers[status] += 1
                turn += 1
        finally:
            for client in mine:
                client.close()

    Pool(bots).map(bot, range(bots))
    site.accepted += answers[202]
    return answers


def script_cost(site: Site, calls: int) -> tuple[float, float]:
    """Median ms of the one enqueue script for a returning voter vs a new voter, alternating.

    Straight to the "on" stack's Redis, one call at a time: what the new-voter budget adds to
    the vote's only round trip, without the HTTP path's noise around it.
    """
    with psycopg.connect(site.database_url) as conn:
        ballot = load_ballot(conn)
    category, nominees = site.ballot["breakthrough-artist"]
    window = ballot.categories[category].windows[0]
    client = redis.Redis.from_url(site.stack.env["REDIS_URL"])
    queue = VoteQueue(Gatherer(client), max_skew_ms=60_000)
    spent: dict[str, list[float]] = {"known": [], "new": []}
    try:
        for i in range(2 * calls):
            mode = ("known", "new")[i % 2]
            vote = Vote(
                vote_id=uuid7(),
                category_id=category,
                nominee_id=nominees[0],
                window_id=window.id,
                voter_id=f"bench-{i}",
                ip_hash=f"ip-{i // 2}",
                cast_at=server_time(),
                # Each pair on its own network: the "on" stack's detector would rightly flag
                # 2,000 new voters from one subnet and challenge the rest.
                subnet_hash=f"net-{i // 2}",
                new_voter=mode == "new",
            )
            gate = KNOWN if mode == "known" else new_voter(
                window.id, vote.ip_hash, vote.subnet_hash, per_ip=10**9, per_subnet=10**9, ttl=600
            )  # fmt: skip
            started = time.perf_counter()
            outcome = queue.enqueue(
                vote, press=vote.vote_id.hex, window=window, max_votes=1, limits=[], gate=gate
            )
            spent[mode].append(time.perf_counter() - started)
            assert outcome.kind == "queued", outcome
            site.accepted += 1
    finally:
        client.close()
    return statistics.median(spent["known"]) * 1000, statistics.median(spent["new"]) * 1000


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def run(args: argparse.Namespace, workdir: Path) -> int:
    with ExitStack() as resources:
        databases = resources.enter_context(Databases(prefix="fanfare_bench_fraud"))
        sites = {}
        for name, env in (("off", OFF), ("on", {})):
            redis_server = resources.enter_context(RedisServer(workdir=workdir / f"redis-{name}"))
            database_url = databases.create_demo()
            stack = resources.enter_context(Stack(
                run_dir=workdir / f"stack-{name}", database_url=database_url,
                redis_url=redis_server.url, workers=1, env={**COMMON, **env},
            ))  # fmt: skip
            stack.start("web", "ingest", "edge", "worker", "scheduler", timeout=60)
            sites[name] = Site(name, stack, database_url)
        print(f"stacks up (off :{sites['off'].port}, on :{sites['on'].port}); "
              f"{args.rounds} alternating rounds of {args.fans} honest fans")  # fmt: skip

        latency = {name: {"new": [], "returning": []} for name in sites}
        medians: dict[str, list[float]] = {n: [] for n in sites}
        for r in range(args.rounds):
            order = ("off", "on") if r % 2 == 0 else ("on", "off")
            for name in order:
                new, returning = honest_round(sites[name], r * args.fans, args.fans)
                latency[name]["new"] += new
                latency[name]["returning"] += returning
                medians[name].append(statistics.median(new + returning))
        for name in sites:
            lat = latency[name]
            print(f"honest fans, layers {name:>3}: new voter p50 {p(lat['new'], .5):6.1f} ms "
                  f"p95 {p(lat['new'], .95):6.1f} | returning p50 {p(lat['returning'], .5):6.1f} ms"
                  f" p95 {p(lat['returning'], .95):6.1f}")  # fmt: skip
        ratio = statistics.median(medians["on"]) / statistics.median(medians["off"])
        print(f"p50 ratio on/off (median of per-round medians): {ratio:.3f} (target <= 1.10)")

        known, new = script_cost(sites["on"], args.script_calls)
        print(
            f"enqueue script alone, {args.script_calls} calls each, alternating: returning "
            f"voter {known:.3f} ms, new voter with the budget {new:.3f} ms (+{new - known:.3f})"
        )

        scenarios = [
            ("cookieless bot, one IP", ["127.66.0.1"] * 4, False),  # 4 connections
            ("cookieless bots, one /24", [f"127.77.0.{i}" for i in range(1, 255)], False),
            ("bot keeping its cookie, one IP", ["127.88.0.1"], True),
        ]
        for title, addresses, keeps in scenarios:
            line = []
            for name in ("off", "on"):
                answers = stuff(sites[name], addresses, keeps_cookie=keeps, seconds=args.seconds)
                line.append(f"{name}: {answers[202]:4} taken {dict(sorted(answers.items()))}")
            print(f"{title:<31} first minute, " + " | ".join(line))

        ok = True
        for site in sites.values():
            deadline = time.monotonic() + 60
            while site.tallied() < site.accepted and time.monotonic() < deadline:
                time.sleep(0.2)
            tallied = site.tallied()
            flags = dict(site.flags())
            print(f"{site.name}: 202s {site.accepted}, tallied {tallied}, flags {flags}")
            ok &= tallied == site.accepted
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=200, help="honest fans per round and stack")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="per ballot-stuffing run")
    parser.add_argument("--script-calls", type=int, default=2000)
    args = parser.parse_args()
    args.seconds = min(args.seconds, 60.0)
    with tempfile.TemporaryDirectory(prefix="fanfare-bench-fraud-") as workdir:
        return run(args, Path(workdir))


if __name__ == "__main__":
    raise SystemExit(main())
