"""The mutation phase: the task's suites run on every mutant of the after, by the same runner and sandbox as a
candidate, in parallel, cached by content, each mutant stopped at its first failing suite test.

A mutant is the after folder with `mutant.files()` written over a copy of it, graded in the after's place of
its scratch copy (`run.plan.plan_variant`). Tests run in kill order: those that killed the most mutants so far
(in this analysis, and in the last one of the same tests) first, so most runs stop after a test or two. Mutant
runs get a shorter per-test timeout than the task's, derived from the after's own test durations, so that a
mutant that deadlocks costs seconds (a test that outlives it fails, and a deadlock is a kill). Plain survivors
are run again under stress (seeded); those it kills are `killed_under_stress`.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.files import cache_dir as default_cache_dir
from concgrade.files import copy_tree, read_sources
from concgrade.grade.checks import F2P, P2P, Check
from concgrade.grade.mutation import (
    ERROR,
    KILLED,
    KILLED_UNDER_STRESS,
    SURVIVED,
    KillMatrix,
    kill_matrix,
    mutation_gate,
)
from concgrade.grade.outcomes import PASSING, RunObservation, observe_run
from concgrade.grade.pairing import canonical_run
from concgrade.mutation import cache
from concgrade.mutation.model import (
    RAN,
    SKIPPED,
    MutantRecord,
    MutantsMode,
    MutationResults,
    MutationSettings,
    OperatorRecord,
    StressRun,
)
from concgrade.run.plan import RunSpec, plan_variant
from concgrade.run.runner import run_limits, run_one
from concgrade.run.sandbox import Sandbox, prepare_sandbox
from concgrade.static.mutants import Mutant, generate_mutants, operator_catalog
from concgrade.task.model import Task
from concgrade.task.mutants import MutantsPolicy, read_mutants

# A mutant's test may take this many times the after's slowest test before it is taken for hung (a kill);
# the result is rounded up to the next step so that it stays the same from one analysis to the next (it is
# part of the cache key), never below the floor and never above the task's own per-test timeout.
TIMEOUT_FACTOR = 3.0
TIMEOUT_FLOOR = 2.0
TIMEOUT_STEPS = (2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Mutant runs at once per --jobs: they spend most of their time blocked (on a test's conditions, a deadline, a
# deadlock), so two per core keep the cores busy without crowding them (benchmarks/mutants_cost.py).
RUNS_PER_JOB = 2
# A mutant run (one pytest process) may take this many times the after's whole run before it is ended (a mutant
# that hangs at import, before any test, is killed by it), rounded up the same way, never above the task's.
RUN_TIMEOUT_FACTOR = 3.0
RUN_TIMEOUT_STEPS = (10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)

Progress = Callable[[str], None]


@dataclass
class MutantRun:
    """One run of one mutant, as the kill matrix reads it."""

    outcomes: dict[str, bool | None]  # node id -> passed (None: not run), in the order the tests ran
    tests: dict[str, str]  # node id -> concgrade's outcome, for the tests that ran
    error: str | None = None  # why the run says nothing about the mutant
    seconds: float = 0.0
    cached: bool = False
    note: str | None = None  # how a mutant was killed when no test failed by itself (its run never started)

    def to_cache(self) -> dict[str, Any]:
        return {
            "outcomes": list(self.outcomes.items()),
            "tests": list(self.tests.items()),
            "seconds": self.seconds,
            "note": self.note,
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any]) -> MutantRun:
        outcomes = {str(nodeid): passed for nodeid, passed in data.get("outcomes", [])}
        tests = {str(nodeid): str(outcome) for nodeid, outcome in data.get("tests", [])}
        note = data.get("note") if isinstance(data.get("note"), str) else None
        return cls(outcomes, tests, None, float(data.get("seconds", 0.0)), cached=True, note=note)

    def without(self, tests: set[str]) -> MutantRun:
        """The run with these tests' outcomes unknown (they fail on the after itself, so they kill nothing)."""
        outcomes = {nodeid: (None if nodeid in tests else passed) for nodeid, passed in self.outcomes.items()}
        return dataclasses.replace(self, outcomes=outcomes)


def mutants_policy(task: Task) -> MutantsPolicy:
    """The task's [mutants] table validated against the operator catalogue (a TaskError names a bad key)."""
    catalog = [op.id for op in operator_catalog()]
    return read_mutants(task.mutants, task.manifest_path or task.root, catalog)


def requested_by(mode: MutantsMode, task: Task) -> str | None:
    """Whether the phase runs: "flag" (--mutants, `concgrade mutants`), "manifest" (the gate, where the task
    declares [mutants]), or None."""
    if mode == "on":
        return "flag"
    if mode == "auto" and task.mutants is not None:
        return "manifest"
    return None


def mutant_run_timeout(after: RunObservation, task_timeout: float) -> float:
    """The wall clock of one mutant run: a few times the after's whole run, rounded up to a step."""
    wanted = RUN_TIMEOUT_FACTOR * after.duration
    step = next((value for value in RUN_TIMEOUT_STEPS if value >= wanted), wanted)
    return min(step, task_timeout)


def mutant_test_timeout(after: RunObservation, suite_ids: Sequence[str], task_timeout: float) -> tuple[float, str]:
    """The per-test timeout of mutant runs, and the rule that chose it (shown in the report)."""
    slowest = max((after.tests[nodeid].duration for nodeid in suite_ids if nodeid in after.tests), default=0.0)
    wanted = max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * slowest)
    step = next((value for value in TIMEOUT_STEPS if value >= wanted), wanted)
    timeout = min(step, task_timeout)
    rule = (
        f"{TIMEOUT_FACTOR:g}x the after's slowest suite test ({slowest:.2f} s), rounded up to {step:g} s, "
        f"at most the task's {task_timeout:g} s"
    )
    return timeout, rule


@dataclass
class Analysis:
    """The inputs of one analysis, once: what runs, where, and how."""

    task: Task
    suite_ids: list[str]
    base_order: list[str]
    test_timeout: float
    run_timeout: float
    first_failure: bool
    sandbox: Sandbox
    jobs: int
    cache_folder: Path | None
    context: dict[str, Any]
    progress: Progress | None
    kills: dict[str, int] = field(default_factory=dict)
    # The last analysis's context where only its timeouts differ: its runs that no timeout decided still hold.
    earlier_context: dict[str, Any] | None = None
    hits: int = 0
    misses: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def order(self) -> list[str]:
        """The suite tests in kill order: the most kills first (this analysis's and the last one's), then as based."""
        with self.lock:
            kills = dict(self.kills)
        position = {nodeid: index for index, nodeid in enumerate(self.base_order)}
        return sorted(self.base_order, key=lambda nodeid: (-kills.get(nodeid, 0), position[nodeid]))

    def count_kill(self, run: MutantRun) -> None:
        first = next((nodeid for nodeid, passed in run.outcomes.items() if passed is False), None)
        if first is not None and first in self.kills:
            with self.lock:
                self.kills[first] += 1


def run_mutation(
    task: Task,
    after: RunObservation,
    suites: dict[str, list[str]],
    settings: MutationSettings,
    requested: str,
    *,
    jobs: int,
    seed: int | None = None,
    use_cache: bool = True,
    cache_folder: Path | None = None,
    progress: Progress | None = None,
) -> tuple[MutationResults, list[Check]]:
    """Judge every mutant of the after by the suites: the results section and the gate's checks."""
    started = time.monotonic()
    policy = mutants_policy(task)
    catalog = {op.id: op for op in operator_catalog()}
    after_impl = task.implementation("after")
    mutants = generate_mutants(
        read_sources(after_impl.folder), [catalog[op] for op in policy.operators], policy.max_mutants
    )
    suite_ids = [nodeid for suite in (P2P, F2P) for nodeid in suites.get(suite, [])]
    policy_info = {
        "operators": list(policy.operators),
        "min_score": policy.min_score,
        "required": list(policy.required),
        "max_mutants": policy.max_mutants,
    }
    reason = why_not_judged(after, suite_ids)
    if reason:
        results = MutationResults(
            SKIPPED, requested, reason=reason, total=len(mutants), settings={"policy": policy_info}
        )
        return results, []

    test_timeout, rule = mutant_test_timeout(after, suite_ids, task.limits.test_timeout)
    if settings.test_timeout is not None:
        test_timeout, rule = settings.test_timeout, "--mutant-timeout"
    first_failure = not settings.full_matrix
    # --no-cache runs every mutant again, and refreshes the entries (as the benchmark's cache does).
    folder = cache_folder or default_cache_dir()
    notes = [] if folder else ["no writable cache folder: mutant runs are not kept for the next analysis"]
    run_timeout = mutant_run_timeout(after, task.limits.run_timeout)
    context = {**cache.run_context(task, after_impl.folder, test_timeout, first_failure), "run_timeout": run_timeout}
    previous = cache.load_kills(folder, context["tests"])
    by_speed = sorted(suite_ids, key=lambda nodeid: after.tests[nodeid].duration)
    base = sorted(by_speed, key=lambda nodeid: -previous.get(nodeid, 0))
    analysis = Analysis(
        task=task,
        suite_ids=suite_ids,
        base_order=base,
        test_timeout=test_timeout,
        run_timeout=run_timeout,
        first_failure=first_failure,
        sandbox=prepare_sandbox(run_limits(task.limits)),
        jobs=max(1, jobs) * RUNS_PER_JOB,
        cache_folder=folder,
        context=context,
        progress=progress,
        kills=dict.fromkeys(suite_ids, 0),
        earlier_context=earlier_context(folder, context, "plain"),
    )
    plain = run_mutants(analysis, mutants, None, read_cache=use_cache)
    by_id = {m.id: m for m in mutants}
    ids = {m.id: m.operator for m in mutants}
    errors = {mid: run.error for mid, run in plain.items() if run.error}
    outcomes = {mid: run.outcomes for mid, run in plain.items() if not run.error}
    matrix = kill_matrix(ids, outcomes, suites, policy.operators, errors)

    stress_seed = None
    stressed: dict[str, MutantRun] = {}
    stress_settings: dict[str, Any] = {}
    survivors = [by_id[m.mutant] for m in matrix.survivors]
    if settings.stress and survivors:
        stress_seed = seed if seed is not None else secrets.randbelow(1_000_000)
        stressed_analysis, stress_settings = stress_analysis(analysis, stress_seed, settings.test_timeout)
        if stress_settings.get("failing"):
            notes.append(
                f"{len(stress_settings['failing'])} suite tests fail on the after itself under stress seed "
                f"{stress_seed}: they kill no mutant under stress"
            )
        stressed = run_mutants(stressed_analysis, survivors, stress_seed, read_cache=use_cache)
        excluded = set(stress_settings.get("failing", []))
        stress_outcomes = {mid: run.without(excluded).outcomes for mid, run in stressed.items() if not run.error}
        matrix = kill_matrix(ids, outcomes, suites, policy.operators, errors, stress=stress_outcomes)
    cache.store_kills(analysis.cache_folder, context["tests"], analysis.kills)

    results = MutationResults(
        status=RAN,
        requested_by=requested,
        score=None if matrix.score is None else round(matrix.score, 4),
        killed=sum(1 for m in matrix.mutants if m.status == KILLED),
        killed_under_stress=sum(1 for m in matrix.mutants if m.status == KILLED_UNDER_STRESS),
        survived=len(matrix.survivors),
        errors=sum(1 for m in matrix.mutants if m.status == ERROR),
        applicable=matrix.applicable,
        total=len(mutants),
        mutants=mutant_records(mutants, matrix, plain, stressed, stress_seed),
        operators=operator_records(matrix, catalog),
        tests=analysis.order(),
        kills=dict(analysis.kills),
        settings={
            "test_timeout": test_timeout,
            "timeout_rule": rule,
            "run_timeout": run_timeout,
            "stress_control": stress_settings or None,
            "first_failure": first_failure,
            "stress": settings.stress,
            "stress_seed": stress_seed,
            "jobs": analysis.jobs,
            "policy": policy_info,
        },
        cache={
            "dir": str(analysis.cache_folder) if analysis.cache_folder else None,
            "enabled": use_cache,
            "hits": analysis.hits,
            "misses": analysis.misses,
        },
        seconds=round(time.monotonic() - started, 3),
        notes=notes,
    )
    descriptions = {m.id: f"{m.file}:{m.line} {m.description}" for m in mutants}
    return results, mutation_gate(matrix, policy.min_score, policy.required, descriptions)


def stress_analysis(
    analysis: Analysis, stress_seed: int, given_timeout: float | None
) -> tuple[Analysis, dict[str, Any]]:
    """The analysis for the stress pass, from a control run of the after under the same seed: stress slows the
    tests down, so their timeouts come from that run, and a test that fails on the after itself under stress
    says nothing about a mutant (it is left out of the stress kills)."""
    task = analysis.task
    control = run_control(analysis, stress_seed)
    failing = [
        nodeid for nodeid in analysis.suite_ids if not (nodeid in control.tests and control.tests[nodeid].passed)
    ]
    if not control.started:
        failing = list(analysis.suite_ids)
    test_timeout, rule = mutant_test_timeout(control, analysis.suite_ids, task.limits.test_timeout)
    if given_timeout is not None:
        test_timeout, rule = given_timeout, "--mutant-timeout"
    run_timeout = mutant_run_timeout(control, task.limits.run_timeout)
    context = {**analysis.context, "test_timeout": test_timeout, "run_timeout": run_timeout}
    stressed = dataclasses.replace(
        analysis,
        test_timeout=test_timeout,
        run_timeout=run_timeout,
        context=context,
        earlier_context=earlier_context(analysis.cache_folder, context, "stress"),
    )
    return stressed, {
        "seed": stress_seed,
        "test_timeout": test_timeout,
        "timeout_rule": rule,
        "run_timeout": run_timeout,
        "failing": failing,
        "seconds": round(control.duration, 3),
    }


def run_control(analysis: Analysis, stress_seed: int) -> RunObservation:
    """The after itself under stress, every suite test with the task's own timeouts."""
    task = analysis.task
    spec = dataclasses.replace(
        plan_variant(task, "after", task.implementation("after").folder),
        selection=() if task.toggle.kind == "selection" else tuple(analysis.order()),
        stress_seed=stress_seed,
    )
    say(analysis.progress, f"mutants: the after under stress seed {stress_seed}, for the stress pass's control")
    return canonical_run(observe_run(run_one(task, spec, analysis.sandbox)), task.toggle)


def earlier_context(folder: Path | None, context: dict[str, Any], label: str) -> dict[str, Any] | None:
    """The context of the last analysis that differed from this one only in its timeouts (None if none did); this
    one's timeouts are kept for the next. Load moves the after's durations across a step of the derived timeouts,
    and every cached run would be missed for that alone."""
    earlier = cache.load_timeouts(folder, context, label)
    cache.store_timeouts(folder, context, label)
    if earlier is None or all(earlier[key] == context[key] for key in cache.TIMEOUTS):
        return None
    return {**context, **earlier}


def holds_under(entry: dict[str, Any], earlier: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether a run kept under the earlier timeouts says the same under today's. One a limit ended (a test timed
    out, crashed or was interrupted; a note) holds where no timeout is longer now; any other where each timeout that
    is shorter now is still longer than the whole run took."""
    run = MutantRun.from_cache(entry)
    limited = run.note is not None or any(
        outcome in ("timeout", "crashed", "interrupted") for outcome in run.tests.values()
    )
    if limited:
        return all(now[key] <= earlier[key] for key in cache.TIMEOUTS)
    return all(now[key] >= earlier[key] or run.seconds < now[key] for key in cache.TIMEOUTS)


def why_not_judged(after: RunObservation, suite_ids: Sequence[str]) -> str | None:
    """Why no mutant can be judged against this after, or None: a mutant is only killed by what the after passes."""
    if not after.started:
        return "the after's run did not start"
    if not suite_ids:
        return "no suite test was collected on the after"
    failing = [nodeid for nodeid in suite_ids if not (nodeid in after.tests and after.tests[nodeid].passed)]
    if failing:
        shown = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
        return f"the after does not pass its own suites ({len(failing)} tests: {shown}): no mutant can be judged"
    return None


def run_mutants(
    analysis: Analysis, mutants: Sequence[Mutant], stress_seed: int | None, read_cache: bool
) -> dict[str, MutantRun]:
    """Every mutant's run (from the cache where it holds one), at most `jobs` at once."""
    done: list[str] = []

    def one(mutant: Mutant) -> MutantRun:
        key = cache.run_key(mutant.id, analysis.context, stress_seed)
        cached = cache.load_run(analysis.cache_folder, key) if read_cache else None
        if cached is None and read_cache and analysis.earlier_context is not None:
            earlier = cache.load_run(
                analysis.cache_folder, cache.run_key(mutant.id, analysis.earlier_context, stress_seed)
            )
            if earlier is not None and holds_under(earlier, analysis.earlier_context, analysis.context):
                cached = earlier
                cache.store_run(analysis.cache_folder, key, earlier)
        if cached is not None:
            run = MutantRun.from_cache(cached)
            with analysis.lock:
                analysis.hits += 1
        else:
            run = run_mutant(analysis, mutant, stress_seed)
            with analysis.lock:
                analysis.misses += 1
            if run.error is None:  # a run that could not judge the mutant is never kept
                cache.store_run(analysis.cache_folder, key, run.to_cache())
        analysis.count_kill(run)
        with analysis.lock:
            done.append(mutant.id)
            position = len(done)
        say(analysis.progress, progress_line(mutant, run, position, len(mutants), stress_seed))
        return run

    with ThreadPoolExecutor(max_workers=analysis.jobs, thread_name_prefix="concgrade-mutant") as pool:
        runs = list(pool.map(one, mutants))
    return {mutant.id: run for mutant, run in zip(mutants, runs, strict=True)}


def run_mutant(analysis: Analysis, mutant: Mutant, stress_seed: int | None) -> MutantRun:
    """The suites on one mutant: the after copied, the mutant's files written over it, run like a candidate."""
    task = analysis.task
    workdir = Path(tempfile.mkdtemp(prefix="concgrade-mutant-"))
    try:
        folder = workdir / "after"
        copy_tree(task.implementation("after").folder, folder)
        for relative, text in mutant.files().items():
            (folder / relative).write_text(text, encoding="utf-8")
        spec = mutant_spec(analysis, folder, stress_seed)
        clock = time.monotonic()
        output = run_one(task, spec, analysis.sandbox)
        run = judged_run(canonical_run(observe_run(output), task.toggle), analysis.suite_ids)
        run.seconds = round(time.monotonic() - clock, 3)
        return run
    except Exception as exc:  # a run that could not be made says nothing about the mutant (shown as an error)
        return MutantRun({}, {}, error=f"the mutant's run failed: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def mutant_spec(analysis: Analysis, folder: Path, stress_seed: int | None) -> RunSpec:
    spec = plan_variant(analysis.task, "mutant", folder)
    # A selection toggle names each implementation's own files: its node ids are not the suites' paired ones,
    # so those runs keep their files (and pytest's order); every other run gets the suite tests in kill order.
    selection = () if analysis.task.toggle.kind == "selection" else tuple(analysis.order())
    return dataclasses.replace(
        spec,
        test_timeout=analysis.test_timeout,
        run_timeout=analysis.run_timeout,
        selection=selection,
        first_failure=analysis.first_failure,
        stress_seed=stress_seed,
        slow_test_timeout=None,  # a mutant's timeout is derived from the after's tests, and kills it
    )


def judged_run(run: RunObservation, suite_ids: Sequence[str]) -> MutantRun:
    """A mutant's run as outcomes per suite test in run order, or the reason it cannot judge the mutant."""
    if not run.started:
        # The after's run started in the same setup: a mutant whose run does not (its import hangs or dies
        # before the session begins) fails every suite test.
        last = (run.stderr_tail or run.stdout_tail).strip().splitlines()[-1:] or [f"exit {run.exit_code}"]
        why = "hung before any test ran (ended at its wall clock)" if run.timed_out else f"did not start: {last[0]}"
        return failed_everywhere(suite_ids, "timeout" if run.timed_out else "error", f"the run {why}")
    wrong = [proof for proof in run.imports if not proof.expected or not proof.content_matches]
    if wrong:
        where = ", ".join(f"{proof.module} from {proof.file}" for proof in wrong)
        return MutantRun({}, {}, error=f"the run did not import the mutant: {where}")
    ran = {nodeid: test for nodeid, test in run.tests.items() if test.outcome != "missing"}
    if not ran and run.collect_errors:
        return failed_everywhere(suite_ids, "error", "the mutant broke the collection of the tests")
    if not ran and run.timed_out:
        return failed_everywhere(suite_ids, "timeout", "the run hung while collecting (ended at its wall clock)")
    tests: dict[str, str] = {nodeid: test.outcome for nodeid, test in ran.items()}
    outcomes: dict[str, bool | None] = {nodeid: outcome in PASSING for nodeid, outcome in tests.items()}
    for nodeid in suite_ids:
        outcomes.setdefault(nodeid, None)
    return MutantRun(outcomes, tests)


def failed_everywhere(suite_ids: Sequence[str], outcome: str, note: str) -> MutantRun:
    """A run that no suite test could pass: every one of them counts as failed, and the note says why."""
    return MutantRun(dict.fromkeys(suite_ids, False), dict.fromkeys(suite_ids, outcome), note=note)


def mutant_records(
    mutants: Sequence[Mutant],
    matrix: KillMatrix,
    plain: dict[str, MutantRun],
    stressed: dict[str, MutantRun],
    stress_seed: int | None,
) -> list[MutantRecord]:
    """One record per mutant: survivors first, then errors, then the killed, each in the order they were made."""
    records = []
    for mutant in mutants:
        judged = matrix.result(mutant.id)
        run = plain[mutant.id]
        stress = None
        if mutant.id in stressed and stress_seed is not None:
            again = stressed[mutant.id]
            status = ERROR if again.error else (KILLED if judged.status == KILLED_UNDER_STRESS else SURVIVED)
            stress = StressRun(
                stress_seed,
                status,
                judged.killed_by if status == KILLED else None,
                again.tests,
                again.seconds,
                again.cached,
            )
        records.append(
            MutantRecord(
                id=mutant.id,
                operator=mutant.operator,
                file=mutant.file,
                line=mutant.line,
                description=mutant.description,
                requirement=mutant.requirement,
                status=judged.status,
                killed_by=judged.killed_by,
                suite=judged.suite,
                reason=judged.reason or run.note,
                diff=mutant.diff(),
                tests=run.tests,
                seconds=run.seconds,
                cached=run.cached,
                stress=stress,
            )
        )
    rank = {SURVIVED: 0, ERROR: 1, KILLED_UNDER_STRESS: 2, KILLED: 3}
    return sorted(records, key=lambda record: rank.get(record.status, 4))


def operator_records(matrix: KillMatrix, catalog: dict[str, Any]) -> list[OperatorRecord]:
    return [
        OperatorRecord(
            id=op.operator,
            description=catalog[op.operator].description,
            requirement=catalog[op.operator].requirement,
            status=op.status,
            mutants=op.mutants,
            killed=op.killed,
            survivors=list(op.survivors),
        )
        for op in matrix.operators
    ]


def progress_line(mutant: Mutant, run: MutantRun, position: int, total: int, stress_seed: int | None) -> str:
    what = "under stress " if stress_seed is not None else ""
    first = next((nodeid for nodeid, passed in run.outcomes.items() if passed is False), None)
    if run.error:
        verdict = f"error: {run.error}"
    elif first is not None:
        verdict = f"killed by {first}"
    else:
        verdict = "survived"
    how = "cached" if run.cached else f"{run.seconds:.1f}s"
    return f"mutant {what}[{position}/{total}] {mutant.id} ({mutant.file}:{mutant.line}): {verdict} ({how})"


def say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)
