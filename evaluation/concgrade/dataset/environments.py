"""Per-task virtualenvs (`--install`): the task's requirements as written, cached by the hash of those files.

The environment is the task's: its requirements are installed first, exactly as written (a task pinning
pytest 7.4 or 8.3 keeps that pytest), then only what concgrade's in-process plugin needs that the task does not
bring (pytest-json-report, pytest-timeout; pytest itself only when the task has none), constrained to the
task's pytest. The virtualenv is made with the Python the task's Dockerfile names where this machine has it
(interpreters.py). The harness's own pip installs into it (`pip --python`), so no pip is bootstrapped into it,
unless that pip no longer supports the task's older Python: then the virtualenv gets its own pip from ensurepip.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from concgrade.dataset.interpreters import Interpreter, choose_interpreter
from concgrade.errors import ConcgradeError
from concgrade.files import hash_files, hash_value
from concgrade.task.model import Task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# What the in-process plugin needs besides pytest (pins as in pyproject.toml), added only where the task has none.
PLUGIN_REQUIREMENTS = {"pytest-json-report": "pytest-json-report==1.5.0", "pytest-timeout": "pytest-timeout==2.4.0"}
# pytest itself, for a task whose requirements do not bring it.
HARNESS_PYTEST = "pytest==9.0.3"
HARNESS_TEST_REQUIREMENTS = (HARNESS_PYTEST, *PLUGIN_REQUIREMENTS.values())
# The pytest versions the in-process code runs on (tested in CI on 7.4, 8.3 and 9).
SUPPORTED_PYTEST = ((7, 0), (10, 0))
INSTALLED_VERSIONS = (
    "import json, sys, importlib.metadata as m\n"
    "found = {}\n"
    "for name in sys.argv[1:]:\n"
    "    try:\n"
    "        found[name] = m.version(name)\n"
    "    except m.PackageNotFoundError:\n"
    "        pass\n"
    "print(json.dumps(found))\n"
)
REQUIREMENT_FILES = ("requirements.txt", "requirements-test.txt", "requirements-dev.txt", "pyproject.toml")
PYPROJECT_TEST_EXTRAS = ("test", "tests", "testing", "dev")
READY_MARKER = "concgrade-ready"
ADDED_NAME = "concgrade-added.txt"  # beside the marker: what concgrade added to the task's requirements
INSTALL_TIMEOUT = 900.0
PROBE_TIMEOUT = 60.0
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
    python: dict[str, object] | None = None  # Interpreter.to_dict(): the version used and the one asked for
    packages: dict[str, str] | None = None  # the versions of pytest and the plugin's dependencies in it
    added: tuple[str, ...] = ()  # what concgrade installed beside the task's requirements

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "interpreter": self.interpreter,
            "requirement_files": list(self.requirement_files),
            "key": self.key,
            "reused": self.reused,
            "python": self.python,
            "packages": self.packages,
            "added": list(self.added),
        }


def installed(task: Task, cache_root: Path) -> tuple[Task, TaskEnvironment]:
    """The task run by the Python of its own requirements' virtualenv (`--install`), and that environment."""
    prepared = prepare_environment(task.root, cache_root)
    return task.with_environment(prepared.interpreter, {}, prepared.python), prepared


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


def prepare_environment(root: Path, cache_root: Path, environ: dict[str, str] | None = None) -> TaskEnvironment:
    """The task's virtualenv, built once per distinct set of requirement files and interpreter."""
    files = requirement_files(root)
    interpreter = choose_interpreter(root, environ)
    if not files and interpreter.executable == sys.executable:
        return TaskEnvironment("harness", None, python=interpreter.to_dict())
    key = hash_value(
        {
            "files": hash_files(files, root),
            "harness": HARNESS_TEST_REQUIREMENTS,
            "python": interpreter.version,
            "executable": interpreter.executable,
        }
    )[:24]
    folder = cache_root / "venvs" / key
    names = tuple(path.name for path in files)
    if (folder / READY_MARKER).is_file():
        return _built(folder, names, key, interpreter, reused=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another grade may be building the same environment
        if (folder / READY_MARKER).is_file():
            return _built(folder, names, key, interpreter, reused=True)
        shutil.rmtree(folder, ignore_errors=True)  # what a build that died left behind
        try:
            added = build_virtualenv(folder, root, files, interpreter.executable)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / ADDED_NAME).write_text("\n".join(added) + "\n")
        (folder / READY_MARKER).write_text("ok\n")
    return _built(folder, names, key, interpreter)


def _built(
    folder: Path, names: tuple[str, ...], key: str, interpreter: Interpreter, reused: bool = False
) -> TaskEnvironment:
    """The environment in `folder` as a grade records it: its interpreter and what is installed."""
    python = folder / "bin" / "python"
    added_file = folder / ADDED_NAME
    added = tuple(line for line in added_file.read_text().splitlines() if line) if added_file.is_file() else ()
    return TaskEnvironment(
        "virtualenv",
        str(python),
        names,
        key,
        reused=reused,
        python=interpreter.to_dict(),
        packages=installed_versions(python, ["pytest", *PLUGIN_REQUIREMENTS]),
        added=added,
    )


def build_virtualenv(folder: Path, root: Path, files: list[Path], executable: str = sys.executable) -> list[str]:
    """Make the virtualenv, install the task's requirements as written, then what the plugin still lacks.

    Returns the requirements concgrade added. A task's pytest outside what the plugin runs on is an
    InstallError that says so in one line.
    """
    run_installer([executable, "-m", "venv", "--without-pip", str(folder)], root, "creating the virtualenv")
    python = folder / "bin" / "python"
    pip = installer_for(python, root)
    arguments = []
    for path in files:
        if path.name == "pyproject.toml":
            arguments += pyproject_requirements(path)
        else:
            arguments += ["-r", path.name]
    if arguments:
        run_installer(pip_install(pip, arguments), root, f"installing {', '.join(p.name for p in files)}")
    have = installed_versions(python, ["pytest", *PLUGIN_REQUIREMENTS])
    added = [] if "pytest" in have else [HARNESS_PYTEST]
    if "pytest" in have:
        check_supported_pytest(have["pytest"])
    added += [requirement for name, requirement in PLUGIN_REQUIREMENTS.items() if name not in have]
    if added:
        # The task's pytest stays what it is: the plugin's dependencies are resolved against it.
        keep = [f"pytest=={have['pytest']}"] if "pytest" in have else []
        run_installer(pip_install(pip, [*added, *keep]), root, f"adding {', '.join(added)} for concgrade")
    return added


def installer_for(python: Path, root: Path) -> list[str]:
    """The pip that installs into the virtualenv of `python`: the harness's own where it can drive that Python.

    A newer pip drops older Pythons (pip 26 needs 3.10) that a task's Dockerfile may still name; such a
    virtualenv gets the pip its own Python bundles (ensurepip), as the task's image had one.
    """
    harness = [sys.executable, "-m", "pip", "--python", str(python)]
    if can_drive(harness):
        return harness
    run_installer([str(python), "-m", "ensurepip", "--default-pip"], root, "bootstrapping pip into the virtualenv")
    return [str(python), "-m", "pip"]


def can_drive(pip: list[str]) -> bool:
    """Whether this pip runs against its `--python` target (it refuses a Python it no longer supports)."""
    try:
        done = subprocess.run(
            [*pip, "--version"], capture_output=True, timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL, env=pip_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def pip_install(pip: list[str], arguments: list[str]) -> list[str]:
    return [*pip, "install", "--disable-pip-version-check", "--no-input", "--quiet", *arguments]


def pip_env() -> dict[str, str]:
    """The installer's environment: the harness's, without what would point pip elsewhere."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}


def check_supported_pytest(version: str) -> None:
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    (low, high) = SUPPORTED_PYTEST
    if not low <= numbers < high:
        raise InstallError(
            f"the task's requirements install pytest {version}; concgrade's in-process plugin runs on pytest "
            f"{low[0]}.{low[1]} to {high[0] - 1}.x, so this task cannot be graded with its own pytest"
        )


def installed_versions(python: Path, names: list[str]) -> dict[str, str]:
    """The versions of the named distributions installed in a virtualenv (absent ones left out)."""
    try:
        done = subprocess.run(
            [str(python), "-c", INSTALLED_VERSIONS, *names],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        found = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def run_installer(command: list[str], cwd: Path, what: str) -> None:
    """Run one installer step in the task folder (requirement files name paths relative to it)."""
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=pip_env(),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise InstallError(f"{what}: no result after {INSTALL_TIMEOUT:g}s") from None
    except OSError as exc:
        raise InstallError(f"{what}: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        useful = [line for line in lines if not line.startswith("WARNING: Location")][-LINES_KEPT:]
        raise InstallError(f"{what} failed (exit {done.returncode}): " + " | ".join(useful))
