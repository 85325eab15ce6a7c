"""Where task grades run: a local process pool (the default) or a Dask cluster (`--executor dask`).

Both take the same jobs and hand back the same outcomes, as each finishes; a worker that dies or a
cluster that fails a job turns into an `error` outcome for that task, never a lost one.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from concgrade.dataset.archives import Archive, pack
from concgrade.dataset.taskjob import TaskJob, TaskOutcome, run_job
from concgrade.errors import UsageError
from concgrade.grade.checks import ERROR

DASK_CONNECT_TIMEOUT = "30s"


class Executor(Protocol):
    name: str

    def run(self, jobs: Sequence[TaskJob]) -> Iterator[TaskOutcome]: ...


class LocalExecutor:
    """A pool of `workers` processes on this machine (spawned: no state inherited from the caller)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: Sequence[TaskJob]) -> Iterator[TaskOutcome]:
        if not jobs:
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(jobs)), mp_context=context) as pool:
            pending = {pool.submit(run_job, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    job = pending.pop(future)
                    yield _result(future, job)


class DaskExecutor:
    """Sends each job to the workers of a Dask scheduler, its folders beside it as content-addressed archives.

    Each distinct folder is packed once and sent to the cluster once (named by its digest), however many
    jobs use it: a task graded with fifty candidates travels once. Workers need no shared filesystem.
    """

    name = "dask"

    def __init__(self, address: str) -> None:
        self.address = address

    def run(self, jobs: Sequence[TaskJob]) -> Iterator[TaskOutcome]:
        if not jobs:
            return
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise UsageError("--executor dask needs Dask: pip install 'concgrade[dask]'") from None
        try:
            client = Client(self.address, timeout=DASK_CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {self.address}: cannot reach the Dask scheduler ({exc})") from None
        try:
            archives: dict[str, Archive] = {}  # folder -> its archive: packed once, though jobs share it
            shipped: dict[str, Any] = {}  # archive key -> the cluster's future of it: sent once

            def ship(folder: str | None) -> Any:
                if folder is None:
                    return None
                archive = archives.get(folder) or archives.setdefault(folder, pack(Path(folder)))
                if archive.key not in shipped:
                    shipped.update(client.scatter({archive.key: archive}, hash=False))
                return shipped[archive.key]

            futures = {
                client.submit(run_job, job, ship(job.root), ship(job.candidate), pure=False): job for job in jobs
            }
            for future in as_completed(futures, loop=client.loop):
                yield _result(future, futures[future])
        finally:
            client.close()


@cache
def packed(folder: str) -> Archive:
    """A folder's archive, packed once per command (several jobs may share a task folder)."""
    return pack(Path(folder))


def _result(future: Any, job: TaskJob) -> TaskOutcome:
    try:
        return future.result()
    except Exception as exc:  # the worker died, or the cluster lost the job
        return TaskOutcome(job.label, ERROR, error=f"the worker grading this task failed: {type(exc).__name__}: {exc}")


def make_executor(kind: str, jobs: int, scheduler: str | None) -> Executor:
    if kind == "local":
        if scheduler:
            raise UsageError("--scheduler is for --executor dask")
        return LocalExecutor(jobs)
    if kind == "dask":
        if not scheduler:
            raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://scheduler:8786)")
        return DaskExecutor(scheduler)
    raise UsageError(f"--executor must be local or dask, not {kind!r}")
