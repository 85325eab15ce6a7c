"""The plan of a grade: which pytest processes to start, with which environment and arguments (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from concgrade.task.model import Implementation, Limits, Task
from concgrade.task.selection import split_arguments, with_keyword

# Variables of the caller's environment that would change what a graded process runs, or tell it that it is
# graded (the harness's own, pytest's); the task's own variables come from its manifest (extra_env).
SCRUBBED_VARIABLES = ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "PYTHONBREAKPOINT")
SCRUBBED_PREFIXES = ("CONCGRADE_", "PYTEST_")


@dataclass(frozen=True)
class RunSpec:
    """One pytest process: an implementation, the folder it replaces in the scratch copy, and its toggle."""

    implementation: Implementation
    # Task-relative folder the run's implementation lives in, inside the scratch copy of the task.
    folder_in_task: str
    toggle_env: dict[str, str]  # relative paths are resolved against the scratch copy at run time
    test_files: tuple[str, ...]
    modules: tuple[str, ...]
    test_timeout: float
    run_timeout: float
    extra_args: tuple[str, ...] = ()  # pytest arguments that select the implementation (an option, `-k`)
    path_variables: tuple[str, ...] = ()  # toggle variables holding a task-relative path, resolved like PYTHONPATH
    substitute: bool = False  # copy the implementation into folder_in_task of the scratch copy
    interpreter: str | None = None  # the Python that runs pytest (a per-task virtualenv), else the harness's
    extra_env: dict[str, str] = field(default_factory=dict)  # further variables of every run (e.g. services)
    probes: tuple[str, ...] = ()  # the plugin's --concgrade-probe values (KIND=TARGET)
    # Task-relative folders of the other implementations in the scratch copy: reading them is recorded too.
    other_folders: tuple[str, ...] = ()
    cwd: str = ""  # task-relative folder pytest runs in (the cwd toggle: the implementation's own), else the root
    repeat: int = 0  # which repeat of this implementation (see repeats.py)
    stress_seed: int | None = None  # stress mode with this seed, or a plain run
    selection: tuple[str, ...] = ()  # node ids to run, in this order (empty: the test files, as collected)
    first_failure: bool = False  # stop at the first failing test (pytest -x), and start no process after it
    # With a default test_timeout (the task chose none): a test stopped by it runs again alone with this one.
    slow_test_timeout: float | None = None

    @property
    def process_targets(self) -> tuple[str, ...]:
        """Targets of the cross-process probe: switched on in every interpreter of the run."""
        return tuple(option.split("=", 1)[1] for option in self.probes if option.startswith("processes="))

    @property
    def name(self) -> str:
        return self.implementation.name


def plan_runs(task: Task) -> list[RunSpec]:
    """One run per implementation; a candidate replaces the after folder in its own scratch copy.

    Replacing the folder (rather than pointing the toggle elsewhere) keeps every toggle convention
    working for a candidate: PYTHONPATH, a named variable, or tests that import `repository_after.x`.
    With the package toggle every implementation is put in the after folder that the tests import.
    """
    after = task.implementation("after")
    specs = []
    for impl in task.implementations:
        substitute = impl.name == "candidate" or (task.toggle.kind == "package" and impl.folder != after.folder)
        home = after if substitute else impl
        folder_in_task = home.folder.relative_to(task.root).as_posix()
        arguments = task.toggle.pytest_args(impl.name, impl.role)
        selects = task.toggle.kind in ("selection", "cwd")
        files, options = split_arguments(arguments) if selects else ([], arguments)
        default_files = task.role_test_files.get(impl.role, task.test_files)
        if task.toggle.kind == "cwd":
            default_files = ()  # pytest's own default, from the implementation's folder
        specs.append(
            RunSpec(
                implementation=impl,
                folder_in_task=folder_in_task,
                toggle_env=task.toggle.environment(impl.name, impl.role, Path(folder_in_task)),
                test_files=tuple(f for f in (tuple(files) or default_files) if f != "."),
                modules=run_modules(task, folder_in_task),
                test_timeout=task.limits.test_timeout,
                run_timeout=task.limits.run_timeout,
                extra_args=tuple(with_keyword([*options, *task.role_test_options.get(impl.role, ())], task.keyword)),
                path_variables=(task.toggle.variable,) if task.toggle.path_value and task.toggle.variable else (),
                substitute=substitute,
                interpreter=task.interpreter,
                extra_env=dict(task.environment),
                probes=tuple(probe.option() for probe in task.probes),
                other_folders=other_folders(task, folder_in_task),
                cwd=folder_in_task if task.toggle.kind == "cwd" else "",
                slow_test_timeout=slow_test_timeout(task.limits),
            )
        )
    return specs


# A slow test's second chance gets this share of the run's wall clock: its watchdog (twice it) still ends first.
SLOW_TEST_SHARE = 1 / 3


def slow_test_timeout(limits: Limits) -> float | None:
    """The per-test timeout of a second run of a test that outlived the default one; None where the task (or
    the command line) chose test_timeout, whose timeouts count as they are."""
    if limits.test_timeout_declared:
        return None
    longer = limits.run_timeout * SLOW_TEST_SHARE
    return longer if longer > limits.test_timeout else None


def other_folders(task: Task, folder_in_task: str) -> tuple[str, ...]:
    """The implementation folders a run's scratch copy holds besides its own (a candidate's copy has no after)."""
    folders = []
    for impl in task.implementations:
        if impl.name == "candidate" or not impl.folder.is_relative_to(task.root):
            continue
        relative = impl.folder.relative_to(task.root).as_posix()
        if relative != folder_in_task and relative not in folders:
            folders.append(relative)
    return tuple(folders)


def plan_variant(task: Task, name: str, folder: Path) -> RunSpec:
    """A run of `folder` graded like after, in the after's place of its scratch copy (as a candidate is):
    how a mutant, the after with some files rewritten, is run by the same runner and sandbox."""
    spec = next(spec for spec in plan_runs(task.with_candidate(folder)) if spec.name == "candidate")
    return replace(spec, implementation=Implementation(name, "after", folder.resolve()))


def run_modules(task: Task, folder_in_task: str) -> tuple[str, ...]:
    """The modules a run proves; with a selection toggle, tests that import both packages are fine, so
    `repository_after.x` is not held against the before run (its own `repository_before.x` still is proved)."""
    if task.toggle.kind != "selection":
        return task.modules
    others = {impl.folder.relative_to(task.root).as_posix() for impl in task.implementations} - {folder_in_task}
    return tuple(module for module in task.modules if module.split(".")[0] not in others)


def pytest_arguments(
    spec: RunSpec, json_report: Path, task_copy: Path, selection: list[str] | None = None
) -> list[str]:
    """The command-line arguments of `python -m pytest` for one run (`selection` replaces the test files)."""
    args = [
        *(selection or spec.test_files),
        *spec.extra_args,
        "--rootdir",
        str(task_copy),
        # The entry-point copy of the plugin (if concgrade is installed) is blocked so that only
        # the harness's own copy, handed to pytest by the boot, runs.
        "-p",
        "no:concgrade",
        "-p",
        "no:cacheprovider",
        "--json-report",
        "--json-report-file",
        str(json_report),
        "--json-report-omit",
        "collectors",
        "log",
        "keywords",
        "streams",
        "--timeout",
        f"{spec.test_timeout:g}",
        "--timeout-method",
        "signal",
        "-q",
        "--no-header",
    ]
    for module in spec.modules:
        args += ["--concgrade-module", module]
    for option in spec.probes:
        args += ["--concgrade-probe", option]
    if spec.stress_seed is not None:
        args += ["--concgrade-stress", str(spec.stress_seed)]
    if spec.first_failure:
        args.append("--exitfirst")
    return args


def run_environment(
    base: dict[str, str],
    spec: RunSpec,
    task_copy: Path,
    shim: Path,
    home: Path,
    private_tmp: bool = False,
) -> dict[str, str]:
    """The environment of one run: the caller's, scrubbed, with the toggle and the plugin's path.

    `private_tmp`: /tmp is the run's own (a mount namespace), so TMPDIR points there; else into its home.
    """
    env = {
        key: value
        for key, value in base.items()
        if key not in SCRUBBED_VARIABLES and not key.startswith(SCRUBBED_PREFIXES)
    }
    env.update(spec.extra_env)
    for key, value in spec.toggle_env.items():
        env[key] = str(task_copy / value) if key == "PYTHONPATH" or key in spec.path_variables else value
    # The shim holds only `concgrade`; it comes first so that the code under test cannot shadow it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH", "")]))
    env["HOME"] = str(home)
    env["TMPDIR"] = "/tmp" if private_tmp else str(home / "tmp")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
