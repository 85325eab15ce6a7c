"""One grade as a straight pass: task → plan → runs → observations → grade → results."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from concgrade.grading import check_constraints_met, check_task_lint, grade_runs
from concgrade.lint import lint_task
from concgrade.observations import RunObservation, observe_run
from concgrade.plan import plan_runs
from concgrade.repeats import RepeatPlan, combine_repeats, contradicts, expand_repeats
from concgrade.results import Results, build_results, environment_info
from concgrade.runner import RunOutput, run_all, run_until_contradicted
from concgrade.structure import analyze_task
from concgrade.task import Task


@dataclass(frozen=True)
class GradeOptions:
    jobs: int = os.cpu_count() or 1
    repeat: int = 1  # runs per implementation
    stress: bool = False  # tiny switch interval and seeded yields at synchronization points
    seed: int | None = None  # the stress seed to replay; a new one is drawn when None
    early_exit: bool = True  # skip an implementation's remaining repeats once one contradicts the expectation
    gate: bool = False  # the CI gate's defaults (repeats and stress); recorded in results.json

    def repeat_plan(self) -> RepeatPlan:
        seed = self.seed
        if self.stress and seed is None:
            import secrets

            seed = secrets.randbelow(1_000_000)
        return RepeatPlan(repeat=self.repeat, stress=self.stress, seed=seed, early_exit=self.early_exit)


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
    plan = options.repeat_plan()
    specs = expand_repeats(plan_runs(task), plan)
    if plan.repeat > 1 and plan.early_exit:
        outputs = run_until_contradicted(
            task, specs, options.jobs, lambda output: contradicts(observe_run(output), task.suites), on_run_done
        )
    else:
        outputs = run_all(task, specs, options.jobs, on_run_done)
    timings["runs"] = time.monotonic() - mark

    runs = combine_by_implementation([observe_run(output) for output in outputs])
    grade = grade_runs(task.suites, runs, inferred=task.source == "inferred", source_checks=source_checks)
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
        environment=environment_info(),
        timings=timings,
        nondeterminism=nondeterminism_info(plan, options.gate, runs),
    )


def combine_by_implementation(observations: list[RunObservation]) -> list[RunObservation]:
    """One observation per implementation, in the order they first ran, from all of its repeats."""
    names = list(dict.fromkeys(run.name for run in observations))
    return [combine_repeats([run for run in observations if run.name == name]) for name in names]


def nondeterminism_info(plan: RepeatPlan, gate: bool, runs: list[RunObservation]) -> dict[str, Any]:
    """How hard the grade looked for races: repeats asked and run, stress and its seed (a --seed replays it)."""
    return {
        "gate": gate,
        "repeat": plan.repeat,
        "stress": plan.stress,
        "seed": plan.seed if plan.stress else None,
        "early_exit": plan.early_exit,
        "runs": {run.name: max(1, len(run.repeats)) for run in runs},
    }


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
