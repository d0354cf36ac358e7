"""What every worker process shares: logging, backoff with jitter, and warm-then-cold stops."""

from __future__ import annotations

import logging
import random
import signal
from typing import Protocol

log = logging.getLogger("fanfare.workers")


class Stoppable(Protocol):
    """A worker loop that checks `stopping` between rounds."""

    stopping: bool


class Backoff:
    """Exponential backoff with jitter, so a fleet of workers does not reconnect in lockstep."""

    def __init__(self, *, base: float = 0.2, cap: float = 10.0) -> None:
        self.base, self.cap, self.attempt = base, cap, 0

    def next(self) -> float:
        """The next delay in seconds: doubling up to the cap, times 0.5-1.5."""
        delay = min(self.cap, self.base * 2**self.attempt) * random.uniform(0.5, 1.5)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """After a success: start again from the base delay."""
        self.attempt = 0


def setup_logging() -> None:
    """One line per record, with the time and the logger's name."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


def stop_on_signals(worker: Stoppable) -> None:
    """SIGTERM or SIGINT: the first finishes the round in hand (warm), the second exits (cold)."""

    def stop(signum: int, frame: object) -> None:
        if worker.stopping:
            log.warning("second signal: stopping now; unfinished work will be redone")
            raise SystemExit(1)
        log.info("stopping after the round in hand")
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
