"""The read-only layout of a run for bubblewrap: what is bound, hidden, private, and in which order."""

from __future__ import annotations

import os
from pathlib import Path

from concgrade.run.mounts import MountPlan, blocking_ancestors, bwrap_arguments, unreadable_by_others


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_the_machine_is_read_only_but_the_scratch_folder_and_the_shim_is_read_only_on_top():
    plan = MountPlan(Path("/tmp/tmpab12"), read_only=(Path("/tmp/tmpab12/lib"),), cwd=Path("/tmp/tmpab12/repo"))
    args = bwrap_arguments(plan)
    assert args[:2] == ["bwrap", "--die-with-parent"] and args[-1] == "--"
    assert args[args.index("--ro-bind") : args.index("--ro-bind") + 3] == ["--ro-bind", "/", "/"]
    assert pairs(args, "--tmpfs")[:2] == ["/tmp", "/dev/shm"] and "--proc" in args
    assert pairs(args, "--bind") == ["/tmp/tmpab12"]
    assert args.index("--bind") < len(args) - 1 - args[::-1].index("/tmp/tmpab12/lib")  # the shim comes after
    assert pairs(args, "--chdir") == ["/tmp/tmpab12/repo"]


def test_a_hidden_home_gets_back_only_what_the_run_needs_read_only():
    python = Path("/root/.pyenv/versions/3.11.7")
    plan = MountPlan(Path("/tmp/tmpx"), needed=(python, Path("/usr/lib")), hidden=(Path("/root"),))
    args = bwrap_arguments(plan)
    hidden = args.index("/root")
    assert args[hidden - 1] == "--tmpfs"
    if python.exists():  # only folders that exist are bound back
        assert str(python) in pairs(args, "--ro-bind") and args.index(str(python)) > hidden
        assert "/root/.pyenv" in pairs(args, "--dir")
    assert "/usr/lib" not in pairs(args, "--ro-bind")  # not under a hidden folder: visible anyway


def test_a_hidden_folder_inside_the_private_tmp_is_hidden_already():
    plan = MountPlan(Path("/tmp/tmpx"), hidden=(Path("/tmp/pytest-of-root/home"),))
    assert "/tmp/pytest-of-root/home" not in bwrap_arguments(plan)


def test_the_outermost_folder_a_stranger_cannot_pass_through_is_found(tmp_path):
    closed = tmp_path / "closed"
    (closed / "inner").mkdir(parents=True)
    closed.chmod(0o700)
    found = blocking_ancestors([closed / "inner"])
    assert len(found) == 1 and closed.is_relative_to(found[0])  # pytest's own tmp folder may be closed further up
    closed.chmod(0o755)
    assert closed not in blocking_ancestors([closed / "inner"])


def test_a_virtualenv_in_a_cache_under_tmp_is_put_back_into_the_private_tmp(tmp_path):
    """A dataset's --install cache may live under /tmp: the run's private /tmp must still hold its Python."""
    venv = tmp_path / "cache" / "venvs" / "abc"
    (venv / "bin").mkdir(parents=True)
    args = bwrap_arguments(MountPlan(Path("/tmp/tmpx"), needed=(venv,)))
    assert str(venv) in pairs(args, "--ro-bind")
    assert args.index(str(venv)) > args.index("/tmp")  # bound after the private /tmp is mounted over the machine's
    assert str(venv.parent) in pairs(args, "--dir")


def test_folders_only_their_owner_may_list_are_named(tmp_path):
    private, shared, group_only = tmp_path / "private", tmp_path / "shared", tmp_path / "group"
    private.mkdir(mode=0o700)
    shared.mkdir(mode=0o755)
    group_only.mkdir(mode=0o750)
    for folder, mode in ((private, 0o700), (shared, 0o755), (group_only, 0o750)):
        os.chmod(folder, mode)  # whatever the umask
    assert unreadable_by_others([private, shared, group_only, tmp_path / "missing"]) == [private, group_only]
