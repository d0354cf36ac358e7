"""The new-voter budget: how many voters an IP and its subnet may mint per voting window.

Dropping the cookie mints a new voter, so the cookie alone bounds nothing. Each vote without a
known voter spends one unit of its IP's and its subnet's budget for the window; past either, or
while the IP or subnet is flagged by detection (suspect keys), it gets a challenge instead.
Only cookieless votes run this script: returning fans never pay for it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from fanfare.infra.gather import Gatherer


def spent_key(window_id: int, kind: str, subject: str) -> str:
    """New voters minted in a window by one IP ('ip') or subnet ('subnet') hash."""
    return f"newvoters:{window_id}:{kind}:{subject}"


def suspect_key(kind: str, subject: str) -> str:
    """Present while detection has flagged this IP or subnet hash."""
    return f"suspect:{kind}:{subject}"


# KEYS: ip spent, subnet spent, ip suspect, subnet suspect. ARGV: ip budget, subnet budget, ttl.
# Returns 1 when the budget had room (and spends it), 0 for a challenge. Nothing is spent on a
# challenge, so a shared NAT's challenged fans do not starve the budget of the next window.
SPEND_LUA = """#!lua
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then
  return 0
end
local ip = tonumber(redis.call('GET', KEYS[1]) or '0')
local net = tonumber(redis.call('GET', KEYS[2]) or '0')
if ip >= tonumber(ARGV[1]) or net >= tonumber(ARGV[2]) then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""


class NewVoterBudget:
    """Spends new-voter budget through the process's Gatherer (one shared flush)."""

    def __init__(self, gatherer: Gatherer, *, per_ip: int, per_subnet: int) -> None:
        self.gatherer = gatherer
        self.per_ip = per_ip
        self.per_subnet = per_subnet
        self.sha = gatherer.script(SPEND_LUA, hashlib.sha1(SPEND_LUA.encode()).hexdigest())

    def spend(self, window_id: int, ip_hash: str, subnet_hash: str, ttl: int) -> bool:
        """True if this new voter fits the budget (now spent); False: challenge it."""
        keys = (
            spent_key(window_id, "ip", ip_hash),
            spent_key(window_id, "subnet", subnet_hash),
            suspect_key("ip", ip_hash),
            suspect_key("subnet", subnet_hash),
        )
        reply = self.gatherer.call(
            "EVALSHA", self.sha, 4, *keys, self.per_ip, self.per_subnet, max(ttl, 1)
        )
        return bool(reply)


def mark_suspect(client: redis.Redis, kind: str, subjects: set[str], seconds: int) -> None:
    """Challenge every new voter from these IP or subnet hashes for a while (detection)."""
    if not subjects:
        return
    with client.pipeline(transaction=False) as pipe:
        for subject in subjects:
            pipe.set(suspect_key(kind, subject), "1", ex=seconds)
        pipe.execute()
