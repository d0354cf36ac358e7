"""The purge client: tell every edge to drop objects by surrogate key, without making anyone wait.

Callers enqueue keys; one background thread (a greenlet under gevent) gathers what arrives within
a few milliseconds into one request per edge, and retries with backoff while an edge is down.
Varnish is the only adapter today: a CDN needs its own `_send` (Fastly: Surrogate-Key purge API).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import urllib.request
from collections.abc import Iterable

from flask import Flask, current_app

log = logging.getLogger(__name__)
EXTENSION = "fanfare.edge"


class PurgeClient:
    """Batches surrogate-key purges to one or more Varnish edges, asynchronously."""

    def __init__(
        self,
        edge_urls: Iterable[str],
        *,
        gather_seconds: float = 0.02,
        timeout: float = 2.0,
        attempts: int = 6,
    ) -> None:
        self.edge_urls = [url.rstrip("/") for url in edge_urls]
        self.gather_seconds = gather_seconds
        self.timeout = timeout
        self.attempts = attempts
        self._queue: queue.Queue[tuple[bool, frozenset[str]]] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def purge(self, keys: Iterable[str], *, soft: bool = True) -> None:
        """Queue a purge of every object tagged with any of keys; returns at once."""
        keys = frozenset(k for k in keys if k)
        if not keys or not self.edge_urls:
            return
        self._idle.clear()
        self._queue.put((soft, keys))
        self._ensure_thread()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued purge was sent (or given up); for tests and shutdown."""
        return self._idle.wait(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="edge-purge", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Take one purge, gather what follows within gather_seconds, send, repeat."""
        while True:
            soft, keys = self._queue.get()
            batch = {soft: set(keys)}
            deadline = time.monotonic() + self.gather_seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more_soft, more_keys = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                batch.setdefault(more_soft, set()).update(more_keys)
            for is_soft, batch_keys in batch.items():
                for url in self.edge_urls:
                    self._send_with_retries(url, batch_keys, soft=is_soft)
            if self._queue.empty():
                self._idle.set()

    def _send_with_retries(self, url: str, keys: set[str], *, soft: bool) -> None:
        for attempt in range(self.attempts):
            try:
                self._send(url, keys, soft=soft)
                return
            except OSError as exc:
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.warning("purge of %s at %s failed (%s); retry in %.2fs", keys, url, exc, delay)
                time.sleep(delay)
        log.error("gave up purging %s at %s after %d attempts", keys, url, self.attempts)

    def _send(self, url: str, keys: set[str], *, soft: bool) -> None:
        """One PURGE request to a Varnish edge, carrying the xkey header."""
        header = "xkey-softpurge" if soft else "xkey-purge"
        request = urllib.request.Request(
            url + "/", method="PURGE", headers={header: " ".join(sorted(keys))}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()


def client_from_settings(edge_urls: str) -> PurgeClient:
    """A client for the space-separated FANFARE_EDGE_URLS value."""
    return PurgeClient(edge_urls.split())


def init_app(app: Flask) -> None:
    """One purge client per process."""
    app.extensions[EXTENSION] = client_from_settings(app.config["EDGE_URLS"])


def purge(keys: Iterable[str], *, soft: bool = True) -> None:
    """Purge keys at every edge, from inside a request or CLI command."""
    current_app.extensions[EXTENSION].purge(keys, soft=soft)
