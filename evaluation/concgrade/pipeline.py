"""One grade as a straight pass: task → plan → runs → observations → grade → results."""

from __future__ import annotations

import os
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concgrade.bench.gate import speedup_checks
from concgrade.bench.measure import BenchOptions, prepare_workloads, requested_by, run_bench
from concgrade.grade.checks import check_constraints_met, check_task_lint, grade_runs, with_checks
from concgrade.grade.observations import RunObservation, observe_run
from concgrade.grade.repeats import RepeatPlan, combine_repeats, contradicts, expand_repeats
from concgrade.results.model import Results, build_results, environment_info
from concgrade.run.integrity import changes, tree_digest
from concgrade.run.plan import plan_runs
from concgrade.run.runner import RunOutput, run_all, run_limits, run_until_contradicted
from concgrade.run.sandbox import prepare_sandbox
from concgrade.static.diffs import diff_sources
from concgrade.static.lint.checks import lint_task
from concgrade.static.structure import analyze_task
from concgrade.task.instances import audit_instances, runtime_lint_findings
from concgrade.task.model import Task, implementation_sources
from concgrade.task.selection import canonical_run
from concgrade.task.trajectory import read_trajectory


@dataclass(frozen=True)
class GradeOptions:
    jobs: int = os.cpu_count() or 1
    repeat: int = 1  # runs per implementation
    stress: bool = False  # tiny switch interval and seeded yields at synchronization points
    seed: int | None = None  # the stress seed to replay; a new one is drawn when None
    early_exit: bool = True  # skip an implementation's remaining repeats once one contradicts the expectation
    gate: bool = False  # the CI gate's defaults (repeats and stress); recorded in results.json

    bench: str = "auto"  # "on" (--bench), "off" (--no-bench), "auto": when a workload declares min_speedup
    bench_cache: bool = True  # False (--no-cache): re-time unchanged code
    bench_cache_dir: Path | None = None
    command: tuple[str, ...] = ()  # the command line that started this grade, recorded to reproduce it

    def repeat_plan(self) -> RepeatPlan:
        seed = self.seed
        if self.stress and seed is None:
            import secrets

            seed = secrets.randbelow(1_000_000)
        return RepeatPlan(repeat=self.repeat, stress=self.stress, seed=seed, early_exit=self.early_exit)


def grade_task(
    task: Task,
    options: GradeOptions,
    on_run_done: Callable[[RunOutput], None] | None = None,
    on_bench_progress: Callable[[str], None] | None = None,
) -> Results:
    """Run every implementation of `task` and grade what the runs show (and time its workloads, if asked)."""
    started_at, clock = now_iso(), time.monotonic()
    timings: dict[str, float] = {}
    workloads = prepare_workloads(task)  # a bad declaration fails before anything runs
    bench_reason = requested_by(options.bench, workloads)

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
    plan = options.repeat_plan()
    specs = expand_repeats(plan_runs(task), plan)
    if plan.repeat > 1 and plan.early_exit:
        outputs = run_until_contradicted(
            task,
            specs,
            options.jobs,
            lambda output: contradicts(canonical_run(observe_run(output), task.toggle), task.suites),
            on_run_done,
            sandbox,
        )
    else:
        outputs = run_all(task, specs, options.jobs, on_run_done, sandbox)
    folder_changes = [
        f"{folder / change}" for folder in watched for change in changes(digests_before[folder], tree_digest(folder))
    ]
    timings["runs"] = time.monotonic() - mark

    runs = combine_by_implementation([canonical_run(observe_run(output), task.toggle) for output in outputs])
    grade = grade_runs(
        task.suites,
        runs,
        inferred=task.source == "inferred",
        source_checks=source_checks,
        folder_changes=folder_changes,
    )

    bench = None
    if bench_reason:  # after the test runs, never beside them: timings need the machine to themselves
        mark = time.monotonic()
        bench_options = BenchOptions(bench_reason, options.bench_cache, options.bench_cache_dir)
        bench = run_bench(task, workloads, bench_options, on_bench_progress)
        grade = with_checks(grade, speedup_checks(bench))
        timings["bench"] = time.monotonic() - mark
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
        environment=environment_info(sandbox.report.to_dict()),
        timings=timings,
        trajectory=read_trajectory(task.root),
        diffs=implementation_diffs(task),
        reproduce=reproduce_info(options.command),
        nondeterminism=nondeterminism_info(plan, options.gate, runs),
    )
    results.bench = bench
    results.instances = audit_instances(task.instances, *outcomes_by_role(runs))
    results.lint += runtime_lint_findings(results.instances)
    return results


def watched_folders(task: Task) -> list[Path]:
    """The user's folders a grade reads and must leave byte-identical: the task, and a candidate outside it."""
    folders = [task.root]
    for impl in task.implementations:
        if not impl.folder.is_relative_to(task.root):
            folders.append(impl.folder)
    return folders


def outcomes_by_role(runs: list[RunObservation]) -> tuple[dict[str, bool] | None, dict[str, bool] | None]:
    """nodeid → passed for the before and after runs (None for a run that did not start)."""
    found: dict[str, dict[str, bool] | None] = {"before": None, "after": None}
    for run in runs:
        if run.name in found and run.started:
            found[run.name] = {nodeid: test.passed for nodeid, test in run.tests.items()}
    return found["before"], found["after"]


def implementation_diffs(task: Task) -> list[dict[str, Any]]:
    """before → after, and for a candidate before → candidate and after → candidate."""
    sources = {impl.name: implementation_sources(impl.folder) for impl in task.implementations}
    pairs = [("before", "after")]
    if "candidate" in sources:
        pairs += [("before", "candidate"), ("after", "candidate")]
    return [diff_sources(sources[old], sources[new], old, new) for old, new in pairs]


def reproduce_info(command: tuple[str, ...]) -> dict[str, Any]:
    """The command line and folder that started this grade (empty when the library was called directly)."""
    if not command:
        return {}
    cwd = os.getcwd()
    return {"argv": list(command), "cwd": cwd, "shell": f"cd {shlex.quote(cwd)} && {shlex.join(command)}"}


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
