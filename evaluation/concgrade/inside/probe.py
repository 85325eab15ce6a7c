"""Concurrency probes: count how many calls of a function are active at the same time.

A plain function is probed in place (its code swapped, so it stays the very same object: see disguise.py);
anything else is replaced by a wrapper that carries no `__wrapped__`. Either way the code under test cannot
tell, by looking at the function, that it is probed.
This module runs inside the process under test, so it imports only the standard library.
"""

from __future__ import annotations

import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from concgrade.inside.disguise import can_instrument, instrument, quiet_wraps, restore

# A timeline longer than this keeps its first points and says it was cut: 2,000 calls make 4,000 points.
TIMELINE_LIMIT = 20_000


class CallProbe:
    """Counts active calls of one wrapped function across threads (and coroutines).

    The counter is a lock and a try/finally around each call: about half a microsecond per call,
    cheap next to the simulated I/O of any task worth grading.
    """

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic, kind: str = "threads") -> None:
        self.label = label
        self.kind = kind
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.errors = 0
        self.live_threads_at_peak = 0
        self._points: list[tuple[float, int]] = []  # (raw clock, active): made relative only when read
        self.timeline_truncated = False
        # Shared counters this probe watches while installed (see PENDING and TASKS).
        self.pending: CountWindow | None = None
        self.tasks: CountWindow | None = None

    def _enter(self) -> None:
        with self._lock:
            self.active += 1
            self.calls += 1
            if self.active > self.max_active:
                self.max_active = self.active
                # Only at a new peak: threading.active_count() takes threading's own lock.
                self.live_threads_at_peak = threading.active_count()
            self._mark()

    def _exit(self, failed: bool) -> None:
        with self._lock:
            self.active -= 1
            if failed:
                self.errors += 1
            self._mark()

    def _mark(self) -> None:
        if len(self._points) < TIMELINE_LIMIT:
            self._points.append((self._clock(), self.active))
        else:
            self.timeline_truncated = True

    @property
    def timeline(self) -> list[tuple[float, int]]:
        """(seconds since the probe started, active calls) after each change."""
        start = self._start
        return [(round(moment - start, 6), active) for moment, active in list(self._points)]

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Return a wrapper of `fn` that counts its active calls; coroutine functions stay coroutines."""
        if inspect.iscoroutinefunction(fn):

            @quiet_wraps(fn)
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

        @quiet_wraps(fn)
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
            figures: dict[str, Any] = {
                "label": self.label,
                "kind": self.kind,
                "max_active": self.max_active,
                "calls": self.calls,
                "errors": self.errors,
                "timeline": self.timeline,
                "timeline_truncated": self.timeline_truncated,
            }
            if self.kind == "threads":
                figures["live_threads_at_peak"] = self.live_threads_at_peak
        if self.pending is not None:
            figures.update(self.pending.figures("pending", "submitted"))
        if self.tasks is not None:
            figures.update(self.tasks.figures("live_tasks", "tasks_created"))
        return figures

    @property
    def max_pending(self) -> int | None:
        return self.pending.peak if self.pending is not None else None

    @property
    def max_live_tasks(self) -> int | None:
        return self.tasks.peak if self.tasks is not None else None


class InPlace:
    """Probes a plain function where it is: its code is swapped, every binding of it stays what it was."""

    def __init__(self, function: Any, probe: CallProbe) -> None:
        self._function = function
        self._original = instrument(function, probe._enter, probe._exit)

    def undo(self) -> None:
        restore(self._function, self._original)


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


def install_probe(
    target: Any, attribute: str | None = None, label: str | None = None, kind: str = "auto"
) -> tuple[CallProbe, Patch | InPlace]:
    """Wrap `target.attribute` (and its aliases in other modules) with a new CallProbe.

    kind "threads" also watches pending executor work; "asyncio" (the default for a coroutine
    function) also watches live asyncio tasks. Call `uninstall_probe` with both to undo it.
    """
    owner, name, original = resolve_target(target, attribute)
    owner_name = getattr(owner, "__name__", type(owner).__name__)
    if kind == "auto":
        kind = "asyncio" if inspect.iscoroutinefunction(original) else "threads"
    if kind not in ("threads", "asyncio"):
        raise ValueError(f"install_probe: kind must be 'threads', 'asyncio' or 'auto', not {kind!r}")
    probe = CallProbe(label or f"{owner_name}.{name}", kind=kind)
    if kind == "threads":
        probe.pending = PENDING.open_window()
    else:
        probe.tasks = TASKS.open_window()
    if can_instrument(original):
        return probe, InPlace(original, probe)
    return probe, Patch(owner, name, original, probe.wrap(original))


def uninstall_probe(probe: CallProbe, patch: Patch | InPlace) -> None:
    """Undo `install_probe`: the function comes back and the shared counters stop being watched for it."""
    patch.undo()
    for window in (probe.pending, probe.tasks):
        if window is not None:
            window.close()


class CountWindow:
    """One watcher's view of a shared counter: the peak and the additions since it opened."""

    def __init__(self, counter: SharedCounter, start: int) -> None:
        self._counter = counter
        self.peak = start
        self.added = 0
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._counter.close_window(self)

    def figures(self, name: str, added_name: str) -> dict[str, int]:
        return {f"max_{name}": self.peak, added_name: self.added}


class SharedCounter:
    """A process-wide count of outstanding work (pending futures, live tasks), watched through windows.

    The counting wrappers are installed at class level while at least one window is open and
    removed with the last one; work counted before that still uncounts itself when it finishes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0
        self._windows: list[CountWindow] = []
        self._patches: list[tuple[Any, str, Any, Any]] = []

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount
            for window in self._windows:
                window.added += amount
                if self.value > window.peak:
                    window.peak = self.value

    def remove(self, amount: int) -> None:
        with self._lock:
            self.value -= amount

    def open_window(self) -> CountWindow:
        with self._lock:
            window = CountWindow(self, self.value)
            self._windows.append(window)
            first = len(self._windows) == 1
        if first:
            self._install()
        return window

    def close_window(self, window: CountWindow) -> None:
        with self._lock:
            self._windows.remove(window)
            last = not self._windows
        if last:
            self._uninstall()

    def _wrappers(self) -> Iterable[tuple[Any, str, Callable[[Any], Any]]]:
        """(class, method name, wrapper factory) of everything this counter counts."""
        return ()

    def _install(self) -> None:
        for owner, name, make in self._wrappers():
            original = owner.__dict__[name]
            replacement = make(original)
            setattr(owner, name, replacement)
            self._patches.append((owner, name, original, replacement))

    def _uninstall(self) -> None:
        for owner, name, original, replacement in reversed(self._patches):
            if owner.__dict__.get(name) is replacement:
                setattr(owner, name, original)
        self._patches.clear()


class PendingCounter(SharedCounter):
    """Counts submitted work not yet done: executor futures (submit, and so map and run_in_executor)
    and multiprocessing pool jobs (apply_async, map, map_async, starmap; a map counts its items)."""

    def __init__(self) -> None:
        super().__init__()
        # A subclass's submit calling super().submit must count once, not twice.
        self._inside = threading.local()

    def _wrappers(self) -> Iterable[tuple[Any, str, Callable[[Any], Any]]]:
        import concurrent.futures.process  # noqa: F401 - loads ProcessPoolExecutor, a subclass to wrap
        import concurrent.futures.thread  # noqa: F401 - loads ThreadPoolExecutor
        import multiprocessing.pool
        from concurrent.futures import Executor

        for cls in _subclasses(Executor):
            if "submit" in cls.__dict__:
                yield cls, "submit", self._wrap_submit
        pool = multiprocessing.pool.Pool
        yield pool, "apply_async", self._wrap_pool_call
        # Pool.map goes straight to _map_async (not map_async), so that is the one to wrap.
        yield pool, "_map_async" if "_map_async" in pool.__dict__ else "map_async", self._wrap_pool_call

    def _wrap_submit(self, original: Callable[..., Any]) -> Callable[..., Any]:
        counter, inside = self, self._inside

        @quiet_wraps(original)
        def submit(executor: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(inside, "active", False):
                return original(executor, *args, **kwargs)
            inside.active = True
            try:
                future = original(executor, *args, **kwargs)
            finally:
                inside.active = False
            add_done_callback = getattr(future, "add_done_callback", None)
            if add_done_callback is not None:
                counter.add(1)
                add_done_callback(lambda _: counter.remove(1))
            return future

        return submit

    def _wrap_pool_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        counter = self
        signature = inspect.signature(original)
        mapping = "iterable" in signature.parameters

        @quiet_wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            arguments = bound.arguments
            amount = 1
            if mapping:
                if not hasattr(arguments["iterable"], "__len__"):
                    arguments["iterable"] = list(arguments["iterable"])  # what Pool does, done first to count
                amount = len(arguments["iterable"])
            user_callback, user_error = arguments.get("callback"), arguments.get("error_callback")
            done = threading.Lock()

            def finish() -> None:
                if done.acquire(blocking=False):
                    counter.remove(amount)

            def on_result(value: Any) -> None:
                finish()
                if user_callback is not None:
                    user_callback(value)

            def on_error(error: BaseException) -> None:
                finish()
                if user_error is not None:
                    user_error(error)

            arguments["callback"], arguments["error_callback"] = on_result, on_error
            counter.add(amount)
            try:
                return original(*bound.args, **bound.kwargs)
            except BaseException:
                finish()
                raise

        return call


class TaskCounter(SharedCounter):
    """Counts live asyncio tasks created from inside other tasks (`loop.create_task`, and so
    `asyncio.create_task`, `gather`, `ensure_future`, TaskGroup); the root task that asyncio.run
    or a test runner starts is not counted, so "at most 50 tasks" reads as 50."""

    def _wrappers(self) -> Iterable[tuple[Any, str, Callable[[Any], Any]]]:
        import asyncio

        yield asyncio.BaseEventLoop, "create_task", self._wrap_create_task

    def _wrap_create_task(self, original: Callable[..., Any]) -> Callable[..., Any]:
        import asyncio

        counter = self
        current_task = asyncio.current_task

        @quiet_wraps(original)
        def create_task(loop: Any, *args: Any, **kwargs: Any) -> Any:
            task = original(loop, *args, **kwargs)
            if current_task(loop) is not None:
                counter.add(1)
                task.add_done_callback(lambda _: counter.remove(1))
            return task

        return create_task


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    todo: list[type] = [cls]
    while todo:
        subclasses: list[type] = todo.pop().__subclasses__()
        for sub in subclasses:
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


# One of each per process: the class-level wrappers they install are process-wide too.
PENDING = PendingCounter()
TASKS = TaskCounter()
