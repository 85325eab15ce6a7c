"""The Python a task asks for (its Dockerfile's `FROM python:X.Y`), and where this machine has it.

A task's tests were written for the interpreter of its image. Where that minor version is installed here
(on PATH, under pyenv, or among uv's managed Pythons) a per-task virtualenv is built with it; otherwise
with the harness's own, and the report says which was used and that it differs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# `FROM [--platform=...] [registry/][library/]python:3.12[-slim...] [AS name]`
FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<image>\S+)", re.IGNORECASE | re.MULTILINE)
PYTHON_TAG = re.compile(r"(?:^|/)python:(?P<major>\d)\.(?P<minor>\d+)")
# The oldest Python that the in-process code (boot, plugin, probes) runs on.
OLDEST_SUPPORTED = (3, 9)
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Interpreter:
    """The interpreter a task's environment is built with, and how it relates to what the task asked for."""

    executable: str
    version: str  # "3.12.1"
    requested: str | None  # "3.12" from the Dockerfile, None when it names no Python image
    source: str  # "Dockerfile FROM python:3.12-slim", or why the harness's own is used
    note: str | None = None  # one line when the interpreter differs from the one asked for

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def to_dict(self) -> dict[str, object]:
        return {
            "executable": self.executable,
            "version": self.version,
            "requested": self.requested,
            "source": self.source,
            "note": self.note,
        }


def requested_python(root: Path) -> tuple[str, str] | None:
    """(X.Y, the image) that the task's Dockerfile builds on, from the first `FROM` naming a Python image."""
    path = root / "Dockerfile"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for match in FROM_LINE.finditer(text):
        tag = PYTHON_TAG.search(match.group("image"))
        if tag:
            return f"{tag.group('major')}.{tag.group('minor')}", match.group("image")
    return None


def candidate_paths(minor: str, environ: dict[str, str] | None = None) -> list[str]:
    """Where an interpreter of `minor` (e.g. "3.12") may be: pyenv's versions, uv's Pythons, then PATH."""
    environ = dict(os.environ) if environ is None else environ
    home = Path(environ.get("HOME") or Path.home())
    found: list[str] = []
    pyenv = Path(environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"
    found += [str(p / "bin" / f"python{minor}") for p in _newest_first(pyenv.glob(f"{minor}.*"))]
    uv_roots = [environ.get("UV_PYTHON_INSTALL_DIR"), str(home / ".local" / "share" / "uv" / "python")]
    for uv in filter(None, uv_roots):
        found += [str(p / "bin" / f"python{minor}") for p in _newest_first(Path(uv).glob(f"cpython-{minor}.*"))]
    on_path = shutil.which(f"python{minor}", path=environ.get("PATH"))
    if on_path:
        found.append(on_path)
    return [path for path in dict.fromkeys(found) if os.access(path, os.X_OK)]


def _newest_first(paths: Iterable[Path]) -> list[Path]:
    """Installation folders (`3.12.1`, `cpython-3.12.1-linux-x86_64-gnu`), the newest patch release first."""

    def key(path: Path) -> tuple[int, ...]:
        version = path.name.split("-")[1] if path.name.startswith("cpython-") else path.name
        return tuple(int(n) for n in re.findall(r"\d+", version)[:3])

    return sorted((path for path in paths if path.is_dir()), key=key, reverse=True)


@lru_cache(maxsize=64)
def version_of(executable: str) -> str | None:
    """The full version an interpreter reports (it must really run: a pyenv shim for another version does not)."""
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", version) else None


def harness_interpreter(requested: str | None, source: str, note: str | None) -> Interpreter:
    version = ".".join(map(str, sys.version_info[:3]))
    return Interpreter(sys.executable, version, requested, source, note)


def choose_interpreter(root: Path, environ: dict[str, str] | None = None) -> Interpreter:
    """The task's Python where this machine has it, else the harness's (with the one-line reason)."""
    asked = requested_python(root)
    here = ".".join(map(str, sys.version_info[:2]))
    if asked is None:
        return harness_interpreter(None, "the harness's Python (the Dockerfile names no python image)", None)
    minor, image = asked
    source = f"Dockerfile FROM {image}"
    if minor == here:
        return harness_interpreter(minor, source, None)
    if tuple(int(n) for n in minor.split(".")) < OLDEST_SUPPORTED:
        oldest = ".".join(map(str, OLDEST_SUPPORTED))
        note = (
            f"the task asks for Python {minor}; concgrade's in-process code needs {oldest} or newer: graded on {here}"
        )
        return harness_interpreter(minor, source, note)
    for path in candidate_paths(minor, environ):
        version = version_of(path)
        if version and version.startswith(minor + "."):
            return Interpreter(path, version, minor, source)
    note = f"the task asks for Python {minor}, which this machine does not have: graded on {here}"
    return harness_interpreter(minor, source, note)
