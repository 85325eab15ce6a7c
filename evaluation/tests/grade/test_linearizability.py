"""The linearizability checker on hand-built histories with known answers, and against brute force."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from concgrade.grade.linearizability import (
    LINEARIZABLE,
    UNDECIDED,
    VIOLATION,
    AnyOf,
    History,
    MalformedHistory,
    Model,
    Operation,
    Outcome,
    UniqueResults,
    check,
    history_from_json,
    partition_by_argument,
    per_method,
    returns,
)

PENDING = object()


def op(
    index: int,
    client: int,
    method: str,
    args: Sequence[Any],
    answer: Any,
    invoked: int,
    responded: int | None,
    raised: str | None = None,
) -> Operation:
    """One operation; `answer` PENDING (with responded None) for one that never returned."""
    if answer is PENDING:
        return Operation(index, client, method, tuple(args), None, invoked, None)
    return Operation(index, client, method, tuple(args), Outcome(answer, raised), invoked, responded)


def counter_step(state: int, operation: Operation) -> tuple[int, Outcome]:
    if operation.method == "incr":
        return state + 1, returns(state + 1)
    return state, returns(state)


def register_step(state: Any, operation: Operation) -> tuple[Any, Outcome]:
    if operation.method == "write":
        return operation.args[0], returns(None)
    return state, returns(state)


def queue_step(state: tuple[Any, ...], operation: Operation) -> tuple[tuple[Any, ...], Outcome]:
    if operation.method == "enq":
        return (*state, operation.args[0]), returns(None)
    if not state:
        return state, Outcome(None, "IndexError")
    return state[1:], returns(state[0])


def keyed_counter_step(state: tuple[tuple[str, int], ...], operation: Operation) -> tuple[Any, Outcome]:
    counts = dict(state)
    key = operation.args[0]
    if operation.method == "incr":
        counts[key] = counts.get(key, 0) + 1
    return tuple(sorted(counts.items())), returns(counts.get(key, 0))


COUNTER = Model(lambda: 0, counter_step)
REGISTER = Model(lambda: 0, register_step)
QUEUE = Model(lambda: (), queue_step)
KEYED_COUNTER = Model(lambda: (), keyed_counter_step)


# Classic examples


def test_overlapping_write_and_reads_may_see_either_value() -> None:
    history = [
        op(0, 0, "write", [1], None, 0, 100),
        op(1, 1, "read", [], 0, 10, 20),
        op(2, 2, "read", [], 1, 30, 40),
        op(3, 1, "read", [], 1, 50, 60),
    ]
    assert check(history, REGISTER).status == LINEARIZABLE


def test_a_read_that_goes_back_to_the_old_value_is_a_violation() -> None:
    history = [
        op(0, 0, "write", [1], None, 0, 100),
        op(1, 1, "read", [], 1, 10, 20),
        op(2, 2, "read", [], 0, 30, 40),  # after a read saw the new value
    ]
    verdict = check(history, REGISTER)
    assert verdict.status == VIOLATION
    assert verdict.counterexample is not None and verdict.counterexample.impossible == 2


def test_stale_read_after_the_write_returned() -> None:
    history = [op(0, 0, "write", [7], None, 0, 10), op(1, 1, "read", [], 0, 20, 30)]
    verdict = check(history, REGISTER)
    assert verdict.status == VIOLATION
    found = verdict.counterexample
    assert found is not None
    assert found.impossible == 1 and found.allowed == ("7",)
    assert "read() answered 0 where the sequential model allows 7" in verdict.message()


def test_lost_update_two_increments_answer_the_same_count() -> None:
    history = [op(0, 0, "incr", [], 1, 0, 50), op(1, 1, "incr", [], 1, 10, 60)]
    verdict = check(history, COUNTER)
    assert verdict.status == VIOLATION
    found = verdict.counterexample
    assert found is not None and found.impossible == 1 and found.allowed == ("2",)


def test_overlapping_increments_may_answer_in_either_order() -> None:
    history = [
        op(0, 0, "incr", [], 2, 0, 50),
        op(1, 1, "incr", [], 1, 10, 60),
        op(2, 0, "get", [], 2, 70, 80),
    ]
    assert check(history, COUNTER).status == LINEARIZABLE


def test_queue_linearizable_only_in_an_order_that_is_not_the_invocation_order() -> None:
    """enq(1) is invoked first but must take effect after deq() answered 2: the search has to backtrack."""
    history = [
        op(0, 0, "enq", [1], None, 0, 100),
        op(1, 1, "enq", [2], None, 10, 20),
        op(2, 2, "deq", [], 2, 30, 40),
        op(3, 2, "deq", [], 1, 110, 120),
    ]
    verdict = check(history, QUEUE)
    assert verdict.status == LINEARIZABLE
    assert verdict.steps > len(history)  # it did try the invocation order first


def test_queue_that_is_not_fifo() -> None:
    history = [
        op(0, 0, "enq", [1], None, 0, 10),
        op(1, 0, "enq", [2], None, 20, 30),
        op(2, 1, "deq", [], 2, 40, 50),
    ]
    verdict = check(history, QUEUE)
    assert verdict.status == VIOLATION
    assert verdict.counterexample is not None and verdict.counterexample.allowed == ("1",)


def test_exceptions_are_outcomes_like_values() -> None:
    empty = [op(0, 0, "deq", [], None, 0, 10, raised="IndexError")]
    assert check(empty, QUEUE).status == LINEARIZABLE
    wrong = [op(0, 0, "enq", [5], None, 0, 10), op(1, 1, "deq", [], None, 20, 30, raised="IndexError")]
    verdict = check(wrong, QUEUE)
    assert verdict.status == VIOLATION
    assert "raised IndexError where the sequential model allows 5" in verdict.message()


def test_an_operation_that_never_returned_may_or_may_not_have_taken_effect() -> None:
    took_effect = [op(0, 0, "write", [3], PENDING, 0, None), op(1, 1, "read", [], 3, 10, 20)]
    assert check(took_effect, REGISTER).status == LINEARIZABLE
    did_not = [op(0, 0, "write", [3], PENDING, 0, None), op(1, 1, "read", [], 0, 10, 20)]
    assert check(did_not, REGISTER).status == LINEARIZABLE
    never_written = [op(0, 0, "write", [3], PENDING, 0, None), op(1, 1, "read", [], 4, 10, 20)]
    assert check(never_written, REGISTER).status == VIOLATION


def test_touching_bounds_count_as_overlap() -> None:
    history = [op(0, 0, "write", [1], None, 0, 10), op(1, 1, "read", [], 0, 10, 20)]
    assert check(history, REGISTER).status == LINEARIZABLE


# Partitions (P-compositionality)


def test_partitions_are_searched_apart_and_the_failing_key_is_named() -> None:
    history = [
        op(0, 0, "incr", ["a"], 1, 0, 10),
        op(1, 1, "incr", ["b"], 1, 5, 15),
        op(2, 0, "incr", ["b"], 1, 20, 30),  # a lost update on b
        op(3, 1, "get", ["a"], 1, 20, 30),
    ]
    verdict = check(history, KEYED_COUNTER, partition=partition_by_argument(0))
    assert verdict.status == VIOLATION and verdict.partitions == 2
    found = verdict.counterexample
    assert found is not None and found.partition == "'b'" and {o.args[0] for o in found.operations} == {"b"}


def test_an_operation_without_the_key_makes_the_whole_history_one_partition() -> None:
    history = [op(0, 0, "incr", ["a"], 1, 0, 10), op(1, 1, "size", [], None, 20, 30)]
    model = Model(
        lambda: (), lambda state, o: (state, returns(None)) if o.method == "size" else keyed_counter_step(state, o)
    )
    assert check(history, model, partition=partition_by_argument(0)).partitions == 1


# Comparisons for nondeterministic answers


def test_unique_results_accepts_any_fresh_ids_and_rejects_a_repeat() -> None:
    ids = Model(lambda: 0, lambda state, o: (state + 1, returns(state + 1)))
    model = UniqueResults(ids, frozenset({"next_id"}))
    fresh = [
        op(0, 0, "next_id", [], 907, 0, 10),
        op(1, 1, "next_id", [], 12, 5, 15),
        op(2, 0, "next_id", [], 3, 20, 30),
    ]
    assert check(fresh, model).status == LINEARIZABLE
    assert check(fresh, ids).status == VIOLATION  # equality with the model would demand 1, 2, 3
    repeated = [*fresh, op(3, 1, "next_id", [], 12, 40, 50)]
    verdict = check(repeated, model)
    assert verdict.status == VIOLATION and verdict.counterexample is not None
    assert verdict.counterexample.impossible == 3
    assert verdict.counterexample.allowed == ("a value not answered before (not 12, 3, 907)",)


def test_any_of_lets_a_model_accept_a_set_of_answers() -> None:
    # A set's pop() may return any element: the model answers with every possibility.
    def step(state: frozenset[int], o: Operation) -> tuple[frozenset[int], Any]:
        if o.method == "add":
            return state | {o.args[0]}, returns(None)
        picked = o.outcome.value if o.outcome is not None and o.outcome.value in state else None
        return state - {picked}, AnyOf(tuple(returns(x) for x in sorted(state)))

    model = Model(lambda: frozenset(), step)
    history = [op(0, 0, "add", [1], None, 0, 10), op(1, 0, "add", [2], None, 20, 30), op(2, 1, "pop", [], 2, 40, 50)]
    assert check(history, model).status == LINEARIZABLE
    history[2] = op(2, 1, "pop", [], 3, 40, 50)
    assert check(history, model).status == VIOLATION


def test_per_method_comparison_hook() -> None:
    # get() answers a timestamp-like number: only that it did not decrease matters, not its value.
    def loose(expected: Any, o: Operation) -> bool:
        return o.outcome is not None and o.outcome.value >= 0

    history = [op(0, 0, "incr", [], 1, 0, 10), op(1, 1, "get", [], 99, 20, 30)]
    assert check(history, COUNTER).status == VIOLATION
    assert check(history, COUNTER, compare=per_method({"get": loose})).status == LINEARIZABLE


# The budget


class FakeClock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def hard_history(size: int = 12) -> list[Operation]:
    """Writes that all overlap, and a read among them of a value never written: the search tries every subset."""
    history = [op(i, i, "write", [i + 1], None, i, 1000 + i) for i in range(size)]
    return [*history, op(size, size, "read", [], 99, size, 2000)]


def test_a_search_out_of_budget_is_undecided_never_linearizable() -> None:
    verdict = check(hard_history(), REGISTER, budget_seconds=3, clock=FakeClock())
    assert verdict.status == UNDECIDED
    assert "budget ran out" in verdict.reason and "undecided" in verdict.message()
    assert verdict.counterexample is None


def test_the_same_search_without_a_budget_finds_the_violation() -> None:
    verdict = check(hard_history(), REGISTER, budget_seconds=None)
    assert verdict.status == VIOLATION and verdict.steps > 3 * 64  # more steps than the fake clock allowed


def test_a_budget_running_out_while_shrinking_still_reports_the_violation() -> None:
    history = [*sequential_counter_history(15), op(15, 0, "get", [], 3, 1000, 1010)]
    readings = itertools.chain([0.0], itertools.repeat(10.0))  # the clock jumps past the budget after its first read
    verdict = check(history, COUNTER, budget_seconds=5, clock=lambda: next(readings))
    # The search takes fewer steps than one look at the clock; the counterexample's searches do not.
    found = verdict.counterexample
    assert verdict.status == VIOLATION and found is not None
    assert not found.minimal and len(found.operations) == len(history)


# Shrinking


def sequential_counter_history(count: int) -> list[Operation]:
    return [op(i, i % 3, "incr", [], i + 1, 20 * i, 20 * i + 10) for i in range(count)]


def test_a_stale_read_late_in_a_long_history_shrinks_to_the_read_from_the_state_before_it() -> None:
    history = sequential_counter_history(50) + [op(50, 1, "get", [], 47, 2000, 2010)]
    verdict = check(history, COUNTER)
    found = verdict.counterexample
    assert verdict.status == VIOLATION and found is not None and found.minimal
    assert [o.index for o in found.operations] == [50]
    assert found.preceding == 50 and found.start_state == "50" and found.allowed == ("50",)


def test_a_lost_update_keeps_both_increments_and_the_count_before_them() -> None:
    """Naive shrinking would keep one increment and blame it for not answering 1 from the initial state."""
    history = [
        *sequential_counter_history(10),
        op(10, 0, "incr", [], 11, 500, 560),
        op(11, 1, "incr", [], 11, 510, 570),
        op(12, 2, "get", [], 11, 600, 610),
    ]
    found = check(history, COUNTER).counterexample
    assert found is not None and found.minimal
    assert [o.index for o in found.operations] == [10, 11]
    assert found.impossible == 11 and found.allowed == ("12",) and found.start_state == "10"
    assert_one_minimal(found.operations, Model(lambda: found.start, counter_step))


def test_shrinking_drops_threads_that_have_nothing_to_do_with_it() -> None:
    noise = [op(100 + i, 3 + i % 2, "read", [], 1, 30 + 40 * i, 50 + 40 * i) for i in range(10)]
    history = [
        op(0, 0, "write", [1], None, 0, 10),
        *noise,
        op(1, 1, "write", [2], None, 200, 210),
        op(2, 2, "read", [], 1, 220, 230),  # stale: 2 was written before
    ]
    verdict = check(history, REGISTER)
    found = verdict.counterexample
    assert found is not None
    assert {o.client for o in found.operations} <= {1, 2}
    assert found.impossible == 2
    assert_one_minimal(found.operations, Model(lambda: found.start, register_step))


def cache_step(state: tuple[Any, int], operation: Operation) -> tuple[tuple[Any, int], Outcome]:
    value, computed = state
    if operation.method == "invalidate":
        return (None, computed), returns(None)
    if value is None:
        value, computed = f"#{computed + 1}", computed + 1
    return (value, computed), returns(value)


def test_a_cut_never_moves_the_failure_to_an_earlier_response() -> None:
    """The invalidate overlaps the first two reads: cutting it off (with its state) would make '#2' impossible."""
    history = [
        op(0, 2, "invalidate", [], None, -17, 137),
        op(1, 0, "get", [], "#1", 10, 164),
        op(2, 3, "get", [], "#2", 95, 178),
        op(3, 2, "get", [], "#1", 141, 211),  # '#2' was answered before: '#1' cannot come back
    ]
    model = Model(lambda: (None, 0), cache_step)
    found = check(history, model).counterexample
    assert found is not None and found.impossible == 3 and found.allowed == ("'#2'",)
    assert_same_failure(found.operations, Model(lambda: found.start, cache_step), found.impossible, found.allowed)


def assert_same_failure(window: Sequence[Operation], model: Model, impossible: int, allowed: tuple[str, ...]) -> None:
    """The window, checked on its own from its start state, fails first at the same response, allowing the same."""
    own = check(window, model, budget_seconds=None).counterexample
    assert own is not None and own.impossible == impossible and own.allowed == allowed


def assert_one_minimal(window: Sequence[Operation], model: Model) -> None:
    """Dropping any one operation of the window leaves a history that is linearizable from its start state."""
    assert check(window, model).status == VIOLATION
    for dropped in window:
        rest = [o for o in window if o is not dropped]
        assert check(rest, model).status == LINEARIZABLE, f"{dropped} could go"


# Properties (seeded: the same cases every run)


def sequential_then_widened(model: Model, methods: Sequence[str], size: int, seed: int) -> list[Operation]:
    """Operations applied one after another to the model, then each interval widened around its moment.

    Every such history is linearizable: the moments themselves are an order.
    """
    rng = random.Random(seed)
    state, moment, history = model.init(), 0, []
    busy_until = {client: -1 for client in range(4)}
    for index in range(size):
        moment = max(moment + rng.randint(1, 4), min(busy_until.values()) + 1)
        client = rng.choice([c for c in busy_until if busy_until[c] < moment])
        method = rng.choice(methods)
        probe = Operation(index, client, method, (rng.randint(0, 3),), None, 0, None)
        state, answer = model.step(state, probe)
        invoked = rng.randint(busy_until[client] + 1, moment)
        responded = moment + rng.randint(0, 12)
        busy_until[client] = responded
        history.append(Operation(index, client, method, probe.args, Outcome(*answer), invoked, responded))
    return history


@pytest.mark.parametrize("seed", range(40))
def test_histories_from_a_sequential_run_are_always_linearizable(seed: int) -> None:
    assert check(sequential_then_widened(REGISTER, ["write", "read"], 60, seed), REGISTER).status == LINEARIZABLE
    assert check(sequential_then_widened(QUEUE, ["enq", "deq"], 60, seed), QUEUE).status == LINEARIZABLE
    assert check(sequential_then_widened(COUNTER, ["incr", "get"], 60, seed), COUNTER).status == LINEARIZABLE


def brute_force(history: Sequence[Operation], model: Model) -> bool:
    """Every subset of the unanswered operations, every order that respects real time: any that explains it all?"""
    answered = [o for o in history if not o.pending]
    unanswered = [o for o in history if o.pending]
    for size in range(len(unanswered) + 1):
        for chosen in itertools.combinations(unanswered, size):
            for order in itertools.permutations([*answered, *chosen]):
                if respects_real_time(order) and explains(order, model):
                    return True
    return False


def respects_real_time(order: Sequence[Operation]) -> bool:
    return all(
        later.responded is None or later.responded >= earlier.invoked
        for position, earlier in enumerate(order)
        for later in order[position + 1 :]
    )


def explains(order: Sequence[Operation], model: Model) -> bool:
    state = model.init()
    for o in order:
        state, answer = model.step(state, o)
        if o.outcome is not None and tuple(answer) != tuple(o.outcome):
            return False
    return True


def random_small_histories(seed: int) -> Iterator[tuple[list[Operation], Model]]:
    rng = random.Random(seed)
    for model, methods, answers in ((REGISTER, ("write", "read"), (0, 1, 2)), (COUNTER, ("incr", "get"), (0, 1, 2, 3))):
        for _ in range(15):
            history, busy_until = [], {0: 0, 1: 0, 2: 0}
            for index in range(rng.randint(1, 6)):
                client = rng.choice(list(busy_until))
                invoked = busy_until[client] + rng.randint(0, 6)
                method = rng.choice(methods)
                if rng.random() < 0.1:
                    history.append(op(index, client, method, [rng.randint(1, 2)], PENDING, invoked, None))
                    busy_until.pop(client)
                    if not busy_until:
                        break
                    continue
                responded = invoked + rng.randint(0, 8)
                answer = None if method == "write" else rng.choice(answers)
                history.append(op(index, client, method, [rng.randint(1, 2)], answer, invoked, responded))
                busy_until[client] = responded + 1
            yield history, model


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_brute_force_on_small_random_histories(seed: int) -> None:
    verdicts = []
    for history, model in random_small_histories(seed):
        expected = LINEARIZABLE if brute_force(history, model) else VIOLATION
        assert check(history, model, budget_seconds=None).status == expected, history
        verdicts.append(expected)
    assert set(verdicts) == {LINEARIZABLE, VIOLATION}  # the cases exercise both answers


@pytest.mark.parametrize("seed", range(10))
def test_every_counterexample_fails_on_its_own_at_the_same_response_allowing_the_same(seed: int) -> None:
    for history, model in random_small_histories(seed):
        verdict = check(history, model, budget_seconds=None)
        if verdict.status != VIOLATION:
            continue
        found = verdict.counterexample
        assert found is not None
        start = Model(lambda state=found.start: state, model.transition)
        assert not found.impossible_operation().pending
        assert_same_failure(found.operations, start, found.impossible, found.allowed)


# Malformed histories and the JSON form


def test_malformed_histories_are_refused() -> None:
    with pytest.raises(MalformedHistory, match="responded before"):
        check([op(0, 0, "read", [], 0, 10, 5)], REGISTER)
    with pytest.raises(MalformedHistory, match="overlaps"):
        check([op(0, 0, "read", [], 0, 0, 10), op(1, 0, "read", [], 0, 5, 20)], REGISTER)
    with pytest.raises(MalformedHistory, match="share an index"):
        check([op(0, 0, "read", [], 0, 0, 10), op(0, 1, "read", [], 0, 5, 20)], REGISTER)


def test_history_from_the_drivers_json() -> None:
    data = {
        "format": 1,
        "seed": 7,
        "operations": [
            {"client": 0, "method": "write", "args": [1], "invoked": 0, "responded": 10, "value": None},
            {"client": 1, "method": "read", "args": [], "invoked": 20, "responded": 30, "raised": "KeyError"},
            {"client": 2, "method": "read", "args": [], "invoked": 25, "responded": None},
        ],
    }
    history = history_from_json(json.loads(json.dumps(data)))
    assert isinstance(history, History) and history.seed == 7
    assert history.operations[1].outcome == Outcome(None, "KeyError") and history.operations[2].pending
    verdict = check(history, REGISTER)
    assert verdict.status == VIOLATION and verdict.seed == 7 and "seed 7" in verdict.message()
    json.dumps(verdict.to_json())
    for bad in ({"format": 2, "operations": []}, {"format": 1, "operations": [{"client": 0}]}, [1, 2]):
        with pytest.raises(MalformedHistory):
            history_from_json(bad)
