"""The mutants cache: a mutant's run outcome, reused while the mutant, the after, the tests and the options are unchanged.

An entry is keyed by sha256 over the mutant's id (a content address of its change), every file of the after,
every file of the task outside its implementation folders (tests, conftest, ini files, the manifest), the
toggle and suites, the runner options that can change an outcome (the per-test timeout, first-failure stops,
a stress seed, the limits), the interpreter and the harness's own code. The order the tests ran in is left
out on purpose: it changes which failing test is seen first, never whether a mutant is killed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from concgrade.files import entry_digest, harness_version, load_cache_entry, store_cache_entry, walk_files
from concgrade.task.model import Task

CACHE_FORMAT = 1
KIND = "mutants"


def tests_digest(task: Task) -> str:
    """sha256 over every file of the task outside its implementation folders: what the suites are made of."""
    implementation_folders = [impl.folder for impl in task.implementations]
    digest = hashlib.sha256()
    for path in walk_files(task.root):
        if any(path.is_relative_to(folder) for folder in implementation_folders):
            continue
        digest.update(f"{path.relative_to(task.root).as_posix()} {entry_digest(path)}\n".encode())
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in walk_files(folder):
        digest.update(f"{path.relative_to(folder).as_posix()} {entry_digest(path)}\n".encode())
    return digest.hexdigest()


def run_key(mutant_id: str, context: dict[str, Any], stress_seed: int | None) -> str:
    """The key of one run of one mutant (plain, or under stress with this seed)."""
    material = {"mutant": mutant_id, "stress_seed": stress_seed, **context}
    text = json.dumps(material, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_context(task: Task, after_folder: Path, test_timeout: float, first_failure: bool) -> dict[str, Any]:
    """Everything but the mutant that decides a mutant run's outcome (computed once per analysis)."""
    return {
        "format": CACHE_FORMAT,
        "harness": harness_version(),
        "python": [sys.executable, sys.version, platform.machine()],
        "after": folder_digest(after_folder),
        "tests": tests_digest(task),
        "toggle": asdict(task.toggle),
        "suites": task.suites,
        "test_files": list(task.test_files),
        "interpreter": task.interpreter,
        "environment": task.environment,
        "limits": asdict(task.limits),
        "test_timeout": test_timeout,
        "first_failure": first_failure,
    }


def load_run(folder: Path | None, key: str) -> dict[str, Any] | None:
    entry = load_cache_entry(folder, KIND, key, CACHE_FORMAT)
    return entry.get("run") if entry and isinstance(entry.get("run"), dict) else None


def store_run(folder: Path | None, key: str, run: dict[str, Any]) -> bool:
    return store_cache_entry(folder, KIND, key, CACHE_FORMAT, {"run": run})


TIMEOUTS = ("test_timeout", "run_timeout")  # derived from the after's durations, which move with the machine's load


def timeouts_key(context: dict[str, Any], label: str) -> str:
    """The key of the timeouts the last analysis with this context (but for its timeouts) used."""
    material = {"label": label, **{key: value for key, value in context.items() if key not in TIMEOUTS}}
    text = json.dumps(material, sort_keys=True, default=str, separators=(",", ":"))
    return "timeouts-" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_timeouts(folder: Path | None, context: dict[str, Any], label: str) -> dict[str, float] | None:
    entry = load_cache_entry(folder, KIND, timeouts_key(context, label), CACHE_FORMAT)
    if not entry or not all(isinstance(entry.get(key), (int, float)) for key in TIMEOUTS):
        return None
    return {key: float(entry[key]) for key in TIMEOUTS}


def store_timeouts(folder: Path | None, context: dict[str, Any], label: str) -> bool:
    entry = {key: context[key] for key in TIMEOUTS}
    return store_cache_entry(folder, KIND, timeouts_key(context, label), CACHE_FORMAT, entry)


def load_kills(folder: Path | None, tests_key: str) -> dict[str, int]:
    """How many mutants each test killed in the last analysis of these tests: the next analysis runs them first."""
    entry = load_cache_entry(folder, KIND, f"kills-{tests_key}", CACHE_FORMAT)
    kills = entry.get("kills") if entry else None
    if not isinstance(kills, dict):
        return {}
    return {str(nodeid): int(count) for nodeid, count in kills.items() if isinstance(count, int)}


def store_kills(folder: Path | None, tests_key: str, kills: dict[str, int]) -> bool:
    return store_cache_entry(folder, KIND, f"kills-{tests_key}", CACHE_FORMAT, {"kills": kills})
