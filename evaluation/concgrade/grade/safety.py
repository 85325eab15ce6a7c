"""Checks that a run held together: files intact, no tampering, limits respected, processes ended (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from concgrade.grade.checks import Check, list_names
from concgrade.grade.outcomes import RunObservation


def safety_checks(runs: Sequence[RunObservation], folder_changes: Sequence[str] = ()) -> list[Check]:
    """The integrity, limit and exit checks of a grade, in a fixed order after the suite checks."""
    checks = [check_task_folder_unchanged(folder_changes)]
    for run in runs:
        checks += [
            check_files_unchanged(run),
            check_runner_untampered(run),
            check_sandbox_respected(run),
            check_limits_respected(run),
            check_processes_ended(run),
        ]
    return checks


def check_task_folder_unchanged(folder_changes: Sequence[str]) -> Check:
    if folder_changes:
        return Check(
            "integrity.task_folder_unchanged",
            "fail",
            f"the grade changed the user's folder: {list_names(list(folder_changes))}",
        )
    return Check("integrity.task_folder_unchanged", "pass", "the task folder is byte-identical after the grade")


def check_files_unchanged(run: RunObservation) -> Check:
    check_id = f"integrity.tests_unchanged.{run.name}"
    if run.changed_files:
        return Check(
            check_id,
            "fail",
            f"{run.name}: the run changed the tests, conftest files or manifest: {list_names(run.changed_files)}",
            run.name,
        )
    return Check(check_id, "pass", f"{run.name}: tests, conftest files and manifest are unchanged", run.name)


def check_runner_untampered(run: RunObservation) -> Check:
    check_id = f"integrity.runner_untampered.{run.name}"
    findings = [*run.tampering]
    if run.hook_files:
        findings.append(
            f"the implementation brings files that hook into Python or pytest: {list_names(run.hook_files)}"
        )
    if findings:
        return Check(check_id, "fail", f"{run.name}: tampering with the test runner: {list_names(findings)}", run.name)
    return Check(check_id, "pass", f"{run.name}: pytest's reporting and the records channel were left alone", run.name)


def check_sandbox_respected(run: RunObservation) -> Check:
    """The audit hook saw the implementation do nothing a graded run may not (see inside/containment.py)."""
    check_id = f"integrity.sandbox_respected.{run.name}"
    if run.contained:
        return Check(
            check_id,
            "fail",
            f"{run.name}: the implementation did what a graded run may not: {list_names(run.contained)}",
            run.name,
        )
    return Check(
        check_id,
        "pass",
        f"{run.name}: no introspection, tracing, ctypes, generated code or writes outside the run",
        run.name,
    )


def check_limits_respected(run: RunObservation) -> Check:
    check_id = f"limits.respected.{run.name}"
    if run.limit_breaches:
        return Check(check_id, "fail", f"{run.name}: broke a limit: {list_names(run.limit_breaches)}", run.name)
    return Check(check_id, "pass", f"{run.name}: stayed within its memory, process, CPU and output limits", run.name)


def check_processes_ended(run: RunObservation) -> Check:
    check_id = f"runs.processes_ended.{run.name}"
    problems = []
    if run.hangs:
        problems.append(run.hangs[0].split("\n", 1)[0])
    if run.leftovers:
        problems.append(
            f"{len(run.leftovers)} process(es) outlived the tests and were killed: {list_names(run.leftovers)}"
        )
    if problems:
        return Check(check_id, "fail", f"{run.name}: " + "; ".join(problems), run.name)
    return Check(check_id, "pass", f"{run.name}: the process exited and left nothing running", run.name)
