"""What a task declares: its implementations, toggle, suites and limits (the model; loaders fill it in)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.task.histories import HistorySpec
from concgrade.task.probes import DeclaredProbe
from concgrade.task.toggle import Toggle
from concgrade.task.workloads import Workload

P2P, F2P = "PASS_TO_PASS", "FAIL_TO_PASS"
SUITES = (P2P, F2P)
DEFAULT_TEST_TIMEOUT = 20.0
DEFAULT_RUN_TIMEOUT = 300.0
# Resource limits of each run (one pytest process and everything it starts); see run/sandbox.py.
DEFAULT_MEMORY_MB = 4096
DEFAULT_MAX_TASKS = 1024  # processes plus threads
DEFAULT_FILE_SIZE_MB = 1024
DEFAULT_OUTPUT_MB = 16
DEFAULT_DISK_MB = 512


@dataclass(frozen=True)
class InstanceFile:
    """An instances file as read: its suites when usable, else why not."""

    path: str | None  # relative to the task folder
    status: str  # "valid", "missing", "empty" or "invalid"
    suites: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in SUITES})
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.status == "valid"


@dataclass(frozen=True)
class Limits:
    test_timeout: float = DEFAULT_TEST_TIMEOUT
    run_timeout: float = DEFAULT_RUN_TIMEOUT
    memory_mb: float = DEFAULT_MEMORY_MB
    max_tasks: int = DEFAULT_MAX_TASKS
    cpu_seconds: float | None = None  # None: the run timeout times the number of cores
    file_size_mb: float = DEFAULT_FILE_SIZE_MB
    output_mb: float = DEFAULT_OUTPUT_MB
    disk_mb: float = DEFAULT_DISK_MB  # the run's private temporary folder, and what it adds to its scratch copy
    # Whether the task (its manifest, its own pytest configuration or documented command) or the command line
    # chose test_timeout: a default one is the harness's guess, so a test that outlives it runs again alone with
    # more time before its timeout counts (run/runner.py). The source says which, for the report.
    test_timeout_declared: bool = False
    test_timeout_source: str = ""


# Files that a folder holding no implementation still often has (a placeholder, an empty package marker).
PLACEHOLDERS = frozenset({".gitkeep", ".keep", ".gitignore", "__init__.py", "README.md", "README"})


@dataclass(frozen=True)
class Implementation:
    """One implementation to grade: its name, the role it is graded as, and its folder."""

    name: str
    role: str  # "before" or "after": what the suites expect of it
    folder: Path

    @property
    def has_code(self) -> bool:
        """Whether the folder holds anything but placeholders (absent, empty, `.gitkeep`, `__init__.py`: no)."""
        if not self.folder.is_dir():
            return False
        for path in self.folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.name not in PLACEHOLDERS:
                return True
            if path.name == "__init__.py" and path.stat().st_size and path.read_bytes().strip():
                return True  # a package whose code lives in __init__.py
        return False


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
    test_files: tuple[str, ...]  # task-relative paths of the test files the runs execute ("." : pytest's default)
    # Where the toggle came from: {"origin": "manifest" | "inferred" | "default", "evidence": [...]}.
    toggle_source: dict[str, Any] = field(default_factory=lambda: {"origin": "default", "evidence": []})
    instances: InstanceFile | None = None  # the instances/*.json file as read (tasks without a manifest)
    interpreter: str | None = None  # the Python that runs the tests (a per-task virtualenv), else the harness's
    # The interpreter's version, the one the task asked for (its Dockerfile) and a note when they differ.
    python: dict[str, Any] | None = None
    environment: dict[str, str] = field(default_factory=dict)  # extra variables for every run (e.g. services)
    probes: tuple[DeclaredProbe, ...] = ()  # the manifest's [[probes]], applied around every test
    constraints: dict[str, Any] = field(default_factory=dict)  # [constraints]: gate checks on the after's source
    workloads: tuple[Workload, ...] = ()  # the manifest's [[workloads]], timed by the benchmark phase
    # Where the documented commands of before and after run different tests: each role's (test_files otherwise).
    role_test_files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The `-k` / `-m` expressions each role's documented command selects its tests with (`-k "not Baseline"`).
    role_test_options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    histories: tuple[HistorySpec, ...] = ()  # the manifest's [[histories]], recorded and checked after the tests
    keyword: str | None = None  # `-k EXPR` of the command line: only the matching tests run (a partial grade)
    # The manifest's [mutants] table as written (None: absent); the mutation phase validates it against the
    # operator catalogue, which lives above this stage (concgrade.mutation.phase.mutants_policy).
    mutants: dict[str, Any] | None = None

    def implementation(self, name: str) -> Implementation:
        return next(impl for impl in self.implementations if impl.name == name)

    @property
    def greenfield(self) -> bool:
        """Written from scratch: the before folder is absent, empty or holds only placeholders (no code)."""
        return not self.implementation("before").has_code

    @property
    def roles_run_different_tests(self) -> bool:
        """The documented commands of before and after run different tests (other files, another -k)."""
        options = self.role_test_options
        return bool(self.role_test_files) or options.get("before", ()) != options.get("after", ())

    def with_candidate(self, folder: Path) -> Task:
        """The same task with a third implementation graded like after (e.g. a model's refactor)."""
        folder = folder.resolve()
        if not folder.is_dir():
            raise TaskError(f"{folder}: the candidate folder does not exist")
        candidate = Implementation("candidate", "after", folder)
        return replace(self, implementations=(*self.implementations, candidate))

    def with_keyword(self, expression: str | None) -> Task:
        """The same task with only the tests a pytest `-k` expression selects (None: all of them)."""
        return replace(self, keyword=expression)

    def with_environment(
        self, interpreter: str | None, environment: dict[str, str], python: dict[str, Any] | None = None
    ) -> Task:
        """The same task run by another interpreter and/or with extra variables (services it needs)."""
        return replace(
            self,
            interpreter=interpreter,
            environment={**self.environment, **environment},
            python=python if python is not None else self.python,
        )

    def with_limits(self, test_timeout: float | None, run_timeout: float | None, **others: float | None) -> Task:
        """The same task with limits from the command line; a None leaves the task's (or default) value."""
        changes: dict[str, Any] = {"test_timeout": test_timeout, "run_timeout": run_timeout, **others}
        limits = replace(self.limits, **{key: value for key, value in changes.items() if value})
        if test_timeout:
            limits = replace(limits, test_timeout_declared=True, test_timeout_source="the command line")
        return replace(self, limits=limits)


def entry_matches(entry: str, nodeid: str) -> bool:
    """A suite entry (file, class, node id, bare test name, or `Class::test` without its file) matches a node id."""
    if nodeid == entry or nodeid.startswith(entry + "::") or nodeid.startswith(entry + "["):
        return True
    if "/" not in entry and "::" not in entry:  # a bare test name, as some instance files carry
        name = nodeid.rsplit("::", 1)[-1]
        return name == entry or name.split("[", 1)[0] == entry
    if is_class_qualified(entry):  # `TestFoo::test_bar`: the tail of a node id, whatever file holds it
        return nodeid.endswith("::" + entry) or ("::" + entry + "[") in nodeid
    return False


def is_class_qualified(entry: str) -> bool:
    """`TestFoo::test_bar` (or `TestFoo`'s nested classes): names inside a file, without the file."""
    head = entry.split("::", 1)[0]
    return "::" in entry and "/" not in head and not head.endswith(".py")
