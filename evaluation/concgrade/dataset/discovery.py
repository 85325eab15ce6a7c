"""Finds the task folders of a dataset, and those a git revision's changes touch (the pull-request gate)."""

from __future__ import annotations

import difflib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from concgrade.errors import UsageError
from concgrade.files import IGNORED_DIRS, is_task

# A task's own parts: never searched for further tasks.
TASK_PARTS = {"repository_before", "repository_after", "tests", "evaluation", "trajectory", "instances"}
SKIPPED = IGNORED_DIRS | {"node_modules", "site-packages", ".tox", ".nox", ".eggs", "build", "dist"}


def find_tasks(root: Path) -> list[Path]:
    """Every task folder below `root` (root included), sorted; hidden folders and virtualenvs are skipped."""
    root = root.resolve()
    found = []
    for folder, subfolders, _ in os.walk(root):
        here = Path(folder)
        task = is_task(here)
        if task:
            found.append(here)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in SKIPPED
            and not name.startswith(".")
            and not (task and name in TASK_PARTS)
            and not (here / name / "pyvenv.cfg").exists()
        )
    return sorted(found)


def task_label(task: Path, root: Path) -> str:
    """How a task is named in reports: its path below the dataset root (the root's own name for the root)."""
    relative = task.resolve().relative_to(root.resolve()).as_posix()
    return root.resolve().name if relative == "." else relative


def named_tasks(root: Path, tasks: list[Path], ids: Sequence[str]) -> list[Path]:
    """The tasks `ids` name (`--instance-ids`): by their path below the dataset root, or their folder's name.

    An id that names no task is a usage error with the closest names, not a silently smaller grade.
    """
    labels = {task: task_label(task, root) for task in tasks}
    chosen = []
    for wanted in ids:
        matches = [task for task, label in labels.items() if wanted.strip("/") in (label, task.name)]
        if not matches:
            names = sorted({*labels.values(), *(task.name for task in tasks)})
            close = difflib.get_close_matches(wanted, names, n=3)
            hint = (
                f" (did you mean {', '.join(close)}?)" if close else f" ({len(tasks)} tasks: {', '.join(names[:5])}...)"
            )
            raise UsageError(f"--instance-ids: no task {wanted!r} in {root}{hint}")
        chosen += matches
    return [task for task in tasks if task in chosen]


def changed_tasks(root: Path, tasks: list[Path], revision: str) -> list[Path]:
    """The tasks holding a file changed since `revision` (committed, uncommitted, or new and untracked)."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    changed = _git(root, "diff", "--name-only", "--no-renames", revision, "--").splitlines()
    changed += _git(root, "ls-files", "--others", "--exclude-standard", "--full-name").splitlines()
    paths = [(top / line).resolve() for line in changed if line.strip()]
    by_depth = sorted((task.resolve() for task in tasks), key=lambda t: len(t.parts), reverse=True)
    touched = set()
    for path in paths:
        owner = next((task for task in by_depth if path == task or task in path.parents), None)
        if owner is not None:
            touched.add(owner)
    return [task for task in tasks if task.resolve() in touched]


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise UsageError("--changed-since needs git, which is not installed") from None
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no such revision"])[-1]
        raise UsageError(f"--changed-since: git {args[0]} failed in {root}: {detail}")
    return done.stdout
