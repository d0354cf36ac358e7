"""/admin/ops: the event as it happens, for signed-in editors; figures refresh every 2 s.

The figures come from the samples the exporter writes to Redis once a second
(fanfare.ops.figures); this page only reads and draws them. The live block has a URL of its own
(/admin/ops/figures) that htmx polls; without JS the Refresh button reloads the page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, render_template

from fanfare.infra import redis_client
from fanfare.ops import charts, figures
from fanfare.web.admin.base import bp

POLL_SECONDS = 2


@dataclass(frozen=True)
class Shown:
    """One figure as the page shows it."""

    figure: figures.Figure
    value: float | None
    text: str
    threshold: float | None
    level: str
    chart: charts.Sparkline | None


def display(value: float | None, unit: str) -> str:
    """A figure's value, with as many digits as it needs."""
    if value is None:
        return "–"
    if unit == "" and 0 < abs(value) < 1:  # ratios
        return f"{value:.1%}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def _figures() -> tuple[list[Shown], float | None]:
    """Every figure with its latest value, threshold, colour and chart; and when it was sampled."""
    client = redis_client.client()
    at, values = figures.latest(client)
    series = figures.history(client, [f.name for f in figures.FIGURES])
    limits = figures.thresholds(
        current_app.config["OPS_CAPACITY_FILE"], current_app.config["OPS_THRESHOLDS"] or {}
    )
    now = time.time()
    shown = []
    for figure in figures.FIGURES:
        value, limit = values.get(figure.name), limits.get(figure.name)
        shown.append(
            Shown(
                figure=figure,
                value=value,
                text=display(value, figure.unit),
                threshold=limit,
                level=figures.level(figure, value, limit),
                chart=charts.sparkline(series[figure.name], threshold=limit, now=now),
            )
        )
    return shown, at


def _context() -> dict:
    shown, at = _figures()
    age = None if at is None else max(0.0, time.time() - at)
    return {
        "shown": shown,
        "age": age,
        "stale": age is None or age > figures.STALE_SECONDS,
        "poll_seconds": POLL_SECONDS,
        "display": display,
    }


@bp.get("/ops")
def ops() -> str:
    """The ops page: live figures, their charts, and a Refresh button that needs no JS."""
    return render_template("admin/ops.html", **_context())


@bp.get("/ops/figures")
def ops_figures() -> str:
    """The live block alone, for htmx to poll."""
    return render_template("admin/ops_figures.html", **_context())
