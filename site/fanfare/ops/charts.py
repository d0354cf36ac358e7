"""Small inline SVG charts, drawn on the server: a polyline per series, no script in the browser."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 240, 48


@dataclass(frozen=True)
class Sparkline:
    """What the template needs to draw one series and say what it shows."""

    points: str  # "x,y x,y ..." for <polyline points>
    threshold_y: float | None  # where the threshold line goes, if it is inside the chart
    low: float
    high: float
    seconds: float  # how much time the chart spans


def sparkline(
    samples: list[tuple[float, float]], *, threshold: float | None = None, now: float
) -> Sparkline | None:
    """Scale samples (unix time, value) to the chart box; None with fewer than two."""
    if len(samples) < 2:
        return None
    start = samples[0][0]
    span = max(now - start, 1.0)
    values = [value for _, value in samples]
    low = min(0.0, min(values))
    high = max(values + ([threshold] if threshold is not None else []))
    high = high if high > low else low + 1.0

    def y(value: float) -> float:
        return round(HEIGHT - (value - low) / (high - low) * HEIGHT, 1)

    points = " ".join(f"{round((at - start) / span * WIDTH, 1)},{y(v)}" for at, v in samples)
    line = y(threshold) if threshold is not None else None
    return Sparkline(points, line, low, max(values), span)
