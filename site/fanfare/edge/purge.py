"""The purge client: tell every edge to drop objects by surrogate key, without making anyone wait.

Callers enqueue keys and return at once. Each edge has its own sender thread (a greenlet under
gevent), so a slow or dead edge never delays the others: it gathers the keys that arrive within
a few milliseconds into one request, and while its edge is down it keeps merging new keys into
the batch it retries with backoff. Varnish is the only adapter today; a CDN needs its own class
with the same `send` (Fastly: Surrogate-Key purge API, Cloudflare: Cache-Tag purge).
"""

from __future__ import annotations

import http.client
import logging
import random
import threading
import time
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from fanfare.infra import metrics
from fanfare.settings import words

log = logging.getLogger(__name__)
EXTENSION = "fanfare.purge"
# Varnish refuses request headers over 8 KB (http_req_hdr_len); stay well below.
MAX_HEADER_CHARS = 4000


class PurgeRefused(Exception):
    """The edge answered but will not purge (e.g. 403 from its ACL): retrying cannot help."""


class VarnishEdge:
    """One Varnish: PURGE / with an xkey-purge or xkey-softpurge header (cdn/purge.vcl)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an edge URL: {url!r}")
        self.url = url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.netloc = parts.netloc
        self.timeout = timeout

    def send(self, keys: list[str], *, soft: bool) -> int:
        """Purge keys; return how many objects the edge dropped. Raises OSError to retry."""
        # http.client directly: urllib would honour $http_proxy and send the purge elsewhere.
        connection_class = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = connection_class(self.host, self.port, timeout=self.timeout)
        try:
            header = "xkey-softpurge" if soft else "xkey-purge"
            conn.request("PURGE", "/", headers={header: " ".join(keys), "Host": self.netloc})
            response = conn.getresponse()
            response.read()
        except http.client.HTTPException as exc:
            raise OSError(f"bad answer from {self.url}: {exc!r}") from exc
        finally:
            conn.close()
        if response.status >= 500:
            raise OSError(f"{self.url} answered {response.status}")
        if response.status != 200:
            raise PurgeRefused(f"{self.url} answered {response.status} {response.reason}")
        return int(response.getheader("X-Purged") or 0)


def _chunks(keys: set[str]) -> Iterable[list[str]]:
    """Split keys into lists whose space-joined length fits one header."""
    chunk: list[str] = []
    size = 0
    for key in sorted(keys):
        if chunk and size + len(key) + 1 > MAX_HEADER_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(key)
        size += len(key) + 1
    if chunk:
        yield chunk


class _EdgeSender:
    """The queue and sender thread of one edge."""

    def __init__(self, edge: VarnishEdge, *, gather_seconds: float, attempts: int) -> None:
        self.edge = edge
        self.gather_seconds = gather_seconds
        self.attempts = attempts
        self.pending: dict[bool, set[str]] = {True: set(), False: set()}  # soft -> keys
        self.cond = threading.Condition()
        self.busy = False
        self.thread: threading.Thread | None = None
        self.purged = 0  # objects dropped, as reported by the edge (for logs and tests)

    def add(self, keys: frozenset[str], *, soft: bool) -> None:
        """Queue keys; a hard purge of a key makes a pending soft purge of it redundant."""
        with self.cond:
            self.pending[soft] |= keys
            if not soft:
                self.pending[True] -= keys
            self.busy = True
            self.cond.notify()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name=f"edge-purge {self.edge.url}", daemon=True
                )
                self.thread.start()

    def idle(self) -> bool:
        """Nothing queued and nothing in flight."""
        with self.cond:
            return not self.busy

    def _take(self) -> dict[bool, set[str]]:
        """Wait for keys, let a burst gather, and take everything queued."""
        with self.cond:
            while not (self.pending[True] or self.pending[False]):
                self.busy = False
                self.cond.notify_all()
                self.cond.wait()
        time.sleep(self.gather_seconds)
        with self.cond:
            batch, self.pending = self.pending, {True: set(), False: set()}
        return batch

    def _run(self) -> None:
        """Send batches forever; on failure put the rest back and retry after a backoff."""
        failures = 0
        while True:
            batch = self._take()
            try:
                for soft in (False, True):
                    for chunk in _chunks(batch[soft]):
                        self.purged += self.edge.send(chunk, soft=soft)
                        metrics.purge_sent()
                        batch[soft] -= set(chunk)
                failures = 0
            except PurgeRefused as exc:
                metrics.purge_failed("refused")
                log.error("edge refused to purge %s: %s", sorted(batch[True] | batch[False]), exc)
            except OSError as exc:
                failures += 1
                metrics.purge_failed("gave_up" if failures >= self.attempts else "retry")
                if failures >= self.attempts:
                    log.error(
                        "gave up purging %s at %s after %d attempts (%s)",
                        sorted(batch[True] | batch[False]),
                        self.edge.url,
                        failures,
                        exc,
                    )
                    failures = 0
                    continue
                delay = min(2.0, 0.05 * 2**failures) * (0.5 + random.random())
                log.warning("purge at %s failed (%s); retry in %.2fs", self.edge.url, exc, delay)
                for soft in (True, False):
                    self.add(frozenset(batch[soft]), soft=soft)
                time.sleep(delay)


class PurgeClient:
    """Purges surrogate keys at one or more edges, asynchronously, batched and retried."""

    def __init__(
        self,
        edge_urls: Iterable[str],
        *,
        gather_seconds: float = 0.02,
        timeout: float = 2.0,
        attempts: int = 10,
    ) -> None:
        self.edges = [VarnishEdge(url, timeout=timeout) for url in edge_urls]
        self.edge_urls = [edge.url for edge in self.edges]
        self._senders = [
            _EdgeSender(edge, gather_seconds=gather_seconds, attempts=attempts)
            for edge in self.edges
        ]

    def purge(self, keys: Iterable[str], *, soft: bool = True) -> None:
        """Queue a purge of every object tagged with any of keys, at every edge; returns at once."""
        keys = frozenset(k for k in keys if k and not any(c.isspace() for c in k))
        if not keys:
            return
        for sender in self._senders:
            sender.add(keys, soft=soft)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued purge was sent (or given up); for tests and shutdown."""
        deadline = time.monotonic() + timeout
        for sender in self._senders:
            with sender.cond:
                while sender.busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    sender.cond.wait(left)
        return True

    @property
    def purged(self) -> dict[str, int]:
        """Objects each edge reported dropped since this client started."""
        return {sender.edge.url: sender.purged for sender in self._senders}


def client_from_settings(values: Mapping[str, object]) -> PurgeClient:
    """A client for the EDGE_URLS setting (space-separated; empty means no purges)."""
    return PurgeClient(words(values["EDGE_URLS"]))
