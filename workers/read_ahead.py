"""The next batch read and decoded in a thread while the writer stores the current one.

The writer is serial otherwise: Python waits while PostgreSQL works, then PostgreSQL idles while
Python parses XREADGROUP, decodes and judges. Reading (and judging, vote_store.BallotAhead) one
batch ahead overlaps the two (psycopg and redis-py release the GIL while they wait). Nothing
about exactly-once changes: an entry read ahead is pending for this consumer until the writer
acks it after COMMIT, like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from fanfare.votes.stream import DecodeError, Vote, decode
from workers.vote_store import Prepared

Entry = tuple[bytes, dict[bytes, bytes] | None]
Prepare = Callable[[list[Vote]], Prepared | None]


@dataclass
class Batch:
    """Stream entries as read, the votes decoded from them, and the undecodable ones."""

    entries: list[Entry]
    votes: list[tuple[bytes, dict, Vote]] = field(default_factory=list)
    dead: list[tuple[bytes, dict, str]] = field(default_factory=list)
    prepared: Prepared | None = None  # the votes judged ahead (vote_store.prepare), if they were


def decode_batch(entries: list[Entry], prepare: Prepare | None = None) -> Batch:
    """Decode every entry; an entry deleted while pending (no fields) has nothing to store."""
    batch = Batch(entries)
    for entry_id, fields in entries:
        if fields is None:
            continue
        try:
            batch.votes.append((entry_id, fields, decode(fields)))
        except DecodeError as exc:
            batch.dead.append((entry_id, fields, str(exc)))
    if prepare is not None:
        batch.prepared = prepare([vote for _, _, vote in batch.votes])
    return batch


class ReadAhead:
    """At most one batch read ahead, by one thread; judged there too when given `prepare`."""

    def __init__(self, read: Callable[[], list[Entry]], prepare: Prepare | None = None) -> None:
        self._read = read
        self._prepare = prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vote-read-ahead")
        self._next: Future[Batch] | None = None

    def start(self) -> None:
        """Read and decode the next batch in the background, unless a read is under way."""
        if self._next is None:
            self._next = self._pool.submit(lambda: decode_batch(self._read(), self._prepare))

    def take(self) -> Batch | None:
        """The batch read ahead, or None (none started, or it found nothing); raises its error."""
        future, self._next = self._next, None
        batch = future.result() if future is not None else None
        return batch if batch and batch.entries else None

    def discard(self) -> None:
        """Let a read under way finish and drop it: its entries stay pending, to be read again."""
        future, self._next = self._next, None
        if future is not None:
            wait([future])

    def close(self) -> None:
        self.discard()
        self._pool.shutdown()
