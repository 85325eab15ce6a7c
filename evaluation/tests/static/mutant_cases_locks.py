"""Cases of the lock operators (CM5xx)."""

from __future__ import annotations

from mutant_cases import Case

GUARDED = """\
import threading


class Guarded:
    def __init__(self):
        self._lock = threading.Lock()

    def run(self, fn):
        with self._lock:
            return fn()
"""

LEAKED = GUARDED.replace(
    "        with self._lock:\n            return fn()\n",
    "        self._lock.acquire()\n        return fn()\n",
)

UNPROTECTED = GUARDED.replace(
    "        with self._lock:\n            return fn()\n",
    "        self._lock.acquire()\n        _result = fn()\n        self._lock.release()\n        return _result\n",
)

# With a bare acquire and release, CM501 takes the release away.
MANUAL = """\
import threading

SLOTS = threading.Semaphore(2)


def call_limited(fn):
    SLOTS.acquire()
    try:
        return fn()
    finally:
        SLOTS.release()
"""

NO_LOCK = "def run(fn):\n    return fn()\n"

SECOND_CALL_RUNS = """\
import threading

import MODULE


def test_a_second_call_is_not_locked_out():
    guarded = MODULE.Guarded()
    assert guarded.run(lambda: 1) == 1
    second = threading.Thread(target=guarded.run, args=(lambda: 2,), daemon=True)
    second.start()
    second.join(2.0)
    assert not second.is_alive(), "the second call still waits for the lock"
"""

SECOND_CALL_AFTER_ERROR = """\
import threading

import pytest

import MODULE


def test_a_call_after_a_failing_one_is_not_locked_out():
    guarded = MODULE.Guarded()

    def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        guarded.run(fail)
    second = threading.Thread(target=guarded.run, args=(lambda: 2,), daemon=True)
    second.start()
    second.join(2.0)
    assert not second.is_alive(), "the call after the error still waits for the lock"
"""

ONE_CALL = """\
import MODULE


def test_a_call_returns_its_value():
    assert MODULE.Guarded().run(lambda: 42) == 42
"""

TALLY = """\
import threading


class Tally:
    def __init__(self, counts):
        self._lock = threading.Lock()
        self._counts = counts

    def add(self, key):
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
"""

# The store's read waits briefly for a second reader before it returns: with the lock there never is one,
# without it the two adds read the same count and one of them is lost, every time.
LOST_UPDATE = """\
import threading

import cm503_tally


class MeetingCounts(dict):
    def __init__(self):
        super().__init__()
        self.meeting = threading.Barrier(2, timeout=1.0)

    def get(self, key, default=None):
        value = super().get(key, default)
        try:
            self.meeting.wait()
        except threading.BrokenBarrierError:
            pass
        return value


def test_concurrent_adds_are_all_counted():
    counts = MeetingCounts()
    tally = cm503_tally.Tally(counts)
    adders = [threading.Thread(target=tally.add, args=("a",), daemon=True) for _ in range(2)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join(5.0)
    assert counts == {"a": 2}
"""

ADDS_IN_ONE_THREAD = """\
import cm503_tally


def test_adds_are_counted():
    counts = {}
    tally = cm503_tally.Tally(counts)
    tally.add("a")
    tally.add("a")
    tally.add("b")
    assert counts == {"a": 2, "b": 1}
"""

CASES = [
    Case(
        "CM501-drop-release",
        "cm501_guarded",
        GUARDED,
        LEAKED,
        NO_LOCK,
        SECOND_CALL_RUNS.replace("MODULE", "cm501_guarded"),
        ONE_CALL.replace("MODULE", "cm501_guarded"),
    ),
    Case(
        "CM502-release-outside-finally",
        "cm502_guarded",
        GUARDED,
        UNPROTECTED,
        NO_LOCK,
        SECOND_CALL_AFTER_ERROR.replace("MODULE", "cm502_guarded"),
        # Without an error the release still comes: a second ordinary call sees nothing wrong.
        SECOND_CALL_RUNS.replace("MODULE", "cm502_guarded"),
    ),
    Case(
        "CM503-unlocked-read-modify-write",
        "cm503_tally",
        TALLY,
        TALLY.replace(
            "        with self._lock:\n            self._counts[key] = self._counts.get(key, 0) + 1\n",
            "        self._counts[key] = self._counts.get(key, 0) + 1\n",
        ),
        # A lock around a plain write reads nothing back: there is no read-modify-write to break.
        TALLY.replace("self._counts.get(key, 0) + 1", "1"),
        LOST_UPDATE,
        ADDS_IN_ONE_THREAD,
    ),
]
