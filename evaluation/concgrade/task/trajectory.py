"""Reads a task's trajectory (the author's notes on the refactor) for the results: file paths and texts."""

from __future__ import annotations

from pathlib import Path

# Text files a trajectory holds; anything else (images, binaries) is listed by name only.
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst"}
# A trajectory file longer than this is cut (and says so).
TEXT_LIMIT = 256 * 1024


def read_trajectory(root: Path) -> list[dict[str, object]]:
    """Every file under `root/trajectory/`, in name order, as {path, text, truncated} (path relative to root).

    Symlinks are not followed: the trajectory is the task author's, and the report must not pull in
    files from outside the task.
    """
    folder = root / "trajectory"
    if not folder.is_dir() or folder.is_symlink():
        return []
    entries: list[dict[str, object]] = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if path.suffix.lower() not in TEXT_SUFFIXES:
            entries.append({"path": relative, "text": "", "truncated": False, "binary": True})
            continue
        data = path.read_bytes()
        text = data[:TEXT_LIMIT].decode("utf-8", "replace")
        entries.append({"path": relative, "text": text, "truncated": len(data) > TEXT_LIMIT, "binary": False})
    return entries
