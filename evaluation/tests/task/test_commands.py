"""Test commands as tasks write them: shell words, runners, working folders and variables (pure)."""

from __future__ import annotations

import pytest

from concgrade.task.commands import (
    CommandClues,
    add_command_clues,
    add_text_clues,
    shell_words,
    unittest_arguments,
    with_defaults,
)


def clues_of(command: str, context: str | None = None) -> CommandClues:
    clues = CommandClues()
    add_command_clues(clues, "README.md:1", command, context)
    return clues


def test_shell_separators_are_words_of_their_own():
    assert shell_words("pytest tests --repo before; exit 0") == [
        "pytest",
        "tests",
        "--repo",
        "before",
        ";",
        "exit",
        "0",
    ]
    assert shell_words("cd repository_after&&python -m pytest || true") == [
        "cd",
        "repository_after",
        "&&",
        "python",
        "-m",
        "pytest",
        "||",
        "true",
    ]
    assert shell_words("pytest -k 'before and not slow'") == ["pytest", "-k", "before and not slow"]


def test_a_separator_stuck_to_a_value_does_not_change_the_value():
    (invocation,) = clues_of("docker compose run app pytest tests --repo before; exit 0").invocations
    assert invocation.args == ("tests", "--repo", "before")
    assert invocation.role == "before"


def test_docker_e_variables_and_a_unittest_command_inside_bash_c():
    clues = clues_of(
        'docker compose run --rm -e REPO_PATH=repository_before app bash -c "python -m unittest discover -s tests -v"'
    )
    assert [(a.name, a.value, a.role) for a in clues.assignments] == [("REPO_PATH", "repository_before", "before")]
    (invocation,) = clues.invocations
    assert (invocation.runner, invocation.args, invocation.role) == ("unittest", ("tests",), "before")


def test_cd_into_an_implementation_folder_is_the_working_folder_and_tells_the_role():
    (invocation,) = clues_of("bash -c 'cd repository_after && python -m pytest ../tests/test_x.py -q'").invocations
    assert (invocation.cwd, invocation.role, invocation.args) == (
        "repository_after",
        "after",
        ("../tests/test_x.py", "-q"),
    )


def test_a_word_a_k_expression_excludes_does_not_name_the_role():
    (negated,) = clues_of('pytest tests -k "not Baseline"', context="after").invocations
    assert negated.role == "after" and negated.args == ("tests", "-k", "not Baseline")
    (excluded,) = clues_of("pytest tests -k 'not before and not slow'").invocations
    assert excluded.role is None
    (named,) = clues_of("pytest tests -k before", context="after").invocations
    assert named.role == "before"  # a word the expression selects still names it


def test_a_test_script_is_recorded_as_such():
    (invocation,) = clues_of("TEST_TARGET=after python tests/unified_test.py").invocations
    assert (invocation.runner, invocation.args, invocation.role) == ("script", ("tests/unified_test.py",), "after")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["discover", "-s", "tests", "-p", "test_*.py"], ["tests"]),
        (["discover", "tests"], ["tests"]),
        (["discover"], []),
        (["tests.test_core"], ["tests/test_core.py"]),
        (["tests.test_core.TestA.test_b"], ["tests/test_core.py::TestA::test_b"]),
        (["-v", "tests/test_core.py"], ["tests/test_core.py"]),
    ],
)
def test_unittest_arguments_as_pytest_takes_them(args, expected):
    assert unittest_arguments(args) == expected


def test_a_compose_default_is_the_value_when_the_caller_sets_nothing():
    assert with_defaults("${REPO_PATH:-repository_after}") == "repository_after"
    assert with_defaults("${TEST_IMPLEMENTATION-}") == ""
    assert with_defaults("plain") == "plain"


def test_readme_lines_without_pytest_are_read_when_they_run_tests_or_set_variables():
    readme = (
        "### Test repository_before\n```bash\n"
        "docker compose run --rm -e REPO_PATH=repository_before app python -m unittest discover -s tests\n```\n"
        "### Test repository_after\n```bash\n"
        "docker compose run --rm -e REPO_PATH=repository_after app python -m unittest discover -s tests\n```\n"
    )
    clues = CommandClues()
    add_text_clues(clues, "README.md", readme)
    assert [(a.value, a.role) for a in clues.assignments] == [
        ("repository_before", "before"),
        ("repository_after", "after"),
    ]
    assert [(i.runner, i.role) for i in clues.invocations] == [("unittest", "before"), ("unittest", "after")]
