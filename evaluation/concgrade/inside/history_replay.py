"""The sequential model of a declared history: the reference implementation, replayed one operation at a time.

    python -m concgrade.inside.history_replay SPEC.json      # serves model steps on stdin/stdout

The model of `module:Class` is "construct the reference object, apply the operations in the
candidate order, compare the answers"; the reference is before's implementation (after's for a
greenfield task), run single-threaded. The checker (grade/linearizability.py) runs in the harness
and asks this process for each step (run/history_model.py is its side of the pipe), so nothing of
the harness runs beside task code. Standard library only; a ReplayModel is a SequentialModel by shape.

A search asks for the state after many different orders, so a state must be cheap to copy and to
compare. The default state is the object pickled: bytes are immutable (nothing the next step does
can reach an earlier state), hash once, and equal bytes mean equal objects, which is what the memo
needs (locks inside are pickled as fresh locks: the model is single-threaded). An object that does
not pickle (a thread pool, an open socket, a class defined in a function) is replayed instead: its
state is the sequence of calls so far, and stepping rebuilds it from a fresh object, keeping the
last objects built so that going one step deeper costs one call. Measured in
benchmarks/history_detection.py.
"""

from __future__ import annotations

import _thread
import asyncio
import copyreg
import hashlib
import inspect
import io
import json
import os
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import IO, Any, Protocol

from concgrade.inside.history_spec import exception_name, load_hook, plain, resolve_target

PICKLE, REPLAY, STATELESS = "pickle", "replay", "stateless"
LIVE_OBJECTS = 64  # objects kept by the replay strategy (each one a step ahead of the state it was built for)

Answer = tuple[Any, str | None]  # (value, exception name): equal to the checker's Outcome


class RecordedOperation(Protocol):
    """What the model reads of an operation (the checker's Operation has it)."""

    @property
    def method(self) -> str: ...

    @property
    def args(self) -> tuple[Any, ...]: ...


class StateNotCopyable(Exception):
    """The reference object stopped pickling in the middle of a search (rerun with strategy="replay")."""


def _fresh_lock(kind: str) -> Any:
    return threading.RLock() if kind == "rlock" else threading.Lock()


def _lock_table() -> dict[type, Callable[[Any], Any]]:
    table: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
    table[_thread.LockType] = lambda _lock: (_fresh_lock, ("lock",))
    table[type(threading.RLock())] = lambda _lock: (_fresh_lock, ("rlock",))
    return table


_LOCKS = _lock_table()


def snapshot(subject: Any) -> bytes:
    """The object pickled, its locks as fresh locks."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _LOCKS  # this pickler only: nothing global changes in the process
    pickler.dump(subject)
    return buffer.getvalue()


class ReplayModel:
    """A SequentialModel (init, step, key, describe) backed by a real object of the reference implementation."""

    def __init__(
        self,
        make: Callable[[], Any],
        is_object: bool = True,
        strategy: str = "auto",
        hooks: Mapping[str, Callable[[Any, Any], bool]] | None = None,
    ) -> None:
        self._make = make
        self._hooks = dict(hooks or {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.strategy = STATELESS if not is_object else strategy
        self._dump: Callable[[Any], bytes] = snapshot
        if self.strategy in ("auto", PICKLE):
            dump = _fastest_dump(make())
            self.strategy = PICKLE if dump is not None else REPLAY
            self._dump = dump or snapshot
        self._function = make() if self.strategy == STATELESS else None
        self.rebuilds = 0  # replay strategy: objects rebuilt from scratch (the measure of its cost)

    def init(self) -> Any:
        if self.strategy == PICKLE:
            return self._dump(self._make())
        return ()  # replay: no calls yet; stateless: nothing

    def step(self, state: Any, op: RecordedOperation) -> tuple[Any, Answer]:
        if self.strategy == STATELESS:
            return state, self.apply(self._function, op)
        if self.strategy == PICKLE:
            subject = pickle.loads(state)
            answer = self.apply(subject, op)
            try:
                return self._dump(subject), answer
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise StateNotCopyable(f"after {op.method}: {exc}") from exc
        call = (op.method, _hashable(op.args))
        subject = self._live.pop(state, None)
        if subject is None:
            subject = self._rebuild(state)
        answer = self.apply(subject, op)
        after = (*state, call)
        self._live[after] = subject
        if len(self._live) > LIVE_OBJECTS:
            self._live.popitem(last=False)
        return after, answer

    def key(self, state: Any) -> Hashable:
        same: Hashable = state  # equal states are equal bytes, or equal call sequences
        return same

    def describe(self, state: Any) -> str:
        if self.strategy == PICKLE:
            return _describe_object(pickle.loads(state))
        if self.strategy == REPLAY:
            return f"{_describe_object(self._rebuild(state))} (after {len(state)} calls)"
        return "no state (a function)"

    def accepts(self, expected: Any, op: Any) -> bool:
        """The task's comparison hook for op's method (or its hook for every method): is op's outcome acceptable?"""
        hook = self._hooks.get(op.method, self._hooks.get(""))
        if hook is None:
            raise LookupError(f"no comparison hook for {op.method!r}")
        return hook(expected, op)

    def apply(self, subject: Any, op: RecordedOperation) -> Answer:
        """One call, answered as the driver records answers: a plain value, or an exception's name."""
        function = getattr(subject, op.method) if op.method else subject
        try:
            result = function(*op.args)
            if inspect.isawaitable(result):
                result = self._event_loop().run_until_complete(_awaited(result))
            return plain(result), None
        except Exception as exc:
            return None, exception_name(exc)

    def _rebuild(self, calls: tuple[Any, ...]) -> Any:
        self.rebuilds += 1
        subject = self._make()
        for method, args in calls:
            self.apply(subject, _Call(method, args))
        return subject

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop


class _Call:
    def __init__(self, method: str, args: tuple[Any, ...]) -> None:
        self.method, self.args = method, tuple(_thawed(a) for a in args)


def _fastest_dump(subject: Any) -> Callable[[Any], bytes] | None:
    """pickle.dumps when the object pickles as it is (three times faster), else snapshot, else None (replay it)."""
    for dump in (pickle.dumps, snapshot):
        try:
            pickle.loads(dump(subject))
        except Exception:  # any failure to copy it this way: try the next, or replay it
            continue
        return dump
    return None


def _hashable(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arguments as a key: JSON lists and dicts become tuples (_thawed turns them back)."""

    def freeze(value: Any) -> Any:
        if isinstance(value, list):
            return ("__list__", tuple(freeze(item) for item in value))
        if isinstance(value, dict):
            return ("__dict__", tuple((key, freeze(item)) for key, item in value.items()))
        return value

    return tuple(freeze(arg) for arg in args)


def _thawed(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__list__":
        return [_thawed(item) for item in value[1]]
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__dict__":
        return {key: _thawed(item) for key, item in value[1]}
    return value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _describe_object(subject: Any) -> str:
    fields = getattr(subject, "__dict__", None)
    if not isinstance(fields, dict):
        return repr(subject)
    shown = {key: plain(value) for key, value in fields.items() if not _is_machinery(value)}
    return f"{type(subject).__qualname__}({', '.join(f'{key}={value!r}' for key, value in shown.items())})"


def _is_machinery(value: Any) -> bool:
    """Locks, conditions and the like: part of the object, not of its state."""
    return isinstance(value, (_thread.LockType, type(threading.RLock()), threading.Condition, threading.Event))


def replay_model(spec: Mapping[str, Any], strategy: str = "auto") -> ReplayModel:
    """The model of a driver spec, from the implementation importable in this process."""
    target = resolve_target(spec["target"])
    hooks = compare_hooks(spec)
    if not spec.get("object", True):
        return ReplayModel(lambda: target, is_object=False, hooks=hooks)
    constructor = spec.get("constructor") or {}
    args, kwargs = list(constructor.get("args", [])), dict(constructor.get("kwargs", {}))
    return ReplayModel(lambda: target(*args, **kwargs), strategy=strategy, hooks=hooks)


CompareHook = Callable[[str, list[Any], Any, Any], bool]  # (method, args, expected, observed) -> acceptable?


def compare_hooks(spec: Mapping[str, Any]) -> dict[str, Callable[[Any, Any], bool]]:
    """The spec's comparison hooks, as checker comparisons (expected, operation) -> bool, by method name.

    The spec's "compare" is {"default": C, "methods": {name: C}}, C being "equal", "unique" or a hook
    reference; the default's hook, if it is one, is under "". A task's hook is called as
    hook(method, args, expected, observed), the last two (value, exception name) pairs.
    """
    declared = spec.get("compare") or {}
    references = {name: c for name, c in (declared.get("methods") or {}).items() if isinstance(c, Mapping)}
    if isinstance(declared.get("default"), Mapping):
        references[""] = declared["default"]
    made: dict[str, Callable[[Any, Any], bool]] = {}
    for method, reference in references.items():
        hook: CompareHook = load_hook(reference, spec.get("hook_paths", []))

        def compare(expected: Any, op: Any, hook: CompareHook = hook) -> bool:
            observed = op.outcome
            return observed is not None and bool(hook(op.method, list(op.args), tuple(expected), tuple(observed)))

        made[method] = compare
    return made


class ModelServer:
    """Answers a remote checker's questions about one ReplayModel; states travel as short ids.

    Equal states get equal ids (a digest of the pickled object, or of the call sequence), so the
    checker's memo works on ids alone. Requests and answers are JSON objects:
      {"op": "init"}                                     -> {"state": id, "strategy": "pickle" | "replay" | ...}
      {"op": "step", "state": id, "call": [m, args]}     -> {"state": id, "answer": [value, raised]}
      {"op": "compare", "call": [m, args], "expected": [v, r], "observed": [v, r]} -> {"accepted": bool}
      {"op": "describe", "state": id}                    -> {"text": ...}
    A request that fails gets {"error": message, "kind": "state_not_copyable" | "failed"}.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.model = replay_model(spec, spec.get("strategy", "auto"))
        self._states: dict[str, Any] = {}

    def answer(self, request: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._answer(request)
        except StateNotCopyable as exc:
            return {"error": str(exc), "kind": "state_not_copyable"}
        except Exception as exc:  # the reference failed where it should not (its constructor, a bad id)
            return {"error": f"{type(exc).__name__}: {exc}", "kind": "failed"}

    def _answer(self, request: Mapping[str, Any]) -> dict[str, Any]:
        kind = request["op"]
        if kind == "init":
            return {"state": self._name(self.model.init()), "strategy": self.model.strategy}
        if kind == "step":
            after, answer = self.model.step(self._states[request["state"]], _Call(*_call(request["call"])))
            return {"state": self._name(after), "answer": list(answer)}
        if kind == "compare":
            method, args = _call(request["call"])
            observed = _Observed(method, args, tuple(request["observed"]))
            return {"accepted": bool(self.model.accepts(tuple(request["expected"]), observed))}
        if kind == "describe":
            return {"text": self.model.describe(self._states[request["state"]])}
        raise ValueError(f"unknown request {kind!r}")

    def _name(self, state: Any) -> str:
        data = state if isinstance(state, bytes) else repr(state).encode("utf-8")
        name = hashlib.blake2b(data, digest_size=12).hexdigest()
        self._states.setdefault(name, state)
        return name


def _call(call: Any) -> tuple[str, tuple[Any, ...]]:
    method, args = call
    return str(method or ""), tuple(args)


class _Observed:
    """An operation as a comparison hook sees it: method, args and the recorded outcome."""

    def __init__(self, method: str, args: tuple[Any, ...], outcome: tuple[Any, ...]) -> None:
        self.method, self.args, self.outcome = method, args, outcome


def serve(server: ModelServer, requests: Iterable[bytes], answers: IO[bytes]) -> None:
    """One answer line for each request line, flushed, until the requests end."""
    for line in requests:
        answer = server.answer(json.loads(line))
        answers.write(json.dumps(answer, default=str).encode("utf-8") + b"\n")
        answers.flush()


def main(argv: list[str], stream: Any = None) -> None:
    """SPEC.json: serve on stdin/stdout until stdin ends (`stream`, the boot's records channel, is not used)."""
    # The protocol keeps private copies of stdin and stdout; the reference's own prints go to stderr.
    requests, answers = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        server = ModelServer(spec)
    except BaseException as exc:  # the reference cannot even be imported: say so, once, and end
        answers.write(json.dumps({"error": f"{type(exc).__name__}: {exc}", "kind": "failed"}).encode() + b"\n")
        answers.flush()
        os._exit(1)
    serve(server, requests, answers)
    sys.stderr.flush()
    os._exit(0)  # threads the reference started cannot keep this process alive


if __name__ == "__main__":
    main(sys.argv[1:])
