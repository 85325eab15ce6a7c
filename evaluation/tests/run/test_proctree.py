"""The run's processes as /proc shows them: the tree, the marker that finds re-parented ones, killing them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from concgrade.run import proctree
from concgrade.run.kill import kill_all
from concgrade.run.proctree import ProcessInfo


def info(pid: int, ppid: int) -> ProcessInfo:
    return ProcessInfo(pid, ppid, "S", 1, 0, f"p{pid}")


def test_descendants_follow_parent_links_only_below_the_root():
    processes = {p.pid: p for p in [info(10, 1), info(11, 10), info(12, 11), info(13, 1), info(14, 13)]}
    assert sorted(p.pid for p in proctree.descendants(10, processes)) == [11, 12]


def test_a_marked_process_outside_the_tree_is_found_and_killed():
    marker = f"CONCGRADE_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    # A session of its own, like a grandchild that called setsid(): not a descendant of this process's group.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, name: value},
        start_new_session=True,
    )
    try:
        # Until the child has exec'd, /proc shows the parent's environment: wait for it to say it runs.
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        # A root with no descendants: only the marker can find the child.
        found = proctree.run_processes(2**22 + 12345, marker.encode())
        assert [p.pid for p in found] == [child.pid]
        kill_all(p.pid for p in found)
        assert child.wait(timeout=30) == -9
        assert proctree.alive(found) == []
    finally:
        child.kill()
        child.wait()


def test_activity_reports_cpu_ticks_and_a_running_thread_for_ourselves():
    ticks, running = proctree.activity(os.getpid())
    assert ticks >= 0 and running  # this thread is running right now
    assert proctree.activity(2**22 + 12345) is None
