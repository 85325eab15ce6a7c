"""Argument generators, the operation plan drawn from a seed, hooks, and answers made plain."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from concgrade.inside.history_spec import (
    UNIQUE_BASE,
    Generator,
    SpecError,
    load_hook,
    parse_argument,
    plain,
    plan_calls,
)


@pytest.mark.parametrize(
    ("declared", "parsed"),
    [
        ("choice(a,b,c)", Generator("choice", ("a", "b", "c"))),
        ("key:choice(a, b)", Generator("choice", ("a", "b"), "key")),
        ("choice(1, 2.5, true, 'x,y', \"3\")", Generator("choice", (1, 2.5, True, "x,y", "3"))),
        ("int(0,9)", Generator("int", (0, 9))),
        ("bool()", Generator("bool", ())),
        ("unique()", Generator("unique", ())),
        ("=choice(a)", "choice(a)"),
        ("plain text", "plain text"),
        (5, 5),
        ([1, "choice(a)"], [1, "choice(a)"]),  # generators only at the top level of an argument
    ],
)
def test_parse_argument(declared: object, parsed: object) -> None:
    assert parse_argument(declared) == parsed


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ("choice()", "needs at least one value"),
        ("int(1)", "two whole numbers"),
        ("int(a,b)", "two whole numbers"),
        ("int(9,0)", "two whole numbers"),
        ("unique(3)", "takes no values"),
        ("random(1,2)", "no generator random()"),
        ("choice('a,b)", "a quote is not closed"),
    ],
)
def test_bad_generators(declared: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_argument(declared)


def spec(seed: int, **extra: object) -> dict[str, object]:
    operations = [
        {"method": "put", "args": ["key:choice(a,b,c)", "int(1,100)"], "weight": 2},
        {"method": "get", "args": ["key:choice(a,b,c)"]},
        {"method": "tag", "args": ["unique()"]},
    ]
    return {"threads": 3, "operations_per_thread": 40, "seed": seed, "operations": operations, **extra}


def test_the_plan_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    assert plan_calls(spec(1)) == plan_calls(spec(1))
    assert plan_calls(spec(1)) != plan_calls(spec(2))


def test_the_plan_draws_what_was_declared() -> None:
    plans = plan_calls(spec(3))
    assert [len(plan) for plan in plans] == [40, 40, 40]
    calls = [call for plan in plans for call in plan]
    assert {method for method, _ in calls} == {"put", "get", "tag"}
    for method, args in calls:
        if method == "put":
            assert args[0] in "abc" and 1 <= args[1] <= 100
        if method == "get":
            assert args[0] in ("a", "b", "c")
    tags = [args[0] for method, args in calls if method == "tag"]
    assert len(set(tags)) == len(tags) and min(tags) >= UNIQUE_BASE  # unique across every thread


def test_weights_shape_the_mix() -> None:
    calls = [c for plan in plan_calls({**spec(4), "operations_per_thread": 2000}) for c in plan]
    count = {method: sum(1 for m, _ in calls if m == method) for method in ("put", "get")}
    assert count["put"] > 1.5 * count["get"]  # weight 2 against 1, over 6,000 seeded draws


def test_an_operations_hook_gets_a_seeded_random_the_thread_and_the_count() -> None:
    seen = []

    def operations(rng: random.Random, thread: int, count: int):
        seen.append((thread, count))
        for _ in range(count):
            yield ("push", [rng.randint(0, 9)]) if thread else {"method": "pop", "args": []}

    plans = plan_calls(spec(5), operations)
    assert seen == [(0, 40), (1, 40), (2, 40)]
    assert plans[0][0] == ("pop", []) and plans[1][0][0] == "push"
    assert plan_calls(spec(5), operations) == plans


def test_an_operations_hook_that_yields_nonsense() -> None:
    with pytest.raises(SpecError, match="must yield"):
        plan_calls(spec(1), lambda rng, thread, count: itertools.repeat(42))


def test_load_hook_from_a_file_or_a_module(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "hooks_for_load_test.py").write_text("def hello():\n    return 'from a file'\n")
    by_file = load_hook({"file": str(tmp_path / "tests" / "hooks_for_load_test.py"), "function": "hello"}, [])
    assert by_file() == "from a file"
    by_module = load_hook({"module": "hooks_for_load_test", "function": "hello"}, [str(tmp_path / "tests")])
    assert by_module() == "from a file"
    with pytest.raises(SpecError, match="no function"):
        load_hook({"module": "hooks_for_load_test", "function": "absent"}, [])


class Point:
    def __init__(self) -> None:
        self.x, self.y = 1, (2, 3)


def test_plain_answers_are_json_ready_and_the_same_however_they_were_made() -> None:
    assert plain((1, [2, (3,)])) == [1, [2, [3]]]
    assert plain({3, 1, 2}) == [1, 2, 3]
    assert plain({1: "a"}) == {"1": "a"}
    assert plain(float("nan")) == "nan"
    assert plain(b"\x01") == {"bytes": "01"}
    assert plain(Point()) == {"type": "Point", "x": 1, "y": [2, 3]}
    assert plain(object()) == {"type": "object", "repr": "<object object>"}  # no address: equal across processes
