"""The harness itself during a grade: all of it imported before the first run, and its installed files watched.

A run must not be able to put code into the grader. So the grader imports every module it could need before
anything runs (nothing is imported lazily after a run), and takes a fingerprint of the files it is made of and
depends on (concgrade's own package, pytest and its plugins, site-packages' .pth files, the standard
library) before the first run and again after the last: any change is an error of the grade, raised before a
report is rendered from templates that might have changed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import pkgutil
import site
import sysconfig
from functools import lru_cache
from pathlib import Path

import concgrade
from concgrade.errors import ConcgradeError
from concgrade.files import changes

# Installed packages a graded process loads besides concgrade; watched by size and modification time.
DEPENDENCIES = ("pytest", "_pytest", "pluggy", "pytest_timeout", "pytest_jsonreport", "py", "iniconfig", "packaging")
# Modules of the package the grader itself never imports: they run only inside graded processes (from the
# shim's copy), and would bring pytest into the grader for nothing. The protocol both sides share is imported.
NOT_IMPORTED = ("concgrade.inside.",)


class HarnessChanged(ConcgradeError):
    """Files of the harness or its dependencies changed while the grade ran: its results cannot be trusted."""


@lru_cache(maxsize=1)
def import_everything() -> tuple[str, ...]:
    """Import every module of concgrade (those an optional dependency keeps out are skipped); their names."""
    imported = []
    package = Path(concgrade.__file__).parent
    for info in pkgutil.walk_packages([str(package)], prefix="concgrade."):
        if info.name.startswith(NOT_IMPORTED):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
        imported.append(info.name)
    return tuple(imported)


def ready() -> dict[str, str]:
    """The harness made ready for a grade's first run: every module imported, then its files' fingerprint."""
    import_everything()
    return fingerprint()


def package_folders() -> list[Path]:
    """concgrade's package, and the installed packages graded processes load (where they are found)."""
    folders = [Path(concgrade.__file__).resolve().parent]
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name) if _importable(name) else None
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin).resolve()
        folders.append(origin.parent if origin.name == "__init__.py" else origin)
    return folders


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def fingerprint() -> dict[str, str]:
    """Every watched file with its fingerprint: a content hash for concgrade's own, size and mtime for the rest."""
    found: dict[str, str] = {}
    own = Path(concgrade.__file__).resolve().parent
    for folder in package_folders():
        content = folder == own
        for path in _files(folder):
            found[str(path)] = _content(path) if content else _stat(path)
    for folder_name in {*site.getsitepackages(), site.getusersitepackages()}:
        if os.path.isdir(folder_name):
            for path in Path(folder_name).glob("*.pth"):
                found[str(path)] = _content(path)
    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib and os.path.isdir(stdlib):
        for path in _files(Path(stdlib), skip=("site-packages", "dist-packages", "test", "idlelib")):
            found[str(path)] = _stat(path)
    return found


def check_unchanged(before: dict[str, str]) -> None:
    """Raise HarnessChanged, naming the files, if any watched file differs from `before`."""
    changed = changes(before, fingerprint())
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise HarnessChanged(f"the harness or its installed files changed during the grade: {shown}")


def _files(folder: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    if folder.is_file():
        return [folder]
    found = []
    for base, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if name != "__pycache__" and name not in skip]
        found += [Path(base) / name for name in names if not name.endswith((".pyc", ".pyo"))]
    return found


def _stat(path: Path) -> str:
    try:
        info = os.lstat(path)
    except OSError:
        return "missing"
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_mode:o}"


def _content(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable:{exc.strerror}"
