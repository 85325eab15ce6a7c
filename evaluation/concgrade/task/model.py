"""What a task declares: its layout, implementations, toggle, suites and limits, read and validated once."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.task.instances import InstanceFile, read_instances
from concgrade.task.probes import DeclaredProbe, read_probes
from concgrade.task.selection import canonical_entries, selected_files

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MANIFEST_NAME = "concgrade.toml"
SUITES = ("PASS_TO_PASS", "FAIL_TO_PASS")
DEFAULT_TEST_TIMEOUT = 20.0
DEFAULT_RUN_TIMEOUT = 300.0
# Resource limits of each run (one pytest process and everything it starts); see sandbox.py.
DEFAULT_MEMORY_MB = 4096
DEFAULT_MAX_TASKS = 1024  # processes plus threads
DEFAULT_FILE_SIZE_MB = 1024
DEFAULT_OUTPUT_MB = 16
# Folders of a task that are never graded code or copied into a scratch run.
IGNORED_DIRS = {
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "reports",
    ".venv",
    "venv",
}


# How a task's tests select the implementation (see docs/manifest.md, [toggle]).
TOGGLE_KINDS = ("pythonpath", "env", "option", "selection", "package")


@dataclass(frozen=True)
class Toggle:
    """How a test process selects an implementation.

    pythonpath: PYTHONPATH=<folder>; env: a named variable (its value a word or the folder's path);
    option: a pytest option the task's conftest adds (`--repo before`); selection: different test files
    or `-k` per implementation; package: the tests import `repository_after.x` from the task root, and
    each implementation is put in that folder of its scratch copy.
    """

    kind: str = "pythonpath"
    variable: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    pythonpath: bool = False
    option: str | None = None
    selection: dict[str, list[str]] = field(default_factory=dict)
    path_value: bool = False  # kind env: the variable holds the implementation folder's path

    def value(self, name: str, role: str) -> str:
        """The word that selects implementation `name`; a candidate stands in the after folder, so it is after's."""
        return self.values.get(name, self.values.get(role, role))

    def environment(self, name: str, role: str, folder: Path) -> dict[str, str]:
        """Variables that select implementation `name` (whose role is before or after) living in `folder`."""
        env: dict[str, str] = {}
        if self.kind == "pythonpath" or self.pythonpath:
            env["PYTHONPATH"] = str(folder)
        if self.kind == "package":
            env["PYTHONPATH"] = "."  # the task root, where `import repository_after.x` resolves
        if self.kind == "env" and self.variable:
            env[self.variable] = str(folder) if self.path_value else self.value(name, role)
        return env

    def pytest_args(self, name: str, role: str) -> list[str]:
        """Extra pytest arguments that select implementation `name`: an option, or its files and `-k`."""
        if self.kind == "option" and self.option:
            return [self.option, self.value(name, role)]
        if self.kind == "selection":
            return list(self.selection.get(name, self.selection.get(role, [])))
        return []


@dataclass(frozen=True)
class Limits:
    test_timeout: float = DEFAULT_TEST_TIMEOUT
    run_timeout: float = DEFAULT_RUN_TIMEOUT
    memory_mb: float = DEFAULT_MEMORY_MB
    max_tasks: int = DEFAULT_MAX_TASKS
    cpu_seconds: float | None = None  # None: the run timeout times the number of cores
    file_size_mb: float = DEFAULT_FILE_SIZE_MB
    output_mb: float = DEFAULT_OUTPUT_MB


@dataclass(frozen=True)
class Implementation:
    """One implementation to grade: its name, the role it is graded as, and its folder."""

    name: str
    role: str  # "before" or "after": what the suites expect of it
    folder: Path


@dataclass(frozen=True)
class Task:
    root: Path
    name: str
    source: str  # where the suites came from: "manifest", "instances" or "inferred"
    manifest_path: Path | None
    implementations: tuple[Implementation, ...]
    toggle: Toggle
    suites: dict[str, list[str]]
    modules: tuple[str, ...]
    limits: Limits
    test_files: tuple[str, ...]  # task-relative paths of the test files the runs execute
    # Where the toggle came from: {"origin": "manifest" | "inferred" | "default", "evidence": [...]}.
    toggle_source: dict[str, Any] = field(default_factory=lambda: {"origin": "default", "evidence": []})
    instances: InstanceFile | None = None  # the instances/*.json file as read (tasks without a manifest)
    interpreter: str | None = None  # the Python that runs the tests (a per-task virtualenv), else the harness's
    environment: dict[str, str] = field(default_factory=dict)  # extra variables for every run (e.g. services)
    probes: tuple[DeclaredProbe, ...] = ()  # the manifest's [[probes]], applied around every test
    constraints: dict[str, Any] = field(default_factory=dict)  # [constraints]: gate checks on the after's source
    # The manifest as read (empty without one), so other modules can read their own sections.
    manifest: dict[str, Any] = field(default_factory=dict, compare=False)

    def implementation(self, name: str) -> Implementation:
        return next(impl for impl in self.implementations if impl.name == name)

    def with_candidate(self, folder: Path) -> Task:
        """The same task with a third implementation graded like after (e.g. a model's refactor)."""
        folder = folder.resolve()
        if not folder.is_dir():
            raise TaskError(f"{folder}: the candidate folder does not exist")
        candidate = Implementation("candidate", "after", folder)
        return replace(self, implementations=(*self.implementations, candidate))

    def with_environment(self, interpreter: str | None, environment: dict[str, str]) -> Task:
        """The same task run by another interpreter and/or with extra variables (services it needs)."""
        return replace(self, interpreter=interpreter, environment={**self.environment, **environment})

    def with_limits(self, test_timeout: float | None, run_timeout: float | None, **others: float | None) -> Task:
        """The same task with limits from the command line; a None leaves the manifest's (or default) value."""
        changes = {"test_timeout": test_timeout, "run_timeout": run_timeout, **others}
        limits = replace(self.limits, **{key: value for key, value in changes.items() if value})
        return replace(self, limits=limits)


def load_task(root: Path) -> Task:
    """Read the task at `root`: the manifest if there is one, else instances/*.json, else conventions."""
    root = root.resolve()
    if not root.is_dir():
        raise TaskError(f"{root}: not a folder")
    manifest_path = root / "evaluation" / MANIFEST_NAME
    manifest = _read_manifest(manifest_path) if manifest_path.is_file() else {}
    implementations = _implementations(root, manifest.get("implementations", {}), manifest_path)
    tests_dir = root / "tests"
    if not tests_dir.is_dir():
        raise TaskError(f"{tests_dir}: the task has no tests/ folder")
    _check_symlinks(root)
    instances = None
    guessed_modules = _guess_modules(implementations[-1].folder)
    if manifest:
        toggle = _toggle(manifest.get("toggle", {}), manifest_path)
        toggle_source: dict[str, Any] = {"origin": "manifest", "evidence": [f"evaluation/{MANIFEST_NAME}"]}
        source, suites = "manifest", _suites(manifest.get("suites"), manifest_path)
        modules = _manifest_modules(manifest.get("task", {}), toggle, implementations, guessed_modules)
        test_files = _test_files(root, suites)
    else:
        # Tasks written without concgrade in mind: infer the toggle from their own files, and read
        # instances/*.json leniently (a broken file means suites inferred from the runs, and a finding).
        from concgrade.task.conventions import infer_conventions  # it builds a Toggle: imported here, not at the top

        inferred = infer_conventions(root, implementations, guessed_modules)
        toggle, toggle_source, modules = inferred.toggle, inferred.source, inferred.modules
        instances = read_instances(root)
        source, suites = ("instances", instances.suites) if instances.usable else ("inferred", _empty_suites())
        test_files = ("tests",)  # instance entries are matched against what the runs collect
    if toggle.kind == "selection":
        # Each implementation runs its own files or -k: suites name tests by their paired form.
        suites = {name: canonical_entries(entries, toggle) for name, entries in suites.items()}
        if instances is not None and instances.usable:
            instances = replace(instances, suites=suites)
        _check_files_exist(root, selected_files(toggle))
    _check_has_tests(root, test_files)
    _check_test_sources(root, (*test_files, *selected_files(toggle)))
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
        limits=_limits(manifest.get("limits", {}), manifest_path),
        test_files=test_files,
        toggle_source=toggle_source,
        instances=instances,
        probes=read_probes(manifest.get("probes", []), manifest_path),
        constraints=_table(manifest.get("constraints", {}), manifest_path, "constraints"),
        manifest=manifest,
    )


def _empty_suites() -> dict[str, list[str]]:
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


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path}: invalid TOML: {exc}") from None


def _table(value: Any, path: Path, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TaskError(f"{path}: [{key}] must be a table")
    return value


def _implementations(root: Path, section: Any, manifest_path: Path) -> tuple[Implementation, ...]:
    section = _table(section, manifest_path, "implementations")
    found = []
    for name in ("before", "after"):
        relative = section.get(name, f"repository_{name}")
        folder = (root / str(relative)).resolve()
        if not folder.is_dir():
            raise TaskError(f"{folder}: missing {name} implementation folder (expected {root.name}/{relative}/)")
        if not folder.is_relative_to(root):
            raise TaskError(f"{manifest_path}: implementations.{name} points outside the task: {relative}")
        found.append(Implementation(name, name, folder))
    return tuple(found)


def _toggle(section: Any, manifest_path: Path) -> Toggle:
    section = _table(section, manifest_path, "toggle")
    kind = section.get("kind", "pythonpath")
    if kind not in TOGGLE_KINDS:
        raise TaskError(f"{manifest_path}: toggle.kind must be one of {', '.join(TOGGLE_KINDS)}, not {kind!r}")
    variable = section.get("variable")
    if kind == "env" and not (isinstance(variable, str) and variable.isidentifier()):
        raise TaskError(f"{manifest_path}: toggle.kind = 'env' needs toggle.variable, a variable name")
    option = section.get("option")
    if kind == "option" and not (isinstance(option, str) and option.startswith("-") and " " not in option):
        raise TaskError(f"{manifest_path}: toggle.kind = 'option' needs toggle.option, e.g. \"--repo\"")
    values = _table(section.get("values", {}), manifest_path, "toggle.values")
    selection = _table(section.get("selection", {}), manifest_path, "toggle.selection")
    for name, args in selection.items():
        if not isinstance(args, list) or not all(isinstance(a, str) and a for a in args):
            raise TaskError(f"{manifest_path}: toggle.selection.{name} must be a list of pytest arguments")
    if kind == "selection" and not {"before", "after"} <= set(selection):
        raise TaskError(f"{manifest_path}: toggle.kind = 'selection' needs toggle.selection.before and .after")
    return Toggle(
        kind=kind,
        variable=variable,
        values={str(k): str(v) for k, v in values.items()},
        pythonpath=bool(section.get("pythonpath", False)),
        option=option,
        selection={str(k): list(v) for k, v in selection.items()},
        path_value=bool(section.get("path_value", False)),
    )


def _suites(section: Any, manifest_path: Path) -> dict[str, list[str]]:
    if section is None:
        raise TaskError(f"{manifest_path}: no [suites] table (PASS_TO_PASS and FAIL_TO_PASS lists)")
    section = _table(section, manifest_path, "suites")
    unknown = set(section) - set(SUITES)
    if unknown:
        raise TaskError(f"{manifest_path}: unknown suite(s) {sorted(unknown)}; use {list(SUITES)}")
    suites = {}
    for name in SUITES:
        entries = section.get(name, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
            raise TaskError(f"{manifest_path}: suites.{name} must be a list of test files or node ids")
        suites[name] = [e.replace("\\", "/") for e in entries]
    return suites


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
    for path in root.rglob("*"):
        if any(part in IGNORED_DIRS for part in path.relative_to(root).parts):
            continue
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
        if any(
            not any(part in IGNORED_DIRS for part in found.relative_to(root).parts)
            for pattern in ("test_*.py", "*_test.py")
            for found in path.rglob(pattern)
        ):
            return
    raise TaskError(f"{root / test_files[0]}: no test files (test_*.py or *_test.py) to run")


def _check_test_sources(root: Path, test_files: tuple[str, ...]) -> None:
    """A test file that does not decode or parse is a malformed task, not a failing test."""
    for relative in test_files:
        path = root / relative
        paths = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for source in paths:
            if any(part in IGNORED_DIRS for part in source.relative_to(root).parts):
                continue
            try:
                text = source.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TaskError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
            try:
                compile(text, str(source), "exec", dont_inherit=True)
            except SyntaxError as exc:
                raise TaskError(f"{source}:{exc.lineno}: syntax error: {exc.msg}") from None


def _guess_modules(folder: Path) -> list[str]:
    """Top-level modules and packages of an implementation folder."""
    names = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix == ".py" and entry.stem != "__init__" and entry.stem != "conftest":
            names.append(entry.stem)
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            names.append(entry.name)
    return names


LIMIT_UNITS = {
    "test_timeout": "number of seconds",
    "run_timeout": "number of seconds",
    "memory_mb": "number of MiB",
    "max_tasks": "whole number of processes and threads",
    "cpu_seconds": "number of seconds",
    "file_size_mb": "number of MiB",
    "output_mb": "number of MiB",
}


def _limits(section: Any, manifest_path: Path) -> Limits:
    section = _table(section, manifest_path, "limits")
    unknown = sorted(set(section) - set(LIMIT_UNITS))
    if unknown:
        raise TaskError(f"{manifest_path}: unknown limit(s) {unknown}; use {sorted(LIMIT_UNITS)}")
    values: dict[str, Any] = {}
    for key, unit in LIMIT_UNITS.items():
        if key in section:
            value = section[key]
            whole = key == "max_tasks"
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or value <= 0
                or (whole and value != int(value))
            ):
                raise TaskError(f"{manifest_path}: limits.{key} must be a positive {unit}")
            values[key] = int(value) if whole else float(value)
    return Limits(**values)


def implementation_sources(folder: Path) -> dict[str, str]:
    """Every Python file of an implementation folder, by relative path (undecodable ones replaced)."""
    sources = {}
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if any(part in IGNORED_DIRS for part in relative.parts):
            continue
        sources[relative.as_posix()] = path.read_bytes().decode("utf-8", "replace")
    return sources
