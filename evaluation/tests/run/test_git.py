"""git's own answer to "is reports/ ignored?", handed to the linter: CL095 is raised only when git would
really commit the reports (ignore rules of a parent folder, info/exclude), and without git the task's own
.gitignore decides."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from taskfactory import make_task

from concgrade.cli.check import main as check_main
from concgrade.run.git import ignored_by_git
from concgrade.static.lint.checks import lint_task

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def repository(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def cl095(root: Path, reports_ignored: bool | None) -> list:
    return [f for f in lint_task(root, reports_ignored=reports_ignored) if f.id == "CL095"]


def test_a_parent_gitignore_ignores_the_tasks_reports(tmp_path, capsys):
    dataset = repository(tmp_path / "dataset")
    (dataset / ".gitignore").write_text("**/reports/\n", encoding="utf-8")
    task = make_task(dataset / "tasks" / "one", extra={"reports/results.json": "{}"})
    assert ignored_by_git(task, "reports") is True
    assert cl095(task, ignored_by_git(task, "reports")) == []
    check_main([str(task)])
    assert "CL095" not in capsys.readouterr().out
    # Without git's answer, only the task's own .gitignore is read, and it says nothing: CL095.
    assert [f.message for f in cl095(task, None)] == ["reports/ would be committed with the task"]


def test_info_exclude_counts_too(tmp_path):
    task = make_task(repository(tmp_path / "task"), extra={"reports/results.json": "{}"})
    assert ignored_by_git(task, "reports") is False
    assert len(cl095(task, False)) == 1
    (task / ".git" / "info").mkdir(exist_ok=True)
    (task / ".git" / "info" / "exclude").write_text("reports\n", encoding="utf-8")
    assert ignored_by_git(task, "reports") is True and cl095(task, True) == []


def test_git_has_the_last_word_over_a_pattern_it_negates(tmp_path):
    task = make_task(repository(tmp_path / "task"), extra={"reports/results.json": "{}"})
    (task / ".gitignore").write_text("reports\n!reports\n", encoding="utf-8")  # ignored, then un-ignored
    assert ignored_by_git(task, "reports") is False
    assert len(cl095(task, ignored_by_git(task, "reports"))) == 1


def test_outside_a_repository_git_cannot_say(tmp_path):
    task = make_task(tmp_path / "plain", extra={"reports/results.json": "{}", ".gitignore": "reports/\n"})
    assert ignored_by_git(task, "reports") is None
    assert cl095(task, None) == []  # the task's own .gitignore decides
