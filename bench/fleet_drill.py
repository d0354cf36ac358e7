"""The fleet's proofs: a purge reaches every edge, and a failover drill loses no accepted vote.

The drill is a bounded spike of votes, one per distinct voter, each voter on its own 127.x.y.z
source address (so per-IP and per-subnet limits see distinct fans), through both edges, while the
faults are injected on a schedule. A voter whose answer is a 503 (or whose connection broke)
tries again after Retry-After (capped, so the run stays short) through the other edge; a 202 or
a 409 (already voted) ends its turn. Then the set checker compares every 202 with PostgreSQL.
"""

from __future__ import annotations

import http.client
import re
import signal
import time
import urllib.parse
from collections import Counter

import gevent
import psycopg
from gevent.pool import Pool

from fanfare.edge import keys
from fanfare.edge.purge import PurgeClient
from harness.fleet import Fleet

RECEIPT = re.compile(r'class="vote-receipt">([0-9a-f-]{36})<')
ATTEMPTS = 40
RETRY_CAP_SECONDS = 1.0
# Seconds into the spike at which each fault is injected.
SCHEDULE = [
    (0.2, "redis_primary"),
    (0.4, "edge2"),
    (0.5, "ingest3"),
    (0.6, "worker2"),
    (0.7, "pgbouncer"),
]


def _get(port: int, path: str) -> tuple[int, str]:
    """GET path at the edge on port; status and X-Cache."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Cache", "")
    finally:
        conn.close()


def purge_reaches_every_edge(fleet: Fleet, database_url: str) -> dict:
    """Cache the category page on both edges, purge its key once through the purge client with
    the fleet's EDGE_URLS (both edges), and see it fetched anew on both."""
    with psycopg.connect(database_url) as conn:
        category_id, slug = conn.execute(
            "SELECT id, slug FROM categories WHERE slug = 'breakthrough-artist'"
        ).fetchone()
    path = f"/awards/{slug}"
    ports = [fleet.stack.ports[name] for name in fleet.names("edge")]  # type: ignore[union-attr]
    before = {}
    for port in ports:
        _get(port, path)
        before[port] = _get(port, path)[1]
    client = PurgeClient(fleet.stack.env["FANFARE_EDGE_URLS"].split())  # type: ignore[union-attr]
    client.purge([keys.category(category_id)], soft=False)
    client.flush(timeout=10)
    after = {port: _get(port, path)[1] for port in ports}
    both = all(v == "HIT" for v in before.values()) and all(v == "MISS" for v in after.values())
    return {"before": before, "after": after, "purged": client.purged, "both": both}


def _address(i: int) -> str:
    """Voter i's own loopback address: 200 voters per /24, far under the per-subnet limit."""
    return f"127.{20 + i // 50_000}.{(i // 200) % 250}.{i % 200 + 2}"


class Drill:
    """The spike's bookkeeping: every answer, every 202's receipt, when 503s happened."""

    def __init__(self, fleet: Fleet, category: int, nominees: list[int]) -> None:
        self.fleet = fleet
        self.category = category
        self.nominees = nominees
        self.edges = [fleet.stack.ports[name] for name in fleet.names("edge")]  # type: ignore[union-attr]
        self.answers: Counter[str] = Counter()
        self.accepted: set[str] = set()
        # When ingest answered 503 (Redis away or the replica unconfirmed); the edge's own 503s
        # (a killed ingest still in the director) are counted apart, in answers.
        self.unavailable_at: list[float] = []
        self.accepted_at: list[float] = []
        self.started = time.monotonic()
        self.stopping = False
        self.events: list[tuple[float, str]] = []

    def now(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def vote(self, i: int) -> None:
        """One fan's press of Vote, with the resends a phone would make."""
        body = urllib.parse.urlencode(
            {"category": self.category, "nominee": self.nominees[i % len(self.nominees)]}
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "HX-Request": "true",
            "Sec-Fetch-Site": "same-origin",
        }
        cookie = None
        for attempt in range(ATTEMPTS):
            port = self.edges[(i + attempt) % len(self.edges)]
            conn = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=10, source_address=(_address(i), 0)
            )
            try:
                conn.request(
                    "POST", "/votes", body, {**headers, **({"Cookie": cookie} if cookie else {})}
                )
                response = conn.getresponse()
                text = response.read().decode(errors="replace")
                status = response.status
                cookie = (response.getheader("Set-Cookie") or cookie or "").split(";", 1)[0] or None
                retry_after = float(response.getheader("Retry-After") or 1)
            except (OSError, http.client.HTTPException) as exc:
                self.answers[f"error:{exc.__class__.__name__}"] += 1
                gevent.sleep(0.2)
                continue
            finally:
                conn.close()
            self.answers[str(status)] += 1
            if status == 202:
                self.accepted.add(RECEIPT.search(text).group(1))  # type: ignore[union-attr]
                self.accepted_at.append(self.now())
                return
            if status == 409:
                return  # already voted: an earlier press was queued after all
            if status == 503:
                assert retry_after > 0, "a 503 without Retry-After"
                if "was not sent" in text or "wasn't sent" in text:
                    self.answers["503_from_edge"] += 1
                else:
                    self.unavailable_at.append(self.now())
            gevent.sleep(min(retry_after, RETRY_CAP_SECONDS))
        self.answers["gave_up"] += 1

    def fault(self, name: str) -> None:
        """Inject one fault of the schedule; record when."""
        fleet = self.fleet
        self.events.append((self.now(), f"{name}: start"))
        if name == "redis_primary":
            old = fleet.primary
            old.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
            old.process.wait()  # type: ignore[union-attr]
            took = fleet.sentinels.wait_for_primary(fleet.replica.port, timeout=60)
            self.events.append((self.now(), f"replica promoted after {took:.1f} s"))
            # The old primary comes back as a replica of the new one, as a restart that asks
            # Sentinel first does (docs/deploy.md). Left to Sentinel, the conversion of a returning
            # old primary waits about 10 s more, measured here; WAIT 1 needs a replica meanwhile.
            old.replica_of = fleet.replica.port
            old.start()
            fleet.replica.wait_replicas(1, timeout=60)
            self.events.append((self.now(), "old primary back as a replica"))
        elif name == "pgbouncer":
            fleet.pgbouncer.restart()
        else:
            fleet.kill(name)
        self.events.append((self.now(), f"{name}: done"))


def failover_drill(
    fleet: Fleet, database_url: str, category: int, nominees: list[int], *, seconds: float,
    concurrency: int,
) -> dict:  # fmt: skip
    """The spike with the faults, the drain, the set check."""
    before = settled(database_url, category)
    drill = Drill(fleet, category, nominees)
    pool = Pool(concurrency)
    faults = [
        gevent.spawn_later(seconds * at, drill.fault, name) for at, name in SCHEDULE
    ]  # fmt: skip
    i = 0
    while time.monotonic() - drill.started < seconds:
        pool.spawn(drill.vote, i)
        i += 1
    pool.join(timeout=120)
    gevent.joinall(faults, timeout=120)
    spike = drill.now()
    check = set_check(database_url, category, drill.accepted, before=before)
    kill_at = next(t for t, e in drill.events if e == "redis_primary: start")
    after_kill = sorted(t for t in drill.unavailable_at if t >= kill_at)
    last_503 = after_kill[-1] if after_kill else kill_at
    resumed = next((t for t in sorted(drill.accepted_at) if t > last_503), None)
    return {
        "voters": i,
        "spike_seconds": spike,
        "answers": dict(drill.answers),
        "events": drill.events,
        "unavailable": {
            "count_503": len(drill.unavailable_at),
            "ingest_503s_after_redis_kill": len(after_kill),
            "first_503_s_after_kill": round(after_kill[0] - kill_at, 2) if after_kill else None,
            "last_503_s_after_kill": round(last_503 - kill_at, 2),
            "first_202_after_last_503_s_after_kill": round(resumed - kill_at, 2)
            if resumed
            else None,
        },
        "check": check,
    }


def _counts(conn: psycopg.Connection, category: int) -> tuple[dict[str, bool], int]:
    """Every stored vote of the category (id: counted), and the sum of its tallies."""
    rows = conn.execute(
        "SELECT vote_id::text, counted FROM votes WHERE category_id = %s", (category,)
    ).fetchall()
    (tallied,) = conn.execute(
        "SELECT COALESCE(sum(votes), 0) FROM tallies WHERE category_id = %s", (category,)
    ).fetchone()
    return dict(rows), int(tallied)


def settled(database_url: str, category: int, *, quiet_s: float = 3, limit_s: float = 60) -> dict:
    """Wait until the writers stored everything earlier phases queued; what was there then."""
    deadline = time.monotonic() + limit_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        last, since = _counts(conn, category), time.monotonic()
        while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
            time.sleep(0.5)
            now = _counts(conn, category)
            if len(now[0]) != len(last[0]):
                last, since = now, time.monotonic()
    return {"votes": last[0], "tallied": last[1]}


def set_check(
    database_url: str, category: int, accepted: set[str], *, before: dict, drain_s: float = 90
) -> dict:
    """Every 202 of the drill against PostgreSQL, once the writers have drained the stream."""
    deadline = time.monotonic() + drain_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            stored, tallied = _counts(conn, category)
            if accepted <= stored.keys() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        settled_s = round(drain_s - (deadline - time.monotonic()), 1)
        (voters_twice,) = conn.execute(
            "SELECT count(*) FROM (SELECT voter_id FROM votes WHERE category_id = %s AND counted"
            " GROUP BY voter_id HAVING count(*) > 1) twice",
            (category,),
        ).fetchone()
    new = {vote_id: ok for vote_id, ok in stored.items() if vote_id not in before["votes"]}
    counted = {vote_id for vote_id, ok in new.items() if ok}
    return {
        "accepted_202": len(accepted),
        "counted": len(counted),
        "lost": len(accepted - counted),
        # A vote added to the tallies twice, or one voter counted twice (the quota is 1).
        "duplicated": tallied - before["tallied"] - len(counted) + int(voters_twice),
        "unexpected": len(counted - accepted),
        "stored_not_counted": len(new) - len(counted),
        "drained_within_s": settled_s,
    }
