"""The report writers behind one small protocol, the way coverage.py's `report_core` keeps its reporters.

Each writer has a report type and turns the results model into one text; this module writes it to a file
atomically (a temporary file in the same folder, then a rename), so a reader never sees half a report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from concgrade.report.html import render_html
from concgrade.report.junit import render_junit
from concgrade.report.markdown import render_summary_md
from concgrade.report.results_json import render_json
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
    )
}
# What every grade writes to its output folder; the others on request (--junit-xml, --summary-md).
DEFAULT_REPORTS = ("json", "html")


def write_report(results: Results, report_type: str, path: Path) -> Path:
    """Render one report and write it to `path` atomically; returns the absolute path written."""
    write_atomically(path, WRITERS[report_type].render(results).encode("utf-8"))
    return path.resolve()


def render_reports(results: Results, report_types: tuple[str, ...] = DEFAULT_REPORTS) -> dict[str, bytes]:
    """The reports as file name → bytes, for a grade whose files travel as data (a dataset job)."""
    return {WRITERS[kind].file_name: WRITERS[kind].render(results).encode("utf-8") for kind in report_types}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
