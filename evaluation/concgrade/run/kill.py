"""Every way a run's processes are ended: its group, its PID namespace, its cgroups, marked strays, the watchdog."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable

from concgrade.inside.protocol import STDLIB_HELPERS
from concgrade.run import proctree

# A pid no process can have: once the run's first process is reaped its pid may be reused by a stranger, so
# its descendants are then looked for by marker and cgroup only.
NO_ROOT = -1


def end_everything(process: subprocess.Popen[bytes], marker: bytes, cgroup_pids: Iterable[int], reaped: bool) -> None:
    """Kill the run's process group, its PID namespace (by killing its first process), its cgroups, marked strays."""
    kill_group(process.pid)
    root = NO_ROOT if reaped else process.pid
    kill_all(info.pid for info in proctree.run_processes(root, marker))
    kill_all(cgroup_pids)
    try:
        process.kill()
    except OSError:
        pass
    process.wait()


def leftover_processes(root: int, marker: bytes, cgroup_pids: Iterable[int]) -> list[str]:
    """Processes of the run still alive once its pytest process has exited (found when there is no PID namespace):
    its descendants, marked processes, and whatever is left in its cgroups."""
    living = proctree.alive(proctree.run_processes(root, marker, cgroup_pids))
    return [f"pid {info.pid}: {info.command}" for info in living if info.pid != root and not is_stdlib_helper(info)]


def is_stdlib_helper(info: proctree.ProcessInfo) -> bool:
    return any(helper in info.command for helper in STDLIB_HELPERS)


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each pid; a pid that is gone (or not ours) is skipped."""
    for pid in pids:
        if pid <= 1 or pid == os.getpid():
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
