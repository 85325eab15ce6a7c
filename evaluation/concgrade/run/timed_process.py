"""A timed child process without pytest's supervision: the benchmark's, in its own session, killed as a group."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from concgrade.run.kill import kill_group

# Output of a benchmark process kept; the rest is cut.
OUTPUT_TAIL = 16 * 1024


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


def tail(handle: Any) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - OUTPUT_TAIL))
    text = handle.read().decode("utf-8", "replace")
    return text if size <= OUTPUT_TAIL else f"[concgrade: first {size - OUTPUT_TAIL} bytes cut]\n{text}"
