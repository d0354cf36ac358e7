"""The new-voter budget: how many voters an IP and its subnet may mint per voting window.

Dropping the cookie mints a new voter, so the cookie alone bounds nothing. Each vote without a
known voter spends one unit of its IP's and its subnet's budget for the window; past either, or
while detection has flagged the IP or subnet (suspect keys), it gets a challenge instead. The
check runs inside the one enqueue script (votes/enqueue.lua), so it costs no round trip of its
own; this module spells its keys and arguments. Returning fans pass "known" and skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


def spent_key(window_id: int, kind: str, subject: str) -> str:
    """New voters minted in a window by one IP ('ip') or subnet ('subnet') hash."""
    return f"newvoters:{window_id}:{kind}:{subject}"


def suspect_key(kind: str, subject: str) -> str:
    """Present while detection has flagged this IP or subnet hash."""
    return f"suspect:{kind}:{subject}"


@dataclass(frozen=True, slots=True)
class Gate:
    """What enqueue.lua's fraud gate needs for one vote: its mode, its keys, its arguments."""

    mode: str  # known | new | solved
    keys: tuple[str, ...] = ()
    args: tuple[int, ...] = ()


KNOWN = Gate("known")


def new_voter(
    window_id: int, ip_hash: str, subnet_hash: str, *, per_ip: int, per_subnet: int, ttl: int
) -> Gate:
    """A vote without a known voter: queued only within both budgets and if not flagged."""
    keys = (
        spent_key(window_id, "ip", ip_hash),
        spent_key(window_id, "subnet", subnet_hash),
        suspect_key("ip", ip_hash),
        suspect_key("subnet", subnet_hash),
    )
    return Gate("new", keys, (per_ip, per_subnet, max(ttl, 1)))


def solved(used_key: str, ttl: int) -> Gate:
    """A vote with a solved challenge: queued once, its marker kept until it expires."""
    return Gate("solved", (used_key,), (max(ttl, 1),))


def mark_suspect(client: redis.Redis, kind: str, subjects: set[str], seconds: int) -> None:
    """Challenge every new voter from these IP or subnet hashes for a while (detection)."""
    if not subjects:
        return
    with client.pipeline(transaction=False) as pipe:
        for subject in subjects:
            pipe.set(suspect_key(kind, subject), "1", ex=seconds)
        pipe.execute()
