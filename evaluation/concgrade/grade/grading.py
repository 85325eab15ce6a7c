"""One grade: every check of a task's runs in a fixed order, and the verdict they give (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from concgrade.grade.checks import (
    NOT_SELECTABLE,
    NOTHING_TO_IMPORT,
    RAN,
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
    shows_a_failure,
    verdict_of,
)
from concgrade.grade.outcomes import RunObservation
from concgrade.grade.safety import safety_checks
from concgrade.task.model import PLACEHOLDERS

# What a greenfield before's folder may hold and a run may read without that being its code.
PLACEHOLDER_FILES = PLACEHOLDERS | {"./"}


def grade_runs(
    entries: dict[str, list[str]],
    runs: Sequence[RunObservation],
    inferred: bool = False,
    source_checks: Sequence[Check] = (),
    folder_changes: Sequence[str] = (),
    greenfield: bool = False,
    toggle_default: bool = False,
    keyword: str | None = None,
    before_runs_other_tests: bool = False,
) -> Grade:
    """Grade the runs of one task (one per implementation) against its declared suites.

    `source_checks` are checks of the task and its sources made before anything ran (lint, constraints);
    they come after the checks of the runs themselves, before the expectations of each implementation.
    `folder_changes` are the user's files the grade found changed afterwards (see safety_checks.py).
    `greenfield`: the before folder holds no code; `toggle_default`: nothing in the task selects an
    implementation (see before_mode).
    `keyword` is the `-k` expression that selected the tests, for a partial grade: entries it left out are fine.
    `before_runs_other_tests`: the documented commands of before and after run different tests (see infer_suites).
    """
    collected = [nodeid for run in runs for nodeid in run.collected]
    before = next((run for run in runs if run.role == "before"), None)
    mode = before_mode(before, greenfield, toggle_default)
    if inferred and before is not None:
        others = [run for run in runs if run.role != "before"]
        suites = infer_suites(before, collected, mode, others, before_runs_other_tests)
    else:
        suites = assign_suites(entries, collected)
    checks = [
        check_runs_started(runs),
        check_suites_ran(entries, suites, runs, inferred, keyword),
        check_f2p_nonempty(suites, _why_no_f2p(before, inferred, before_runs_other_tests)),
        check_runs_consistent(runs),
        *[check_implementation_proved(run, mode) for run in runs],
        *source_checks,
    ]
    for run in runs:
        if run.repeats and len(run.repeats) > 1:
            checks.append(check_repeats_agree(run))
    for run in runs:
        checks += expectation_checks(run, suites, mode)
    checks += safety_checks(runs, folder_changes)
    return Grade(tuple(checks), verdict_of(checks), suites, inferred, before=mode)


def _why_no_f2p(before: RunObservation | None, inferred: bool, before_runs_other_tests: bool) -> str:
    """Why inferred suites can have no FAIL_TO_PASS where before's documented command runs tests of its own."""
    if not (inferred and before_runs_other_tests and before is not None and before.started):
        return ""
    if shows_a_failure(before):
        return ""
    return (
        "before's documented command runs other tests than after's, and all of those pass or xfail on before: "
        "nothing shows before failing"
    )


def before_mode(before: RunObservation | None, greenfield: bool, toggle_default: bool) -> str:
    """What the before run is: an ordinary run; a folder with no code (nothing to import); or not selectable.

    Not selectable: nothing in the task selects an implementation (no command, variable, option or file
    names one) and the before run read only the after folder's files, since the tests hard-code it. Such
    a run says nothing about before, so before counts as failing every test, as the task's own commands
    (which only ever run after) would have it.
    """
    if before is None or not before.started:
        return NOTHING_TO_IMPORT if greenfield else RAN
    own = any(load.folder == "own" and load.file not in PLACEHOLDER_FILES for load in before.loads) or any(
        p.expected for p in before.imports
    )
    other = any(load.folder == "other" for load in before.loads) or any(not p.expected for p in before.imports)
    if toggle_default and other and not own:
        return NOT_SELECTABLE
    if greenfield and not own:
        return NOTHING_TO_IMPORT
    return RAN


def with_checks(grade: Grade, checks: Sequence[Check]) -> Grade:
    """The grade with more checks (from a later phase, e.g. the benchmark) appended and the verdict recomputed."""
    combined = (*grade.checks, *checks)
    return Grade(combined, verdict_of(combined), grade.suites, grade.suites_inferred, grade.notes, grade.before)
