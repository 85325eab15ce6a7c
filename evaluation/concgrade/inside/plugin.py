"""The pytest plugin that runs inside every graded test process: streams records, proves imports, hosts probes.

It shares a process with the code under test, so it imports nothing of the harness but the probe and
the guard, and writes each record with one unbuffered write: a crash loses at most the record being
written. In a graded run the boot arms it first (`arm`) with the channel's writer (its key, descriptor and
count live in the writer's closure, never in an attribute): records then go, signed, to the harness's pipe,
findings of the audit hook are forwarded with the test they happened in, and a per-test faulthandler
watchdog writes every thread's stack to the harness's stacks file.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from concgrade.inside import protocol
from concgrade.inside.filewatch import FileWatch
from concgrade.inside.guard import RunnerGuard
from concgrade.inside.probe_kinds import RunningProbe, parse_declared, start_declared, start_probe
from concgrade.inside.records import Write, file_writer
from concgrade.inside.stress import Stress
from concgrade.inside.testcode import ExpectedCode
from concgrade.inside.tracebacks import give_lines

# Captured output and error text kept per phase; the rest is cut and the cut is stated.
TEXT_LIMIT = 64 * 1024


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[concgrade: cut {len(text) - limit} characters]"


def serialize_phase(report: pytest.TestReport) -> protocol.Phase:
    """One test phase as a JSON-ready record."""
    record = protocol.phase(report.nodeid, report.when, report.outcome, round(report.duration, 6))
    context = getattr(report, "context", None)  # a subtest's report carries its context (msg, kwargs)
    if context is not None:
        record["subtest"] = subtest_label(context)
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


def subtest_label(context: Any) -> str:
    msg, kwargs = getattr(context, "msg", None), getattr(context, "kwargs", None) or {}
    parts = [f"[{msg}]"] if msg else []
    parts += [f"({', '.join(f'{key}={value!r}' for key, value in dict(kwargs).items())})"] if kwargs else []
    return " ".join(parts) or "(subtest)"


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
        write: Write,
        modules: list[str],
        declared: list[tuple[str, str]] | None = None,
        guard: RunnerGuard | None = None,
        findings: Callable[[], list[tuple[str, str, str, bool]]] | None = None,
        disk: DiskWatch | None = None,
        watch: FileWatch | None = None,
    ) -> None:
        self._write = write
        self._findings = findings
        self._disk = disk
        self.modules = modules
        self.watch = watch
        self.session: pytest.Session | None = None
        self.seen_files: set[tuple[str, str]] = set()
        self.declared = declared or []  # (kind, target) of the manifest's probes, around every test
        self.guard = guard
        self.hashed_sources: set[tuple[str, str]] = set()

    def prove_imports(self) -> None:
        """Record each implementation module's file and hash the first time (and each new file) it is seen,
        and every file of the implementation folders read since the last look."""
        for opened in self.watch.take_new() if self.watch is not None else ():
            if os.path.isfile(opened):
                self._write(protocol.loaded(os.path.realpath(opened), file_sha256(opened)))
            elif os.path.isdir(opened):  # a folder a child process was started with
                self._write(protocol.loaded(os.path.join(os.path.realpath(opened), ""), ""))
        for name in self.modules:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None)
            if not path or (name, path) in self.seen_files:
                continue
            self.seen_files.add((name, path))
            real = os.path.realpath(path)
            self._write(protocol.implementation_import(name, real, file_sha256(real)))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write(protocol.collected([item.nodeid for item in session.items]))
        self.prove_imports()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(protocol.collect_error(report.nodeid, clip(str(report.longrepr))))
        if report.nodeid.endswith(".py") and "::" not in report.nodeid:  # a module, just imported
            self.record_source(os.path.abspath(report.nodeid))

    def forward_findings(self, nodeid: str) -> None:
        """The audit hook's findings since the last look, and the temporary folder's use, with the test."""
        if self._findings is not None:
            for event, what, where, denied in self._findings():
                self._write(protocol.audit_finding(nodeid, event, what, where, denied))
        if self._disk is not None:
            over = self._disk.over_limit()
            if over is not None:
                self._write(over)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.prove_imports()
        if self.guard is not None:
            self.guard.inspect_report(report)
        self.forward_findings(report.nodeid)
        record = serialize_phase(report)
        if report.outcome != "passed" and self.status_is_blank(report):
            record["blank_status"] = True
        self._write(record)

    def status_is_blank(self, report: pytest.TestReport) -> bool:
        """Whether `pytest_report_teststatus` gives this report an empty category, as a task's hook that quiets
        the terminal does: pytest-json-report takes a test's outcome from that category and then keeps 'passed'."""
        if self.session is None:
            return False
        config = self.session.config
        try:
            status = config.hook.pytest_report_teststatus(report=report, config=config)
        except Exception:  # noqa: BLE001 - a task's broken hook is pytest's to report, not ours
            return False
        return isinstance(status, tuple) and bool(status) and status[0] == ""

    def record_source(self, path: str) -> None:
        """Hash a test or conftest file as pytest reads it: a file rewritten and restored mid-run still shows.

        Each file is hashed when pytest finds it, right before its module is imported, and right after:
        another module imported in between (the implementation, say) could have rewritten it.
        """
        if not os.path.isfile(path):
            return
        digest = file_sha256(path)
        if (path, digest) in self.hashed_sources:
            return
        self.hashed_sources.add((path, digest))
        self._write(protocol.source_hash(os.path.realpath(path), digest))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_file(self, file_path: Any) -> None:
        if str(file_path).endswith(".py"):
            self.record_source(str(file_path))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            self.record_source(str(collector.path))

    def pytest_plugin_registered(self, plugin: Any) -> None:
        path = getattr(plugin, "__file__", None)
        if path and os.path.basename(path) == "conftest.py":
            self.record_source(path)

    def publish_probes(self, nodeid: str, probes: list[RunningProbe], declared: bool = False) -> None:
        for probe in probes:
            figures = {**probe.figures(), "declared": declared}
            self._write(protocol.probe(nodeid, figures))

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

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.session is None:
            return
        try:  # what pytest returns: a conftest's sessionfinish may have changed it
            status = int(self.session.exitstatus)
        except (TypeError, ValueError):
            status = -1
        self._write(protocol.session_exit(status))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.prove_imports()
        self.forward_findings("")
        stress = session.config.stash.get(STRESS_KEY, None)
        figures = stress.figures() if stress is not None else None  # with the number of yields it made
        self._write(protocol.session_finish(int(exitstatus), session.testscollected, figures))


SESSION_PLUGIN = "concgrade-graded-session"
STRESS_KEY = pytest.StashKey[Any]()


class Armed:
    """What concgrade's boot hands over before pytest starts: the channel's writer, the guard, the stacks file."""

    def __init__(
        self,
        write: Write,
        stacks_fd: int | None,
        watchdog_factor: float,
        findings: Callable[[], list[tuple[str, str, str, bool]]] | None = None,
        disk: DiskWatch | None = None,
        watch: FileWatch | None = None,
        expected: ExpectedCode | None = None,
    ) -> None:
        self.write = write
        self.guard = RunnerGuard(write, expected)  # snapshot now, before any conftest or test module runs
        self.stacks_fd = stacks_fd
        self.watchdog_factor = watchdog_factor
        self.findings = findings
        self.disk = disk
        self.watch = watch  # registered by the boot before the audit hook started: a conftest's imports are seen


_armed: Armed | None = None


def arm(
    write: Write,
    stacks_fd: int | None,
    watchdog_factor: float = 2.0,
    findings: Callable[[], list[tuple[str, str, str, bool]]] | None = None,
    disk: DiskWatch | None = None,
    watch: FileWatch | None = None,
    expected: ExpectedCode | None = None,
) -> None:
    global _armed
    _armed = Armed(write, stacks_fd, watchdog_factor, findings, disk, watch, expected)


class DiskWatch:
    """The run's size-limited temporary folder: how full it is after each test (a full one means a test hit it)."""

    def __init__(self, folder: str, limit_bytes: int) -> None:
        self.folder = folder
        self.limit_bytes = limit_bytes
        self.reported = False

    def over_limit(self) -> protocol.DiskUse | None:
        if self.reported or self.limit_bytes <= 0:
            return None
        try:
            stats = os.statvfs(self.folder)
        except OSError:
            return None
        used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
        if used < 0.95 * self.limit_bytes:
            return None
        self.reported = True
        return protocol.disk_use(self.folder, used, self.limit_bytes)


class TestWatchdog:
    """A faulthandler exit at `factor` times a test's timeout: ends C loops holding the GIL, ignored alarms,
    and code that swallows pytest-timeout's exception, with every thread's stack in the stacks file.

    faulthandler waits in a thread of its own, with a timeout: the harness's deadlock check, which asks whether
    every thread waits without one, is told that thread's id so that it leaves it out."""

    __test__ = False

    def __init__(self, write: Write, stacks_fd: int, factor: float, default_timeout: float) -> None:
        self.write = write
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
            thread = dump_later_in_thread(self.factor * timeout, self.stacks_fd)
            if thread is not None:
                self.write(protocol.watchdog_thread(*thread))
        try:
            return (yield)
        finally:
            faulthandler.cancel_dump_traceback_later()


def dump_later_in_thread(seconds: float, fd: int) -> tuple[int, int] | None:
    """faulthandler.dump_traceback_later (exit=True), and the identity of the thread it started (a new one each
    time); None when that thread cannot be told apart (another one started at the same moment, or no /proc)."""
    before = thread_ids()
    faulthandler.dump_traceback_later(seconds, file=fd, exit=True)
    after = thread_ids()
    started = after - before if before is not None and after is not None else set()
    return thread_identity(started.pop()) if len(started) == 1 else None


def thread_ids() -> set[str] | None:
    try:
        return set(os.listdir("/proc/self/task"))
    except OSError:
        return None


def thread_identity(tid: str) -> tuple[int, int] | None:
    """A thread's id in its innermost PID namespace (the last of its NSpid; a kernel without NSpid has no PID
    namespaces to tell apart) and its start time in clock ticks after boot: what the harness can match from
    outside, whichever /proc this process sees, and still tell apart once the id is reused. None when unreadable."""
    base = f"/proc/self/task/{tid}"
    try:
        with open(f"{base}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        with open(f"{base}/status", encoding="ascii", errors="replace") as handle:
            nspid = next((line.split()[1:] for line in handle if line.startswith("NSpid:")), [tid])
        return int(nspid[-1]), int(stat[stat.rfind(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


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
        "--concgrade-watch",
        action="append",
        default=[],
        metavar="FOLDER",
        help="record every file of FOLDER the tests read (repeatable; a graded run's boot watches from the start)",
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
    global _armed
    # What the boot armed is taken out of the module: from here on only pytest's plugin manager holds it.
    armed, _armed = _armed, None
    path = config.getoption("--concgrade-records")
    if armed is None and not path:
        return
    write = armed.write if armed is not None else file_writer(str(path))
    seed = config.getoption("--concgrade-stress")
    figures = None
    if seed is not None:
        stress = Stress(seed)
        stress.activate()
        figures = stress.figures()
        config.stash[STRESS_KEY] = stress
    write(protocol.session_start(os.getpid(), sys.version.split()[0], figures))
    try:
        declared = [parse_declared(option) for option in config.getoption("--concgrade-probe")]
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    guard = armed.guard if armed is not None else None
    findings = armed.findings if armed is not None else None
    disk = armed.disk if armed is not None else None
    watch = armed.watch if armed is not None else None
    if watch is None and armed is None and config.getoption("--concgrade-watch"):
        watch = FileWatch(list(config.getoption("--concgrade-watch"))).start()
    graded = GradedSession(write, list(config.getoption("--concgrade-module")), declared, guard, findings, disk, watch)
    config.pluginmanager.register(graded, SESSION_PLUGIN)
    if guard is not None:
        config.pluginmanager.register(guard, "concgrade-runner-guard")
    if armed is not None and armed.stacks_fd is not None:
        timeout = float(getattr(config.option, "timeout", None) or 0)
        watchdog = TestWatchdog(write, armed.stacks_fd, armed.watchdog_factor, timeout)
        config.pluginmanager.register(watchdog, "concgrade-test-watchdog")
    # A KeyboardInterrupt (or any exception) dying in a worker thread only warns by default; in a
    # graded run it must fail the test that caused it.
    config.addinivalue_line("filterwarnings", "error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Before pytest formats a phase's failure: a traceback entry without a line number crashes pytest's
    formatting and ends the session (inside/tracebacks.py); it gets its nearest line. Any run, graded or not."""
    if call.excinfo is not None:
        call.excinfo = give_lines(call.excinfo)
    yield


@pytest.fixture
def concurrency_probe(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory fixture: `probe = concurrency_probe(module, "function")` counts that function's active calls.

    kind="auto" (the default) probes threads, or asyncio for a coroutine function; "processes"
    counts calls across every process and live multiprocessing children (any start method);
    "pending" needs no target and counts submitted executor and pool work not yet done. A plain
    function is probed in place (it stays the same object, its signature and attributes unchanged);
    anything else is replaced in its module and wherever it was imported by name by a wrapper with no
    `__wrapped__`; either is undone after the test. The probe's figures (`max_active`, `calls`, `timeline`, `max_pending`,
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
        graded = request.config.pluginmanager.get_plugin(SESSION_PLUGIN)
        if graded is not None:
            graded.publish_probes(request.node.nodeid, started)
