"""Starts the graded pytest processes: each in a scratch copy of the task, in parallel, and collects what they left."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace

from concgrade.files import tree_digest
from concgrade.inside import protocol
from concgrade.run.attempts import collected_ids, run_attempt
from concgrade.run.integrity import harness_hook_files
from concgrade.run.outputs import AttemptOutput, RunOutput
from concgrade.run.plan import RunSpec
from concgrade.run.sandbox import RunLimits, Sandbox, prepare_sandbox
from concgrade.run.scratch import RunPaths, new_scratch, remove_later
from concgrade.task.model import Limits, Task

# Reruns after crashes stop once the run has used this many times its per-process timeout.
RERUN_BUDGET = 3
# ... or once the same limit has ended this many processes in a row, each in the middle of a test.
SAME_LIMIT_IN_A_ROW = 3
# At most this many tests that outlived a default timeout get a second run (each costs up to its longer timeout).
SLOW_RETRIES = 3


def run_all(
    task: Task,
    specs: Sequence[RunSpec],
    jobs: int,
    on_done: Callable[[RunOutput], None] | None = None,
    sandbox: Sandbox | None = None,
    on_start: Callable[[], None] | None = None,
) -> list[RunOutput]:
    """Run every spec, at most `jobs` at once; outputs come back in the order of `specs`. `on_start` is
    called as each pytest process starts (from the thread that started it)."""
    sandbox = sandbox or prepare_sandbox(run_limits(task.limits))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_one, task, spec, sandbox, on_start) for spec in specs]
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
    on_start: Callable[[], None] | None = None,
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
        output = run_one(task, spec, sandbox, on_start)
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
        disk_bytes=int(limits.disk_mb * 2**20),
    )


def run_one(
    task: Task, spec: RunSpec, sandbox: Sandbox | None = None, on_start: Callable[[], None] | None = None
) -> RunOutput:
    """Run the spec's tests to the end: a new process for the tests a dead one did not start, until all ran.

    `task` (and a candidate in it) is the grade's snapshot: every process starts from it, reruns included.
    """
    sandbox = sandbox or prepare_sandbox(run_limits(task.limits))
    paths = new_scratch()
    try:
        attempts: list[AttemptOutput] = []
        collected: list[str] = []
        started: set[str] = set()
        remaining: list[str] = list(spec.selection)
        stopped = ""
        budget_ends = time.monotonic() + RERUN_BUDGET * spec.run_timeout
        while True:
            attempt = run_attempt(task.root, spec, sandbox, paths, len(attempts), remaining, on_start)
            attempts.append(attempt)
            collected = collected or collected_ids(attempt.records)
            newly_started = protocol.started_nodeids(attempt.records) - started
            started |= newly_started
            remaining = [nodeid for nodeid in collected if nodeid not in started]
            stopped = repeated_limit(attempts)
            # With first_failure the process stopped at a failure (or died in a test, which is one): no rerun.
            if spec.first_failure or not remaining or not newly_started or time.monotonic() > budget_ends or stopped:
                break
        if not spec.first_failure:
            attempts += slow_retries(task, spec, sandbox, paths, attempts, on_start)
        return RunOutput(
            name=spec.name,
            role=spec.implementation.role,
            toggle_env=spec.toggle_env,
            expected_folder=str((paths.task_copy / spec.folder_in_task).resolve()),
            expected_hashes=tree_digest(spec.implementation.folder),
            other_folders=[str((paths.task_copy / folder).resolve()) for folder in spec.other_folders],
            task_copy=str(paths.task_copy.resolve()),
            attempts=attempts,
            hook_files=added_hook_files(task, spec),
            repeat=spec.repeat,
            stopped=stopped if remaining else "",
        )
    finally:
        remove_later(paths.scratch)


def slow_retries(
    task: Task,
    spec: RunSpec,
    sandbox: Sandbox,
    paths: RunPaths,
    attempts: list[AttemptOutput],
    on_start: Callable[[], None] | None,
) -> list[AttemptOutput]:
    """A second run, each alone and with the spec's longer timeout, of the tests a default timeout stopped.

    A default timeout is the harness's guess, not the task's: a test that legitimately takes longer must not
    count as hung, and the threads it left running slow down (and time out) the tests after it in its process.
    """
    if spec.slow_test_timeout is None:
        return []
    timed_out = list(dict.fromkeys(n for attempt in attempts for n in protocol.timed_out_nodeids(attempt.records)))
    longer = replace(spec, test_timeout=spec.slow_test_timeout)
    retries: list[AttemptOutput] = []
    for nodeid in timed_out[:SLOW_RETRIES]:
        attempt = run_attempt(task.root, longer, sandbox, paths, len(attempts) + len(retries), [nodeid], on_start)
        attempt.slow_retry = spec.slow_test_timeout
        retries.append(attempt)
    return retries


def ending_limit(attempt: AttemptOutput) -> str:
    """The limit that ended a process in the middle of a test ("" if it ended otherwise)."""
    if protocol.first_of(attempt.records, "session_finish") is not None:
        return ""
    if attempt.ended_by != "exit":
        return {
            "deadlock": "a deadlock",
            "faulthandler": "the per-test watchdog (twice the test timeout)",
            "wall_clock": "the wall clock",
            "watchdog": attempt.limit_breaches[0].split(":")[0] + " limit" if attempt.limit_breaches else "a limit",
        }.get(attempt.ended_by, attempt.ended_by)
    if attempt.limit_breaches:
        return attempt.limit_breaches[0].split(":")[0] + " limit"
    return ""


def repeated_limit(attempts: list[AttemptOutput]) -> str:
    """Why the run stops: the same limit ended the last SAME_LIMIT_IN_A_ROW processes, each during a test."""
    if len(attempts) < SAME_LIMIT_IN_A_ROW:
        return ""
    limits = {ending_limit(attempt) for attempt in attempts[-SAME_LIMIT_IN_A_ROW:]}
    if len(limits) != 1 or "" in limits:
        return ""
    return f"not run: limit breached repeatedly ({limits.pop()} ended {SAME_LIMIT_IN_A_ROW} processes in a row)"


def added_hook_files(task: Task, spec: RunSpec) -> list[str]:
    """Files a candidate brings that the after implementation does not have and that would hook into pytest."""
    if spec.implementation.name != "candidate":
        return []
    known = set(harness_hook_files(task.implementation("after").folder))
    return [name for name in harness_hook_files(spec.implementation.folder) if name not in known]
