"""Fraud layers (issue 14): what they cost honest fans, and what they take from ballot-stuffers.

One private stack (edge, web, ingest, worker, scheduler; its own database and redis-server on
free 127.0.0.1 ports) with a second ingest and a second edge beside it, sharing everything else:
the Redis, the database, web, the writer, the scheduler and the edge's configuration. The second
ingest runs with FANFARE_FRAUD_GATE=false (no new-voter budget, no challenge, the per-IP and
per-subnet limits refuse at once: the behaviour before the issue), the first with the defaults.
So the two arms differ only in that setting, and whatever else loads the shared machine loads
both. Each simulated fan or bot binds its own 127.0.0.0/8 source address, so the edge sees it as
its own client IP. Detection runs once, in the shared scheduler, off the request path.

0. The enqueue script alone, for a returning and a new voter, alternating: the budget's cost.
1. Honest fans, in many short rounds, the arms alternating (on/off, off/on, ...): each fan (its
   own address, 20 fans per /24) casts a first vote as a new voter, then a second with its
   cookie in another category. Each round yields the p50 ratio on/off of its two arms, taken
   back to back; the headline is the median of those ratios with its quartiles and extremes
   (key fraud_honest_p50_ratio, target at most 1.10), beside the p50 of all "on" votes over
   that of all "off" votes with a bootstrap interval over the rounds. Few fans in flight (2 per
   arm by default), so a vote's latency is mostly its own work rather than the queue ahead.
2. Ballot-stuffing for --seconds (at most 60) each, on each arm: a cookieless bot from one IP; a
   cookieless bot on every address of one /24; a bot that keeps its cookie; a cookieless bot
   from one IP that solves every proof of work (on one core, with altcha in Python). The vote
   limits count per minute from the first vote and the budget per voting window, so the votes
   taken in such a run are the votes a bot gets counted in its first minute. Every 202 is
   checked against the tallies once the writer drains.

Results: printed, and written to bench/results/fraud.json.

usage: .venv/bin/python bench/fraud.py [--fans 20] [--rounds 60] [--concurrency 2]
                                       [--interleaved] [--seconds 5]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import html  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402

import altcha  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from gevent.pool import Pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fanfare.fraud.budget import KNOWN, new_voter  # noqa: E402
from fanfare.infra.gather import Gatherer  # noqa: E402
from fanfare.votes.ballot import load_ballot  # noqa: E402
from fanfare.votes.stream import Vote, VoteQueue, server_time, uuid7  # noqa: E402
from harness.database import Databases  # noqa: E402
from harness.process import free_port, wait_http  # noqa: E402
from harness.redis_server import RedisServer  # noqa: E402
from harness.stack import Stack  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fraud.json"
FORM = {
    "Content-Type": "application/x-www-form-urlencoded",
    "HX-Request": "true",
    "Sec-Fetch-Site": "same-origin",
}
# The "off" arm: the setting that switches the budget and the challenge off; nothing else.
OFF = {"FANFARE_FRAUD_GATE": "false"}
COMMON = {"FANFARE_LOG_LEVEL": "warning"}
POW = re.compile(r'data-pow-challenge="([^"]+)"')


class Client:
    """One fan or bot: its own source address, a keep-alive connection, maybe a cookie."""

    def __init__(self, port: int, address: str, *, keeps_cookie: bool = True) -> None:
        self.conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(address, 0)
        )
        self.keeps_cookie = keeps_cookie
        self.cookie: str | None = None
        self.body = ""

    def vote(self, category: int, nominee: int, **extra: str) -> tuple[int, float]:
        """POST /votes; returns (status, seconds); the answer's body stays in self.body."""
        headers = dict(FORM, **({"Cookie": self.cookie} if self.cookie else {}))
        body = urllib.parse.urlencode({"category": category, "nominee": nominee, **extra})
        started = time.perf_counter()
        self.conn.request("POST", "/votes", body=body, headers=headers)
        response = self.conn.getresponse()
        self.body = response.read().decode()
        elapsed = time.perf_counter() - started
        cookie = response.getheader("Set-Cookie")
        if cookie and self.keeps_cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, elapsed

    def solution(self) -> str:
        """Solve the proof of work of the last (challenged) answer, as the browser's Worker."""
        challenge = altcha.Challenge.from_dict(
            json.loads(html.unescape(POW.search(self.body).group(1)))
        )
        return altcha.Payload(challenge, altcha.solve_challenge(challenge)).to_base64()

    def close(self) -> None:
        self.conn.close()


class Site:
    """The one stack and its database: the ids the bench votes for, the 202s it got."""

    def __init__(self, stack: Stack, database_url: str) -> None:
        self.stack, self.database_url = stack, database_url
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
                "SELECT COALESCE(sum(t.votes), 0)::bigint FROM tallies t JOIN categories c"
                " ON c.id = t.category_id"
                " WHERE c.slug IN ('breakthrough-artist', 'song-of-the-year')"
            ).fetchone()[0]

    def flags(self) -> Counter[str]:
        with psycopg.connect(self.database_url) as conn:
            return Counter(dict(conn.execute("SELECT kind, count(*) FROM fraud_flags GROUP BY 1")))


def start_off_arm(stack: Stack, run_dir: Path) -> int:
    """A second ingest with the gate off, and a second edge in front of it; its edge's port."""
    edge, ingest = free_port(), free_port()
    env = {**OFF, "FANFARE_INGEST_PORT": str(ingest), "FANFARE_RUN_DIR": str(run_dir)}
    stack.spawn("ingest-off", ["bash", "-c", stack.commands["ingest"]], env=env)
    stack.spawn(
        "edge-off",
        ["bash", "-c", stack.commands["edge"]],
        env={**env, "FANFARE_EDGE_PORT": str(edge)},
    )
    wait_http(f"http://127.0.0.1:{ingest}/healthz", timeout=60)
    wait_http(f"http://127.0.0.1:{edge}/healthz", timeout=60)
    return edge


def address(n: int) -> str:
    """Fan n's own loopback address: 20 fans per /24, none shared by two fans."""
    return f"127.{100 + n // 5000}.{n // 20 % 250}.{n % 20 + 1}"


def honest_round(
    site: Site, ports: list[int], first: int, fans: int, concurrency: int
) -> list[tuple[list[float], list[float]]]:
    """fans honest fans (addresses from `first` on), fan i on ports[i % len(ports)]: a new
    voter's vote, then a returning one. Per port, the two votes' seconds."""
    breakthrough, b_nominees = site.ballot["breakthrough-artist"]
    song, s_nominees = site.ballot["song-of-the-year"]
    seconds: list[tuple[list[float], list[float]]] = [([], []) for _ in ports]

    def fan(i: int) -> None:
        n = first + i
        new, returning = seconds[i % len(ports)]
        client = Client(ports[i % len(ports)], address(n))
        try:
            status, took = client.vote(breakthrough, b_nominees[n % len(b_nominees)])
            assert status == 202, f"honest new voter got {status}"
            new.append(took)
            status, took = client.vote(song, s_nominees[n % len(s_nominees)])
            assert status == 202, f"honest returning voter got {status}"
            returning.append(took)
            site.accepted += 2
        finally:
            client.close()

    Pool(concurrency).map(fan, range(fans))
    return seconds


def stuff(
    site: Site, port: int, addresses: list[str], *, keeps_cookie: bool, solves: bool, seconds: float
) -> Counter:
    """Bots on these addresses post as fast as they are answered for `seconds`.

    At most 8 requests in flight, each bot cycling over its share of the addresses: the
    question is what the fraud layers let through, not what admission control sheds. A bot that
    solves sends each challenged vote again with its solution (counted as "solved").
    """
    category, nominees = site.ballot["breakthrough-artist"]
    answers: Counter[int | str] = Counter()
    deadline = time.monotonic() + seconds
    bots = min(8, len(addresses))

    def bot(k: int) -> None:
        mine = [Client(port, a, keeps_cookie=keeps_cookie) for a in addresses[k::bots]]
        try:
            turn = 0
            while time.monotonic() < deadline:
                client = mine[turn % len(mine)]
                status, _ = client.vote(category, nominees[0])
                if status == 200 and solves:
                    status, _ = client.vote(category, nominees[0], altcha=client.solution())
                    answers["solved"] += status == 202
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

    Straight to the stack's Redis, one call at a time: what the new-voter budget adds to the
    vote's only round trip, without the HTTP path's noise around it.
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
                # Each pair on its own network: the detector would rightly flag 2,000 new
                # voters from one subnet and challenge the rest.
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


def honest(site: Site, ports: dict[str, int], args: argparse.Namespace) -> dict:
    """Phase 1: short rounds on the two arms; the per-round p50 ratios.

    Alternating (the default): each round runs one arm, then the other, the order swapped every
    round. Interleaved: each round runs both arms at once, fans alternating between them, so both
    see the same moment of a shared machine (the layers' own CPU then slows both arms a little).
    """
    latency = {name: {"new": [], "returning": []} for name in ports}
    ratios: list[float] = []
    rounds: list[dict[str, list[float]]] = []  # each counted round's seconds, per arm
    fan = 0
    for r in range(-1, args.rounds):  # round -1 warms both arms up and is not counted
        order = ("on", "off") if r % 2 == 0 else ("off", "on")
        if args.interleaved:
            batches = [(order, 2 * args.fans)]
        else:
            batches = [((name,), args.fans) for name in order]
        this_round: dict[str, list[float]] = {}
        for names, fans in batches:
            at_once = args.concurrency * len(names)  # per arm as many in flight either way
            answers = honest_round(site, [ports[n] for n in names], fan, fans, at_once)
            fan += fans
            for name, (new, returning) in zip(names, answers, strict=True):
                this_round[name] = new + returning
                latency[name]["new"] += new
                latency[name]["returning"] += returning
        if r < 0:
            latency = {name: {"new": [], "returning": []} for name in ports}
            continue
        rounds.append(this_round)
        ratios.append(statistics.median(this_round["on"]) / statistics.median(this_round["off"]))
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    pooled, low, high = pooled_ratio(rounds)
    for name in ports:
        lat = latency[name]
        print(f"honest fans, layers {name:>3}: new voter p50 {p(lat['new'], .5):6.1f} ms "
              f"p95 {p(lat['new'], .95):6.1f} | returning p50 {p(lat['returning'], .5):6.1f} ms"
              f" p95 {p(lat['returning'], .95):6.1f}")  # fmt: skip
    print(f"fraud_honest_p50_ratio (on/off, median of {len(ratios)} rounds' ratios): "
          f"{median:.3f}; quartiles {q1:.3f}..{q3:.3f}, range {min(ratios):.3f}..{max(ratios):.3f}"
          " (target <= 1.10)")  # fmt: skip
    print(
        f"fraud_honest_pooled_p50_ratio (p50 of every on vote / of every off vote): "
        f"{pooled:.3f}; 90% of bootstrap resamples of the rounds {low:.3f}..{high:.3f}"
    )
    return {
        "fraud_honest_p50_ratio": round(median, 3),
        "fraud_honest_pooled_p50_ratio": round(pooled, 3),
        "fraud_honest_pooled_p50_ratio_90": [round(low, 3), round(high, 3)],
        "fraud_honest_p50_ratio_quartiles": [round(q1, 3), round(q3, 3)],
        "fraud_honest_p50_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "fraud_honest_round_ratios": [round(x, 3) for x in ratios],
        "honest_ms": {
            name: {
                kind: {"p50": round(p(v, 0.5), 2), "p95": round(p(v, 0.95), 2)}
                for kind, v in lat.items()
            }
            for name, lat in latency.items()
        },
    }


def pooled_ratio(rounds: list[dict[str, list[float]]]) -> tuple[float, float, float]:
    """p50 of all "on" votes over p50 of all "off" votes, and the 5th and 95th percentile of that
    ratio over 1,000 resamples of the rounds (with replacement): how much the rounds disagree."""

    def ratio(sample: list[dict[str, list[float]]]) -> float:
        on = [x for r in sample for x in r["on"]]
        off = [x for r in sample for x in r["off"]]
        return statistics.median(on) / statistics.median(off)

    draw = random.Random(14)  # the same resamples every run: the spread is the data's
    resampled = sorted(ratio(draw.choices(rounds, k=len(rounds))) for _ in range(1000))
    return ratio(rounds), resampled[50], resampled[949]


def scenarios(arm: int) -> list[tuple[str, list[str], bool, bool]]:
    """Title, addresses, keeps its cookie, solves every challenge. Each arm's bots on networks
    of their own (arm 0 or 1): the arms share Redis, so they would share the limits' counters."""
    net = 60 + 10 * arm
    return [
        ("cookieless bot, one IP", [f"127.{net}.0.1"] * 4, False, False),  # 4 connections
        ("cookieless bots, one /24", [f"127.{net + 1}.0.{i}" for i in range(1, 255)], False, False),
        ("bot keeping its cookie, one IP", [f"127.{net + 2}.0.1"], True, False),
        ("cookieless solving bot, one IP", [f"127.{net + 3}.0.1"], False, True),  # one core
    ]


def run(args: argparse.Namespace, workdir: Path) -> int:
    with ExitStack() as resources:
        databases = resources.enter_context(Databases(prefix="fanfare_bench_fraud"))
        redis_server = resources.enter_context(RedisServer(workdir=workdir / "redis"))
        database_url = databases.create_demo()
        stack = resources.enter_context(Stack(
            run_dir=workdir / "stack", database_url=database_url,
            redis_url=redis_server.url, workers=1, env=COMMON,
        ))  # fmt: skip
        stack.start("web", "ingest", "edge", "worker", "scheduler", timeout=60)
        ports = {"on": stack.ports["edge"], "off": start_off_arm(stack, workdir / "off")}
        site = Site(stack, database_url)
        design = "interleaved" if args.interleaved else "alternating"
        print(f"one stack, two arms (on :{ports['on']}, off :{ports['off']}, gate off); "
              f"{args.rounds} {design} rounds of {args.fans} honest fans per arm, "
              f"{args.concurrency} at a time per arm")  # fmt: skip
        results = honest(site, ports, args)

        known, new = script_cost(site, args.script_calls)
        print(
            f"enqueue script alone, {args.script_calls} calls each, alternating: returning "
            f"voter {known:.3f} ms, new voter with the budget {new:.3f} ms (+{new - known:.3f})"
        )
        results["script_ms"] = {"returning": round(known, 3), "new_voter": round(new, 3)}

        results["stuffing"] = {}
        for k, (title, *_) in enumerate(scenarios(0)):
            line, taken = [], {}
            for arm, name in enumerate(("off", "on")):
                _, addresses, keeps, solves = scenarios(arm)[k]
                answers = stuff(
                    site, ports[name], addresses, keeps_cookie=keeps, solves=solves,
                    seconds=args.seconds,
                )  # fmt: skip
                taken[name] = dict(sorted(answers.items(), key=str))
                line.append(f"{name}: {answers[202]:4} taken {taken[name]}")
            results["stuffing"][title] = taken
            print(f"{title:<31} first minute, " + " | ".join(line))

        deadline = time.monotonic() + 60
        while site.tallied() < site.accepted and time.monotonic() < deadline:
            time.sleep(0.2)
        tallied = site.tallied()
        flags = dict(site.flags())
        ok = tallied == site.accepted
        print(f"202s {site.accepted}, tallied {tallied}, flags {flags}")
        with open("/proc/loadavg") as loadavg:
            load = loadavg.read().split()[:3]
        results.update(
            design=design,
            accepted=site.accepted, tallied=tallied, flags=flags, load_after=load,
            conditions=f"{args.rounds} rounds x {args.fans} fans per arm, {args.concurrency} "
            "at a time per arm, through two identical edges to two ingests (1 gunicorn worker "
            "each) behind one Redis and PostgreSQL, on the same shared 2-core machine",
        )  # fmt: skip
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"load average after: {' '.join(load)}; written to {RESULTS}")
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fans", type=int, default=20, help="honest fans per round and arm")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=2, help="honest fans at a time")
    parser.add_argument(
        "--interleaved", action="store_true", help="both arms at once in each round (see honest)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per ballot-stuffing run")
    parser.add_argument("--script-calls", type=int, default=2000)
    args = parser.parse_args()
    args.seconds = min(args.seconds, 60.0)
    args.rounds = max(args.rounds, 2)
    with tempfile.TemporaryDirectory(prefix="fanfare-bench-fraud-") as workdir:
        return run(args, Path(workdir))


if __name__ == "__main__":
    raise SystemExit(main())
