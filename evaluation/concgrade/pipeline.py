"""One grade as a straight pass: task → plan → runs → observations → grade → results."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from concgrade.grading import check_constraints_met, check_task_lint, grade_runs
from concgrade.instances import audit_instances, runtime_lint_findings
from concgrade.lint import lint_task
from concgrade.observations import RunObservation, observe_run
from concgrade.plan import plan_runs
from concgrade.results import Results, build_results, environment_info
from concgrade.runner import RunOutput, run_all
from concgrade.selection import canonical_run
from concgrade.structure import analyze_task
from concgrade.task import Task


@dataclass(frozen=True)
class GradeOptions:
    jobs: int = os.cpu_count() or 1


def grade_task(task: Task, options: GradeOptions, on_run_done: Callable[[RunOutput], None] | None = None) -> Results:
    """Run every implementation of `task` and grade what the runs show."""
    started_at, clock = now_iso(), time.monotonic()
    timings: dict[str, float] = {}

    mark = time.monotonic()
    lint_findings = [finding.to_dict() for finding in lint_task(task.root)]
    structure = analyze_task(task)
    source_checks = [check_task_lint(lint_findings)]
    source_checks += [check_constraints_met(name, found) for name, found in structure.violations.items()]
    timings["static_checks"] = time.monotonic() - mark

    mark = time.monotonic()
    outputs = run_all(task, plan_runs(task), options.jobs, on_run_done)
    timings["runs"] = time.monotonic() - mark

    runs = [canonical_run(observe_run(output), task.toggle) for output in outputs]
    grade = grade_runs(task.suites, runs, inferred=task.source == "inferred", source_checks=source_checks)
    timings["total"] = time.monotonic() - clock
    results = build_results(
        run_id=uuid.uuid4().hex[:12],
        started_at=started_at,
        finished_at=now_iso(),
        task=task,
        runs=runs,
        grade=grade,
        structure=structure,
        lint=lint_findings,
        environment=environment_info(),
        timings=timings,
    )
    results.instances = audit_instances(task.instances, *outcomes_by_role(runs))
    results.lint += runtime_lint_findings(results.instances)
    return results


def outcomes_by_role(runs: list[RunObservation]) -> tuple[dict[str, bool] | None, dict[str, bool] | None]:
    """nodeid → passed for the before and after runs (None for a run that did not start)."""
    found: dict[str, dict[str, bool] | None] = {"before": None, "after": None}
    for run in runs:
        if run.name in found and run.started:
            found[run.name] = {nodeid: test.passed for nodeid, test in run.tests.items()}
    return found["before"], found["after"]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
