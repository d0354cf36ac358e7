"""Ops figures: thresholds at 70% of the measured capacity, colours, samples and charts."""

from __future__ import annotations

import json

import redis

from fanfare.ops import charts, figures

BENCH = {
    "drain_votes_per_s": 10_000.0,
    "ingest_votes_per_s_c50": 800.0,
    "scenarios": {"read_path": {"summary": {"pages": {"req_per_s": 20_000.0}}}},
}


def test_thresholds_are_70_percent_of_bench_unless_overridden(tmp_path):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(BENCH))
    limits = figures.thresholds(path, {"writer_lag": 2})
    assert limits["queue_depth"] == 7_000
    assert limits["accepted_per_s"] == 560
    assert limits["edge_requests_per_s"] == 14_000
    assert limits["writer_lag"] == 2.0  # the override
    assert limits["edge_hit_ratio"] == 0.9  # no bench figure: the fixed default
    assert "queue_depth" not in figures.thresholds(tmp_path / "missing.json", {})


def test_colours_say_which_side_of_the_threshold_a_figure_is():
    depth, ratio = figures.BY_NAME["queue_depth"], figures.BY_NAME["edge_hit_ratio"]
    assert figures.level(depth, 100, 7_000) == "ok"
    assert figures.level(depth, 7_000, 7_000) == "warn"
    assert figures.level(depth, 10_000, 7_000) == "bad"  # at the measured capacity
    assert figures.level(ratio, 0.8, 0.9) == "warn"  # low is bad for a hit ratio
    assert figures.level(ratio, 0.5, 0.9) == "bad"
    assert figures.level(ratio, 0.99, 0.9) == "ok"
    assert figures.level(depth, None, 7_000) == "none"


def test_samples_are_capped_and_read_back_oldest_first(redis_url):
    client = redis.Redis.from_url(redis_url)
    try:
        for second in range(figures.HISTORY + 10):
            figures.record(client, {"queue_depth": second}, at=1_000.0 + second)
        at, values = figures.latest(client)
        series = figures.history(client, ["queue_depth"])["queue_depth"]
    finally:
        client.close()
    assert at == 1_000.0 + figures.HISTORY + 9 and values == {"queue_depth": figures.HISTORY + 9}
    assert len(series) == figures.HISTORY
    assert series[0] == (1_010.0, 10.0) and series[-1][1] == figures.HISTORY + 9


def test_a_sparkline_fits_its_box_and_draws_the_threshold():
    line = charts.sparkline([(0.0, 0.0), (30.0, 50.0), (60.0, 100.0)], threshold=50.0, now=60.0)
    assert line is not None
    assert line.points == "0.0,48.0 120.0,24.0 240.0,0.0"
    assert line.threshold_y == 24.0 and line.high == 100.0 and line.seconds == 60.0
    assert charts.sparkline([(0.0, 1.0)], now=1.0) is None
