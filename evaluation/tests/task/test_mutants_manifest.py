"""The manifest's [mutants] table: read into a policy, or refused with a message naming the file and the key."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from concgrade.errors import TaskError
from concgrade.static.mutants import operator_catalog
from concgrade.task.mutants import MutantsPolicy, read_mutants

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MANIFEST = Path("task/evaluation/concgrade.toml")
EVERY = tuple(op.id for op in operator_catalog())


def read(text: str) -> MutantsPolicy:
    return read_mutants(tomllib.loads(text).get("mutants"), MANIFEST, EVERY)


def test_without_the_table_every_operator_runs_and_nothing_is_gated():
    policy = read("[task]\nname = 'x'\n")
    assert policy == MutantsPolicy(operators=EVERY)
    assert (policy.min_score, policy.required, policy.max_mutants) == (None, (), None)


def test_a_full_table_is_read_with_codes_made_full_ids():
    policy = read(
        """
        [mutants]
        min_score = 0.9
        required = ["CM101", "CM201-unbound-semaphore"]
        operators = { exclude = ["CM804"] }
        max_mutants = 200
        """
    )
    assert policy.min_score == 0.9
    assert policy.required == ("CM101-sequentialize-executor", "CM201-unbound-semaphore")
    assert policy.operators == tuple(op for op in EVERY if op != "CM804-throttle-sleep")
    assert policy.max_mutants == 200


def test_included_operators_keep_the_catalogue_order():
    policy = read("[mutants]\noperators = { include = ['CM701', 'CM101', 'CM701'] }\n")
    assert policy.operators == ("CM101-sequentialize-executor", "CM701-completion-order")


def test_a_list_of_operators_is_what_to_include():
    assert read("[mutants]\noperators = ['CM203', 'CM204']\n").operators == (
        "CM203-bound-plus-one",
        "CM204-bound-minus-one",
    )


def test_a_whole_number_min_score_is_a_score():
    assert read("[mutants]\nmin_score = 1\n").min_score == 1.0


def test_the_policy_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        read("[mutants]\n").min_score = 0.5  # type: ignore[misc]


def test_operators_are_those_of_the_catalogue_given():
    policy = read_mutants({"required": ["CM001"]}, MANIFEST, catalog=["CM001-a", "CM002-b"])
    assert policy == MutantsPolicy(operators=("CM001-a", "CM002-b"), required=("CM001-a",))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("mutants = 3", "[mutants] must be a table"),
        (
            "[mutants]\nscore = 1",
            "unknown key(s) in [mutants]: ['score']; use min_score, required, operators, max_mutants",
        ),
        ("[mutants]\nmin_score = 1.5", "mutants.min_score must be a number from 0 to 1, not 1.5"),
        ("[mutants]\nmin_score = -0.1", "mutants.min_score must be a number from 0 to 1, not -0.1"),
        ("[mutants]\nmin_score = true", "mutants.min_score must be a number from 0 to 1, not True"),
        ("[mutants]\nmin_score = '0.9'", "mutants.min_score must be a number from 0 to 1, not '0.9'"),
        ("[mutants]\nmax_mutants = 0", "mutants.max_mutants must be a whole number above zero, not 0"),
        ("[mutants]\nmax_mutants = 2.5", "mutants.max_mutants must be a whole number above zero, not 2.5"),
        ("[mutants]\nrequired = 'CM101'", 'mutants.required must be a list of operator ids, e.g. ["CM101"]'),
        ("[mutants]\nrequired = ['CM999']", "mutants.required names an unknown operator 'CM999'; known: CM101, "),
        (
            "[mutants]\noperators = 'CM101'",
            "mutants.operators must be a list of operators or a table of include and exclude",
        ),
        (
            "[mutants]\noperators = { only = ['CM101'] }",
            "unknown key(s) in mutants.operators: ['only']; use include and exclude",
        ),
        ("[mutants]\noperators = { exclude = ['CM1'] }", "mutants.operators.exclude names an unknown operator 'CM1'"),
        ("[mutants]\noperators = []", "mutants.operators leaves no operator to run"),
        (
            "[mutants]\nrequired = ['CM101']\noperators = { exclude = ['CM101'] }",
            "mutants.required names CM101-sequentialize-executor, which mutants.operators leaves out",
        ),
    ],
)
def test_a_wrong_table_is_refused_naming_the_file_and_the_key(table, message):
    with pytest.raises(TaskError) as raised:
        read(table)
    assert str(raised.value).startswith(f"{MANIFEST}: {message}")
