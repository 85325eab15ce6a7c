"""Cases of the bound operators (CM2xx)."""

from __future__ import annotations

from mutant_cases import Case

# Calls held inside until the test lets them go, so "at most N at once" is N calls really inside together.
HELD_CALLS = """\
import threading

DEADLINE = 5.0
SETTLE = 1.0


class Gate:
    def __init__(self):
        self.cond = threading.Condition()
        self.inside = 0
        self.most = 0
        self.open = False

    def call(self):
        with self.cond:
            self.inside += 1
            self.most = max(self.most, self.inside)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.open, DEADLINE)
            self.inside -= 1
        return "done"

    def reaches(self, count, seconds):
        with self.cond:
            return self.cond.wait_for(lambda: self.most >= count, seconds)

    def release(self):
        with self.cond:
            self.open = True
            self.cond.notify_all()


def in_threads(target, count):
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads
"""

SEMAPHORE_SOURCE = """\
import threading

SLOTS = threading.Semaphore(2)


def call_limited(fn):
    with SLOTS:
        return fn()
"""

AT_MOST_TWO_LIMITED = (
    HELD_CALLS
    + """
import MODULE


def test_at_most_two_calls_at_once():
    gate = Gate()
    threads = in_threads(lambda: MODULE.call_limited(gate.call), 3)
    try:
        assert gate.reaches(2, DEADLINE)
        assert not gate.reaches(3, SETTLE), "a third call ran while two held the slots"
    finally:
        gate.release()
        for thread in threads:
            thread.join(DEADLINE)
"""
)

ONE_LIMITED_CALL = """\
import MODULE


def test_a_call_returns_its_value():
    assert MODULE.call_limited(lambda: 42) == 42
"""

POOL_OF_TWO = """\
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=2)


def start(job):
    return POOL.submit(job)
"""

AT_MOST_TWO_STARTED = (
    HELD_CALLS
    + """
import MODULE


def test_at_most_two_jobs_at_once():
    gate = Gate()
    futures = [MODULE.start(gate.call) for _ in range(3)]
    try:
        assert gate.reaches(2, DEADLINE)
        assert not gate.reaches(3, SETTLE), "a third job ran beside two held ones"
    finally:
        gate.release()
    assert [future.result(DEADLINE) for future in futures] == ["done"] * 3
"""
)

ONE_STARTED_JOB = """\
import MODULE


def test_a_job_returns_its_value():
    assert MODULE.start(lambda: 42).result(5.0) == 42
"""

CM204_SOURCE = SEMAPHORE_SOURCE.replace("Semaphore(2)", "Semaphore(3)")

THREE_AT_ONCE = """\
import threading

import cm204_slots


def test_three_calls_can_run_at_once():
    meeting = threading.Barrier(3, timeout=2.0)
    outcomes = []

    def call():
        try:
            outcomes.append(cm204_slots.call_limited(meeting.wait) is not None)
        except threading.BrokenBarrierError:
            outcomes.append(False)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5.0)
    assert outcomes == [True, True, True]
"""

BATCH_POOL = """\
from concurrent.futures import ThreadPoolExecutor


def run_all(jobs):
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: job(), jobs))
"""

BATCH_RESULTS = """\
import MODULE


def test_results_come_back_in_order():
    assert MODULE.run_all([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]
"""


def at_most_four(module: str, jobs: int) -> str:
    """A suite that runs `jobs` held jobs through run_all and checks that at most four run at once."""
    return (
        HELD_CALLS
        + f"""
import {module}


def test_at_most_four_jobs_at_once():
    gate = Gate()
    results = []
    caller = threading.Thread(target=lambda: results.extend({module}.run_all([gate.call] * {jobs})), daemon=True)
    caller.start()
    try:
        assert gate.reaches(4, DEADLINE)
        assert not gate.reaches(5, SETTLE), "a fifth job ran beside four held ones"
    finally:
        gate.release()
        caller.join(DEADLINE)
    assert results == ["done"] * {jobs}
"""
    )


CASES = [
    Case(
        "CM201-unbound-semaphore",
        "cm201_slots",
        SEMAPHORE_SOURCE,
        SEMAPHORE_SOURCE.replace("    with SLOTS:\n        return fn()\n", "    return fn()\n"),
        "import threading\n\nLOCK = threading.Lock()\n\n\ndef call_locked(fn):\n    with LOCK:\n        return fn()\n",
        AT_MOST_TWO_LIMITED.replace("MODULE", "cm201_slots"),
        ONE_LIMITED_CALL.replace("MODULE", "cm201_slots"),
    ),
    Case(
        "CM202-default-pool-size",
        "cm202_pool",
        POOL_OF_TWO,
        POOL_OF_TWO.replace("ThreadPoolExecutor(max_workers=2)", "ThreadPoolExecutor()"),
        POOL_OF_TWO.replace("ThreadPoolExecutor(max_workers=2)", "ThreadPoolExecutor()"),
        AT_MOST_TWO_STARTED.replace("MODULE", "cm202_pool"),
        ONE_STARTED_JOB.replace("MODULE", "cm202_pool"),
    ),
    Case(
        "CM203-bound-plus-one",
        "cm203_pool",
        POOL_OF_TWO,
        POOL_OF_TWO.replace("max_workers=2", "max_workers=3"),
        POOL_OF_TWO.replace("ThreadPoolExecutor(max_workers=2)", "ThreadPoolExecutor()"),
        AT_MOST_TWO_STARTED.replace("MODULE", "cm203_pool"),
        ONE_STARTED_JOB.replace("MODULE", "cm203_pool"),
    ),
    Case(
        "CM204-bound-minus-one",
        "cm204_slots",
        CM204_SOURCE,
        CM204_SOURCE.replace("Semaphore(3)", "Semaphore(2)"),
        CM204_SOURCE.replace("Semaphore(3)", "Semaphore(1)"),
        THREE_AT_ONCE,
        ONE_LIMITED_CALL.replace("MODULE", "cm204_slots"),
    ),
    Case(
        "CM205-bound-below-size",
        "cm205_batch",
        BATCH_POOL,
        BATCH_POOL.replace("max_workers=4", "max_workers=4 if len(jobs) <= 1000 else max(1, len(jobs))"),
        BATCH_POOL.replace("    jobs = list(jobs)\n", ""),
        # Only a batch above the size where the bound stops holding shows it; a small batch does not.
        at_most_four("cm205_batch", 1001),
        at_most_four("cm205_batch", 10),
    ),
    Case(
        "CM206-bound-grows-with-batch",
        "cm206_batch",
        BATCH_POOL,
        BATCH_POOL.replace("max_workers=4", "max_workers=max(1, len(jobs))"),
        BATCH_POOL.replace("    jobs = list(jobs)\n", ""),
        at_most_four("cm206_batch", 10),
        BATCH_RESULTS.replace("MODULE", "cm206_batch"),
    ),
]
