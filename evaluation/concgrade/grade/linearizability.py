"""Is a recorded history linearizable with respect to a sequential model? `check` answers, within a time budget.

Three answers: linearizable, violation (with a small counterexample and the impossible response),
or undecided (the budget ran out; never a pass). The search is Wing & Gong's with the memo Porcupine
uses (linearization_search.py); declared partitions (P-compositionality) are searched apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from concgrade.grade.counterexample import Counterexample, find_counterexample
from concgrade.grade.history import (
    NO_KEY,
    AnyOf,
    Compare,
    Expectation,
    History,
    MalformedHistory,
    Model,
    Operation,
    Outcome,
    Partition,
    SequentialModel,
    UniqueResults,
    Unseen,
    history_from_json,
    outcomes_match,
    partition_by_argument,
    per_method,
    returns,
    thaw,
    validate,
)
from concgrade.grade.linearization_search import Budget, OutOfBudget, linearizable
from concgrade.task.histories import HistorySpec, HookRef

__all__ = [
    "LINEARIZABLE",
    "UNDECIDED",
    "VIOLATION",
    "AnyOf",
    "Compare",
    "Counterexample",
    "Expectation",
    "History",
    "MalformedHistory",
    "Model",
    "Operation",
    "Outcome",
    "Partition",
    "SequentialModel",
    "UniqueResults",
    "Unseen",
    "Verdict",
    "check",
    "check_declared",
    "history_from_json",
    "outcomes_match",
    "partition_by_argument",
    "per_method",
    "returns",
]

LINEARIZABLE, VIOLATION, UNDECIDED = "linearizable", "violation", "undecided"
DEFAULT_BUDGET_SECONDS = 10.0


@dataclass(frozen=True)
class Verdict:
    status: str  # LINEARIZABLE, VIOLATION or UNDECIDED (never a pass)
    operations: int
    partitions: int
    steps: int  # search steps taken (model steps tried), over every partition and the counterexample's search
    seconds: float
    budget_seconds: float | None
    counterexample: Counterexample | None = None
    reason: str = ""  # for UNDECIDED: where the budget ran out
    seed: int | None = None

    def message(self) -> str:
        """One line for a check message."""
        if self.status == LINEARIZABLE:
            return f"{self.operations} operations, linearizable ({self.steps} search steps, {self.seconds:.2f}s)"
        if self.status == UNDECIDED:
            return f"{self.operations} operations, undecided: {self.reason}"
        assert self.counterexample is not None
        found = self.counterexample
        where = (
            f" after {found.preceding} earlier {'one' if found.preceding == 1 else 'ones'}" if found.preceding else ""
        )
        replay = f"; seed {self.seed}" if self.seed is not None else ""
        return (
            f"not linearizable: {found.explanation()} "
            f"(a counterexample of {len(found.operations)} of {self.operations} operations{where}{replay})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "operations": self.operations,
            "partitions": self.partitions,
            "steps": self.steps,
            "seconds": round(self.seconds, 4),
            "budget_seconds": self.budget_seconds,
            "reason": self.reason,
            "seed": self.seed,
            "message": self.message(),
            "counterexample": self.counterexample.to_json() if self.counterexample else None,
        }


def check(
    history: History | Sequence[Operation],
    model: SequentialModel,
    *,
    compare: Compare = outcomes_match,
    partition: Partition | None = None,
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    shrink: bool = True,
) -> Verdict:
    """Is `history` linearizable with respect to `model`? `budget_seconds=None` searches for as long as it takes.

    The budget covers the search and the counterexample; a violation found with little budget left
    comes with a larger counterexample (`minimal` is then False). MalformedHistory for a history no
    driver records.
    """
    if not isinstance(history, History):
        history = History(tuple(history))
    validate(history.operations)
    budget = Budget(budget_seconds, clock)
    groups = partitions(history.operations, partition)

    def verdict(status: str, counterexample: Counterexample | None = None, reason: str = "") -> Verdict:
        size, steps, seconds = len(history.operations), budget.steps, budget.elapsed()
        return Verdict(status, size, len(groups), steps, seconds, budget_seconds, counterexample, reason, history.seed)

    for label, group in groups:
        try:
            ok = linearizable(group, model, compare, budget, model.init())
        except OutOfBudget:
            where = f" in partition {label} ({len(group)} operations)" if label is not None else ""
            # The budget is shared: the partitions after this one cannot be searched either.
            return verdict(
                UNDECIDED, reason=f"the {budget_seconds:g}s budget ran out after {budget.steps} steps{where}"
            )
        if not ok:
            return verdict(VIOLATION, find_counterexample(group, label, model, compare, budget, shrink))
    return verdict(LINEARIZABLE)


def partitions(
    operations: Sequence[Operation], partition: Partition | None
) -> list[tuple[str | None, tuple[Operation, ...]]]:
    """The sub-histories to search apart, labelled, in order of first invocation; one unlabelled whole when
    no partition is declared, or when an operation concerns every key (it does not commute with any)."""
    if partition is None:
        return [(None, tuple(operations))]
    groups: dict[Hashable, list[Operation]] = {}
    for op in operations:
        key = partition(op)
        if key is NO_KEY:
            return [(None, tuple(operations))]
        groups.setdefault(key, []).append(op)
    labelled = [(repr(thaw(key)), tuple(group)) for key, group in groups.items()]
    return sorted(labelled, key=lambda pair: min(op.invoked for op in pair[1]))


class ReferenceModel(SequentialModel, Protocol):
    """The model of a declared history: the reference implementation, which also runs the task's comparison hooks."""

    def accepts(self, expected: Any, op: Operation) -> bool: ...


def check_declared(
    history: History, declared: HistorySpec, model: ReferenceModel, *, clock: Callable[[], float] = time.monotonic
) -> Verdict:
    """`check` as a task's [[histories]] entry declares it: its comparisons, its partition, its budget."""
    methods = {op.method for op in history.operations}
    unique = declared.unique_methods(methods)
    hooked = {method for method in methods if isinstance(declared.comparison(method), HookRef)}
    return check(
        history,
        UniqueResults(model, unique) if unique else model,
        compare=per_method(dict.fromkeys(hooked, model.accepts)),
        partition=partition_by_argument(declared.partition_by) if declared.partition_by is not None else None,
        budget_seconds=declared.budget_seconds,
        clock=clock,
    )
