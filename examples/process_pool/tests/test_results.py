"""PASS_TO_PASS: what process_all returns, and that it leaves nothing running (true of before and after)."""

from __future__ import annotations

import multiprocessing

import parallelizing


def expected(items: list[int]) -> list[int]:
    return [parallelizing.process_item(item) for item in items]


def test_checksums_are_correct_and_in_input_order():
    items = [5_000, 40_000, 10, 0, 25_000, 1, 30_000]  # uneven costs: later items can finish first
    assert parallelizing.process_all(items) == expected(items)


def test_more_items_than_cores():
    items = list(range(0, 3_000 * (2 * multiprocessing.cpu_count() + 3), 3_000))
    assert parallelizing.process_all(items) == expected(items)


def test_no_items_no_results():
    assert parallelizing.process_all([]) == []


def test_nothing_left_running_after_the_call_returns(concurrency_probe):
    items = [20_000] * (multiprocessing.cpu_count() + 1)
    wanted = expected(items)
    probe = concurrency_probe(parallelizing, "process_item", kind="processes")
    assert parallelizing.process_all(items) == wanted
    # Both views: the probe's (every child seen to start has been seen to end or be reaped) and
    # multiprocessing's own list of this process's children.
    assert probe.alive_now() == 0, "worker processes still running after process_all returned"
    assert multiprocessing.active_children() == []
