"""A fixed pool of worker threads fed through a bounded queue."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

Job = Callable[[], None]


class JobFailedError(RuntimeError):
    """A job raised; the first exception is the cause, the others are counted in the message."""


class WorkerPool:
    """Runs submitted jobs on `workers` threads; at most `maxsize` jobs wait in the queue.

    `submit` blocks while the queue is full, so a fast producer is slowed to the pace of the workers
    instead of piling up work in memory. Errors raised by jobs are kept and re-raised by `join`.
    """

    def __init__(self, workers: int, maxsize: int, name: str = "notifsim-worker") -> None:
        if workers < 1 or maxsize < 1:
            raise ValueError("workers and maxsize must be at least 1")
        self.workers = workers
        self.maxsize = maxsize
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize)
        self._lock = threading.Lock()  # guards _errors and _high_water; workers take it too
        # Held across the closed-check and the put, so close() cannot slip its stop markers in between and
        # strand a job behind them. Never taken by workers, so holding it while the queue is full is safe.
        self._submit_lock = threading.Lock()
        self._errors: list[Exception] = []
        self._high_water = 0
        self._closed = False
        self._local = threading.local()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True) for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        """Queue `job`, waiting for room if the queue is full."""
        if getattr(self._local, "is_worker", False):
            # A worker waiting for room in its own queue can deadlock the pool once every worker does it.
            raise RuntimeError("a job must not submit jobs to its own pool")
        with self._submit_lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            self._queue.put(job)
        depth = self._queue.qsize()
        with self._lock:
            self._high_water = max(self._high_water, depth)

    def join(self) -> None:
        """Wait until every submitted job has run; raise JobFailedError if any of them raised."""
        self._queue.join()
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise JobFailedError(f"{len(errors)} job(s) failed; first: {errors[0]!r}") from errors[0]

    def close(self) -> None:
        """Run what is queued, then stop the threads. Safe to call twice."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def pending(self) -> int:
        """Jobs waiting in the queue (not counting those running)."""
        return self._queue.qsize()

    @property
    def high_water(self) -> int:
        """The most jobs ever seen waiting in the queue at once."""
        with self._lock:
            return self._high_water

    def _run(self) -> None:
        self._local.is_worker = True
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                job()
            except Exception as exc:  # kept for join(); one bad delivery must not kill a worker
                with self._lock:
                    self._errors.append(exc)
            finally:
                self._queue.task_done()
