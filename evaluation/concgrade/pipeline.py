"""One grade as a straight pass: task → plan → runs → observations → grade → results.

`grade()` is the only orchestration of a grade: the command line, the dataset mode and predictions all
call it, with the options declared once in `GradeOptions`.
"""

from __future__ import annotations

import os
import secrets
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from concgrade import harness
from concgrade.bench.gate import speedup_checks
from concgrade.bench.measure import BenchOptions, requested_by, run_bench
from concgrade.files import changes, read_file_ends, read_sources, tree_digest
from concgrade.findings import Finding
from concgrade.grade.checks import Check, check_constraints_met, check_task_lint, check_test_aware
from concgrade.grade.grading import grade_runs, with_checks
from concgrade.grade.instances import audit_instances, check_instances, runtime_lint_findings
from concgrade.grade.outcomes import RunObservation, observe_run
from concgrade.grade.pairing import align_parametrized, canonical_run
from concgrade.grade.repeats import RepeatPlan, combine_repeats, contradicts, expand_repeats
from concgrade.histories.gate import history_checks
from concgrade.histories.phase import run_histories
from concgrade.mutation.model import MutationSettings
from concgrade.mutation.phase import mutants_policy, run_mutation
from concgrade.mutation.phase import requested_by as mutation_requested_by
from concgrade.results.model import Results, build_results, environment_info
from concgrade.run.git import ignored_by_git
from concgrade.run.outputs import RunOutput
from concgrade.run.plan import plan_runs
from concgrade.run.runner import run_all, run_limits, run_until_contradicted
from concgrade.run.sandbox import Sandbox, prepare_sandbox
from concgrade.run.snapshot import task_snapshot
from concgrade.static.diffs import diff_sources
from concgrade.static.lint.checks import lint_task
from concgrade.static.structure import Structure, analyze_task
from concgrade.static.testaware import find_test_aware, find_unreadable_code
from concgrade.task.load import load_task
from concgrade.task.model import Implementation, Task
from concgrade.task.trajectory import read_trajectory

BenchMode = Literal["on", "off", "auto"]  # --bench, --no-bench, or: when a workload declares min_speedup
GradeKind = Literal["author", "candidate", "dataset"]  # what a grade is of: it decides what runs by default


@dataclass(frozen=True)
class LimitOverrides:
    """Limits given on the command line; None keeps the manifest's (or the default) value."""

    test_timeout: float | None = None
    run_timeout: float | None = None
    memory_mb: float | None = None
    max_tasks: int | None = None
    output_mb: float | None = None

    def apply(self, task: Task) -> Task:
        return task.with_limits(**asdict(self))


@dataclass(frozen=True)
class GradeOptions:
    """Every option that shapes a grade, declared once for the command line, datasets and predictions."""

    jobs: int = os.cpu_count() or 1  # pytest processes at once
    repeat: int = 1  # runs per implementation
    stress: bool = False  # tiny switch interval and seeded yields at synchronization points
    seed: int | None = None  # the stress seed to replay; a new one is drawn when None
    early_exit: bool = True  # skip an implementation's remaining repeats once one contradicts the expectation
    gate: bool = False  # the CI gate's defaults (repeats and stress); recorded in results.json
    bench: BenchMode = "auto"
    bench_cache: bool = True  # False (--no-cache): re-time unchanged code
    bench_cache_dir: Path | None = None
    limits: LimitOverrides = field(default_factory=LimitOverrides)
    mutation: MutationSettings = field(default_factory=MutationSettings)  # --mutants and its options
    opted_out: tuple[str, ...] = ()  # phases the command line turned off (stress, bench, mutants): the report says so
    keyword: str | None = None  # -k EXPR: only the tests it selects run, and the suites shrink to them
    command: tuple[str, ...] = ()  # the command line that started this grade, recorded to reproduce it

    def key(self) -> dict[str, Any]:
        """The options that can change a grade's outcome (the grade cache's key): not how fast or how it is told."""
        return {
            "repeat": self.repeat,
            "stress": self.stress,
            "seed": self.seed,
            "gate": self.gate,
            "bench": self.bench,
            "limits": asdict(self.limits),
            "mutation": self.mutation.key(),
            "keyword": self.keyword,
        }

    def repeat_plan(self) -> RepeatPlan:
        seed = self.seed
        if self.stress and seed is None:
            seed = secrets.randbelow(1_000_000)
        return RepeatPlan(repeat=self.repeat, stress=self.stress, seed=seed, early_exit=self.early_exit)


RunDone = Callable[[RunObservation], None]
BenchProgress = Callable[[str], None]


def load_graded_task(root: Path, options: GradeOptions, candidate: Path | None = None) -> Task:
    """The task at `root` as this grade sees it: the command line's limits, and the candidate graded like after.

    Its [mutants] table is validated here, before anything runs, whether or not this grade runs mutants.
    """
    task = options.limits.apply(load_task(root)).with_keyword(options.keyword)
    mutants_policy(task)
    return task.with_candidate(candidate) if candidate is not None else task


def grade(
    task: Task,
    options: GradeOptions,
    on_run_done: RunDone | None = None,
    on_bench_progress: BenchProgress | None = None,
    on_mutant_progress: BenchProgress | None = None,
    *,
    alongside: Callable[[], object] | None = None,
) -> Results:
    """Run every implementation of `task` and grade what the runs show (and time its workloads, and judge its
    suites by mutants, if asked, and check its declared histories); `on_bench_progress` hears the lines of the
    benchmark and the histories, `on_mutant_progress` those of the mutants.

    `alongside` is the caller's own work to do while the runs are in flight (the CLI compiles its report
    templates there), after the grade's static analysis.

    Nothing of the harness is imported after the first run starts (harness.ready() has imported all of it, and
    fingerprinted its files, before the first process starts), and its files must be the same after the last
    process ended as before the first one started (else HarnessChanged, before any report is rendered).
    """
    started_at, clock = now_iso(), time.monotonic()
    timings: dict[str, float] = {}
    bench_reason = requested_by(options.bench, task.workloads)
    mutation_reason = mutation_requested_by(options.mutation.mode, task)

    plan = options.repeat_plan()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="concgrade-beside") as beside:
        # The harness is imported whole and fingerprinted while the grade probes its sandbox (which runs nothing
        # of the task's); run_and_observe waits for it before it copies the task and starts any process.
        harness_ready = beside.submit(harness.ready)
        # Static analysis needs no run and no run needs it: it goes on beside the runs, off the critical path
        # (started once the first pytest process is running, so it does not slow down the runs' scratch copies).
        static: list[Future[StaticFindings]] = []

        started = threading.Lock()

        def start_beside() -> None:
            if not started.acquire(blocking=False):
                return  # once: at the first process of the grade
            static.append(beside.submit(analyze_statically, task, options.gate))
            if alongside is not None:
                beside.submit(alongside)

        mark = time.monotonic()
        runs, folder_changes, isolation = run_and_observe(
            task, options, plan, on_run_done, start_beside, before_runs=harness_ready.result
        )
        harness_files = harness_ready.result()
        harness.check_unchanged(harness_files)
        timings["runs"] = time.monotonic() - mark
        start_beside()  # no process started at all (a run that could not start): analyse now
        found = static[0].result()
    timings["static_checks"] = found.seconds
    lint_findings, structure, source_checks = found.lint, found.structure, found.checks
    grade_ = grade_runs(
        task.suites,
        runs,
        inferred=suites_inferred(task, options),
        source_checks=source_checks,
        folder_changes=folder_changes,
        greenfield=task.greenfield,
        toggle_default=task.toggle_source.get("origin") == "default",
        keyword=task.keyword,
        before_runs_other_tests=task.roles_run_different_tests,
    )

    bench = None
    if bench_reason:  # after the test runs, never beside them: timings need the machine to themselves
        mark = time.monotonic()
        bench_options = BenchOptions(bench_reason, options.bench_cache, options.bench_cache_dir)
        bench = run_bench(task, bench_options, on_bench_progress)
        harness.check_unchanged(harness_files)
        grade_ = with_checks(grade_, speedup_checks(bench))
        timings["bench"] = time.monotonic() - mark
    histories = None
    if task.histories:  # after the test runs too: recordings under stress want the machine's cores
        mark = time.monotonic()
        histories = run_histories(task, history_seed(plan), options.jobs, on_bench_progress)
        harness.check_unchanged(harness_files)
        grade_ = with_checks(grade_, history_checks(histories))
        timings["histories"] = time.monotonic() - mark
    mutants = None
    after_run = next((run for run in runs if run.name == "after"), None)
    if mutation_reason and after_run is not None:  # after the benchmark too: mutant runs load every core
        mark = time.monotonic()
        mutants, gate = run_mutation(
            task,
            after_run,
            grade_.suites,
            options.mutation,
            mutation_reason,
            jobs=options.jobs,
            seed=plan.seed,
            use_cache=options.bench_cache,
            cache_folder=options.bench_cache_dir,
            progress=on_mutant_progress,
        )
        harness.check_unchanged(harness_files)
        grade_ = with_checks(grade_, gate)
        timings["mutants"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - clock
    graded_with = "inferred" if grade_.suites_inferred else "declared"
    instances = audit_instances(task.instances, *outcomes_by_role(runs), gate=options.gate, graded_with=graded_with)
    instances_check = check_instances(instances)
    if instances_check is not None:
        grade_ = with_checks(grade_, [instances_check])
    return build_results(
        run_id=uuid.uuid4().hex[:12],
        started_at=started_at,
        finished_at=now_iso(),
        task=task,
        runs=runs,
        grade=grade_,
        structure=structure,
        lint=[*lint_findings, *runtime_lint_findings(instances)],
        environment=environment_info(isolation),
        timings=timings,
        trajectory=found.trajectory,
        diffs=found.diffs,
        reproduce=reproduce_info(options.command),
        nondeterminism=nondeterminism_info(plan, options.gate, runs),
        bench=bench,
        mutants=mutants,
        instances=instances,
        histories=histories,
        skipped=skipped_phases(task, options, bench_reason, mutation_reason),
    )


def suites_inferred(task: Task, options: GradeOptions) -> bool:
    """Whether the grade takes its suites from what the runs show: always without a manifest, except that the
    gate holds a task to its instances file (a dataset submission must carry correct metadata)."""
    return task.source == "inferred" or (task.source == "instances" and not options.gate)


@dataclass(frozen=True)
class StaticFindings:
    """What a grade learns from the task's files alone: lint, structure and constraints, trajectory, diffs."""

    lint: list[dict[str, Any]]
    structure: Structure
    checks: list[Check]
    trajectory: list[dict[str, Any]]
    diffs: list[dict[str, Any]]
    seconds: float


def analyze_statically(task: Task, gate: bool) -> StaticFindings:
    mark = time.monotonic()
    reports_ignored = ignored_by_git(task.root, "reports")
    lint = [
        finding.to_dict()
        for finding in lint_task(task.root, check_loader=False, reports_ignored=reports_ignored, gate=gate)
    ]
    structure = analyze_task(task)
    checks = [check_task_lint(lint)]
    checks += [check_constraints_met(name, found) for name, found in structure.violations.items()]
    checks += [
        check_test_aware(impl.name, [*find_test_aware(read_sources(impl.folder)), *unreadable_code(task, impl)])
        for impl in task.implementations
        if impl.name == "candidate"
    ]
    trajectory, diffs = read_trajectory(task.root), implementation_diffs(task)
    return StaticFindings(lint, structure, checks, trajectory, diffs, time.monotonic() - mark)


def unreadable_code(task: Task, impl: Implementation) -> list[Finding]:
    """The candidate's importable files the test-aware rules cannot read, less those the task's own implementations
    carry with the same bytes (an extension module the task ships, say)."""
    files = read_file_ends(impl.folder)
    carried = {
        relative: ends
        for other in task.implementations
        if other.name != impl.name
        for relative, ends in read_file_ends(other.folder).items()
    }
    known = {relative for relative, ends in files.items() if carried.get(relative) == ends}
    return find_unreadable_code(files, known)


def history_seed(plan: RepeatPlan) -> int:
    """The first seed of every declared history: the grade's stress seed (--seed replays both), else a new one."""
    return plan.seed if plan.seed is not None else secrets.randbelow(1_000_000)


def skipped_phases(
    task: Task, options: GradeOptions, bench_reason: str | None, mutation_reason: str | None
) -> list[dict[str, str]]:
    """What this grade did not run that the task declares (or a stricter grade runs), and why: the report says it."""
    skipped = []
    speedups = [workload.name for workload in task.workloads if workload.min_speedup is not None]
    if speedups and not bench_reason:
        why = (
            "--no-bench"
            if "bench" in options.opted_out
            else "an author's plain grade does not time workloads (--bench does, and so do --gate, --candidate, "
            "datasets and predictions)"
        )
        skipped.append({"phase": "bench", "reason": f"{why}; the task declares min_speedup for {', '.join(speedups)}"})
    candidate = any(impl.name == "candidate" for impl in task.implementations)
    if "stress" in options.opted_out and (candidate or options.gate):
        skipped.append({"phase": "stress", "reason": "--no-stress; a candidate's grade and the gate stress by default"})
    if task.mutants is not None and not mutation_reason:
        why = (
            "--no-mutants"
            if "mutants" in options.opted_out
            else "not asked (--mutants, `concgrade mutants` and --gate run them)"
        )
        skipped.append({"phase": "mutants", "reason": f"{why}; the task declares [mutants]"})
    return skipped


def run_and_observe(
    task: Task,
    options: GradeOptions,
    plan: RepeatPlan,
    on_run_done: RunDone | None,
    on_start: Callable[[], None] | None = None,
    before_runs: Callable[[], object] | None = None,
) -> tuple[list[RunObservation], list[str], dict[str, Any]]:
    """Every run of the plan, each observed once: (one observation per implementation, user files the grade
    changed, the isolation layers that were active). `on_start` is called as each pytest process starts
    (work meant to share the machine with the runs, not with their preparation); `before_runs` once the
    sandbox is probed, before any copy or process (it waits for the harness to be ready; its errors stop the grade).
    """
    sandbox = prepare_sandbox(run_limits(task.limits), interpreter=task.interpreter)
    if before_runs is not None:
        # Waited for here, not after the copies: a thread importing modules beside a copy of many small files
        # makes each of the copy's system calls wait for the GIL; the sandbox's probe only waits for a process.
        before_runs()
    watched = watched_folders(task)
    digests_before = {folder: tree_digest(folder) for folder in watched}
    with task_snapshot(task) as snapshot:  # every process starts from this copy, reruns included
        outputs, observe = run_specs(snapshot, options, plan, on_run_done, sandbox, on_start)
    folder_changes = [
        f"{folder / change}" for folder in watched for change in changes(digests_before[folder], tree_digest(folder))
    ]
    runs = align_parametrized(combine_by_implementation([observe(output) for output in outputs]), task.toggle)
    return runs, folder_changes, sandbox.report.to_dict()


def run_specs(
    task: Task,
    options: GradeOptions,
    plan: RepeatPlan,
    on_run_done: RunDone | None,
    sandbox: Sandbox,
    on_start: Callable[[], None] | None = None,
) -> tuple[list[RunOutput], Callable[[RunOutput], RunObservation]]:
    """Every run of the plan (repeats skipped once one contradicts the expectation), and how each is observed."""
    specs = expand_repeats(plan_runs(task), plan)
    observed: dict[tuple[str, int], RunObservation] = {}

    def observe(output: RunOutput) -> RunObservation:
        key = (output.name, output.repeat)
        if key not in observed:
            observed[key] = canonical_run(observe_run(output), task.toggle)
        return observed[key]

    def done(output: RunOutput) -> None:
        if on_run_done is not None:
            on_run_done(observe(output))

    if plan.repeat > 1 and plan.early_exit:
        contradicted = lambda output: contradicts(observe(output), task.suites)  # noqa: E731
        outputs = run_until_contradicted(task, specs, options.jobs, contradicted, done, sandbox, on_start)
    else:
        outputs = run_all(task, specs, options.jobs, done, sandbox, on_start)
    return outputs, observe


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
    sources = {impl.name: read_sources(impl.folder) for impl in task.implementations}
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
