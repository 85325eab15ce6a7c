"""Loading a task from its folder: the manifest if there is one, else instances/*.json, else conventions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.files import walk_files
from concgrade.task.conventions import ROOT, infer_conventions
from concgrade.task.histories import read_histories
from concgrade.task.instances import read_instances
from concgrade.task.manifest import (
    MANIFEST_NAME,
    check_names,
    implementations_table,
    limits_table,
    read_manifest,
    suites_table,
    table,
    toggle_table,
)
from concgrade.task.model import SUITES, Implementation, Limits, Task
from concgrade.task.probes import read_probes
from concgrade.task.pytest_timeout import configured_timeout
from concgrade.task.selection import canonical_entries, selected_files
from concgrade.task.toggle import Toggle
from concgrade.task.workloads import read_workloads


def load_task(root: Path) -> Task:
    """Read the task at `root`: the manifest if there is one, else instances/*.json, else conventions."""
    root = root.resolve()
    if not root.is_dir():
        raise TaskError(f"{root}: not a folder")
    manifest_path = root / "evaluation" / MANIFEST_NAME
    manifest = read_manifest(manifest_path) if manifest_path.is_file() else {}
    check_names(manifest, manifest_path)
    implementations = implementations_table(root, manifest.get("implementations", {}), manifest_path)
    tests_dir = root / "tests"
    if not tests_dir.is_dir():
        raise TaskError(f"{tests_dir}: the task has no tests/ folder")
    _check_symlinks(root)
    instances = None
    environment: dict[str, str] = {}
    role_test_files: dict[str, tuple[str, ...]] = {}
    role_test_options: dict[str, tuple[str, ...]] = {}
    documented_timeout: tuple[float, str] | None = None
    guessed_modules = _guess_modules(implementations[-1].folder, root)
    if manifest:
        toggle = toggle_table(manifest.get("toggle", {}), manifest_path)
        toggle_source: dict[str, Any] = {"origin": "manifest", "evidence": [f"evaluation/{MANIFEST_NAME}"]}
        source, suites = "manifest", suites_table(manifest.get("suites"), manifest_path)
        modules = _manifest_modules(manifest.get("task", {}), toggle, implementations, guessed_modules)
        test_files = _test_files(root, suites)
    else:
        # Tasks written without concgrade in mind: infer the toggle from their own files, and read
        # instances/*.json leniently (a broken file means suites inferred from the runs, and a finding).
        inferred = infer_conventions(root, implementations, guessed_modules)
        toggle, toggle_source, modules = inferred.toggle, inferred.source, inferred.modules
        environment = dict(inferred.environment)
        instances = read_instances(root)
        source, suites = ("instances", instances.suites) if instances.usable else ("inferred", _emptysuites_table())
        # What the documented commands run (instance entries are matched against what the runs collect).
        test_files, role_test_files = _documented_test_files(inferred.test_files)
        role_test_options = dict(inferred.test_options)
        documented_timeout = inferred.test_timeout
    if toggle.kind == "selection":
        # Each implementation runs its own files or -k: suites name tests by their paired form.
        suites = {name: canonical_entries(entries, toggle) for name, entries in suites.items()}
        if instances is not None and instances.usable:
            instances = replace(instances, suites=suites)
        _check_files_exist(root, selected_files(toggle))
    named = tuple(path.split("::")[0] for path in test_files if path != ROOT) or ("tests",)
    _check_has_tests(root, named)
    _check_test_sources(root, (*named, *selected_files(toggle)))
    task_section = manifest.get("task", {})
    return Task(
        root=root,
        name=str(task_section.get("name") or root.name),
        source=source,
        manifest_path=manifest_path if manifest else None,
        implementations=implementations,
        toggle=toggle,
        suites=suites,
        modules=modules,
        limits=_with_own_timeout(
            limits_table(manifest.get("limits", {}), manifest_path),
            documented_timeout or configured_timeout(root, named),
        ),
        test_files=test_files,
        role_test_files=role_test_files,
        role_test_options=role_test_options,
        environment=environment,
        toggle_source=toggle_source,
        instances=instances,
        probes=read_probes(manifest.get("probes", []), manifest_path),
        constraints=table(manifest.get("constraints", {}), manifest_path, "constraints"),
        workloads=read_workloads(root, manifest, manifest_path if manifest else None),
        histories=read_histories(root, manifest, manifest_path if manifest else None),
        mutants=table(manifest["mutants"], manifest_path, "mutants") if "mutants" in manifest else None,
    )


def _with_own_timeout(limits: Limits, own: tuple[float, str] | None) -> Limits:
    """The limits with the per-test timeout the task gives its own tests, where its manifest chose none."""
    if limits.test_timeout_declared or own is None:
        return limits
    seconds, where = own
    return replace(limits, test_timeout=seconds, test_timeout_declared=True, test_timeout_source=where)


def _documented_test_files(
    documented: dict[str, tuple[str, ...]],
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """(the test files every run executes, or per role where the documented commands differ): `tests` by default."""
    if not documented:
        return ("tests",), {}
    if len(set(documented.values())) == 1:
        return next(iter(documented.values())), {}
    return ("tests",), dict(documented)


def _emptysuites_table() -> dict[str, list[str]]:
    return {name: [] for name in SUITES}


def _manifest_modules(
    section: dict[str, Any], toggle: Toggle, implementations: tuple[Implementation, ...], guessed: list[str]
) -> tuple[str, ...]:
    """The manifest's modules, else the after folder's top-level modules (as `repository_after.x` for a package)."""
    if section.get("modules"):
        return tuple(section["modules"])
    if toggle.kind == "package":
        package = implementations[-1].folder.name
        return tuple(f"{package}.{module}" for module in guessed)
    return tuple(guessed)


def _check_files_exist(root: Path, relatives: list[str]) -> None:
    for relative in relatives:
        path = root / relative
        if not path.exists():
            raise TaskError(f"{path}: named by the toggle's selection but does not exist")
        if not path.resolve().is_relative_to(root):
            raise TaskError(f"{path}: points outside the task")


def _test_files(root: Path, suites: dict[str, list[str]]) -> tuple[str, ...]:
    """The test files the runs execute: those the suites name, or every test file under tests/."""
    named = sorted({entry.split("::")[0] for entries in suites.values() for entry in entries if "/" in entry})
    for relative in named:
        path = root / relative
        if not path.exists():
            raise TaskError(f"{path}: named in the suites but does not exist")
        if not path.resolve().is_relative_to(root):
            raise TaskError(f"{path}: points outside the task")
    if named and len(named) == len({e for v in suites.values() for e in v}):
        return tuple(named)
    # Bare names or inferred suites: run the whole tests/ folder and match by name afterwards.
    return ("tests",)


def _check_symlinks(root: Path) -> None:
    """A symlink leading outside the task would let a run read (or write) the user's other files."""
    for path in walk_files(root):
        if path.is_symlink():
            resolved = path.resolve()
            if not resolved.is_relative_to(root):
                raise TaskError(f"{path}: symlink points outside the task ({resolved})")


def _check_has_tests(root: Path, test_files: tuple[str, ...]) -> None:
    """The files the runs execute must hold at least one test module pytest would collect."""
    for relative in test_files:
        path = root / relative
        if path.is_file():
            return
        if any(_is_test_module(found.name) for found in walk_files(path, ".py")):
            return
    raise TaskError(f"{root / test_files[0]}: no test files (test_*.py or *_test.py) to run")


def _is_test_module(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py")


def _check_test_sources(root: Path, test_files: tuple[str, ...]) -> None:
    """A test file that does not decode or parse is a malformed task, not a failing test."""
    for relative in test_files:
        path = root / relative
        for source in walk_files(path, ".py") if path.is_dir() else [path]:
            try:
                text = source.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TaskError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            try:
                compile(text, str(source), "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise TaskError(f"{source}:{exc.lineno}: syntax error: {exc.msg}") from None


def _guess_modules(folder: Path, root: Path) -> list[str]:
    """Top-level modules and packages of an implementation folder that a toggle can select.

    A package name the task root itself has (its `tests` folder, beside an implementation that is a test
    suite in `repository_after/tests/`) always resolves to the root's folder, so it cannot be the toggled one.
    A root-level `name.py` is kept: that is a shadowing copy, which the proof must catch.
    """
    names = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix == ".py" and entry.stem != "__init__" and entry.stem != "conftest":
            name = entry.stem
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        else:
            continue
        if not (root / name).is_dir():
            names.append(name)
    return names
