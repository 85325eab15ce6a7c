"""Digests of what a run must not change: the tests, conftest files, pytest's configuration and the manifest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from concgrade.files import IGNORED_DIRS

# Files at the root of a task that configure pytest.
from concgrade.task.manifest import MANIFEST_NAME

# Files at the root of a task that configure pytest.
PYTEST_CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py")
# Files in an implementation folder that Python or pytest would run as part of the harness, not as the code under test.
HOOK_FILE_NAMES = ("conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.py", "py.py")
HOOK_PACKAGE_NAMES = ("pytest", "_pytest", "pluggy", "concgrade", "pytest_timeout", "pytest_jsonreport")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def walk_files(root: Path) -> Iterable[Path]:
    """Every file below root outside the ignored folders (symlinks are listed, not followed)."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part in IGNORED_DIRS for part in relative[:-1]) or relative[-1] in IGNORED_DIRS:
            continue
        if path.is_symlink() or path.is_file():
            yield path


def entry_digest(path: Path) -> str:
    if path.is_symlink():
        return "symlink:" + str(path.readlink())
    try:
        return file_sha256(path)
    except OSError as exc:
        return f"unreadable:{exc.strerror}"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file of a folder (what the grade reads) with its content hash, by relative path."""
    return {path.relative_to(root).as_posix(): entry_digest(path) for path in walk_files(root)}


def protected_digest(task_root: Path) -> dict[str, str]:
    """The files of a task copy that decide what the tests are: tests/, every conftest.py, pytest config, manifest."""
    protected = {}
    for path in walk_files(task_root):
        relative = path.relative_to(task_root)
        if (
            relative.parts[0] == "tests"
            or relative.name == "conftest.py"
            or (len(relative.parts) == 1 and relative.name in PYTEST_CONFIG_FILES)
            or relative.as_posix() == f"evaluation/{MANIFEST_NAME}"
        ):
            protected[relative.as_posix()] = entry_digest(path)
    return protected


def harness_hook_files(folder: Path) -> list[str]:
    """Files in an implementation folder that would hook into Python or pytest rather than be the code under test."""
    found = []
    for path in walk_files(folder):
        relative = path.relative_to(folder)
        top = relative.parts[0]
        if (
            relative.name in HOOK_FILE_NAMES
            or relative.suffix == ".pth"
            or (len(relative.parts) > 1 and top in HOOK_PACKAGE_NAMES)
        ):
            found.append(relative.as_posix())
    return found


def import_proof(
    imported: dict[str, Any] | None, folder: Path, graded: dict[str, str], task_copy: Path
) -> dict[str, Any] | None:
    """A child's account of the module it used (`module`, `file`, `sha256`), marked `expected` when the file is in
    the implementation's `folder` of the scratch copy with the graded content (`graded`: relative path -> sha256)."""
    if not imported:
        return None
    folder = folder.resolve()
    file = Path(str(imported.get("file", "")))
    inside = file.is_relative_to(folder)
    matches = inside and graded.get(file.relative_to(folder).as_posix()) == imported.get("sha256")
    return {**imported, "file": file.relative_to(task_copy).as_posix() if inside else str(file), "expected": matches}
