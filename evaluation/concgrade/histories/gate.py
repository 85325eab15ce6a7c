"""What the recorded runs of a history say about an implementation, and the checks for the verdict (pure).

A violation in any run rejects (the message names the impossible answer and the seed that replays it);
a recording that failed as a whole (crashed, timed out, broke a limit, was tampered with) rejects too;
a run the checker could not decide (its budget ran out) or a model that could not answer makes the
check an error: "undecided" is never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from concgrade.grade.checks import Check
from concgrade.histories.model import (
    FAILED,
    LINEARIZABLE,
    UNAVAILABLE,
    UNDECIDED,
    VIOLATION,
    HistoryResults,
    HistoryRun,
)

CHECK_PREFIX = "history.linearizable"


def check_id(history: str, implementation: str) -> str:
    return f"{CHECK_PREFIX}.{history}.{implementation}"


def summarize_runs(implementation: str, runs: Sequence[HistoryRun]) -> tuple[str, str]:
    """(status, message) of an implementation over its recorded runs: "pass", "fail" or "error"."""
    if not runs:
        return "error", f"{implementation}: no run was recorded"
    violation = next((run for run in runs if run.outcome == VIOLATION), None)
    if violation is not None:
        return "fail", f"{implementation}: {violation.message}; replay it with --seed {violation.seed}"
    failed = next((run for run in runs if run.outcome == FAILED), None)
    if failed is not None:
        return "fail", f"{implementation}: seed {failed.seed}: {failed.message}"
    unsure = next((run for run in runs if run.outcome in (UNDECIDED, UNAVAILABLE)), None)
    if unsure is not None:
        return "error", f"{implementation}: seed {unsure.seed}: {unsure.message}"
    if any(run.outcome != LINEARIZABLE for run in runs):
        odd = next(run for run in runs if run.outcome != LINEARIZABLE)
        return "error", f"{implementation}: seed {odd.seed}: {odd.message}"
    seeds = [run.seed for run in runs]
    shown = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    operations = sum(run.operations for run in runs)
    return "pass", (
        f"{implementation}: linearizable in {len(runs)} recorded {'run' if len(runs) == 1 else 'runs'} "
        f"({shown}, {operations} operations)"
    )


def history_checks(results: HistoryResults) -> list[Check]:
    """One `history.linearizable.<name>.<implementation>` check per history and graded implementation."""
    checks = []
    for history in results.histories:
        for impl in history.implementations:
            if impl.graded:
                checks.append(
                    Check(check_id(history.name, impl.implementation), impl.status, impl.message, impl.implementation)
                )
    return checks
