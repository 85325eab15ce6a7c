"""A recorded history of concurrent operations and the sequential models it is judged against (pure data)."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

HISTORY_FORMAT = 1
STATE_TEXT_LIMIT = 200  # characters of a model state's description in a counterexample


class MalformedHistory(ValueError):
    """The recorded history is not one a driver could have produced (the checker refuses to judge it)."""


class Outcome(NamedTuple):
    """What an operation answered: a returned value, or the name of the exception it raised.

    A plain `(value, raised)` tuple compares equal to it, so a model needs nothing from this module.
    """

    value: Any = None
    raised: str | None = None


def returns(value: Any) -> Outcome:
    return Outcome(value, None)


@dataclass(frozen=True)
class Operation:
    index: int  # position in the recorded history: a stable name across sub-histories
    client: int  # the thread or task that ran it
    method: str  # the method called ("" for a function target)
    args: tuple[Any, ...]
    outcome: Outcome | None  # None: no response (still running when the run ended, or at the moment shown)
    invoked: int  # CLOCK_MONOTONIC nanoseconds
    responded: int | None  # None exactly when the outcome is
    message: str = field(default="", compare=False)  # the exception's message, for people only

    @property
    def pending(self) -> bool:
        return self.outcome is None

    def call_text(self) -> str:
        return f"{self.method or 'call'}({', '.join(repr(arg) for arg in self.args)})"

    def outcome_text(self) -> str:
        return describe(self.outcome)


@dataclass(frozen=True)
class History:
    operations: tuple[Operation, ...]
    seed: int | None = None  # the driver's seed: replays the arguments and the stress decisions
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)


class SequentialModel(Protocol):
    """A deterministic sequential specification: the state before any operation, and one operation applied.

    `step` gets the operation with its recorded outcome, so a nondeterministic specification can return
    an Expectation (AnyOf, Unseen) and keep what was answered in its next state. Models may also offer
    `describe(state) -> str` for counterexamples.
    """

    def init(self) -> Any: ...

    def step(self, state: Any, op: Operation) -> tuple[Any, Any]:
        """(the state after `op`, what `op` should have answered): an Outcome or an Expectation."""
        ...

    def key(self, state: Any) -> Hashable:
        """A hashable value, equal for states that behave alike (half of a memoized search node)."""
        ...


@dataclass(frozen=True)
class Model:
    """A SequentialModel made of plain functions; `state_key` defaults to the state itself (then hashable)."""

    initial: Callable[[], Any]
    transition: Callable[[Any, Operation], tuple[Any, Any]]
    state_key: Callable[[Any], Hashable] | None = None

    def init(self) -> Any:
        return self.initial()

    def step(self, state: Any, op: Operation) -> tuple[Any, Any]:
        return self.transition(state, op)

    def key(self, state: Any) -> Hashable:
        return self.state_key(state) if self.state_key else state


def describe_state(model: SequentialModel, state: Any) -> str:
    describer = getattr(model, "describe", None)
    text = describer(state) if callable(describer) else repr(state)
    return text if len(text) <= STATE_TEXT_LIMIT else text[: STATE_TEXT_LIMIT - 1] + "…"


class Expectation:
    """A nondeterministic answer: the model accepts any outcome `admits` says yes to."""

    def admits(self, observed: Outcome) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class AnyOf(Expectation):
    outcomes: tuple[Outcome, ...]

    def admits(self, observed: Outcome) -> bool:
        return observed in self.outcomes

    def describe(self) -> str:
        return " or ".join(describe(outcome) for outcome in self.outcomes)


@dataclass(frozen=True)
class Unseen(Expectation):
    """A returned value that no earlier operation of the same method returned (e.g. "any unique id")."""

    seen: frozenset[tuple[str, Hashable]]  # (method, frozen value) of every earlier answer
    method: str

    def admits(self, observed: Outcome) -> bool:
        return observed.raised is None and (self.method, freeze(observed.value)) not in self.seen

    def describe(self) -> str:
        taken = sorted(repr(thaw(value)) for method, value in self.seen if method == self.method)
        return f"a value not answered before (not {', '.join(taken)})" if taken else "any value"


Compare = Callable[[Any, Operation], bool]  # (expected, operation with its recorded outcome) -> acceptable?
Partition = Callable[[Operation], Hashable]


def outcomes_match(expected: Any, op: Operation) -> bool:
    """The default comparison: equality of outcomes, or what an Expectation admits."""
    if isinstance(expected, Expectation):
        return op.outcome is not None and expected.admits(op.outcome)
    return bool(expected == op.outcome)


def per_method(comparisons: Mapping[str, Compare], default: Compare = outcomes_match) -> Compare:
    """One comparison per method name (e.g. a task's hook for `next_id`), the default for the others."""

    def compare(expected: Any, op: Operation) -> bool:
        return comparisons.get(op.method, default)(expected, op)

    return compare


@dataclass(frozen=True)
class UniqueResults:
    """Wraps a model: the methods named must return a value no earlier call of the same method returned.

    The wrapped model still runs them (its state moves on as it would), but its answer is replaced by
    Unseen; the values returned so far become part of the state.
    """

    inner: SequentialModel
    methods: frozenset[str]

    def init(self) -> Any:
        return (self.inner.init(), frozenset())

    def step(self, state: Any, op: Operation) -> tuple[Any, Any]:
        inner_state, seen = state
        after, expected = self.inner.step(inner_state, op)
        if op.method not in self.methods:
            return (after, seen), expected
        expectation = Unseen(seen, op.method)
        if op.outcome is None or op.outcome.raised:
            return (after, seen), expectation
        return (after, seen | {(op.method, freeze(op.outcome.value))}), expectation

    def key(self, state: Any) -> Hashable:
        return (self.inner.key(state[0]), state[1])

    def describe(self, state: Any) -> str:
        return f"{describe_state(self.inner, state[0])}, {len(state[1])} unique answers so far"


NO_KEY = object()  # what a partition function returns for an operation that concerns every key


def partition_by_argument(position: int) -> Partition:
    """Operations on different values of one argument (a key) are independent: check them apart."""

    def partition(op: Operation) -> Hashable:
        return freeze(op.args[position]) if len(op.args) > position else NO_KEY

    return partition


def describe(outcome: Outcome | None) -> str:
    if outcome is None:
        return "nothing yet"
    if outcome.raised:
        return f"raised {outcome.raised}"
    return repr(outcome.value)


def describe_expected(expected: Any) -> str:
    if isinstance(expected, Expectation):
        return expected.describe()
    return describe(Outcome(*expected))


def freeze(value: Any) -> Hashable:
    """A hashable stand-in for JSON-like data (lists become tuples, dicts sorted item tuples)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    if isinstance(value, dict):
        return ("__dict__", tuple(sorted((str(key), freeze(item)) for key, item in value.items())))
    if isinstance(value, set | frozenset):
        return ("__set__", frozenset(freeze(item) for item in value))
    plain: Hashable = value
    return plain


def thaw(value: Hashable) -> Any:
    """The plain value a frozen one stands for (for labels and messages)."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__dict__":
        return {key: thaw(item) for key, item in value[1]}
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__set__":
        return sorted((thaw(item) for item in value[1]), key=repr)
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value


def validate(operations: Sequence[Operation]) -> None:
    """Refuse what no driver records: a response before its invocation, shared indices, overlap within a thread."""
    indices = [op.index for op in operations]
    if len(set(indices)) != len(indices):
        raise MalformedHistory("two operations share an index")
    busy_until: dict[int, float] = {}
    for op in sorted(operations, key=lambda op: op.invoked):
        if (op.responded is None) != (op.outcome is None):
            raise MalformedHistory(f"operation {op.index}: a response time needs an outcome, and the reverse")
        if op.responded is not None and op.responded < op.invoked:
            raise MalformedHistory(f"operation {op.index} responded before it was invoked")
        if op.invoked < busy_until.get(op.client, -math.inf):
            raise MalformedHistory(f"operation {op.index} overlaps an earlier operation of thread {op.client}")
        busy_until[op.client] = math.inf if op.responded is None else op.responded


def operation_to_json(op: Operation) -> dict[str, Any]:
    data: dict[str, Any] = {
        "index": op.index,
        "client": op.client,
        "method": op.method,
        "args": list(op.args),
        "invoked": op.invoked,
        "responded": op.responded,
    }
    if op.outcome is not None and op.outcome.raised:
        data["raised"], data["message"] = op.outcome.raised, op.message
    elif op.outcome is not None:
        data["value"] = op.outcome.value
    return data


def operation_from_json(data: Mapping[str, Any], index: int) -> Operation:
    try:
        invoked, responded = int(data["invoked"]), data.get("responded")
        responded = None if responded is None else int(responded)
        outcome = None
        if responded is not None:
            outcome = Outcome(None, str(data["raised"])) if data.get("raised") else Outcome(data.get("value"))
        args = data.get("args", [])
        if not isinstance(args, list):
            raise TypeError("args must be a list")
        return Operation(
            index=int(data.get("index", index)),
            client=int(data["client"]),
            method=str(data.get("method") or ""),
            args=tuple(args),
            outcome=outcome,
            invoked=invoked,
            responded=responded,
            message=str(data.get("message", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedHistory(f"operation {index}: {exc!r}") from None


def history_from_json(data: Any) -> History:
    """The driver's output (parsed JSON) as a History; MalformedHistory when it is not one."""
    if not isinstance(data, Mapping) or data.get("format") != HISTORY_FORMAT:
        raise MalformedHistory(f"not a recorded history of format {HISTORY_FORMAT}")
    records = data.get("operations")
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise MalformedHistory("operations must be a list of records")
    operations = tuple(operation_from_json(record, index) for index, record in enumerate(records))
    validate(operations)
    seed = data.get("seed")
    meta = {key: value for key, value in data.items() if key != "operations"}
    return History(operations, seed if isinstance(seed, int) and not isinstance(seed, bool) else None, meta)
