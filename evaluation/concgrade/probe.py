"""Concurrency probes: wrap a function and count how many calls are active at the same time.

This module runs inside the process under test, so it imports only the standard library.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# A timeline longer than this keeps its first points and says it was cut: 2,000 calls make 4,000 points.
TIMELINE_LIMIT = 20_000


class CallProbe:
    """Counts active calls of one wrapped function across threads (and coroutines).

    The counter is a lock and a try/finally around each call: about half a microsecond per call,
    cheap next to the simulated I/O of any task worth grading.
    """

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.errors = 0
        self.timeline: list[tuple[float, int]] = []
        self.timeline_truncated = False

    def _enter(self) -> None:
        with self._lock:
            self.active += 1
            self.calls += 1
            if self.active > self.max_active:
                self.max_active = self.active
            self._mark()

    def _exit(self, failed: bool) -> None:
        with self._lock:
            self.active -= 1
            if failed:
                self.errors += 1
            self._mark()

    def _mark(self) -> None:
        if len(self.timeline) < TIMELINE_LIMIT:
            self.timeline.append((round(self._clock() - self._start, 6), self.active))
        else:
            self.timeline_truncated = True

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Return a wrapper of `fn` that counts its active calls; coroutine functions stay coroutines."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                self._enter()
                failed = True
                try:
                    result = await fn(*args, **kwargs)
                    failed = False
                    return result
                finally:
                    self._exit(failed)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            failed = True
            try:
                result = fn(*args, **kwargs)
                failed = False
                return result
            finally:
                self._exit(failed)

        return wrapper

    def figures(self) -> dict[str, Any]:
        """The probe's numbers as a JSON-ready dict (what lands in results.json)."""
        with self._lock:
            return {
                "label": self.label,
                "kind": "threads",
                "max_active": self.max_active,
                "calls": self.calls,
                "errors": self.errors,
                "timeline": list(self.timeline),
                "timeline_truncated": self.timeline_truncated,
            }


class Patch:
    """Replaces a function in its module and in every module that bound it under another name.

    `from m import f` makes a second binding that patching `m.f` alone would miss, so every
    module-dict entry that *is* the original function is replaced, and restored on `undo()`.
    """

    def __init__(self, owner: Any, name: str, original: Any, replacement: Any) -> None:
        self._bindings: list[tuple[dict[str, Any], str]] = []
        self._attributes: list[tuple[Any, str]] = []
        self._original = original
        self._replacement = replacement
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for key, value in list(namespace.items()):
                if value is original:
                    namespace[key] = replacement
                    self._bindings.append((namespace, key))
        if getattr(owner, name) is not replacement:  # a class or an object: not a module dict walked above
            setattr(owner, name, replacement)
            self._attributes.append((owner, name))

    def undo(self) -> None:
        """Put the original back where the wrapper still stands (a monkeypatch may have undone it first)."""
        for namespace, key in self._bindings:
            if namespace.get(key) is self._replacement:
                namespace[key] = self._original
        for owner, attribute in self._attributes:
            if getattr(owner, attribute, None) is self._replacement:
                setattr(owner, attribute, self._original)
        self._bindings.clear()
        self._attributes.clear()


def resolve_target(target: Any, attribute: str | None) -> tuple[Any, str, Any]:
    """Turn (module or object or dotted name, attribute) into (owner, attribute name, current value)."""
    if isinstance(target, str):
        if attribute is None:
            target, _, attribute = target.rpartition(".")
        import importlib

        target = importlib.import_module(target)
    if attribute is None:
        raise TypeError("probe needs an attribute name: probe(module, 'function') or probe('module.function')")
    return target, attribute, getattr(target, attribute)


def install_probe(target: Any, attribute: str | None = None, label: str | None = None) -> tuple[CallProbe, Patch]:
    """Wrap `target.attribute` (and its aliases in other modules) with a new CallProbe."""
    owner, name, original = resolve_target(target, attribute)
    owner_name = getattr(owner, "__name__", type(owner).__name__)
    probe = CallProbe(label or f"{owner_name}.{name}")
    return probe, Patch(owner, name, original, probe.wrap(original))
