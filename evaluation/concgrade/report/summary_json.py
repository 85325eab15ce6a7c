"""The short JSON summary of a grade (`--summary-json`, and `evaluation/evaluation.py`'s evaluation/results.json):
the verdict, each implementation's test counts, line counts and structure, and the failing checks."""

from __future__ import annotations

import json
from typing import Any

from concgrade.results.model import Results

SUMMARY_KIND = "concgrade-evaluation-summary"
SUMMARY_VERSION = "1.0"
STRUCTURE_KEYS = ("lines", "logical_lines", "functions", "classes", "max_complexity", "max_nesting", "stdlib_only")


def summary_document(results: Results) -> dict[str, Any]:
    data = results.to_dict()
    implementations = {}
    for name, impl in results.implementations.items():
        metrics = impl.metrics or {}
        implementations[name] = {
            "role": impl.role,
            "tests": dict(impl.summary),
            "structure": {key: metrics.get(key) for key in STRUCTURE_KEYS},
            "constructs": dict(metrics.get("construct_counts") or {}),
        }
    return {
        "kind": SUMMARY_KIND,
        "schema_version": SUMMARY_VERSION,
        "run_id": results.run_id,
        "task": results.task.get("name"),
        "success": results.success,
        "verdict": results.verdict,
        "exit_code": results.exit_code,
        "implementations": implementations,
        "comparison": data.get("comparison", {}),
        "failing_checks": [
            {"id": check["id"], "message": check["message"]} for check in results.checks if check["status"] != "pass"
        ],
    }


def render_summary_json(results: Results) -> str:
    return json.dumps(summary_document(results), indent=2, default=str) + "\n"
