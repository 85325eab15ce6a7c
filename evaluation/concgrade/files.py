"""Content hashes of folders and files: the keys of the grade cache and of per-task virtualenvs.

One place for hashing a task folder, so that every cache (grades, environments, benchmark timings)
agrees on what "unchanged" means: the same relative paths with the same bytes, ignoring what a run
or a tool leaves behind (`reports/`, `__pycache__`, `.git`, virtualenvs).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import concgrade
from concgrade.task.model import IGNORED_DIRS

CHUNK = 1 << 20


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(root: Path, ignored: Iterable[str] = IGNORED_DIRS) -> str:
    """sha256 over every file below `root` (relative path and content); symlinks by their target, not followed."""
    ignored = set(ignored)
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in ignored and not _is_virtualenv(Path(folder, d)))
        base = Path(folder)
        for name in sorted([*files, *(d for d in subfolders if (base / d).is_symlink())]):
            path = base / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                digest.update(f"L {relative} -> {os.readlink(path)}\n".encode())
            elif path.is_file():
                digest.update(f"F {relative} {hash_file(path)}\n".encode())
    return digest.hexdigest()


def hash_files(paths: Iterable[Path], root: Path) -> str:
    """sha256 over the given files (relative to `root`), e.g. a task's requirements files."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.relative_to(root).as_posix()} {hash_file(path)}\n".encode())
    return digest.hexdigest()


def hash_value(value: Any) -> str:
    """sha256 of a JSON-ready value, independent of dict order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


@lru_cache(maxsize=1)
def harness_version() -> str:
    """The version of concgrade's own code: a hash of the package's sources and templates.

    A grade cached by one harness is never reused by another, even when `__version__` was not bumped.
    """
    package = Path(concgrade.__file__).parent
    return f"{concgrade.__version__}+{hash_tree(package)[:16]}"


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()
