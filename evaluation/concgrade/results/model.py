"""The results model: one versioned data structure that every writer reads (results.json, HTML, summaries).

Built once from the task, the observations and the grade; writers never re-run or re-derive anything.
The top level is also a superset of the report template many dataset tasks already use (`run_id`,
`success`, `results.before/after` with `tests` and `summary`, `comparison`), so their tools keep working.
"""

from __future__ import annotations

import platform
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from concgrade import __version__
from concgrade.grade.checks import Grade
from concgrade.grade.outcomes import RunObservation, TestObservation
from concgrade.static.structure import Structure
from concgrade.task.model import F2P, P2P, Task

SCHEMA_VERSION = "1.0"

# concgrade's outcomes in the template's four words, as `summarize` counts them.
TEMPLATE_OUTCOME = {
    "passed": "passed",
    "xfailed": "passed",
    "failed": "failed",
    "xpassed": "failed",
    "timeout": "failed",
    "skipped": "skipped",
    "flaky": "failed",  # passed in some repeats only: never a pass
}


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class
    nodeid: str
    name: str
    suite: str | None
    outcome: str
    passed: bool
    duration: float
    message: str
    stdout: str
    stderr: str
    probes: list[dict[str, Any]]
    runs: int = 1  # repeats that ran this test
    passes: int = 0  # of which passed
    outcomes: list[str] = field(default_factory=list)  # the outcome of each repeat


@dataclass
class ImplementationResult:
    name: str
    role: str
    folder: str
    toggle_env: dict[str, str]
    command: list[str]
    exit_code: int | None
    timed_out: bool
    finished: bool
    duration_seconds: float
    imports: list[dict[str, Any]]
    problems: list[str]
    collect_errors: list[dict[str, str]]
    summary: dict[str, int]
    tests: list[TestResult]
    metrics: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    stdout_tail: str = ""
    stderr_tail: str = ""
    # One entry per pytest process of the run (a crash starts another for the tests not yet run).
    attempts: list[dict[str, Any]] = field(default_factory=list)
    limit_breaches: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    contained: list[str] = field(default_factory=list)  # what the audit hook denied or saw the implementation do
    stopped: str = ""  # why some tests were never run (a limit breached again and again)
    repeats: list[dict[str, Any]] = field(default_factory=list)  # one summary per repeat: exit, stress seed, counts
    # Files of the implementation folders the run read (own and other), and notes that decide nothing.
    loads: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pytest_version: str = ""  # the pytest that ran the tests (the task's own, with --install)


@dataclass(frozen=True)
class Results:
    run_id: str
    started_at: str
    finished_at: str
    duration_seconds: float
    task: dict[str, Any]
    environment: dict[str, Any]
    implementations: dict[str, ImplementationResult]
    suites: dict[str, list[str]]
    checks: list[dict[str, Any]]
    verdict: str
    exit_code: int
    timings: dict[str, float]
    metrics_delta: dict[str, Any] = field(default_factory=dict)
    nondeterminism: dict[str, Any] = field(default_factory=dict)  # repeats, stress and its seed, gate mode
    lint: list[dict[str, Any]] = field(default_factory=list)
    bench: Any = None  # the benchmark phase's figures (concgrade.bench.model.BenchResults), if it ran
    # The histories phase (concgrade.histories.model.HistoryResults), when the task declares [[histories]].
    histories: Any = None
    mutants: Any = None  # the mutation phase's kill matrix and score (concgrade.mutation.model), if it ran
    # Phases the task declares (or a stricter grade runs) that this grade did not run: [{phase, reason}].
    skipped: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    # instances/*.json audited against the runs (tasks without a manifest): status, corrected lists, findings.
    instances: dict[str, Any] | None = None
    # The task author's notes, as {path, text, truncated, binary}, for the report to render.
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    # Implementation diffs: {from, to, files: [{path, status, added, removed, diff, truncated}], unchanged}.
    diffs: list[dict[str, Any]] = field(default_factory=list)
    # How to run this grade again: {argv, cwd, shell}.
    reproduce: dict[str, Any] = field(default_factory=dict)
    # What kind of task this is and what its before run was: {kind, before, reason}.
    mode: dict[str, Any] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION
    tool: dict[str, str] = field(default_factory=lambda: {"name": "concgrade", "version": __version__})

    @property
    def success(self) -> bool:
        return self.verdict == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: concgrade's fields plus the common evaluation-report template's fields."""
        data = asdict(self)
        data["success"] = self.success
        data["results"] = {name: template_result(impl) for name, impl in self.implementations.items()}
        data["comparison"] = comparison(self)
        return data


def environment_info(isolation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where the grade ran: interpreter, platform, cores, harness version, isolation layers."""
    import os

    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "concgrade_version": __version__,
        "isolation": isolation or {},
    }


def build_results(
    *,
    run_id: str,
    started_at: str,
    finished_at: str,
    task: Task,
    runs: list[RunObservation],
    grade: Grade,
    structure: Structure,
    lint: list[dict[str, Any]],
    environment: dict[str, Any],
    timings: dict[str, float],
    nondeterminism: dict[str, Any] | None = None,
    trajectory: list[dict[str, Any]] | None = None,
    diffs: list[dict[str, Any]] | None = None,
    reproduce: dict[str, Any] | None = None,
    bench: Any = None,
    mutants: Any = None,
    instances: dict[str, Any] | None = None,
    histories: Any = None,
    skipped: list[dict[str, str]] | None = None,
) -> Results:
    suite_of = {nodeid: suite for suite, ids in grade.suites.items() for nodeid in ids}
    implementations = {
        run.name: implementation_result(run, task.implementation(run.name).folder.as_posix(), suite_of, structure)
        for run in runs
    }
    return Results(
        run_id=run_id,
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=round(timings.get("total", 0.0), 3),
        task=task_info(task, grade),
        environment=environment,
        implementations=implementations,
        suites=grade.suites,
        checks=[asdict(check) for check in grade.checks],
        verdict=grade.verdict,
        exit_code=grade.exit_code,
        timings={key: round(value, 3) for key, value in timings.items()},
        metrics_delta=structure.deltas,
        lint=lint,
        nondeterminism=nondeterminism or {},
        error=first_error(grade),
        trajectory=trajectory or [],
        diffs=diffs or [],
        reproduce=reproduce or {},
        bench=bench,
        mutants=mutants,
        instances=instances,
        mode=mode_info(task, grade),
        histories=histories,
        skipped=skipped or [],
    )


MODE_REASONS = {
    "ran": "before ran as the toggle selects it",
    "nothing to import": "the before folder holds no code: every test is expected to fail or error there",
    "not selectable": (
        "nothing in the task selects an implementation and the before run read only the after folder's "
        "files: before counts as failing every test"
    ),
}


def mode_info(task: Task, grade: Grade) -> dict[str, Any]:
    """Greenfield (before has no code) or refactor, and what the before run was (see grade.grading.before_mode)."""
    return {
        "kind": "greenfield" if task.greenfield else "refactor",
        "before": grade.before,
        "reason": MODE_REASONS.get(grade.before, ""),
    }


def first_error(grade: Grade) -> str | None:
    """The template's `error`: why the grade could not be made (a check that errored), else None."""
    errored = [check for check in grade.checks if check.status == "error"]
    return f"{errored[0].id}: {errored[0].message}" if errored else None


def task_info(task: Task, grade: Grade) -> dict[str, Any]:
    return {
        "name": task.name,
        "root": str(task.root),
        "manifest": str(task.manifest_path) if task.manifest_path else None,
        "suites_source": "inferred" if grade.suites_inferred else task.source,
        "suite_entries": task.suites,
        "modules": list(task.modules),
        "toggle": asdict(task.toggle),
        "toggle_source": task.toggle_source,
        "interpreter": task.interpreter,
        "python": task.python,
        "limits": asdict(task.limits),
        "test_files": list(task.test_files),
        "probes": [asdict(probe) for probe in task.probes],
    }


def implementation_result(
    run: RunObservation, folder: str, suite_of: dict[str, str], structure: Structure
) -> ImplementationResult:
    tests = [test_result(test, suite_of.get(test.nodeid)) for test in run.tests.values()]
    return ImplementationResult(
        name=run.name,
        role=run.role,
        folder=folder,
        toggle_env=run.toggle_env,
        command=run.command,
        exit_code=run.exit_code,
        timed_out=run.timed_out,
        finished=run.finished,
        duration_seconds=round(run.duration, 3),
        imports=[asdict(proof) for proof in run.imports],
        problems=run.problems,
        collect_errors=run.collect_errors,
        summary=summarize(run.tests.values()),
        tests=tests,
        metrics=structure.metrics.get(run.name),
        findings=structure.findings.get(run.name, []),
        violations=structure.violations.get(run.name, []),
        stdout_tail=run.stdout_tail,
        stderr_tail=run.stderr_tail,
        attempts=run.attempts,
        limit_breaches=run.limit_breaches,
        tampering=[*run.tampering, *(f"hook file: {name}" for name in run.hook_files)],
        changed_files=run.changed_files,
        leftovers=run.leftovers,
        hangs=run.hangs,
        contained=run.contained,
        stopped=run.stopped,
        repeats=run.repeats,
        loads=[asdict(load) for load in run.loads],
        notes=run.notes,
        pytest_version=run.pytest_version,
    )


def test_result(test: TestObservation, suite: str | None) -> TestResult:
    return TestResult(
        nodeid=test.nodeid,
        name=test.nodeid.rsplit("::", 1)[-1],
        suite=suite,
        outcome=test.outcome,
        passed=test.passed,
        duration=test.duration,
        message=test.message,
        stdout=test.stdout,
        stderr=test.stderr,
        probes=test.probes,
        runs=test.runs,
        passes=test.passes,
        outcomes=list(test.outcomes),
    )


def summarize(tests: Any) -> dict[str, int]:
    """Counts in the template's terms (see TEMPLATE_OUTCOME), then each concgrade outcome's own count."""
    counts = Counter(test.outcome for test in tests)
    template: Counter[str] = Counter()
    for outcome, count in counts.items():
        template[TEMPLATE_OUTCOME.get(outcome, "error")] += count
    return {
        "total": sum(counts.values()),
        "passed": template["passed"],
        "failed": template["failed"],
        "errors": template["error"],
        "skipped": template["skipped"],
        **{f"outcome_{name}": count for name, count in sorted(counts.items())},
    }


def template_result(impl: ImplementationResult) -> dict[str, Any]:
    """One implementation in the common evaluation-report template's shape.

    The template knows four outcomes (passed, failed, error, skipped): counting them in `tests` gives
    `summary`; concgrade's own outcome (timeout, crashed, ...) is kept beside it.
    """
    return {
        "success": impl.finished and impl.summary["total"] == impl.summary["passed"],
        "exit_code": impl.exit_code,
        "tests": [
            {
                "nodeid": t.nodeid,
                "name": t.name,
                "outcome": TEMPLATE_OUTCOME.get(t.outcome, "error"),
                "concgrade_outcome": t.outcome,
            }
            for t in impl.tests
        ],
        "summary": {key: impl.summary[key] for key in ("total", "passed", "failed", "errors", "skipped")},
    }


def comparison(results: Results) -> dict[str, Any]:
    """Before vs after in the template's terms, plus concgrade's suite view."""
    impls = results.implementations

    def passed_in(name: str, suite: str) -> int:
        impl = impls.get(name)
        return sum(1 for t in impl.tests if t.suite == suite and t.passed) if impl else 0

    before, after = impls.get("before"), impls.get("after")
    return {
        "before_tests_passed": bool(before and before.summary["passed"] == before.summary["total"]),
        "after_tests_passed": bool(after and after.summary["passed"] == after.summary["total"]),
        "before_total": before.summary["total"] if before else 0,
        "before_passed": before.summary["passed"] if before else 0,
        "before_failed": before.summary["total"] - before.summary["passed"] if before else 0,
        "after_total": after.summary["total"] if after else 0,
        "after_passed": after.summary["passed"] if after else 0,
        "after_failed": after.summary["total"] - after.summary["passed"] if after else 0,
        "fail_to_pass": {name: passed_in(name, F2P) for name in impls},
        "pass_to_pass": {name: passed_in(name, P2P) for name in impls},
        "fail_to_pass_total": len(results.suites.get(F2P, [])),
        "pass_to_pass_total": len(results.suites.get(P2P, [])),
        "verdict": results.verdict,
    }
