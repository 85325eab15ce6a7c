"""One grade as a straight pass: task → plan → runs → observations → grade → results."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from concgrade.grading import check_constraints_met, check_task_lint, grade_runs
from concgrade.integrity import changes, tree_digest
from concgrade.lint import lint_task
from concgrade.observations import observe_run
from concgrade.plan import plan_runs
from concgrade.results import Results, build_results, environment_info
from concgrade.runner import RunOutput, run_all, run_limits
from concgrade.sandbox import prepare_sandbox
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
    sandbox = prepare_sandbox(run_limits(task.limits))
    watched = watched_folders(task)
    digests_before = {folder: tree_digest(folder) for folder in watched}
    outputs = run_all(task, plan_runs(task), options.jobs, on_run_done, sandbox)
    folder_changes = [
        f"{folder / change}" for folder in watched for change in changes(digests_before[folder], tree_digest(folder))
    ]
    timings["runs"] = time.monotonic() - mark

    runs = [observe_run(output) for output in outputs]
    grade = grade_runs(
        task.suites,
        runs,
        inferred=task.source == "inferred",
        source_checks=source_checks,
        folder_changes=folder_changes,
    )
    timings["total"] = time.monotonic() - clock
    return build_results(
        run_id=uuid.uuid4().hex[:12],
        started_at=started_at,
        finished_at=now_iso(),
        task=task,
        runs=runs,
        grade=grade,
        structure=structure,
        lint=lint_findings,
        environment=environment_info(sandbox.report.to_dict()),
        timings=timings,
    )


def watched_folders(task: Task) -> list[Path]:
    """The user's folders a grade reads and must leave byte-identical: the task, and a candidate outside it."""
    folders = [task.root]
    for impl in task.implementations:
        if not impl.folder.is_relative_to(task.root):
            folders.append(impl.folder)
    return folders


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
