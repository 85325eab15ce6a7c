"""Renders the dataset's index.html: one self-contained page, one row per task (or prediction), filterable.

A dataset's page speaks of tasks and their verdicts; a predictions page of predictions and their statuses in
SWE-bench's words (resolved, partial, unresolved, error): one vocabulary per page.
"""

from __future__ import annotations

from typing import Any

from concgrade.report.html import _environment

VERDICTS = ("error", "rejected", "accepted", "skipped")
STATUSES = ("resolved", "partial", "unresolved", "error", "skipped")


def task_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The view model of the table: what each row shows, already decided (the template only prints)."""
    rows = []
    for task in document["tasks"]:
        info = task.get("task") or {}
        source = info.get("toggle_source") or {}
        instances = task.get("instances") or {}
        resolution = (task.get("resolution") or {}).get("status")
        python = (task.get("environment") or {}).get("python") or {}  # the Python the task's tests ran on
        rows.append(
            {
                "label": task["label"],
                "verdict": task["verdict"],
                "state": (resolution or ("skipped" if task["verdict"] == "skipped" else "error"))
                if is_predictions(document)
                else task["verdict"],
                "failing": task["failing_checks"],
                "error": task.get("error"),
                "duration": task.get("duration_seconds", 0.0),
                "runs": (task.get("timings") or {}).get("runs"),
                "toggle": (info.get("toggle") or {}).get("kind", ""),
                "toggle_origin": source.get("origin", ""),
                "toggle_evidence": source.get("evidence", []),
                "suites_source": info.get("suites_source") or "",
                "python": python.get("version") or "",
                "python_note": python.get("note") or "",
                "instances_status": instances.get("status"),
                "findings": [f for f in instances.get("findings", []) if f.get("severity") != "info"],
                "resolution": resolution,
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


def is_predictions(document: dict[str, Any]) -> bool:
    return document.get("kind") == "concgrade-predictions"


def render_dataset_html(document: dict[str, Any]) -> str:
    template = _environment().get_template("dataset.html.j2")
    if is_predictions(document):
        overall = document["predictions"]["overall"]
        page = {"title": "Predictions", "noun": "predictions", "column": "prediction", "total": overall["total"]}
        return template.render(doc=document, rows=task_rows(document), states=STATUSES, counts=overall, page=page)
    page = {"title": "Dataset grade", "noun": "tasks", "column": "task", "total": document["summary"]["tasks"]}
    return template.render(
        doc=document, rows=task_rows(document), states=VERDICTS, counts=document["summary"], page=page
    )
