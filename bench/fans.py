"""Fans who retry, as static/js/vote-retry.js does: one load generator process, one JSON line.

Each connection carries one fan at a time. A fan presses Vote (a random `press` key for that
press); on a 503 or 429 with Retry-After it waits that long plus up to 2 s of jitter and resends
the same press (marked X-Vote-Resend, as the form marks it), up to `--tries` sends; a 202 ends
it accepted. Like a browser (and like wrk) a fan keeps waiting for a slow answer: an answer
later than 2 s (wrk's timeout) counts as a timeout, and only one not there after ABANDON_S ends
the fan. New fans start until `--seconds` have passed; fans then waiting to resend finish their
tries (at most `--tail` seconds more). wrk cannot do this: its Lua sees no connection, so it
cannot tell which fan an answer belongs to. Latencies are kept per status (202, 503, ...) and
for each fan's first answer.

usage: python fans.py URL --connections N --seconds S --category C --nominees 1,2 [--tries 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

TIMEOUT_S = 2.0  # as loadgen.TIMEOUT_S: wrk's default, the bench's definition of a timeout
ABANDON_S = 30.0  # a fan gives up on an answer this late (and counts it as a timeout too)
TRIES = 4  # sends of one press, the first included (vote-retry.js)
JITTER_S = 2.0  # vote-retry.js waits Retry-After plus up to this much
LONGEST_WAIT_S = 30  # a longer Retry-After is not retried (vote-retry.js)


@dataclass
class Tally:
    """What every fan of one process saw."""

    fans: int = 0
    accepted: int = 0  # fans whose press got a 202, after however many sends
    gave_up: int = 0  # still refused (503/429) after the last try
    refused: int = 0  # an answer that is not retried (400, 409, 5xx other than 503, ...)
    timeouts: int = 0  # sends answered later than TIMEOUT_S, or not at all
    abandoned: int = 0  # fans who gave up waiting for an answer (ABANDON_S)
    unfinished: int = 0  # still waiting to resend when the tail ran out
    sends: int = 0
    retries: int = 0
    socket_errors: int = 0
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    latency_ms: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    first_ms: list[float] = field(default_factory=list)  # each fan's first answer
    all_ms: list[float] = field(default_factory=list)  # every answer, whatever its status
    accepted_after: list[int] = field(default_factory=list)  # sends it took, per accepted fan


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened after a timeout or a close."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> tuple[int, dict[str, str]]:
        """Send one request; its status and headers (the body is read and dropped).

        A kept connection that the server closed while idle (Varnish's timeout_idle is 5 s, and
        a fan waits out Retry-After on it) fails before any answer: like a browser, send the
        request again on a new connection, once, rather than count a failed send.
        """
        if self.writer is not None:
            try:
                return await self._send(request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise  # part of an answer came: not an idle close
                self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return await self._send(request)

    async def _send(self, request: bytes) -> tuple[int, dict[str, str]]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _request(host: str, path: str, body: str, *, resend: bool = False) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "HX-Request: true\r\nSec-Fetch-Site: same-origin\r\n"
        + ("X-Vote-Resend: 1\r\n" if resend else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


async def _fan(conn: Connection, tally: Tally, form: dict, target: tuple, tries: int) -> None:
    """One fan: press, resend after Retry-After while refused, up to `tries` sends."""
    host, path, tail_end = target
    body = urlencode({**form, "press": secrets.token_urlsafe(16)})
    first, resend = _request(host, path, body), _request(host, path, body, resend=True)
    tally.fans += 1
    for send in range(1, tries + 1):
        request = first if send == 1 else resend
        tally.sends += 1
        started = time.monotonic()
        try:
            status, headers = await asyncio.wait_for(conn.post(request), ABANDON_S)
        except TimeoutError:
            tally.timeouts += 1
            tally.abandoned += 1
            conn.close()
            return
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.socket_errors += 1
            conn.close()
            await asyncio.sleep(0.1)
            continue
        took = (time.monotonic() - started) * 1000
        if took > TIMEOUT_S * 1000:
            tally.timeouts += 1
        tally.statuses[status] += 1
        tally.latency_ms[status].append(took)
        tally.all_ms.append(took)
        if send == 1:
            tally.first_ms.append(took)
        if status == 202:
            tally.accepted += 1
            tally.accepted_after.append(send)
            return
        wait = headers.get("retry-after", "")
        if status not in (503, 429) or not wait.isdigit() or int(wait) > LONGEST_WAIT_S:
            tally.refused += 1
            return
        if send == tries:
            tally.gave_up += 1
            return
        delay = int(wait) + random.random() * JITTER_S
        if time.monotonic() + delay > tail_end:
            tally.unfinished += 1
            return
        tally.retries += 1
        await asyncio.sleep(delay)


async def _slot(url: str, form_for, seconds: float, tail: float, tries: int, tally: Tally) -> None:
    """One connection: fan after fan until the run's end."""
    parts = urlsplit(url)
    conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    end = time.monotonic() + seconds
    target = (parts.netloc, parts.path, end + tail)
    try:
        while time.monotonic() < end:
            await _fan(conn, tally, form_for(), target, tries)
    finally:
        conn.close()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)


def summary(tally: Tally, duration_s: float) -> dict:
    """JSON-ready: fan outcomes, answers per status, latency percentiles per status."""
    finished = tally.fans - tally.unfinished
    return {
        "duration_s": round(duration_s, 3),
        "fans": tally.fans,
        "accepted": tally.accepted,
        "eventually_accepted": round(tally.accepted / tally.fans, 4) if tally.fans else 0.0,
        "gave_up": tally.gave_up,
        "refused": tally.refused,
        "timeouts": tally.timeouts,
        "abandoned": tally.abandoned,
        "unfinished": tally.unfinished,
        "finished": finished,
        "sends": tally.sends,
        "retries": tally.retries,
        "socket_errors": tally.socket_errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "first_p50_ms": _percentile(tally.first_ms, 50),
        "first_p99_ms": _percentile(tally.first_ms, 99),
        "p99_ms": _percentile(tally.all_ms, 99),
        "latency_ms": {
            str(code): {"p50": _percentile(v, 50), "p99": _percentile(v, 99), "n": len(v)}
            for code, v in sorted(tally.latency_ms.items())
        },
        "sends_per_accepted_fan": {
            str(n): tally.accepted_after.count(n) for n in sorted(set(tally.accepted_after))
        },
    }


async def run(args: argparse.Namespace) -> dict:
    """Every connection's fans, then the summary."""
    nominees = [int(n) for n in args.nominees.split(",")]
    tally = Tally()

    def form_for() -> dict:
        return {"category": args.category, "nominee": random.choice(nominees)}

    started = time.monotonic()
    await asyncio.gather(
        *(
            _slot(args.url, form_for, args.seconds, args.tail, args.tries, tally)
            for _ in range(args.connections)
        )
    )
    return summary(tally, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--category", type=int, required=True)
    parser.add_argument("--nominees", required=True)
    parser.add_argument("--tries", type=int, default=TRIES)
    parser.add_argument("--tail", type=float, default=40.0)
    args = parser.parse_args()
    if urlsplit(args.url).hostname != "127.0.0.1":
        raise SystemExit(f"benchmarks only send traffic to 127.0.0.1, not {args.url}")
    print("BENCH_JSON " + json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
