"""Runs the benchmark phase: times each workload on each implementation, one fresh process per repeat.

Each implementation gets the scratch copy and environment its pytest run gets (run.scratch.scratch_run), so
the toggle, the shim and the private home are the same, and each process is held like a test run (the boot,
cgroups, PID and mount namespaces, a user of its own; its command line names neither the harness nor the
benchmark); repeats run one at a time, never beside each other or beside a test run, in rounds whose order
flips every round so that machine drift hits every implementation alike. Each process warms up (untimed
calls) before its one timed call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concgrade.bench.cache import cache_key, load_entry, store_entry
from concgrade.bench.model import (
    ERROR,
    OK,
    TIMEOUT,
    BenchResults,
    ImplementationBench,
    implementation_bench,
    workload_bench,
)
from concgrade.errors import UsageError
from concgrade.files import cache_dir, sha256_file, tree_digest
from concgrade.inside.protocol import BENCH_PROGRAM, BootConfig
from concgrade.run.integrity import import_proof
from concgrade.run.plan import RunSpec, plan_runs
from concgrade.run.readers import read_json
from concgrade.run.runner import run_limits
from concgrade.run.sandbox import Sandbox, prepare_sandbox
from concgrade.run.scratch import ScratchRun, scratch_run
from concgrade.run.timed_process import run_process
from concgrade.task.model import Task
from concgrade.task.workloads import HOOK_FOLDERS, Workload, hook_files

# How far the child's own clock may disagree with the length of its reported window.
CLOCK_TOLERANCE = 0.01

Progress = Callable[[str], None]
Failure = tuple[str, str]  # (status, message): why an implementation has no timing


@dataclass(frozen=True)
class BenchOptions:
    requested_by: str = "flag"  # "flag" (--bench) or "manifest" (a declared min_speedup)
    use_cache: bool = True  # False: re-time everything (fresh figures are still stored)
    cache_dir: Path | None = None  # None: the default location (see files.cache_dir)


def run_bench(task: Task, options: BenchOptions, progress: Progress | None = None) -> BenchResults:
    """Time every workload on every implementation of `task` (reusing cached timings of unchanged code)."""
    started, load_at_start = time.monotonic(), load_average()
    folder = options.cache_dir or cache_dir()
    hits = misses = 0
    notes = [] if folder else ["no writable cache folder: timings are not kept for the next grade"]
    specs = plan_runs(task)
    sandbox = prepare_sandbox(run_limits(task.limits), interpreter=task.interpreter)
    results = []
    for workload in task.workloads:
        keys = {spec.name: cache_key(key_parts(task, workload, spec)) for spec in specs}
        entries = {name: load_entry(folder, key) if options.use_cache else None for name, key in keys.items()}
        to_time = [spec for spec in specs if entries[spec.name] is None]
        measured = time_workload(task, workload, to_time, sandbox, progress) if to_time else {}
        implementations = {}
        for spec in specs:
            entry = entries[spec.name]
            if entry is not None:
                hits += 1
                implementations[spec.name] = from_cache(entry, spec, keys[spec.name])
                _say(progress, f"bench {workload.name}: {spec.name} from the cache ({entry.get('stored_at')})")
                continue
            misses += 1
            impl = measured[spec.name]
            impl.cache_key = keys[spec.name]
            if impl.status == OK:
                store_entry(folder, keys[spec.name], {"stored_at": now_iso(), "implementation": asdict(impl)})
            implementations[spec.name] = impl
        results.append(workload_bench(workload, implementations))
    load_at_end = load_average()
    load = None
    if load_at_start is not None and load_at_end is not None:
        load = {"start": load_at_start, "end": load_at_end, "cpus": os.cpu_count() or 1}
        if misses and max(load_at_start, load_at_end) > (os.cpu_count() or 1):
            notes.append(
                f"the machine was busy (load {max(load_at_start, load_at_end):.1f} on {os.cpu_count()} cores): "
                "expect wide intervals"
            )
    return BenchResults(
        requested_by=options.requested_by,
        workloads=results,
        cache={"dir": str(folder) if folder else None, "enabled": options.use_cache, "hits": hits, "misses": misses},
        seconds=round(time.monotonic() - started, 3),
        notes=notes,
        load_average=load,
    )


def key_parts(task: Task, workload: Workload, spec: RunSpec) -> dict[str, Any]:
    """What decides one implementation's timing of one workload (the machine and harness are added by the cache)."""
    hooks = {}
    for reference in workload.hooks:
        for path in hook_files(task.root, reference):
            hooks[path.relative_to(task.root).as_posix()] = sha256_file(path)
    return {
        "implementation": tree_digest(spec.implementation.folder, ".py"),
        "role": spec.implementation.role,
        "toggle": spec.toggle_env,
        "workload": workload.identity(),
        "hooks": hooks,
        "timeout": workload.timeout or spec.run_timeout,
    }


def from_cache(entry: dict[str, Any], spec: RunSpec, key: str) -> ImplementationBench:
    data = dict(entry.get("implementation", {}))
    impl = ImplementationBench(**{k: v for k, v in data.items() if k in ImplementationBench.__dataclass_fields__})
    impl.name, impl.role = spec.name, spec.implementation.role  # identical code may be cached under another name
    impl.cached, impl.cached_at, impl.cache_key = True, entry.get("stored_at"), key
    return impl


def time_workload(
    task: Task, workload: Workload, specs: list[RunSpec], sandbox: Sandbox, progress: Progress | None
) -> dict[str, ImplementationBench]:
    """Timed rounds, the order flipped each round; an implementation whose repeat fails is not run again."""
    timed: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in specs}
    failures: dict[str, Failure] = {}
    uids = {spec.name: sandbox.run_uid() for spec in specs}
    with ExitStack() as stack:
        prepared = {
            spec.name: stack.enter_context(scratch_run(task, spec, uids[spec.name], sandbox.private_tmp))
            for spec in specs
        }
        spec_files = {name: write_child_spec(run, workload) for name, run in prepared.items()}
        order = [spec.name for spec in specs]
        for number in range(workload.repeats):
            for name in order if number % 2 == 0 else order[::-1]:
                if name in failures:
                    continue
                spec = next(s for s in specs if s.name == name)
                timeout = workload.timeout or spec.run_timeout
                record, failure = time_once(prepared[name], spec_files[name], timeout, spec, sandbox, uids[name])
                if failure or record is None:
                    failures[name] = failure or (ERROR, "no measurement")
                    _say(progress, f"bench {workload.name}: {name} {failures[name][0]}: {failures[name][1]}")
                    continue
                record["imported"] = prove_import(record.get("imported"), prepared[name], spec)
                timed[name].append(record)
                _say(
                    progress, f"bench {workload.name}: {name} {number + 1}/{workload.repeats} {record['seconds']:.3f}s"
                )
    return {
        spec.name: implementation_bench(
            spec.name,
            spec.implementation.role,
            timed[spec.name],
            workload.ideal_seconds,
            failures.get(spec.name),
        )
        for spec in specs
    }


def write_child_spec(run: ScratchRun, workload: Workload) -> Path:
    """The workload as the child reads it, with the hook folders of this scratch copy."""
    path = run.scratch / f"workload-{workload.name}.json"
    spec = {
        "callable": workload.callable,
        "args": workload.args,
        "kwargs": workload.kwargs,
        "args_factory": workload.args_factory,
        "setup": workload.setup,
        "probe": workload.probe,
        "params": workload.params,
        "warmup": workload.warmup,
        "warmup_params": workload.warmup_params,
        "hook_paths": [str(run.task_copy / folder) for folder in HOOK_FOLDERS],
    }
    path.write_text(json.dumps(spec), encoding="utf-8")
    path.chmod(0o644)  # read by the benchmark process, which may run as a user of its own
    return path


def child_config(run: ScratchRun, spec: RunSpec, sandbox: Sandbox, spec_file: Path, result: Path) -> BootConfig:
    """The boot's configuration of one benchmark process: the child's two files, the task's path, the limits."""
    toggle_path = run.env.get("PYTHONPATH", "").split(os.pathsep)[1:]
    private = ("/tmp", "/dev/shm") if sandbox.private_tmp else ()
    return BootConfig(
        shim=str(run.paths.shim),
        pythonpath=toggle_path,
        rlimits={name: list(pair) for name, pair in sandbox.rlimits.items()},
        pytest_args=[str(spec_file), str(result)],
        implementation_dirs=[str(run.task_copy / spec.folder_in_task)] if sandbox.audit_hook else [],
        writable=[str(folder) for folder in (*run.paths.run_folders(), run.out, *private)],
        harness_dirs=[str(run.paths.shim)],
        protected=[str(run.paths.scratch)],
        program=BENCH_PROGRAM,
    )


def time_once(
    run: ScratchRun, spec_file: Path, timeout: float, spec: RunSpec, sandbox: Sandbox, uid: int | None
) -> tuple[dict[str, Any] | None, Failure | None]:
    """One fresh process timing one call: (the child's record, None) or (None, (status, message))."""
    result = run.out / "measurement.json"
    result.unlink(missing_ok=True)
    env = {**run.env, "PYTHONPATH": str(run.paths.shim)}
    config = child_config(run, spec, sandbox, spec_file, result)
    opened = time.monotonic()
    done = run_process(ScratchRun(run.paths, env, run.out), config, sandbox, timeout, uid, spec.interpreter)
    closed = time.monotonic()
    if done.timed_out:
        return None, (TIMEOUT, f"a repeat ran past {timeout:g}s and was killed")
    if done.breaches:
        return None, (ERROR, f"the process broke a limit: {'; '.join(done.breaches)}")
    read = read_json(result)
    record = read.data
    if record is None:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        why = f"the process exited {done.exit_code} without a measurement ({read.problem})"
        return None, (ERROR, f"{why}: {last}".rstrip(": "))
    leftovers = [*done.leftovers, *map(str, record.get("leftovers") or [])]
    if leftovers:
        return None, (ERROR, f"the process left {len(leftovers)} process(es) running: {'; '.join(leftovers[:3])}")
    if not record.get("ok"):
        return None, (ERROR, f"{record.get('error', 'no error given')} (during {record.get('phase', '?')})")
    problem = implausible(record, opened, closed)
    if problem:
        return None, (ERROR, problem)
    return record, None


def implausible(record: dict[str, Any], opened: float, closed: float) -> str | None:
    """A measurement whose window is not inside the process's life as the harness saw it was not taken by us."""
    window, reported = record.get("window"), record.get("seconds")
    try:
        begin, end, seconds = float(window[0]), float(window[1]), float(reported)  # type: ignore[index, arg-type]
    except (TypeError, ValueError, IndexError):  # not numbers, or no window at all: the record is not ours
        return "the measurement has no valid time window"
    if not (opened <= begin <= end <= closed) or abs((end - begin) - seconds) > CLOCK_TOLERANCE + 0.01 * seconds:
        return "the measurement does not fit inside the process's lifetime (altered by the code under test?)"
    if seconds <= 0:
        return "the measurement is not a positive time"
    return None


def prove_import(imported: dict[str, Any] | None, run: ScratchRun, spec: RunSpec) -> dict[str, Any] | None:
    """Mark whether the timed callable came from this implementation's folder, with its graded content."""
    folder = run.task_copy / spec.folder_in_task
    return import_proof(imported, folder, tree_digest(spec.implementation.folder, ".py"), run.task_copy)


def load_average() -> float | None:
    """The 1-minute load average (None where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def requested_by(mode: str, workloads: tuple[Workload, ...]) -> str | None:
    """Whether the phase runs: "flag" (--bench), "manifest" (a declared min_speedup, outside --no-bench), or None."""
    if mode == "on":
        if not workloads:
            raise UsageError("--bench: the task declares no [[workloads]] to time (see docs/bench.md)")
        return "flag"
    if mode == "auto" and any(workload.min_speedup is not None for workload in workloads):
        return "manifest"
    return None
