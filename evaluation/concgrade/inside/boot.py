"""The trusted start of every graded pytest process: limits, the secret channel and pytest itself, before any task code.

The harness starts `python SHIM/_concgrade_boot.py PYTEST-ARGS` with only the shim on PYTHONPATH and a
`CONCGRADE_BOOT` description in the environment. Before the implementation's folders are put on the
path, this joins the run's cgroups, sets resource limits, reads the channel's key from its pipe, and
imports pytest, its plugins and concgrade's plugin, so that nothing in an implementation folder
(`sitecustomize.py`, a module named `pytest`, `_pytest` or a plugin's name) can stand in for them.
It then runs pytest exactly as `python -m pytest` would, with the task's path in place.
Dependency-free: it imports only the standard library, pytest and concgrade's plugin.
"""

from __future__ import annotations

import os
import sys

from concgrade.inside import protocol
from concgrade.inside.protocol import BOOT_VARIABLE, KEY_BYTES, PROGRAMS, STDLIB_HELPERS, BootConfig


def read_key(fd: int) -> bytes:
    key = b""
    while len(key) < KEY_BYTES:
        chunk = os.read(fd, KEY_BYTES - len(key))
        if not chunk:
            break
        key += chunk
    os.close(fd)
    return key


def join_cgroups(procs_files: list[str]) -> None:
    """Move this process (and so everything it starts) into the run's cgroups."""
    for path in procs_files:
        try:
            with open(path, "w") as handle:
                handle.write(str(os.getpid()))
        except OSError as exc:  # the limit is then enforced by the harness's watchdog only
            print(f"concgrade: could not join {path}: {exc}", file=sys.stderr)


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
    # Processes the tests start see the implementation through the ordinary variable.
    os.environ["PYTHONPATH"] = os.pathsep.join([shim, *entries])


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


def stray_processes(marker: bytes) -> list[tuple[int, str]]:
    """Living processes of the run other than this one and the wrappers above it.

    In a PID namespace of its own, every other process of the namespace is one (even one that cleared its
    environment); elsewhere, those that carry the run's marker variable.
    """
    me = host_pid()
    mine = ancestors(me)
    namespace = pid_namespace("self")
    # Inside a namespace of its own, this process's pid differs from the one /proc (the host's) shows. Never
    # judge by comparing with /proc/1: reading its namespace can be refused, and then every process looks "ours".
    private = bool(namespace) and os.getpid() != me
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        try:
            if not (private and pid_namespace(entry) == namespace):
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


def report_strays_at_exit(marker_variable: str) -> None:
    """At the very end of the interpreter (after non-daemon threads and executors): processes the tests left.

    Registered first, so it runs last. Inside a PID namespace this is the only moment they can be seen:
    when this process exits, the kernel kills them without a trace.
    """
    import atexit
    import signal

    marker = f"{marker_variable}={os.environ.get(marker_variable, '')}".encode()
    me = host_pid()

    def report() -> None:
        from concgrade.inside import plugin

        if host_pid() != me:  # a child made with fork() that exits through atexit
            return
        strays = stray_processes(marker)
        if strays and plugin._armed is not None:
            plugin._armed.stream.write(protocol.exit_leftovers([f"pid {pid}: {command}" for pid, command in strays]))
        for pid, _ in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    atexit.register(report)


def run_program(config: BootConfig) -> None:
    """A harness program instead of pytest: the same cgroups, limits, key, stacks and path, then `main(argv, stream)`.

    The program is imported while only the shim is on the path, so nothing in an implementation folder
    can stand in for it; it writes its records, signed, to the channel the stream holds.
    """
    import importlib

    if config.program not in PROGRAMS:
        raise SystemExit(f"concgrade: boot: {config.program!r} is not a harness program")
    join_cgroups(config.cgroup_procs)
    set_limits(config.rlimits)
    key = read_key(config.key_fd) if config.key_fd is not None else b""
    program = importlib.import_module(config.program)
    if config.stacks_fd is not None:
        import faulthandler
        import signal

        os.set_inheritable(config.stacks_fd, False)
        faulthandler.register(signal.SIGUSR1, file=config.stacks_fd, all_threads=True, chain=False)
    stream = None
    if config.records_fd is not None:
        os.set_inheritable(config.records_fd, False)
        stream = protocol.RecordStream(fd=config.records_fd, key=key)
    task_path(os.getcwd(), config.shim, config.pythonpath)
    program.main(sys.argv[1:], stream)


def main() -> None:
    config = BootConfig.from_json(os.environ.pop(BOOT_VARIABLE, "{}"))
    if config.program:
        run_program(config)
        return
    if config.marker_variable:
        report_strays_at_exit(config.marker_variable)
    join_cgroups(config.cgroup_procs)
    set_limits(config.rlimits)
    key = read_key(config.key_fd) if config.key_fd is not None else b""
    preload(config.preload)
    import faulthandler
    import signal

    from concgrade.inside import plugin

    if config.stacks_fd is not None:
        os.set_inheritable(config.stacks_fd, False)
        # The harness's outer wall clock asks for every thread's stack with SIGUSR1 before it kills.
        faulthandler.register(signal.SIGUSR1, file=config.stacks_fd, all_threads=True, chain=False)
    if config.records_fd is not None:
        os.set_inheritable(config.records_fd, False)  # programs the tests exec do not get the channel
        plugin.arm(config.records_fd, key, config.stacks_fd, config.watchdog_factor)
    task_path(os.getcwd(), config.shim, config.pythonpath)
    import pytest

    sys.argv = [os.path.join(os.path.dirname(pytest.__file__), "__main__.py"), *sys.argv[1:]]
    raise SystemExit(pytest.console_main())
