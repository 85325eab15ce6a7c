"""The per-test timeout a task gives its own tests, read from its files the way pytest reads them."""

from __future__ import annotations

import pytest
from taskfactory import make_task, write_files

from concgrade.task.load import load_task
from concgrade.task.pytest_timeout import configured_timeout, timeout_option


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pytest.ini": "[pytest]\ntimeout = 10\n"}, (10.0, "pytest.ini: timeout = 10")),
        ({"pyproject.toml": "[tool.pytest.ini_options]\ntimeout = 15\n"}, (15.0, "pyproject.toml: timeout = 15")),
        ({"tox.ini": "[pytest]\ntimeout = 7.5\n"}, (7.5, "tox.ini: timeout = 7.5")),
        ({"setup.cfg": "[tool:pytest]\ntimeout = 12\n"}, (12.0, "setup.cfg: timeout = 12")),
        ({"setup.cfg": "[pytest]\ntimeout = 12\n"}, None),  # pytest reads only [tool:pytest] there
        # addopts come before the command line's own options, and pytest-timeout prefers an option to the setting
        (
            {"pytest.ini": "[pytest]\ntimeout = 1\naddopts = -q --timeout 9 -p no:cacheprovider\n"},
            (9.0, "pytest.ini: addopts --timeout=9"),
        ),
        (
            {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = ["-q", "--timeout=4"]\n'},
            (4.0, "pyproject.toml: addopts --timeout=4"),
        ),
        # The first file that configures pytest is its file, even without a timeout (or an empty pytest.ini).
        ({"pytest.ini": "", "tox.ini": "[pytest]\ntimeout = 3\n"}, None),
        ({"pytest.ini": "[pytest]\naddopts = -q\n", "setup.cfg": "[tool:pytest]\ntimeout = 3\n"}, None),
        # A pyproject.toml without pytest's table is passed over, as pytest passes it over.
        (
            {"pyproject.toml": "[project]\nname = 'x'\n", "setup.cfg": "[tool:pytest]\ntimeout = 3\n"},
            (3.0, "setup.cfg: timeout = 3"),
        ),
        # The test folder's own file comes first; the root's is the fallback.
        (
            {"tests/pytest.ini": "[pytest]\ntimeout = 2\n", "pytest.ini": "[pytest]\ntimeout = 8\n"},
            (2.0, "tests/pytest.ini: timeout = 2"),
        ),
        # 0 is pytest-timeout's "no timeout", and nonsense is no timeout: concgrade's default stays.
        ({"pytest.ini": "[pytest]\ntimeout = 0\n"}, None),
        ({"pytest.ini": "[pytest]\ntimeout = soon\n"}, None),
        ({"pyproject.toml": "[tool.pytest.ini_options\ntimeout = 5\n"}, None),  # unreadable: pytest says so
        ({}, None),
    ],
)
def test_the_configuration_file_pytest_reads_sets_the_timeout(tmp_path, files, expected):
    write_files(tmp_path, {"tests/test_x.py": "def test_x():\n    pass\n", **files})
    assert configured_timeout(tmp_path, ["tests"]) == expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["tests", "--timeout", "60"], 60.0),
        (["--timeout=30", "-q"], 30.0),
        (["--timeout=30", "--timeout", "5"], 5.0),  # the last one wins, as in pytest
        (["--timeout-method", "thread"], None),
        (["--timeout"], None),
        (["-q", "tests"], None),
    ],
)
def test_a_timeout_option(words, expected):
    assert timeout_option(words) == expected


def test_a_manifest_timeout_comes_before_the_tasks_pytest_configuration(tmp_path):
    task = make_task(tmp_path / "task", test_timeout=6, extra={"pytest.ini": "[pytest]\ntimeout = 2\n"})
    limits = load_task(task).limits
    assert (limits.test_timeout, limits.test_timeout_source) == (6, "evaluation/concgrade.toml")


def test_a_manifest_without_a_timeout_takes_the_tasks_pytest_configuration(tmp_path):
    task = make_task(tmp_path / "task", extra={"pytest.ini": "[pytest]\ntimeout = 2\n"})
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text().replace("test_timeout = 10\n", ""))
    limits = load_task(task).limits
    assert (limits.test_timeout, limits.test_timeout_declared, limits.test_timeout_source) == (
        2,
        True,
        "pytest.ini: timeout = 2",
    )


def test_a_task_that_sets_no_timeout_keeps_the_default_and_its_second_chance(tmp_path):
    task = make_task(tmp_path / "task")
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text().replace("test_timeout = 10\n", ""))
    limits = load_task(task).limits
    assert not limits.test_timeout_declared and limits.test_timeout_source == ""
