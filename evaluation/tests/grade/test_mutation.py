"""The kill matrix: each mutant's first killing test, survivors, errors, stress kills, the score and the gate."""

from __future__ import annotations

import pytest

from concgrade.grade.checks import F2P, P2P, Check
from concgrade.grade.mutation import (
    ERROR,
    KILLED,
    KILLED_UNDER_STRESS,
    NOT_APPLICABLE,
    SURVIVED,
    kill_matrix,
    kill_order,
    mutation_checks,
    mutation_gate,
)

SUITES = {
    P2P: ["tests/test_basics.py::test_order"],
    F2P: ["tests/test_limits.py::test_bound", "tests/test_limits.py::test_stream"],
}
ORDER, BOUND, STREAM = (
    "tests/test_basics.py::test_order",
    "tests/test_limits.py::test_bound",
    "tests/test_limits.py::test_stream",
)
ALL_PASS = {ORDER: True, BOUND: True, STREAM: True}


def test_a_mutant_is_killed_by_the_first_suite_test_that_failed_in_the_order_tests_ran():
    ran = {STREAM: False, ORDER: True, BOUND: False}
    (result,) = kill_matrix({"m1": "CM201"}, {"m1": ran}, SUITES).mutants
    assert result.status == KILLED
    assert result.killed_by == STREAM
    assert result.suite == F2P
    assert result.failing == (STREAM, BOUND)


def test_a_pass_to_pass_test_kills_too():
    (result,) = kill_matrix({"m1": "CM701"}, {"m1": {**ALL_PASS, ORDER: False}}, SUITES).mutants
    assert (result.status, result.killed_by, result.suite) == (KILLED, ORDER, P2P)


def test_tests_outside_the_suites_do_not_kill():
    ran = {"tests/test_extra.py::test_other": False, **ALL_PASS}
    assert kill_matrix({"m1": "CM201"}, {"m1": ran}, SUITES).mutants[0].status == SURVIVED


def test_a_mutant_every_suite_test_passed_on_survives():
    matrix = kill_matrix({"m1": "CM201"}, {"m1": ALL_PASS}, SUITES)
    assert matrix.mutants[0].status == SURVIVED
    assert [m.mutant for m in matrix.survivors] == ["m1"]


def test_a_run_that_stopped_before_every_suite_test_ran_without_a_failure_is_an_error():
    (result,) = kill_matrix({"m1": "CM201"}, {"m1": {ORDER: True, BOUND: None}}, SUITES).mutants
    assert result.status == ERROR
    assert result.reason == f"2 suite tests did not run and none failed: {BOUND}, {STREAM}"


def test_a_mutant_whose_run_could_not_start_or_is_missing_is_an_error():
    matrix = kill_matrix({"m1": "CM201", "m2": "CM201"}, {}, SUITES, errors={"m1": "pytest did not start"})
    assert [(m.status, m.reason) for m in matrix.mutants] == [
        (ERROR, "pytest did not start"),
        (ERROR, "no run of this mutant was recorded"),
    ]


def test_a_plain_survivor_killed_under_stress_says_so():
    stress = {"m1": {ORDER: True, BOUND: False, STREAM: True}, "m2": ALL_PASS}
    matrix = kill_matrix({"m1": "CM503", "m2": "CM503"}, {"m1": ALL_PASS, "m2": ALL_PASS}, SUITES, stress=stress)
    first, second = matrix.mutants
    assert (first.status, first.killed_by) == (KILLED_UNDER_STRESS, BOUND)
    assert second.status == SURVIVED
    assert matrix.killed == 1


def test_stress_does_not_change_a_mutant_killed_plainly():
    plain = {"m1": {**ALL_PASS, BOUND: False}}
    stress = {"m1": {**ALL_PASS, STREAM: False}}
    (result,) = kill_matrix({"m1": "CM201"}, plain, SUITES, stress=stress).mutants
    assert (result.status, result.killed_by) == (KILLED, BOUND)


def test_the_score_is_killed_over_applicable_and_errors_are_not_applicable_mutants():
    outcomes = {"m1": {**ALL_PASS, BOUND: False}, "m2": ALL_PASS, "m3": {**ALL_PASS, ORDER: False}}
    mutants = {"m1": "CM201", "m2": "CM202", "m3": "CM701", "m4": "CM701"}
    matrix = kill_matrix(mutants, outcomes, SUITES, errors={"m4": "could not start"})
    assert (matrix.killed, matrix.applicable) == (2, 3)
    assert matrix.score == pytest.approx(2 / 3)


def test_no_judged_mutant_means_no_score():
    assert kill_matrix({}, {}, SUITES).score is None
    assert kill_matrix({"m1": "CM201"}, {}, SUITES, errors={"m1": "x"}).score is None


def test_operators_are_killed_survived_in_error_or_not_applicable():
    mutants = {"k1": "CM201", "k2": "CM201", "s1": "CM202", "k3": "CM202", "e1": "CM203"}
    outcomes = {
        "k1": {**ALL_PASS, BOUND: False},
        "k2": {**ALL_PASS, STREAM: False},
        "s1": ALL_PASS,
        "k3": {**ALL_PASS, ORDER: False},
    }
    operators = ["CM102", "CM201", "CM202", "CM203"]
    matrix = kill_matrix(mutants, outcomes, SUITES, operators, errors={"e1": "could not start"})
    rows = {op.operator: (op.status, op.mutants, op.killed, op.survivors) for op in matrix.operators}
    assert rows == {
        "CM102": (NOT_APPLICABLE, 0, 0, ()),
        "CM201": (KILLED, 2, 2, ()),
        "CM202": (SURVIVED, 2, 1, ("s1",)),
        "CM203": (ERROR, 1, 0, ()),
    }


def test_tests_that_kill_most_often_come_first_and_ties_keep_their_order():
    outcomes = [
        {ORDER: True, BOUND: False, STREAM: None},
        {ORDER: True, BOUND: True, STREAM: False},
        {ORDER: True, BOUND: False, "tests/unknown.py::test_x": False},
    ]
    assert kill_order([ORDER, STREAM, BOUND], outcomes) == [BOUND, STREAM, ORDER]
    assert kill_order([ORDER, STREAM, BOUND], []) == [ORDER, STREAM, BOUND]


def _matrix():
    mutants = {"a1": "CM201", "b1": "CM202", "b2": "CM202", "c1": "CM701"}
    outcomes = {"a1": ALL_PASS, "b1": ALL_PASS, "b2": {**ALL_PASS, BOUND: False}, "c1": {**ALL_PASS, ORDER: False}}
    return kill_matrix(mutants, outcomes, SUITES, ["CM102", "CM201", "CM202", "CM701"])


def test_the_gate_fails_a_required_operator_with_a_survivor_whatever_the_score():
    checks = mutation_checks(_matrix(), min_score=0.1, required=["CM201", "CM701", "CM102"])
    assert checks == [
        Check("suite.kills.CM201", "fail", "1 of 1 CM201 mutants survive the suites (a required operator): a1")
    ]


def test_below_min_score_every_operator_with_a_survivor_fails():
    checks = mutation_checks(_matrix(), min_score=0.9, descriptions={"b1": "pool.py:3 one worker"})
    assert [(c.id, c.status) for c in checks] == [("suite.kills.CM201", "fail"), ("suite.kills.CM202", "fail")]
    assert checks[1].message == (
        "1 of 2 CM202 mutants survive the suites (score 0.50 < min_score 0.9): b1 (pool.py:3 one worker)"
    )


def test_at_or_above_min_score_and_nothing_required_the_gate_passes():
    assert mutation_checks(_matrix(), min_score=0.5) == []
    assert mutation_checks(_matrix()) == []


def test_a_required_operator_whose_mutants_could_not_run_is_a_check_error():
    matrix = kill_matrix({"e1": "CM203"}, {}, SUITES, errors={"e1": "pytest did not start"})
    assert mutation_checks(matrix, required=["CM203"]) == [
        Check("suite.kills.CM203", "error", "1 of 1 CM203 mutants could not be judged: e1: pytest did not start")
    ]


def test_the_declared_gate_reports_one_passing_check_when_it_holds():
    checks = mutation_gate(_matrix(), min_score=0.5, required=["CM102"])
    assert checks == [
        Check(
            "suite.kills",
            "pass",
            "2 of 4 mutants killed: score 0.50 >= min_score 0.5; every mutant of CM102 killed or not applicable",
        )
    ]


def test_without_a_declared_gate_there_is_no_check_and_with_one_the_failures_come_first():
    assert mutation_gate(_matrix()) == []
    assert [c.id for c in mutation_gate(_matrix(), required=["CM201"])] == ["suite.kills.CM201"]


def test_a_declared_min_score_with_no_mutant_judged_cannot_be_evaluated():
    matrix = kill_matrix({"e1": "CM203"}, {}, SUITES, errors={"e1": "pytest did not start"})
    assert mutation_gate(matrix, min_score=0.8) == [
        Check("suite.kills", "error", "min_score is declared but no mutant could be judged")
    ]
