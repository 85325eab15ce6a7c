"""The harness ↔ test-process protocol: record types, signed lines, environment variables, the boot configuration.

Both sides import this module and nothing else to agree on: the boot and the plugin (inside the test
process) build records with the constructors below and sign them; the supervisor verifies the lines and
the grade reads the records back by their `type`. Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from typing import Any, Literal, TypedDict

# --- environment variables -------------------------------------------------------------------------------------
BOOT_VARIABLE = "CONCGRADE_BOOT"  # the boot configuration (JSON), removed from the environment by the boot
MARKER_VARIABLE = "CONCGRADE_RUN_MARKER"  # marks every process of a run, to find them without a PID namespace
PROCESS_PROBE_VARIABLE = "CONCGRADE_PROCESS_PROBE"  # switches the cross-process probe on in every interpreter

# Harness programs the boot can run instead of pytest: each has `main(argv, stream)`, stream the signed
# records channel (or None when the harness gave none).
PROGRAMS = ("concgrade.inside.history_driver", "concgrade.inside.history_replay")

KEY_BYTES = 32  # the per-run signing key, handed over on a pipe of its own
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
    "history",
    "history_calls",
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
    wasxfail: str
    longrepr: str
    capstdout: str
    capstderr: str
    captured_chars: int  # before clipping: the harness holds runs to an output limit


class ImplementationImport(Record):
    module: str
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


def source_hash(file: str, digest: str) -> SourceHash:
    return SourceHash(type="source", file=file, sha256=digest)


def probe(nodeid: str, figures: dict[str, Any]) -> Probe:
    return Probe(type="probe", nodeid=nodeid, figures=figures)


def session_finish(exitstatus: int, testscollected: int, stress: dict[str, Any] | None = None) -> SessionFinish:
    record = SessionFinish(type="session_finish", exitstatus=exitstatus, testscollected=testscollected)
    if stress is not None:
        record["stress"] = stress
    return record


def exit_leftovers(processes: list[str]) -> ExitLeftovers:
    return ExitLeftovers(type="exit_leftovers", processes=processes)


def tamper(nodeid: str, what: str, source: str = "") -> Tamper:
    return Tamper(type="tamper", nodeid=nodeid, what=what, source=source)


def hookimpl(nodeid: str, hook: str, plugin: str, source: str) -> HookImpl:
    return HookImpl(type="hookimpl", nodeid=nodeid, hook=hook, plugin=plugin, source=source)


def history(run: dict[str, Any], operations: int) -> History:
    return History(type="history", run=run, operations=operations)


def history_calls(first: int, operations: list[dict[str, Any]]) -> HistoryCalls:
    return HistoryCalls(type="history_calls", first=first, operations=operations)


def of_type(records: Iterable[dict[str, Any]], kind: RecordType) -> Iterator[dict[str, Any]]:
    """The records of one type, in the order they arrived."""
    return (record for record in records if record.get("type") == kind)


def first_of(records: Iterable[dict[str, Any]], kind: RecordType) -> dict[str, Any] | None:
    return next(of_type(records, kind), None)


def started_nodeids(records: Iterable[dict[str, Any]]) -> set[str]:
    """Tests whose setup phase was reported: they ran (or took their process down)."""
    return {str(r.get("nodeid", "")) for r in of_type(records, "phase") if r.get("when") == "setup"}


# --- signed lines ----------------------------------------------------------------------------------------------
def signed_line(key: bytes, seq: int, record: Record | dict[str, Any]) -> bytes:
    """One record as the line the plugin writes: sequence number, HMAC of number and body, JSON body."""
    body = json.dumps(record, default=str)
    mac = hmac.new(key, f"{seq} {body}".encode("utf-8", "replace"), sha256).hexdigest()
    return f"{seq} {mac} {body}\n".encode("utf-8", "replace")


def verified_record(key: bytes, line: str, expected_seq: int) -> dict[str, Any] | None:
    """The record a signed line carries, or None if it is not genuine or not the next one."""
    seq_text, _, rest = line.partition(" ")
    mac, _, body = rest.partition(" ")
    if not seq_text.isdigit() or int(seq_text) != expected_seq:
        return None
    good = hmac.new(key, f"{seq_text} {body}".encode("utf-8", "replace"), sha256).hexdigest()
    if not hmac.compare_digest(good, mac):
        return None
    try:
        record = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None
    return record if isinstance(record, dict) else None


_os_write = os.write  # bound at import, before any code under test runs


class RecordStream:
    """Appends JSON lines to the harness's records file, or signed lines to its records pipe."""

    def __init__(self, path: str | None = None, fd: int | None = None, key: bytes = b"") -> None:
        self._fd = fd if fd is not None else os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._key = key
        self._seq = 0

    def write(self, record: Record | dict[str, Any]) -> None:
        if self._key:
            # Signed and numbered: a line the code under test writes to this pipe cannot pass for ours.
            data = signed_line(self._key, self._seq, record)
            self._seq += 1
        else:
            data = (json.dumps(record, default=str) + "\n").encode("utf-8", "replace")
        while data:  # a signal (pytest-timeout's alarm) can cut a large write to a pipe short
            written = _os_write(self._fd, data)
            data = data[written:]


# --- the boot configuration ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootConfig:
    """What the harness hands the boot of a graded process (as JSON in BOOT_VARIABLE)."""

    shim: str  # the folder holding the boot script and the trusted `concgrade` package
    pythonpath: list[str] = field(default_factory=list)  # the implementation's path, added once pytest is loaded
    preload: list[str] = field(default_factory=list)  # pytest and its plugins, imported before any task code
    rlimits: dict[str, list[int]] = field(default_factory=dict)
    watchdog_factor: float = 2.0  # the per-test faulthandler exit, in test timeouts
    records_fd: int | None = None
    key_fd: int | None = None
    stacks_fd: int | None = None
    cgroup_procs: list[str] = field(default_factory=list)
    marker_variable: str | None = None
    # "" runs pytest; else a harness program of PROGRAMS, run in pytest's place with the same start.
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
    """The cross-process probe's switch (JSON in PROCESS_PROBE_VARIABLE): its events folder and targets."""

    events_dir: str
    targets: tuple[str, ...]

    def to_env(self) -> str:
        return json.dumps({"events": self.events_dir, "targets": list(self.targets)})

    @staticmethod
    def from_env(text: str | None) -> ProbeConfig | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return ProbeConfig(str(data["events"]), tuple(str(t) for t in data.get("targets", [])))
        except (ValueError, KeyError, TypeError):
            return None
