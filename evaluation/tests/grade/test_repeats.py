"""Repeats: flaky tests named and rejected, a rerun never turns a failure into a pass, early exit, seeds (pure)."""

from __future__ import annotations

import dataclasses

from test_grading import ENTRIES, F2P_IDS, outcomes, run

from concgrade.grade.grading import grade_runs
from concgrade.grade.outcomes import TestObservation
from concgrade.grade.repeats import RepeatPlan, combine_repeats, combine_test, contradicts, expand_repeats
from concgrade.run.plan import RunSpec
from concgrade.task.model import Implementation


def repeats(name, *outcome_sets, role=None):
    return [dataclasses.replace(run(name, o, role=role), repeat=i) for i, o in enumerate(outcome_sets)]


def failing_ids(grade):
    return [check.id for check in grade.checks if check.status != "pass"]


def test_agreeing_repeats_are_accepted_with_pass_counts():
    before = combine_repeats(repeats("before", outcomes(), outcomes(), outcomes()))
    after = combine_repeats(repeats("after", *[outcomes(f2p="passed")] * 3))
    grade = grade_runs(ENTRIES, [before, after])
    assert grade.verdict == "accepted"
    assert "repeats.agree_on_after" in [check.id for check in grade.checks]
    test = after.tests[F2P_IDS[0]]
    assert (test.runs, test.passes, test.outcomes) == (3, 3, ["passed"] * 3)
    assert before.tests[F2P_IDS[0]].passes == 0


def test_a_test_that_changes_outcome_is_flaky_named_and_rejects():
    before = combine_repeats(repeats("before", outcomes(), outcomes()))
    after = combine_repeats(repeats("after", outcomes(f2p="passed"), outcomes(f2p="failed"), outcomes(f2p="passed")))
    grade = grade_runs(ENTRIES, [before, after])
    assert grade.verdict == "rejected"
    assert failing_ids(grade) == ["repeats.agree_on_after", "f2p.passes_on_after"]
    assert "tests/test_f2p.py::test_c (passed 2 of 3)" in grade.failing[0].message
    assert after.tests[F2P_IDS[0]].outcome == "flaky" and not after.tests[F2P_IDS[0]].passed


def test_an_f2p_test_that_sometimes_passes_on_before_is_not_an_expected_failure():
    before = combine_repeats(repeats("before", outcomes(), outcomes(f2p="passed")))
    after = combine_repeats(repeats("after", outcomes(f2p="passed"), outcomes(f2p="passed")))
    assert failing_ids(grade_runs(ENTRIES, [before, after])) == ["repeats.agree_on_before", "f2p.fails_on_before"]


def test_a_rerun_never_turns_a_failure_into_a_pass():
    for outcome in ("failed", "timeout", "crashed", "interrupted", "error", "skipped"):
        combined = combine_test("t::a", [TestObservation("t::a", outcome), TestObservation("t::a", "passed")])
        assert not combined.passed and combined.outcome == "flaky", outcome
        assert outcome in combined.message
    missing = combine_test("t::a", [TestObservation("t::a", "passed"), None])
    assert missing.outcome == "flaky" and missing.outcomes == ["passed", "missing"]


def test_consistent_failures_keep_their_outcome():
    combined = combine_test(
        "t::a", [TestObservation("t::a", "timeout", message="slow"), TestObservation("t::a", "failed")]
    )
    assert (combined.outcome, combined.message, combined.passes) == ("timeout", "slow", 0)


def test_a_run_contradicts_its_expectation():
    assert contradicts(run("after", outcomes(f2p="failed")), ENTRIES)
    assert not contradicts(run("after", outcomes(f2p="passed")), ENTRIES)
    assert contradicts(run("before", outcomes(f2p="passed")), ENTRIES)
    assert not contradicts(run("before", outcomes()), ENTRIES)
    assert contradicts(run("after", outcomes(f2p="passed"), imports=False), ENTRIES)
    assert not contradicts(run("after", outcomes(f2p="failed")), {"PASS_TO_PASS": [], "FAIL_TO_PASS": []})


def test_repeats_are_interleaved_and_seeded():
    specs = [
        RunSpec(Implementation(name, name, None), f"repository_{name}", {}, ("tests",), (), 1.0, 1.0)
        for name in ("before", "after")
    ]
    expanded = expand_repeats(specs, RepeatPlan(repeat=3, stress=True, seed=40))
    assert [(s.name, s.repeat, s.stress_seed) for s in expanded] == [
        ("before", 0, 40),
        ("after", 0, 40),
        ("before", 1, 41),
        ("after", 1, 41),
        ("before", 2, 42),
        ("after", 2, 42),
    ]
    assert {s.stress_seed for s in expand_repeats(specs, RepeatPlan(repeat=2))} == {None}
