"""Walking, hashing and copying a task's files, and the project's cache folder: one home for each.

Every part of the harness that asks "which files make up this task" or "is this folder unchanged"
(the grade cache, per-task virtualenvs, benchmark timings, integrity digests, scratch copies) asks
here, so they all agree on what is ignored (`reports/`, `__pycache__`, `.git`, virtualenvs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import concgrade

# Folders of a task that are never graded code, never hashed and never copied into a scratch run.
IGNORED_DIRS = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "reports", ".venv", "venv"}
)
# Folders of installed tools, skipped as well when looking for a task's own sources or tasks in a dataset.
TOOL_DIRS = IGNORED_DIRS | {"node_modules", "site-packages", ".tox", ".nox", ".eggs"}
CHUNK = 1 << 20
CACHE_VARIABLE = "CONCGRADE_CACHE_DIR"


def is_ignored(relative: Path, ignored: Iterable[str] = IGNORED_DIRS) -> bool:
    """Whether a path relative to a task lies in (or is) an ignored folder."""
    return not set(relative.parts).isdisjoint(ignored)


def is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file()


def is_cache_folder(folder: Path) -> bool:
    """A tool's cache (CACHEDIR.TAG, the Cache Directory Tagging spec: pytest, ruff, grimp, ... write one)."""
    return (folder / "CACHEDIR.TAG").is_file()


def walk_files(root: Path, suffix: str = "", ignored: Iterable[str] = IGNORED_DIRS) -> Iterator[Path]:
    """Every file below `root` outside ignored folders and virtualenvs, sorted; symlinks are listed, not followed."""
    ignored = frozenset(ignored)
    for folder, subfolders, names in os.walk(root):
        base = Path(folder)
        linked = [name for name in subfolders if (base / name).is_symlink()]
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in ignored
            and name not in linked
            and not is_virtualenv(base / name)
            and not is_cache_folder(base / name)
        )
        for name in sorted([*names, *(n for n in linked if n not in ignored)]):
            if name.endswith(suffix) and name not in ignored:
                yield base / name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_digest(path: Path) -> str:
    """A file's content hash, a symlink's target, or why it could not be read (never raises)."""
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    try:
        return sha256_file(path)
    except OSError as exc:
        return f"unreadable:{exc.strerror}"


def tree_digest(root: Path, suffix: str = "") -> dict[str, str]:
    """Every file of a folder (with `suffix`) and its digest, by relative path."""
    return {path.relative_to(root).as_posix(): entry_digest(path) for path in walk_files(root, suffix)}


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files added, removed or modified between two digests, each named with what happened."""
    found = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            found.append(f"{name} (removed)")
        elif name not in before:
            found.append(f"{name} (added)")
        elif before[name] != after[name]:
            found.append(f"{name} (modified)")
    return found


def hash_tree(root: Path, ignored: Iterable[str] = IGNORED_DIRS) -> str:
    """One sha256 over every file below `root` (relative path and digest): the cache keys' "unchanged"."""
    digest = hashlib.sha256()
    for path in walk_files(root, ignored=ignored):
        kind = "L" if path.is_symlink() else "F"
        digest.update(f"{kind} {path.relative_to(root).as_posix()} {entry_digest(path)}\n".encode())
    return digest.hexdigest()


def hash_files(paths: Iterable[Path], root: Path) -> str:
    """sha256 over the given files (relative to `root`), e.g. a task's requirements files."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.relative_to(root).as_posix()} {sha256_file(path)}\n".encode())
    return digest.hexdigest()


def hash_value(value: Any) -> str:
    """sha256 of a JSON-ready value, independent of dict order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def hash_mapping(entries: Mapping[str, str]) -> str:
    return hash_value(dict(entries))


def is_task(folder: Path) -> bool:
    """A task folder: it holds repository_after/ and tests/ (the one test the dataset discovery uses too)."""
    return (folder / "repository_after").is_dir() and (folder / "tests").is_dir()


def copy_tree(source: Path, target: Path, leave_out: Path | None = None, nested_tasks: bool = True) -> None:
    """Copy a task (or an implementation) without its ignored folders (nor `leave_out`); symlinks stay links.

    With `nested_tasks=False`, folders below `source` that are tasks of their own (a repository's examples/)
    are left out: a task is no part of another, as dataset discovery has it.
    """
    ignore_dirs = shutil.ignore_patterns(*IGNORED_DIRS)
    top = source.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        ignored = set(ignore_dirs(folder, names))
        here = Path(folder).resolve()
        if leave_out is not None and leave_out.parent == here and leave_out.name in names:
            ignored.add(leave_out.name)
        ignored |= {name for name in names if name not in ignored and is_cache_folder(here / name)}
        if not nested_tasks:
            ignored |= {name for name in names if name not in ignored and here / name != top and is_task(here / name)}
        return ignored

    shutil.copytree(source, target, ignore=ignore, symlinks=True)


def harness_package() -> Path:
    """concgrade's own package folder (the shim gives every run its own link to it)."""
    return Path(concgrade.__file__).resolve().parent


@lru_cache(maxsize=1)
def harness_version() -> str:
    """The version of concgrade's own code: its release and a hash of the package's sources and templates.

    A grade cached by one harness is never reused by another, even when `__version__` was not bumped.
    """
    package = Path(concgrade.__file__).parent
    return f"{concgrade.__version__}+{hash_tree(package)[:16]}"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The project's one cache folder: $CONCGRADE_CACHE_DIR, else $XDG_CACHE_HOME/concgrade, else
    ~/.cache/concgrade, else a folder in the temp dir; None when none of them is writable."""
    environ = os.environ if environ is None else environ
    candidates = []
    if environ.get(CACHE_VARIABLE):
        candidates.append(Path(environ[CACHE_VARIABLE]))
    else:
        if environ.get("XDG_CACHE_HOME"):
            candidates.append(Path(environ["XDG_CACHE_HOME"]) / "concgrade")
        candidates.append(Path.home() / ".cache" / "concgrade")
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        candidates.append(Path(tempfile.gettempdir()) / f"concgrade-cache-{uid}")
    return next((folder for folder in candidates if is_writable(folder)), None)


def load_cache_entry(folder: Path | None, kind: str, key: str, version: int) -> dict[str, Any] | None:
    """The entry of `kind` (a subfolder: bench, mutants, ...) stored under `key`, or None when it is missing,
    unreadable, of another format version, or not the entry of this key (a file copied under another name)."""
    if folder is None:
        return None
    try:
        data = json.loads((folder / kind / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != version or data.get("key") != key:
        return None
    return data


def store_cache_entry(folder: Path | None, kind: str, key: str, version: int, entry: Mapping[str, Any]) -> bool:
    """Write an entry atomically (a reader never sees half of one); False when the cache is not writable."""
    if folder is None:
        return False
    target = folder / kind / f"{key}.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
            json.dump({"format": version, "key": key, **entry}, f, default=str)
        os.replace(f.name, target)
        return True
    except OSError:
        return False


def is_writable(folder: Path) -> bool:
    """Whether files can be created in `folder` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
        return True
    except OSError:
        return False


def read_sources(folder: Path, suffix: str = ".py") -> dict[str, str]:
    """Every source file of a folder by relative path, as text (undecodable bytes replaced)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes().decode("utf-8", "replace")
        for path in walk_files(folder, suffix)
        if path.is_file()
    }


END_BYTES = 65_558  # a zip archive's end record and the longest comment it may carry


def read_file_ends(folder: Path, size: int = END_BYTES) -> dict[str, tuple[bytes, bytes]]:
    """Every file of a folder but its .py sources, by relative path: its first and last `size` bytes."""
    found: dict[str, tuple[bytes, bytes]] = {}
    for path in walk_files(folder):
        if path.suffix == ".py" or path.is_symlink() or not path.is_file():
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(size)
                length = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, length - size))
                tail = handle.read(size)
        except OSError:
            continue
        found[path.relative_to(folder).as_posix()] = (head, tail)
    return found
