"""The sequential model replayed from the reference implementation: both state strategies, and the model server."""

from __future__ import annotations

import asyncio
import io
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from concgrade.grade.linearizability import LINEARIZABLE, VIOLATION, Operation, Outcome, check
from concgrade.inside.history_replay import PICKLE, REPLAY, STATELESS, ModelServer, ReplayModel, replay_model, serve


class Shelf:
    """A small stateful reference with locks inside (pickled as fresh locks) and an error path."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self.items: list[str] = []
        self.lock = threading.Lock()
        self.rlock = threading.RLock()
        self.changed = threading.Condition()

    def put(self, item: str) -> int:
        if len(self.items) >= self.size:
            raise OverflowError("full")
        self.items.append(item)
        return len(self.items)

    def take(self) -> str:
        return self.items.pop(0)

    def peek(self) -> list[str]:
        return list(self.items)


class AsyncBox:
    def __init__(self) -> None:
        self.value = 0

    async def add(self, amount: int) -> int:
        await asyncio.sleep(0)
        self.value += amount
        return self.value


def call(method: str, *args: Any) -> Operation:
    return Operation(0, 0, method, args, None, 0, None)


def run(model: ReplayModel, calls: list[Operation]) -> list[Any]:
    state, answers = model.init(), []
    for op in calls:
        state, answer = model.step(state, op)
        answers.append(answer)
    return answers


def local_shelf_class() -> type:
    class LocalShelf(Shelf):  # defined in a function: pickle cannot find it by name
        pass

    return LocalShelf


def test_a_picklable_reference_is_copied_by_pickling_and_a_local_class_is_replayed() -> None:
    assert ReplayModel(Shelf).strategy == PICKLE
    assert ReplayModel(local_shelf_class()).strategy == REPLAY
    assert ReplayModel(lambda: len, is_object=False).strategy == STATELESS


def test_answers_are_plain_values_or_exception_names() -> None:
    answers = run(ReplayModel(Shelf), [call("put", "a"), call("peek"), call("take"), call("take")])
    assert answers == [(1, None), (["a"], None), ("a", None), (None, "IndexError")]


@pytest.mark.parametrize("seed", range(5))
def test_both_strategies_answer_alike_and_keep_earlier_states_intact(seed: int) -> None:
    rng = random.Random(seed)
    calls = [rng.choice([call("put", rng.choice("xyz")), call("take"), call("peek")]) for _ in range(40)]
    pickled, replayed = ReplayModel(Shelf), ReplayModel(local_shelf_class())
    assert run(pickled, calls) == run(replayed, calls)
    # Stepping an earlier state again gives the same answer: a step never changes the state it started from.
    for model in (pickled, replayed):
        start = model.init()
        first, _ = model.step(start, call("put", "q"))
        assert model.step(first, call("peek"))[1] == (["q"], None)
        model.step(first, call("put", "r"))
        assert model.step(first, call("peek"))[1] == (["q"], None)


def test_equal_states_have_equal_keys() -> None:
    for model in (ReplayModel(Shelf), ReplayModel(local_shelf_class())):
        start = model.init()
        one, _ = model.step(model.step(start, call("put", "a"))[0], call("take"))
        other, _ = model.step(model.step(start, call("put", "a"))[0], call("take"))
        assert model.key(one) == model.key(other)
        assert model.key(one) != model.key(model.step(start, call("put", "a"))[0])


def test_the_replay_strategy_rebuilds_only_when_it_goes_back() -> None:
    model = ReplayModel(local_shelf_class())
    state = model.init()
    for _ in range(3):
        state, _ = model.step(state, call("put", "a"))
    assert model.rebuilds == 1  # the first step builds the object; each next step goes on with it
    model.step(model.init(), call("peek"))
    assert model.rebuilds == 2


def test_coroutine_methods_are_awaited() -> None:
    assert run(ReplayModel(AsyncBox), [call("add", 2), call("add", 3)]) == [(2, None), (5, None)]


def test_describe_shows_the_state_without_the_locks() -> None:
    model = ReplayModel(Shelf)
    state, _ = model.step(model.init(), call("put", "a"))
    assert model.describe(state) == "Shelf(size=3, items=['a'])"


def test_the_checker_with_the_replayed_reference() -> None:
    def answered(index: int, client: int, method: str, args: tuple[Any, ...], value: Any, span: tuple[int, int]):
        return Operation(index, client, method, args, Outcome(value), *span)

    ok = [answered(0, 0, "put", ("a",), 1, (0, 10)), answered(1, 1, "put", ("b",), 2, (5, 15))]
    assert check(ok, ReplayModel(Shelf)).status == LINEARIZABLE
    wrong = [*ok, answered(2, 0, "take", (), "b", (20, 30))]  # "a" went in first
    verdict = check(wrong, ReplayModel(Shelf))
    found = verdict.counterexample
    assert verdict.status == VIOLATION and found is not None
    # The two puts answered 1 and 2, so their order is known: the window starts from the state they leave.
    assert found.preceding == 2 and found.start_state == "Shelf(size=3, items=['a', 'b'])"
    assert [op.index for op in found.operations] == [2] and found.allowed == ("'a'",)


# The model server


@pytest.fixture
def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, Any]]:
    """A spec for the `Shelf`-like class in a module of its own, importable in this process."""
    (tmp_path / "replay_server_shelf.py").write_text(
        "class Shelf:\n"
        "    def __init__(self, size):\n        self.size, self.items = size, []\n"
        "    def put(self, item):\n        print('noise on stdout')\n        self.items.append(item)\n"
        "        return len(self.items)\n"
        "    def take(self):\n        return self.items.pop(0)\n",
        encoding="utf-8",
    )
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "shelf_hooks.py").write_text(
        "def any_count(method, args, expected, observed):\n    return observed[1] is None and observed[0] >= 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    def spec(compare: str = "equal") -> dict[str, Any]:
        hook = {"file": str(tmp_path / "tests" / "shelf_hooks.py"), "function": "any_count"}
        methods = {"put": hook} if compare == "hook" else {}
        return {
            "target": "replay_server_shelf:Shelf",
            "object": True,
            "constructor": {"args": [2], "kwargs": {}},
            "compare": {"default": "equal", "methods": methods},
            "hook_paths": [],
        }

    return spec


def test_the_server_answers_steps_with_state_ids(reference: Callable[[str], dict[str, Any]]) -> None:
    server = ModelServer(reference("equal"))
    hello = server.answer({"op": "init"})
    assert hello["strategy"] == PICKLE
    one = server.answer({"op": "step", "state": hello["state"], "call": ["put", ["a"]]})
    again = server.answer({"op": "step", "state": hello["state"], "call": ["put", ["a"]]})
    assert one == again and one["answer"] == [1, None]  # equal states, equal ids
    taken = server.answer({"op": "step", "state": one["state"], "call": ["take", []]})
    assert taken["answer"] == ["a", None]
    assert server.answer({"op": "describe", "state": one["state"]})["text"] == "Shelf(size=2, items=['a'])"
    assert server.answer({"op": "step", "state": "nope", "call": ["take", []]})["kind"] == "failed"


def test_the_server_runs_the_tasks_comparison_hook(reference: Callable[[str], dict[str, Any]]) -> None:
    server = ModelServer(reference("hook"))
    request = {"op": "compare", "call": ["put", ["a"]], "expected": [1, None]}
    assert server.answer({**request, "observed": [7, None]}) == {"accepted": True}
    assert server.answer({**request, "observed": [0, None]}) == {"accepted": False}


def test_serve_reads_one_request_a_line_and_writes_one_answer_a_line(
    reference: Callable[[str], dict[str, Any]],
) -> None:
    requests = [json.dumps({"op": "init"}).encode() + b"\n", b'{"op": "what"}\n']
    answers = io.BytesIO()
    serve(ModelServer(reference("equal")), requests, answers)
    lines = [json.loads(line) for line in answers.getvalue().splitlines()]
    assert "state" in lines[0] and lines[1]["kind"] == "failed"


def test_replay_model_from_a_spec_for_a_function_target(reference: Callable[[str], dict[str, Any]]) -> None:
    model = replay_model({"target": "json:dumps", "object": False})
    assert model.strategy == STATELESS
    assert model.step(model.init(), call("", [1]))[1] == ("[1]", None)
