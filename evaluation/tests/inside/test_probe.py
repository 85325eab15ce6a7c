"""Probes in-process, on real threads, event loops and processes: exact peaks where the bound is known."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import probe_targets
import pytest

from concgrade.inside import probe as probe_module
from concgrade.inside.probe import PENDING, TASKS
from concgrade.inside.probe_kinds import start_probe


@pytest.fixture
def module():
    """A throwaway module holding the function to probe, and a second module that imported it by name."""
    holder = types.ModuleType("probe_holder")
    importer = types.ModuleType("probe_importer")
    yield holder, importer


def test_threads_peak_live_threads_and_aliases(module):
    holder, importer = module
    barrier = threading.Barrier(4, timeout=10)

    def work(x):
        barrier.wait()
        return x

    holder.work = work
    importer.__dict__["work"] = work  # `from probe_holder import work`
    import sys

    sys.modules["probe_holder"], sys.modules["probe_importer"] = holder, importer
    try:
        baseline = threading.active_count()
        running = start_probe(holder, "work")
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(lambda x: importer.work(x), range(8))) == list(range(8))
        running.stop()
    finally:
        del sys.modules["probe_holder"], sys.modules["probe_importer"]
    probe = running.probe
    assert (probe.max_active, probe.calls, probe.errors) == (4, 8, 0)
    # The main thread and the four workers at least; nothing beyond them (another test's thread may end meanwhile).
    assert 5 <= probe.live_threads_at_peak <= baseline + 4
    assert running.figures()["submitted"] == 8 and 4 <= probe.max_pending <= 8
    assert importer.work is work and holder.work is work  # both bindings restored
    assert probe.timeline[-1][1] == 0 and max(active for _, active in probe.timeline) == 4


def test_pending_futures_peak_and_counter_released():
    release = threading.Event()
    original_submit = ThreadPoolExecutor.__dict__["submit"]
    running = start_probe(kind="pending")
    assert ThreadPoolExecutor.__dict__["submit"] is not original_submit
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(release.wait, 10) for _ in range(20)]
        assert running.probe.max_pending == 20
        release.set()
    assert all(future.result() for future in futures)
    running.stop()
    assert running.figures() == {"label": "pending work", "kind": "pending", "max_pending": 20, "submitted": 20}
    assert PENDING.value == 0
    assert ThreadPoolExecutor.__dict__["submit"] is original_submit


def test_pool_jobs_count_as_pending():
    context = multiprocessing.get_context("fork")
    running = start_probe(kind="pending")
    with context.Pool(2) as pool:
        assert pool.map(probe_targets.square, range(10)) == [x * x for x in range(10)]
        assert pool.apply_async(probe_targets.square, (3,)).get(timeout=10) == 9
        assert pool.map_async(probe_targets.square, iter(range(5))).get(timeout=10) == [0, 1, 4, 9, 16]
    running.stop()
    assert running.probe.max_pending == 10 and running.probe.submitted == 16
    assert PENDING.value == 0


def test_asyncio_active_calls_are_bounded_but_tasks_are_not(module):
    """Semaphore(3) around 10 gathered calls: 3 calls at once, yet 10 live tasks (the backlog)."""
    holder, _ = module

    async def call(x, state):
        state["inside"] += 1
        if state["inside"] == 3:
            state["full"].set()
        await state["full"].wait()
        return x

    holder.call = call

    async def main():
        state = {"inside": 0, "full": asyncio.Event()}
        semaphore = asyncio.Semaphore(3)

        async def one(x):
            async with semaphore:
                return await holder.call(x, state)

        return await asyncio.gather(*(one(x) for x in range(10)))

    running = start_probe(holder, "call")
    assert asyncio.run(main()) == list(range(10))
    running.stop()
    figures = running.figures()
    assert figures["kind"] == "asyncio"
    assert (figures["max_active"], figures["calls"], figures["max_live_tasks"], figures["tasks_created"]) == (
        3,
        10,
        10,
        10,
    )
    assert TASKS.value == 0


def test_asyncio_worker_tasks_bound_both(module):
    """Three worker tasks draining a queue: 3 calls at once and 3 live tasks."""
    holder, _ = module

    async def call(x, state):
        state["inside"] += 1
        if state["inside"] == 3:
            state["full"].set()
        await state["full"].wait()
        return x

    holder.call = call

    async def main():
        state = {"inside": 0, "full": asyncio.Event()}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for x in range(9):
            queue.put_nowait(x)
        results = []

        async def worker():
            while not queue.empty():
                results.append(await holder.call(queue.get_nowait(), state))

        await asyncio.gather(*(worker() for _ in range(3)))
        return sorted(results)

    running = start_probe(holder, "call", kind="asyncio")
    assert asyncio.run(main()) == list(range(9))
    running.stop()
    assert (running.probe.max_active, running.probe.max_live_tasks) == (3, 3)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_pool_of_four_processes_gives_four_under_every_start_method(method):
    context = multiprocessing.get_context(method)
    barrier = context.Barrier(4, timeout=30)
    running = start_probe("probe_targets:meet", kind="processes")
    with context.Pool(4, initializer=probe_targets.init_worker, initargs=(barrier,)) as pool:
        assert pool.map(probe_targets.meet, range(8), chunksize=1) == [x * x for x in range(8)]
    running.stop()
    figures = running.figures()
    assert figures["max_active"] == 4 and figures["calls"] == 8 and figures["errors"] == 0
    assert figures["max_processes"] == 4 and figures["processes_started"] == 4 and figures["worker_pids"] == 4
    assert figures["processes_alive_at_end"] == 0
    assert figures["timeline"][-1][1] == 0


def test_a_process_pool_executor_under_spawn():
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2, timeout=30)
    running = start_probe("probe_targets:meet", kind="processes")
    with ProcessPoolExecutor(2, mp_context=context, initializer=probe_targets.init_worker, initargs=(barrier,)) as pool:
        assert list(pool.map(probe_targets.meet, range(4))) == [0, 1, 4, 9]
    running.stop()
    figures = running.figures()
    assert (figures["max_active"], figures["calls"], figures["max_processes"]) == (2, 4, 2)
    assert figures["processes_alive_at_end"] == 0


def test_one_process_per_item_is_seen_as_many_processes():
    context = multiprocessing.get_context("fork")
    running = start_probe(probe_targets, "nap", kind="processes")
    processes = [context.Process(target=probe_targets.nap, args=(x,)) for x in range(6)]
    for process in processes:
        process.start()
    assert running.probe.alive_now() <= 6
    for process in processes:
        process.join()
    assert running.probe.alive_now() == 0
    running.stop()
    figures = running.figures()
    assert figures["calls"] == 6 and figures["worker_pids"] == 6 and figures["processes_started"] == 6
    assert 1 <= figures["max_processes"] <= 6


def test_calls_in_the_parent_count_too():
    running = start_probe("probe_targets.square", kind="processes")
    assert [probe_targets.square(x) for x in range(5)] == [0, 1, 4, 9, 16]
    running.stop()
    assert (running.probe.max_active, running.probe.calls, running.probe.max_processes) == (1, 5, 0)
    assert probe_targets.square.__name__ == "square" and not hasattr(probe_targets.square, "__wrapped__")


def test_bad_targets_fail_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown probe kind"):
        start_probe(probe_targets, "square", kind="fibers")
    with pytest.raises(TypeError, match="needs a target"):
        start_probe(kind="threads")
    with pytest.raises(AttributeError):
        start_probe(probe_targets, "no_such_function")
    assert probe_module.PENDING.value == 0
