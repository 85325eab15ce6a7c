"""Inline SVG step charts of probe timelines, as plain data (points computed here, the template only prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 320, 90
LEFT, RIGHT, TOP, BOTTOM = 28, 8, 8, 18
# At most this many time buckets per chart: a 20,000-point timeline becomes a few hundred points, peaks kept.
BUCKETS = 160


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    points: str  # the polyline's "x,y x,y ..." in SVG user units
    peak: str
    duration: str
    top: str  # the y axis's top value (shared by the charts of one probe, so heights compare)
    x0: int
    x1: int
    y0: int
    y1: int
    truncated: bool


def step_chart(timeline: Sequence[Sequence[float]], title: str, top: float, truncated: bool = False) -> Chart:
    """A step chart of (time, value) points: the value holds until the next point; 0 before the first."""
    points = sorted((float(t), float(v)) for t, v in timeline)
    end = max((t for t, _ in points), default=0.0) or 1e-9
    top = max(top, 1.0)
    steps = bucketed(points, end) if len(points) > BUCKETS * 2 else exact(points, end)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    coords = " ".join(
        f"{LEFT + t / end * plot_w:.1f},{TOP + plot_h - min(v, top) / top * plot_h:.1f}" for t, v in steps
    )
    peak = max((v for _, v in points), default=0.0)
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        points=coords,
        peak=f"{peak:g}",
        duration=f"{end:.3g} s",
        top=f"{top:g}",
        x0=LEFT,
        x1=WIDTH - RIGHT,
        y0=TOP,
        y1=HEIGHT - BOTTOM,
        truncated=truncated,
    )


def exact(points: list[tuple[float, float]], end: float) -> list[tuple[float, float]]:
    steps, value = [(0.0, 0.0)], 0.0
    for t, v in points:
        steps += [(t, value), (t, v)]
        value = v
    steps.append((end, value))
    return steps


def bucketed(points: list[tuple[float, float]], end: float) -> list[tuple[float, float]]:
    """The highest value reached in each time bucket, so that no peak disappears when points are merged."""
    highest: list[float | None] = [None] * BUCKETS
    value = 0.0
    index = 0
    for bucket in range(BUCKETS):
        limit = end * (bucket + 1) / BUCKETS
        top = value  # the value carried into this bucket counts too
        while index < len(points) and (points[index][0] <= limit or bucket == BUCKETS - 1):
            value = points[index][1]
            top = max(top, value)
            index += 1
        highest[bucket] = top
    steps = [(0.0, 0.0)]
    for bucket, reached in enumerate(highest):
        start = end * bucket / BUCKETS
        steps += [(start, steps[-1][1]), (start, reached or 0.0)]
    steps.append((end, steps[-1][1]))
    return steps
