"""Repeated runs: planning the repeats, stopping early, and combining their observations per implementation (pure).

Concurrency tests lie when run once. Each implementation may run N times; a test is graded on
every repeat: one that changes outcome between repeats is `flaky` and never a pass (nor, on
before, an expected failure). A repeat can only add evidence against an implementation: it never
turns a failure into a pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from concgrade.grade.checks import FLAKY, assign_suites, check_implementation_proved, expectation_checks
from concgrade.grade.outcomes import Outcome, RunObservation, TestObservation
from concgrade.run.plan import RunSpec

GATE_REPEAT = 5  # repeats per implementation in gate mode (see benchmarks/race_detection.py for why)


@dataclass(frozen=True)
class RepeatPlan:
    """How often each implementation runs, and with which stress seeds."""

    repeat: int = 1
    stress: bool = False
    seed: int | None = None  # the base seed; repeat i uses seed + i
    early_exit: bool = True

    def seed_of(self, index: int) -> int | None:
        return None if not self.stress or self.seed is None else self.seed + index


def expand_repeats(specs: Sequence[RunSpec], plan: RepeatPlan) -> list[RunSpec]:
    """Every spec `plan.repeat` times, interleaved (before 0, after 0, before 1, ...) so early exit saves work."""
    return [
        dataclasses.replace(spec, repeat=index, stress_seed=plan.seed_of(index))
        for index in range(plan.repeat)
        for spec in specs
    ]


def contradicts(run: RunObservation, entries: dict[str, list[str]]) -> bool:
    """Does this single run already show that its implementation fails its expectation?

    Used to skip the remaining repeats of that implementation; with no declared suites there is
    no expectation to contradict yet.
    """
    if not any(entries.values()):
        return False
    if not run.started:
        return True
    suites = assign_suites(entries, run.collected)
    checks = [check_implementation_proved(run), *expectation_checks(run, suites)]
    return any(check.status != "pass" for check in checks)


def combine_repeats(runs: Sequence[RunObservation]) -> RunObservation:
    """One observation per implementation from its repeats: a test's outcome holds only if every repeat agrees."""
    first = runs[0]
    summaries = [repeat_summary(run) for run in runs]
    if len(runs) == 1:
        return dataclasses.replace(first, repeats=summaries)
    nodeids = list(dict.fromkeys(nodeid for run in runs for nodeid in run.tests))
    tests = {nodeid: combine_test(nodeid, [run.tests.get(nodeid) for run in runs]) for nodeid in nodeids}
    return dataclasses.replace(
        first,
        exit_code=next((run.exit_code for run in runs if run.exit_code != 0), first.exit_code),
        timed_out=any(run.timed_out for run in runs),
        duration=sum(run.duration for run in runs),
        started=all(run.started for run in runs),
        finished=all(run.finished for run in runs),
        collected=list(dict.fromkeys(nodeid for run in runs for nodeid in run.collected)),
        collect_errors=[error for run in runs for error in run.collect_errors],
        tests=tests,
        imports=[proof for run in runs for proof in run.imports],
        problems=[f"repeat {run.repeat}: {problem}" for run in runs for problem in run.problems],
        repeats=summaries,
        attempts=[{**attempt, "repeat": run.repeat} for run in runs for attempt in run.attempts],
        limit_breaches=_each_repeat(runs, "limit_breaches"),
        tampering=_each_repeat(runs, "tampering"),
        changed_files=_each_repeat(runs, "changed_files"),
        leftovers=_each_repeat(runs, "leftovers"),
        hangs=_each_repeat(runs, "hangs"),
        hook_files=list(first.hook_files),
        contained=_each_repeat(runs, "contained"),
        stopped=next((run.stopped for run in runs if run.stopped), ""),
    )


def _each_repeat(runs: Sequence[RunObservation], name: str) -> list[str]:
    """A safety finding of any repeat holds for the implementation (see safety_checks.py)."""
    return [f"repeat {run.repeat}: {item}" for run in runs for item in getattr(run, name)]


def repeat_summary(run: RunObservation) -> dict[str, Any]:
    """One repeat in a line of results.json."""
    return {
        "repeat": run.repeat,
        "stress": run.stress,
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "duration_seconds": round(run.duration, 3),
        "passed": sum(1 for test in run.tests.values() if test.passed),
        "total": len(run.tests),
    }


def combine_test(nodeid: str, observed: Sequence[TestObservation | None]) -> TestObservation:
    """A test over its repeats: its outcomes, its pass count, and `flaky` if passing and failing both happened."""
    outcomes = [test.outcome if test is not None else "missing" for test in observed]
    passes = sum(1 for test in observed if test is not None and test.passed)
    present = [test for test in observed if test is not None]
    # The outcome shown is the first non-pass (the evidence), or the first pass when all passed.
    shown = next((t for t in present if not t.passed), present[0] if present else None)
    outcome: Outcome = FLAKY if 0 < passes < len(observed) else (shown.outcome if shown else "missing")
    message = shown.message if shown else ""
    if outcome == FLAKY:
        message = f"passed {passes} of {len(observed)} repeats ({', '.join(outcomes)})\n{message}".rstrip()
    probes = [{**figures, "repeat": index} for index, test in enumerate(observed) if test for figures in test.probes]
    return TestObservation(
        nodeid=nodeid,
        outcome=outcome,
        duration=round(sum(t.duration for t in present) / max(1, len(present)), 6),
        message=message,
        stdout=shown.stdout if shown else "",
        stderr=shown.stderr if shown else "",
        probes=probes,
        runs=len(observed),
        passes=passes,
        outcomes=outcomes,
    )
