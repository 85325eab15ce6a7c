"""A small, faithful counterexample for a history that is not linearizable: a window of it, and the impossible answer.

The impossible answer is the first response at which the history so far has no linearization, and
what the model would have allowed there is computed on that whole history. Dropping operations can
make a history fail for a new reason (drop the increments before a read of a counter and the read
fails against the initial state), so the window is cut and shrunk under one rule: what remains must
still fail first at that same response, with exactly the same answers allowed there. The cut: the
operations answered before some point, if every order of them ends in one model state, are replaced
by that state (the window starts from it; any order of the rest after any order of them respects
real time, so the window fails if the history does). The shrinking: delta debugging under the rule.
The reader's message is then the one the whole history earned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from concgrade.grade.history import (
    Compare,
    Operation,
    SequentialModel,
    describe_expected,
    describe_state,
    operation_from_json,
    operation_to_json,
)
from concgrade.grade.linearization_search import Budget, OutOfBudget, final_states, linearizable, search

# How many cut points to try, latest first, before starting the window at the beginning of the history.
CUT_TRIES = 12
# Answers of the model at the impossible response listed at most (the search for more stops there).
EXPLAIN_ANSWERS = 5


@dataclass(frozen=True)
class Counterexample:
    operations: tuple[Operation, ...]  # the window, in invocation order; those without answers were still running
    impossible: int  # Operation.index of the first response no order of the window explains
    allowed: tuple[str, ...]  # what the model could have answered there (empty: nothing, or the budget ran out)
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counterexample:
        """A counterexample as `to_json` wrote it (for the reports, which read results.json's data)."""
        operations = tuple(operation_from_json(op, index) for index, op in enumerate(data["operations"]))
        return cls(
            operations=operations,
            impossible=int(data["impossible"]),
            allowed=tuple(str(answer) for answer in data.get("allowed", [])),
            preceding=int(data.get("preceding", 0)),
            start_state=str(data.get("start_state", "")),
            partition=data.get("partition"),
            minimal=bool(data.get("minimal", True)),
            original_size=int(data.get("original_size", len(operations))),
        )


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
    initial = model.init()
    ordered = tuple(sorted(operations, key=lambda op: op.invoked))
    text = describe_state(model, initial)
    try:
        impossible = impossible_response(ordered, judge, initial)
    except OutOfBudget:
        last = max(ordered, key=lambda op: op.responded if op.responded is not None else -1)
        return Counterexample(ordered, last.index, (), 0, text, label, False, len(ordered), initial)
    window: tuple[Operation, ...] = history_until(ordered, impossible.responded or 0)
    try:
        allowed: tuple[str, ...] | None = allowed_answers(window, impossible.index, judge, initial)
    except OutOfBudget:
        allowed = None  # unknown: the cut and the shrinking then keep only the impossible response fixed
    rule = _Rule(judge, impossible.index, allowed)
    preceding, start, minimal = 0, initial, False
    try:
        preceding, start, window = cut(window, impossible, rule, initial)
        if shrink:
            window = shrink_window(window, rule, start)
            minimal = True
    except OutOfBudget:
        window = rule.smallest or window
    shown = allowed if allowed is not None else ()
    text = describe_state(model, start)
    return Counterexample(window, impossible.index, shown, preceding, text, label, minimal, len(ordered), start)


@dataclass
class _Rule:
    """What a window must keep: the failure at the same response, with the same answers allowed there."""

    judge: _Judge
    impossible: int
    allowed: tuple[str, ...] | None  # None: unknown (the budget ran out computing it)
    smallest: tuple[Operation, ...] | None = None  # the last window that kept it

    def kept(self, window: tuple[Operation, ...], start: Any) -> bool:
        if not any(op.index == self.impossible for op in window) or not self.judge.fails(window, start):
            return False
        if impossible_response(window, self.judge, start).index != self.impossible:
            return False
        if self.allowed is not None and allowed_answers(window, self.impossible, self.judge, start) != self.allowed:
            return False
        self.smallest = window
        return True


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
    window: tuple[Operation, ...], impossible: Operation, rule: _Rule, start: Any
) -> tuple[int, Any, tuple[Operation, ...]]:
    """(operations cut off, the state every order of them ends in, the rest), at the latest point the rule allows.

    Cut points are responses before the impossible operation was invoked; the operations answered by
    then go, the rest stay (also those that were running at the cut).
    """
    moments = sorted({op.responded for op in window if op.responded is not None and op.responded < impossible.invoked})
    for moment in [moments[-1 - offset] for offset in _cut_offsets(len(moments))]:
        before = [op for op in window if op.responded is not None and op.responded <= moment]
        states = final_states(before, rule.judge.model, rule.judge.compare, rule.judge.budget, start, limit=2)
        if len(states) != 1:
            continue
        rest = tuple(op for op in window if op.responded is None or op.responded > moment)
        if rule.kept(rest, states[0]):
            return len(before), states[0], rest
    return 0, start, window


def _cut_offsets(count: int) -> list[int]:
    """The latest cut points first, then ever further back (0, 1, 2, 3, 4, 5, 7, 11, 19, ...)."""
    offsets, step = list(range(min(count, CUT_TRIES // 2))), 2
    while len(offsets) < CUT_TRIES and offsets and offsets[-1] + step < count:
        offsets.append(offsets[-1] + step)
        step *= 2
    return offsets


def shrink_window(window: tuple[Operation, ...], rule: _Rule, start: Any) -> tuple[Operation, ...]:
    """Delta debugging, greedy: whole threads, then halving chunks, then single operations, until none can go.

    Every step keeps the rule (rule.smallest follows, so a budget running out keeps the progress made);
    at the end, dropping any one operation would break it.
    """
    current = window
    for client in sorted({op.client for op in current}):
        candidate = tuple(op for op in current if op.client != client)
        if rule.kept(candidate, start):
            current = candidate
    chunk = max(1, len(current) // 2)
    while True:
        removed, position = False, 0
        while position < len(current):
            candidate = current[:position] + current[position + chunk :]
            if rule.kept(candidate, start):
                current, removed = candidate, True
            else:
                position += chunk
        if chunk == 1 and not removed:
            return current
        chunk = max(1, chunk // 2)


def allowed_answers(operations: Sequence[Operation], impossible: int, judge: _Judge, start: Any) -> tuple[str, ...]:
    """What the model could have answered for the impossible operation, in orders that explain all the rest.

    The memoized search itself, the impossible operation placed (anywhere its interval allows) but with
    any answer accepted, and what the model said there carried in the state; at most EXPLAIN_ANSWERS.
    """
    answers: set[str] = set()

    def collect(state: Any) -> bool:
        answers.add(state[1])
        return len(answers) >= EXPLAIN_ANSWERS

    def compare(expected: Any, op: Operation) -> bool:
        return op.index == impossible or judge.compare(expected, op)

    tagged = _Tagged(judge.model, impossible)
    search(operations, tagged, compare, judge.budget, (start, ""), collect)
    return tuple(sorted(answers))


@dataclass(frozen=True)
class _Tagged:
    """A model whose state also holds what the inner model answered for one operation."""

    inner: SequentialModel
    target: int

    def init(self) -> Any:
        return (self.inner.init(), "")

    def step(self, state: Any, op: Operation) -> tuple[Any, Any]:
        inner_state, answer = state
        after, expected = self.inner.step(inner_state, op)
        return (after, describe_expected(expected) if op.index == self.target else answer), expected

    def key(self, state: Any) -> Any:
        return (self.inner.key(state[0]), state[1])
