"""The boot's sweep at exit: only the run's own processes, never anyone else's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from concgrade.inside.boot import stray_processes
from concgrade.run.sandbox import NAMESPACE_INIT, probe_wrapper


def sleeper(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, env=env)


def test_outside_a_namespace_only_marked_processes_are_strays():
    name, value = "CONCGRADE_TEST_MARKER", uuid.uuid4().hex
    marked, unmarked = sleeper({**os.environ, name: value}), sleeper(dict(os.environ))
    try:
        found = [pid for pid, _ in stray_processes(f"{name}={value}".encode())]
        assert found == [marked.pid]  # not the unmarked one, nor any other process of this machine
    finally:
        for child in (marked, unmarked):
            child.kill()
            child.wait()


def test_inside_a_namespace_a_process_without_the_marker_is_still_a_stray(tmp_path):
    prefix = ("unshare", "--pid", "--fork", "--kill-child", *NAMESPACE_INIT)
    if os.geteuid() != 0 or probe_wrapper(prefix):
        pytest.skip("no PID namespace for this user here")
    script = (
        "import subprocess, sys\n"
        "from concgrade.inside.boot import stray_processes\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], env={})\n"
        "print(len(stray_processes(b'NO_SUCH_MARKER=1')))\n"
        "child.kill()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == "1", done.stderr


@pytest.mark.slow
def test_a_task_that_turns_warnings_into_errors_still_starts(cli, tmp_path):
    """The boot imports installed plugins early; pytest's warning about that must not break `filterwarnings = error`."""
    from taskfactory import make_task, write_files

    task = make_task(tmp_path / "task")
    write_files(task, {"pytest.ini": "[pytest]\nfilterwarnings =\n    error\n"})
    result = cli("--task", str(task), "--output", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
