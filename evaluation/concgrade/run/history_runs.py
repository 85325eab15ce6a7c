"""The recorded runs of a declared history, and the model process that judges them, in the sandbox of a pytest run.

A recording is one supervised process in a fresh scratch folder of the task, started by the boot (cgroups,
limits, PID and mount namespaces, its own user, the audit hook, wall clock, stacks, the whole tree killed at
the end) with the history driver in pytest's place; the history comes back only as signed records on the
records channel. The model is the reference implementation served by a process started the same way
(history_replay), never the candidate.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.files import tree_digest
from concgrade.inside import protocol
from concgrade.inside.history_spec import plan_calls
from concgrade.inside.protocol import MARKER_VARIABLE, BootConfig
from concgrade.run.cgroups import RunCgroup
from concgrade.run.history_model import RemoteModel
from concgrade.run.integrity import import_proof
from concgrade.run.outputs import AttemptOutput
from concgrade.run.plan import RunSpec, run_environment
from concgrade.run.sandbox import Sandbox
from concgrade.run.scratch import RunPaths, new_scratch, prepare, scratch_run
from concgrade.run.supervisor import EXIT_GRACE, Launch, handover_pipe, supervise
from concgrade.task.histories import HistorySpec
from concgrade.task.model import Task

DRIVER, MODEL_SERVER = protocol.PROGRAMS
# Seconds a recording may take beyond its declared timeout: start, import, planning and sending the records.
RECORDING_GRACE = 30.0
STDERR_SHOWN = 2_000  # characters of the driver's stderr kept with a failed recording


@dataclass(frozen=True)
class RecordedRun:
    """One recorded run: the history as the driver sent it (`history`, ready for history_from_json), or why not."""

    implementation: str
    seed: int
    history: dict[str, Any] | None
    problem: str = ""  # why the recording cannot be judged ("" when it can)
    tampered: bool = False  # the problem is a sign of interference (forged lines, a history altered)
    process: dict[str, Any] = field(default_factory=dict)  # how the process ended, its time, limits, stderr
    imported: dict[str, Any] | None = None  # the target's module file and hash, with `expected`

    @property
    def stress(self) -> dict[str, Any] | None:
        return (self.history or {}).get("stress")


def record_history(task: Task, spec: RunSpec, sandbox: Sandbox, declared: HistorySpec, seed: int) -> RecordedRun:
    """Record `declared` once on `spec`'s implementation with `seed`, in a fresh scratch folder, supervised."""
    paths = new_scratch()
    try:
        uid = sandbox.run_uid()
        out = prepare(paths, task.root, spec, uid)
        task_copy = paths.task_copy
        folder = task_copy / spec.folder_in_task
        env, pythonpath = boot_environment(spec, paths, sandbox)
        child = declared.child_spec(seed, task_copy)
        child["yield_folders"] = [os.path.realpath(folder) + os.sep]  # the whole implementation, not one module
        spec_path = paths.scratch / "h.json"
        spec_path.write_text(json.dumps(child), encoding="utf-8")
        spec_path.chmod(0o644)  # read by the driver, which may run as a user of its own
        config = program_config(paths, pythonpath, sandbox, spec, out, DRIVER, [str(spec_path)])
        launch = Launch(spec.interpreter or sys.executable, paths, env, config, [], None, uid)
        opened = time.monotonic_ns()
        attempt = supervise(0, launch, sandbox, declared.timeout_seconds + RECORDING_GRACE, EXIT_GRACE)
        closed = time.monotonic_ns()
        graded = tree_digest(spec.implementation.folder, ".py")
        return assemble(
            spec.name,
            seed,
            attempt,
            (opened, closed),
            lambda found: import_proof(found, folder, graded, task_copy),
            child,
        )
    finally:
        shutil.rmtree(paths.scratch, ignore_errors=True)


def boot_environment(spec: RunSpec, paths: RunPaths, sandbox: Sandbox) -> tuple[dict[str, str], list[str]]:
    """The run's environment with only the shim on PYTHONPATH, and the path the boot adds once it has started:
    the toggle's entries, then the implementation folder (a history's target is a module of it, whatever the toggle)."""
    task_copy = paths.task_copy
    env = run_environment(dict(os.environ), spec, task_copy, paths.shim, paths.home, sandbox.private_tmp)
    toggle_path = env["PYTHONPATH"].split(os.pathsep)[1:]
    folder = str(task_copy / spec.folder_in_task)
    env["PYTHONPATH"] = str(paths.shim)
    env["PWD"] = str(task_copy)
    env.pop("OLDPWD", None)
    return env, [*toggle_path, *([folder] if folder not in toggle_path else [])]


def program_config(
    paths: RunPaths, pythonpath: list[str], sandbox: Sandbox, spec: RunSpec, out: Path, program: str, args: list[str]
) -> BootConfig:
    """The boot's configuration for a harness program (the driver, the model server) on `spec`'s implementation."""
    private = ("/tmp", "/dev/shm") if sandbox.private_tmp else ()
    return BootConfig(
        shim=str(paths.shim),
        pythonpath=pythonpath,
        rlimits={name: list(pair) for name, pair in sandbox.rlimits.items()},
        pytest_args=args,
        implementation_dirs=[str(paths.task_copy / spec.folder_in_task)] if sandbox.audit_hook else [],
        writable=[str(folder) for folder in (*paths.run_folders(), out, *private)],
        protected=[str(paths.scratch)],
        harness_dirs=[str(paths.shim)],
        program=program,
    )


Prove = Callable[[dict[str, Any] | None], dict[str, Any] | None]


def assemble(
    name: str,
    seed: int,
    attempt: AttemptOutput,
    lifetime: tuple[int, int],
    prove: Prove,
    child: dict[str, Any] | None = None,
) -> RecordedRun:
    """The driver's records as one history, or the reason there is none (pure, given the attempt)."""
    process = process_info(attempt)

    def failed(problem: str, tampered: bool = False, imported: dict[str, Any] | None = None) -> RecordedRun:
        return RecordedRun(name, seed, None, problem, tampered, process, imported)

    if attempt.forged_lines:
        count = len(attempt.forged_lines)
        return failed(f"{count} line(s) on the records channel were not signed by the driver (forged?)", True)
    if attempt.limit_breaches:
        return failed(f"the recording broke a limit: {'; '.join(attempt.limit_breaches)}")
    if attempt.ended_by != "exit":
        return failed(f"the recording ran past its {attempt.duration:.0f}s and was killed ({attempt.ended_by})")
    history, problem = history_of(attempt.records)
    if history is None:
        last = (attempt.stderr_tail.strip().splitlines() or [""])[-1]
        detail = problem or f"the driver process {attempt.exit_description} without a history"
        return failed(f"{detail}: {last}".rstrip(": "))
    if history.get("seed") != seed:
        return failed(f"the history says seed {history.get('seed')!r}, not the {seed} it was recorded with", True)
    imported = prove(history.get("imported"))
    if not history.get("ok"):
        error = history.get("error") or "no error given"
        return failed(f"the recording failed during {history.get('phase', '?')}: {error}", imported=imported)
    if imported is not None and not imported.get("expected"):
        return failed(
            f"the history recorded code from outside the implementation: {imported.get('file')}", True, imported
        )
    tries = history.get("start_failures")
    if not history.get("operations") and isinstance(tries, list) and tries:
        # The driver tried its start barrier again and again and no call was made: a failed recording, whose
        # reason the driver gives (a thread that raised before its first call; threads not scheduled in time).
        return failed(
            f"no thread could start its calls in {len(tries)} tries: {str(tries[-1])[:300]}", imported=imported
        )
    wrong = outside_lifetime(history, lifetime) or (not_as_planned(history, child) if child is not None else "")
    if wrong:
        return failed(f"{wrong} (altered by the code under test?)", True, imported)
    return RecordedRun(name, seed, history, process=process, imported=imported)


def history_of(records: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
    """The driver's run record with its operations put back, from the channel's records; or (None, why not)."""
    header = protocol.first_of(records, "history")
    if header is None:
        return None, ""
    operations: list[Any] = []
    for chunk in protocol.of_type(records, "history_calls"):
        if chunk.get("first") != len(operations) or not isinstance(chunk.get("operations"), list):
            return None, "the recorded history arrived out of order"
        operations.extend(chunk["operations"])
    run = header.get("run")
    if not isinstance(run, dict):
        return None, "the driver's record is not an object"
    if header.get("operations") != len(operations):
        return None, f"the recorded history is incomplete: {len(operations)} of {header.get('operations')} operations"
    return {**run, "operations": operations}, ""


def outside_lifetime(history: dict[str, Any], lifetime: tuple[int, int]) -> str:
    """A history whose calls are not inside the driver's window, and the window inside the process's life, was
    not recorded as the driver records (CLOCK_MONOTONIC is one clock for every process of the machine)."""
    opened, closed = lifetime
    try:
        begin, end = (int(value) for value in history["window"])
        moments = [int(op["invoked"]) for op in history["operations"]]
        moments += [int(op["responded"]) for op in history["operations"] if op.get("responded") is not None]
    except (KeyError, TypeError, ValueError):
        return "the recorded history has no valid time window"
    if not opened <= begin <= end <= closed:
        return "the recorded history's window is not inside the process's lifetime"
    if moments and not begin <= min(moments) <= max(moments) <= end:
        return "recorded calls lie outside the driver's window"
    return ""


def not_as_planned(history: dict[str, Any], child: dict[str, Any]) -> str:
    """Every thread must have recorded the calls the seed plans, in order, each once; fewer only where it stopped
    (the run's timeout, or a call that raised). Declared operations are planned here too, as the driver plans them;
    an operations hook is the task's code, so its calls are only counted."""
    threads, count = int(child["threads"]), int(child["operations_per_thread"])
    by_client: dict[int, list[dict[str, Any]]] = {client: [] for client in range(threads)}
    for op in history["operations"]:
        if op.get("client") not in by_client:
            return f"a recorded call names thread {op.get('client')!r}, which the run does not have"
        by_client[op["client"]].append(op)
    idents = {client: {op.get("thread") for op in ops} for client, ops in by_client.items() if ops}
    if not child.get("asyncio") and idents:
        if any(len(found) != 1 for found in idents.values()) or len(set().union(*idents.values())) != len(idents):
            return "the calls were not made by one thread per client"
    plans = plan_calls(child) if not child.get("operations_hook") else None
    for client, recorded in by_client.items():
        planned = count if plans is None else len(plans[client])
        if len(recorded) > planned:
            return f"thread {client} recorded {len(recorded)} calls, more than the {planned} planned"
        if plans is not None:
            for op, (method, args) in zip(recorded, plans[client], strict=False):
                if (op.get("method") or "", _canonical(op.get("args"))) != (method, _canonical(args)):
                    return f"thread {client} recorded {op.get('method')}{tuple(op.get('args') or ())} where the seed plans {method}{tuple(args)}"
        stopped = history.get("timed_out") or (recorded and "raised" in recorded[-1])
        if len(recorded) < planned and not stopped:
            return f"thread {client} recorded {len(recorded)} of the {planned} calls planned, and did not stop"
    return ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def process_info(attempt: AttemptOutput) -> dict[str, Any]:
    return {
        "ended_by": attempt.ended_by,
        "exit": attempt.exit_description,
        "duration_seconds": round(attempt.duration, 3),
        "limit_breaches": list(attempt.limit_breaches),
        "leftovers": list(attempt.leftovers),
        "stderr_tail": attempt.stderr_tail[-STDERR_SHOWN:],
        "stacks": attempt.stacks[-STDERR_SHOWN:],
    }


@contextmanager
def reference_model(
    task: Task, spec: RunSpec, sandbox: Sandbox, declared: HistorySpec, seed: int, strategy: str = "auto"
) -> Iterator[RemoteModel]:
    """The sequential model of `declared`: `spec`'s implementation (the reference) served by a boot-started process
    in its own scratch folder, cgroups, PID and mount namespaces, with the run's limits; killed with its tree on exit.

    `strategy`: how the server keeps states ("auto": pickled where the object pickles, else replayed).
    ModelUnavailable when it cannot start (the reference does not import, or its constructor fails).
    """
    uid = sandbox.run_uid()
    with scratch_run(task, spec, uid, sandbox.private_tmp) as prepared:
        paths = prepared.paths
        env, pythonpath = boot_environment(spec, paths, sandbox)
        spec_path = paths.scratch / "m.json"
        child = {**declared.child_spec(seed, paths.task_copy), "strategy": strategy}
        spec_path.write_text(json.dumps(child), encoding="utf-8")
        spec_path.chmod(0o644)
        cgroup = RunCgroup.create(sandbox.cgroups, sandbox.limits.memory_bytes, sandbox.limits.max_tasks)
        config = program_config(paths, pythonpath, sandbox, spec, prepared.out, MODEL_SERVER, [str(spec_path)])
        if not sandbox.namespaced:
            env = {**env, MARKER_VARIABLE: uuid.uuid4().hex}
        boot_read = handover_pipe(protocol.handover(b"", config))
        inner = [spec.interpreter or sys.executable, str(paths.boot_script), str(boot_read)]
        command = sandbox.command(inner, paths.scratch, paths.shim, paths.task_copy, cgroup.procs_files(), uid)
        try:
            try:
                model = RemoteModel(spec_path, paths.task_copy, env, launcher=command, pass_fds=(boot_read,))
            finally:
                os.close(boot_read)  # the model's process holds it now
            with model:
                yield model
        finally:
            cgroup.kill_and_remove()
