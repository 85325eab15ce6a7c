"""One grade: every check of a task's runs in a fixed order, and the verdict they give (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from concgrade.grade.checks import (
    Check,
    Grade,
    assign_suites,
    check_f2p_nonempty,
    check_implementation_proved,
    check_repeats_agree,
    check_runs_consistent,
    check_runs_started,
    check_suites_ran,
    expectation_checks,
    infer_suites,
    verdict_of,
)
from concgrade.grade.outcomes import RunObservation
from concgrade.grade.safety import safety_checks


def grade_runs(
    entries: dict[str, list[str]],
    runs: Sequence[RunObservation],
    inferred: bool = False,
    source_checks: Sequence[Check] = (),
    folder_changes: Sequence[str] = (),
    keyword: str | None = None,
) -> Grade:
    """Grade the runs of one task (one per implementation) against its declared suites.

    `source_checks` are checks of the task and its sources made before anything ran (lint, constraints);
    they come after the checks of the runs themselves, before the expectations of each implementation.
    `folder_changes` are the user's files the grade found changed afterwards (see safety_checks.py).
    `keyword` is the `-k` expression that selected the tests, for a partial grade: entries it left out are fine.
    """
    collected = [nodeid for run in runs for nodeid in run.collected]
    before = next((run for run in runs if run.role == "before"), None)
    if inferred and before is not None:
        suites = infer_suites(before, collected)
    else:
        suites = assign_suites(entries, collected)
    checks = [
        check_runs_started(runs),
        check_suites_ran(entries, suites, runs, inferred, keyword),
        check_f2p_nonempty(suites),
        check_runs_consistent(runs),
        *[check_implementation_proved(run) for run in runs],
        *source_checks,
    ]
    for run in runs:
        if run.repeats and len(run.repeats) > 1:
            checks.append(check_repeats_agree(run))
    for run in runs:
        checks += expectation_checks(run, suites)
    checks += safety_checks(runs, folder_changes)
    return Grade(tuple(checks), verdict_of(checks), suites, inferred)


def with_checks(grade: Grade, checks: Sequence[Check]) -> Grade:
    """The grade with more checks (from a later phase, e.g. the benchmark) appended and the verdict recomputed."""
    combined = (*grade.checks, *checks)
    return Grade(combined, verdict_of(combined), grade.suites, grade.suites_inferred, grade.notes)
