"""Stress mode inside a test process: a tiny switch interval and seeded yields at synchronization points.

CPython's GIL hides many races: a thread rarely loses the interpreter between a check and the act
that depends on it. A tiny switch interval makes switches frequent, and yielding (sometimes, as a
seeded random choice) when a lock, semaphore or condition is acquired or released, or before a
sleep, lets another thread in exactly where check-then-act code splits its two steps. Random
sleeps around the probed function did not help: the yields have to be at synchronization points.

Runs inside the process under test: standard library only. The seed makes the yield decisions
replayable; the operating system's scheduling stays what it is.
"""

from __future__ import annotations

import _thread
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from concgrade.inside.disguise import quiet_wraps

SWITCH_INTERVAL = 1e-6  # seconds; CPython's default is 5 ms
YIELD_PROBABILITY = 0.5


class Yielder:
    """Seeded decisions to give up the GIL for a moment."""

    def __init__(self, seed: int, probability: float = YIELD_PROBABILITY, sleep: Callable[[float], None] = time.sleep):
        self._random = random.Random(seed).random  # one C call: safe to share between threads
        self._probability = probability
        self._sleep = sleep
        self.yields = 0

    def maybe_yield(self) -> None:
        if self._random() < self._probability:
            self.yields += 1
            self._sleep(0)  # releases the GIL: a waiting thread may take it right here


def make_lock_class(yielder: Yielder, allocate: Callable[[], Any]) -> type:
    """A lock class like threading.Lock (or RLock) that may yield before acquiring and after releasing."""
    maybe_yield = yielder.maybe_yield

    class YieldingLock:
        __slots__ = ("_lock",)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._lock = allocate(*args, **kwargs)

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            maybe_yield()
            return self._lock.acquire(blocking, timeout)

        def release(self) -> None:
            self._lock.release()
            maybe_yield()

        def __enter__(self) -> bool:
            return self.acquire()

        def __exit__(self, *exc: Any) -> None:
            self.release()

        def locked(self) -> bool:
            return self._lock.locked()

        def __getattr__(self, name: str) -> Any:  # _at_fork_reinit, RLock's _is_owned, _release_save, ...
            return getattr(self._lock, name)

        def __repr__(self) -> str:
            return repr(self._lock)  # the real lock's: code that prints or compares reprs sees no stress

    # Named like the lock it holds (`_thread.lock`, `_thread.RLock`): a name is what code looking for stress reads.
    real = type(allocate())
    YieldingLock.__name__, YieldingLock.__qualname__ = real.__name__, real.__qualname__
    YieldingLock.__module__ = real.__module__
    return YieldingLock


def like(original: Any, lock_class: type) -> Any:
    """What stands for threading.Lock (or RLock): the class where the original is a class (Python 3.13+), else a
    function named like the original that makes one, so that neither the kind nor the name shows the stress."""
    if isinstance(original, type):
        return lock_class

    @quiet_wraps(original)
    def make(*args: Any, **kwargs: Any) -> Any:
        return lock_class(*args, **kwargs)

    return make


def hide_switch_interval(stressed: float) -> None:
    """Run at `stressed` (or below, if the code asks for less) while sys.getswitchinterval() says what the code
    set last, from CPython's own value: code that saves and restores the interval keeps the stress, and code that
    reads it to see whether it is stressed sees nothing."""
    real_get, real_set = sys.getswitchinterval, sys.setswitchinterval
    shown = [real_get()]

    @quiet_wraps(real_get)
    def getswitchinterval() -> float:
        return shown[0]

    @quiet_wraps(real_set)
    def setswitchinterval(interval: float) -> None:
        real_set(min(interval, stressed))  # the real one judges the value (TypeError, ValueError) first
        shown[0] = float(interval)

    real_set(stressed)
    sys.getswitchinterval = getswitchinterval
    sys.setswitchinterval = setswitchinterval


class Stress:
    """Switches stress mode on for the rest of the process (there is nothing to switch off: a run ends)."""

    def __init__(self, seed: int, probability: float = YIELD_PROBABILITY, switch_interval: float = SWITCH_INTERVAL):
        self.seed = seed
        self.switch_interval = switch_interval
        self.yielder = Yielder(seed, probability)

    def activate(self) -> None:
        hide_switch_interval(self.switch_interval)
        # threading's own Semaphore, Condition, Event, Barrier, and queue.Queue and concurrent.futures,
        # build their locks from these names when they are created, so they all yield too.
        threading.Lock = like(threading.Lock, make_lock_class(self.yielder, _thread.allocate_lock))
        threading.RLock = like(threading.RLock, make_lock_class(self.yielder, _rlock_factory()))
        time.sleep = self._sleep_wrapper(time.sleep)  # type: ignore[assignment]
        self._stress_asyncio()

    def _sleep_wrapper(self, original: Callable[[float], None]) -> Callable[[float], None]:
        maybe_yield = self.yielder.maybe_yield

        @quiet_wraps(original)
        def sleep(seconds: float) -> None:
            maybe_yield()
            original(seconds)

        return sleep

    def _stress_asyncio(self) -> None:
        """asyncio locks and semaphores may yield to the event loop before acquiring."""
        import asyncio

        chance = self.yielder._random
        probability = self.yielder._probability
        for cls in (asyncio.Lock, asyncio.Semaphore):
            original = cls.acquire

            def make(original: Callable[..., Any]) -> Callable[..., Any]:
                @quiet_wraps(original)
                async def acquire(self: Any) -> Any:
                    if chance() < probability:
                        await asyncio.sleep(0)
                    return await original(self)

                return acquire

            cls.acquire = make(original)  # type: ignore[method-assign]

    def figures(self) -> dict[str, Any]:
        return {"seed": self.seed, "switch_interval": self.switch_interval, "yields": self.yielder.yields}


def _rlock_factory() -> Callable[..., Any]:
    return getattr(threading, "_CRLock", None) or threading._PyRLock  # type: ignore[attr-defined]
