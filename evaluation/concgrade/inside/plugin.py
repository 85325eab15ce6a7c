"""The pytest plugin that runs inside every graded test process: streams records, proves imports, hosts probes.

It shares a process with the code under test, so it imports nothing of the harness but the probe and
the guard, and writes each record with one unbuffered write: a crash loses at most the record being
written. In a graded run the boot arms it first (`arm`): records then go, signed, to the harness's pipe,
and a per-test faulthandler watchdog writes every thread's stack to the harness's stacks file.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from concgrade.inside import protocol
from concgrade.inside.guard import RunnerGuard
from concgrade.inside.probe_kinds import RunningProbe, parse_declared, start_declared, start_probe
from concgrade.inside.stress import Stress

# Captured output and error text kept per phase; the rest is cut and the cut is stated.
TEXT_LIMIT = 64 * 1024


# The writer of records lives with the protocol (the history driver writes them too); its old name stays here.
RecordStream = protocol.RecordStream


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[concgrade: cut {len(text) - limit} characters]"


def serialize_phase(report: pytest.TestReport) -> protocol.Phase:
    """One test phase as a JSON-ready record."""
    record = protocol.phase(report.nodeid, report.when, report.outcome, round(report.duration, 6))
    if hasattr(report, "wasxfail"):
        record["wasxfail"] = str(report.wasxfail)
    if report.longrepr is not None and report.outcome != "passed":
        record["longrepr"] = clip(str(report.longrepr))
    stdout, stderr = report.capstdout, report.capstderr
    if stdout:
        record["capstdout"] = clip(stdout)
    if stderr:
        record["capstderr"] = clip(stderr)
    captured = len(stdout) + len(stderr)
    if captured:
        record["captured_chars"] = captured  # before clipping: the harness holds runs to an output limit
    return record


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


class GradedSession:
    """The plugin's state for one graded pytest process."""

    def __init__(
        self,
        stream: RecordStream,
        modules: list[str],
        declared: list[tuple[str, str]] | None = None,
        guard: RunnerGuard | None = None,
    ) -> None:
        self.stream = stream
        self.modules = modules
        self.seen_files: set[tuple[str, str]] = set()
        self.declared = declared or []  # (kind, target) of the manifest's probes, around every test
        self.guard = guard
        self.hashed_sources: set[str] = set()

    def prove_imports(self) -> None:
        """Record each implementation module's file and hash the first time (and each new file) it is seen."""
        for name in self.modules:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if not path or (name, path) in self.seen_files:
                continue
            self.seen_files.add((name, path))
            real = os.path.realpath(path)
            self.stream.write(protocol.implementation_import(name, real, file_sha256(real)))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.stream.write(protocol.collected([item.nodeid for item in session.items]))
        self.prove_imports()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.stream.write(protocol.collect_error(report.nodeid, clip(str(report.longrepr))))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.prove_imports()
        if self.guard is not None:
            self.guard.inspect_report(report)
        self.stream.write(serialize_phase(report))

    def record_source(self, path: str) -> None:
        """Hash a test or conftest file as pytest reads it: a file rewritten and restored mid-run still shows."""
        if path in self.hashed_sources or not os.path.isfile(path):
            return
        self.hashed_sources.add(path)
        self.stream.write(protocol.source_hash(os.path.realpath(path), file_sha256(path)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_file(self, file_path: Any) -> None:
        if str(file_path).endswith(".py"):
            self.record_source(str(file_path))

    def pytest_plugin_registered(self, plugin: Any) -> None:
        path = getattr(plugin, "__file__", None)
        if path and os.path.basename(path) == "conftest.py":
            self.record_source(path)

    def publish_probes(self, nodeid: str, probes: list[RunningProbe], declared: bool = False) -> None:
        for probe in probes:
            figures = {**probe.figures(), "declared": declared}
            self.stream.write(protocol.probe(nodeid, figures))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        """Declared probes watch the whole test (setup, call, teardown) without the test asking."""
        probes = [start_declared(kind, target) for kind, target in self.declared]
        try:
            yield
        finally:
            for probe in reversed(probes):
                probe.stop()
            self.publish_probes(item.nodeid, probes, declared=True)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.prove_imports()
        stress = session.config.stash.get(STRESS_KEY, None)
        figures = stress.figures() if stress is not None else None  # with the number of yields it made
        self.stream.write(protocol.session_finish(int(exitstatus), session.testscollected, figures))


_graded: GradedSession | None = None
STRESS_KEY = pytest.StashKey[Any]()


class Armed:
    """What concgrade's boot hands over before pytest starts: the signed channel, the guard, the stacks file."""

    def __init__(self, records_fd: int, key: bytes, stacks_fd: int | None, watchdog_factor: float) -> None:
        self.stream = RecordStream(fd=records_fd, key=key)
        self.guard = RunnerGuard(self.stream.write)  # snapshot now, before any conftest or test module runs
        self.stacks_fd = stacks_fd
        self.watchdog_factor = watchdog_factor


_armed: Armed | None = None


def arm(records_fd: int, key: bytes, stacks_fd: int | None, watchdog_factor: float = 2.0) -> None:
    global _armed
    _armed = Armed(records_fd, key, stacks_fd, watchdog_factor)


class TestWatchdog:
    """A faulthandler exit at `factor` times a test's timeout: ends C loops holding the GIL, ignored alarms,
    and code that swallows pytest-timeout's exception, with every thread's stack in the stacks file."""

    __test__ = False

    def __init__(self, stacks_fd: int, factor: float, default_timeout: float) -> None:
        self.stacks_fd = stacks_fd
        self.factor = factor
        self.default_timeout = default_timeout

    def timeout_of(self, item: pytest.Item) -> float:
        marker = item.get_closest_marker("timeout")
        value = marker.args[0] if marker is not None and marker.args else None
        if marker is not None and value is None:
            value = marker.kwargs.get("timeout")
        try:
            return max(float(value), self.default_timeout) if value is not None else self.default_timeout
        except (TypeError, ValueError):
            return self.default_timeout

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[Any]:
        timeout = self.timeout_of(item)
        if timeout > 0:
            faulthandler.dump_traceback_later(self.factor * timeout, file=self.stacks_fd, exit=True)
        try:
            return (yield)
        finally:
            faulthandler.cancel_dump_traceback_later()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concgrade", "concgrade graded runs")
    group.addoption("--concgrade-records", default=None, help="append one JSON record per test phase to this file")
    group.addoption(
        "--concgrade-module",
        action="append",
        default=[],
        help="an implementation module whose imported file is recorded (repeatable)",
    )
    group.addoption(
        "--concgrade-probe",
        action="append",
        default=[],
        help="KIND=TARGET: probe TARGET around every test (kinds: threads, asyncio, processes, pending; repeatable)",
    )
    group.addoption(
        "--concgrade-stress",
        type=int,
        default=None,
        metavar="SEED",
        help="stress mode: a tiny switch interval and yields seeded with SEED at synchronization points",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _graded
    path = config.getoption("--concgrade-records")
    if _armed is None and not path:
        return
    stream = _armed.stream if _armed is not None else RecordStream(path)
    seed = config.getoption("--concgrade-stress")
    figures = None
    if seed is not None:
        stress = Stress(seed)
        stress.activate()
        figures = stress.figures()
        config.stash[STRESS_KEY] = stress
    stream.write(protocol.session_start(os.getpid(), sys.version.split()[0], figures))
    try:
        declared = [parse_declared(option) for option in config.getoption("--concgrade-probe")]
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    guard = _armed.guard if _armed is not None else None
    _graded = GradedSession(stream, list(config.getoption("--concgrade-module")), declared, guard)
    config.pluginmanager.register(_graded, "concgrade-graded-session")
    if guard is not None:
        config.pluginmanager.register(guard, "concgrade-runner-guard")
    if _armed is not None and _armed.stacks_fd is not None:
        timeout = float(getattr(config.option, "timeout", None) or 0)
        watchdog = TestWatchdog(_armed.stacks_fd, _armed.watchdog_factor, timeout)
        config.pluginmanager.register(watchdog, "concgrade-test-watchdog")
    # A KeyboardInterrupt (or any exception) dying in a worker thread only warns by default; in a
    # graded run it must fail the test that caused it.
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def concurrency_probe(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory fixture: `probe = concurrency_probe(module, "function")` counts that function's active calls.

    kind="auto" (the default) probes threads, or asyncio for a coroutine function; "processes"
    counts calls across every process and live multiprocessing children (any start method);
    "pending" needs no target and counts submitted executor and pool work not yet done. The
    function is replaced in its module and wherever it was imported by name, and restored after
    the test; the probe's figures (`max_active`, `calls`, `timeline`, `max_pending`,
    `max_live_tasks`, `max_processes`, ...) are live. In a graded run they are recorded with the test.
    """
    started: list[RunningProbe] = []

    def factory(
        target: Any = None, attribute: str | None = None, *, label: str | None = None, kind: str = "auto"
    ) -> Any:
        running = start_probe(target, attribute, kind=kind, label=label)
        started.append(running)
        return running.probe

    try:
        yield factory
    finally:
        for running in reversed(started):
            running.stop()
        if _graded is not None:
            _graded.publish_probes(request.node.nodeid, started)
