"""The report writers behind one small protocol, the way coverage.py's `report_core` keeps its reporters.

Each writer has a report type and turns the results model into one text; this module writes it to a file
atomically (a temporary file in the same folder, then a rename: report/folder.py), so a reader never sees half
a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from concgrade.report.folder import claim_output_folder, write_atomically
from concgrade.report.html import prepare_html, render_html
from concgrade.report.junit import render_junit
from concgrade.report.markdown import render_summary_md
from concgrade.report.results_json import render_json
from concgrade.report.summary_json import render_summary_json
from concgrade.results.model import Results


@dataclass(frozen=True)
class Writer:
    report_type: str
    file_name: str  # its name in a grade's output folder
    render: Callable[[Results], str]


WRITERS = {
    writer.report_type: writer
    for writer in (
        Writer("json", "results.json", render_json),
        Writer("html", "report.html", render_html),
        Writer("junit", "junit.xml", render_junit),
        Writer("markdown", "summary.md", render_summary_md),
        Writer("summary-json", "summary.json", render_summary_json),
    )
}
# What every grade writes to its output folder; the others on request (--junit-xml, --summary-md, --summary-json).
DEFAULT_REPORTS = ("json", "html")


def prepare_reports() -> None:
    """Everything rendering needs that does not depend on the results (compiled templates), done ahead of time."""
    prepare_html()


def write_report(results: Results, report_type: str, path: Path) -> Path:
    """Render one report and write it to `path` atomically; returns the absolute path written."""
    write_atomically(path, WRITERS[report_type].render(results).encode("utf-8"))
    return path.resolve()


def render_reports(results: Results, report_types: tuple[str, ...] = DEFAULT_REPORTS) -> dict[str, bytes]:
    """The reports as file name → bytes, for a grade whose files travel as data (a dataset job)."""
    return {WRITERS[kind].file_name: WRITERS[kind].render(results).encode("utf-8") for kind in report_types}


__all__ = [
    "WRITERS",
    "Writer",
    "claim_output_folder",
    "prepare_reports",
    "render_reports",
    "write_atomically",
    "write_report",
]
