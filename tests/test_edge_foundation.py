"""Through a real Varnish in front of a real gunicorn: the second GET is a HIT."""

from __future__ import annotations

import urllib.request


def get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        return response.status, dict(response.headers)


def test_second_get_through_the_edge_is_a_hit(make_stack, demo, redis_url):
    stack = make_stack(demo, redis_url, "web", "edge")
    status, first = get(stack.url() + "/")
    assert status == 200 and first["X-Cache"] == "MISS"
    status, second = get(stack.url() + "/")
    assert status == 200 and second["X-Cache"] == "HIT"
    assert "xkey" not in {k.lower() for k in second}
    assert "Set-Cookie" not in second
