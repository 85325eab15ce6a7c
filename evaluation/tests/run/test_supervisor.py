"""The supervisor's edges: a run that cannot start is an error users read, not a traceback or a hang."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import concgrade
from concgrade.errors import RunError
from concgrade.inside.protocol import BootConfig
from concgrade.run import proctree
from concgrade.run.sandbox import RunLimits, prepare_sandbox
from concgrade.run.scratch import RunPaths
from concgrade.run.supervisor import Launch, WaitLooks, describe_exit, supervise

LIMITS = RunLimits(memory_bytes=2**30, max_tasks=100, cpu_seconds=60, file_size_bytes=2**20, output_bytes=2**20)


def test_a_process_that_cannot_start_is_a_run_error(tmp_path):
    disabled = {"CONCGRADE_ISOLATION_DISABLE": "cgroup,mount_namespace,unprivileged_user"}
    sandbox = replace(prepare_sandbox(LIMITS, disabled), wrapper=("/no/such/tool",))
    (tmp_path / "repo").mkdir()
    launch = Launch(sys.executable, RunPaths(tmp_path), {}, BootConfig(shim=str(tmp_path)), [], tmp_path / "r.json")
    with pytest.raises(RunError, match="could not start /no/such/tool"):
        supervise(0, launch, sandbox, run_timeout=10, exit_grace=1)


def test_exits_are_described_with_the_signal_that_ended_them():
    assert describe_exit(-11, wrapped=False) == "killed by signal 11 (SIGSEGV)"
    assert describe_exit(137, wrapped=True) == "killed by signal 9 (SIGKILL), status 137"
    assert describe_exit(137, wrapped=False) == "exited with status 137"
    assert describe_exit(None, wrapped=True).startswith("still running")


def parked(code: str) -> subprocess.Popen[bytes]:
    """A Python process that says it is ready and then waits the way `code` makes it."""
    child = subprocess.Popen(
        [sys.executable, "-c", f"import threading, time, sys\nprint('ready', flush=True)\n{code}"],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    return child


def looks_until(looks: WaitLooks, enough: int) -> bool:
    """Look `enough` times (each look reads /proc; nothing here waits for wall-clock time to pass)."""
    return any(looks.deadlocked() for _ in range(enough))


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64"), reason="the deadlock check reads x86_64/aarch64 syscalls"
)
def test_every_thread_in_a_wait_without_timeout_is_a_deadlock_and_a_timed_wait_is_not():
    deadlocked = parked(
        "lock = threading.Lock(); lock.acquire(); threading.Thread(target=lock.acquire).start(); lock.acquire()"
    )
    timed = parked("threading.Event().wait(120)")
    sleeping = parked(
        "lock = threading.Lock(); lock.acquire(); threading.Thread(target=lock.acquire).start(); time.sleep(120)"
    )
    try:
        # A moment for every thread to reach its wait: poll what /proc says rather than sleep for a fixed time.
        for _ in range(200):
            kinds = {w.kind for w in proctree.thread_waits(deadlocked.pid, platform.machine()) or []}
            if kinds == {"untimed"}:
                break
            time.sleep(0.01)
        assert looks_until(WaitLooks(lambda: deadlocked.pid), 50)
        assert not looks_until(WaitLooks(lambda: timed.pid), 50)
        assert not looks_until(WaitLooks(lambda: sleeping.pid), 50)
    finally:
        for child in (deadlocked, timed, sleeping):
            child.kill()
            child.wait()


def test_a_thread_is_classified_from_its_state_and_syscall():
    table = proctree.SYSCALLS["x86_64"]
    assert proctree.wait_kind("R", "running", table) == "running"
    assert proctree.wait_kind("S", "202 0x55cc 0x189 0x0 0x0 0x0", table) == "untimed"  # lock.acquire()
    assert proctree.wait_kind("S", "202 0x7fa7 0x89 0x0 0x7fa7a54 0x0", table) == "timed"  # Event.wait(5)
    assert proctree.wait_kind("S", "230 0x1 0x1 0x7fa7 0x0", table) == "timed"  # time.sleep
    assert proctree.wait_kind("S", "0 0x3 0x55cc 0x2000", table) == "other"  # a read: waiting on something else
    assert proctree.wait_kind("Z", "", table) == "untimed"


WATCHDOG_CHILD = """
import sys, threading
from concgrade.inside.plugin import dump_later_in_thread
lock = threading.Lock(); lock.acquire()
threading.Thread(target=lock.acquire).start()
if "--timed" in sys.argv:
    threading.Thread(target=threading.Event().wait, args=(120,)).start()
print(*dump_later_in_thread(120, sys.stderr.fileno()), flush=True)
lock.acquire()
"""


def watched_child(prefix: tuple[str, ...], *args: str) -> tuple[subprocess.Popen[bytes], int, tuple[int, int]]:
    """A deadlocked process with faulthandler's watchdog armed: (the process, its Python's host pid, the
    watchdog thread's identity as the process itself reported it)."""
    env = {**os.environ, "PYTHONPATH": str(Path(concgrade.__file__).parents[1])}  # this checkout's harness
    command = [*prefix, sys.executable, "-c", WATCHDOG_CHILD, *args]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    reported = child.stdout.readline().split()
    assert len(reported) == 2 and all(word.isdigit() for word in reported), f"no watchdog thread found: {reported!r}"
    python = next((pid for pid in [child.pid, *proctree.children_tree(child.pid)] if thread_count(pid) >= 3), None)
    assert python is not None
    for _ in range(200):  # a moment for every thread to reach its wait
        kinds = [w.kind for w in proctree.thread_waits(python, platform.machine()) or []]
        if kinds.count("untimed") == len(kinds) - (2 if args else 1):
            break
        time.sleep(0.01)
    return child, python, (int(reported[0]), int(reported[1]))


def thread_count(pid: int) -> int:
    return len(proctree.thread_waits(pid, platform.machine()) or [])


def pid_namespace_prefix() -> tuple[str, ...]:
    prefix = ("unshare", "--pid", "--fork", "--mount-proc")
    if os.geteuid() != 0 or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("no PID namespace with its own /proc for this user here")
    return prefix


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64"), reason="the deadlock check reads x86_64/aarch64 syscalls"
)
@pytest.mark.parametrize("namespaced", [False, True], ids=["host", "pid-namespace"])
def test_the_per_test_watchdog_thread_does_not_hide_a_deadlock_and_hides_nothing_else(namespaced):
    """faulthandler's per-test watchdog always waits with a timeout: left in, no deadlock could ever be seen
    during a test. The plugin names its thread (in its own PID namespace's numbers) and only that one is left out:
    another thread in a timed wait still means no deadlock."""
    prefix = pid_namespace_prefix() if namespaced else ()
    deadlocked, pid, watchdog = watched_child(prefix)
    timed, timed_pid, timed_watchdog = watched_child(prefix, "--timed")
    try:
        assert not looks_until(WaitLooks(lambda: pid), 50)  # what the check saw before the plugin named the thread
        assert looks_until(WaitLooks(lambda: pid, watchdog=lambda: watchdog), 50)
        assert not looks_until(WaitLooks(lambda: timed_pid, watchdog=lambda: timed_watchdog), 50)
        tid, started = watchdog
        assert not looks_until(WaitLooks(lambda: pid, watchdog=lambda: (tid + 100_000, started)), 50)  # another id
        # The same id given to a later thread (ids are reused): another start time, not the watchdog.
        assert not looks_until(WaitLooks(lambda: pid, watchdog=lambda: (tid, started + 1)), 50)
    finally:
        for child in (deadlocked, timed):
            child.kill()
            child.wait()
