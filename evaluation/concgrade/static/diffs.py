"""Unified diffs of implementation files between two implementations (pure: source texts in, diff texts out)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

# A diff longer than this is cut (and says so): a generated or vendored file must not bloat the report.
DIFF_LIMIT = 200_000


def diff_sources(old: Mapping[str, str], new: Mapping[str, str], old_name: str, new_name: str) -> dict[str, Any]:
    """The diff from one implementation to another: one entry per changed file, plus the unchanged ones' names."""
    files = []
    unchanged = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before == after:
            unchanged.append(path)
            continue
        files.append(diff_file(path, before, after, old_name, new_name))
    return {"from": old_name, "to": new_name, "files": files, "unchanged": unchanged}


def diff_file(path: str, old: str | None, new: str | None, old_name: str, new_name: str) -> dict[str, Any]:
    status = "added" if old is None else "removed" if new is None else "modified"
    lines = list(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"{old_name}/{path}" if old is not None else "/dev/null",
            tofile=f"{new_name}/{path}" if new is not None else "/dev/null",
        )
    )
    # Lines without a final newline would run into the next one once joined.
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    added = sum(1 for line in lines[2:] if line.startswith("+"))
    removed = sum(1 for line in lines[2:] if line.startswith("-"))
    truncated = len(text) > DIFF_LIMIT
    if truncated:
        text = text[:DIFF_LIMIT].rsplit("\n", 1)[0] + "\n"
    return {"path": path, "status": status, "added": added, "removed": removed, "diff": text, "truncated": truncated}
