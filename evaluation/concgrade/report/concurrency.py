"""The report's concurrency view: per test and probe, each implementation's figures and a timeline chart (pure)."""

from __future__ import annotations

from typing import Any

from concgrade.results import Results

CHART_WIDTH, CHART_HEIGHT = 220, 56
# Figures shown for a probe, in this order, when the probe has them.
SHOWN = (
    ("max_active", "at once"),
    ("calls", "calls"),
    ("live_threads_at_peak", "threads at peak"),
    ("max_pending", "pending at peak"),
    ("max_live_tasks", "live tasks"),
    ("max_processes", "live processes"),
    ("worker_pids", "worker processes"),
    ("processes_alive_at_end", "left running"),
)
SUITE_ORDER = {"FAIL_TO_PASS": 0, "PASS_TO_PASS": 1}


def concurrency_rows(results: Results) -> list[dict[str, Any]]:
    """One row per (test, probe): FAIL_TO_PASS tests first; each implementation's strongest evidence."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name, impl in results.implementations.items():
        for test in impl.tests:
            for figures in test.probes:
                key = (test.nodeid, f"{figures.get('label', '?')} · {figures.get('kind', '?')}")
                row = rows.setdefault(key, {"nodeid": test.nodeid, "suite": test.suite, "probe": key[1], "cells": {}})
                current = row["cells"].get(name)
                # Across repeats, show the repeat with the highest peak: that is the evidence.
                if current is None or figures.get("max_active", 0) > current["figures"].get("max_active", 0):
                    row["cells"][name] = probe_cell(figures)
    return sorted(rows.values(), key=lambda row: (SUITE_ORDER.get(row["suite"], 2), row["nodeid"], row["probe"]))


def probe_cell(figures: dict[str, Any]) -> dict[str, Any]:
    shown = [(label, figures[key]) for key, label in SHOWN if figures.get(key) is not None]
    timeline = figures.get("timeline") or []
    processes = figures.get("process_timeline") or []
    end = max([point[0] for point in (timeline[-1:] + processes[-1:])] or [0.0])
    peak = max([int(point[1]) for point in timeline + processes] or [1])
    return {
        "figures": figures,
        "shown": shown,
        "error": figures.get("error"),
        "repeat": figures.get("repeat"),
        "chart": step_chart(timeline, end=end, peak=peak),
        "process_chart": step_chart(processes, end=end, peak=peak),
        "duration": end,
    }


def step_chart(
    timeline: list[Any],
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    end: float | None = None,
    peak: int | None = None,
) -> dict[str, Any] | None:
    """SVG polyline points of a step chart of (seconds, count) pairs, scaled to the box (or to a shared end and peak)."""
    if not timeline:
        return None
    end = max(float(end if end is not None else timeline[-1][0]), 1e-9)
    peak = max(peak if peak is not None else max(int(active) for _, active in timeline), 1)
    points = [(0.0, height)]
    last_y = float(height)
    for time_s, active in timeline:
        x = round(float(time_s) / end * width, 1)
        y = round(height - int(active) / peak * (height - 4), 1)
        points += [(x, last_y), (x, y)]
        last_y = y
    points.append((float(width), last_y))
    return {"points": " ".join(f"{x},{y}" for x, y in points), "peak": peak, "width": width, "height": height}
