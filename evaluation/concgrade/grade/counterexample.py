"""A small, faithful counterexample for a history that is not linearizable: a window of it, and the impossible answer.

Dropping operations from a history can make it fail for a new reason (drop the increments before a
read of a counter and the read fails against the initial state), so the window is cut and shrunk
under two rules. The cut: the operations answered before some point, if every order of them ends in
one model state, are replaced by that state (the window starts from it; every answer before the cut
stays explained, so the window fails only if the history does). The shrinking: an operation leaves
the window only if what remains still fails first at the same response, with no answer allowed there
that the whole history did not allow: the message a reader sees can only get more precise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from concgrade.grade.history import (
    Compare,
    Operation,
    SequentialModel,
    describe_expected,
    describe_state,
    operation_to_json,
)
from concgrade.grade.linearization_search import Budget, OutOfBudget, final_states, linearizable

# How many cut points to try, latest first, before starting the window at the beginning of the history.
CUT_TRIES = 12
# Bounds of the small exhaustive search that says what the model could have answered at the impossible response.
EXPLAIN_NODES = 20_000
EXPLAIN_ANSWERS = 5


@dataclass(frozen=True)
class Counterexample:
    operations: tuple[Operation, ...]  # the window, in invocation order; those without answers were still running
    impossible: int  # Operation.index of the first response no order of the window explains
    allowed: tuple[str, ...]  # what the model could have answered there (empty: the search for it gave up)
    preceding: int  # operations answered before the window starts; every order of them ends in start_state
    start_state: str  # the model's state the window starts from, described
    partition: str | None  # the key of the partition it came from (repr), None when not partitioned
    minimal: bool  # False: the budget ran out while shrinking (still a violation, maybe not the smallest)
    original_size: int  # operations of its partition
    start: Any = field(default=None, compare=False, repr=False)  # the model state itself (not in the JSON)

    def impossible_operation(self) -> Operation:
        return next(op for op in self.operations if op.index == self.impossible)

    def explanation(self) -> str:
        op = self.impossible_operation()
        text = f"thread {op.client}: {op.call_text()} answered {op.outcome_text()}"
        if self.allowed:
            return f"{text} where the sequential model allows {' or '.join(self.allowed)}"
        return f"{text}, which no order of the operations before it explains"

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": [operation_to_json(op) for op in self.operations],
            "impossible": self.impossible,
            "allowed": list(self.allowed),
            "preceding": self.preceding,
            "start_state": self.start_state,
            "partition": self.partition,
            "minimal": self.minimal,
            "original_size": self.original_size,
            "explanation": self.explanation(),
        }


@dataclass(frozen=True)
class _Judge:
    """The model, the comparison and the budget every question about one failing partition shares."""

    model: SequentialModel
    compare: Compare
    budget: Budget

    def fails(self, operations: Sequence[Operation], start: Any) -> bool:
        return not linearizable(operations, self.model, self.compare, self.budget, start)


def find_counterexample(
    operations: tuple[Operation, ...],
    label: str | None,
    model: SequentialModel,
    compare: Compare,
    budget: Budget,
    shrink: bool = True,
) -> Counterexample:
    """The counterexample of a partition known not to be linearizable; smaller the more budget is left."""
    judge = _Judge(model, compare, budget)
    start = model.init()
    ordered = tuple(sorted(operations, key=lambda op: op.invoked))
    try:
        impossible = impossible_response(ordered, judge, start)
    except OutOfBudget:
        last = max(ordered, key=lambda op: op.responded if op.responded is not None else -1)
        text = describe_state(model, start)
        return Counterexample(ordered, last.index, (), 0, text, label, False, len(ordered), start)
    window: tuple[Operation, ...] = history_until(ordered, impossible.responded or 0)
    preceding = 0
    try:
        preceding, start, window = cut(window, impossible, judge, start)
    except OutOfBudget:
        pass
    allowed = allowed_answers(window, impossible.index, model, compare, start)
    minimal = False
    if shrink:
        smallest = [window]
        try:
            shrink_window(smallest, impossible.index, allowed, judge, start)
            minimal = True
        except OutOfBudget:
            pass
        if smallest[0] != window:  # shrinking may have narrowed what is allowed there
            window = smallest[0]
            allowed = allowed_answers(window, impossible.index, model, compare, start)
    text = describe_state(model, start)
    return Counterexample(window, impossible.index, allowed, preceding, text, label, minimal, len(ordered), start)


def history_until(operations: Sequence[Operation], moment: int) -> tuple[Operation, ...]:
    """The history as it stood at `moment`: what was invoked by then, without the answers that came later."""
    return tuple(
        op if op.responded is not None and op.responded <= moment else unanswered(op)
        for op in operations
        if op.invoked <= moment
    )


def unanswered(op: Operation) -> Operation:
    return replace(op, outcome=None, responded=None, message="")


def impossible_response(operations: Sequence[Operation], judge: _Judge, start: Any) -> Operation:
    """The operation whose response is the first at which the history so far has no linearization.

    Once the history up to one response fails, the history up to any later one fails too (cut a
    linearization of the later one after its last operation answered by the earlier moment), so
    bisection over the responses finds the first.
    """
    answered = sorted((op for op in operations if op.responded is not None), key=lambda op: op.responded or 0)
    low, high = 0, len(answered) - 1
    while low < high:
        middle = (low + high) // 2
        if judge.fails(history_until(operations, answered[middle].responded or 0), start):
            high = middle
        else:
            low = middle + 1
    return answered[high]


def cut(
    window: tuple[Operation, ...], impossible: Operation, judge: _Judge, start: Any
) -> tuple[int, Any, tuple[Operation, ...]]:
    """(operations cut off, the state every order of them ends in, the rest), at the latest point that has one.

    Cut points are responses before the impossible operation was invoked; the operations answered by
    then go, the rest stay (also those that were running at the cut). Any order of the rest from the
    cut state, after any order of the cut ones, respects real time: so if the rest had an order, the
    whole history would.
    """
    moments = sorted({op.responded for op in window if op.responded is not None and op.responded < impossible.invoked})
    tries = [moments[-1 - offset] for offset in _cut_offsets(len(moments))]
    for moment in tries:
        before = [op for op in window if op.responded is not None and op.responded <= moment]
        states = final_states(before, judge.model, judge.compare, judge.budget, start, limit=2)
        if len(states) == 1:
            rest = tuple(op for op in window if op.responded is None or op.responded > moment)
            return len(before), states[0], rest
    return 0, start, window


def _cut_offsets(count: int) -> list[int]:
    """The latest cut points first, then ever further back (0, 1, 2, 3, 4, 5, 7, 11, 19, ...)."""
    offsets, step = list(range(min(count, CUT_TRIES // 2))), 2
    while len(offsets) < CUT_TRIES and offsets and offsets[-1] + step < count:
        offsets.append(offsets[-1] + step)
        step *= 2
    return offsets


def shrink_window(
    smallest: list[tuple[Operation, ...]],
    impossible: int,
    allowed: tuple[str, ...],
    judge: _Judge,
    start: Any,
) -> None:
    """Delta debugging, greedy: whole threads, then halving chunks, then single operations, until none can go.

    smallest[0] is a faithful counterexample at every moment (so a budget running out keeps the
    progress made); at the end, dropping any one of its operations loses the failure or changes it.
    Each step may narrow the allowed answers (`allowed` is the whole window's), never widen them.
    """

    def keeps(candidate: tuple[Operation, ...]) -> bool:
        if not any(op.index == impossible for op in candidate) or not judge.fails(candidate, start):
            return False
        if impossible_response(candidate, judge, start).index != impossible:
            return False
        if allowed:
            narrowed = allowed_answers(candidate, impossible, judge.model, judge.compare, start)
            if not narrowed or not set(narrowed) <= set(allowed):
                return False
        smallest[0] = candidate
        return True

    for client in sorted({op.client for op in smallest[0]}):
        keeps(tuple(op for op in smallest[0] if op.client != client))
    chunk = max(1, len(smallest[0]) // 2)
    while True:
        removed, position = False, 0
        while position < len(smallest[0]):
            current = smallest[0]
            if keeps(current[:position] + current[position + chunk :]):
                removed = True
            else:
                position += chunk
        if chunk == 1 and not removed:
            return
        chunk = max(1, chunk // 2)


def allowed_answers(
    operations: Sequence[Operation], impossible: int, model: SequentialModel, compare: Compare, start: Any
) -> tuple[str, ...]:
    """What the model could have answered for the impossible operation, in orders that explain all the rest.

    A small exhaustive search over the history just before that response, the operation placed
    wherever its interval allows with whatever the model answers there; empty when that takes too long.
    """
    target = next(op for op in operations if op.index == impossible)
    before = history_until(operations, (target.responded or 0) - 1)
    before = before if any(op.index == impossible for op in before) else (*before, unanswered(target))
    required = frozenset(op.index for op in before if not op.pending) | {impossible}
    answers: set[str] = set()
    visited: set[tuple[Any, frozenset[int], str | None]] = set()
    explored = 0

    def explore(state: Any, placed: frozenset[int], answer: str | None) -> None:
        nonlocal explored
        explored += 1
        node = (model.key(state), placed, answer)
        if explored > EXPLAIN_NODES or len(answers) >= EXPLAIN_ANSWERS or node in visited:
            return
        visited.add(node)
        if answer is not None and required <= placed:
            answers.add(answer)
            return
        for op in _candidates(before, placed):
            after, expected = model.step(state, op)
            if op.index == impossible:
                explore(after, placed | {op.index}, describe_expected(expected))
            elif op.pending or compare(expected, op):
                explore(after, placed | {op.index}, answer)

    explore(start, frozenset(), None)
    return tuple(sorted(answers)) if explored <= EXPLAIN_NODES else ()


def _candidates(operations: Sequence[Operation], placed: frozenset[int]) -> list[Operation]:
    """Operations that may come next: invoked before every unplaced answered operation responded."""
    open_ops = [op for op in operations if op.index not in placed]
    horizon = min((op.responded for op in open_ops if op.responded is not None), default=math.inf)
    return [op for op in open_ops if op.invoked <= horizon]
