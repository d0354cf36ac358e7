"""Keyed hashes of a vote's review signals: IP, subnet, User-Agent. Never the raw values.

Each signal has its own key, derived from SECRET_KEY, so hashes join votes for review without
revealing anything, and a hash of one kind cannot be matched against another.
"""

from __future__ import annotations

import functools
import hashlib
import hmac


@functools.cache
def _key(secret_key: str, purpose: str) -> bytes:
    """The key for one kind of signal, derived once per secret rather than on every vote."""
    return hashlib.sha256(f"fanfare.{purpose}:".encode() + secret_key.encode()).digest()


# Cached: a spike repeats addresses and User-Agents (NAT, one phone model), and ingest's profile
# showed the HMAC per vote. Bounded, so a flood of unique values only evicts.
@functools.lru_cache(maxsize=65536)
def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA-256 of value under the purpose's key, as 32 hex digits."""
    return hmac.new(_key(secret_key, purpose), value.encode(), hashlib.sha256).hexdigest()[:32]


def ip_hash(secret_key: str, ip: str) -> str:
    """The client IP's hash."""
    return keyed_hash(secret_key, "ip-hash", ip)


def subnet_hash(secret_key: str, subnet: str) -> str:
    """The /24 or /64's hash."""
    return keyed_hash(secret_key, "subnet-hash", subnet)


def ua_hash(secret_key: str, user_agent: str) -> str:
    """The User-Agent's hash (the empty UA hashes too: bots often send none)."""
    return keyed_hash(secret_key, "ua-hash", user_agent[:512])  # a bounded cache key
