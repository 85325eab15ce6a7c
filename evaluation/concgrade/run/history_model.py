"""The harness's side of a sequential model served by a process that runs the reference implementation.

The checker (grade/linearizability.py) calls `init`, `step`, `key` and `describe` as on any model;
each step is one request to `python -m concgrade.inside.history_replay SPEC.json` on a pipe (about
50 µs on a loaded 2-core machine). States are the server's ids, equal for equal states, so the
checker's memo needs nothing else. The process is started in its own session (and under the
sandbox's wrapper when given), answers within `step_timeout` or is killed, and is killed on close.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

STEP_TIMEOUT = 30.0  # seconds one answer of the reference may take
STATE_NOT_COPYABLE = "state_not_copyable"


class ModelUnavailable(Exception):
    """The model process failed, or stopped answering: the check cannot be evaluated (never a pass)."""

    def __init__(self, message: str, kind: str = "failed") -> None:
        super().__init__(message)
        self.kind = kind


class RecordedOperation(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def args(self) -> tuple[Any, ...]: ...

    @property
    def outcome(self) -> Any: ...


class RemoteModel:
    """A SequentialModel (by shape) whose steps run in another process."""

    def __init__(
        self,
        spec_path: Path,
        cwd: Path,
        env: dict[str, str],
        wrapper: Sequence[str] = (),
        python: str = sys.executable,
        step_timeout: float = STEP_TIMEOUT,
        launcher: Sequence[str] = (),
        pass_fds: Sequence[int] = (),
    ) -> None:
        """`launcher` replaces `python -m concgrade.inside.history_replay` (a grade starts it through the boot)."""
        self._stderr = tempfile.TemporaryFile()
        program = list(launcher) or [python, "-m", "concgrade.inside.history_replay"]
        command = [*wrapper, *program, str(spec_path)]
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        self._timeout = step_timeout
        self._pending = b""
        self.steps = 0
        try:
            hello = self._ask({"op": "init"})
        except BaseException:
            self.close()
            raise
        self._initial: str = hello["state"]
        self.strategy: str = hello.get("strategy", "")

    def init(self) -> str:
        return self._initial  # the server's states are immutable: one initial state serves every search

    def step(self, state: str, op: RecordedOperation) -> tuple[str, tuple[Any, str | None]]:
        self.steps += 1
        answer = self._ask({"op": "step", "state": state, "call": [op.method, list(op.args)]})
        value, raised = answer["answer"]
        return answer["state"], (value, raised)

    def key(self, state: str) -> str:
        return state

    def describe(self, state: str) -> str:
        return str(self._ask({"op": "describe", "state": state})["text"])

    def accepts(self, expected: Any, op: RecordedOperation) -> bool:
        """The task's comparison hook for `op`'s method, run by the server: is the recorded outcome acceptable?"""
        if op.outcome is None:
            return False
        call = [op.method, list(op.args)]
        request = {"op": "compare", "call": call, "expected": list(expected), "observed": list(op.outcome)}
        return bool(self._ask(request)["accepted"])

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def __enter__(self) -> RemoteModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ModelUnavailable(f"the model process ended: {self._last_error()}") from None
        answer: dict[str, Any] = json.loads(self._read_line())
        if "error" in answer:
            raise ModelUnavailable(str(answer["error"]), str(answer.get("kind", "failed")))
        return answer

    def _read_line(self) -> bytes:
        """One answer line, within the step timeout (the reference may loop forever)."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + self._timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    self.close()
                    raise ModelUnavailable(f"the reference implementation gave no answer within {self._timeout:g}s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise ModelUnavailable(f"the model process ended: {self._last_error()}")
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def _last_error(self) -> str:
        self._process.wait()
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self._process.returncode}"
