"""What recorded runs add up to for an implementation, and the checks that reach the verdict (pure)."""

from __future__ import annotations

from concgrade.histories.gate import history_checks, summarize_runs
from concgrade.histories.model import (
    FAILED,
    LINEARIZABLE,
    UNAVAILABLE,
    UNDECIDED,
    VIOLATION,
    DeclaredHistory,
    HistoryResults,
    HistoryRun,
    ImplementationHistory,
)


def run(seed: int, outcome: str, message: str = "", operations: int = 200) -> HistoryRun:
    return HistoryRun(seed=seed, outcome=outcome, message=message or outcome, operations=operations)


def test_every_run_linearizable_passes_and_says_how_much_was_seen():
    status, message = summarize_runs("after", [run(7, LINEARIZABLE), run(8, LINEARIZABLE), run(9, LINEARIZABLE)])
    assert status == "pass"
    assert message == "after: linearizable in 3 recorded runs (seeds 7..9, 600 operations)"


def test_one_violation_among_passes_rejects_with_its_message_and_seed():
    runs = [
        run(7, LINEARIZABLE),
        run(8, VIOLATION, "not linearizable: thread 1: incr('a') answered 1"),
        run(9, UNDECIDED),
    ]
    status, message = summarize_runs("candidate", runs)
    assert status == "fail"
    assert message == "candidate: not linearizable: thread 1: incr('a') answered 1; replay it with --seed 8"


def test_a_recording_that_failed_rejects_and_an_undecided_one_is_an_error_never_a_pass():
    assert summarize_runs("after", [run(1, LINEARIZABLE), run(2, FAILED, "killed")]) == (
        "fail",
        "after: seed 2: killed",
    )
    assert summarize_runs("after", [run(1, LINEARIZABLE), run(2, UNDECIDED, "the 10s budget ran out")]) == (
        "error",
        "after: seed 2: the 10s budget ran out",
    )
    assert summarize_runs("after", [run(1, UNAVAILABLE, "no model")])[0] == "error"
    assert summarize_runs("after", [])[0] == "error"


def test_only_graded_implementations_get_a_check_named_after_the_history_and_the_implementation():
    impls = [
        ImplementationHistory("before", "before", False, "fail", "before: not linearizable"),
        ImplementationHistory("after", "after", True, "pass", "after: linearizable"),
        ImplementationHistory("candidate", "after", True, "fail", "candidate: not linearizable"),
    ]
    history = DeclaredHistory("hits", "", "m:C", "object", 4, 50, False, True, [1], 10.0, 60.0, None, {}, impls)
    checks = history_checks(HistoryResults(1, "before", 1.0, [history]))
    assert [(c.id, c.status, c.implementation) for c in checks] == [
        ("history.linearizable.hits.after", "pass", "after"),
        ("history.linearizable.hits.candidate", "fail", "candidate"),
    ]
