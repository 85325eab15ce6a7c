"""One pytest process of a run (an attempt): started in a fresh scratch copy, supervised, its output checked."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from concgrade.inside import protocol
from concgrade.run.integrity import changes, protected_digest
from concgrade.run.outputs import AttemptOutput
from concgrade.run.plan import RunSpec, pytest_arguments, run_environment
from concgrade.run.sandbox import RunLimits, Sandbox
from concgrade.run.scratch import BOOT_SCRIPT, copy_task, make_shim, replace_folder
from concgrade.run.supervisor import EXIT_GRACE, supervise
from concgrade.task.model import Task

# How an OSError for RLIMIT_FSIZE reads (EFBIG).
FILE_TOO_LARGE = "[Errno 27] File too large"


def run_attempt(
    task: Task,
    spec: RunSpec,
    sandbox: Sandbox,
    scratch: Path,
    index: int,
    node_ids: list[str],
    on_start: Callable[[], None] | None = None,
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
    args = pytest_arguments(spec, json_report, task_copy, selection)
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
        on_start=on_start,
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
