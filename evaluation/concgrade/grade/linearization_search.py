"""Wing & Gong's linearization search with Lowe's memo, as Porcupine runs it, on a shared time budget (pure)."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from concgrade.grade.history import Compare, Operation, SequentialModel

# Search steps between two looks at the clock: often enough to stop within milliseconds of the budget,
# rarely enough that reading the clock costs nothing measurable.
CLOCK_EVERY = 64


class OutOfBudget(Exception):
    """The budget ran out in the middle of a search: its question stays open."""


class Budget:
    """A deadline on an injectable clock, shared by every search of one check (partitions, then shrinking)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float]):
        self.clock = clock
        self.seconds = seconds
        self.started = clock()
        self.deadline = math.inf if seconds is None else self.started + seconds
        self.steps = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps % CLOCK_EVERY == 0 and self.clock() > self.deadline:
            raise OutOfBudget

    def elapsed(self) -> float:
        return self.clock() - self.started


def linearizable(
    operations: Sequence[Operation], model: SequentialModel, compare: Compare, budget: Budget, start: Any
) -> bool:
    """Some order of `operations`, consistent with their real-time order, explains every answer from `start`."""
    return search(operations, model, compare, budget, start, lambda _state: True)


def final_states(
    operations: Sequence[Operation],
    model: SequentialModel,
    compare: Compare,
    budget: Budget,
    start: Any,
    limit: int,
) -> list[Any]:
    """Distinct model states (by key) that orders explaining every answer end in; at most `limit` of them."""
    found: dict[Hashable, Any] = {}

    def collect(state: Any) -> bool:
        found.setdefault(model.key(state), state)
        return len(found) >= limit

    search(operations, model, compare, budget, start, collect)
    return list(found.values())


def search(
    operations: Sequence[Operation],
    model: SequentialModel,
    compare: Compare,
    budget: Budget,
    start: Any,
    accept: Callable[[Any], bool],
) -> bool:
    """The search; at each complete order `accept(final state)` says whether to stop (else it backtracks for more).

    The invocations and responses sit in one time-ordered doubly linked list. Walking it, an invocation
    is a candidate to linearize next; reaching a response whose operation is not yet linearized means
    the current order cannot work, so the search backtracks. A (model state, set of linearized
    operations) pair already explored is never explored again. Operations without a response may be
    linearized anywhere after their invocation, or not at all.
    """
    count = len(operations)
    head, tail = 2 * count, 2 * count + 1
    following, preceding = _event_list(operations, head, tail)
    state, linearized = start, 0  # bit i of `linearized`: operation i is in the current order
    seen: set[tuple[Hashable, int]] = set()
    stack: list[tuple[int, Any]] = []
    remaining = sum(1 for op in operations if not op.pending)
    found = False
    entry = following[head]
    while True:
        if not remaining:
            found = True
            if accept(state) or not stack:
                return True
            entry = tail  # look for another complete order: undo the last step as at a dead end
        budget.tick()
        if entry & 1 == 0:  # an invocation (the tail, 2n+1, is odd)
            position = entry >> 1
            op = operations[position]
            after, expected = model.step(state, op)
            if op.pending or compare(expected, op):
                bits = linearized | (1 << position)
                node = (model.key(after), bits)
                if node not in seen:
                    seen.add(node)
                    stack.append((position, state))
                    state, linearized = after, bits
                    remaining -= 0 if op.pending else 1
                    _lift(entry, following, preceding)
                    entry = following[head]
                    continue
            entry = following[entry]
            continue
        # A response whose operation is not in the order, or the end: this order cannot go on.
        if not stack:
            return found
        position, state = stack.pop()
        linearized &= ~(1 << position)
        remaining += 0 if operations[position].pending else 1
        _unlift(2 * position, following, preceding)
        entry = following[2 * position]


def _event_list(operations: Sequence[Operation], head: int, tail: int) -> tuple[list[int], list[int]]:
    """Links of the time-ordered events: event 2i invokes operation i, event 2i+1 is its response.

    At equal times invocations come first: two operations whose bounds touch count as overlapping,
    which can only make the checker more permissive, never report a violation that is not there.
    """
    events: list[tuple[float, int, int]] = []
    for position, op in enumerate(operations):
        events.append((op.invoked, 0, position))
        events.append((math.inf if op.responded is None else op.responded, 1, position))
    events.sort()
    order = [head, *(2 * position + kind for _, kind, position in events), tail]
    following, preceding = [0] * (tail + 1), [0] * (tail + 1)
    for before, after in zip(order, order[1:], strict=False):
        following[before], preceding[after] = after, before
    return following, preceding


def _lift(call: int, following: list[int], preceding: list[int]) -> None:
    """Unlink an operation's two events (dancing links: they keep their own pointers for _unlift)."""
    for entry in (call, call + 1):
        following[preceding[entry]] = following[entry]
        preceding[following[entry]] = preceding[entry]


def _unlift(call: int, following: list[int], preceding: list[int]) -> None:
    for entry in (call + 1, call):
        following[preceding[entry]] = entry
        preceding[following[entry]] = entry
