"""What a run's scratch copy of the task holds: the task, not the harness beside it nor the tasks inside it."""

from __future__ import annotations

import pytest
from conftest import REPO
from taskfactory import make_task

from concgrade.files import harness_package
from concgrade.run.scratch import copy_task


def test_nested_tasks_are_left_out_and_everything_else_copied(tmp_path):
    task = make_task(
        tmp_path / "task",
        extra={"docs/notes.md": "x\n", "examples/data.txt": "kept\n", ".tool_cache/CACHEDIR.TAG": "Signature\n"},
    )
    make_task(task / "examples" / "other")  # a task of its own inside this one
    copy_task(task, tmp_path / "copy")
    copied = {path.relative_to(tmp_path / "copy").as_posix() for path in (tmp_path / "copy").rglob("*")}
    assert {"docs/notes.md", "examples/data.txt", "tests/test_f2p.py", "repository_after/counter.py"} <= copied
    assert not any(path.startswith("examples/other") for path in copied)
    assert not any(path.startswith(".tool_cache") for path in copied)  # a tool's cache (CACHEDIR.TAG)


def test_the_harness_inside_the_reference_task_is_left_out(tmp_path):
    if not harness_package().is_relative_to(REPO):
        pytest.skip("concgrade is installed outside this checkout")
    copy_task(REPO, tmp_path / "copy")
    relative = harness_package().relative_to(REPO)
    assert not (tmp_path / "copy" / relative).exists()
    assert (tmp_path / "copy" / "evaluation" / "concgrade.toml").is_file()
    assert (tmp_path / "copy" / "tests" / "test_behavior_basics.py").is_file()
