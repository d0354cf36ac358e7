"""Two edges, each with round-robin directors over two web processes: purges reach both edges,
votes pass through the director to ingest, and a dead web is routed around."""

from __future__ import annotations

import time

import psycopg
from edge_http import request

from fanfare.edge import keys
from fanfare.edge.purge import client_from_settings
from harness.process import free_port, wait_http
from harness.stack import Stack

PAGE = "/awards/breakthrough-artist"


def _get(port: int) -> tuple[int, str]:
    answer = request(f"http://127.0.0.1:{port}{PAGE}")
    return answer.status, answer.cache


def _vote(port: int, category: int, nominee: int) -> int:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "HX-Request": "true",
        "Sec-Fetch-Site": "same-origin",
    }
    body = f"category={category}&nominee={nominee}"
    return request(f"http://127.0.0.1:{port}/votes", "POST", headers=headers, body=body).status


def test_two_edges_two_webs(demo, redis_url, tmp_path):
    with psycopg.connect(demo) as conn:
        category, nominee = conn.execute(
            "SELECT c.id, n.id FROM categories c JOIN nominees n ON n.category_id = c.id"
            " WHERE c.slug = 'breakthrough-artist' LIMIT 1"
        ).fetchone()
    with Stack(run_dir=tmp_path / "fleet", database_url=demo, redis_url=redis_url) as stack:
        stack.ports.update(web2=free_port(), edge2=free_port())
        edges = [stack.ports["edge"], stack.ports["edge2"]]
        stack.env["FANFARE_EDGE_URLS"] = " ".join(f"http://127.0.0.1:{p}" for p in edges)
        stack.start("web", "ingest", timeout=90)
        stack.spawn("web2", ["bash", "-c", stack.commands["web"]],
                    env={"FANFARE_WEB_PORT": str(stack.ports["web2"])})  # fmt: skip
        wait_http(stack.url("web2") + "/healthz", timeout=90)
        webs = f"{stack.ports['web']},{stack.ports['web2']}"
        for name in ("edge", "edge2"):
            stack.spawn(name, ["scripts/edge.sh", str(stack.ports[name]), webs,
                               str(stack.ports["ingest"]), str(tmp_path / name)])  # fmt: skip
            wait_http(stack.url(name) + "/healthz", timeout=90)

        # Given the category page cached on both edges
        for port in edges:
            _get(port)
            assert _get(port) == (200, "HIT")
        # When the purge client of the settings (both edges) purges the category's key
        purger = client_from_settings({"EDGE_URLS": stack.env["FANFARE_EDGE_URLS"]})
        purger.purge([keys.category(category)], soft=False)
        assert purger.flush(timeout=10)
        # Then both edges fetch it anew
        assert [_get(port) for port in edges] == [(200, "MISS"), (200, "MISS")]
        assert all(count >= 1 for count in purger.purged.values()), purger.purged

        # Votes pass through the director to ingest, from either edge
        assert _vote(edges[1], category, nominee) == 202

        # A dead web is routed around once its probe fails: fresh pages still come back
        stack.kill("web")
        time.sleep(4)  # the probe: 1 s interval, 2 of 3 failing marks it sick
        purger.purge([keys.category(category)], soft=False)
        assert purger.flush(timeout=10)
        assert [_get(port) for port in edges] == [(200, "MISS"), (200, "MISS")]
