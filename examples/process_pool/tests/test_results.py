"""PASS_TO_PASS: what process_all returns, and that it leaves nothing running (true of before and after)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import parallelizing
import pytest


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


# Each call of a rendezvous item leaves its process id in a folder and waits (polling, with a deadline) until
# two processes have done so: two workers really take items at the same time, whatever the start method. The
# folder is named in the environment when this module is imported, before any test makes a pool, so every
# worker process knows it however early it was started.
RENDEZVOUS = "PROCESS_POOL_TEST_RENDEZVOUS"
os.environ.setdefault(RENDEZVOUS, os.path.join(tempfile.gettempdir(), f"process-pool-rendezvous-{os.getpid()}"))
DEADLINE = 5.0


def rendezvous_item(item: int) -> int:
    import time
    from pathlib import Path

    folder = Path(os.environ[RENDEZVOUS])
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + DEADLINE
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    return item


def test_two_items_run_in_two_processes_at_once(monkeypatch):
    """With two cores or more, two items are worked on at the same moment by two different processes."""
    if multiprocessing.cpu_count() < 2:
        pytest.skip("one core: nothing to run side by side")
    folder = Path(os.environ[RENDEZVOUS])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        monkeypatch.setattr(parallelizing, "process_item", rendezvous_item)
        assert parallelizing.process_all([1, 2]) == [1, 2]
        assert len(list(folder.iterdir())) == 2, "the two items never ran in two processes at once"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_work_of_an_item_waits_for_nothing(monkeypatch):
    """The checksum is CPU work: it sleeps for nothing (through `time.sleep`, or a name bound to it)."""
    import time

    slept = []
    real_sleep = time.sleep

    def spy(seconds):
        slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", spy)
    for name, value in list(vars(parallelizing).items()):
        if value is real_sleep:
            monkeypatch.setattr(parallelizing, name, spy)
    assert parallelizing.process_item(1_000) == expected([1_000])[0]
    assert [seconds for seconds in slept if seconds > 0] == []
