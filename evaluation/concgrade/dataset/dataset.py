"""Grade many tasks: find them, skip what is cached or cannot run, grade the rest in parallel, aggregate.

`grade_requests` is shared by `concgrade dataset` (one request per task folder) and
`concgrade predictions` (one request per candidate); `grade_dataset` adds discovery, reports and
the aggregate `results.json` / `index.html`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concgrade import __version__
from concgrade.dataset.cache import GradeCache, default_cache_dir
from concgrade.dataset.discovery import changed_tasks, find_tasks, named_tasks, task_label
from concgrade.dataset.executors import make_executor
from concgrade.dataset.local_services import can_start, missing_program
from concgrade.dataset.taskjob import (
    SEVERITY,
    SKIPPED,
    JobOptions,
    TaskJob,
    TaskOutcome,
    asserts_on_time,
    task_summary,
    wants_bench,
)
from concgrade.errors import ConcgradeError, UsageError
from concgrade.files import harness_version, hash_tree
from concgrade.grade.checks import ACCEPTED, ERROR, EXIT_CODES, REJECTED
from concgrade.report.dataset_html import render_dataset_html
from concgrade.report.writers import claim_output_folder, write_atomically
from concgrade.task.load import load_task
from concgrade.task.services import detect_services, service_environment, unmet_services

DATASET_SCHEMA_VERSION = "1.0"
CACHEABLE = (ACCEPTED, REJECTED)

Progress = Callable[[TaskOutcome, int, int], None]


@dataclass(frozen=True)
class GradeRequest:
    """Grade the task at `root` (and a candidate folder, like after); reports go under `label`."""

    label: str
    root: Path
    candidate: Path | None = None


@dataclass(frozen=True)
class DatasetSettings:
    jobs: int = os.cpu_count() or 1
    use_cache: bool = True
    executor: str = "local"
    scheduler: str | None = None
    services: dict[str, str] = field(default_factory=dict)  # provided services: name -> HOST:PORT
    auto_services: bool = False  # `--services auto`: start what is installed here for each grade that needs it
    options: JobOptions = field(default_factory=JobOptions)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "cache": self.use_cache,
            "executor": self.executor,
            "scheduler": self.scheduler,
            "services": sorted(self.services),
            "services_auto": self.auto_services,
            **self.options.to_dict(),
        }


def grade_requests(
    requests: Sequence[GradeRequest], settings: DatasetSettings, progress: Progress | None = None
) -> list[TaskOutcome]:
    """Outcomes in the order of `requests`: skipped, cached, or graded by the executor."""
    cache = _open_cache()
    outcomes: dict[str, TaskOutcome] = {}
    keys: dict[str, str] = {}
    jobs: list[TaskJob] = []
    total = len(requests)

    def finish(outcome: TaskOutcome) -> None:
        outcomes[outcome.label] = outcome
        if progress:
            progress(outcome, len(outcomes), total)

    for request in requests:
        needs = detect_services(request.root)
        unmet = unmet_services(needs, settings.services, settings.environ)
        started = [need for need in unmet if settings.auto_services and can_start(need.name)]
        unmet = [need for need in unmet if need not in started]
        if unmet:
            finish(skipped_outcome(request.label, unmet, request.root, settings.auto_services))
            continue
        environment = service_environment(needs, settings.services)
        # A started service's port changes every time: the key says which were started, not where.
        key = grade_key(request, settings.options, {**environment, "services_started": [n.name for n in started]})
        keys[request.label] = key
        hit = cache.load(key) if cache and settings.use_cache else None
        if hit is not None:
            outcome = TaskOutcome.from_dict(hit.outcome, hit.files)
            outcome.label, outcome.cached = request.label, True  # one candidate may serve several predictions
            finish(outcome)
            continue
        candidate = str(request.candidate) if request.candidate else None
        jobs.append(TaskJob(request.label, str(request.root), settings.options, candidate, environment, started))

    here = harness_version()
    for outcome in run_jobs(jobs, settings):
        if outcome.harness and outcome.harness != here:
            print(
                f"concgrade: warning: {outcome.label} was graded by concgrade {outcome.harness}, not {here}; "
                "its grade is not cached",
                file=sys.stderr,
            )
        elif cache and outcome.verdict in CACHEABLE:
            cache.store(keys[outcome.label], outcome.to_dict(), outcome.files)
        finish(outcome)
    return [outcomes[request.label] for request in requests]


def run_jobs(jobs: list[TaskJob], settings: DatasetSettings) -> Iterator[TaskOutcome]:
    """Grade the jobs; locally, tasks that time a benchmark or whose tests assert on a clock go last, one at a time.

    A benchmark measures speedups and a test that asserts `elapsed < 1.5 * baseline` measures the machine,
    which tasks graded beside it would bend, so those grades get the machine to themselves (on a Dask
    cluster, give each worker one grade at a time: docs/dataset.md).
    """
    if settings.executor != "local":
        yield from make_executor(settings.executor, settings.jobs, settings.scheduler).run(jobs)
        return
    alone = [
        job for job in jobs if wants_bench(Path(job.root), job.options.grade.bench) or asserts_on_time(Path(job.root))
    ]
    shared = [job for job in jobs if job not in alone]
    yield from make_executor("local", settings.jobs, None).run(shared)
    yield from make_executor("local", 1, None).run(alone)


def _open_cache() -> GradeCache | None:
    try:
        return GradeCache(default_cache_dir())
    except OSError:
        return None  # no writable cache anywhere: every grade runs


def grade_key(request: GradeRequest, options: JobOptions, environment: dict[str, Any]) -> str:
    """Everything that decides a grade: the task's and candidate's content, the harness, options, Python.

    The task's path is part of it too (its reports name the task by its folder and path); a candidate counts
    by content only, since predictions put their candidates in fresh temporary folders every time.
    """
    return GradeCache.key(
        {
            "root": str(request.root.resolve()),
            "task": hash_tree(request.root),
            "candidate": hash_tree(request.candidate) if request.candidate else None,
            "harness": harness_version(),
            "options": options.key(),
            "environment": environment,
            "python": sys.version,
        }
    )


def skipped_outcome(label: str, unmet: list[Any], root: Path, auto: bool = False) -> TaskOutcome:
    """A task not graded for want of a service; its conventions are still read, so the row says them."""
    try:
        task = task_summary(load_task(root))
    except ConcgradeError:
        task = {}
    names = ", ".join(need.name for need in unmet)
    hint = "; ".join(f"--service {need.name}=HOST:PORT" for need in unmet)
    if auto:
        hint += " (--services auto: " + "; ".join(missing_program(need.name) for need in unmet) + ")"
    else:
        hint += ", or --services auto where its server is installed"
    return TaskOutcome(
        label,
        SKIPPED,
        task=task,
        services=[
            {"name": n.name, "evidence": list(n.evidence), "variables": [v for v, _ in n.variables]} for n in unmet
        ],
        error=f"needs a service that is not provided: {names} ({unmet[0].evidence[0]}); provide it with {hint}",
    )


# --- a dataset --------------------------------------------------------------------------------------


@dataclass
class DatasetResults:
    document: dict[str, Any]  # the aggregate results.json
    outcomes: list[TaskOutcome]

    @property
    def exit_code(self) -> int:
        return int(self.document["exit_code"])


def select_tasks(
    root: Path, changed_since: str | None, instance_ids: Sequence[str] | None = None
) -> tuple[list[Path], int]:
    """The task folders to grade (all, the changed ones, the named ones) and how many the dataset holds."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    tasks = find_tasks(root)
    if not tasks:
        raise UsageError(f"{root}: no task folder below it (a folder holding repository_after/ and tests/)")
    found = len(tasks)
    if instance_ids:
        tasks = named_tasks(root, tasks, instance_ids)
    if changed_since:
        tasks = changed_tasks(root, tasks, changed_since)
    return tasks, found


def grade_dataset(
    root: Path,
    output: Path,
    settings: DatasetSettings,
    changed_since: str | None = None,
    progress: Progress | None = None,
    instance_ids: Sequence[str] | None = None,
) -> DatasetResults:
    """Grade every (or every changed, or every named) task below `root`; write reports under `output`."""
    started_at, clock = _now(), time.monotonic()
    root = root.resolve()
    tasks, found = select_tasks(root, changed_since, instance_ids)
    requests = [GradeRequest(task_label(task, root), task) for task in tasks]
    dataset = {
        "root": str(root),
        "changed_since": changed_since,
        "instance_ids": list(instance_ids or []) or None,
        "tasks_found": found,
    }
    with claim_output_folder(output):  # before anything runs: a folder that cannot take the reports fails now
        outcomes = grade_requests(requests, settings, progress)
        for outcome in outcomes:
            write_outcome_files(outcome, output / outcome.label)
        duration = time.monotonic() - clock
        document = dataset_document(
            outcomes, dataset=dataset, settings=settings, started_at=started_at, duration=duration
        )
        write_document(document, output / "results.json")
        write_atomically(output / "index.html", render_dataset_html(document).encode("utf-8"))
    return DatasetResults(document, outcomes)


def write_document(document: dict[str, Any], path: Path) -> None:
    write_atomically(path, (json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"))


def write_outcome_files(outcome: TaskOutcome, folder: Path) -> None:
    """The task's own reports; reports left by an earlier grade of it are removed so none is stale."""
    for name in {"results.json", "report.html", *outcome.files}:
        (folder / name).unlink(missing_ok=True)
    for name, data in outcome.files.items():
        write_atomically(folder / name, data)


def worst_verdict(verdicts: Sequence[str]) -> str:
    """error > rejected > accepted; skipped tasks count as nothing (accepted when nothing else ran)."""
    graded = [v for v in verdicts if v != SKIPPED]
    return max(graded, key=SEVERITY.__getitem__) if graded else ACCEPTED


def dataset_document(
    outcomes: list[TaskOutcome],
    *,
    dataset: dict[str, Any],
    settings: DatasetSettings,
    started_at: str,
    duration: float,
) -> dict[str, Any]:
    """The aggregate results.json (see docs/dataset.md for its shape)."""
    verdict = worst_verdict([o.verdict for o in outcomes])
    counts = Counter(o.verdict for o in outcomes)
    tasks = []
    for outcome in outcomes:
        row = outcome.to_dict()
        row["report"] = f"{outcome.label}/report.html" if "report.html" in outcome.files else None
        row["results"] = f"{outcome.label}/results.json" if "results.json" in outcome.files else None
        tasks.append(row)
    return {
        "schema_version": DATASET_SCHEMA_VERSION,
        "kind": "concgrade-dataset",
        "tool": {"name": "concgrade", "version": __version__, "harness": harness_version()},
        "dataset": dataset,
        "options": settings.to_dict(),
        "started_at": started_at,
        "finished_at": _now(),
        "duration_seconds": round(duration, 3),
        "verdict": verdict,
        "exit_code": EXIT_CODES[verdict],
        "summary": {
            "tasks": len(outcomes),
            **{name: counts.get(name, 0) for name in (ACCEPTED, REJECTED, ERROR, SKIPPED)},
            "cached": sum(o.cached for o in outcomes),
        },
        "tasks": tasks,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
