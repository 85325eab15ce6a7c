"""Cases of the sequentializing operators (CM1xx)."""

from __future__ import annotations

from mutant_cases import Case

CM101_SOURCE = """\
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=4)


def run_all(jobs):
    futures = [POOL.submit(job) for job in jobs]
    return [future.result() for future in futures]
"""

CM101_EXPECTED = '''\
from concurrent.futures import ThreadPoolExecutor


def _concgrade_run_inline(fn, /, *args, **kwargs):
    """Mutant: run the work at once on the caller's thread and hand back a finished future."""
    import concurrent.futures
    future = concurrent.futures.Future()
    try:
        future.set_result(fn(*args, **kwargs))
    except Exception as exc:
        future.set_exception(exc)
    return future

POOL = ThreadPoolExecutor(max_workers=4)


def run_all(jobs):
    futures = [_concgrade_run_inline(job) for job in jobs]
    return [future.result() for future in futures]
'''

# Two jobs that can only finish together: run one after the other, the first gives up waiting.
MEET_STRONG = """\
import threading

import MODULE


def test_two_jobs_run_at_the_same_time():
    meeting = threading.Barrier(2, timeout=2.0)
    assert MODULE.run_all([meeting.wait, meeting.wait]) is not None
"""

RESULTS_WEAK = """\
import MODULE


def test_results_come_back_in_order():
    assert MODULE.run_all([lambda: 1, lambda: 2, lambda: 3]) == [1, 2, 3]
"""

CM102_SOURCE = """\
import asyncio


async def fetch_all(fetchers):
    return await asyncio.gather(*(fetch() for fetch in fetchers))
"""

CM102_EXPECTED = """\
import asyncio


async def fetch_all(fetchers):
    return [await _aw for _aw in (fetch() for fetch in fetchers)]
"""

CM102_STRONG = """\
import asyncio

import cm102_fetch


def test_the_first_fetch_can_wait_for_the_second():
    async def scenario():
        second_started = asyncio.Event()

        async def first():
            await asyncio.wait_for(second_started.wait(), 2.0)
            return 1

        async def second():
            second_started.set()
            return 2

        return await cm102_fetch.fetch_all([first, second])

    assert asyncio.run(scenario()) == [1, 2]
"""

CM102_WEAK = """\
import asyncio

import cm102_fetch


def test_results_come_back_in_order():
    async def one():
        return 1

    async def two():
        return 2

    assert asyncio.run(cm102_fetch.fetch_all([one, two])) == [1, 2]
"""

CM103_SOURCE = """\
from concurrent.futures import ThreadPoolExecutor


def run_all(jobs):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda job: job(), jobs))
"""

CASES = [
    Case(
        "CM101-sequentialize-executor",
        "cm101_pool",
        CM101_SOURCE,
        CM101_EXPECTED,
        "def run_all(jobs):\n    return [job() for job in jobs]\n",
        MEET_STRONG.replace("MODULE", "cm101_pool"),
        RESULTS_WEAK.replace("MODULE", "cm101_pool"),
    ),
    Case(
        "CM102-sequentialize-gather",
        "cm102_fetch",
        CM102_SOURCE,
        CM102_EXPECTED,
        "async def fetch_all(fetchers):\n    return [await fetch() for fetch in fetchers]\n",
        CM102_STRONG,
        CM102_WEAK,
    ),
    Case(
        "CM103-single-worker",
        "cm103_pool",
        CM103_SOURCE,
        CM103_SOURCE.replace("max_workers=4", "max_workers=1"),
        CM103_SOURCE.replace("max_workers=4", "max_workers=1"),
        MEET_STRONG.replace("MODULE", "cm103_pool"),
        RESULTS_WEAK.replace("MODULE", "cm103_pool"),
    ),
]
