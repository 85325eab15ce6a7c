"""Cross-process probe: active calls of `module:function` targets and live worker processes, in every interpreter.

Patching in the parent reaches fork children only; spawn and forkserver children re-import. So
every interpreter of a run that has the environment variable (it is inherited) wraps the targets
when their module is imported (through `sitecustomize`, see `concgrade/site/`), and each process
appends its events to its own file with one unbuffered `os.write` (atexit never runs in pool
workers). The reader merges the files by CLOCK_MONOTONIC, shared by every process of the machine.

Runs inside the process under test: standard library only.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from concgrade.inside.disguise import quiet_wraps
from concgrade.inside.protocol import PROBE_FILE, PROCESS_PROBE_VARIABLE, ProbeConfig

TIMELINE_LIMIT = 20_000

# Event kinds, one line each: "<kind> <monotonic ns> <pid> <rest>".
CALL_START, CALL_END = "S", "F"  # rest: target [ok|err]
PROCESS_BEGIN, PROCESS_END, PROCESS_REAPED = "B", "E", "R"  # R is written by the parent: rest = child pid


def split_target(target: str) -> tuple[str, str]:
    """`module:qualname`, or `module.function` (the last dot splits), into (module, attribute path)."""
    module, sep, attribute = target.partition(":")
    if not sep:
        module, _, attribute = target.rpartition(".")
    if not module or not attribute:
        raise ValueError(f"probe target {target!r} must be 'module:function' or 'module.function'")
    return module, attribute


_pid = os.getpid()  # kept current across forks below: os.getpid() is a system call on every event otherwise


def _after_fork_in_child() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


class EventLog:
    """This process's own events file; a forked child notices the new pid and opens its own."""

    def __init__(self, events_dir: str) -> None:
        self.events_dir = events_dir
        self._pid = -1
        self._fd = -1
        self._lock = threading.Lock()

    def write(self, kind: str, rest: str = "") -> None:
        try:
            if self._pid != _pid:
                self._open(_pid)
            os.write(self._fd, f"{kind} {time.monotonic_ns()} {_pid} {rest}\n".encode())
        except OSError:
            pass  # the events folder is gone (the run or test is over): the probe must never break the code

    def _open(self, pid: int) -> None:
        with self._lock:
            if pid == self._pid:
                return
            path = os.path.join(self.events_dir, f"{pid}-{time.monotonic_ns()}.events")
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._pid = pid


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Runs callbacks on a module right after it is executed, the first time it is imported."""

    def __init__(self) -> None:
        self.callbacks: dict[str, list[Callable[[Any], None]]] = {}

    def watch(self, name: str, callback: Callable[[Any], None]) -> None:
        module = sys.modules.get(name)
        if module is not None:
            callback(module)
        else:
            self.callbacks.setdefault(name, []).append(callback)

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.callbacks:
            return None
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = NotifyingLoader(spec.loader, self.callbacks.pop(name))
        return spec


class NotifyingLoader(importlib.abc.Loader):
    """A loader that delegates to the real one and then runs the watcher's callbacks."""

    def __init__(self, loader: Any, callbacks: list[Callable[[Any], None]]) -> None:
        self._loader = loader
        self._callbacks = callbacks

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        for callback in self._callbacks:
            try:
                callback(module)
            except Exception:  # a probe that cannot attach must not break the import
                pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ProcessProbeState:
    """What one interpreter has switched on: its events log and the targets it wraps."""

    def __init__(self, events_dir: str) -> None:
        self.log = EventLog(events_dir)
        self.events_dir = events_dir
        self.targets: dict[str, Any] = {}  # target -> the Patch that wraps it (None until its module loads)
        self.watcher = ImportWatcher()
        sys.meta_path.insert(0, self.watcher)
        self.watcher.watch("multiprocessing.process", self._wrap_bootstrap)
        self.watcher.watch("multiprocessing.popen_fork", self._wrap_poll)
        self.watcher.watch("multiprocessing.popen_forkserver", self._wrap_poll)

    def add_target(self, target: str) -> None:
        if target in self.targets:
            return
        module_name, attribute = split_target(target)
        self.targets[target] = None
        self.watcher.watch(module_name, lambda module: self._wrap_target(target, module, attribute))

    def remove_target(self, target: str) -> None:
        patch = self.targets.pop(target, None)
        if patch is not None:
            patch.undo()

    def _wrap_target(self, target: str, module: Any, attribute: str) -> None:
        from concgrade.inside.probe import Patch

        *path, name = attribute.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)
        if getattr(original, "__concgrade_target__", None) == target or target not in self.targets:
            return
        self.targets[target] = Patch(owner, name, original, self.wrap_call(target, original))

    def wrap_call(self, target: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A wrapper writing a start and an end event around each call (coroutine functions stay coroutines)."""
        import inspect

        write = self.log.write
        if inspect.iscoroutinefunction(fn):

            @quiet_wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                write(CALL_START, target)
                status = "err"
                try:
                    result = await fn(*args, **kwargs)
                    status = "ok"
                    return result
                finally:
                    write(CALL_END, f"{target} {status}")

            async_wrapper.__concgrade_target__ = target  # type: ignore[attr-defined]
            return async_wrapper

        @quiet_wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            write(CALL_START, target)
            status = "err"
            try:
                result = fn(*args, **kwargs)
                status = "ok"
                return result
            finally:
                write(CALL_END, f"{target} {status}")

        wrapper.__concgrade_target__ = target  # type: ignore[attr-defined]
        return wrapper

    def _wrap_bootstrap(self, module: Any) -> None:
        """Every multiprocessing child (Process, Pool and executor workers, any start method) runs _bootstrap."""
        cls = module.BaseProcess
        original = cls.__dict__["_bootstrap"]
        if getattr(original, "__concgrade__", False):
            return
        write = self.log.write

        @quiet_wraps(original)
        def _bootstrap(process: Any, *args: Any, **kwargs: Any) -> Any:
            write(PROCESS_BEGIN)
            try:
                return original(process, *args, **kwargs)
            finally:
                write(PROCESS_END)  # missing when the worker is killed: the parent's reap ends it then

        _bootstrap.__concgrade__ = True  # type: ignore[attr-defined]
        cls._bootstrap = _bootstrap

    def _wrap_poll(self, module: Any) -> None:
        """The parent's reap of a child ends its life where the child could not say so (SIGTERM, os._exit)."""
        cls = module.Popen
        original = cls.__dict__.get("poll")
        if original is None or getattr(original, "__concgrade__", False):
            return
        write = self.log.write

        @quiet_wraps(original)
        def poll(popen: Any, *args: Any, **kwargs: Any) -> Any:
            before = popen.returncode
            result = original(popen, *args, **kwargs)
            if before is None and popen.returncode is not None:
                write(PROCESS_REAPED, str(popen.pid))
            return result

        poll.__concgrade__ = True  # type: ignore[attr-defined]
        cls.poll = poll


_state: ProcessProbeState | None = None


def activate(config: ProbeConfig) -> ProcessProbeState:
    """Switch the probe on in this interpreter (idempotent); later calls only add targets."""
    global _state
    if _state is None:
        _state = ProcessProbeState(config.events_dir)
        # A forked child keeps the parent's wrappers and state; its EventLog notices the new pid.
    for target in config.targets:
        _state.add_target(target)
    return _state


def graded_config() -> ProbeConfig | None:
    """In a graded run: the shim's probe file (beside the start-up hook), with the targets tests added since."""
    try:
        with open(os.path.join(PACKAGE_PARENT, PROBE_FILE), encoding="utf-8") as handle:
            config = ProbeConfig.from_env(handle.read())
    except OSError:
        return None
    if config is None or not config.more:
        return config
    try:
        with open(config.more, encoding="utf-8") as handle:
            added = tuple(line.strip() for line in handle if line.strip())
    except OSError:
        added = ()
    return ProbeConfig(config.events_dir, tuple(dict.fromkeys([*config.targets, *added])), config.more)


def activate_from_environment() -> ProcessProbeState | None:
    """What `sitecustomize` calls at interpreter start: switch on if the run asked for it."""
    config = graded_config() or ProbeConfig.from_env(os.environ.get(PROCESS_PROBE_VARIABLE))
    if config is None or not os.path.isdir(config.events_dir):
        return None
    if not config.targets:
        return None
    return activate(config)


def current_state() -> ProcessProbeState | None:
    return _state


def restart_forkserver() -> None:
    """A running fork server holds the environment it started with; stop it so the next one inherits ours."""
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        stop = getattr(server, "_stop", None)
        if stop is not None:
            try:
                stop()
            except OSError:
                pass


# --- reading and merging (pure, apart from EventReader reading files) ---------------------------------------


@dataclass(frozen=True)
class Event:
    time_ns: int
    kind: str
    pid: int
    rest: str


def parse_events(text: str) -> list[Event]:
    """Events of one file; a line cut short (a process killed mid-write) is dropped."""
    events = []
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or not parts[1].isdigit() or not parts[2].isdigit():
            continue
        events.append(Event(int(parts[1]), parts[0], int(parts[2]), parts[3] if len(parts) > 3 else ""))
    return events


class EventReader:
    """Reads every process's events file incrementally (only what was appended since the last read)."""

    def __init__(self, events_dir: str) -> None:
        self.events_dir = events_dir
        self._offsets: dict[str, int] = {}
        self.events: list[Event] = []

    def refresh(self) -> list[Event]:
        try:
            names = sorted(os.listdir(self.events_dir))
        except OSError:
            return self.events
        for name in names:
            path = os.path.join(self.events_dir, name)
            offset = self._offsets.get(name, 0)
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except OSError:
                continue
            complete = data.rfind(b"\n") + 1  # a line still being written is read next time
            self._offsets[name] = offset + complete
            self.events.extend(parse_events(data[:complete].decode("utf-8", "replace")))
        return self.events


def _sweep(deltas: list[tuple[int, int]], start: int, end: int) -> tuple[int, list[tuple[float, int]], bool]:
    """Peak of a running count within [start, end] and its timeline; ends sort before starts at equal times."""
    deltas.sort(key=lambda item: (item[0], item[1]))
    value, peak, truncated = 0, 0, False
    timeline: list[tuple[float, int]] = []
    entered = False
    for time_ns, delta in deltas:
        if time_ns > end:
            break
        if time_ns >= start and not entered:
            entered = True
            peak = value  # what was already running when the window opened
        value += delta
        if time_ns >= start:
            peak = max(peak, value)
            if len(timeline) < TIMELINE_LIMIT:
                timeline.append((round((time_ns - start) / 1e9, 6), value))
            else:
                truncated = True
    if not entered:
        peak = value
    return peak, timeline, truncated


def process_intervals(events: Sequence[Event]) -> list[tuple[int, int]]:
    """(begin, end) of every multiprocessing child; a child never seen to end is still alive."""
    begins: dict[int, list[int]] = {}
    ends: dict[int, list[int]] = {}
    for event in events:
        if event.kind == PROCESS_BEGIN:
            begins.setdefault(event.pid, []).append(event.time_ns)
        elif event.kind == PROCESS_END:
            ends.setdefault(event.pid, []).append(event.time_ns)
        elif event.kind == PROCESS_REAPED and event.rest.strip().isdigit():
            ends.setdefault(int(event.rest.strip()), []).append(event.time_ns)
    intervals = []
    for pid, starts in begins.items():
        stops = sorted(ends.get(pid, []))
        for begin in sorted(starts):  # a pid can be reused: each life ends at the first end after its start
            end = next((stop for stop in stops if stop >= begin), None)
            if end is not None:
                stops.remove(end)
            intervals.append((begin, end if end is not None else sys.maxsize))
    return intervals


def process_figures(
    events: Iterable[Event], target: str, label: str, start_ns: int, end_ns: int, parent_pid: int | None = None
) -> dict[str, Any]:
    """The figures of one target over [start_ns, end_ns]: calls across every process, and live children.

    Calls made in `parent_pid` (the test process itself) count as calls, not as a worker process.
    """
    events = list(events)
    calls, errors, workers, call_deltas = 0, 0, set(), []
    for event in events:
        if event.kind == CALL_START and event.rest == target:
            call_deltas.append((event.time_ns, 1))
            if start_ns <= event.time_ns <= end_ns:
                calls += 1
                if event.pid != parent_pid:
                    workers.add(event.pid)
        elif event.kind == CALL_END and event.rest.rsplit(" ", 1)[0] == target:
            call_deltas.append((event.time_ns, -1))
            if start_ns <= event.time_ns <= end_ns and event.rest.endswith(" err"):
                errors += 1
    max_active, timeline, truncated = _sweep(call_deltas, start_ns, end_ns)
    intervals = [(b, e) for b, e in process_intervals(events) if b <= end_ns and e >= start_ns]
    process_deltas = [(b, 1) for b, _ in intervals] + [(e, -1) for _, e in intervals if e != sys.maxsize]
    max_processes, process_timeline, process_truncated = _sweep(process_deltas, start_ns, end_ns)
    return {
        "label": label,
        "kind": "processes",
        "target": target,
        "max_active": max_active,
        "calls": calls,
        "errors": errors,
        "worker_pids": len(workers),
        "max_processes": max_processes,
        "processes_started": sum(1 for b, _ in intervals if b >= start_ns),
        "processes_alive_at_end": sum(1 for _, e in intervals if e > end_ns),
        "timeline": timeline,
        "timeline_truncated": truncated or process_truncated,
        "process_timeline": process_timeline,
    }


class ProcessProbe:
    """One target's figures across every process since the probe started; read live or at the end."""

    def __init__(self, reader: EventReader, target: str, label: str | None = None) -> None:
        self._reader = reader
        self.target = target
        self.label = label or target
        self.start_ns = time.monotonic_ns()
        self.end_ns: int | None = None

    def stop(self) -> None:
        if self.end_ns is None:
            self.end_ns = time.monotonic_ns()

    def figures(self) -> dict[str, Any]:
        end = self.end_ns if self.end_ns is not None else time.monotonic_ns()
        return process_figures(self._reader.refresh(), self.target, self.label, self.start_ns, end, os.getpid())

    def alive_now(self) -> int:
        """Children started since the probe began and not seen to end (running, or killed and not reaped)."""
        now = time.monotonic_ns()
        intervals = process_intervals(self._reader.refresh())
        return sum(1 for b, e in intervals if self.start_ns <= b <= now and e > now)

    @property
    def max_active(self) -> int:
        return int(self.figures()["max_active"])

    @property
    def calls(self) -> int:
        return int(self.figures()["calls"])

    @property
    def max_processes(self) -> int:
        return int(self.figures()["max_processes"])

    @property
    def worker_pids(self) -> int:
        return int(self.figures()["worker_pids"])

    @property
    def processes_started(self) -> int:
        return int(self.figures()["processes_started"])


# --- switching the probe on from inside a test (the fixture) ------------------------------------------------

STARTUP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "startup")
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_readers: dict[str, EventReader] = {}


def reader_for(events_dir: str) -> EventReader:
    """One incremental reader per events folder and process."""
    if events_dir not in _readers:
        _readers[events_dir] = EventReader(events_dir)
    return _readers[events_dir]


def start_probe(target: str, label: str | None = None) -> tuple[ProcessProbe, Callable[[], None]]:
    """Probe `target` in this process and in every child started from now on; returns the probe and its undo.

    Children inherit the switch through the environment: the start-up hook's folder goes on
    PYTHONPATH (spawn and forkserver children re-import), and a running fork server is restarted
    so that it inherits the new environment too.
    """
    import tempfile

    split_target(target)  # a malformed target fails here, in the test, with a clear message
    graded = graded_config()
    if graded is not None and graded.more and os.path.isdir(graded.events_dir):
        return _start_graded_probe(graded, target, label)
    saved = {name: os.environ.get(name) for name in (PROCESS_PROBE_VARIABLE, "PYTHONPATH")}
    config = ProbeConfig.from_env(os.environ.get(PROCESS_PROBE_VARIABLE))
    if _state is not None:
        events_dir = _state.events_dir
    elif config is not None and os.path.isdir(config.events_dir):
        events_dir = config.events_dir
    else:
        import atexit
        import shutil

        events_dir = tempfile.mkdtemp(prefix="concgrade-events-")
        owner = os.getpid()

        # This process's own folder, removed when it exits (not when a forked child inheriting atexit does).
        def remove_own_folder() -> None:
            if os.getpid() == owner:
                shutil.rmtree(events_dir, ignore_errors=True)

        atexit.register(remove_own_folder)
    targets = tuple(dict.fromkeys([*(config.targets if config else ()), target]))
    added = _state is None or target not in _state.targets
    os.environ[PROCESS_PROBE_VARIABLE] = ProbeConfig(events_dir, targets).to_env()
    path = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([STARTUP_DIR, PACKAGE_PARENT, *path]))
    restart_forkserver()
    state = activate(ProbeConfig(events_dir, (target,)))
    probe = ProcessProbe(reader_for(events_dir), target, label)

    def undo() -> None:
        probe.stop()
        if added:
            state.remove_target(target)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        restart_forkserver()

    return probe, undo


def _start_graded_probe(config: ProbeConfig, target: str, label: str | None) -> tuple[ProcessProbe, Callable[[], None]]:
    """In a graded run the switch is a file: the target is added to it, and no variable of the harness is set."""
    added = target not in config.targets
    if added:
        with open(config.more, "a", encoding="utf-8") as handle:
            handle.write(target + "\n")
    restart_forkserver()
    state = activate(ProbeConfig(config.events_dir, (target,)))
    probe = ProcessProbe(reader_for(config.events_dir), target, label)

    def undo() -> None:
        probe.stop()
        if added:
            state.remove_target(target)
            try:
                with open(config.more, encoding="utf-8") as handle:
                    lines = [line for line in handle if line.strip() != target]
                with open(config.more, "w", encoding="utf-8") as handle:
                    handle.writelines(lines)
            except OSError:
                pass
        restart_forkserver()

    return probe, undo
