"""Hostile fixture tasks: whatever the code under test does, the grade ends in time, truthfully, and cleans up.

Each fixture is a small task whose after implementation (or a candidate) misbehaves in one way. Every grade
must reject it with the reason named, return well before its subprocess timeout, leave no process of the
fixture running (each process of the grade carries the test's folder in its environment, and the hostile
children that clear theirs carry it in their command line), and leave the fixture folder byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RUN_PY
from leftovers import processes_with
from taskfactory import CONCURRENT, SEQUENTIAL, make_task, write_files

from concgrade.run.integrity import tree_digest

GRADE_TIMEOUT = 120  # seconds: a grade that is still running then has failed its time bound

TOKEN_VARIABLE = "HOSTILE_TOKEN"


def hostile_task(
    tmp_path: Path, after: str, *, limits: str = "", test_timeout: float = 2, run_timeout: float = 30, **files: str
) -> Path:
    """A task whose after implementation is `after`."""
    task = make_task(
        tmp_path / "task",
        after=after,
        test_timeout=test_timeout,
        run_timeout=run_timeout,
        extra={"tests/conftest.py": "# the task's own conftest\n", **files},
    )
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + limits)
    return task


def grade(tmp_path: Path, task: Path, *extra: str, env: dict[str, str] | None = None):
    """Grade like a user would, then check the promises every hostile grade must keep."""
    digest = tree_digest(task)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(RUN_PY), "--task", str(task), "--output", str(out), "--jobs", "2", *extra],
        capture_output=True,
        text=True,
        timeout=GRADE_TIMEOUT,
        env={**os.environ, TOKEN_VARIABLE: str(tmp_path), **(env or {})},
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert tree_digest(task) == digest, "the fixture folder changed"
    assert_no_process_left(str(tmp_path))
    data = json.loads((out / "results.json").read_text())
    return result, data


def assert_no_process_left(token: str) -> None:
    """No process of the grade is alive: none carries the test's folder in its environment or command line."""
    living = processes_with(token)
    for _ in range(20):  # one being killed right now gets a moment
        if not living:
            break
        time.sleep(0.1)
        living = processes_with(token)
    assert not living, f"processes outlived the grade: {living}"


def failing(data) -> dict[str, str]:
    return {check["id"]: check["message"] for check in data["checks"] if check["status"] != "pass"}


def outcome(data, impl: str, name: str) -> dict:
    return next(t for t in data["implementations"][impl]["tests"] if t["name"] == name)


FALLBACK = {"CONCGRADE_ISOLATION_DISABLE": "pid_namespace,cgroup"}
LAYERS = pytest.mark.parametrize("env", [None, FALLBACK], ids=["all-layers", "fallbacks"])
BWRAP = pytest.param(
    {"CONCGRADE_ISOLATION_DISABLE": "unshare"},
    id="bwrap",
    marks=pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
)


def test_a_deadlock_in_the_main_thread_is_a_timeout_with_stacks(tmp_path):
    after = (
        CONCURRENT
        + "\nimport threading\n_lock = threading.Lock()\n\ndef run_all(items):\n"
        + ("    _lock.acquire()\n    _lock.acquire()\n")
    )
    result, data = grade(tmp_path, hostile_task(tmp_path, after))
    assert result.returncode == 1
    test = outcome(data, "after", "test_runs_concurrently")
    assert test["outcome"] == "timeout"
    assert "deadlock suspected" in test["message"] and "run_all" in test["message"]
    assert "f2p.passes_on_after" in failing(data)


def test_a_deadlock_that_kills_test_after_test_stops_the_run_with_the_rest_not_run(tmp_path):
    after = CONCURRENT + "\nimport threading\n_lock = threading.Lock()\n\ndef run_all(items):\n"
    after += "    with _lock:\n        with _lock:\n            return []\n"
    p2p = "import counter\n" + "".join(f"\ndef test_{n}():\n    assert counter.run_all([1]) == [2]\n" for n in range(6))
    task = hostile_task(tmp_path, after, test_timeout=30, run_timeout=120, **{"tests/test_p2p.py": p2p})
    result, data = grade(tmp_path, task)
    assert result.returncode == 1
    run = data["implementations"]["after"]
    # Each process was ended by the deadlock check in the middle of a test, long before pytest-timeout's 30 s.
    assert [a["ended_by"] for a in run["attempts"]] == ["deadlock"] * 3
    killed = [t for t in run["tests"] if t["outcome"] == "timeout"]
    assert len(killed) == 3 and all(
        "every thread of the process waited without a timeout" in t["message"] for t in killed
    )
    assert "run_all" in killed[0]["message"]  # the stacks show where
    not_run = [t for t in run["tests"] if t["outcome"] == "missing"]
    assert not_run and all(t["message"].startswith("not run: limit breached repeatedly (a deadlock") for t in not_run)
    assert run["stopped"].startswith("not run: limit breached repeatedly")


def test_deadlocked_non_daemon_threads_end_the_run_and_are_named(tmp_path):
    after = CONCURRENT + (
        "\nimport threading\n_a, _b = threading.Lock(), threading.Lock()\n_original = run_all\n"
        "def _one(first, second, ready):\n    with first:\n        ready.wait()\n        second.acquire()\n"
        "def run_all(items):\n"
        "    ready = threading.Barrier(2)\n"
        "    threading.Thread(target=_one, args=(_a, _b, ready)).start()\n"
        "    threading.Thread(target=_one, args=(_b, _a, ready)).start()\n"
        "    return _original(items)\n"
    )
    result, data = grade(tmp_path, hostile_task(tmp_path, after))
    assert result.returncode == 1
    problems = failing(data)
    assert "did not exit after its session finished" in problems["runs.processes_ended.after"]
    attempt = data["implementations"]["after"]["attempts"][0]
    assert attempt["ended_by"] == "hung_after_session" and "_one" in attempt["stacks"]


def test_a_busy_c_loop_is_ended_by_faulthandler_and_the_rest_still_runs(tmp_path):
    after = CONCURRENT + "\n_original = run_all\ndef run_all(items):\n    if len(items) == 2:\n"
    after += "        return sum(range(10**13))\n    return _original(items)\n"
    result, data = grade(tmp_path, hostile_task(tmp_path, after))
    assert result.returncode == 1
    test = outcome(data, "after", "test_runs_concurrently")
    assert test["outcome"] == "timeout" and "faulthandler" in test["message"] and "run_all" in test["message"]
    # The hang cost one test: the P2P tests ran in a second process, and passed.
    assert len(data["implementations"]["after"]["attempts"]) == 2
    assert outcome(data, "after", "test_doubles_in_order")["outcome"] == "passed"


def test_a_hang_that_defeats_faulthandler_meets_the_outer_wall_clock(tmp_path):
    after = CONCURRENT + (
        "\nimport faulthandler\n_original = run_all\ndef run_all(items):\n    if len(items) == 2:\n"
        "        faulthandler.cancel_dump_traceback_later()\n        return sum(range(10**13))\n"
        "    return _original(items)\n"
    )
    result, data = grade(tmp_path, hostile_task(tmp_path, after, run_timeout=15))
    assert result.returncode == 1
    test = outcome(data, "after", "test_runs_concurrently")
    assert test["outcome"] == "timeout" and "wall clock" in test["message"]
    assert "run_all" in test["message"]  # the stacks, taken with SIGUSR1 while the C loop held the GIL
    assert data["implementations"]["after"]["attempts"][0]["ended_by"] == "wall_clock"
    assert outcome(data, "after", "test_doubles_in_order")["outcome"] == "passed"


@pytest.mark.parametrize(
    ("crash", "expected"),
    [
        ("import os; os._exit(0)", "exited with status 0"),
        ("import faulthandler; faulthandler._sigsegv()", "SIGSEGV"),
    ],
    ids=["os._exit", "segfault"],
)
def test_a_process_that_dies_costs_one_test(tmp_path, crash, expected):
    after = CONCURRENT + f"\n_original = run_all\ndef run_all(items):\n    if len(items) == 2:\n        {crash}\n"
    after += "    return _original(items)\n"
    result, data = grade(tmp_path, hostile_task(tmp_path, after))
    assert result.returncode == 1
    test = outcome(data, "after", "test_runs_concurrently")
    assert test["outcome"] == "crashed" and expected in test["message"]
    assert "f2p.passes_on_after" in failing(data)
    # The P2P tests that had not run yet ran in a new process and passed.
    assert outcome(data, "after", "test_doubles_in_order")["outcome"] == "passed"
    assert outcome(data, "after", "test_empty")["outcome"] == "passed"


@pytest.mark.parametrize("escape", ["raise KeyboardInterrupt", "import pytest; pytest.exit('bye', returncode=0)"])
def test_an_escaping_interrupt_costs_one_test(tmp_path, escape):
    after = CONCURRENT + f"\n_original = run_all\ndef run_all(items):\n    if len(items) == 2:\n        {escape}\n"
    after += "    return _original(items)\n"
    thread_interrupt = (
        "import threading\n\ndef test_interrupt_in_a_worker_thread():\n"
        "    def interrupt():\n        raise KeyboardInterrupt\n"
        "    worker = threading.Thread(target=interrupt)\n    worker.start()\n    worker.join()\n"
    )
    task = hostile_task(tmp_path, after, **{"tests/test_f2p.py": f2p_with(thread_interrupt)})
    result, data = grade(tmp_path, task)
    assert result.returncode == 1
    assert outcome(data, "after", "test_runs_concurrently")["outcome"] == "interrupted"
    # A KeyboardInterrupt dying in a worker thread fails its test instead of passing it.
    assert outcome(data, "after", "test_interrupt_in_a_worker_thread")["outcome"] == "failed"
    assert outcome(data, "after", "test_doubles_in_order")["outcome"] == "passed"


def f2p_with(more: str) -> str:
    from taskfactory import F2P_TESTS

    return F2P_TESTS + "\n" + more


@LAYERS
def test_a_memory_hog_breaks_the_memory_limit(tmp_path, env):
    after = CONCURRENT + (
        "\ndef run_all(items):\n    hoard = []\n    for _ in range(48):\n"
        "        hoard.append(bytearray(64 * 2**20))\n    return hoard\n"
    )
    task = hostile_task(tmp_path, after, limits="memory_mb = 256\n")
    result, data = grade(tmp_path, task, env=env)
    assert result.returncode == 1
    assert "memory" in failing(data)["limits.respected.after"]
    assert outcome(data, "after", "test_runs_concurrently")["outcome"] in ("crashed", "failed")


@LAYERS
def test_a_thread_explosion_breaks_the_task_limit(tmp_path, env):
    after = CONCURRENT + (
        "\nimport threading\n_release = threading.Event()\n\ndef run_all(items):\n"
        "    for _ in range(2000):\n"
        "        threading.Thread(target=_release.wait, args=(20,), daemon=True).start()\n"
        "    _release.wait(0.8)\n"  # long enough for a watchdog to see them all
        "    return [x * 2 for x in items]\n"
    )
    task = hostile_task(tmp_path, after, limits="max_tasks = 64\n")
    result, data = grade(tmp_path, task, env=env)
    assert result.returncode == 1
    assert "processes/threads" in failing(data)["limits.respected.after"]


@pytest.mark.parametrize("env", [None, FALLBACK, BWRAP], ids=["all-layers", "fallbacks", "bwrap"])
def test_leftover_children_are_killed_and_named(tmp_path, env):
    clear_env = env != FALLBACK
    child = f"# {tmp_path}\nimport os, time\n"
    after = (
        CONCURRENT
        + f"""
import subprocess, sys
_CHILD = {child + "time.sleep(300)"!r}
_SETSID_CHILD = {child + "os.setsid(); time.sleep(300)"!r}
_SPAWNER = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1]])"
_original = run_all

def run_all(items):
    subprocess.Popen([sys.executable, "-c", _CHILD])
    # A grandchild that leaves the process group and the session, its parent exiting at once.
    subprocess.Popen([sys.executable, "-c", _SPAWNER, _SETSID_CHILD]).wait()
    if {clear_env!r}:  # one that also drops its environment: only a PID namespace still holds it
        subprocess.Popen([sys.executable, "-c", _SPAWNER, _SETSID_CHILD], env={{}}).wait()
    return _original(items)
"""
    )
    result, data = grade(tmp_path, hostile_task(tmp_path, after), env=env)
    assert result.returncode == 1
    assert "outlived the tests" in failing(data)["runs.processes_ended.after"]
    if env is not None and "unshare" in env.get("CONCGRADE_ISOLATION_DISABLE", "") and shutil.which("bwrap"):
        layers = {layer["name"]: layer for layer in data["environment"]["isolation"]["layers"]}
        assert layers["pid_namespace"]["mechanism"] == "bwrap"


def test_a_cpu_hog_breaks_the_cpu_limit(tmp_path):
    after = CONCURRENT + "\n_original = run_all\ndef run_all(items):\n    if len(items) == 2:\n"
    after += "        while True:\n            pass\n    return _original(items)\n"
    task = hostile_task(tmp_path, after, limits="cpu_seconds = 3\n", test_timeout=30, run_timeout=60)
    result, data = grade(tmp_path, task)
    assert result.returncode == 1
    assert "cpu" in failing(data)["limits.respected.after"]
    test = outcome(data, "after", "test_runs_concurrently")
    assert test["outcome"] == "crashed" and "RLIMIT_CPU" in test["message"]


def test_a_huge_file_breaks_the_file_size_limit(tmp_path):
    after = CONCURRENT + (
        "\nimport tempfile\n_original = run_all\ndef run_all(items):\n"
        "    with tempfile.TemporaryFile() as handle:\n        handle.write(b'z' * 3 * 2**20)\n"
        "    return _original(items)\n"
    )
    task = hostile_task(tmp_path, after, limits="file_size_mb = 1\n")
    result, data = grade(tmp_path, task)
    assert result.returncode == 1
    assert "file size" in failing(data)["limits.respected.after"]
    assert outcome(data, "after", "test_runs_concurrently")["outcome"] == "failed"


def test_a_flood_of_output_breaks_the_output_limit(tmp_path):
    after = CONCURRENT + (
        "\nimport os, sys\n_original = run_all\ndef run_all(items):\n"
        "    for _ in range(12):\n        sys.stdout.write('x' * 2**20)\n        os.write(2, b'y' * 2**20)\n"
        "    return _original(items)\n"
    )
    task = hostile_task(tmp_path, after, limits="output_mb = 4\n")
    result, data = grade(tmp_path, task)
    assert result.returncode == 1
    assert "output" in failing(data)["limits.respected.after"]
    kept = [t["stdout"] for t in data["implementations"]["after"]["tests"]]
    assert all(len(text) < 100 * 1024 for text in kept) and any("cut" in text for text in kept)
    assert (tmp_path / "out" / "results.json").stat().st_size < 2 * 2**20


def candidate(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "candidate"
    write_files(folder, {"counter.py": source})
    return folder


def test_a_candidate_that_rewrites_the_tests_is_rejected(tmp_path):
    source = SEQUENTIAL + (
        "\nimport pathlib\n_tests = pathlib.Path(__file__).resolve().parents[1] / 'tests'\n"
        "(_tests / 'test_p2p.py').write_text('def test_doubles_in_order():\\n    pass\\n')\n"
        "(_tests / 'conftest.py').write_text((_tests / 'conftest.py').read_text() + '\\n# mine\\n')\n"
    )
    task = hostile_task(tmp_path, CONCURRENT)
    result, data = grade(tmp_path, task, "--candidate", str(candidate(tmp_path, source)))
    assert result.returncode == 1
    message = failing(data)["integrity.tests_unchanged.candidate"]
    assert "tests/test_p2p.py" in message and "tests/conftest.py" in message


FORCE_PASS = """
import gc
import pytest

class _ForcePass:
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        report.outcome, report.longrepr = "passed", None
        return report

_config = next(o for o in gc.get_objects() if type(o).__name__ == "Config" and hasattr(o, "pluginmanager"))
_config.pluginmanager.register(_ForcePass(), "helpful")
"""

PATCH_REPORTS = """
import _pytest.reports

_original = _pytest.reports.TestReport.from_item_and_call.__func__

def _always_passed(cls, item, call):
    report = _original(cls, item, call)
    report.outcome, report.longrepr = "passed", None
    return report

_pytest.reports.TestReport.from_item_and_call = classmethod(_always_passed)
"""


@pytest.mark.parametrize(
    ("tamper", "check", "named"),
    [
        # The garbage collector is how it finds pytest's configuration: the audit hook refuses it that.
        (FORCE_PASS, "integrity.sandbox_respected.candidate", "gc.get_objects"),
        (PATCH_REPORTS, "integrity.runner_untampered.candidate", "TestReport.from_item_and_call was replaced"),
    ],
    ids=["registers-a-hook", "patches-pytest"],
)
def test_a_candidate_that_tampers_with_pytest_is_rejected(tmp_path, tamper, check, named):
    task = hostile_task(tmp_path, CONCURRENT)
    result, data = grade(tmp_path, task, "--candidate", str(candidate(tmp_path, SEQUENTIAL + tamper)))
    assert result.returncode == 1
    message = failing(data)[check]
    assert named in message
    if check.startswith("integrity.runner_untampered"):
        assert "says passed" in message  # the report turned into a pass on its way is caught
    else:  # refused the garbage collector, the candidate did not import: its tests did not pass
        tests = {t["name"]: t for t in data["implementations"]["candidate"]["tests"]}
        assert "test_runs_concurrently" not in tests or not tests["test_runs_concurrently"]["passed"]


CONFTEST_FORCE_PASS = """
import pytest

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome, report.longrepr = "passed", None
    return report
"""


# A blank status makes pytest-json-report say passed, which a task's own conftest is excused for; never a candidate.
CONFTEST_BLANK_STATUS = """
def pytest_report_teststatus(report, config):
    return "", "", ""
"""


@pytest.mark.parametrize(
    ("hook_file", "hook"),
    [("conftest.py", CONFTEST_FORCE_PASS), ("sitecustomize.py", PATCH_REPORTS), ("conftest.py", CONFTEST_BLANK_STATUS)],
    ids=["conftest", "sitecustomize", "conftest-blank-status"],
)
def test_a_candidate_that_brings_pytest_hooks_is_rejected_and_they_stay_inert(tmp_path, hook_file, hook):
    task = hostile_task(tmp_path, CONCURRENT)
    folder = candidate(tmp_path, SEQUENTIAL)
    write_files(folder, {hook_file: hook})
    result, data = grade(tmp_path, task, "--candidate", str(folder))
    assert result.returncode == 1
    assert hook_file in failing(data)["integrity.runner_untampered.candidate"]
    # The hook never ran in the pytest process: the sequential candidate really fails its F2P test.
    assert not outcome(data, "candidate", "test_runs_concurrently")["passed"]


FORGE = """
import atexit, json, os, sys

def _forge_report():
    path = sys.argv[sys.argv.index("--json-report-file") + 1]
    with open(path, "w") as handle:
        json.dump({"exitcode": 0, "summary": {"passed": 3, "total": 3},
                   "tests": [{"nodeid": "tests/test_f2p.py::test_runs_concurrently", "outcome": "passed"}]}, handle)

atexit.register(_forge_report)
_line = json.dumps({"type": "phase", "nodeid": "tests/test_f2p.py::test_runs_concurrently",
                    "when": "call", "outcome": "passed", "duration": 0.0})
for _fd in os.listdir("/proc/self/fd"):
    try:
        os.write(int(_fd), ("0 " + "0" * 64 + " " + _line + "\\n" + _line + "\\n").encode())
    except OSError:
        pass
print("tests/test_f2p.py::test_runs_concurrently PASSED")
sys.stdout = open(os.devnull, "w")
"""


def test_a_candidate_that_forges_results_is_rejected(tmp_path):
    # The sequential candidate fails its F2P test when the test's barrier gives up (1.5 s). With the 2 s default
    # timeout, a loaded machine could let pytest-timeout or the watchdog (2 x timeout) end that test first, as a
    # timeout or a crash: with room to spare the outcome is always the failure the signed records carry.
    task = hostile_task(tmp_path, CONCURRENT, test_timeout=10)
    result, data = grade(tmp_path, task, "--candidate", str(candidate(tmp_path, SEQUENTIAL + FORGE)))
    assert result.returncode == 1
    problems = failing(data)
    assert "forged line(s) on the records channel" in problems["integrity.runner_untampered.candidate"]
    # Not a pass: the signed records say it failed (the candidate is sequential). The JSON report's path is in
    # none of the test process's arguments: the forged report never replaced the real one.
    assert outcome(data, "candidate", "test_runs_concurrently")["outcome"] == "failed"
    assert "JSON report says 'passed'" not in problems.get("runs.consistent", "")
    assert "f2p.passes_on_candidate" in problems


def test_systemexit_at_import_is_a_named_collection_error(tmp_path):
    task = hostile_task(tmp_path, CONCURRENT)
    result, data = grade(tmp_path, task, "--candidate", str(candidate(tmp_path, "raise SystemExit(0)\n")))
    assert result.returncode == 1
    assert "SystemExit" in failing(data)["suites.ran"]


def test_the_isolation_layers_are_recorded(tmp_path):
    task = hostile_task(tmp_path, CONCURRENT)
    result, data = grade(tmp_path, task, env=FALLBACK)
    assert result.returncode == 0, result.stdout
    isolation = data["environment"]["isolation"]
    assert "pid_namespace" in isolation["unavailable"] and "CONCGRADE_ISOLATION_DISABLE" in str(isolation)
    assert {layer["name"]: layer["mechanism"] for layer in isolation["layers"]}["memory_limit"] == "watchdog"
    assert "pid_namespace" in (tmp_path / "out" / "report.html").read_text()
