"""Checksums a list of work items in parallel: one operating-system process per item."""

from __future__ import annotations

import multiprocessing


def process_item(item: int) -> int:
    """The CPU-bound work for one item: a checksum whose cost grows with the item."""
    return sum(i * i for i in range(item)) % 1_000_003


def _run_one(index: int, item: int, results: multiprocessing.Queue) -> None:
    results.put((index, process_item(item)))


def process_all(items: list[int]) -> list[int]:
    """Every item's checksum, in the order of `items`."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_run_one, args=(index, item, results)) for index, item in enumerate(items)]
    for process in processes:
        process.start()
    # Read every result before joining: a child cannot exit while its result is still in the pipe.
    collected = dict(results.get() for _ in processes)
    for process in processes:
        process.join()
    return [collected[index] for index in range(len(items))]
