"""The model served by a process of its own, and a whole check the way a grade runs it: two children, one verdict."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from history_shapes import SHAPES, manifest_entry, write_shape, write_spec

from concgrade.grade.linearizability import LINEARIZABLE, VIOLATION, Verdict, check_declared, history_from_json
from concgrade.run.history_model import ModelUnavailable, RemoteModel
from concgrade.task.histories import parse_histories

REPO = Path(__file__).resolve().parents[3]


def environment(implementation: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(implementation), str(REPO / "evaluation")]), "PATH": os.defpath}


class Call:
    def __init__(self, method: str, *args: Any, outcome: Any = None) -> None:
        self.method, self.args, self.outcome = method, args, outcome


@pytest.fixture
def shelf(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "remote_shelf.py").write_text(
        "class Shelf:\n"
        "    def __init__(self):\n        self.items = []\n"
        "    def put(self, item):\n        print('the reference prints', item)\n        self.items.append(item)\n"
        "        return len(self.items)\n"
        "    def take(self):\n        return self.items.pop(0)\n"
        "    def spin(self):\n        while True:\n            pass\n"
        "    def crash(self):\n        import os\n        os._exit(3)\n",
        encoding="utf-8",
    )
    spec = {"target": "remote_shelf:Shelf", "object": True, "constructor": {}, "compare": {}, "hook_paths": []}
    write_spec(tmp_path / "spec.json", spec)
    return folder


def start(folder: Path, **options: Any) -> RemoteModel:
    return RemoteModel(folder.parent / "spec.json", folder.parent, environment(folder), **options)


def test_steps_answer_across_the_pipe_with_ids_equal_for_equal_states(shelf: Path) -> None:
    with start(shelf) as model:
        assert model.strategy == "pickle"
        start_state = model.init()
        one, answer = model.step(start_state, Call("put", "a"))
        assert answer == (1, None)  # the reference's print went to stderr, not into the protocol
        assert model.step(start_state, Call("put", "a"))[0] == one == model.key(one)
        assert model.step(one, Call("take"))[1] == ("a", None)
        assert model.step(start_state, Call("take"))[1] == (None, "IndexError")
        assert model.describe(one) == "Shelf(items=['a'])"


def test_a_reference_that_never_answers_is_given_up_on(shelf: Path) -> None:
    with start(shelf, step_timeout=1.0) as model, pytest.raises(ModelUnavailable, match="no answer within 1s"):
        model.step(model.init(), Call("spin"))


def test_a_reference_that_kills_its_process_is_reported(shelf: Path) -> None:
    with start(shelf) as model, pytest.raises(ModelUnavailable, match="the model process ended"):
        model.step(model.init(), Call("crash"))


def test_a_reference_that_cannot_be_imported_is_reported(tmp_path: Path) -> None:
    write_spec(tmp_path / "spec.json", {"target": "absent_module:Thing", "object": True, "constructor": {}})
    with pytest.raises(ModelUnavailable, match="ModuleNotFoundError"):
        RemoteModel(tmp_path / "spec.json", tmp_path, environment(tmp_path))


# A whole check, as the pipeline will run it: the driver in one process, the model in another.


def grade_history(tmp_path: Path, entry: dict[str, Any], candidate: Path, reference: Path, seed: int) -> Verdict:
    declared = parse_histories({"histories": [entry]}, tmp_path / "concgrade.toml")[0]
    spec = write_spec(tmp_path / "child.json", declared.child_spec(seed, tmp_path))
    recorded_file = tmp_path / "history.json"
    command = [sys.executable, "-m", "concgrade.inside.history_driver", str(spec), str(recorded_file)]
    subprocess.run(command, env=environment(candidate), check=True, timeout=120, capture_output=True)
    history = history_from_json(json.loads(recorded_file.read_text(encoding="utf-8")))
    with RemoteModel(spec, tmp_path, environment(reference)) as model:
        return check_declared(history, declared, model)


@pytest.mark.parametrize("shape_name", sorted(SHAPES))
def test_a_locked_refactor_checked_against_the_sequential_reference_is_linearizable(
    tmp_path: Path, shape_name: str
) -> None:
    module = f"e2e_{shape_name.replace('-', '_')}"
    reference = write_shape(tmp_path / "before", SHAPES[shape_name], "before", module=module)
    locked = write_shape(tmp_path / "after", SHAPES[shape_name], "locked", module=module)
    verdict = grade_history(tmp_path, manifest_entry(SHAPES[shape_name], module), locked, reference, seed=5)
    assert verdict.status == LINEARIZABLE, verdict.message()


def test_a_violation_found_through_both_processes_names_the_impossible_answer(tmp_path: Path) -> None:
    """A reference that is deterministic but not what the candidate does: a counter that counts by two."""
    reference = tmp_path / "before"
    reference.mkdir()
    (reference / "e2e_step.py").write_text(
        "class Counter:\n    def __init__(self):\n        self.n = 0\n"
        "    def incr(self):\n        self.n += 2\n        return self.n\n"
    )
    candidate = tmp_path / "after"
    candidate.mkdir()
    (candidate / "e2e_step.py").write_text(
        "class Counter:\n    def __init__(self):\n        self.n = 0\n"
        "    def incr(self):\n        self.n += 1\n        return self.n\n"
    )
    entry = {"name": "step", "target": "e2e_step:Counter", "operations": [{"method": "incr"}], "threads": 2}
    verdict = grade_history(tmp_path, entry, candidate, reference, seed=1)
    assert verdict.status == VIOLATION and verdict.seed == 1
    # Which response is the first no order explains depends on the schedule; that it is one of them does not.
    assert re.search(
        r"incr\(\) answered \d+ where the sequential model allows \d+( or \d+)* \(a counterexample", verdict.message()
    )


def test_a_comparison_hook_runs_in_the_model_process(tmp_path: Path) -> None:
    reference = tmp_path / "before"
    reference.mkdir()
    (reference / "e2e_clock.py").write_text(
        "class Clock:\n    def __init__(self):\n        self.t = 0\n"
        "    def now(self):\n        self.t += 1\n        return self.t\n"
    )
    candidate = tmp_path / "after"
    candidate.mkdir()
    (candidate / "e2e_clock.py").write_text(
        "import itertools\nclass Clock:\n    def __init__(self):\n        self.ticks = itertools.count(100)\n"
        "    def now(self):\n        return next(self.ticks)\n"
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "clock_hooks.py").write_text(
        "def positive(method, args, expected, observed):\n    return observed[1] is None and observed[0] > 0\n"
    )
    entry = {"name": "clock", "target": "e2e_clock:Clock", "operations": [{"method": "now"}], "threads": 2}
    assert grade_history(tmp_path, entry, candidate, reference, seed=2).status == VIOLATION
    hooked = {**entry, "compare": {"now": "tests/clock_hooks.py:positive"}}
    assert grade_history(tmp_path, hooked, candidate, reference, seed=2).status == LINEARIZABLE


def test_asyncio_tasks_through_both_processes(tmp_path: Path) -> None:
    source = (
        "import asyncio\n\nclass Counter:\n    def __init__(self):\n        self.n = 0\n{lock}\n"
        "    async def incr(self):\n{body}"
    )
    racy = "        n = self.n\n        await asyncio.sleep(0)\n        self.n = n + 1\n        return self.n\n"
    locked = "        async with self.lock:\n" + "".join("    " + line + "\n" for line in racy.splitlines())
    folders = {}
    for name, lock, body in (
        ("before", "", racy),
        ("racy", "", racy),
        ("locked", "        self.lock = asyncio.Lock()", locked),
    ):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "e2e_async.py").write_text(source.format(lock=lock, body=body))
    entry = {"name": "async", "target": "e2e_async:Counter", "operations": [{"method": "incr"}], "asyncio": True}
    assert grade_history(tmp_path, entry, folders["racy"], folders["before"], seed=3).status == VIOLATION
    assert grade_history(tmp_path, entry, folders["locked"], folders["before"], seed=3).status == LINEARIZABLE
