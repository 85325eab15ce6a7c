"""One grade as a straight pass: task → plan → runs → observations → grade → results."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from concgrade.grading import grade_runs
from concgrade.instances import audit_instances
from concgrade.observations import RunObservation, observe_run
from concgrade.plan import plan_runs
from concgrade.results import Results, build_results, environment_info
from concgrade.runner import RunOutput, run_all
from concgrade.selection import canonical_run
from concgrade.task import Task


@dataclass(frozen=True)
class GradeOptions:
    jobs: int = os.cpu_count() or 1


def grade_task(task: Task, options: GradeOptions, on_run_done: Callable[[RunOutput], None] | None = None) -> Results:
    """Run every implementation of `task` and grade what the runs show."""
    started_at, clock = now_iso(), time.monotonic()
    timings: dict[str, float] = {}

    mark = time.monotonic()
    metrics, metrics_delta = measure_implementations(task)
    timings["metrics"] = time.monotonic() - mark

    mark = time.monotonic()
    outputs = run_all(task, plan_runs(task), options.jobs, on_run_done)
    timings["runs"] = time.monotonic() - mark

    runs = [canonical_run(observe_run(output), task.toggle) for output in outputs]
    grade = grade_runs(task.suites, runs, inferred=task.source == "inferred")
    timings["total"] = time.monotonic() - clock
    results = build_results(
        run_id=uuid.uuid4().hex[:12],
        started_at=started_at,
        finished_at=now_iso(),
        task=task,
        runs=runs,
        grade=grade,
        metrics=metrics,
        metrics_delta=metrics_delta,
        environment=environment_info(),
        timings=timings,
    )
    results.instances = audit_instances(task.instances, *outcomes_by_role(runs))
    return results


def outcomes_by_role(runs: list[RunObservation]) -> tuple[dict[str, bool] | None, dict[str, bool] | None]:
    """nodeid → passed for the before and after runs (None for a run that did not start)."""
    found: dict[str, dict[str, bool] | None] = {"before": None, "after": None}
    for run in runs:
        if run.name in found and run.started:
            found[run.name] = {nodeid: test.passed for nodeid, test in run.tests.items()}
    return found["before"], found["after"]


def measure_implementations(task: Task) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Structural metrics of every implementation, and the before → after deltas."""
    return {}, {}


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
