"""Cases of the pool-sharing operators (CM3xx)."""

from __future__ import annotations

from mutant_cases import Case

LAZY_POOL = """\
import threading
from concurrent.futures import ThreadPoolExecutor

_pool = None
_lock = threading.Lock()


def shared_pool():
    \"\"\"The one pool of the process, made on first use.\"\"\"
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2)
        return _pool
"""

LAZY_POOL_TAIL = """\
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2)
        return _pool
"""

PER_CALL_EXPECTED = LAZY_POOL.replace(LAZY_POOL_TAIL, "    return ThreadPoolExecutor(max_workers=2)\n")

PER_THREAD_EXPECTED = LAZY_POOL.replace(
    "from concurrent.futures import ThreadPoolExecutor\n",
    '''from concurrent.futures import ThreadPoolExecutor


def _concgrade_pool_of_this_thread(make):
    """Mutant: each calling thread gets a pool of its own instead of sharing one."""
    import threading
    pools = globals().setdefault('_concgrade_thread_pools', threading.local())
    if not hasattr(pools, 'pool'):
        pools.pool = make()
    return pools.pool
''',
).replace(LAZY_POOL_TAIL, "    return _concgrade_pool_of_this_thread(lambda: ThreadPoolExecutor(max_workers=2))\n")

# A pool made per call is the fix for nothing: a function that owns its pool has none to share.
OWN_POOL = """\
from concurrent.futures import ThreadPoolExecutor


def run_all(jobs):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return [future.result() for future in [pool.submit(job) for job in jobs]]
"""

SAME_POOL_TWICE = """\
import MODULE


def test_every_call_gets_the_same_pool():
    assert MODULE.shared_pool() is MODULE.shared_pool()
"""

SAME_POOL_ACROSS_THREADS = """\
import threading

import MODULE


def test_every_thread_gets_the_same_pool():
    seen = []
    other = threading.Thread(target=lambda: seen.append(MODULE.shared_pool()))
    other.start()
    other.join(5.0)
    assert seen == [MODULE.shared_pool()]
    assert seen[0] is MODULE.shared_pool()
"""

POOL_RUNS_WORK = """\
import MODULE


def test_the_pool_runs_work():
    assert MODULE.shared_pool().submit(lambda: 5).result(5.0) == 5
"""

CASES = [
    Case(
        "CM301-pool-per-call",
        "cm301_pool",
        LAZY_POOL,
        PER_CALL_EXPECTED,
        OWN_POOL,
        SAME_POOL_TWICE.replace("MODULE", "cm301_pool"),
        POOL_RUNS_WORK.replace("MODULE", "cm301_pool"),
    ),
    Case(
        "CM302-pool-per-thread",
        "cm302_pool",
        LAZY_POOL,
        PER_THREAD_EXPECTED,
        OWN_POOL,
        SAME_POOL_ACROSS_THREADS.replace("MODULE", "cm302_pool"),
        # One thread asking twice cannot tell a pool per thread from a shared one.
        SAME_POOL_TWICE.replace("MODULE", "cm302_pool"),
    ),
]
