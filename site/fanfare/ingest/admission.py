"""Admission control: a worker takes a vote only if it can answer it within its budget.

Little's law: votes in flight = answers per second x seconds each waits. So a worker that
answers R votes a second answers N in flight within the budget B while N <= R x B. R is the
best rate this worker has managed lately (it decays, so a slower machine is learnt too), never
below a floor that lets a cold worker take a spike's first second. Past the cap, a vote is
refused at once with a jittered Retry-After, before anything is queued.
"""

from __future__ import annotations

import random
import threading
import time

from fanfare.infra import metrics

# How fast the remembered best rate fades per second: a minute to forget most of a peak.
DECAY_PER_SECOND = 0.95
# Seconds a shed fan waits before the client resends, before jitter; jitter spreads the resends.
RETRY_AFTER_BASE = 2
RETRY_AFTER_JITTER = 3


class Admission:
    """Counts this worker's votes in flight and decides whether one more fits the budget."""

    def __init__(
        self, *, budget_seconds: float, min_in_flight: int, stats: dict[str, int] | None = None
    ) -> None:
        self.budget_seconds = budget_seconds
        self.min_in_flight = min_in_flight
        self.in_flight = 0
        # Counters for /metrics: votes refused at the door because the worker was past budget.
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("votes_shed", 0)
        self._best_rate = 0.0
        self._answered_this_second = 0
        self._second = int(time.monotonic())
        self._lock = threading.Lock()  # votes are greenlets in production, threads in tests

    @property
    def cap(self) -> int:
        """Votes this worker may hold in flight and still answer each within the budget."""
        return max(self.min_in_flight, int(self._best_rate * self.budget_seconds))

    def enter(self) -> bool:
        """Admit one vote (the caller must leave()), or count it as shed and say no."""
        with self._lock:
            if self.in_flight >= self.cap:
                self.stats["votes_shed"] += 1
                return False
            self.in_flight += 1
            return True

    def leave(self) -> None:
        """One admitted vote has its answer: count it towards the rate."""
        with self._lock:
            self.in_flight -= 1
            second = int(time.monotonic())
            if second != self._second:
                faded = self._best_rate * DECAY_PER_SECOND ** (second - self._second)
                self._best_rate = max(faded, float(self._answered_this_second))
                self._answered_this_second = 0
                self._second = second
            self._answered_this_second += 1


def retry_after() -> int:
    """A few seconds, jittered, so shed fans do not all come back in the same instant."""
    return RETRY_AFTER_BASE + random.randint(0, RETRY_AFTER_JITTER)


class ShedBeforeFlask:
    """WSGI middleware: counts POST /votes in flight and answers htmx votes past the cap itself.

    Shedding must cost far less than serving, or a shed spike still starves the admitted votes:
    measured at 1,000 connections, a 503 rendered inside Flask cost nearly a vote's CPU. Past
    the cap an htmx vote gets a 503 prepared once (same fragment and headers Flask would send);
    a plain form post goes on into Flask marked as shed, to get the page with its form again.
    Either way the connection is closed after the answer (close_connection).
    """

    SHED = "fanfare.shed"

    def __init__(self, wsgi_app, gate: Admission, busy: tuple[bytes, list[tuple[str, str]]]):
        self.wsgi_app = wsgi_app
        self.gate = gate
        self.body, self.headers = busy

    def __call__(self, environ, start_response):
        """Admit or shed votes; everything else passes straight through."""
        if environ.get("PATH_INFO") != "/votes" or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        if not self.gate.enter():
            close_connection(start_response)
            if environ.get("HTTP_HX_REQUEST") == "true":
                metrics.vote_shed()  # Flask's metrics hook never sees this answer
                headers = [*self.headers, ("Retry-After", str(retry_after()))]
                start_response("503 SERVICE UNAVAILABLE", headers)
                return [self.body]
            environ[self.SHED] = True
            return self.wsgi_app(environ, start_response)
        try:
            return self.wsgi_app(environ, start_response)  # Flask's answer is built by now
        finally:
            self.gate.leave()


def close_connection(start_response) -> None:
    """Have gunicorn close this connection once the answer is sent, so a shed client reconnects.

    A keep-alive flood of cheap 503s never yields the gevent loop: the next request is already
    in the socket when the answer is written, so one greenlet serves its connection over and
    over while the admitted votes (and the Redis flusher) wait. Measured at 300 keep-alive
    connections on one worker: a trip round the loop took about 300 ms, and admitted votes 1-3 s.
    Closing makes each shed client go back through accept(), one greenlet per connection.
    An app's own `Connection: close` header cannot do it: PEP 3333 forbids hop-by-hop headers
    and gunicorn drops them, so the handle is gunicorn's Response, whose bound method
    start_response is. Elsewhere (the test client) there is no connection to close.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()
