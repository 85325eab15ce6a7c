"""The per-test timeout a task gives its own tests: pytest-timeout's `--timeout` in a documented command, its
`addopts`, or its `timeout` ini setting, read the way pytest finds its configuration file.

concgrade passes its own `--timeout` to every run, which overrides all of these: without this, a task that asks
for 60 s per test had them stopped at concgrade's default, and one that asks for 10 s had its hung tests wait
twice as long. What the task chose is a declared timeout (its timeouts count as they are).
"""

from __future__ import annotations

import configparser
import math
import os
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# pytest's order within one folder; the first file that configures pytest is its configuration file.
CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def timeout_option(args: Iterable[str]) -> float | None:
    """The value of the last `--timeout N` / `--timeout=N` among command-line words (pytest's last one wins)."""
    found: float | None = None
    words = list(args)
    for index, word in enumerate(words):
        value = None
        if word == "--timeout" and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith("--timeout="):
            value = word.removeprefix("--timeout=")
        if value is not None:
            seconds = _seconds(value)
            found = seconds if seconds is not None else found
    return found


def configured_timeout(root: Path, test_paths: Iterable[str] = ("tests",)) -> tuple[float, str] | None:
    """(seconds, where) from the configuration file pytest reads for the tests: `--timeout` in its addopts,
    else its `timeout` setting; None when it sets neither (or 0, pytest-timeout's "no timeout": concgrade's
    default then stays, as a hung test must end)."""
    found = _config_file(root, os.path.commonpath([os.path.normpath(path) for path in test_paths] or ["."]))
    if found is None:
        return None
    path, settings = found
    where = path.relative_to(root).as_posix()
    addopts = settings.get("addopts", "")
    words = addopts if isinstance(addopts, list) else _split(str(addopts))
    from_addopts = timeout_option(str(word) for word in words)
    if from_addopts is not None:
        return from_addopts, f"{where}: addopts --timeout={from_addopts:g}"
    seconds = _seconds(settings.get("timeout"))
    return (seconds, f"{where}: timeout = {seconds:g}") if seconds is not None else None


def _config_file(root: Path, tests: str) -> tuple[Path, dict[str, object]] | None:
    """pytest's configuration file for the tests (`tests`: the folder or file its arguments have in common): the
    first file that configures pytest in that folder, then in each folder up to the task's root; with its pytest
    settings."""
    root = root.resolve()
    folder = (root / tests).resolve()
    if not folder.is_relative_to(root):
        folder = root
    if not folder.is_dir():
        folder = folder.parent
    while True:
        for name in CONFIG_FILES:
            settings = _pytest_settings(folder / name)
            if settings is not None:
                return folder / name, settings
        if folder == root:
            return None
        folder = folder.parent


def _pytest_settings(path: Path) -> dict[str, object] | None:
    """The pytest section of one file (empty for a pytest.ini without one), or None when it configures no pytest."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        if path.name == "pyproject.toml":
            section = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options")
            return dict(section) if isinstance(section, dict) else None
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
    except (OSError, UnicodeDecodeError, ValueError, configparser.Error):
        return None  # pytest itself fails on such a file, and the run says so
    name = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if parser.has_section(name):
        return dict(parser.items(name))
    return {} if path.name in ("pytest.ini", ".pytest.ini") else None


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None
