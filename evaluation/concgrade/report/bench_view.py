"""The view model of the report's benchmark section: the figures as rows, and the charts' geometry for inline SVG.

The template only loops and prints; every coordinate is computed here from `results.bench`.
"""

from __future__ import annotations

import math
from typing import Any

from concgrade.results.model import Results

CHART_WIDTH, LABEL_WIDTH, ROW_HEIGHT = 640, 90, 26
TIMELINE_WIDTH, TIMELINE_HEIGHT = 640, 70


def bench_view(results: Results) -> dict[str, Any] | None:
    bench = getattr(results, "bench", None)
    if bench is None:
        return None
    return {
        "requested_by": bench.requested_by,
        "cache": bench.cache,
        "seconds": bench.seconds,
        "notes": bench.notes,
        "workloads": [workload_view(workload) for workload in bench.workloads],
    }


def workload_view(workload: Any) -> dict[str, Any]:
    impls = list(workload.implementations.values())
    return {
        "name": workload.name,
        "description": workload.description,
        "callable": workload.callable,
        "params": workload.params,
        "ideal": workload.ideal,
        "ideal_seconds": workload.ideal_seconds,
        "repeats": workload.repeats,
        "warmup": workload.warmup,
        "warmup_params": workload.warmup_params,
        "min_speedup": workload.min_speedup,
        "margin": workload.margin,
        "rows": [row(impl) for impl in impls],
        "comparisons": workload.comparisons,
        "chart": times_chart(impls, workload.ideal_seconds),
        "timelines": [timeline_chart(impl) for impl in impls if impl.concurrency and impl.concurrency["timeline"]],
    }


def row(impl: Any) -> dict[str, Any]:
    summary = impl.summary or {}
    concurrency = impl.concurrency or {}
    return {
        "name": impl.name,
        "status": impl.status,
        "error": impl.error,
        "median": _seconds(summary.get("median")),
        "iqr": f"{_seconds(summary['q1'])} – {_seconds(summary['q3'])}" if summary else "",
        "range": f"{_seconds(summary['min'])} – {_seconds(summary['max'])}" if summary else "",
        "n": summary.get("n", len(impl.samples)),
        "efficiency": f"{impl.efficiency:.2f}" if impl.efficiency is not None else "",
        "peak_memory": f"{impl.peak_rss_bytes / 2**20:.1f} MiB" if impl.peak_rss_bytes else "",
        "max_active": concurrency.get("max_active", ""),
        "cached": impl.cached_at if impl.cached else "",
    }


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def times_chart(impls: list[Any], ideal: float | None) -> dict[str, Any] | None:
    """Each implementation's repeats on a log time axis: the IQR box, the median, the range and every repeat."""
    timed = [impl for impl in impls if impl.samples]
    values = [s for impl in timed for s in impl.samples] + ([ideal] if ideal else [])
    if not timed or min(values) <= 0:
        return None
    low, high = math.log10(min(values)) - 0.15, math.log10(max(values)) + 0.15
    span = max(high - low, 1e-9)

    def x(seconds: float) -> float:
        return round(LABEL_WIDTH + (math.log10(seconds) - low) / span * (CHART_WIDTH - LABEL_WIDTH - 10), 1)

    rows = []
    for index, impl in enumerate(timed):
        y = 10 + index * ROW_HEIGHT
        s = impl.summary
        rows.append(
            {
                "name": impl.name,
                "y": y,
                "mid": y + ROW_HEIGHT / 2 - 3,
                "box": {"x": x(s["q1"]), "width": max(1.0, round(x(s["q3"]) - x(s["q1"]), 1))} if s else None,
                "median": x(s["median"]) if s else None,
                "range": (x(s["min"]), x(s["max"])) if s else None,
                "dots": [x(v) for v in impl.samples],
            }
        )
    height = 10 + len(timed) * ROW_HEIGHT + 24
    ticks = []
    for power in range(math.floor(low), math.ceil(high) + 1):
        for factor in (1, 2, 5):
            value = factor * 10.0**power
            if low <= math.log10(value) <= high:
                ticks.append({"x": x(value), "label": _seconds(value), "major": factor == 1})
    return {
        "width": CHART_WIDTH,
        "height": height,
        "axis_y": height - 22,
        "rows": rows,
        "ticks": ticks,
        "ideal": x(ideal) if ideal else None,
    }


def timeline_chart(impl: Any) -> dict[str, Any]:
    """Active calls over the median repeat, as a step line (its own time axis: implementations differ by 50x)."""
    profile = impl.concurrency
    points = profile["timeline"]
    end = max(points[-1][0], 1e-9)
    peak = max(1, max(active for _, active in points))
    inner = TIMELINE_HEIGHT - 16

    def x(t: float) -> float:
        return round(LABEL_WIDTH + t / end * (TIMELINE_WIDTH - LABEL_WIDTH - 10), 1)

    def y(active: int) -> float:
        return round(4 + inner - active / peak * inner, 1)

    path, previous = [f"M{LABEL_WIDTH},{y(0)}"], 0
    for t, active in points:
        path.append(f"L{x(t)},{y(previous)}L{x(t)},{y(active)}")
        previous = active
    return {
        "name": impl.name,
        "label": profile.get("label"),
        "max_active": profile.get("max_active"),
        "calls": profile.get("calls"),
        "duration": _seconds(end),
        "width": TIMELINE_WIDTH,
        "height": TIMELINE_HEIGHT,
        "path": "".join(path),
        "peak_y": y(peak),
        "zero_y": y(0),
        "peak": peak,
    }
