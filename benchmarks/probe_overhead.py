"""Probe overhead: the cost per wrapped call of each probe kind, and the probes' effect on a task's grade time.

    python benchmarks/probe_overhead.py                 # per-call costs, then a task graded with and without probes
    python benchmarks/probe_overhead.py --task DIR      # a task of your own (default: this repository's, if present)
    python benchmarks/probe_overhead.py --calls-only

Per-call costs are measured side by side in one process (best of several rounds, bare call
subtracted); goals: under 1 µs for threads and asyncio, a few µs for processes. The task part
grades the same task with and without a probe declared on a target, alternating, and compares
the after run's wall time (median of the repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "evaluation"))

from concgrade.inside import process_probe  # noqa: E402
from concgrade.inside.probe import PENDING, install_probe, uninstall_probe  # noqa: E402

CALLS = 200_000
ROUNDS = 5


def per_call(statement, number: int = CALLS) -> float:
    """Best-of-rounds seconds per call of a zero-argument callable."""
    return min(timeit.repeat(statement, number=number, repeat=ROUNDS)) / number


def function_costs() -> dict[str, float]:
    module = types.ModuleType("bench_target")
    sys.modules["bench_target"] = module

    def work(x=1):
        return x

    async def fetch(x=1):
        return x

    module.work, module.fetch = work, fetch
    costs = {}
    bare = per_call(lambda: module.work())
    probe, patch = install_probe(module, "work")
    costs["threads"] = per_call(lambda: module.work()) - bare
    uninstall_probe(probe, patch)

    async def loop_of(fn, n):
        for _ in range(n):
            await fn()

    def async_per_call(fn) -> float:
        n = CALLS // 4
        best = float("inf")
        for _ in range(ROUNDS):
            started = time.perf_counter()
            asyncio.run(loop_of(fn, n))
            best = min(best, time.perf_counter() - started)
        return best / n

    bare_async = async_per_call(lambda: module.fetch())
    probe, patch = install_probe(module, "fetch")
    costs["asyncio"] = async_per_call(lambda: module.fetch()) - bare_async
    uninstall_probe(probe, patch)

    running, undo = process_probe.start_probe("bench_target:work")
    costs["processes"] = per_call(lambda: module.work(), CALLS // 4) - bare
    undo()
    del sys.modules["bench_target"]
    return costs


def submit_cost() -> float:
    """Extra cost of ThreadPoolExecutor.submit with the pending counter installed."""
    n = 20_000

    def submit_all(pool):
        futures = [pool.submit(int) for _ in range(n)]
        for future in futures:
            future.result()

    def best(pool):
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            submit_all(pool)
            times.append(time.perf_counter() - started)
        return min(times) / n

    with ThreadPoolExecutor(max_workers=2) as pool:
        plain = best(pool)
        window = PENDING.open_window()
        counted = best(pool)
        window.close()
    return counted - plain


def grade_seconds(task: Path, runs: int, targets: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    """The after run's wall time, graded alternately without and with a probe declared on every target."""
    plain, probed = [], []
    with tempfile.TemporaryDirectory() as scratch:
        copies = {}
        for name in ("plain", "probed"):
            copy = Path(scratch) / name
            shutil.copytree(task, copy, ignore=shutil.ignore_patterns("reports", ".git", "__pycache__"))
            copies[name] = copy
        manifest = copies["probed"] / "evaluation" / "concgrade.toml"
        manifest.write_text(
            manifest.read_text() + "".join(f'\n[[probes]]\ntarget = "{t}"\nkind = "{k}"\n' for t, k in targets)
        )
        for _ in range(runs):
            for name, into in (("plain", plain), ("probed", probed)):
                out = Path(scratch) / f"out-{name}"
                subprocess.run(
                    [
                        sys.executable,
                        str(REPO / "evaluation" / "run.py"),
                        "--task",
                        str(copies[name]),
                        "--output",
                        str(out),
                        "--quiet",
                        "--jobs",
                        "1",
                    ],
                    capture_output=True,
                    check=False,
                )
                data = json.loads((out / "results.json").read_text())
                into.append(data["implementations"]["after"]["duration_seconds"])
    return plain, probed


def probe_targets(task: Path) -> list[tuple[str, str]]:
    """Without --target: the top-level functions of the task's first module, probed with kind auto."""
    import tomllib

    manifest = tomllib.loads((task / "evaluation" / "concgrade.toml").read_text())
    module = manifest.get("task", {}).get("modules", [""])[0]
    return [(f"{module}.{name}", "auto") for name in _functions(task, module)]


def _functions(task: Path, module: str) -> list[str]:
    import ast

    path = task / "repository_after" / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    return [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))][:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls-only", action="store_true")
    parser.add_argument("--target", action="append", default=[], help="KIND=module.function to declare (repeatable)")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]} · {os.cpu_count()} cores")
    costs = function_costs()
    costs["pending (per submit)"] = submit_cost()
    for kind, seconds in costs.items():
        print(f"  {kind:<22} {seconds * 1e6:6.2f} µs per wrapped call")
    if args.calls_only:
        return
    task = args.task.resolve()
    if not (task / "repository_after").is_dir() or not (task / "evaluation" / "concgrade.toml").is_file():
        print(f"no task at {task} (repository_after/ and evaluation/concgrade.toml): pass --task DIR")
        return
    targets = [tuple(reversed(t.split("=", 1))) if "=" in t else (t, "auto") for t in args.target]
    targets = targets or probe_targets(task)
    print(f"declared probes: {', '.join(f'{kind}={target}' for target, kind in targets)}")
    plain, probed = grade_seconds(task, args.runs, targets)
    ratio = statistics.median(probed) / statistics.median(plain)
    print(
        f"task {task.name}: after run {statistics.median(plain):.2f} s plain vs {statistics.median(probed):.2f} s "
        f"probed (median of {args.runs}; ratio {ratio:.3f}); plain {plain}, probed {probed}"
    )


if __name__ == "__main__":
    main()
