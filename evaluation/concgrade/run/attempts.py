"""One pytest process of a run (an attempt): started in a fresh scratch folder, supervised, its output checked."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from concgrade.files import changes, sha256_file
from concgrade.inside import protocol
from concgrade.inside.protocol import BootConfig, ProbeConfig
from concgrade.run.integrity import protected_digest
from concgrade.run.outputs import AttemptOutput
from concgrade.run.plan import RunSpec, pytest_arguments, run_environment
from concgrade.run.readers import read_line_files
from concgrade.run.sandbox import RunLimits, Sandbox
from concgrade.run.scratch import RunPaths, prepare
from concgrade.run.supervisor import EXIT_GRACE, WATCHDOG_FACTOR, Launch, supervise

# How an OSError for RLIMIT_FSIZE reads (EFBIG), and for a full temporary folder (ENOSPC).
FILE_TOO_LARGE = "[Errno 27] File too large"
NO_SPACE = "[Errno 28] No space left on device"


def run_attempt(
    task_root: Path,
    spec: RunSpec,
    sandbox: Sandbox,
    paths: RunPaths,
    index: int,
    node_ids: list[str],
    on_start: Callable[[], None] | None = None,
) -> AttemptOutput:
    """One pytest process in a fresh scratch copy of the task (always at the same path, so imports compare).

    `task_root` is the grade's snapshot of the task, taken once at its start: every attempt (a rerun too)
    starts from it, never from the user's folder again.
    """
    uid = sandbox.run_uid()
    # The cross-process probe's switch, beside the shim's start-up hook (a probe a test starts adds to `more`).
    probe = ProbeConfig(str(paths.events), spec.process_targets, str(paths.events / "targets"))
    task_copy = paths.task_copy
    watched = watched_folders(spec, task_copy)
    # What child interpreters of the run read of the implementation folders (the import proof's other half).
    out = prepare(paths, task_root, spec, uid, probe, protocol.WatchConfig(str(paths.loads), watched))
    json_report = out / "report.json"
    selection = None
    if node_ids:
        # One node id a line, read by pytest itself: no command line grows with the number of tests.
        selection_file = paths.scratch / f"t{index}.txt"
        # Node ids are relative to the root; a run in an implementation's folder (the cwd toggle) names them in full.
        named = [str(task_copy / nodeid) for nodeid in node_ids] if spec.cwd else node_ids
        selection_file.write_text("\n".join(named) + "\n", encoding="utf-8")
        os.chmod(selection_file, 0o644)
        selection = [f"@{selection_file}"]
    args = pytest_arguments(spec, json_report, task_copy, selection)
    # pytest's own faulthandler_timeout (from a task's ini file) would replace the plugin's per-test watchdog.
    args += ["-o", "faulthandler_timeout=0"]
    # The boot imported the installed plugins before pytest could mark them for assertion rewriting: pytest
    # warns about each, and a task whose ini says `filterwarnings = error` would fail to start.
    args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    env = run_environment(dict(os.environ), spec, task_copy, paths.shim, paths.home, sandbox.private_tmp)
    # Only the shim is on the path at startup; the boot adds the implementation's folders once pytest is loaded.
    toggle_path = env["PYTHONPATH"].split(os.pathsep)[1:]
    env["PYTHONPATH"] = str(paths.shim)
    cwd = task_copy / spec.cwd if spec.cwd else task_copy
    env["PWD"] = str(cwd)
    env.pop("OLDPWD", None)
    implementation = task_copy / spec.folder_in_task
    config = BootConfig(
        shim=str(paths.shim),
        pythonpath=toggle_path,
        preload=list(sandbox.preload),
        rlimits={name: list(pair) for name, pair in sandbox.rlimits.items()},
        watchdog_factor=WATCHDOG_FACTOR,
        pytest_args=args,
        visible_args=[*(selection or spec.test_files), *spec.extra_args],
        implementation_dirs=[str(implementation)] if sandbox.audit_hook else [],
        writable=[str(folder) for folder in (*paths.run_folders(), out, *private_folders(sandbox))],
        harness_dirs=[str(paths.shim)],
        protected=[str(paths.scratch)],
        disk_folder="/tmp" if sandbox.private_tmp else None,
        disk_limit_bytes=sandbox.limits.disk_bytes,
        watched_folders=list(watched),
    )
    launch = Launch(spec.interpreter or sys.executable, paths, env, config, list(node_ids), json_report, uid, cwd)
    before = protected_digest(task_copy)
    size_before = folder_size(task_copy)
    attempt = supervise(index, launch, sandbox, spec.run_timeout, EXIT_GRACE, on_start)
    attempt.child_loads = hashed(read_line_files(paths.loads, protocol.LOADS_SUFFIX))
    attempt.changed_files = changes(before, protected_digest(task_copy)) + sources_changed(
        attempt.records, task_copy, before
    )
    attempt.limit_breaches += output_breaches(attempt, sandbox.limits)
    attempt.limit_breaches += disk_breaches(attempt, sandbox, folder_size(task_copy) - size_before, paths)
    return attempt


def private_folders(sandbox: Sandbox) -> tuple[str, ...]:
    """The run's own /tmp and /dev/shm, where a mount namespace gives it private ones."""
    return ("/tmp", "/dev/shm") if sandbox.private_tmp else ()


def folder_size(folder: Path) -> int:
    """Bytes of the regular files below `folder` (links not followed)."""
    total = 0
    for base, _, names in os.walk(folder):
        for name in names:
            try:
                info = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            total += info.st_size if not os.path.islink(os.path.join(base, name)) else 0
    return total


def watched_folders(spec: RunSpec, task_copy: Path) -> tuple[str, ...]:
    """The implementation folders of the scratch copy whose reads the run records: its own first."""
    return tuple(str((task_copy / folder).resolve()) for folder in (spec.folder_in_task, *spec.other_folders))


def hashed(paths: list[str]) -> list[tuple[str, str]]:
    """Each file that still exists, with its content hash (read after the process ended, in the scratch copy)."""
    found = []
    for path in paths:
        file = Path(path)
        if not path.isascii() and path != path.encode("utf-8", "surrogateescape").decode("utf-8", "replace"):
            continue  # a name that is not UTF-8 is no graded file, and no report could show it
        if file.is_file() and not file.is_symlink():
            try:
                found.append((str(file.resolve()), sha256_file(file)))
            except OSError:
                continue
    return found


def collected_ids(records: list[dict[str, Any]]) -> list[str]:
    record = protocol.first_of(records, "collected")
    return list(record.get("nodeids", [])) if record else []


def sources_changed(records: list[dict[str, Any]], task_copy: Path, before: dict[str, str]) -> list[str]:
    """Test and conftest files whose content, when pytest read them, was not the task's; tests changed in memory."""
    root = str(task_copy.resolve()) + os.sep
    found = []
    for record in protocol.of_type(records, "source"):
        if not str(record.get("file", "")).startswith(root):
            continue
        relative = str(record["file"])[len(root) :]
        if relative in before and before[relative] != record.get("sha256"):
            found.append(f"{relative} (different when pytest read it)")
    for record in protocol.of_type(records, "test_changed"):
        found.append(f"{record.get('nodeid') or 'a test'}: {record.get('what', '?')} (in memory)")
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


def disk_breaches(attempt: AttemptOutput, sandbox: Sandbox, grown: int, paths: RunPaths) -> list[str]:
    """The run's temporary folder full, or its scratch copy (and home) grown past the disk limit."""
    limit = sandbox.limits.disk_bytes
    grown += folder_size(paths.home)
    found = []
    full = protocol.first_of(attempt.records, "disk")
    no_space = sorted({str(r.get("nodeid")) for r in attempt.records if NO_SPACE in str(r.get("longrepr", ""))})
    if full is not None or no_space:
        where = f" ({', '.join(no_space[:3])})" if no_space else ""
        found.append(f"disk: the run filled its temporary folder of {limit / 2**20:g} MiB{where}")
    if grown > limit:
        found.append(
            f"disk: the run wrote {grown / 2**20:.0f} MiB into its scratch copy and home, over {limit / 2**20:g} MiB"
        )
    return found
