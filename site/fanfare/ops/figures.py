"""The ops page's figures: what each means, its threshold, and its recent samples in Redis.

The exporter writes one sample per figure per second (a capped list per series, plus the latest
values in a hash); the ops page only reads them. A threshold defaults to 70% of the capacity
`make bench` measured (bench/results/latest.json) and can be overridden by OPS_THRESHOLDS.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import redis

SHARE_OF_CAPACITY = 0.7
HISTORY = 300  # samples kept per series: five minutes at one a second
LATEST_KEY = "ops:latest"
SERIES_KEY = "ops:series:{name}"
STALE_SECONDS = 5.0  # older than this, the exporter is not running


@dataclass(frozen=True)
class Figure:
    """One figure: how to show it and which way is bad."""

    name: str
    label: str
    unit: str
    high_is_bad: bool = True
    # (bench result key, multiplier): threshold = key's value x multiplier x 70%
    capacity: tuple[str, float] | None = None
    fixed: float | None = None  # a threshold with no bench figure behind it


FIGURES: tuple[Figure, ...] = (
    Figure("queue_depth", "Queue depth", "votes", capacity=("drain_votes_per_s", 1.0)),
    Figure("writer_lag", "Writer lag", "s", fixed=5.0),
    Figure("writers", "Writers running", "", high_is_bad=False, fixed=1.0),
    Figure("accepted_per_s", "Votes accepted", "/s", capacity=("ingest_votes_per_s_c50", 1.0)),
    Figure("refused_per_s", "Votes refused", "/s", fixed=50.0),
    Figure("shed_per_s", "Votes shed (overload)", "/s", fixed=1.0),
    Figure("stored_per_s", "Votes stored", "/s", capacity=("drain_votes_per_s", 1.0)),
    Figure("batch_seconds", "Write latency per batch", "s", fixed=0.25),
    Figure("dead_letters", "Dead letters", "", fixed=1.0),
    Figure("errors_per_s", "Server errors (5xx)", "/s", fixed=1.0),
    Figure(
        "edge_requests_per_s", "Edge requests", "/s", capacity=("read_path_pages_req_per_s", 1.0)
    ),
    Figure("edge_hit_ratio", "Edge hit ratio", "", high_is_bad=False, fixed=0.9),
    Figure("backend_fetches_per_s", "Edge backend fetches", "/s", fixed=500.0),
    Figure("db_waiting", "PostgreSQL pool: requests waiting", "", fixed=1.0),
    Figure("redis_in_use", "Redis pool: connections in use", "", fixed=100.0),
)
BY_NAME = {figure.name: figure for figure in FIGURES}


def bench_capacity(path: str | Path) -> dict[str, float]:
    """The figures `make bench` measured, flattened to the keys figures name; {} if none."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    found = {k: float(v) for k, v in report.items() if isinstance(v, int | float)}
    pages = report.get("scenarios", {}).get("read_path", {}).get("summary", {}).get("pages", {})
    if "req_per_s" in pages:
        found["read_path_pages_req_per_s"] = float(pages["req_per_s"])
    return found


def thresholds(capacity_file: str | Path, overrides: Mapping[str, object]) -> dict[str, float]:
    """Each figure's threshold: the override, else 70% of measured capacity, else the fixed one."""
    measured = bench_capacity(capacity_file)
    result: dict[str, float] = {}
    for figure in FIGURES:
        if figure.name in overrides:
            result[figure.name] = float(overrides[figure.name])  # type: ignore[arg-type]
        elif figure.capacity and figure.capacity[0] in measured:
            key, multiplier = figure.capacity
            result[figure.name] = measured[key] * multiplier * SHARE_OF_CAPACITY
        elif figure.fixed is not None:
            result[figure.name] = figure.fixed
    return result


def level(figure: Figure, value: float | None, threshold: float | None) -> str:
    """ok, warn (past the threshold) or bad (past the measured capacity); none if unknown."""
    if value is None or threshold is None or math.isnan(value):
        return "none"
    full = threshold / SHARE_OF_CAPACITY
    if not figure.high_is_bad:  # e.g. writers running, hit ratio
        return (
            "bad"
            if value < threshold * SHARE_OF_CAPACITY
            else "warn"
            if value < threshold
            else "ok"
        )
    if figure.capacity and value >= full:
        return "bad"
    return "warn" if value >= threshold else "ok"


def record(client: redis.Redis, values: Mapping[str, float], *, at: float | None = None) -> None:
    """One sample of every figure: pushed onto its capped series, and kept as the latest."""
    at = time.time() if at is None else at
    pipe = client.pipeline(transaction=True)
    pipe.hset(LATEST_KEY, mapping={"at": at, **{k: v for k, v in values.items()}})
    for name, value in values.items():
        key = SERIES_KEY.format(name=name)
        pipe.lpush(key, f"{at:.3f} {value}")
        pipe.ltrim(key, 0, HISTORY - 1)
    pipe.execute()


def latest(client: redis.Redis) -> tuple[float | None, dict[str, float]]:
    """When the exporter last sampled (unix time), and the values it found."""
    raw = {k.decode(): float(v) for k, v in client.hgetall(LATEST_KEY).items()}
    return raw.pop("at", None), raw


def history(client: redis.Redis, names: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Each series' samples, oldest first, as (unix time, value)."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.lrange(SERIES_KEY.format(name=name), 0, HISTORY - 1)
    series = {}
    for name, items in zip(names, pipe.execute(), strict=True):
        points = [tuple(float(x) for x in item.split()) for item in reversed(items)]
        series[name] = [(at, value) for at, value in points]
    return series
