"""End to end on whichever pytest runs this suite: CI runs this file in venvs with pytest 7.4, 8.3 and 9.

The in-process code (the boot, the plugin, the file watch, subtests and exit-status records) runs inside the
task's own pytest, so a few whole grades are made with the pytest of the interpreter that runs these tests.
"""

from __future__ import annotations

import json

import pytest
from taskfactory import make_task, write_files
from wildfactory import forced_exit_status, greenfield_gitkeep, subtests


def grade(cli, task, tmp_path):
    result = cli("--task", str(task), "--output", str(tmp_path / "out"), "--quiet")
    return result, json.loads((tmp_path / "out" / "results.json").read_text())


def test_a_good_task_is_accepted_on_this_pytest(cli, tmp_path):
    result, data = grade(cli, make_task(tmp_path / "task"), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {impl["pytest_version"] for impl in data["implementations"].values()} == {pytest.__version__}
    assert data["implementations"]["after"]["loads"], "the file watch saw nothing"


@pytest.mark.parametrize("shape, verdict", [(greenfield_gitkeep, 0), (forced_exit_status, 0), (subtests, 0)])
def test_wild_shapes_grade_the_same_on_this_pytest(cli, tmp_path, shape, verdict):
    task = tmp_path / "task"
    write_files(task, shape())
    result, data = grade(cli, task, tmp_path)
    assert result.returncode == verdict, [c for c in data["checks"] if c["status"] != "pass"]
