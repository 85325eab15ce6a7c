"""Cases of the ordering operators (CM7xx)."""

from __future__ import annotations

from mutant_cases import Case

INDEXED = """\
from concurrent.futures import ThreadPoolExecutor, as_completed

POOL = ThreadPoolExecutor(max_workers=4)


def run_all(jobs):
    jobs = list(jobs)
    results = [None] * len(jobs)
    futures = {POOL.submit(job): index for index, job in enumerate(jobs)}
    for future in as_completed(futures):
        results[futures[future]] = future.result()
    return results
"""

APPENDED = """\
def run_all(jobs):
    results = []
    for job in jobs:
        results.append(job())
    return results
"""

# The test decides the completion order: as_completed hands the futures back last first, once all are done.
REVERSE_FINISH = """\
from concurrent.futures import wait

import cm701_order


def test_results_keep_input_order_when_jobs_finish_in_reverse(monkeypatch):
    def last_first(futures):
        futures = list(futures)
        wait(futures, timeout=5.0)
        return reversed(futures)

    monkeypatch.setattr(cm701_order, "as_completed", last_first)
    assert cm701_order.run_all([lambda number=number: number for number in range(3)]) == [0, 1, 2]
"""

EVERY_RESULT = """\
import cm701_order


def test_every_job_has_a_result():
    assert sorted(cm701_order.run_all([lambda number=number: number for number in range(3)])) == [0, 1, 2]
"""

DUPLICATES = """\
import itertools

import cm702_order


def test_a_job_given_twice_runs_twice_with_its_own_results():
    calls = itertools.count(1)

    def job():
        return next(calls)

    assert sorted(cm702_order.run_all([job, job])) == [1, 2]
"""

DISTINCT = """\
import cm702_order


def test_results_belong_to_their_jobs():
    assert cm702_order.run_all([lambda: "a", lambda: "b"]) == ["a", "b"]
"""

CASES = [
    Case(
        "CM701-completion-order",
        "cm701_order",
        INDEXED,
        INDEXED.replace("results[futures[future]] = ", "results[results.index(None)] = "),
        APPENDED,
        REVERSE_FINISH,
        EVERY_RESULT,
    ),
    Case(
        "CM702-keyed-by-value",
        "cm702_order",
        INDEXED,
        INDEXED.replace(
            "        results[futures[future]] = future.result()\n",
            "        _value = future.result()\n"
            "        _key = jobs[futures[future]]\n"
            "        for _slot, _item in enumerate(jobs):\n"
            "            if _item == _key:\n"
            "                results[_slot] = _value\n",
        ),
        APPENDED,
        DUPLICATES,
        DISTINCT,
    ),
]
