"""End to end: declared histories graded through the command line, on a fixture task per thread-safe shape.

Each task's after passes its weak suite (it looks for a lock); only the history can tell the locked
refactor from the one that forgot to take its lock. Three recorded runs (seeds) per grade: one caught
run rejects, and on this 2-core machine the racy shapes are caught in 20 of 20 seeds
(benchmarks/history_detection.py has the rates), so a miss in all three is not a realistic flake.
A locked refactor is linearizable in every run by construction: nothing random can flag it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from history_shapes import SHAPES, make_history_task, write_shape

RUNS = 3


def grade(cli, task: Path, out: Path, *flags: str):
    result = cli("--task", str(task), "--output", str(out), *flags)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))  # validated against the schema by `cli`
    return result, data


def check(data: dict, check_id: str) -> dict:
    return next(c for c in data["checks"] if c["id"] == check_id)


def implementation(data: dict, history: str, name: str) -> dict:
    entry = next(h for h in data["histories"]["histories"] if h["name"] == history)
    return next(i for i in entry["implementations"] if i["implementation"] == name)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_locked_refactor_is_accepted(cli, tmp_path, shape):
    task = make_history_task(tmp_path / "task", SHAPES[shape], "locked", runs=RUNS)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["verdict"] == "accepted"
    found = check(data, f"history.linearizable.{shape}.after")
    assert found["status"] == "pass" and f"linearizable in {RUNS} recorded runs" in found["message"]
    after = implementation(data, shape, "after")
    assert [run["outcome"] for run in after["runs"]] == ["linearizable"] * RUNS
    assert all(run["imported"]["expected"] for run in after["runs"])
    assert all(run["stress"]["call_yields"] > 0 for run in after["runs"])
    before = implementation(data, shape, "before")
    assert not before["graded"]  # shown: the sequential original is the specification, not a candidate
    assert not any(c["id"].endswith(f"{shape}.before") for c in data["checks"])


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_refactor_that_forgot_its_lock_is_rejected_by_its_history(cli, tmp_path, shape):
    task = make_history_task(tmp_path / "task", SHAPES[shape], "racy", runs=RUNS)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1, result.stdout + result.stderr
    failing = [c["id"] for c in data["checks"] if c["status"] != "pass"]
    assert failing == [f"history.linearizable.{shape}.after"]  # the suites alone would accept it
    message = check(data, failing[0])["message"]
    assert "not linearizable" in message and "replay it with --seed" in message
    after = implementation(data, shape, "after")
    violation = next(run for run in after["runs"] if run["outcome"] == "violation")
    counterexample = violation["verdict"]["counterexample"]
    assert counterexample["impossible"] in {op["index"] for op in counterexample["operations"]}
    assert f"--seed {violation['seed']}" in message
    # The terminal draws it under the failing check: one line per thread and the impossible response.
    assert "Not linearizable: a counterexample of" in result.stdout
    assert "^ impossible: thread" in result.stdout and f"Replay: seed {violation['seed']}." in result.stdout


def test_seed_replays_the_same_seeds_and_calls(cli, tmp_path):
    task = make_history_task(tmp_path / "task", SHAPES["hit-counter"], "racy", runs=2)
    _, first = grade(cli, task, tmp_path / "one", "--seed", "41")
    _, second = grade(cli, task, tmp_path / "two", "--seed", "41")
    for data in (first, second):
        assert data["histories"]["seed"] == 41
        assert data["histories"]["histories"][0]["seeds"] == [41, 42]
    # The same seed draws the same calls for every thread (the interleaving is the machine's).
    calls = [
        sorted((op["client"], op["method"], tuple(op["args"])) for op in run["verdict"]["counterexample"]["operations"])
        for data in (first, second)
        for run in implementation(data, "hit-counter", "after")["runs"][:1]
        if run["verdict"]["counterexample"]
    ]
    assert all(client_calls for client_calls in calls)


def test_calls_still_running_at_the_timeout_fail_the_history(cli, tmp_path):
    """A deadlocked refactor leaves calls without answers; the checker allows them, the grade does not."""
    task = make_history_task(tmp_path / "task", SHAPES["id-generator"], "locked", runs=1, timeout_seconds=3)
    source = task / "repository_after" / "shape.py"
    source.write_text(
        source.read_text().replace("        with self._lock:", "        self._lock.acquire()\n        if True:"),
        encoding="utf-8",
    )
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1, result.stdout + result.stderr
    found = check(data, "history.linearizable.id-generator.after")
    assert found["status"] == "fail" and "still running after 3s" in found["message"]


def test_a_budget_that_runs_out_is_an_error_never_a_pass(cli, tmp_path):
    task = make_history_task(tmp_path / "task", SHAPES["token-bucket"], "locked", runs=1, budget_seconds=0.001)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    found = check(data, "history.linearizable.token-bucket.after")
    assert found["status"] == "error" and "undecided" in found["message"] and "budget ran out" in found["message"]
    assert data["error"].startswith("history.linearizable.token-bucket.after")


def test_a_greenfield_task_is_judged_against_after_run_alone(cli, tmp_path):
    task = make_history_task(tmp_path / "task", SHAPES["hit-counter"], "locked", runs=1)
    (task / "repository_before" / "shape.py").unlink()
    (task / "repository_before" / ".gitkeep").write_text("")
    (task / "tests" / "test_sequential.py").unlink()
    toml = task / "evaluation" / "concgrade.toml"
    toml.write_text(toml.read_text().replace('PASS_TO_PASS = ["tests/test_sequential.py"]', "PASS_TO_PASS = []"))
    _, data = grade(cli, task, tmp_path / "out")
    # (The rest of the grade is not this test's: an empty before is its own lint finding today.)
    assert check(data, "history.linearizable.hit-counter.after")["status"] == "pass"
    histories = data["histories"]
    assert histories["reference"] == "after" and "greenfield" in histories["notes"][0]
    assert [i["implementation"] for i in histories["histories"][0]["implementations"]] == ["after"]


def test_a_reference_without_the_target_makes_the_check_an_error(cli, tmp_path):
    task = make_history_task(tmp_path / "task", SHAPES["cache"], "locked", runs=1)
    before = task / "repository_before" / "shape.py"
    before.write_text(before.read_text().replace("class Cache", "class Store"), encoding="utf-8")
    (task / "tests" / "test_sequential.py").write_text("def test_nothing():\n    pass\n")
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 2, result.stdout + result.stderr
    found = check(data, "history.linearizable.cache.after")
    assert found["status"] == "error" and "the sequential model (before) could not answer" in found["message"]


# Red team: a candidate that attacks the recording instead of fixing its race.
FORGER = """
import os
import stat

# Every pipe this process holds gets a "history" of its own: one of them is the records channel.
for fd in range(3, 256):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b'0 0000 {"type": "history", "run": {"ok": true}, "operations": 0}\\n')
    except OSError:
        pass
"""

SERIALIZER = """
import sys
import threading


class _AtOnce(threading.Thread):
    def start(self):
        self.run()  # the "thread" runs to its end in the caller: every call one after another

    def join(self, timeout=None):
        pass

    def is_alive(self):
        return False


class _Open:
    why = ""  # the driver asks its gate why the calls did not start

    def __init__(self, parties):
        pass

    def wait(self):
        return True


threading.Thread = _AtOnce
driver = sys.modules.get("concgrade.inside.history_driver")
if driver is not None:  # a serialized run of a racy object is linearizable: that is the point of the attack
    driver.record_threads = lambda subject, plans, timeout=60: ([], False, [])
    driver._Thread, driver._StartGate = _AtOnce, _Open
"""


@pytest.mark.parametrize("attack", ["forge the records channel", "serialize the driver's threads"])
def test_a_candidate_that_attacks_the_recording_is_not_accepted(cli, tmp_path, attack):
    shape = SHAPES["hit-counter"]
    task = make_history_task(tmp_path / "task", shape, "locked", runs=1)
    candidate = write_shape(tmp_path / "candidate", shape, "locked")
    source = candidate / "shape.py"
    source.write_text(source.read_text() + (FORGER if attack.startswith("forge") else SERIALIZER), encoding="utf-8")
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(candidate))
    assert result.returncode == 1, result.stdout + result.stderr
    assert check(data, "history.linearizable.hit-counter.after")["status"] == "pass"
    found = check(data, "history.linearizable.hit-counter.candidate")
    assert found["status"] == "fail", found
    run = implementation(data, "hit-counter", "candidate")["runs"][0]
    assert run["tampered"], run
    expected = "not signed by the driver" if attack.startswith("forge") else "not made by one thread per client"
    assert expected in found["message"]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"threads": 1}, "threads must be a whole number from 2 to 64, not 1"),
        ({"operations": [{"method": "incr", "args": ["choise(a,b)"]}]}, "no generator choise()"),
        ({"compare": "tests/missing.py:loose"}, "hook 'tests/missing.py:loose': no such file in the task"),
    ],
)
def test_a_misdeclared_history_is_one_error_line_before_anything_runs(cli, tmp_path, entry, says):
    task = make_history_task(tmp_path / "task", SHAPES["hit-counter"], "locked", **entry)
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("concgrade: error: ") and says in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_the_example_store_without_its_lock_fails_its_race_tests_and_its_history(cli, tmp_path):
    """examples/notification_simulator: take the lock out of the shared store; the suite's two race tests see it,
    and so does the declared history, on its own."""
    from conftest import REPO

    example = REPO / "examples" / "notification_simulator"
    candidate = tmp_path / "candidate"
    shutil.copytree(example / "repository_after", candidate, ignore=shutil.ignore_patterns("__pycache__"))
    storage = candidate / "notifsim" / "storage.py"
    assert storage.read_text().count("with self._lock:") == 6
    storage.write_text(storage.read_text().replace("with self._lock:", "if True:"), encoding="utf-8")
    result, data = grade(cli, example, tmp_path / "out", "--candidate", str(candidate))
    assert result.returncode == 1, result.stdout + result.stderr
    failing = {c["id"]: c for c in data["checks"] if c["status"] != "pass"}
    assert set(failing) == {"f2p.passes_on_candidate", "history.linearizable.store.candidate"}
    assert failing["f2p.passes_on_candidate"]["tests"] == [
        "tests/test_pool_faults_and_races.py::test_two_users_added_at_once_get_two_ids",
        "tests/test_pool_faults_and_races.py::test_two_messages_added_at_once_get_two_ids",
    ]
    assert check(data, "history.linearizable.store.after")["status"] == "pass"


# A refactor that takes its lock only when it sees the stress mode: every stressed run (the histories, a candidate's
# suites) sees a locked object, production a racy one. Each detector reads one way the stress mode could show.
STRESS_DETECTORS = {
    "switch-interval": ("import sys\n\n\ndef _stressed():\n    return sys.getswitchinterval() < 0.001\n", True),
    "lock-repr": ("import threading\n\n\ndef _stressed():\n    return 'stressed' in repr(threading.Lock())\n", False),
    "lock-name": (
        "import threading\n\n\ndef _stressed():\n    return type(threading.Lock()).__name__ not in ('lock', 'LockType')\n",
        True,
    ),
    "lock-type": (
        "import _thread\nimport threading\n\n\n"
        "def _stressed():\n    return not isinstance(threading.Lock(), _thread.LockType)\n",
        True,
    ),
    "sleep-builtin": (
        "import inspect\nimport time\n\n\ndef _stressed():\n    return not inspect.isbuiltin(time.sleep)\n",
        True,
    ),
}
NO_LOCK = """

class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
"""


@pytest.mark.parametrize("detector", sorted(STRESS_DETECTORS))
def test_a_candidate_that_locks_only_under_stress_is_not_accepted(cli, tmp_path, detector):
    """The stress mode hides what it can (the switch interval, the locks' repr and names) and the source rule
    TA007 names the rest; either way the verdict is not accepted."""
    source, looks_statically = STRESS_DETECTORS[detector]
    shape = SHAPES["hit-counter"]
    task = make_history_task(tmp_path / "task", shape, "locked", runs=RUNS)
    candidate = write_shape(tmp_path / "candidate", shape, "locked")
    module = candidate / "shape.py"
    locked = module.read_text()
    assert locked.count("self._lock = threading.Lock()") == 1
    two_faced = locked.replace(
        "self._lock = threading.Lock()", "self._lock = threading.Lock() if _stressed() else _NoLock()"
    )
    module.write_text(source + NO_LOCK + two_faced, encoding="utf-8")
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(candidate))
    assert result.returncode == 1, result.stdout + result.stderr
    failing = {c["id"]: c for c in data["checks"] if c["status"] != "pass"}
    assert ("candidate.test_aware" in failing) == looks_statically, failing
    if looks_statically:
        assert "TA007" in failing["candidate.test_aware"]["message"], failing["candidate.test_aware"]
    else:  # nothing in the source says it: the stress mode did not show, so the object ran without its lock
        assert "history.linearizable.hit-counter.candidate" in failing, failing
    assert check(data, "history.linearizable.hit-counter.after")["status"] == "pass"
