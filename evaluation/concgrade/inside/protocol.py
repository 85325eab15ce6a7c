"""The harness ↔ test-process protocol: record types, signed lines, environment variables, the boot configuration.

Both sides import this module and nothing else to agree on: the boot and the plugin (inside the test
process) build records with the constructors below and sign them; the supervisor verifies the lines and
the grade reads the records back by their `type`. Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from typing import Any, Literal, TypedDict

# --- what a graded process is given, and how ----------------------------------------------------------------
# The code under test sees no variable of the harness: the boot reads its configuration and the channel's key
# from a pipe (its one argument is that pipe's number), and the cross-process probe's switch is a file beside
# the start-up hook in the shim. Only without a PID namespace does a neutral marker variable mark the run's
# processes, so that the ones that left its process group can still be found.
MARKER_VARIABLE = "RUN_TOKEN"
PROBE_FILE = "site.json"  # in the shim, beside sitecustomize.py: the cross-process probe's configuration
# Outside a grade (the plugin installed, tests run by plain pytest) the probe's switch travels in this variable.
PROCESS_PROBE_VARIABLE = "CONCGRADE_PROCESS_PROBE"
BOOT_SCRIPT = "main.py"  # the shim's entry point: `python SHIM/main.py FD`

# Beside the shim's sitecustomize: the folders whose reads child interpreters record, and where (filewatch.py).
WATCH_CONFIG = "_concgrade_watch.json"
LOADS_SUFFIX = ".loads"  # one file per child interpreter in the events folder, one opened path a line

# Harness programs the boot can run instead of pytest: each has `main(argv, stream)`, stream the signed
# records channel (or None when the harness gave none). The benchmark's child is run by the boot too.
PROGRAMS = ("concgrade.inside.history_driver", "concgrade.inside.history_replay")
BENCH_PROGRAM = "concgrade.inside.bench_child"

KEY_BYTES = 32  # the per-run signing key, sent ahead of the configuration on the boot's pipe
# Helpers the standard library starts and that end with their parent: never leftovers of the tests.
STDLIB_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "multiprocessing.semaphore_tracker")

# --- records ---------------------------------------------------------------------------------------------------
RecordType = Literal[
    "session_start",
    "collected",
    "collect_error",
    "phase",
    "implementation",
    "source",
    "probe",
    "session_finish",
    "exit_leftovers",
    "tamper",
    "hookimpl",
    "audit",
    "test_changed",
    "disk",
    "loaded",
    "session_exit",
    "booted",
    "history",
    "history_calls",
    "watchdog_thread",
]


class Record(TypedDict):
    type: RecordType


class _SessionStartRequired(Record):
    pid: int
    python: str


class SessionStart(_SessionStartRequired, total=False):
    stress: dict[str, Any]


class Collected(Record):
    nodeids: list[str]


class CollectError(Record):
    nodeid: str
    longrepr: str


class _PhaseRequired(Record):
    nodeid: str
    when: str  # "setup", "call" or "teardown"
    outcome: str  # pytest's: "passed", "failed" or "skipped"
    duration: float


class Phase(_PhaseRequired, total=False):
    subtest: str  # a subtest's report (pytest 9's core subtests, pytest-subtests): its context, e.g. "(i=1)"
    wasxfail: str
    longrepr: str
    capstdout: str
    capstderr: str
    captured_chars: int  # before clipping: the harness holds runs to an output limit
    blank_status: bool  # not passed, yet pytest_report_teststatus gave no category: the JSON report says passed


class ImplementationImport(Record):
    module: str
    file: str
    sha256: str


class Loaded(Record):
    """A file of an implementation folder that the test process opened for reading (import, load by path, data)."""

    file: str
    sha256: str


class SourceHash(Record):
    file: str
    sha256: str


class Probe(Record):
    nodeid: str
    figures: dict[str, Any]


class _SessionFinishRequired(Record):
    exitstatus: int
    testscollected: int


class SessionFinish(_SessionFinishRequired, total=False):
    stress: dict[str, Any]


class Booted(Record):
    """The boot handed over to pytest: the interpreter, the channel and the harness's in-process code work."""

    pytest: str  # pytest's version in this process
    python: str


class SessionExit(Record):
    """pytest's exit status as it leaves pytest, after every sessionfinish hook (a conftest may have set it)."""

    exitstatus: int


class WatchdogThread(Record):
    """The thread faulthandler started for this test's watchdog: a timed wait of the harness's own, which the
    deadlock check leaves out. `tid` is its id in the innermost PID namespace (the last of its NSpid), `started`
    its start time in clock ticks after boot (field 22 of its stat): ids are reused, the pair is not."""

    tid: int
    started: int


class ExitLeftovers(Record):
    processes: list[str]


class Tamper(Record):
    nodeid: str
    what: str
    source: str


class HookImpl(Record):
    nodeid: str
    hook: str
    plugin: str
    source: str


class AuditFinding(Record):
    nodeid: str
    event: str
    what: str
    where: str  # file:line of the implementation's frame
    denied: bool


class TestChanged(Record):
    nodeid: str
    what: str


class DiskUse(Record):
    folder: str
    used_bytes: int
    limit_bytes: int


class History(Record):
    """The history driver's account of one recorded run (its operations travel in history_calls before it)."""

    run: dict[str, Any]  # format, seed, ok, phase, error, imported, stress, window, timed_out, ...
    operations: int  # how many operations the history_calls records carry


class HistoryCalls(Record):
    first: int  # the index of the first operation in this chunk
    operations: list[dict[str, Any]]


def session_start(pid: int, python: str, stress: dict[str, Any] | None = None) -> SessionStart:
    record = SessionStart(type="session_start", pid=pid, python=python)
    if stress is not None:
        record["stress"] = stress
    return record


def collected(nodeids: list[str]) -> Collected:
    return Collected(type="collected", nodeids=nodeids)


def collect_error(nodeid: str, longrepr: str) -> CollectError:
    return CollectError(type="collect_error", nodeid=nodeid, longrepr=longrepr)


def phase(nodeid: str, when: str, outcome: str, duration: float) -> Phase:
    return Phase(type="phase", nodeid=nodeid, when=when, outcome=outcome, duration=duration)


def implementation_import(module: str, file: str, digest: str) -> ImplementationImport:
    return ImplementationImport(type="implementation", module=module, file=file, sha256=digest)


def loaded(file: str, digest: str) -> Loaded:
    return Loaded(type="loaded", file=file, sha256=digest)


def source_hash(file: str, digest: str) -> SourceHash:
    return SourceHash(type="source", file=file, sha256=digest)


def probe(nodeid: str, figures: dict[str, Any]) -> Probe:
    return Probe(type="probe", nodeid=nodeid, figures=figures)


def session_finish(exitstatus: int, testscollected: int, stress: dict[str, Any] | None = None) -> SessionFinish:
    record = SessionFinish(type="session_finish", exitstatus=exitstatus, testscollected=testscollected)
    if stress is not None:
        record["stress"] = stress
    return record


def booted(pytest_version: str, python: str) -> Booted:
    return Booted(type="booted", pytest=pytest_version, python=python)


def session_exit(exitstatus: int) -> SessionExit:
    return SessionExit(type="session_exit", exitstatus=exitstatus)


def watchdog_thread(tid: int, started: int) -> WatchdogThread:
    return WatchdogThread(type="watchdog_thread", tid=tid, started=started)


def exit_leftovers(processes: list[str]) -> ExitLeftovers:
    return ExitLeftovers(type="exit_leftovers", processes=processes)


def tamper(nodeid: str, what: str, source: str = "") -> Tamper:
    return Tamper(type="tamper", nodeid=nodeid, what=what, source=source)


def hookimpl(nodeid: str, hook: str, plugin: str, source: str) -> HookImpl:
    return HookImpl(type="hookimpl", nodeid=nodeid, hook=hook, plugin=plugin, source=source)


def audit_finding(nodeid: str, event: str, what: str, where: str, denied: bool) -> AuditFinding:
    return AuditFinding(type="audit", nodeid=nodeid, event=event, what=what, where=where, denied=denied)


def test_changed(nodeid: str, what: str) -> TestChanged:
    return TestChanged(type="test_changed", nodeid=nodeid, what=what)


def disk_use(folder: str, used_bytes: int, limit_bytes: int) -> DiskUse:
    return DiskUse(type="disk", folder=folder, used_bytes=used_bytes, limit_bytes=limit_bytes)


def history(run: dict[str, Any], operations: int) -> History:
    return History(type="history", run=run, operations=operations)


def history_calls(first: int, operations: list[dict[str, Any]]) -> HistoryCalls:
    return HistoryCalls(type="history_calls", first=first, operations=operations)


def of_type(records: Iterable[dict[str, Any]], kind: RecordType) -> Iterator[dict[str, Any]]:
    """The records of one type, in the order they arrived."""
    return (record for record in records if record.get("type") == kind)


def first_of(records: Iterable[dict[str, Any]], kind: RecordType) -> dict[str, Any] | None:
    return next(of_type(records, kind), None)


# How pytest-timeout's signal method fails a test that outlived its timeout (in the call phase's longrepr).
PYTEST_TIMEOUT_MARK = "Failed: Timeout"


def timed_out_nodeids(records: Iterable[dict[str, Any]]) -> list[str]:
    """Tests whose call phase pytest-timeout stopped, in the order they ran."""
    found = (
        str(r.get("nodeid", ""))
        for r in of_type(records, "phase")
        if r.get("when") == "call" and PYTEST_TIMEOUT_MARK in str(r.get("longrepr", ""))
    )
    return list(dict.fromkeys(found))


def started_nodeids(records: Iterable[dict[str, Any]]) -> set[str]:
    """Tests whose setup phase was reported: they ran (or took their process down)."""
    return {str(r.get("nodeid", "")) for r in of_type(records, "phase") if r.get("when") == "setup"}


# --- signed lines ----------------------------------------------------------------------------------------------
Signer = Callable[[int, "Record | dict[str, Any]"], bytes]


def line_signer(key: bytes) -> Signer:
    """A function that makes the line of a record: sequence number, HMAC of number and body, JSON body.

    The key lives only in the returned closure, and the functions it uses are bound now: code that replaces
    `json.dumps` or this module's globals later changes nothing about the lines already promised.
    """

    def sign(
        seq: int,
        record: Record | dict[str, Any],
        _dumps: Callable[..., str] = json.dumps,
        _new: Callable[..., Any] = hmac.new,
        _sha256: Any = sha256,
    ) -> bytes:
        body = _dumps(record, default=str)
        mac = _new(key, f"{seq} {body}".encode("utf-8", "replace"), _sha256).hexdigest()
        return f"{seq} {mac} {body}\n".encode("utf-8", "replace")

    return sign


def signed_line(key: bytes, seq: int, record: Record | dict[str, Any]) -> bytes:
    """One record as the line the plugin writes (see `line_signer`)."""
    return line_signer(key)(seq, record)


def verified_record(key: bytes, line: str, expected_seq: int) -> dict[str, Any] | None:
    """The record a signed line carries, or None if it is not genuine or comes before the next expected one.

    A number past the expected one is accepted (the records between were lost, e.g. a line cut short by a
    signal): an old line replayed, or one signed with another key, never is.
    """
    seq_text, _, rest = line.partition(" ")
    mac, _, body = rest.partition(" ")
    if not seq_text.isdigit() or len(seq_text) > 12 or int(seq_text) < expected_seq:
        return None
    good = hmac.new(key, f"{seq_text} {body}".encode("utf-8", "replace"), sha256).hexdigest()
    if not hmac.compare_digest(good, mac):
        return None
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None
    return valid_text(record) if isinstance(record, dict) else None


def valid_text(data: Any) -> Any:
    """JSON data a run wrote, with every string made valid Unicode: a `\\udcff` escape decodes to a lone surrogate,
    which no report can encode (the grader ended in an internal error writing its HTML report). Such characters
    become U+FFFD; the rest is unchanged (and not copied)."""
    if isinstance(data, str):
        if data.isascii():
            return data
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return data.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return data
    if isinstance(data, list):
        return [valid_text(item) for item in data]
    if isinstance(data, dict):
        return {valid_text(key): valid_text(value) for key, value in data.items()}
    return data


# --- the boot configuration ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootConfig:
    """What the harness hands the boot of a graded process (as JSON on its pipe, after the key)."""

    shim: str  # the folder holding the boot script and the trusted `concgrade` package
    pythonpath: list[str] = field(default_factory=list)  # the implementation's path, added once pytest is loaded
    preload: list[str] = field(default_factory=list)  # pytest and its plugins, imported before any task code
    rlimits: dict[str, list[int]] = field(default_factory=dict)
    watchdog_factor: float = 2.0  # the per-test faulthandler exit, in test timeouts
    records_fd: int | None = None
    stacks_fd: int | None = None
    marker_variable: str | None = None  # set only when there is no PID namespace of the run's own
    pytest_args: list[str] = field(default_factory=list)  # everything pytest (or the program) is given, never argv
    visible_args: list[str] = field(default_factory=list)  # what sys.argv shows: the tests and the task's options
    implementation_dirs: list[str] = field(default_factory=list)  # whose frames the containment watches
    writable: list[str] = field(default_factory=list)  # the folders the implementation may write
    protected: list[str] = field(default_factory=list)  # folders inside those it may not (its scratch folder)
    harness_dirs: list[str] = field(default_factory=list)
    private_proc: bool = False  # /proc shows only the run's own PID namespace
    disk_folder: str | None = None  # the run's size-limited temporary folder, watched after each test
    disk_limit_bytes: int = 0
    watched_folders: list[str] = field(default_factory=list)  # implementation folders whose reads are recorded
    # "" runs pytest; else a harness program of PROGRAMS (or BENCH_PROGRAM), run in pytest's place with the
    # same start, `pytest_args` its arguments.
    program: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BootConfig:
        data = json.loads(text or "{}")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**{"shim": "", **known})


@dataclass(frozen=True)
class ProbeConfig:
    """The cross-process probe's switch (JSON in the shim's PROBE_FILE): its events folder and targets.

    `more` names a file in the events folder where probes a test starts add their targets, one a line: every
    interpreter started afterwards reads it too (the shim itself is read-only to the run).
    """

    events_dir: str
    targets: tuple[str, ...]
    more: str = ""

    def to_env(self) -> str:
        return json.dumps({"events": self.events_dir, "targets": list(self.targets), "more": self.more})

    @staticmethod
    def from_env(text: str | None) -> ProbeConfig | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            targets = tuple(str(t) for t in data.get("targets", []))
            return ProbeConfig(str(data["events"]), targets, str(data.get("more") or ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


# --- the boot's pipe ---------------------------------------------------------------------------------------------
HANDOVER_LIMIT = 1 << 20  # the configuration is small; a pipe's buffer holds 64 KiB unless enlarged


def handover(key: bytes, config: BootConfig) -> bytes:
    """What the harness writes on the boot's pipe: the key (KEY_BYTES, zeros when there is no channel), then the
    configuration as JSON."""
    if len(key) not in (0, KEY_BYTES):
        raise ValueError(f"a channel key is {KEY_BYTES} bytes, not {len(key)}")
    data = (key or bytes(KEY_BYTES)) + config.to_json().encode("utf-8")
    if len(data) > HANDOVER_LIMIT:
        raise ValueError(f"the boot configuration is {len(data)} bytes, over {HANDOVER_LIMIT}")
    return data


def read_handover(fd: int) -> tuple[bytes, BootConfig]:
    """The boot's side: read the pipe to its end and close it; (key, configuration)."""
    import os

    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    data = b"".join(chunks)
    return data[:KEY_BYTES], BootConfig.from_json(data[KEY_BYTES:].decode("utf-8") or "{}")


@dataclass(frozen=True)
class WatchConfig:
    """What the run's child interpreters watch (JSON in the shim's WATCH_CONFIG file): folders, and where to write."""

    events_dir: str
    folders: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"events": self.events_dir, "folders": list(self.folders)})

    @staticmethod
    def from_json(text: str) -> WatchConfig | None:
        try:
            data = json.loads(text)
            return WatchConfig(str(data["events"]), tuple(str(f) for f in data["folders"]))
        except (ValueError, KeyError, TypeError):
            return None
