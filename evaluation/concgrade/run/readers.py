"""Reading what a run left behind: JSON and text files, bounded."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_text(path: Path, limit: int = 256 * 1024) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n[concgrade: stacks cut]" if len(data) > limit else "")


def read_regular(path: Path, limit: int) -> bytes:
    """Up to `limit` bytes of a regular file (never a FIFO, device or symlink a run may have left); b"" otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, limit)
    except OSError:
        return b""
    finally:
        os.close(fd)


def read_line_files(folder: Path, suffix: str, limit: int = 1 << 20) -> list[str]:
    """The distinct lines of every `*suffix` file in a folder (files in name order, lines first seen first)."""
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(suffix))
    except OSError:
        return []
    found: dict[str, None] = {}
    for name in names[:1000]:
        text = read_regular(folder / name, limit).decode("utf-8", "surrogateescape")
        found.update(dict.fromkeys(line for line in text.splitlines() if line))
    return list(found)
