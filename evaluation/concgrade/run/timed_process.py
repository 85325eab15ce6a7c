"""A benchmark's process, held like a test run: the boot, its cgroups, namespaces and user, killed with its tree."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from concgrade.inside import protocol
from concgrade.inside.protocol import MARKER_VARIABLE, BootConfig
from concgrade.run.cgroups import RunCgroup
from concgrade.run.kill import NO_ROOT, end_everything, leftover_processes
from concgrade.run.sandbox import Sandbox
from concgrade.run.scratch import ScratchRun
from concgrade.run.supervisor import exit_breaches, handover_pipe

# Output of a benchmark process kept; the rest is cut.
OUTPUT_TAIL = 16 * 1024


@dataclass
class TimedProcess:
    """How a benchmark process ended, and what it left."""

    exit_code: int | None
    timed_out: bool
    duration: float
    stdout: str
    stderr: str
    breaches: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


def run_process(
    run: ScratchRun, config: BootConfig, sandbox: Sandbox, timeout: float, uid: int | None, interpreter: str | None
) -> TimedProcess:
    """Start `config`'s entry through the boot, sandboxed like a test run; on the wall clock, kill it all."""
    cgroup = RunCgroup.create(sandbox.cgroups, sandbox.limits.memory_bytes, sandbox.limits.max_tasks)
    marker = uuid.uuid4().hex
    env = dict(run.env)
    if not sandbox.namespaced:
        env[MARKER_VARIABLE] = marker
    config = dataclasses.replace(
        config,
        marker_variable=None if sandbox.namespaced else MARKER_VARIABLE,
        private_proc=sandbox.mounts is not None,
    )
    boot_read = handover_pipe(protocol.handover(b"", config))
    paths = run.paths
    inner = [interpreter or sys.executable, str(paths.boot_script), str(boot_read)]
    command = sandbox.command(inner, paths.scratch, paths.shim, paths.task_copy, cgroup.procs_files(), uid)
    marker_bytes = f"{MARKER_VARIABLE}={marker}".encode()
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                command,
                cwd=paths.task_copy,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(boot_read,),
                start_new_session=True,
            )
        finally:
            os.close(boot_read)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        leftovers = []
        if not timed_out and not sandbox.namespaced:
            leftovers = leftover_processes(NO_ROOT, marker_bytes, cgroup.pids())
        end_everything(process, marker_bytes, cgroup.pids(), reaped=not timed_out)
        breaches = cgroup.breaches()
        cgroup.kill_and_remove()
        exit_code = None if timed_out else process.returncode
        breaches += exit_breaches(exit_code, sandbox)
        duration = time.monotonic() - started
        return TimedProcess(exit_code, timed_out, duration, tail(out), tail(err), breaches, leftovers)


def tail(handle: Any) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - OUTPUT_TAIL))
    text = handle.read().decode("utf-8", "replace")
    return text if size <= OUTPUT_TAIL else f"[concgrade: first {size - OUTPUT_TAIL} bytes cut]\n{text}"
