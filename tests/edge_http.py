"""A tiny HTTP client for edge tests: one request, the answer's status, headers and body; and
the demo's open vote that the vote tests post."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def cache(self) -> str:
        return self.headers.get("x-cache", "")


def request(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    source: str | None = None,
) -> Answer:
    """Send one request; `source` binds the client to another loopback address (ACL tests)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(
        parts.hostname,
        parts.port,
        timeout=15,
        source_address=(source, 0) if source else None,
    )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def fan_get(url: str) -> tuple[int, str, str]:
    """A fan's GET: no cookies; status, X-Cache and body."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["X-Cache"], response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["X-Cache"], exc.read().decode()


def purge(edge: str, keys: str, *, soft: bool = False, source: str | None = None) -> Answer:
    """PURGE by surrogate key, as fanfare.edge does."""
    header = "xkey-softpurge" if soft else "xkey-purge"
    return request(edge + "/", "PURGE", headers={header: keys}, source=source)


def wait_until(predicate, *, timeout: float, interval: float = 0.1):
    """Poll predicate until it returns something truthy; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def post_vote(base: str, form: dict, headers: dict | None = None) -> tuple[int, dict, str]:
    """POST /votes without following redirects; (status, headers, body)."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/votes",
            body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def open_vote(database_url: str) -> dict:
    """A vote for the first nominee of the demo's open category, as form fields."""
    with psycopg.connect(database_url) as conn:
        category, nominee = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' ORDER BY n.position LIMIT 1"
        ).fetchone()
    return {"category": category, "nominee": nominee}
