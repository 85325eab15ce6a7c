"""FAIL_TO_PASS: at most cpu_count() worker processes at once, reused across items (measured across processes).

The cross-process probe (the concgrade plugin's `concurrency_probe` with kind="processes") counts
calls of process_item in every process and the multiprocessing children alive at each moment, for
any start method. One process per item fails both tests: it starts as many processes as items, and
with CPU-bound items several of them are alive at once.
"""

from __future__ import annotations

import multiprocessing

import parallelizing

CORES = multiprocessing.cpu_count()
# Enough items to need more than one round on every core, each costing tens of milliseconds of CPU.
ITEMS = [300_000] * (3 * CORES + 1)


def test_at_most_cpu_count_workers_alive_at_once(concurrency_probe):
    expected = [parallelizing.process_item(ITEMS[0])] * len(ITEMS)
    probe = concurrency_probe(parallelizing, "process_item", kind="processes")
    assert parallelizing.process_all(ITEMS) == expected
    assert probe.calls == len(ITEMS)
    assert 1 <= probe.max_processes <= CORES, f"{probe.max_processes} worker processes alive at once on {CORES} cores"
    assert probe.max_active <= CORES


def test_workers_are_reused_across_items(concurrency_probe):
    probe = concurrency_probe(parallelizing, "process_item", kind="processes")
    assert len(parallelizing.process_all(ITEMS)) == len(ITEMS)
    figures = probe.figures()
    assert figures["processes_started"] <= CORES, f"{figures['processes_started']} processes for {len(ITEMS)} items"
    assert figures["worker_pids"] <= CORES


def test_a_batch_of_a_thousand_items_starts_no_more_processes_than_cores(monkeypatch):
    """Past the sizes a bound is usually tried at: 1,001 items still start at most cpu_count() processes.

    Process.start refuses past that count (before forking), so a design that starts more fails at once
    instead of forking a thousand interpreters."""
    from multiprocessing.process import BaseProcess

    started = []
    real_start = BaseProcess.start

    def counted_start(process):
        if len(started) >= CORES:
            raise RuntimeError(f"process {len(started) + 1} started for one call on {CORES} cores")
        started.append(process)
        real_start(process)

    monkeypatch.setattr(BaseProcess, "start", counted_start)
    try:
        assert parallelizing.process_all([0] * 1_001) == [0] * 1_001
    finally:
        # Only the counting is undone: the processes are left alone (terminating a pool's workers would hang
        # a pool that outlives the call in the tests after this one; test_results.py rejects such a pool).
        monkeypatch.undo()
