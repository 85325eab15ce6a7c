"""Writes results.json: the results model as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from concgrade.results.model import Results


def render_json(results: Results) -> str:
    return json.dumps(results.to_dict(), indent=2, sort_keys=False, default=str) + "\n"


def write_results_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(results), encoding="utf-8")
