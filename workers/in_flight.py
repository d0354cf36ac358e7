"""Batches stored and acked in threads, each with a PostgreSQL connection of its own, a few at once.

One connection is one PostgreSQL backend, so at most one core: the writer's batches waited on that
one backend while the other cores idled. With two batches in flight the next batch's COPY and
INSERT run while the one before finishes and commits. Batches that touch the same rows (tallies,
a voter's usage, a vote delivered twice) queue on row locks, which every batch takes in the same
order (votes, voter_usage, tallies, each sorted: votes.sql store_staged), so two batches never
deadlock, as two writers never do. Each batch is acked after its own COMMIT; one that fails stays
pending and is redone after the writer's reset, whatever the batches beside it did (the primary
key absorbs what was stored already, and the quota is charged once, by the batch that stored).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("fanfare.vote_writer")

DEPTH = 2


class InFlight:
    """Up to `depth` pieces of work under way, each in a thread of its own, oldest first."""

    def __init__(self, depth: int = DEPTH) -> None:
        self.depth = max(1, depth)
        self._pool = ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix="vote-store")
        self._running: deque[Future[None]] = deque()

    def submit(self, work: Callable[[], None]) -> None:
        """Start work; when `depth` are under way, first wait for the oldest. Raises the error of
        a finished one (the rest go on; wait() or discard() before anything else is done)."""
        while self._running and (len(self._running) >= self.depth or self._running[0].done()):
            self._running.popleft().result()
        self._running.append(self._pool.submit(work))

    def wait(self) -> None:
        """Wait for all work under way; raise the first error among it."""
        first: BaseException | None = None
        while self._running:
            try:
                self._running.popleft().result()
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first

    def discard(self) -> None:
        """Wait for all work under way and drop its errors (after a failure: all is redone)."""
        try:
            self.wait()
        except Exception as exc:
            log.warning("a batch in flight failed too: %s", exc.__class__.__name__)

    def close(self) -> None:
        self.discard()
        self._pool.shutdown()
