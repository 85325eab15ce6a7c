"""Renders the dataset's index.html: one self-contained page, one row per task, filterable, from the aggregate."""

from __future__ import annotations

from typing import Any

from concgrade.report.html import _environment

VERDICTS = ("error", "rejected", "accepted", "skipped")


def task_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The view model of the table: what each row shows, already decided (the template only prints)."""
    rows = []
    for task in document["tasks"]:
        info = task.get("task") or {}
        source = info.get("toggle_source") or {}
        instances = task.get("instances") or {}
        rows.append(
            {
                "label": task["label"],
                "verdict": task["verdict"],
                "failing": task["failing_checks"],
                "error": task.get("error"),
                "duration": task.get("duration_seconds", 0.0),
                "runs": (task.get("timings") or {}).get("runs"),
                "toggle": (info.get("toggle") or {}).get("kind", ""),
                "toggle_origin": source.get("origin", ""),
                "toggle_evidence": source.get("evidence", []),
                "suites_source": info.get("suites_source") or "",
                "instances_status": instances.get("status"),
                "findings": [f for f in instances.get("findings", []) if f.get("severity") != "info"],
                "resolution": (task.get("resolution") or {}).get("status"),
                "cached": task.get("cached", False),
                "report": task.get("report"),
                "search": " ".join(
                    [
                        task["label"],
                        task["verdict"],
                        *(f"{c['id']} {c['message']}" for c in task["failing_checks"]),
                        task.get("error") or "",
                    ]
                ).lower(),
            }
        )
    return rows


def render_dataset_html(document: dict[str, Any]) -> str:
    template = _environment().get_template("dataset.html.j2")
    return template.render(doc=document, rows=task_rows(document), verdicts=VERDICTS)
