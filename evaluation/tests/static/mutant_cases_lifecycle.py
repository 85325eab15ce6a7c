"""Cases of the lifecycle operators (CM8xx)."""

from __future__ import annotations

from mutant_cases import Case

THREADS = """\
import threading


def run_all(jobs):
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""

POOL_SHUTDOWN = """\
from concurrent.futures import ThreadPoolExecutor


def run_all(jobs):
    pool = ThreadPoolExecutor(max_workers=2)
    for job in jobs:
        pool.submit(job)
    pool.shutdown()
"""

# The job waits up to a second for the caller to have returned: a caller that waits for its work never
# has, one that does not has returned long before.
FINISHES_BEFORE_RETURN = """\
import threading

import MODULE


def test_the_work_is_done_when_the_call_returns():
    returned = threading.Event()
    seen = []

    def job():
        seen.append(returned.wait(1.0))

    before = set(threading.enumerate())
    MODULE.run_all([job])
    returned.set()
    for thread in set(threading.enumerate()) - before:
        thread.join(5.0)
    assert seen == [False], "the call returned before its work was done"
"""

# A suite that waits for the work itself cannot tell whether the call did.
EVENTUALLY_DONE = """\
import threading

import MODULE


def test_the_work_gets_done():
    done = threading.Event()
    MODULE.run_all([done.set])
    assert done.wait(5.0)
"""

LAZY_POOL = """\
import threading
from concurrent.futures import ThreadPoolExecutor

_pool = None
_lock = threading.Lock()


def shared_pool():
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2)
        return _pool
"""

# Counted while the test files are collected, before any test ran: only the import can have started them.
NO_THREADS_AT_IMPORT = """\
import threading

import cm803_pool

THREADS_AFTER_IMPORT = [t.name for t in threading.enumerate() if t is not threading.main_thread()]


def test_importing_starts_no_thread():
    assert THREADS_AFTER_IMPORT == []
"""

POOL_RUNS_WORK = """\
import cm803_pool


def test_the_pool_runs_work():
    assert cm803_pool.shared_pool().submit(lambda: 3).result(5.0) == 3
"""

MAPPED = """\
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=2)


def double(item):
    return item * 2


def double_all(items):
    return list(POOL.map(double, items))
"""

# Whether the work sleeps, told by time.sleep itself instead of a clock: no timing, no margin.
NEVER_SLEEPS = """\
import time

import cm804_mapped


def test_the_work_waits_for_nothing(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    assert cm804_mapped.double_all([1, 2, 3]) == [2, 4, 6]
    assert slept == []
"""

DOUBLED = """\
import cm804_mapped


def test_every_item_is_doubled():
    assert cm804_mapped.double_all([1, 2, 3]) == [2, 4, 6]
"""

CASES = [
    Case(
        "CM801-no-join",
        "cm801_threads",
        THREADS,
        THREADS.replace("    for thread in threads:\n        thread.join()\n", ""),
        THREADS.replace("    for thread in threads:\n        thread.join()\n", ""),
        FINISHES_BEFORE_RETURN.replace("MODULE", "cm801_threads"),
        EVENTUALLY_DONE.replace("MODULE", "cm801_threads"),
    ),
    Case(
        "CM802-shutdown-no-wait",
        "cm802_pool",
        POOL_SHUTDOWN,
        POOL_SHUTDOWN.replace("pool.shutdown()", "pool.shutdown(wait=False)"),
        POOL_SHUTDOWN.replace("pool.shutdown()", "pool.shutdown(wait=False)"),
        FINISHES_BEFORE_RETURN.replace("MODULE", "cm802_pool"),
        EVENTUALLY_DONE.replace("MODULE", "cm802_pool"),
    ),
    Case(
        "CM803-threads-at-import",
        "cm803_pool",
        LAZY_POOL,
        LAZY_POOL + "shared_pool().submit(int)\n",
        "from concurrent.futures import ThreadPoolExecutor\n\n\ndef run(job):\n"
        "    with ThreadPoolExecutor(max_workers=2) as pool:\n        return pool.submit(job).result()\n",
        NO_THREADS_AT_IMPORT,
        POOL_RUNS_WORK,
    ),
    Case(
        "CM804-throttle-sleep",
        "cm804_mapped",
        MAPPED,
        MAPPED.replace(
            "def double(item):\n", "def double(item):\n    __import__('time', fromlist=['sleep']).sleep(0.05)\n"
        ),
        "def double_all(items):\n    return [item * 2 for item in items]\n",
        NEVER_SLEEPS,
        DOUBLED,
    ),
]
