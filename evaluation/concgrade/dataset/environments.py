"""Per-task virtualenvs (`--install`): built from the task's requirements, cached by the hash of those files.

Each environment holds the task's own dependencies plus the harness's test dependencies (pinned as
in pyproject.toml); the graded pytest processes then run on its interpreter. The harness's own pip
installs into it (`pip --python`), which avoids bootstrapping pip into every environment.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from concgrade.errors import ConcgradeError
from concgrade.files import hash_files, hash_value

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# What every graded process needs besides the task's own dependencies (keep in sync with pyproject.toml).
HARNESS_TEST_REQUIREMENTS = ("pytest==9.0.3", "pytest-json-report==1.5.0", "pytest-timeout==2.4.0")
REQUIREMENT_FILES = ("requirements.txt", "requirements-test.txt", "requirements-dev.txt", "pyproject.toml")
PYPROJECT_TEST_EXTRAS = ("test", "tests", "testing", "dev")
READY_MARKER = "concgrade-ready"
INSTALL_TIMEOUT = 900.0
LINES_KEPT = 12


class InstallError(ConcgradeError):
    """A task's dependencies could not be installed; the message ends with the installer's last lines."""

    slug = "install"


@dataclass(frozen=True)
class TaskEnvironment:
    """Where a task's tests run: the harness's interpreter (nothing to install) or a cached virtualenv."""

    kind: str  # "harness" or "virtualenv"
    interpreter: str | None
    requirement_files: tuple[str, ...] = ()
    key: str | None = None
    reused: bool = False  # the virtualenv was already built by an earlier grade

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "interpreter": self.interpreter,
            "requirement_files": list(self.requirement_files),
            "key": self.key,
            "reused": self.reused,
        }


def requirement_files(root: Path) -> list[Path]:
    """The task's dependency declarations: requirements*.txt and a pyproject.toml at its root."""
    return [root / name for name in REQUIREMENT_FILES if (root / name).is_file()]


def pyproject_requirements(path: Path) -> list[str]:
    """The dependencies a pyproject.toml declares (and its test extras); the project itself is not installed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"{path.name}: not valid TOML ({exc})") from None
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    requirements = [str(r) for r in project.get("dependencies", []) or []]
    extras = project.get("optional-dependencies", {}) or {}
    for name in PYPROJECT_TEST_EXTRAS:
        requirements += [str(r) for r in extras.get(name, []) or []]
    return requirements


def prepare_environment(root: Path, cache_root: Path) -> TaskEnvironment:
    """The task's virtualenv, built once per distinct set of requirement files (and Python)."""
    files = requirement_files(root)
    if not files:
        return TaskEnvironment("harness", None)
    key = hash_value(
        {
            "files": hash_files(files, root),
            "harness": HARNESS_TEST_REQUIREMENTS,
            "python": sys.version,
            "executable": sys.executable,
        }
    )[:24]
    folder = cache_root / "venvs" / key
    interpreter = folder / "bin" / "python"
    names = tuple(path.name for path in files)
    if (folder / READY_MARKER).is_file():
        return TaskEnvironment("virtualenv", str(interpreter), names, key, reused=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another grade may be building the same environment
        if (folder / READY_MARKER).is_file():
            return TaskEnvironment("virtualenv", str(interpreter), names, key, reused=True)
        shutil.rmtree(folder, ignore_errors=True)  # what a build that died left behind
        try:
            build_virtualenv(folder, root, files)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / READY_MARKER).write_text("ok\n")
    return TaskEnvironment("virtualenv", str(interpreter), names, key)


def build_virtualenv(folder: Path, root: Path, files: list[Path]) -> None:
    run_installer([sys.executable, "-m", "venv", "--without-pip", str(folder)], root, "creating the virtualenv")
    arguments = []
    for path in files:
        if path.name == "pyproject.toml":
            arguments += pyproject_requirements(path)
        else:
            arguments += ["-r", path.name]
    pip = [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install"]
    pip += ["--disable-pip-version-check", "--no-input", "--quiet", *arguments, *HARNESS_TEST_REQUIREMENTS]
    run_installer(pip, root, f"installing {', '.join(p.name for p in files)}")


def run_installer(command: list[str], cwd: Path, what: str) -> None:
    """Run one installer step in the task folder (requirement files name paths relative to it)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise InstallError(f"{what}: no result after {INSTALL_TIMEOUT:g}s") from None
    except OSError as exc:
        raise InstallError(f"{what}: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        useful = [line for line in lines if not line.startswith("WARNING: Location")][-LINES_KEPT:]
        raise InstallError(f"{what} failed (exit {done.returncode}): " + " | ".join(useful))
