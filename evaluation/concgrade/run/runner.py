"""Starts the graded pytest processes: each in a scratch copy of the task, in parallel, and collects what they left."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import concgrade
from concgrade.errors import TaskError
from concgrade.files import copy_tree, tree_digest
from concgrade.inside import protocol
from concgrade.run.integrity import changes, harness_hook_files, protected_digest
from concgrade.run.outputs import AttemptOutput, RunOutput
from concgrade.run.plan import RunSpec, pytest_arguments, run_environment
from concgrade.run.sandbox import RunLimits, Sandbox, prepare_sandbox
from concgrade.run.supervisor import EXIT_GRACE, supervise
from concgrade.task.model import Limits, Task

BOOT_SCRIPT = "_concgrade_boot.py"
# How an OSError for RLIMIT_FSIZE reads (EFBIG).
FILE_TOO_LARGE = "[Errno 27] File too large"
# Output of a benchmark process kept; the rest is cut.
OUTPUT_TAIL = 16 * 1024
# Reruns after crashes stop once the run has used this many times its per-process timeout.
RERUN_BUDGET = 3


def run_all(
    task: Task,
    specs: Sequence[RunSpec],
    jobs: int,
    on_done: Callable[[RunOutput], None] | None = None,
    sandbox: Sandbox | None = None,
) -> list[RunOutput]:
    """Run every spec, at most `jobs` at once; outputs come back in the order of `specs`."""
    sandbox = sandbox or prepare_sandbox(run_limits(task.limits))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_one, task, spec, sandbox) for spec in specs]
        # Report each run as it finishes (progress), but return them in the order of the specs.
        for future in as_completed(futures):
            if on_done and future.exception() is None:
                on_done(future.result())
        return [future.result() for future in futures]


def run_until_contradicted(
    task: Task,
    specs: Sequence[RunSpec],
    jobs: int,
    contradicted: Callable[[RunOutput], bool],
    on_done: Callable[[RunOutput], None] | None = None,
    sandbox: Sandbox | None = None,
) -> list[RunOutput]:
    """Run every spec like run_all, but once a run of an implementation is `contradicted`, its repeats not
    yet started are skipped: they cannot change the verdict. Outputs come back in the order of `specs`."""
    sandbox = sandbox or prepare_sandbox(run_limits(task.limits))
    stopped: set[str] = set()
    lock = threading.Lock()

    def run_unless_stopped(spec: RunSpec) -> RunOutput | None:
        with lock:
            if spec.name in stopped:
                return None
        output = run_one(task, spec, sandbox)
        if contradicted(output):
            with lock:
                stopped.add(spec.name)
        if on_done:
            on_done(output)
        return output

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(run_unless_stopped, specs))
    return [output for output in results if output is not None]


def run_limits(limits: Limits) -> RunLimits:
    cpu = limits.cpu_seconds or limits.run_timeout * (os.cpu_count() or 1)
    return RunLimits(
        memory_bytes=int(limits.memory_mb * 2**20),
        max_tasks=int(limits.max_tasks),
        cpu_seconds=max(1, math.ceil(cpu)),
        file_size_bytes=int(limits.file_size_mb * 2**20),
        output_bytes=int(limits.output_mb * 2**20),
    )


def run_one(task: Task, spec: RunSpec, sandbox: Sandbox | None = None) -> RunOutput:
    """Run the spec's tests to the end: a new process for the tests a dead one did not start, until all ran."""
    sandbox = sandbox or prepare_sandbox(run_limits(task.limits))
    scratch = Path(tempfile.mkdtemp(prefix=f"concgrade-{spec.name}-"))
    try:
        attempts: list[AttemptOutput] = []
        collected: list[str] = []
        started: set[str] = set()
        remaining: list[str] = []
        budget_ends = time.monotonic() + RERUN_BUDGET * spec.run_timeout
        while True:
            attempt = run_attempt(task, spec, sandbox, scratch, len(attempts), remaining)
            attempts.append(attempt)
            collected = collected or collected_ids(attempt.records)
            newly_started = protocol.started_nodeids(attempt.records) - started
            started |= newly_started
            remaining = [nodeid for nodeid in collected if nodeid not in started]
            if not remaining or not newly_started or time.monotonic() > budget_ends:
                break
        return RunOutput(
            name=spec.name,
            role=spec.implementation.role,
            toggle_env=spec.toggle_env,
            expected_folder=str((scratch / "task" / spec.folder_in_task).resolve()),
            expected_hashes=tree_digest(spec.implementation.folder, ".py"),
            attempts=attempts,
            hook_files=added_hook_files(task, spec),
            repeat=spec.repeat,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_attempt(
    task: Task, spec: RunSpec, sandbox: Sandbox, scratch: Path, index: int, node_ids: list[str]
) -> AttemptOutput:
    """One pytest process in a fresh scratch copy of the task (always at the same path, so imports compare)."""
    task_copy, shim, home = scratch / "task", scratch / "shim", scratch / "home"
    for folder in (task_copy, shim, home):
        shutil.rmtree(folder, ignore_errors=True)
    copy_task(task.root, task_copy)
    if spec.implementation.name == "candidate" or spec.substitute:
        replace_folder(spec.implementation.folder, task_copy / spec.folder_in_task)
    make_shim(shim)
    (home / "tmp").mkdir(parents=True)
    json_report = scratch / f"report-{index}.json"
    selection = None
    if node_ids:
        # One node id a line, read by pytest itself: no command line grows with the number of tests.
        selection_file = scratch / f"selection-{index}.txt"
        selection_file.write_text("\n".join(node_ids) + "\n", encoding="utf-8")
        selection = [f"@{selection_file}"]
    args = pytest_arguments(spec, None, json_report, task_copy, selection)
    # pytest's own faulthandler_timeout (from a task's ini file) would replace the plugin's per-test watchdog.
    args += ["-o", "faulthandler_timeout=0"]
    # The boot imported the installed plugins before pytest could mark them for assertion rewriting: pytest
    # warns about each, and a task whose ini says `filterwarnings = error` would fail to start.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    events = scratch / "probe-events"  # the cross-process probe's event files, when the manifest declares one
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir()
    env = run_environment(dict(os.environ), spec, task_copy, shim, home, process_events=events)
    # Only the shim is on the path at startup; the boot adds the implementation's folders once pytest is loaded.
    toggle_path = env["PYTHONPATH"].split(os.pathsep)[1:]
    env["PYTHONPATH"] = str(shim)
    env["PWD"] = str(task_copy)
    env.pop("OLDPWD", None)
    before = protected_digest(task_copy)
    attempt = supervise(
        index=index,
        command=[spec.interpreter or sys.executable, str(shim / BOOT_SCRIPT), *args],
        shim=shim,
        pythonpath=toggle_path,
        node_ids=node_ids,
        cwd=task_copy,
        env=env,
        scratch=scratch,
        sandbox=sandbox,
        run_timeout=spec.run_timeout,
        exit_grace=EXIT_GRACE,
        json_report=json_report,
    )
    attempt.changed_files = changes(before, protected_digest(task_copy)) + sources_changed(
        attempt.records, task_copy, before
    )
    attempt.limit_breaches += output_breaches(attempt, sandbox.limits)
    return attempt


def collected_ids(records: list[dict[str, Any]]) -> list[str]:
    record = protocol.first_of(records, "collected")
    return list(record.get("nodeids", [])) if record else []


def sources_changed(records: list[dict[str, Any]], task_copy: Path, before: dict[str, str]) -> list[str]:
    """Test and conftest files whose content, when pytest read them, was not the task's."""
    root = str(task_copy.resolve()) + os.sep
    found = []
    for record in protocol.of_type(records, "source"):
        if not str(record.get("file", "")).startswith(root):
            continue
        relative = str(record["file"])[len(root) :]
        if relative in before and before[relative] != record.get("sha256"):
            found.append(f"{relative} (different when pytest read it)")
    return found


def output_breaches(attempt: AttemptOutput, limits: RunLimits) -> list[str]:
    captured = sum(int(r.get("captured_chars", 0)) for r in protocol.of_type(attempt.records, "phase"))
    total = attempt.output_bytes + captured
    found = []
    if total > limits.output_bytes:
        found.append(
            f"output: the run wrote {total / 2**20:.1f} MiB (stdout, stderr and captured output), "
            f"over its limit of {limits.output_bytes / 2**20:g} MiB"
        )
    if attempt.dropped_records:
        found.append(f"output: {attempt.dropped_records} records beyond the channel's budget were dropped")
    too_large = sorted({str(r.get("nodeid")) for r in attempt.records if FILE_TOO_LARGE in str(r.get("longrepr", ""))})
    if too_large:
        # Python ignores SIGXFSZ: the write fails with OSError in the test, which names no limit by itself.
        found.append(
            f"file size: {', '.join(too_large[:3])} wrote past the limit of "
            f"{limits.file_size_bytes / 2**20:g} MiB per file (RLIMIT_FSIZE)"
        )
    return found


def added_hook_files(task: Task, spec: RunSpec) -> list[str]:
    """Files a candidate brings that the after implementation does not have and that would hook into pytest."""
    if spec.implementation.name != "candidate":
        return []
    known = set(harness_hook_files(task.implementation("after").folder))
    return [name for name in harness_hook_files(spec.implementation.folder) if name not in known]


@dataclass(frozen=True)
class ScratchRun:
    """A prepared scratch copy of the task for one implementation: where to run, and with which environment."""

    scratch: Path  # private to the harness: records and results go here, outside the task copy
    task_copy: Path
    env: dict[str, str]


@contextmanager
def scratch_run(task: Task, spec: RunSpec) -> Iterator[ScratchRun]:
    """Copy the task (the candidate in place of after), add the shim and a private home; removed afterwards.

    The benchmark's processes start from here; pytest runs prepare theirs in `run_attempt`, a fresh copy per process.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f"concgrade-{spec.name}-{spec.repeat}-"))
    try:
        task_copy = scratch / "task"
        copy_task(task.root, task_copy)
        if spec.implementation.name == "candidate" or spec.substitute:
            replace_folder(spec.implementation.folder, task_copy / spec.folder_in_task)
        shim = make_shim(scratch / "shim")
        home = scratch / "home"
        (home / "tmp").mkdir(parents=True)
        events = scratch / "probe-events"  # the cross-process probe's event files, when the manifest declares one
        events.mkdir()
        env = run_environment(dict(os.environ), spec, task_copy, shim, home, process_events=events)
        yield ScratchRun(scratch, task_copy, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def copy_task(source: Path, target: Path) -> None:
    """Copy the task into the scratch folder; a symlink leading outside the task is refused."""
    for path in source.rglob("*"):
        if path.is_symlink():
            resolved = path.resolve()
            if not resolved.is_relative_to(source):
                raise TaskError(f"{path}: symlink points outside the task ({resolved})")
    copy_tree(source, target)


def replace_folder(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    copy_tree(source, target)


def make_shim(folder: Path) -> Path:
    """The `concgrade` package, its start-up hook and the boot script, put first on the test process's path.

    The hook (`sitecustomize`) switches the cross-process probe on in every interpreter of the run
    where the run asks for it, and otherwise hands over to the environment's own sitecustomize.
    """
    folder.mkdir()
    package = Path(concgrade.__file__).parent
    (folder / "concgrade").symlink_to(package, target_is_directory=True)
    (folder / "sitecustomize.py").symlink_to(package / "inside" / "startup" / "sitecustomize.py")
    (folder / BOOT_SCRIPT).write_text(
        '"""Start a graded pytest process (see concgrade/inside/boot.py)."""\n'
        "if __name__ == '__main__':\n"
        "    from concgrade.inside.boot import main\n\n"
        "    main()\n",
        encoding="utf-8",
    )
    return folder


# Used by the benchmark (bench/measure.py): a plain process in its own session, killed as a group on its clock.
# Not yet the sandbox of pytest runs (no PID namespace, limits or stacks): see docs/isolation.md.
def run_process(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int | None, bool, float, str, str]:
    """Run a process in its own session; on the wall clock, kill its whole process group."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        kill_group(process.pid)
        process.wait()
        duration = time.monotonic() - started
        return (None if timed_out else process.returncode), timed_out, duration, tail(out), tail(err)


def kill_group(pgid: int) -> None:
    """Kill whatever is left of the run's process group (children that outlived pytest included)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(handle: Any) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - OUTPUT_TAIL))
    text = handle.read().decode("utf-8", "replace")
    return text if size <= OUTPUT_TAIL else f"[concgrade: first {size - OUTPUT_TAIL} bytes cut]\n{text}"


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
