"""b. The spike: quiet browsing, a jump to 2,000 voting fans within the ramp, a decline.

The voters are fans who retry (fans.py): on a 503 or 429 with Retry-After each waits and resends
the same press, up to four sends, as the htmx form does. One vote writer runs throughout.
"""

from __future__ import annotations

import time

import loadgen
import psycopg
from measure import StreamSampler, median, stream_state, varnish_counters
from scenarios import EDGE_COUNTERS, Profile, reset_votes
from services import Site

STEPS = 4  # four load generators of PEAK_CONNECTIONS / STEPS fans each, started over the ramp
PEAK_CONNECTIONS = 2000


def _windows(p: Profile) -> list[tuple[float, float]]:
    """(start, end) of each generator, in seconds from the start: staggered up, then down."""
    starts = [p.spike_quiet + i * p.spike_ramp / (STEPS - 1) for i in range(STEPS)]
    peak_end = p.spike_quiet + p.spike_ramp + p.spike_peak
    ends = [peak_end + (STEPS - 1 - i) * p.spike_decline / (STEPS - 1) for i in range(STEPS)]
    return list(zip(starts, ends, strict=True))


def _worst(results: list[dict], pick) -> float | None:
    """The largest of a per-generator figure (None where a generator had no such answers)."""
    values = [v for v in (pick(r) for r in results) if v is not None]
    return max(values) if values else None


def _wait_drained(site: Site, t0: float, timeout: float = 120) -> float | None:
    """Seconds from t0 until every queued vote is persisted and acked, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stream_state(site.redis())["drained"]:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def spike(site: Site, profile: Profile) -> dict:
    """The spike with fans who retry; what they got, and how long the backlog took to drain."""
    reset_votes(site)
    site.start_workers(1)
    time.sleep(2)  # the writer creates its group
    p = profile
    edge, slug = site.url("edge"), site.category_slug
    pages = ["/", f"/awards/{slug}", f"/fragments/awards/{slug}/results", "/nominees/nova-reyes"]
    windows = _windows(p)
    voters: list[tuple[float, loadgen.Fans]] = []
    edge_before = varnish_counters(site.edge_workdir())
    with StreamSampler(site.redis(), interval=0.5) as timeline:
        t0 = time.monotonic()
        browsers = loadgen.Wrk(
            edge + pages[0],
            connections=p.spike_browsers,
            seconds=windows[0][1],
            script="get.lua",
            args=(",".join(pages), "200"),
        )
        for start, end in windows:
            time.sleep(max(0.0, start - (time.monotonic() - t0)))
            fans = loadgen.Fans(
                f"{edge}/votes",
                connections=PEAK_CONNECTIONS // STEPS,
                seconds=end - start,
                category=site.category_id,
                nominees=site.nominees,
                tail=p.spike_tail,
            )
            voters.append((time.monotonic() - t0, fans))
        results = [fans.result() for _, fans in voters]
        votes_done = time.monotonic() - t0  # the last resend has been answered
        edge_after = varnish_counters(site.edge_workdir())
        browse = browsers.result()
        drained_at = _wait_drained(site, t0)
        time.sleep(1)
    site.stop_workers()
    with psycopg.connect(site.database_url) as conn:
        (tallied,) = conn.execute(
            "SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %s",
            (site.category_id,),
        ).fetchone()
    out = _summary(results, int(tallied))
    out.update(
        {
            # From the last answer to any fan until every accepted vote is persisted.
            "drain_s_after_last_vote": round(drained_at - votes_done, 2) if drained_at else None,
            "voting_s": round(votes_done - windows[0][0], 2),
            "backlog_max": max((s["backlog"] for s in timeline.samples), default=0),
            "edge": {
                k.removeprefix("MAIN."): edge_after.get(k, 0) - edge_before.get(k, 0)
                for k in EDGE_COUNTERS
            },
            "browsing": {
                "req_per_s": round(browse.rate(), 1),
                "p99_ms": browse.p99_ms,
                "non_2xx_3xx": sum(n for code, n in browse.statuses.items() if code >= 400),
            },
            "profile_s": {
                "quiet": p.spike_quiet,
                "ramp": p.spike_ramp,
                "peak": p.spike_peak,
                "decline": p.spike_decline,
                "tail": p.spike_tail,
            },
            "generators": [
                {"started_s": round(s, 2), **r} for (s, _), r in zip(voters, results, strict=True)
            ],
            "timeline": timeline.samples,
        }
    )
    print(
        f"  b. spike: {out['fans']} fans, {out['accepted_votes']} accepted "
        f"({out['eventually_accepted']:.2%} eventually), {out['timeouts']} timeouts, "
        f"first-answer p99 {out['first_p99_ms_worst_generator']} ms, 503 p99 "
        f"{out['p99_ms_503_worst_generator']} ms, drained {out['drain_s_after_last_vote']} s "
        f"after the last vote, tallied {tallied}",
        flush=True,
    )
    return out


def _summary(results: list[dict], tallied: int) -> dict:
    """The generators' fan outcomes added up; their latency percentiles at the worst."""
    total = {
        k: sum(r[k] for r in results)
        for k in (
            "fans",
            "accepted",
            "gave_up",
            "refused",
            "timeouts",
            "abandoned",
            "unfinished",
            "sends",
            "socket_errors",
        )
    }
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    answers = sum(statuses.values())
    refused = statuses.get("503", 0) + statuses.get("429", 0)
    return {
        "fans": total["fans"],
        "accepted_votes": total["accepted"],
        "eventually_accepted": round(total["accepted"] / total["fans"], 4) if total["fans"] else 0,
        "gave_up": total["gave_up"],
        "refused": total["refused"],
        "unfinished": total["unfinished"],
        "timeouts": total["timeouts"],
        "abandoned": total["abandoned"],
        "sends": total["sends"],
        "socket_errors": total["socket_errors"],
        "answers": answers,
        "statuses": statuses,
        "share_503_429": round(refused / answers, 4) if answers else 0.0,
        "s5xx": sum(n for code, n in statuses.items() if int(code) >= 500),
        "first_p99_ms_worst_generator": _worst(results, lambda r: r["first_p99_ms"]),
        "p99_ms_worst_generator": _worst(results, lambda r: r["p99_ms"]),
        "first_p50_ms_median_generator": median(
            [r["first_p50_ms"] for r in results if r["first_p50_ms"] is not None]
        ),
        "p99_ms_202_worst_generator": _worst(
            results, lambda r: r["latency_ms"].get("202", {}).get("p99")
        ),
        "p99_ms_503_worst_generator": _worst(
            results, lambda r: r["latency_ms"].get("503", {}).get("p99")
        ),
        "tallied_votes": tallied,
    }
