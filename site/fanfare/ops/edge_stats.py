"""The edge's counters from `varnishstat -j`: client requests, hits, misses, backend fetches."""

from __future__ import annotations

import json
import subprocess

# varnishstat field -> our name. A hit-for-pass or a pass is neither a hit nor a miss.
FIELDS = {
    "MAIN.client_req": "requests",
    "MAIN.cache_hit": "hits",
    "MAIN.cache_hit_grace": "grace_hits",
    "MAIN.cache_miss": "misses",
    "MAIN.backend_req": "backend_fetches",
    "MAIN.backend_fail": "backend_failures",
}


class EdgeStatsError(RuntimeError):
    """varnishstat did not answer (the edge is not running, or not here)."""


def read(varnish_dir: str, *, timeout: float = 5.0) -> dict[str, int]:
    """The edge's counters since it started, by our names."""
    try:
        done = subprocess.run(
            ["varnishstat", "-j", "-n", varnish_dir, "-t", "1"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        report = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        raise EdgeStatsError(f"varnishstat -n {varnish_dir}: {exc}") from exc
    # Varnish 6.5+ nests the counters under "counters"; older ones list them at the top.
    counters = report.get("counters", report)
    return {
        ours: int(counters[field]["value"]) for field, ours in FIELDS.items() if field in counters
    }
