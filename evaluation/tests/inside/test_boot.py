"""The boot: the path and PYTHONPATH the tests see, and its sweep at exit (only the run's own processes)."""

from __future__ import annotations

import json
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


TASK_PATH_PROBE = """\
import json, os, subprocess, sys
from concgrade.inside.boot import task_path

shim, entries = sys.argv[1], sys.argv[2:]
sys.path.insert(1, shim)
task_path(os.getcwd(), shim, entries)
child = "import os, sys; print(os.environ.get('PYTHONPATH')); print(sys.path[1])"
inherited = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
print(json.dumps({"seen": os.environ.get("PYTHONPATH"), "child": inherited.splitlines()}))
"""


def run_task_path(tmp_path, entries: list[str]) -> dict:
    shim = tmp_path / "shim"
    shim.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", TASK_PATH_PROBE, str(shim), *entries],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {"shim": str(shim), **json.loads(done.stdout)}


def test_the_tests_see_pythonpath_as_the_task_set_it_and_their_children_still_get_the_shim(tmp_path):
    folder = str(tmp_path / "repository_before")
    found = run_task_path(tmp_path, [folder])
    assert found["seen"] == folder  # `Path(os.environ["PYTHONPATH"]) / "x.py"` names the implementation's file
    assert found["child"] == [os.pathsep.join([found["shim"], folder]), found["shim"]]


def test_without_a_task_pythonpath_the_tests_see_none_and_their_children_still_get_the_shim(tmp_path):
    found = run_task_path(tmp_path, [])
    assert found["seen"] is None
    assert found["child"] == [found["shim"], found["shim"]]


@pytest.mark.slow
def test_a_task_that_turns_warnings_into_errors_still_starts(cli, tmp_path):
    """The boot imports installed plugins early; pytest's warning about that must not break `filterwarnings = error`."""
    from taskfactory import make_task, write_files

    task = make_task(tmp_path / "task")
    write_files(task, {"pytest.ini": "[pytest]\nfilterwarnings =\n    error\n"})
    result = cli("--task", str(task), "--output", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
