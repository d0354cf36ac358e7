"""The cache policy the edge obeys: no cached copy, fresh or stale, outlives a state change."""

from __future__ import annotations

import re

import psycopg

from fanfare.http.cache_policy import FAN_PAGE, cacheable


def directives(cache_control: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", cache_control)}


def policy_for(app, expires_in: float | None) -> dict[str, int]:
    with app.test_request_context("/"):
        response = cacheable(app.make_response("page"), FAN_PAGE, ["home"], expires_in=expires_in)
        return directives(response.headers["Cache-Control"])


def test_far_transitions_leave_the_policy_alone(app):
    assert (
        policy_for(app, None)
        == policy_for(app, 10_000)
        == {
            "max-age": 30,
            "s-maxage": 300,
            "stale-while-revalidate": 60,
            "stale-if-error": 86400,
        }
    )


def test_stale_while_revalidate_also_ends_by_the_transition(app):
    near = policy_for(app, 330)
    assert near["s-maxage"] == 300 and near["stale-while-revalidate"] == 30
    nearer = policy_for(app, 5)
    assert nearer["s-maxage"] == 5 and nearer["max-age"] == 5
    assert nearer["stale-while-revalidate"] == 0
    # Serving stale when the origin is down is still allowed: errors beat an empty page.
    assert nearer["stale-if-error"] == 86400


def test_history_is_capped_by_the_next_close(client, demo):
    with psycopg.connect(demo) as conn:
        conn.execute(
            "UPDATE voting_windows SET closes_at = now() + interval '7 seconds'"
            " WHERE category_id = (SELECT id FROM categories WHERE slug = 'song-of-the-year')"
        )
    cache_control = directives(client.get("/history").headers["Cache-Control"])
    assert cache_control["s-maxage"] <= 7 and cache_control["stale-while-revalidate"] == 0
