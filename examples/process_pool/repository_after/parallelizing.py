"""Checksums a list of work items in parallel on a pool of one worker process per CPU."""

from __future__ import annotations

from multiprocessing import Pool, cpu_count


def process_item(item: int) -> int:
    """The CPU-bound work for one item: a checksum whose cost grows with the item."""
    return sum(i * i for i in range(item)) % 1_000_003


def process_all(items: list[int]) -> list[int]:
    """Every item's checksum, in the order of `items`.

    At most cpu_count() workers exist, each handling many items; leaving the `with` block stops
    and reaps them, so nothing is left running once the results are returned.
    """
    with Pool(processes=cpu_count()) as pool:
        return pool.map(process_item, items)
