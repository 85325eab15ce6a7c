"""What git says about a task folder, asked by running git (the linter, which starts no process, is handed it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT = 30


def ignored_by_git(root: Path, relative: str) -> bool | None:
    """Whether git would leave `root/relative` out of a commit (every .gitignore up the tree, info/exclude and
    the global excludes count); None when git is not installed or `root` is in no repository."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "--quiet", "--no-index", relative],
            capture_output=True,
            timeout=GIT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode == 0:
        return True
    if done.returncode == 1:
        return False
    return None  # 128: not a repository (or git failed): the caller falls back to the task's own .gitignore
