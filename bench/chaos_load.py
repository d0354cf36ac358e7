"""The fans of `make chaos`: voters who retry as vote-retry.js does, and readers of the hot pages.

Every voter is new (no cookie) and sends from its own loopback address in its own /24, so the
production per-IP and per-subnet limits and the new-voter budget apply to each as to a real fan.
A voter presses Vote once (one random `press` key) and resends that same press after a 503 or
429 (waiting Retry-After plus jitter) or a broken connection, up to TRIES sends. Every send is
recorded with its times, status and receipt, for the checker. Readers fetch the home page, the
voted category's page and its results fragment in a loop, each answer recorded with its time.
Plain asyncio sockets, one connection per request (Connection: close), 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

TRIES = 8  # sends of one press, the first included (more than vote-retry.js's 4: faults last)
JITTER_S = 2.0  # as vote-retry.js: Retry-After plus up to this much
LONGEST_WAIT_S = 30  # a longer Retry-After is not retried (vote-retry.js)
ERROR_WAIT_S = 1.0  # after a broken connection, before the same press is resent
SEND_TIMEOUT_S = 20.0  # longer than the edge's first_byte_timeout (10 s)
GET_TIMEOUT_S = 10.0
RECEIPT = re.compile(rb'class="vote-receipt">([0-9a-f-]{36})<')


@dataclass(slots=True)
class Send:
    """One POST /votes: when it left and came back (s since the run's start), and the answer."""

    sent: float
    answered: float
    status: int | None  # None: the connection broke or timed out
    receipt: str | None = None
    error: str | None = None
    from_edge: bool = False  # the edge's own 503 ("wasn't sent"): ingest could not be reached


@dataclass(slots=True)
class Fan:
    """One voter: its own address, one press of the button, every send of it."""

    index: int
    address: str
    nominee: int
    press: str
    sends: list[Send] = field(default_factory=list)


@dataclass(slots=True)
class Read:
    """One GET by a reader: which page, when (s since the start), status (None: broken)."""

    kind: str  # home | category | fragment
    at: float
    status: int | None
    took: float


def fan_address(index: int) -> str:
    """Voter `index`'s own address, one voter per /24: 127.1.0.0/24 upwards (65,000 of them)."""
    return f"127.{1 + index // 256}.{index % 256}.{2 + index % 250}"


async def _exchange(
    port: int, request: bytes, *, source: str | None, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """Send one request on a fresh connection; status, headers and body of the answer."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=local), timeout
    )
    try:
        writer.write(request)
        raw = await asyncio.wait_for(reader.read(-1), timeout)  # Connection: close
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


class Load:
    """The voters and readers of one run; every timestamp is seconds since `started`."""

    def __init__(self, *, edge_port: int, category: int, slug: str, nominees: list[int]) -> None:
        self.port = edge_port
        self.category = category
        self.slug = slug
        self.nominees = nominees
        self.started = time.monotonic()
        self.started_epoch = time.time()
        self.fans: list[Fan] = []
        self.reads: list[Read] = []
        self.reading = True
        self.deadline = float("inf")  # no send starts after this (s since the start)

    def now(self) -> float:
        """Seconds since the run's start."""
        return time.monotonic() - self.started

    def since_epoch(self, moment: float) -> float:
        """A Unix time (a server's log line) as seconds since the run's start."""
        return moment - self.started_epoch

    def _vote_request(self, fan: Fan) -> bytes:
        form = {"category": self.category, "nominee": fan.nominee, "press": fan.press}
        body = urlencode(form)
        return (
            f"POST /votes HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "HX-Request: true\r\nSec-Fetch-Site: same-origin\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    async def vote(self, fan: Fan) -> None:
        """One fan's press, with the resends of the same press a phone would make."""
        request = self._vote_request(fan)
        for _ in range(TRIES):
            sent = self.now()
            if sent > self.deadline:
                return  # the run's time is up: this fan stops here (checked: it sent before)
            try:
                status, headers, body = await _exchange(
                    self.port, request, source=fan.address, timeout=SEND_TIMEOUT_S
                )
            except (OSError, TimeoutError, ValueError, IndexError) as exc:
                fan.sends.append(Send(sent, self.now(), None, error=type(exc).__name__))
                await asyncio.sleep(ERROR_WAIT_S + random.random())
                continue
            found = RECEIPT.search(body) if status == 202 else None
            receipt = found.group(1).decode() if found else None
            edge = status == 503 and b"wasn" in body and b"sent" in body
            # A 202 without a readable receipt is kept with its body's start, to be looked at.
            odd = body[:300].decode(errors="replace") if status == 202 and not found else None
            fan.sends.append(Send(sent, self.now(), status, receipt, error=odd, from_edge=edge))
            wait = headers.get("retry-after", "")
            if status not in (503, 429) or not wait.isdigit() or int(wait) > LONGEST_WAIT_S:
                return  # 202 ends the press; any other answer is not retried
            await asyncio.sleep(int(wait) + random.random() * JITTER_S)

    async def voters(self, count: int, seconds: float, concurrency: int) -> None:
        """`count` new voters, arriving evenly over `seconds`, at most `concurrency` at once.

        A fan holds its place from its first send to its last (resend waits included), so a
        resend never queues behind newcomers; when every place is taken, arrivals wait (the
        stack is then the limit, and the run says how many voters it got to).
        """
        places = asyncio.Semaphore(concurrency)
        tasks = []
        for index in range(count):
            delay = index * seconds / count - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            await places.acquire()
            if self.now() > self.deadline:
                places.release()
                break
            fan = Fan(
                index=index,
                address=fan_address(index),
                nominee=self.nominees[index % len(self.nominees)],
                press=secrets.token_urlsafe(16),
            )
            self.fans.append(fan)
            task = asyncio.create_task(self.vote(fan))
            task.add_done_callback(lambda _: places.release())
            tasks.append(task)
        await asyncio.gather(*tasks)

    async def reader(self, pause: float) -> None:
        """Home, the voted category's page, its results fragment, again and again."""
        paths = {
            "home": "/",
            "category": f"/awards/{self.slug}",
            "fragment": f"/fragments/awards/{self.slug}/results",
        }
        while self.reading:
            for kind, path in paths.items():
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                    "Accept-Encoding: gzip\r\nConnection: close\r\n\r\n"
                ).encode()
                at = self.now()
                try:
                    status, _, _ = await _exchange(
                        self.port, request, source=None, timeout=GET_TIMEOUT_S
                    )
                except (OSError, TimeoutError, ValueError, IndexError):
                    status = None
                self.reads.append(Read(kind, at, status, round(self.now() - at, 4)))
                await asyncio.sleep(pause)

    async def run(
        self, *, voters: int, seconds: float, concurrency: int, readers: int, pause: float
    ) -> None:
        """The spike: voters and readers together; the readers stop when the voters are done."""
        reading = [asyncio.create_task(self.reader(pause)) for _ in range(readers)]
        try:
            await self.voters(voters, seconds, concurrency)
        finally:
            self.reading = False
            await asyncio.gather(*reading)
