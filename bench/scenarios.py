"""The six scenarios of `make bench`, each run beside its comparison, in alternating rounds."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from dataclasses import dataclass

import loadgen
import psycopg
from measure import (
    RssSampler,
    backend_requests,
    established,
    median,
    stream_state,
    varnish_counters,
)
from services import Site


@dataclass(frozen=True)
class Profile:
    """How long and how often: the full run, or BENCH_QUICK=1's smoke run."""

    rounds: int = 3
    ingest_seconds: float = 5
    connections: tuple[int, ...] = (50, 500, 2000)
    read_seconds: float = 5
    read_connections: int = 100
    audiences: tuple[int, ...] = (10, 100, 1000, 2000)
    audience_seconds: float = 7
    spike_quiet: float = 30
    spike_ramp: float = 4
    spike_peak: float = 10
    spike_decline: float = 9
    spike_browsers: int = 100
    spike_tail: float = 40  # how long fans still waiting to resend may go on after the decline
    drain_votes: int = 200_000
    drain_rounds: int = 2
    rss_seconds: float = 6
    pause: float = 0.5


QUICK = Profile(
    rounds=1,
    ingest_seconds=3,
    read_seconds=2,
    audience_seconds=5,
    spike_quiet=8,
    spike_ramp=2,
    spike_peak=4,
    spike_decline=3,
    spike_tail=20,
    drain_votes=30_000,
    drain_rounds=1,
    rss_seconds=3,
    pause=0.5,
)


def _rotate(items: list, by: int) -> list:
    """items started at position by: round r leads with a different system."""
    by %= len(items)
    return items[by:] + items[:by]


def _settle(profile: Profile) -> None:
    """Let sockets close and CPU settle between runs."""
    time.sleep(profile.pause)


def _votes_stored(site: Site) -> tuple[int, int]:
    """Votes queued by ingest and rows inserted by the naive baseline, so far."""
    with psycopg.connect(site.database_url, autocommit=True) as conn:
        (naive,) = conn.execute("SELECT count(*) FROM naive_votes").fetchone()
    return int(stream_state(site.redis())["added"]), int(naive)


def _wait_ingest_quiet(site: Site, timeout: float = 30, still: float = 1.5) -> float:
    """Wait until no vote has been stored for `still` seconds; return how long that took.

    After wrk stops, the servers are still working through requests whose clients left (the edge
    waits for ingest's answer; gunicorn's listen queue holds the naive app's connections). Votes
    stored meanwhile must not be charged to the next run, nor its CPU.
    """
    started = since = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        now_stored = _votes_stored(site)
        if now_stored != last:
            last, since = now_stored, time.monotonic()
        elif time.monotonic() - since >= still:
            break
        time.sleep(0.25)
    return round(since - started, 2)


def reset_votes(site: Site) -> None:
    """Forget every vote: the stream, receipts, quotas and limiter counters; votes and tallies."""
    _wait_ingest_quiet(site)
    site.redis().flushdb()
    with psycopg.connect(site.database_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename IN ('votes', 'tallies', 'voter_usage', 'naive_votes')"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)}")


# --- a. ingest -----------------------------------------------------------------------------------

# Why the edge answered without the backend: unhealthy (probe failed), busy, or failed fetches.
EDGE_COUNTERS = (
    "MAIN.backend_unhealthy",
    "MAIN.backend_busy",
    "MAIN.backend_fail",
    "MAIN.backend_conn",
    "MAIN.backend_reuse",
)
INGEST_SYSTEMS = {
    "fanfare": "edge",  # through Varnish, as fans reach it
    "fanfare_direct": "ingest",  # the same ingest without the edge hop
    "naive": "naive",
    "ceiling": "ceiling",
}


# The edge keeps its backend connections to ingest open after a run (up to 2,000 after the
# 2,000-connection run), and each holds one of ingest's worker_connections until gunicorn's
# keep-alive expires: a direct run at 2,000 right after would find ingest full. So direct runs
# stop at 500 connections.
DIRECT_MAX_CONNECTIONS = 500


def _applies(system: str, connections: int) -> bool:
    return system != "fanfare_direct" or connections <= DIRECT_MAX_CONNECTIONS


def ingest(site: Site, profile: Profile) -> dict:
    """Votes/s and latency at each concurrency, for fanfare and its comparisons, rounds rotated."""
    runs: dict[str, dict[int, list[dict]]] = {
        s: {c: [] for c in profile.connections if _applies(s, c)} for s in INGEST_SYSTEMS
    }
    rss: dict[str, float] = {}
    # Open connections at ingest's port mid-run, per system, at the highest concurrency.
    connections_seen: dict[str, int] = {}
    for c in profile.connections:
        for r in range(profile.rounds):
            for system in _rotate(list(INGEST_SYSTEMS), r):
                if not _applies(system, c):
                    continue
                base = site.url(INGEST_SYSTEMS[system])
                # Through the edge ingest may see fewer connections (Varnish pools them, or
                # stops sending when its probe fails), so memory is also watched direct.
                watch = c == max(profile.connections) and system.startswith("fanfare")
                sampler = RssSampler({"ingest": site.pid("ingest")}) if watch else None
                before = varnish_counters(site.edge_workdir()) if system == "fanfare" else {}
                wrk = loadgen.Wrk(
                    f"{base}/votes",
                    connections=c,
                    seconds=profile.ingest_seconds,
                    script="vote.lua",
                    args=(str(site.category_id), ",".join(map(str, site.nominees))),
                )
                shed = system == "fanfare" and c == max(profile.connections)
                probe = _latency_probe(site, profile) if shed else None
                if sampler:
                    with sampler:
                        time.sleep(profile.ingest_seconds / 2)
                        seen = established(site.port("ingest"))
                        connections_seen[system] = max(connections_seen.get(system, 0), seen)
                        result = wrk.result()
                    for pid, peak in sampler.peaks["ingest"].items():
                        rss[str(pid)] = max(rss.get(str(pid), 0.0), round(peak, 1))
                else:
                    result = wrk.result()
                runs[system][c].append(_ingest_row(result))
                if probe:
                    runs[system][c][-1].update(_probe_row(probe.result()))
                if before:
                    after = varnish_counters(site.edge_workdir())
                    runs[system][c][-1]["edge"] = {
                        k.removeprefix("MAIN."): after.get(k, 0) - before.get(k, 0)
                        for k in EDGE_COUNTERS
                    }
                print(
                    f"  a. {system:15s} c={c:5d} round {r + 1}: "
                    f"{runs[system][c][-1]['votes_per_s']:8.0f} votes/s  "
                    f"p99 {result.p99_ms:7.1f} ms  timeouts {result.timeouts}",
                    flush=True,
                )
                runs[system][c][-1]["busy_after_s"] = _wait_ingest_quiet(site, still=0.75)
                _settle(profile)
    summary = {
        system: {str(c): _median_rows(rows) for c, rows in by_c.items()}
        for system, by_c in runs.items()
    }
    return {
        "summary": summary,
        "runs": {s: {str(c): rows for c, rows in by_c.items()} for s, by_c in runs.items()},
        "ingest_rss_mb_by_worker": rss,
        "ingest_connections_at_peak": connections_seen,
    }


# wrk's Lua cannot time one answer, so the latency of each kind of answer (202, 503) comes from
# a probe of this many connections beside it (fans.py, one send per fan, no retries).
PROBE_CONNECTIONS = 50


def _latency_probe(site: Site, profile: Profile) -> loadgen.Fans:
    """Fans who send once each, through the edge, for as long as the wrk run."""
    return loadgen.Fans(
        site.url("edge") + "/votes",
        connections=PROBE_CONNECTIONS,
        seconds=profile.ingest_seconds,
        category=site.category_id,
        nominees=site.nominees,
        tries=1,
        tail=0,
    )


def _probe_row(probe: dict) -> dict:
    """The probe's answers per status and their p99, and its timeouts."""
    latency = probe["latency_ms"]
    return {
        "probe_answers": sum(probe["statuses"].values()),
        "probe_503": probe["statuses"].get("503", 0),
        "probe_p99_ms_503": latency.get("503", {}).get("p99"),
        "probe_p99_ms_202": latency.get("202", {}).get("p99"),
        "probe_timeouts": probe["timeouts"],
    }


def _ingest_row(result: loadgen.Result) -> dict:
    accepted = result.count(202)
    total = sum(result.statuses.values())
    return {
        "votes_per_s": round(accepted / result.duration_s, 1),
        "answers_per_s": round(result.rate(), 1),
        # wrk reports 0 ms when nothing was answered: no latency, not a fast one.
        "p50_ms": result.p50_ms if total else None,
        "p99_ms": result.p99_ms if total else None,
        "accepted": accepted,
        "answers": total,
        "non_202": total - accepted,
        "s503": result.count(503),
        "share_503": round(result.count(503) / total, 4) if total else 0.0,
        "s429": result.count(429),
        "s5xx": sum(n for code, n in result.statuses.items() if code >= 500),
        "timeouts": result.timeouts,
        "socket_errors": result.errors - result.timeouts,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
    }


def _median_rows(rows: list[dict]) -> dict:
    keys = [
        "votes_per_s",
        "answers_per_s",
        "p50_ms",
        "p99_ms",
        "non_202",
        "s503",
        "share_503",
        "s5xx",
        "timeouts",
        "socket_errors",
        "probe_answers",
        "probe_503",
        "probe_p99_ms_503",
        "probe_p99_ms_202",
        "probe_timeouts",
    ]
    out: dict = {}
    for k in keys:
        if all(k not in row for row in rows):
            continue
        values = [row[k] for row in rows if row.get(k) is not None]
        out[k] = round(median(values), 2) if values else None
    return out


# --- f. memory -----------------------------------------------------------------------------------


def memory(site: Site, profile: Profile) -> dict:
    """Peak RSS of each ingest and web worker with 2,000 connections open straight at it."""
    out: dict = {}
    loads = {
        "ingest": lambda: loadgen.votes(
            site.url("ingest"), site.category_id, site.nominees,
            connections=2000, seconds=profile.rss_seconds,
        ),
        "web": lambda: loadgen.gets(
            site.url("web"), [f"/awards/{site.category_slug}"],
            connections=2000, seconds=profile.rss_seconds,
        ),
    }  # fmt: skip
    for name, load in loads.items():
        _wait_ingest_quiet(site)
        with RssSampler({name: site.pid(name)}) as sampler:
            result = load()
        peaks = {str(pid): round(mb, 1) for pid, mb in sampler.peaks[name].items()}
        out[f"{name}_rss_mb_by_worker"] = peaks
        out[f"{name}_run"] = result.as_dict()
        print(f"  f. {name} workers at 2,000 connections: peak RSS {peaks} MB", flush=True)
    return out


# --- c. read path --------------------------------------------------------------------------------


def _static_path(site: Site) -> str:
    """The fingerprinted stylesheet the home page links to."""
    with urllib.request.urlopen(site.url("edge") + "/", timeout=10) as response:
        html = response.read().decode()
    match = re.search(r'/static/[^"\']+\.css', html)
    if not match:
        raise RuntimeError("the home page links no fingerprinted stylesheet")
    return match.group(0)


def _warm(edge: str, paths: list[str], timeout: float = 30) -> None:
    """Fetch each path through the edge until it answers 200, so runs measure cache hits."""
    deadline = time.monotonic() + timeout
    for path in paths:
        while True:
            try:
                with urllib.request.urlopen(edge + path, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not answer 200 through the edge")
            time.sleep(0.2)


def read_path(site: Site, profile: Profile) -> dict:
    """Edge hit throughput for pages and the results fragment against a static file."""
    slug = site.category_slug
    targets = {
        "pages": ["/", f"/awards/{slug}", "/nominees/nova-reyes", "/history"],
        "results_fragment": [f"/fragments/awards/{slug}/results"],
        "static_file": [_static_path(site)],
    }
    edge = site.url("edge")
    _warm(edge, [p for paths in targets.values() for p in paths])
    workdir = site.edge_workdir()
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for r in range(profile.rounds):
        for name in _rotate(list(targets), r):
            before = varnish_counters(workdir)
            result = loadgen.gets(
                edge,
                targets[name],
                connections=profile.read_connections,
                seconds=profile.read_seconds,
            )
            after = varnish_counters(workdir)
            hits = after.get("MAIN.cache_hit", 0) - before.get("MAIN.cache_hit", 0)
            requests = after.get("MAIN.client_req", 0) - before.get("MAIN.client_req", 0)
            runs[name].append(
                {
                    "req_per_s": round(result.rate(200), 1),
                    "p99_ms": result.p99_ms,
                    "hit_ratio": round(hits / requests, 4) if requests else 0.0,
                    "non_200": sum(result.statuses.values()) - result.count(200),
                    "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
                }
            )
            print(
                f"  c. {name:17s} round {r + 1}: {runs[name][-1]['req_per_s']:8.0f} req/s  "
                f"hit ratio {runs[name][-1]['hit_ratio']:.3f}",
                flush=True,
            )
            _settle(profile)
    summary = {
        name: {k: round(median([row[k] for row in rows]), 4) for k in rows[0] if k != "statuses"}
        for name, rows in runs.items()
    }
    return {
        "summary": summary,
        "runs": runs,
        "paths": targets,
        "connections": profile.read_connections,
    }


# --- d. audience independence --------------------------------------------------------------------


class OriginFetches:
    """When the edge fetched from web: varnishstat's backend counter read every interval, in a
    thread. Fetches of a fragment cached for seconds are few, so a count over a short run is
    off by up to one; the spacing between fetches gives the rate far more precisely."""

    def __init__(self, workdir, interval: float = 0.1) -> None:
        self.workdir = workdir
        self.interval = interval
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = backend_requests(varnish_counters(self.workdir), "web")
        while not self._stop.wait(self.interval):
            now = backend_requests(varnish_counters(self.workdir), "web")
            self.times += [time.monotonic()] * (now - last)
            last = now

    def __enter__(self) -> OriginFetches:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def audience(site: Site, profile: Profile) -> dict:
    """Origin requests/s for one results fragment as the polling audience grows."""
    path = f"/fragments/awards/{site.category_slug}/results"
    edge, workdir = site.url("edge"), site.edge_workdir()
    _warm(edge, [path])
    sizes = list(profile.audiences)
    fetches: dict[int, list[int]] = {n: [] for n in sizes}
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    intervals: dict[int, list[int]] = {n: [] for n in sizes}  # gaps between fetches, per run
    spans: dict[int, list[float]] = {n: [] for n in sizes}  # first to last fetch, per run
    client_rate: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(profile.rounds):
        for n in _rotate(sizes, r):
            started = time.monotonic()
            with OriginFetches(workdir) as origin:
                result = loadgen.gets(edge, [path], connections=n, seconds=profile.audience_seconds)
            elapsed = time.monotonic() - started
            times = origin.times
            fetches[n].append(len(times))
            seconds[n].append(elapsed)
            if len(times) >= 2:
                intervals[n].append(len(times) - 1)
                spans[n].append(times[-1] - times[0])
            client_rate[n].append(result.rate())
            print(
                f"  d. {n:5d} pollers round {r + 1}: {result.rate():8.0f} req/s at the edge, "
                f"{len(times)} origin requests in {elapsed:.1f} s",
                flush=True,
            )
            _settle(profile)
    by_count = {n: sum(fetches[n]) / sum(seconds[n]) for n in sizes}
    # Fetches per second of time between the first and the last fetch, pooled over the rounds.
    rates = {n: sum(intervals[n]) / sum(spans[n]) if sum(spans[n]) else by_count[n] for n in sizes}
    smallest, largest = min(sizes), max(sizes)
    return {
        "origin_req_per_s": {str(n): round(v, 3) for n, v in rates.items()},
        "origin_req_per_s_by_count": {str(n): round(v, 3) for n, v in by_count.items()},
        "edge_req_per_s": {str(n): round(median(v), 1) for n, v in client_rate.items()},
        "origin_requests": {str(n): v for n, v in fetches.items()},
        "ratio_largest_vs_smallest": round(rates[largest] / rates[smallest], 3)
        if rates[smallest]
        else None,
        "path": path,
        "note": "pollers request as fast as the edge answers (worst case), not every 5 s",
    }


# --- e. worker drain -----------------------------------------------------------------------------


# Appends ARGV[1] copies of a sample entry (field/value pairs from ARGV[4..]) to the stream, each
# with its own vote id and voter id, inside Redis: 200,000 XADDs take about a second this way.
FILL_LUA = """
local fields = {}
for i = 4, #ARGV do fields[i - 3] = ARGV[i] end
local v, u
for i = 1, #fields, 2 do
  if fields[i] == 'v' then v = i + 1 elseif fields[i] == 'u' then u = i + 1 end
end
for n = 1, tonumber(ARGV[1]) do
  fields[v] = string.format('%s-%012x', ARGV[2], n)
  fields[u] = ARGV[3] .. n
  redis.call('XADD', KEYS[1], '*', unpack(fields))
end
return tonumber(ARGV[1])
"""


def _fill(site: Site, n: int, tag: str) -> None:
    """Pre-fill the stream with n valid votes from n distinct voters, for the group to read."""
    from fanfare.votes.stream import STREAM, Vote, server_time, uuid7

    client = site.redis()
    client.xgroup_create(STREAM, "vote-writers", id="0", mkstream=True)
    sample = Vote(
        vote_id=uuid7(),
        category_id=site.category_id,
        nominee_id=site.nominees[0],
        window_id=site.window_id,
        voter_id="sample",
        ip_hash="",
        cast_at=server_time(),
    )
    prefix = str(sample.vote_id)[:23]  # a time-ordered UUID prefix; the last 12 hex digits count
    flat = [x for pair in sample.fields().items() for x in pair]
    per_nominee = -(-n // len(site.nominees))
    for i, nominee in enumerate(site.nominees):
        flat[flat.index("n") + 1] = str(nominee)
        count = min(per_nominee, n - i * per_nominee)
        if count > 0:
            client.eval(
                FILL_LUA,
                1,
                STREAM,
                count,
                f"{prefix[:-4]}{i:04x}",
                f"bench-{tag}-{nominee}-",
                *flat,
            )


def drain(site: Site, profile: Profile) -> dict:
    """Votes/s persisted from a pre-filled stream, by one writer and by two, rounds alternating."""
    n = profile.drain_votes
    runs: dict[str, list[dict]] = {"1": [], "2": []}
    for r in range(profile.drain_rounds):
        for workers in _rotate(["1", "2"], r):
            reset_votes(site)
            _fill(site, n, f"{r}-{workers}")
            client = site.redis()
            site.start_workers(int(workers))
            first = done = None
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                state = stream_state(client)
                now = time.monotonic()
                if first is None and state["started"]:
                    first = now
                if state["drained"]:
                    done = now
                    break
                time.sleep(0.05)
            site.stop_workers()
            with psycopg.connect(site.database_url) as conn:
                (tallied,) = conn.execute("SELECT COALESCE(sum(votes), 0) FROM tallies").fetchone()
            elapsed = (done - first) if done and first else None
            runs[workers].append(
                {
                    "votes": n,
                    "seconds": round(elapsed, 3) if elapsed else None,
                    "votes_per_s": round(n / elapsed, 1) if elapsed else 0.0,
                    "tallied": int(tallied),
                }
            )
            print(
                f"  e. {workers} writer(s) round {r + 1}: {runs[workers][-1]['votes_per_s']:8.0f}"
                f" votes/s ({n} in {elapsed} s, tallied {tallied})",
                flush=True,
            )
    return {
        "votes_per_s": {
            k: round(median([row["votes_per_s"] for row in v]), 1) for k, v in runs.items()
        },
        "runs": runs,
    }
