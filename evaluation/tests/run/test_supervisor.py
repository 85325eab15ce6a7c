"""The supervisor's edges: a run that cannot start is an error users read, not a traceback or a hang."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from concgrade.errors import RunError
from concgrade.run.sandbox import RunLimits, prepare_sandbox
from concgrade.run.supervisor import describe_exit, supervise

LIMITS = RunLimits(memory_bytes=2**30, max_tasks=100, cpu_seconds=60, file_size_bytes=2**20, output_bytes=2**20)


def test_a_process_that_cannot_start_is_a_run_error(tmp_path):
    sandbox = replace(prepare_sandbox(LIMITS, {"CONCGRADE_ISOLATION_DISABLE": "cgroup"}), wrapper=("/no/such/tool",))
    with pytest.raises(RunError, match="could not start /no/such/tool"):
        supervise(
            index=0,
            command=[sys.executable, "-c", "pass"],
            shim=tmp_path,
            pythonpath=[],
            node_ids=[],
            cwd=tmp_path,
            env={},
            scratch=tmp_path,
            sandbox=sandbox,
            run_timeout=10,
            exit_grace=1,
            json_report=tmp_path / "report.json",
        )


def test_exits_are_described_with_the_signal_that_ended_them():
    assert describe_exit(-11, wrapped=False) == "killed by signal 11 (SIGSEGV)"
    assert describe_exit(137, wrapped=True) == "killed by signal 9 (SIGKILL), status 137"
    assert describe_exit(137, wrapped=False) == "exited with status 137"
    assert describe_exit(None, wrapped=True).startswith("still running")
