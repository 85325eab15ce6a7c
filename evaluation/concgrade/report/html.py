"""Renders report.html: one self-contained page (inline CSS and SVG, no external assets) from the results model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from concgrade.report.concurrency import concurrency_rows
from concgrade.results import Results

TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def matrix_rows(results: Results) -> list[dict[str, Any]]:
    """One row per test: its suite, and per implementation the outcome and peak probe figures."""
    rows: dict[str, dict[str, Any]] = {}
    for name, impl in results.implementations.items():
        for test in impl.tests:
            row = rows.setdefault(test.nodeid, {"nodeid": test.nodeid, "suite": test.suite, "cells": {}})
            row["suite"] = row["suite"] or test.suite
            peak = max((p.get("max_active", 0) for p in test.probes), default=None)
            row["cells"][name] = {
                "outcome": test.outcome,
                "passed": test.passed,
                "duration": test.duration,
                "message": test.message,
                "peak": peak,
                "probes": test.probes,
            }
    order = {"FAIL_TO_PASS": 0, "PASS_TO_PASS": 1, None: 2}
    return sorted(rows.values(), key=lambda row: (order.get(row["suite"], 2), row["nodeid"]))


def render_html(results: Results) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        results=results,
        names=list(results.implementations),
        rows=matrix_rows(results),
        failing=[check for check in results.checks if check["status"] != "pass"],
        concurrency=concurrency_rows(results),
    )


def write_html(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results), encoding="utf-8")
