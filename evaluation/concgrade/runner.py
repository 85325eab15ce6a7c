"""Starts the graded pytest processes: each in a scratch copy of the task, in parallel, and collects what they left."""

from __future__ import annotations

import json
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import concgrade
from concgrade.errors import TaskError
from concgrade.plan import RunSpec, pytest_arguments, run_environment
from concgrade.task import IGNORED_DIRS, Task

# Output of a test process kept for the report; the rest is cut.
OUTPUT_TAIL = 16 * 1024


@dataclass
class RunOutput:
    """Everything one pytest process left behind, read back before its scratch folder is removed."""

    name: str
    role: str
    command: list[str]
    toggle_env: dict[str, str]
    exit_code: int | None
    timed_out: bool
    duration: float
    records: list[dict[str, Any]]
    json_report: dict[str, Any] | None
    stdout_tail: str
    stderr_tail: str
    expected_folder: str  # where the implementation should be imported from (inside the scratch copy)
    expected_hashes: dict[str, str] = field(default_factory=dict)  # task-relative file -> sha256 of the source
    repeat: int = 0


def run_all(
    task: Task, specs: Sequence[RunSpec], jobs: int, on_done: Callable[[RunOutput], None] | None = None
) -> list[RunOutput]:
    """Run every spec, at most `jobs` at once; outputs come back in the order of `specs`."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_one, task, spec) for spec in specs]
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
) -> list[RunOutput]:
    """Run every spec like run_all, but once a run of an implementation is `contradicted`, its repeats not
    yet started are skipped: they cannot change the verdict. Outputs come back in the order of `specs`."""
    stopped: set[str] = set()
    lock = threading.Lock()

    def run_unless_stopped(spec: RunSpec) -> RunOutput | None:
        with lock:
            if spec.name in stopped:
                return None
        output = run_one(task, spec)
        if contradicted(output):
            with lock:
                stopped.add(spec.name)
        if on_done:
            on_done(output)
        return output

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(run_unless_stopped, specs))
    return [output for output in results if output is not None]


@dataclass(frozen=True)
class ScratchRun:
    """A prepared scratch copy of the task for one implementation: where to run, and with which environment."""

    scratch: Path  # private to the harness: records and results go here, outside the task copy
    task_copy: Path
    env: dict[str, str]


@contextmanager
def scratch_run(task: Task, spec: RunSpec) -> Iterator[ScratchRun]:
    """Copy the task (the candidate in place of after), add the shim and a private home; removed afterwards.

    Every process that runs code of an implementation (pytest runs, benchmark repeats) starts from here.
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


def run_one(task: Task, spec: RunSpec) -> RunOutput:
    """One pytest process in its own scratch copy; the scratch folder is removed afterwards."""
    with scratch_run(task, spec) as prepared:
        scratch, task_copy, env = prepared.scratch, prepared.task_copy, prepared.env
        records, json_report = scratch / "records.jsonl", scratch / "report.json"
        command = [
            spec.interpreter or sys.executable,
            "-m",
            "pytest",
            *pytest_arguments(spec, records, json_report, task_copy),
        ]
        exit_code, timed_out, duration, stdout, stderr = run_process(command, task_copy, env, spec.run_timeout)
        return RunOutput(
            name=spec.name,
            role=spec.implementation.role,
            command=command,
            toggle_env=spec.toggle_env,
            exit_code=exit_code,
            timed_out=timed_out,
            duration=duration,
            records=read_records(records),
            json_report=read_json(json_report),
            stdout_tail=stdout,
            stderr_tail=stderr,
            expected_folder=str((task_copy / spec.folder_in_task).resolve()),
            expected_hashes=hash_folder(spec.implementation.folder),
            repeat=spec.repeat,
        )


def copy_task(source: Path, target: Path) -> None:
    """Copy the task into the scratch folder; a symlink leading outside the task is refused."""
    for path in source.rglob("*"):
        if path.is_symlink():
            resolved = path.resolve()
            if not resolved.is_relative_to(source):
                raise TaskError(f"{path}: symlink points outside the task ({resolved})")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*IGNORED_DIRS), symlinks=True)


def replace_folder(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*IGNORED_DIRS), symlinks=True)


def make_shim(folder: Path) -> Path:
    """A folder holding only the `concgrade` package and its start-up hook, put first on the test process's path.

    The hook (`sitecustomize`) switches the cross-process probe on in every interpreter of the run
    where the run asks for it, and otherwise hands over to the environment's own sitecustomize.
    """
    folder.mkdir()
    package = Path(concgrade.__file__).parent
    (folder / "concgrade").symlink_to(package, target_is_directory=True)
    (folder / "sitecustomize.py").symlink_to(package / "startup" / "sitecustomize.py")
    return folder


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


def read_records(path: Path) -> list[dict[str, Any]]:
    """The plugin's JSON lines; a line cut short by a crash is dropped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def hash_folder(folder: Path) -> dict[str, str]:
    """sha256 of every Python file of an implementation, by path relative to the folder."""
    import hashlib

    hashes = {}
    for path in sorted(folder.rglob("*.py")):
        if not any(part in IGNORED_DIRS for part in path.relative_to(folder).parts):
            hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes
