"""The trusted start of every graded process: limits, the secret channel, the audit hook and pytest, before any task code.

The harness starts `python SHIM/main.py FD` with only the shim on PYTHONPATH: the key of the records channel
and the configuration (pytest's arguments among it) arrive on the pipe FD, so neither the environment nor
the command line of the process names the harness. Before the implementation's folders are put on the path,
this sets resource limits, imports pytest, its plugins and concgrade's plugin (so that nothing in an
implementation folder, such as `sitecustomize.py` or a module named `pytest`, can stand in for them), makes the
channel's writer, and installs the audit hook that contains the implementation (inside/containment.py). It then
runs pytest as `python -m pytest` would, with the task's path in place and `sys.argv` showing only the task's
own arguments. The run's cgroups were joined, and its user dropped, by the wrappers that start this process.
Dependency-free: it imports only the standard library, pytest and concgrade's plugin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from concgrade.inside import protocol
from concgrade.inside.protocol import BENCH_PROGRAM, PROGRAMS, STDLIB_HELPERS, BootConfig


def set_limits(limits: dict[str, list[int]]) -> None:
    try:
        import resource
    except ImportError:  # not a POSIX system: nothing to set
        return
    for name, (soft, hard) in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            print(f"concgrade: could not set {name}: {exc}", file=sys.stderr)


def preload(modules: list[str]) -> None:
    """Import pytest, its plugins and concgrade's plugin while the path holds only trusted folders."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken installed plugin is pytest's to report, not ours
            pass


def task_path(cwd: str, shim: str, entries: list[str]) -> None:
    """The path `python -m pytest` would have had: the working folder first, then PYTHONPATH's entries."""
    sys.path[0] = cwd  # was this script's folder, the shim, which is also the next entry
    position = sys.path.index(shim, 1) + 1 if shim in sys.path[1:] else 1
    sys.path[position:position] = entries
    # The tests read the variable as their command set it (`Path(os.environ["PYTHONPATH"]) / "x.py"` is a
    # common toggle), so os.environ holds the task's entries alone; the processes they start inherit the
    # process environment, which also names the shim, whose sitecustomize starts their file watch.
    if entries:
        os.environ["PYTHONPATH"] = os.pathsep.join(entries)
    else:
        os.environ.pop("PYTHONPATH", None)
    os.putenv("PYTHONPATH", os.pathsep.join([shim, *entries]))


def host_pid() -> int:
    """This process's pid as /proc (mounted for the host) knows it, also from inside a PID namespace."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def ancestors(pid: int) -> set[int]:
    found = set()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
            pid = int(stat[stat.rfind(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def pid_namespace(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def stray_processes(marker: bytes | None, private_proc: bool = False) -> list[tuple[int, str]]:
    """Living processes of the run other than this one and the wrappers above it.

    With a /proc of the run's own PID namespace, every other process it lists is one (but the namespace's
    first process, bubblewrap's); in a PID namespace under the host's /proc, every process of that namespace
    (even one that cleared its environment); elsewhere, those that carry the run's marker variable.
    """
    me = host_pid()
    mine = ancestors(me) | ({1} if private_proc else set())
    namespace = pid_namespace("self")
    # Inside a namespace of its own, this process's pid differs from the one /proc (the host's) shows. Never
    # judge by comparing with /proc/1: reading its namespace can be refused, and then every process looks "ours".
    private = private_proc or (bool(namespace) and os.getpid() != me)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            if not (private_proc or (private and pid_namespace(entry) == namespace)):
                if marker is None:
                    continue
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if marker not in handle.read().split(b"\0"):
                        continue
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if stat[stat.rfind(")") + 2 :].split()[0] == "Z" or any(helper in command for helper in STDLIB_HELPERS):
            continue  # dead, or the standard library's helper that ends with this process
        found.append((int(entry), command[:200]))
    return found


def report_at_exit(config: BootConfig, write: Callable[[Any], None] | None, drain: Callable[[], list[Any]]) -> None:
    """At the very end of the interpreter (after non-daemon threads and executors): processes the tests left,
    and what the audit hook found after the session ended.

    Registered first, so it runs last. Inside a PID namespace this is the only moment the processes can be
    seen: when this process exits, the kernel kills them without a trace.
    """
    import atexit
    import signal

    variable = config.marker_variable
    marker = f"{variable}={os.environ.get(variable, '')}".encode() if variable else None
    me = host_pid()

    def report() -> None:
        if host_pid() != me:  # a child made with fork() that exits through atexit
            return
        strays = stray_processes(marker, config.private_proc)
        if write is not None:
            for event, what, where, denied in drain():
                write(protocol.audit_finding("", event, what, where, denied))
            if strays:
                write(protocol.exit_leftovers([f"pid {pid}: {command}" for pid, command in strays]))
        for pid, _ in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    atexit.register(report)


def hide_current_test() -> None:
    """pytest names the running test in PYTEST_CURRENT_TEST: code that reads it knows it is tested. Not in a grade."""
    try:
        import _pytest.runner
    except ImportError:
        return

    def no_current_test_variable(item: Any, when: Any) -> None:
        return None

    _pytest.runner._update_current_test_var = no_current_test_variable


def contain(config: BootConfig) -> Callable[[], list[Any]]:
    """Register the containment listener and start the audit hook; the function that drains its findings."""
    from concgrade.inside import audit, containment, threadhooks

    rules = containment.Rules(
        implementation_dirs=tuple(config.implementation_dirs),
        writable=tuple(config.writable),
        channel_fds=tuple(fd for fd in (config.records_fd, config.stacks_fd) if fd is not None),
        harness_dirs=tuple(config.harness_dirs or [config.shim]),
        protected=tuple(config.protected),
    )
    watcher = containment.install(rules)
    audit.start()
    threadhooks.install()  # the hook runs Python code: a thread switch inside sys.setprofile must not kill a thread
    return watcher.drain


def run_program(config: BootConfig, write: Callable[[Any], None] | None) -> None:
    """A harness program in pytest's place (the history driver, the model server, the benchmark's child): the same
    limits, key, stacks, audit hook and path, then its `main`.

    The program is imported while only the shim is on the path, so nothing in an implementation folder can
    stand in for it; its arguments come from the configuration, so its command line is the boot's alone.
    """
    import importlib

    from concgrade.inside.records import RecordStream

    if config.program not in (*PROGRAMS, BENCH_PROGRAM):
        raise SystemExit(f"concgrade: boot: {config.program!r} is not a harness program")
    program = importlib.import_module(config.program)
    task_path(os.getcwd(), config.shim, config.pythonpath)
    sys.argv = [sys.argv[0]]
    if config.program == BENCH_PROGRAM:
        variable = config.marker_variable
        marker = f"{variable}={os.environ.get(variable, '')}".encode() if variable else None

        def leftovers() -> list[str]:
            return [f"pid {pid}: {command}" for pid, command in stray_processes(marker, config.private_proc)]

        program.main(list(config.pytest_args), leftovers)  # ends the process itself (os._exit)
        return
    program.main(list(config.pytest_args), RecordStream(write) if write is not None else None)


def main() -> None:
    key, config = protocol.read_handover(int(sys.argv[1]))
    set_limits(config.rlimits)
    preload(config.preload)
    import faulthandler
    import signal

    from concgrade.inside.records import open_writer

    write = open_writer(config.records_fd, key) if config.records_fd is not None else None
    del key
    if config.stacks_fd is not None:
        os.set_inheritable(config.stacks_fd, False)
        # The harness's outer wall clock asks for every thread's stack with SIGUSR1 before it kills.
        faulthandler.register(signal.SIGUSR1, file=config.stacks_fd, all_threads=True, chain=False)
    if config.records_fd is not None:
        os.set_inheritable(config.records_fd, False)  # programs the tests exec do not get the channel
    if config.program:
        if config.implementation_dirs:
            contain(config)
        run_program(config, write)
        return
    from concgrade.inside import audit, plugin
    from concgrade.inside.filewatch import FileWatch
    from concgrade.inside.testcode import ExpectedCode

    hide_current_test()
    # Registered before the hook starts (sealed), so that a conftest importing the implementation is seen too.
    watch = FileWatch(list(config.watched_folders)).register() if config.watched_folders else None
    drain = contain(config) if config.implementation_dirs else (lambda: [])
    audit.start()  # (already started by the containment, if any)
    report_at_exit(config, write, drain)
    if write is not None:
        disk = plugin.DiskWatch(config.disk_folder, config.disk_limit_bytes) if config.disk_folder else None
        # The test files compiled now, before any task code runs: what their modules' code must be (testcode.py).
        expected = ExpectedCode(os.getcwd(), config.pytest_args)
        plugin.arm(write, config.stacks_fd, config.watchdog_factor, drain, disk, watch, expected)
    task_path(os.getcwd(), config.shim, config.pythonpath)
    import pytest

    sys.argv = [os.path.join(os.path.dirname(pytest.__file__), "__main__.py"), *config.visible_args]
    if write is not None:  # from here on, what stops pytest is pytest's or the task's, not the boot's
        write(protocol.booted(pytest.__version__, sys.version.split()[0]))
    code = pytest.main(list(config.pytest_args), plugins=[plugin])
    sys.stdout.flush()
    raise SystemExit(int(code))
