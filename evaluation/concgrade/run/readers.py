"""Reading what a run left behind, whatever it is: regular files only, bounded in size, depth and time.

Everything the grader reads from a run's folders goes through here. A file is opened with O_NOFOLLOW and
O_NONBLOCK (a symlink is refused, a FIFO cannot block the grader) and must be a regular file; it is read up
to a size limit; JSON is checked for its nesting depth before it is parsed. A file that fails any of these is
not an error of the grader: the caller gets no data and the reason, and says so in the grade.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade.inside.protocol import valid_text

JSON_LIMIT = 64 * 2**20
JSON_DEPTH = 200
TEXT_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Read:
    """What a file held (None when it could not be used) and why not."""

    data: Any
    problem: str = ""


def read_bytes(path: Path, limit: int) -> tuple[bytes | None, str]:
    """Up to `limit` + 1 bytes of a regular file; (None, why) for anything else. Never blocks, never follows."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"cannot be opened ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"not a regular file ({_kind(info.st_mode)})"
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), ""
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a file"


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (Python's parser recurses per level)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def read_json(path: Path, limit: int = JSON_LIMIT, depth: int = JSON_DEPTH) -> Read:
    """A JSON object from a file a run wrote: Read(dict) or Read(None, why)."""
    raw, problem = read_bytes(path, limit)
    if raw is None:
        return Read(None, problem)
    if len(raw) > limit:
        return Read(None, f"larger than {limit // 2**20} MiB")
    text = raw.decode("utf-8", "replace")
    if json_depth_exceeds(text, depth):
        return Read(None, f"nested deeper than {depth} levels")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Read(None, f"not JSON ({str(exc)[:80]})")
    if not isinstance(data, dict):
        return Read(None, f"not a JSON object ({type(data).__name__})")
    return Read(valid_text(data))


def read_text(path: Path, limit: int = TEXT_LIMIT) -> str:
    """A text file a run wrote (its first `limit` bytes, the cut stated); "" when it cannot be read."""
    raw, _ = read_bytes(path, limit)
    if raw is None:
        return ""
    text = raw[:limit].decode("utf-8", "replace")
    return text + ("\n[concgrade: stacks cut]" if len(raw) > limit else "")


def read_line_files(folder: Path, suffix: str, limit: int = 1 << 20) -> list[str]:
    """The distinct lines of every `*suffix` file in a folder (files in name order, lines first seen first)."""
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(suffix))
    except OSError:
        return []
    found: dict[str, None] = {}
    for name in names[:1000]:
        raw, _ = read_bytes(folder / name, limit)
        text = (raw or b"")[:limit].decode("utf-8", "surrogateescape")
        found.update(dict.fromkeys(line for line in text.splitlines() if line))
    return list(found)
