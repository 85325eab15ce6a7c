"""The pytest plugin that runs inside every graded test process: streams records, proves imports, hosts probes.

It shares a process with the code under test, so it imports nothing of the harness but the probe,
and writes each record with one unbuffered write: a crash loses at most the record being written.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from concgrade.probe import CallProbe, install_probe

# Captured output and error text kept per phase; the rest is cut and the cut is stated.
TEXT_LIMIT = 64 * 1024


class RecordStream:
    """Appends JSON lines to the harness's records file."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        os.write(self._fd, line.encode("utf-8", "replace"))


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[concgrade: cut {len(text) - limit} characters]"


def serialize_phase(report: pytest.TestReport) -> dict[str, Any]:
    """One test phase as a JSON-ready record."""
    record: dict[str, Any] = {
        "type": "phase",
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "duration": round(report.duration, 6),
    }
    if hasattr(report, "wasxfail"):
        record["wasxfail"] = str(report.wasxfail)
    if report.longrepr is not None and report.outcome != "passed":
        record["longrepr"] = clip(str(report.longrepr))
    for stream in ("capstdout", "capstderr"):
        text = getattr(report, stream, "")
        if text:
            record[stream] = clip(text)
    return record


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class GradedSession:
    """The plugin's state for one graded pytest process."""

    def __init__(self, stream: RecordStream, modules: list[str]) -> None:
        self.stream = stream
        self.modules = modules
        self.seen_files: set[tuple[str, str]] = set()

    def prove_imports(self) -> None:
        """Record each implementation module's file and hash the first time (and each new file) it is seen."""
        for name in self.modules:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if not path or (name, path) in self.seen_files:
                continue
            self.seen_files.add((name, path))
            real = os.path.realpath(path)
            self.stream.write({"type": "implementation", "module": name, "file": real, "sha256": file_sha256(real)})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.stream.write({"type": "collected", "nodeids": [item.nodeid for item in session.items]})
        self.prove_imports()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.stream.write(
                {"type": "collect_error", "nodeid": report.nodeid, "longrepr": clip(str(report.longrepr))}
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.prove_imports()
        self.stream.write(serialize_phase(report))

    def publish_probes(self, nodeid: str, probes: list[CallProbe]) -> None:
        for probe in probes:
            self.stream.write({"type": "probe", "nodeid": nodeid, "figures": probe.figures()})

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.prove_imports()
        self.stream.write(
            {
                "type": "session_finish",
                "exitstatus": int(exitstatus),
                "testscollected": session.testscollected,
            }
        )


_graded: GradedSession | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concgrade", "concgrade graded runs")
    group.addoption("--concgrade-records", default=None, help="append one JSON record per test phase to this file")
    group.addoption(
        "--concgrade-module",
        action="append",
        default=[],
        help="an implementation module whose imported file is recorded (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _graded
    path = config.getoption("--concgrade-records")
    if not path:
        return
    stream = RecordStream(path)
    stream.write({"type": "session_start", "pid": os.getpid(), "python": sys.version.split()[0]})
    _graded = GradedSession(stream, list(config.getoption("--concgrade-module")))
    config.pluginmanager.register(_graded, "concgrade-graded-session")
    # A KeyboardInterrupt (or any exception) dying in a worker thread only warns by default; in a
    # graded run it must fail the test that caused it.
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def concurrency_probe(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory fixture: `probe = concurrency_probe(module, "function")` counts that function's active calls.

    The function is replaced in its module and wherever it was imported by name, and restored after
    the test; `probe.max_active`, `probe.calls` and `probe.timeline` are live figures. In a graded
    run every probe's figures are recorded with the test.
    """
    installed: list[tuple[CallProbe, Any]] = []

    def factory(target: Any, attribute: str | None = None, *, label: str | None = None) -> CallProbe:
        probe, patch = install_probe(target, attribute, label)
        installed.append((probe, patch))
        return probe

    try:
        yield factory
    finally:
        for _, patch in reversed(installed):
            patch.undo()
        if _graded is not None:
            _graded.publish_probes(request.node.nodeid, [probe for probe, _ in installed])
