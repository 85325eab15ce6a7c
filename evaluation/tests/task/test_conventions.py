"""Inference of a task's toggle from its own files (pure: clues built from texts, no runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from concgrade.task.compose import read_compose
from concgrade.task.conventions import (
    ConventionSources,
    add_compose_clues,
    add_text_clues,
    documented_options,
    documented_tests,
    implementation_modules,
    infer_toggle,
    shared_variables,
)
from concgrade.task.toggle import Toggle


def sources(
    compose: str = "", readme: str = "", python: dict[str, str] | None = None, existing: set[str] | None = None
) -> ConventionSources:
    found = ConventionSources(python=python or {}, existing=existing or set())
    if compose:
        add_compose_clues(found, "docker-compose.yml", compose)
    if readme:
        add_text_clues(found, "README.md", readme)
    return found


def test_compose_reader_takes_both_environment_styles_and_list_commands():
    services = read_compose(
        "version: '3'\nservices:\n  app-before:  # the original\n    image: python:3.11\n    environment:\n"
        '      - IMPL=old\n      - \'PYTHONPATH=/app/repository_before\'\n    command: ["pytest", "-q"]\n'
        '  app-after:\n    environment:\n      IMPL: "new"\n    command:\n      - pytest\n      - -k\n      - after\n'
        "volumes:\n  data:\n"
    )
    assert [s.name for s in services] == ["app-before", "app-after"]
    assert [(k, v) for _, k, v in services[0].environment] == [
        ("IMPL", "old"),
        ("PYTHONPATH", "/app/repository_before"),
    ]
    assert services[0].commands[0][1] == "pytest -q" and services[1].commands[0][1] == "pytest -k after"
    assert services[1].environment[0][1:] == ("IMPL", "new")


def test_a_variable_with_any_values_is_read_from_compose_services():
    found = sources(
        compose="services:\n  run-before:\n    environment:\n      - IMPL=old\n"
        "  run-after:\n    environment:\n      - IMPL=new\n"
    )
    toggle, evidence = infer_toggle(found)
    assert toggle == Toggle(kind="env", variable="IMPL", values={"before": "old", "after": "new"})
    assert evidence[0] == "docker-compose.yml:4 (service run-before): IMPL=old"


def test_readme_commands_give_a_variable_together_with_pythonpath():
    readme = (
        "## Before\n```\nTARGET_REPOSITORY=legacy PYTHONPATH=repository_before pytest tests\n```\n"
        "## After\n```\nTARGET_REPOSITORY=modern PYTHONPATH=repository_after pytest tests\n```\n"
    )
    toggle, _ = infer_toggle(sources(readme=readme))
    assert (toggle.kind, toggle.variable, toggle.pythonpath) == ("env", "TARGET_REPOSITORY", True)
    assert toggle.values == {"before": "legacy", "after": "modern"}


def test_a_variable_holding_the_folder_path_is_a_path_toggle():
    readme = "REPO_PATH=/app/repository_before pytest\nREPO_PATH=/app/repository_after pytest\n"
    toggle, _ = infer_toggle(sources(readme=readme))
    assert (toggle.kind, toggle.variable, toggle.path_value) == ("env", "REPO_PATH", True)
    assert toggle.environment("before", "before", __import__("pathlib").Path("repository_before")) == {
        "REPO_PATH": "repository_before"
    }


def test_a_variable_only_the_tests_read_takes_its_values_from_their_literals():
    conftest = "import os\nMODE = os.getenv('TEST_IMPLEMENTATION', 'after')\nassert MODE in ('before', 'after')\n"
    toggle, evidence = infer_toggle(sources(python={"tests/conftest.py": conftest}))
    assert (toggle.kind, toggle.variable, toggle.values) == (
        "env",
        "TEST_IMPLEMENTATION",
        {"before": "before", "after": "after"},
    )
    assert evidence == ["tests/conftest.py:2: the tests read TEST_IMPLEMENTATION"]


def test_a_conftest_option_with_its_values_from_the_readme():
    conftest = "def pytest_addoption(parser):\n    parser.addoption('--runslow', action='store_true')\n" + (
        "    parser.addoption('--impl', default='refactored')\n"
    )
    readme = "pytest --impl=original tests\npytest --impl=refactored tests\n"
    toggle, evidence = infer_toggle(sources(readme=readme, python={"tests/conftest.py": conftest}))
    assert (toggle.kind, toggle.option) == ("option", "--impl")
    assert toggle.values == {"before": "original", "after": "refactored"}
    assert toggle.pytest_args("candidate", "after") == ["--impl", "refactored"]
    assert evidence[0].startswith("tests/conftest.py:3")


def test_an_option_unrelated_to_the_implementation_is_not_a_toggle():
    conftest = "def pytest_addoption(parser):\n    parser.addoption('--runslow', action='store_true')\n"
    toggle, evidence = infer_toggle(sources(python={"tests/conftest.py": conftest}))
    assert toggle.kind == "pythonpath" and evidence == []


def test_different_files_per_implementation_from_compose_container_paths():
    compose = (
        "services:\n  test_before:\n    command: pytest /app/tests/test_before.py -v\n"
        '  test_after:\n    command: sh -c "pip install -q . && pytest /app/tests/test_after.py -v"\n'
    )
    found = sources(compose=compose, existing={"tests", "tests/test_before.py", "tests/test_after.py"})
    toggle, _ = infer_toggle(found)
    assert toggle.kind == "selection"
    assert toggle.selection == {"before": ["tests/test_before.py"], "after": ["tests/test_after.py"]}


def test_services_that_run_each_implementation_as_a_program_select_no_tests():
    compose = (
        "services:\n  before:\n    command: python repository_before/pipeline.py\n"
        "  after:\n    command: python repository_after/pipeline.py\n"
        "  tests:\n    command: pytest -q tests\n"
    )
    existing = {"tests", "tests/test_pipeline.py", "repository_before/pipeline.py", "repository_after/pipeline.py"}
    python = {"repository_before/pipeline.py": "print('demo')\n", "repository_after/pipeline.py": "print('demo')\n"}
    found = sources(compose=compose, python=python, existing=existing)
    toggle, evidence = infer_toggle(found)
    assert toggle.kind == "pythonpath" and evidence == []
    assert documented_tests(found, toggle)[0] == {"before": ("tests",), "after": ("tests",)}
    # a script that is a test suite of its own still selects: each implementation's unittest file
    scripts = "services:\n  before:\n    command: python tests/test_before.py\n  after:\n    command: python tests/test_after.py\n"
    suites = {
        f"tests/test_{r}.py": "import unittest\n\nclass T(unittest.TestCase):\n    pass\n" for r in ("before", "after")
    }
    found = sources(compose=scripts, python=suites, existing={"tests", *suites})
    toggle, _ = infer_toggle(found)
    assert toggle.selection == {"before": ["tests/test_before.py"], "after": ["tests/test_after.py"]}


def test_test_files_importing_one_package_each_are_a_selection():
    python = {
        "tests/test_old.py": "from repository_before.svc import run\n",
        "tests/test_new.py": "from repository_after.svc import run\n",
        "tests/test_shared.py": "def test_x():\n    pass\n",
    }
    toggle, _ = infer_toggle(sources(python=python))
    assert toggle.selection == {
        "before": ["tests/test_old.py", "tests/test_shared.py"],
        "after": ["tests/test_new.py", "tests/test_shared.py"],
    }


def test_tests_importing_the_after_package_are_a_package_toggle():
    found = sources(python={"tests/test_svc.py": "import repository_after.svc as svc\n"})
    toggle, evidence = infer_toggle(found)
    assert toggle.kind == "package" and evidence == ["tests/test_svc.py: imports repository_after as a package"]
    assert implementation_modules(toggle, found, ["svc"]) == ("repository_after.svc",)


@pytest.mark.parametrize(
    ("readme", "kind", "has_evidence"),
    [
        ("PYTHONPATH=repository_after pytest tests\n", "pythonpath", True),
        ("Run the tests with pytest.\n", "pythonpath", False),
    ],
)
def test_pythonpath_is_the_default(readme, kind, has_evidence):
    toggle, evidence = infer_toggle(sources(readme=readme))
    assert toggle.kind == kind and bool(evidence) == has_evidence


# --- the conventions of the practice corpus's tasks, each on the smallest clues that show it ---------------


def test_an_option_only_its_help_text_names_does_not_outrank_files_the_commands_select():
    conftest = (
        "def pytest_addoption(parser):\n    parser.addoption('--target', default='after', help='before or after')\n"
    )
    readme = "```\npython -m pytest tests/test_before.py -v\n```\n```\npython -m pytest tests/test_after.py -v\n```\n"
    existing = {"tests", "tests/test_before.py", "tests/test_after.py"}
    toggle, _ = infer_toggle(sources(readme=readme, python={"tests/conftest.py": conftest}, existing=existing))
    assert toggle.kind == "selection"
    assert toggle.selection == {"before": ["tests/test_before.py"], "after": ["tests/test_after.py"]}


def test_an_option_one_command_passes_takes_the_other_value_from_its_help():
    conftest = (
        "def pytest_addoption(parser):\n    parser.addoption('--repo', default='after', help=\"'before' or 'after'\")\n"
    )
    toggle, evidence = infer_toggle(
        sources(readme="`pytest tests --repo after`\n", python={"tests/conftest.py": conftest})
    )
    assert (toggle.kind, toggle.option, toggle.values) == ("option", "--repo", {"before": "before", "after": "after"})
    assert any("--repo after" in line for line in evidence)


def test_a_relative_value_is_kept_as_written_and_an_absolute_one_moves_into_the_scratch_copy():
    relative, _ = infer_toggle(
        sources(readme="REPO_PATH=repository_before pytest\nREPO_PATH=repository_after pytest\n")
    )
    assert relative.path_value is False
    assert relative.environment("before", "before", Path("repository_before")) == {"REPO_PATH": "repository_before"}
    readme = "PARSER=/app/repository_before/parser.py pytest\nPARSER=/app/repository_after/parser.py pytest\n"
    absolute, _ = infer_toggle(sources(readme=readme))
    assert absolute.path_value is True
    assert absolute.environment("after", "after", Path("repository_after")) == {"PARSER": "repository_after/parser.py"}


def test_pythonpath_naming_the_task_root_for_both_does_not_select_anything():
    compose = (
        "services:\n  app-before:\n    environment:\n      - REPO=repository_before\n      - PYTHONPATH=/app\n"
        "  app-after:\n    environment:\n      - REPO=repository_after\n      - PYTHONPATH=/app\n"
    )
    toggle, _ = infer_toggle(sources(compose=compose))
    assert (toggle.kind, toggle.variable, toggle.pythonpath) == ("env", "REPO", False)


def test_a_folder_named_as_the_default_of_the_variable_gives_its_values():
    conftest = "import os\nREPO_PATH = os.environ.get('REPO_PATH', 'repository_after')\n"
    toggle, _ = infer_toggle(sources(python={"tests/test_base.py": conftest}))
    assert (toggle.variable, toggle.values) == (
        "REPO_PATH",
        {"before": "repository_before", "after": "repository_after"},
    )


def test_cd_into_each_folder_is_the_working_folder_toggle():
    readme = (
        "```\nbash -c 'cd repository_before && python -m pytest || true'\n```\n"
        "```\nbash -c 'cd repository_after && python -m pytest ../tests/test_feed.py -q --tb=no -r no'\n```\n"
    )
    toggle, evidence = infer_toggle(sources(readme=readme))
    assert toggle.kind == "cwd"
    assert toggle.selection == {"before": [], "after": ["../tests/test_feed.py"]}  # output options are the harness's
    assert evidence[0].endswith("cd repository_before && pytest")


def test_variables_both_services_set_alike_are_passed_and_the_toggle_is_not():
    compose = (
        "services:\n  test-before:\n    environment:\n      - TARGET=repository_before\n      - SECRET=s3\n"
        "      - PYTHONPATH=/app\n  test-after:\n    environment:\n      - TARGET=repository_after\n      - SECRET=s3\n"
        "      - PYTHONPATH=/app\n"
    )
    found = sources(compose=compose)
    toggle, _ = infer_toggle(found)
    environment, evidence = shared_variables(found, toggle)
    assert environment == {"SECRET": "s3"} and evidence[0].endswith("SECRET=s3")


def test_a_service_named_for_neither_side_is_told_apart_by_its_variables():
    compose = (
        "services:\n  tests:\n    environment:\n      - TEST_REPO_DIR=repository_after\n    command: pytest tests/test_meta.py\n"
        "  test-before:\n    environment:\n      - TEST_REPO_DIR=repository_before\n    command: pytest tests/test_meta.py\n"
    )
    found = sources(compose=compose, existing={"tests", "tests/test_meta.py"})
    toggle, _ = infer_toggle(found)
    assert toggle.values == {"before": "repository_before", "after": "repository_after"}
    files, _ = documented_tests(found, toggle)
    assert files == {"before": ("tests/test_meta.py",), "after": ("tests/test_meta.py",)}


def test_the_documented_runner_and_paths_are_what_runs():
    readme = "REPO_PATH=repository_before python -m unittest discover -s tests\nREPO_PATH=repository_after python -m unittest discover -s tests\n"
    found = sources(readme=readme, existing={"tests"})
    toggle, _ = infer_toggle(found)
    files, notes = documented_tests(found, toggle)
    assert files == {"before": ("tests",), "after": ("tests",)}
    assert "is run under pytest (it runs unittest tests)" in notes[0]
    no_path = sources(readme="PYTHONPATH=repository_after pytest -q\n")
    assert documented_tests(no_path, infer_toggle(no_path)[0])[0] == {"before": (".",), "after": (".",)}


def test_the_k_expression_of_each_documented_command_is_kept_with_its_files():
    compose = (
        'services:\n  test-after:\n    command: pytest tests -k "not BaselineFailures"\n'
        "  test-before:\n    command: pytest tests/test_baseline_failures.py\n"
    )
    found = sources(compose=compose, existing={"tests", "tests/test_baseline_failures.py"})
    toggle, _ = infer_toggle(found)
    assert documented_tests(found, toggle)[0] == {"before": ("tests/test_baseline_failures.py",), "after": ("tests",)}
    assert documented_options(found, toggle) == {"before": (), "after": ("-k", "not BaselineFailures")}
    plain = sources(
        readme="PYTHONPATH=repository_before pytest -q tests\nPYTHONPATH=repository_after pytest -q tests\n"
    )
    assert documented_options(plain, infer_toggle(plain)[0]) == {}


def test_a_command_running_the_implementations_own_suite_is_not_the_tasks_test_command():
    readme = "```\npython3 -m pytest repository_after/src/test_engine.py\n```\n```\npython3 -m pytest tests/meta_test.py\n```\n"
    found = sources(readme=readme, existing={"tests", "tests/meta_test.py", "repository_after/src/test_engine.py"})
    files, _ = documented_tests(found, infer_toggle(found)[0])
    assert files == {"before": ("tests/meta_test.py",), "after": ("tests/meta_test.py",)}


def test_modules_are_proved_by_name_only_where_the_toggle_puts_the_folder_on_the_path():
    found = sources()
    assert implementation_modules(Toggle(kind="pythonpath"), found, ["m"]) == ("m",)
    assert implementation_modules(Toggle(kind="cwd"), found, ["m"]) == ("m",)
    assert implementation_modules(Toggle(kind="env", variable="REPO", values={}), found, ["m"]) == ()
