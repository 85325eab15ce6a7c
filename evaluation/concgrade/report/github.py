"""GitHub Actions outputs: the Markdown summary appended to the job summary, and `::error` annotations.

Annotations are capped at 10 (GitHub shows no more per kind and step), given to the most important
failing checks first, each pointing at the failing test's file and line where the results know them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from concgrade.report.markdown import render_summary_md
from concgrade.results.model import Results

MAX_ANNOTATIONS = 10
SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary above 1 MiB
_LOCATION = re.compile(r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+):", re.MULTILINE)


@dataclass(frozen=True)
class Annotation:
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        properties = [f"title={escape_property(self.title)}"]
        if self.file:
            properties.insert(0, f"file={escape_property(self.file)}")
            if self.line:
                properties.insert(1, f"line={self.line}")
        return f"::error {','.join(properties)}::{escape_data(self.message)}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def test_line(nodeid: str, message: str) -> int | None:
    """The line of the test's own file where pytest's traceback ends (the last `path.py:N:` of that file)."""
    path = nodeid.split("::", 1)[0]
    lines = [int(m["line"]) for m in _LOCATION.finditer(message) if m["path"].endswith(path)]
    return lines[-1] if lines else None


def error_annotations(results: Results, workspace: str | None = None) -> list[Annotation]:
    """At most ten annotations: checks that errored, then failing ones, in grade order; one per failing test."""
    root = Path(str(results.task.get("root", ".")))
    tests = {(name, test.nodeid): test for name, impl in results.implementations.items() for test in impl.tests}
    ordered = [c for c in results.checks if c["status"] == "error"] + [
        c for c in results.checks if c["status"] == "fail"
    ]
    found: list[Annotation] = []
    for check in ordered:
        nodeids = list(check.get("tests") or ())
        if not nodeids:
            found.append(Annotation(f"concgrade {check['id']}", str(check["message"])))
        for nodeid in nodeids:
            test = tests.get((str(check.get("implementation")), nodeid))
            outcome = test.outcome if test else "missing"
            detail = last_line(test.message) if test else ""
            found.append(
                Annotation(
                    title=f"concgrade {check['id']}: {nodeid}",
                    message=f"{outcome} on {check.get('implementation')}" + (f": {detail}" if detail else ""),
                    file=workspace_path(root, nodeid.split("::", 1)[0], workspace),
                    line=test_line(nodeid, test.message) if test else None,
                )
            )
        if len(found) >= MAX_ANNOTATIONS:
            break
    return found[:MAX_ANNOTATIONS]


def last_line(message: str) -> str:
    """The most telling line of a pytest failure: its first `E   ...` line (the assertion), else the last line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return (errors[:1] or lines[-1:] or [""])[0][:300]


def workspace_path(root: Path, relative: str, workspace: str | None) -> str:
    """A task-relative path as GitHub wants it: relative to the checked-out repository."""
    if workspace:
        try:
            return (root / relative).resolve().relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            pass
    return relative


def write_github_outputs(results: Results, env: Mapping[str, str], out: TextIO) -> None:
    """Append the summary when GITHUB_STEP_SUMMARY is set; print annotations when running in GitHub Actions."""
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        path = Path(summary)
        used = path.stat().st_size if path.exists() else 0
        room = SUMMARY_LIMIT - used - 1024  # bytes left in this step's summary, with a margin
        text = render_summary_md(results)
        if len(text.encode("utf-8")) > room:
            text = render_summary_md(results, limit=room // 4)  # 4 bytes per character at most in UTF-8
        if room > 0:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(text + "\n")
    if env.get("GITHUB_ACTIONS") == "true":
        for annotation in error_annotations(results, env.get("GITHUB_WORKSPACE") or os.getcwd()):
            out.write(annotation.command() + "\n")
        out.flush()
