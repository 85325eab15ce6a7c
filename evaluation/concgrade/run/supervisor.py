"""Runs one graded process to its end, whatever it does: wall clock, deadlocks, stacks, watchdog, the whole tree killed."""

from __future__ import annotations

import dataclasses
import fcntl
import os
import platform
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.errors import RunError
from concgrade.inside import protocol
from concgrade.inside.protocol import MARKER_VARIABLE, BootConfig
from concgrade.run import proctree
from concgrade.run.cgroups import RunCgroup
from concgrade.run.channel import OutputTail, RecordChannel
from concgrade.run.kill import NO_ROOT, end_everything, kill_all, leftover_processes
from concgrade.run.outputs import AttemptOutput
from concgrade.run.readers import read_json, read_text
from concgrade.run.sandbox import Sandbox
from concgrade.run.scratch import RunPaths

OUTPUT_TAIL = 16 * 1024
WATCH_INTERVAL = 0.1
# A deadlock is every thread of every process of the run parked in a wait without a timeout (a lock, a
# condition, a queue, a join: futex waits) and no CPU used, look after look, like Go's "all goroutines are
# asleep": nothing could ever wake them. It is confirmed by a last look after a moment before the process ends.
LOOK_INTERVAL = 0.25
DEADLOCK_LOOKS = 6
# Once its session has finished, a process still running is hung when it is deadlocked (as above) or when,
# whatever it does, it outlives EXIT_GRACE_BUSY: threads in timed waits (an idle pool's workers, a lingering
# reporter) are given that long to finish on their own.
EXIT_GRACE = 2.0  # on machines where threads' waits cannot be read: no progress for this long after the session
EXIT_GRACE_BUSY = 30.0
IDLE_INTERVAL = 0.5
IDLE_CHECKS = 2
STACKS_GRACE = 1.0
READER_GRACE = 1.0
# The plugin ends a test's process with faulthandler at this many times the test's timeout.
WATCHDOG_FACTOR = 2.0


@dataclass
class Watch:
    """Shared state of one supervised process (written by reader and watchdog threads)."""

    wake: threading.Event = field(default_factory=threading.Event)
    exited: bool = False
    session_finished_at: float | None = None
    watchdog_breach: str = ""
    # The thread the plugin's per-test faulthandler watchdog waits in (its innermost-namespace id and start time,
    # from the signed channel): a timed wait of the harness's own, left out of the deadlock check.
    watchdog_thread: tuple[int, int] | None = None


def describe_exit(code: int | None, wrapped: bool) -> str:
    if code is None:
        return "still running (killed by concgrade)"
    if code < 0:
        return f"killed by signal {-code} ({signal_name(-code)})"
    if wrapped and code > 128:  # the namespace's first process reports a signal as 128 + its number
        return f"killed by signal {code - 128} ({signal_name(code - 128)}), status {code}"
    return f"exited with status {code}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


@dataclass(frozen=True)
class Launch:
    """One graded process to start: its interpreter, folders, environment and boot configuration."""

    interpreter: str
    paths: RunPaths
    env: dict[str, str]
    config: BootConfig  # the channel's descriptors, the marker and the namespace are filled in by `supervise`
    node_ids: list[str]
    json_report: Path | None = None
    uid: int | None = None
    cwd: Path | None = None  # the task copy, unless the task's command runs in an implementation's folder


def supervise(
    index: int,
    launch: Launch,
    sandbox: Sandbox,
    run_timeout: float,
    exit_grace: float,
    on_start: Callable[[], None] | None = None,
) -> AttemptOutput:
    """Start the boot in the sandbox and hold it until it ends, or end it; then clear up everything.
    `on_start` is called once the process runs (work meant to share the machine with it)."""
    watch = Watch()
    marker = uuid.uuid4().hex
    cgroup = RunCgroup.create(sandbox.cgroups, sandbox.limits.memory_bytes, sandbox.limits.max_tasks)

    def on_record(record: dict[str, Any]) -> None:  # the records the supervisor acts on as they arrive
        if record.get("type") == "session_finish":
            watch.session_finished_at = time.monotonic()
            watch.wake.set()
        elif record.get("type") == "watchdog_thread":
            tid, started = record.get("tid"), record.get("started")
            watch.watchdog_thread = (tid, started) if isinstance(tid, int) and isinstance(started, int) else None

    channel = RecordChannel(on_record)
    paths = launch.paths
    stacks_path = paths.scratch / f"s{index}.txt"
    stacks_fd = os.open(stacks_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    env = dict(launch.env)
    if not sandbox.namespaced:  # without a PID namespace, the run's processes are found by this variable
        env[MARKER_VARIABLE] = marker
    config = dataclasses.replace(
        launch.config,
        records_fd=channel.child.records_write,
        stacks_fd=stacks_fd,
        marker_variable=None if sandbox.namespaced else MARKER_VARIABLE,
        private_proc=sandbox.mounts is not None,
    )
    boot_read = handover_pipe(protocol.handover(channel.key, config))
    inner = [launch.interpreter, str(paths.boot_script), str(boot_read)]
    cwd = launch.cwd or paths.task_copy
    full_command = sandbox.command(inner, paths.scratch, paths.shim, cwd, cgroup.procs_files(), launch.uid)
    started = time.monotonic()
    pass_fds = (channel.child.records_write, boot_read, stacks_fd)
    try:
        process, stdout, stderr = start_process(full_command, cwd, env, pass_fds)
    finally:
        os.close(stacks_fd)
        os.close(boot_read)
        channel.start()  # closes the child's end of the channel: from here on, only the child holds it
    if process is None:
        channel.finish(READER_GRACE)
        cgroup.kill_and_remove()
        raise RunError(f"could not start {full_command[0]}: {stderr}")
    marker_bytes = f"{MARKER_VARIABLE}={marker}".encode()
    if on_start is not None:
        on_start()

    watch_process(process, marker_bytes, sandbox, watch)
    ended_by = wait_for_end(watch, started + run_timeout, exit_grace, lambda: pytest_process(process.pid, inner))
    if ended_by in ("wall_clock", "hung_after_session", "deadlock"):
        request_stacks(process.pid, inner, stacks_path)
    leftovers = []
    if ended_by == "exit" and not sandbox.namespaced:
        leftovers = leftover_processes(NO_ROOT, marker_bytes, cgroup.pids())
    end_everything(process, marker_bytes, cgroup.pids(), reaped=watch.exited)
    duration = time.monotonic() - started
    records = channel.finish(READER_GRACE)
    stdout.reader.stop(READER_GRACE)
    stderr.reader.stop(READER_GRACE)
    breaches = cgroup.breaches()
    cgroup.kill_and_remove()
    if watch.watchdog_breach:
        breaches.append(watch.watchdog_breach)
    exit_code = process.returncode if ended_by == "exit" or ended_by == "watchdog" else None
    stacks = read_text(stacks_path)
    if ended_by == "exit" and stacks.startswith("Timeout ("):
        ended_by = "faulthandler"  # the plugin's per-test watchdog ended a test that outlived twice its timeout
    breaches += exit_breaches(exit_code, sandbox)
    report = read_json(launch.json_report) if launch.json_report is not None else None
    return AttemptOutput(
        index=index,
        command=full_command,
        node_ids=list(launch.node_ids),
        exit_code=exit_code,
        exit_description=describe_exit(exit_code, sandbox.namespaced),
        ended_by=ended_by,
        duration=duration,
        records=records.records,
        json_report=report.data if report is not None else None,
        json_report_problem=report.problem if report is not None else "",
        stdout_tail=stdout.text(),
        stderr_tail=stderr.text(),
        output_bytes=stdout.total + stderr.total,
        stacks=stacks,
        forged_lines=records.forged,
        dropped_records=records.dropped,
        lost_records=records.lost,
        limit_breaches=breaches,
        leftovers=[*leftovers, *exit_leftovers(records.records)],
    )


def handover_pipe(data: bytes) -> int:
    """A pipe holding the boot's key and configuration, its write end closed; the read end to pass on."""
    read_end, write_end = os.pipe()
    try:
        if len(data) > 60_000 and hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view) :]
    finally:
        os.close(write_end)
    return read_end


def watch_process(process: subprocess.Popen[bytes], marker: bytes, sandbox: Sandbox, watch: Watch) -> None:
    """Threads that wake the supervisor when the process exits, and (without cgroups) watch its memory and threads."""

    def wait_for_exit() -> None:
        process.wait()
        watch.exited = True
        watch.wake.set()

    threading.Thread(target=wait_for_exit, name="concgrade-wait", daemon=True).start()
    if sandbox.watch_memory or sandbox.watch_tasks:
        args = (process.pid, marker, sandbox, watch)
        threading.Thread(target=watch_tree, args=args, name="concgrade-watchdog", daemon=True).start()


def start_process(
    command: list[str], cwd: Path, env: dict[str, str], pass_fds: tuple[int, ...]
) -> tuple[subprocess.Popen[bytes] | None, Any, Any]:
    """Start the run's first process in a session of its own, its output read into bounded tails.

    Returns (process, stdout tail, stderr tail), or (None, None, why) when it cannot be started.
    """
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_write,
            stderr=err_write,
            pass_fds=pass_fds,
            start_new_session=True,
        )
    except OSError as exc:
        for fd in (out_read, err_read):
            os.close(fd)
        return None, None, exc.strerror or str(exc)
    finally:
        os.close(out_write)
        os.close(err_write)
    stdout = OutputTail(out_read, OUTPUT_TAIL, "concgrade-stdout")
    stderr = OutputTail(err_read, OUTPUT_TAIL, "concgrade-stderr")
    stdout.reader.start()
    stderr.reader.start()
    return process, stdout, stderr


def wait_for_end(watch: Watch, deadline: float, exit_grace: float, find_pytest: Callable[[], int | None]) -> str:
    """Block until the process exits, its wall clock runs out, it deadlocks (during its session or after it),
    it outlives its session by too long, or the watchdog fires."""
    looks = WaitLooks(find_pytest, watchdog=lambda: watch.watchdog_thread)
    idle = IdleTracker(find_pytest)
    while True:
        watch.wake.clear()
        if watch.exited:
            return "exit"
        if watch.watchdog_breach:
            return "watchdog"
        now = time.monotonic()
        if now >= deadline:
            return "wall_clock"
        deadlocked = looks.deadlocked()
        if watch.session_finished_at is not None:
            since = now - watch.session_finished_at
            if since >= EXIT_GRACE_BUSY or deadlocked:
                return "hung_after_session"
            if looks.unknown and since >= exit_grace and idle.stuck():
                return "hung_after_session"  # threads' waits cannot be read here: no progress is all there is
        elif deadlocked and looks.confirm():
            return "deadlock"
        watch.wake.wait(max(0.0, min(deadline, now + LOOK_INTERVAL) - now))


class WaitLooks:
    """Looks at what every thread of the run waits for, LOOK_INTERVAL apart: is it deadlocked?

    `watchdog` names the thread of the plugin's faulthandler watchdog (its innermost-namespace id and start
    time): it always waits with a timeout, and would otherwise hide every deadlock during a test. Only that one
    thread of the test process, and only while it is in a timed wait, is left out; once it has ended, a thread
    given its id later has another start time."""

    def __init__(
        self,
        find_pytest: Callable[[], int | None],
        machine: str | None = None,
        watchdog: Callable[[], tuple[int, int] | None] = lambda: None,
    ) -> None:
        self.find_pytest = find_pytest
        self.watchdog = watchdog
        self.machine = machine or platform.machine()
        self.unknown = self.machine not in proctree.SYSCALLS
        self.pid: int | None = None
        self.last_ticks: int | None = None
        self.asleep = 0

    def look(self) -> tuple[bool, int] | None:
        """(every thread of the run in an untimed wait, CPU ticks so far), or None if there is nothing to see."""
        self.pid = self.pid or self.find_pytest()
        if self.pid is None or self.unknown:
            return None
        waits: list[proctree.ThreadWait] = []
        for pid in [self.pid, *proctree.children_tree(self.pid)]:
            found = proctree.thread_waits(pid, self.machine)
            if found is None and pid == self.pid:
                return None  # the process is exiting right now
            waits += self.without_watchdog(found) if pid == self.pid and found else found or []
        return bool(waits) and all(w.kind == "untimed" for w in waits), sum(w.ticks for w in waits)

    def without_watchdog(self, waits: list[proctree.ThreadWait]) -> list[proctree.ThreadWait]:
        watchdog = self.watchdog()
        if watchdog is None or self.pid is None:
            return waits
        tid, started = watchdog
        for wait in waits:
            if wait.kind == "timed" and wait.started == started and proctree.innermost_tid(self.pid, wait.tid) == tid:
                return [other for other in waits if other is not wait]
        return waits

    def deadlocked(self) -> bool:
        seen = self.look()
        if seen is None:
            self.asleep = 0
            return False
        asleep, ticks = seen
        self.asleep = (self.asleep + 1 if ticks == self.last_ticks else 1) if asleep else 0
        self.last_ticks = ticks
        return self.asleep >= DEADLOCK_LOOKS

    def confirm(self) -> bool:
        """Still asleep a moment later."""
        time.sleep(LOOK_INTERVAL)
        seen = self.look()
        return seen is not None and seen[0]


class IdleTracker:
    """Tells a process that is blocked (no CPU used, nothing runnable, look after look) from one that is slow."""

    def __init__(self, find_pytest: Callable[[], int | None]) -> None:
        self.find_pytest = find_pytest
        self.pid: int | None = None
        self.last: int | None = None
        self.idle_looks = 0

    def stuck(self) -> bool:
        self.pid = self.pid or self.find_pytest()
        now = proctree.activity(self.pid) if self.pid is not None else None
        if now is None:
            return False  # exiting right now: the next wake-up will see it gone
        ticks, running = now
        # Children count too: a process waiting at exit for its pool's workers to finish is not hung.
        for child in proctree.descendants(self.pid or 0, proctree.snapshot()):
            more = proctree.activity(child.pid)
            if more is not None:
                ticks, running = ticks + more[0], running or more[1]
        self.idle_looks = self.idle_looks + 1 if (ticks == self.last and not running) else 0
        self.last = ticks
        return self.idle_looks >= IDLE_CHECKS


def pytest_process(root: int, command: list[str]) -> int | None:
    """The host pid of the process running `command` (under unshare or bwrap it is a descendant of `root`)."""
    processes = proctree.snapshot()
    for info in [processes.get(root), *proctree.descendants(root, processes)]:
        if info is not None and info.command.startswith(" ".join(command[:2])):
            return info.pid
    return None


def request_stacks(root: int, command: list[str], stacks_path: Path) -> None:
    """Ask the pytest process for every thread's stack (faulthandler on SIGUSR1) and give it a moment to write."""
    pid = pytest_process(root, command)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGUSR1)
    except (ProcessLookupError, PermissionError):
        return
    # faulthandler writes from the signal handler itself, GIL or not; stop once the file stops growing.
    deadline, size = time.monotonic() + STACKS_GRACE, -1
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = stacks_path.stat().st_size if stacks_path.exists() else 0
        if now and now == size:
            break
        size = now


def exit_leftovers(records: list[dict[str, Any]]) -> list[str]:
    """Leftovers the boot found at the very end of the interpreter (the only way to see them inside a namespace)."""
    record = protocol.first_of(records, "exit_leftovers")
    return [str(item) for item in record.get("processes", [])] if record else []


def exit_breaches(exit_code: int | None, sandbox: Sandbox) -> list[str]:
    if exit_code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
        return [f"cpu: the process used its {sandbox.limits.cpu_seconds} s of CPU time (RLIMIT_CPU)"]
    return []


def watch_tree(root: int, marker: bytes, sandbox: Sandbox, watch: Watch) -> None:
    """Without cgroups: poll the memory and thread count of the run's processes and end the run over a limit."""
    limits = sandbox.limits
    while not watch.exited:
        processes = [info for info in proctree.run_processes(root, marker) if info.state != "Z"]
        memory = sum(info.rss_bytes for info in processes)
        tasks = sum(info.threads for info in processes)
        breach = ""
        if sandbox.watch_memory and memory > limits.memory_bytes:
            breach = (
                f"memory: the run's processes used {memory // 2**20} MiB, over its limit of "
                f"{limits.memory_bytes // 2**20} MiB (watchdog)"
            )
        elif sandbox.watch_tasks and tasks > limits.max_tasks:
            breach = f"processes/threads: the run had {tasks} tasks, over its limit of {limits.max_tasks} (watchdog)"
        if breach:
            kill_all(info.pid for info in processes)
            watch.watchdog_breach = breach
            watch.wake.set()
            return
        time.sleep(WATCH_INTERVAL)
