"""Runs the histories phase of a grade: every declared history recorded on every implementation, then checked.

After the test runs, like the benchmark: for each [[histories]] entry, each implementation (before when
it has code, after, a candidate) and each seed of `seed .. seed + runs - 1`, one sandboxed recording
(run/history_runs.py); then one model process per history (the reference: before, or after for a
greenfield task) answers the checker for every recording. An object that stops pickling half-way
is judged again with replayed states.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from concgrade.grade.linearizability import MalformedHistory, check_declared, history_from_json
from concgrade.histories.gate import summarize_runs
from concgrade.histories.model import (
    FAILED,
    UNAVAILABLE,
    VIOLATION,
    DeclaredHistory,
    HistoryResults,
    HistoryRun,
    ImplementationHistory,
)
from concgrade.run.history_model import STATE_NOT_COPYABLE, ModelUnavailable, RemoteModel
from concgrade.run.history_runs import RecordedRun, record_history, reference_model
from concgrade.run.plan import RunSpec, plan_runs
from concgrade.run.runner import run_limits
from concgrade.run.sandbox import Sandbox, prepare_sandbox
from concgrade.task.histories import HistorySpec
from concgrade.task.model import Task

Progress = Callable[[str], None]
STRATEGIES = ("auto", "replay")  # how the model keeps states: pickled where it can; replayed when pickling fails


def run_histories(task: Task, seed: int, jobs: int = 1, progress: Progress | None = None) -> HistoryResults:
    """Record and check every history `task` declares; `seed` is the first seed of each (a grade's --seed)."""
    started = time.monotonic()
    sandbox = prepare_sandbox(run_limits(task.limits))
    specs = plan_runs(task)
    reference = reference_name(task)
    recorded = [spec for spec in specs if spec.name != "before" or reference == "before"]
    model_spec = next(spec for spec in specs if spec.name == reference)
    histories = []
    for declared in task.histories:
        seeds = list(range(seed, seed + declared.runs))
        recordings = record_all(task, recorded, sandbox, declared, seeds, jobs, progress)
        judged, model = judge_all(task, model_spec, sandbox, declared, seed, recordings, progress)
        implementations = [implementation_history(spec, judged[spec.name]) for spec in recorded]
        histories.append(declared_history(declared, seeds, {"implementation": reference, **model}, implementations))
    notes = []
    if reference == "after":
        notes.append("before has no code (a greenfield task): the sequential model is after, run single-threaded")
    return HistoryResults(seed, reference, round(time.monotonic() - started, 3), histories, notes)


def reference_name(task: Task) -> str:
    """The implementation whose sequential behaviour is the specification: before, unless it holds no code."""
    before = task.implementation("before").folder
    return "before" if any(before.rglob("*.py")) else "after"


def record_all(
    task: Task,
    specs: Sequence[RunSpec],
    sandbox: Sandbox,
    declared: HistorySpec,
    seeds: list[int],
    jobs: int,
    progress: Progress | None,
) -> list[RecordedRun]:
    """Every (implementation, seed) recording, `jobs` at once, in the order of specs then seeds."""

    def record(pair: tuple[RunSpec, int]) -> RecordedRun:
        spec, run_seed = pair
        recording = record_history(task, spec, sandbox, declared, run_seed)
        outcome = "recorded" if not recording.problem else f"failed: {recording.problem}"
        _say(progress, f"history {declared.name}: {spec.name} seed {run_seed} {outcome}")
        return recording

    pairs = [(spec, run_seed) for spec in specs for run_seed in seeds]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(record, pairs))


def judge_all(
    task: Task,
    model_spec: RunSpec,
    sandbox: Sandbox,
    declared: HistorySpec,
    seed: int,
    recordings: list[RecordedRun],
    progress: Progress | None,
) -> tuple[dict[str, list[HistoryRun]], dict[str, Any]]:
    """Each recording judged by one model process: (implementation → its runs, what the model was)."""
    for strategy in STRATEGIES:
        judged: dict[str, list[HistoryRun]] = {recording.implementation: [] for recording in recordings}
        try:
            with reference_model(task, model_spec, sandbox, declared, seed, strategy) as model:
                for recording in recordings:
                    run = judge(recording, declared, model)
                    judged[recording.implementation].append(run)
                    _say(progress, f"history {declared.name}: {recording.implementation} seed {run.seed} {run.outcome}")
                return judged, {"strategy": model.strategy, "steps": model.steps, "error": None}
        except ModelUnavailable as exc:
            if exc.kind == STATE_NOT_COPYABLE and strategy != STRATEGIES[-1]:
                continue  # the object stopped pickling half-way: judge everything again with replayed states
            return unavailable(recordings, f"the sequential model ({model_spec.name}) could not answer: {exc}")
    raise AssertionError("unreachable: the last strategy returns")


def unavailable(recordings: list[RecordedRun], message: str) -> tuple[dict[str, list[HistoryRun]], dict[str, Any]]:
    """Nothing could be decided: a failed recording still fails; every other run is an error."""
    judged: dict[str, list[HistoryRun]] = {recording.implementation: [] for recording in recordings}
    for recording in recordings:
        run = failed_recording(recording) if recording.problem else base_run(recording, UNAVAILABLE, message)
        judged[recording.implementation].append(run)
    return judged, {"strategy": None, "steps": 0, "error": message}


def judge(recording: RecordedRun, declared: HistorySpec, model: RemoteModel) -> HistoryRun:
    """One recording's verdict. A ModelUnavailable of kind state_not_copyable is left to the caller."""
    if recording.problem:
        return failed_recording(recording)
    try:
        history = history_from_json(recording.history)
    except MalformedHistory as exc:
        run = base_run(recording, FAILED, f"the recorded history is malformed (tampered with?): {exc}")
        run.tampered = True
        return run
    started = time.monotonic()
    try:
        verdict = check_declared(history, declared, model)
    except ModelUnavailable as exc:
        if exc.kind == STATE_NOT_COPYABLE:
            raise
        return base_run(recording, UNAVAILABLE, f"the sequential model could not answer: {exc}")
    run = base_run(recording, verdict.status, verdict.message())
    run.operations, run.verdict = verdict.operations, verdict.to_json()
    run.check_seconds = round(time.monotonic() - started, 3)
    pending = sum(1 for op in history.operations if op.pending)
    if verdict.status != VIOLATION and (history.meta.get("timed_out") or pending):
        # Unanswered calls may or may not have taken effect, which the checker allows; a grade does not.
        run.outcome = FAILED
        run.message = (
            f"{pending} of {len(history.operations)} calls were still running after {declared.timeout_seconds:g}s "
            "(a deadlock, or calls slower than the history's timeout_seconds)"
        )
    return run


def failed_recording(recording: RecordedRun) -> HistoryRun:
    run = base_run(recording, FAILED, recording.problem)
    run.tampered = recording.tampered
    return run


def base_run(recording: RecordedRun, outcome: str, message: str) -> HistoryRun:
    return HistoryRun(
        seed=recording.seed,
        outcome=outcome,
        message=message,
        operations=len((recording.history or {}).get("operations", [])),
        record_seconds=float(recording.process.get("duration_seconds", 0.0)),
        stress=recording.stress,
        imported=recording.imported,
        process=recording.process,
    )


def implementation_history(spec: RunSpec, runs: list[HistoryRun]) -> ImplementationHistory:
    status, message = summarize_runs(spec.name, runs)
    role = spec.implementation.role
    return ImplementationHistory(spec.name, role, role == "after", status, message, runs)


def declared_history(
    declared: HistorySpec, seeds: list[int], model: dict[str, Any], implementations: list[ImplementationHistory]
) -> DeclaredHistory:
    return DeclaredHistory(
        name=declared.name,
        description=declared.description,
        target=declared.target,
        kind=declared.kind,
        threads=declared.threads,
        operations_per_thread=declared.operations_per_thread,
        asyncio=declared.asyncio,
        stress=declared.stress,
        seeds=seeds,
        budget_seconds=declared.budget_seconds,
        timeout_seconds=declared.timeout_seconds,
        partition_by=declared.partition_by,
        model=model,
        implementations=implementations,
    )


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)
