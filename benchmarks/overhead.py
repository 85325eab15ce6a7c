"""The harness's overhead: `python evaluation/run.py` against the same tests run by hand, side by side.

What "by hand" (raw) includes, so that the ratio is the price of grading and nothing else:
- the same interpreter, the same suite files, in a copy of the task made once, untimed (the harness's
  copy per run is charged to the harness);
- the implementation on PYTHONPATH, before then after, back to back. The harness's default runs both at
  once: its goal is against the pair (<= 0.7), whose floor is the slower run alone (printed as "floor");
  with --jobs 1 it runs them one after the other, shown as a second figure;
- the concgrade pytest plugin, because the tests use its `concurrency_probe` fixture; without
  --concgrade-records it streams nothing, so it costs what any fixture plugin costs;
- `-p no:cacheprovider`, as in the graded runs (pytest would otherwise write .pytest_cache into the task).
What only the harness pays, and this benchmark charges it: the CLI's start, the task lint and metrics,
the scratch copy and shim, streamed records, the JSON report, pytest-timeout's alarms, grading, and
writing results.json and report.html. The benchmark phase is left out (--no-bench): it measures
workloads the raw runs do not.

The harness runs as installed: with its bytecode cache (pip compiles it at install; a checkout's first grade
writes it), so PYTHONDONTWRITEBYTECODE is dropped from its environment and one untimed grade per harness
warms it up, as one untimed raw pair warms the raw runs. (Its test processes never write bytecode: the
harness sets the variable for them.) --no-bytecode-cache keeps the variable, and every grade compiles
the harness's ~150 modules again (about 0.2-0.4 s on a loaded 2-core machine).

Each repeat runs the harness and the raw pair back to back, the order flipping every repeat so that
machine drift hits both; the figure is the median of the per-repeat ratios, with their range.

    python benchmarks/overhead.py [--task .] [--repeats 5] [--compare OTHER/run.py] [--no-bytecode-cache] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVALUATION = ROOT / "evaluation"
GOAL = 0.7  # the default grade (both runs at once) against the raw pair back to back

sys.path.insert(0, str(EVALUATION))
from concgrade.files import IGNORED_DIRS  # noqa: E402
from concgrade.task.load import load_task  # noqa: E402


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def raw_pair(task_root: Path, test_files: list[str], folders: list[Path]) -> tuple[float, float]:
    """Both implementations' suites, plain pytest, one after the other: (the pair's time, the slower run's)."""
    times = []
    for folder in folders:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        env["PYTHONPATH"] = os.pathsep.join([str(folder), str(EVALUATION)])
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:concgrade",
            "-p",
            "concgrade.inside.plugin",
            "-q",
        ]
        times.append(timed([*command, *test_files], env, task_root))
    return sum(times), max(times)


def harness(run_py: Path, task_root: Path, output: Path, jobs: int | None, bytecode_cache: bool = True) -> float:
    command = [sys.executable, str(run_py), "--task", str(task_root), "--output", str(output)]
    command += ["--no-bench", "--quiet"] + (["--jobs", str(jobs)] if jobs else [])
    env = dict(os.environ)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return timed(command, env, ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", type=Path, default=ROOT, help="the task folder (default: the reference task)")
    parser.add_argument(
        "--harness", type=Path, default=EVALUATION / "run.py", help="the run.py to time (e.g. another checkout's)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="RUN_PY",
        help="also time another harness (e.g. an older checkout's evaluation/run.py) in every repeat, side by side",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE from the caller: the harness compiles its modules in every grade",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    task = load_task(args.task)
    folders = [task.implementation("before").folder, task.implementation("after").folder]
    test_files = list(task.test_files)
    raws: list[float] = []
    slowest: list[float] = []
    sequential: list[float] = []
    parallel: list[float] = []
    compared: list[float] = []

    def raw_step() -> None:
        pair, slower = raw_pair(raw_root, test_files, raw_folders)
        raws.append(pair)
        slowest.append(slower)

    with tempfile.TemporaryDirectory(prefix="concgrade-overhead-") as scratch:
        output = Path(scratch)
        # The raw runs get a copy made once, untimed: plugins write into the folder pytest runs in
        # (.benchmarks/, for one), and the user's task is never modified.
        raw_root = output / "task"
        shutil.copytree(task.root, raw_root, ignore=shutil.ignore_patterns(*IGNORED_DIRS))
        raw_folders = [raw_root / folder.relative_to(task.root) for folder in folders]
        cache = not args.no_bytecode_cache
        raw_pair(raw_root, test_files, raw_folders)  # warm-up: file caches, imports compiled in memory
        for run_py in filter(None, (args.harness, args.compare)):  # the same for each harness (its bytecode too)
            harness(run_py, task.root, output / "warm-up", None, cache)
        for repeat in range(args.repeats):
            steps = [
                raw_step,
                lambda: sequential.append(harness(args.harness, task.root, output / "seq", 1, cache)),
                lambda: parallel.append(harness(args.harness, task.root, output / "par", None, cache)),
            ]
            if args.compare:
                steps.append(lambda: compared.append(harness(args.compare, task.root, output / "cmp", None, cache)))
            for step in steps if repeat % 2 == 0 else steps[::-1]:
                step()

    def ratios(values: list[float]) -> list[float]:
        return [value / raw for value, raw in zip(values, raws, strict=True)]

    figures = {
        "task": str(task.root),
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "raw_seconds": {"median": statistics.median(raws), "min": min(raws), "max": max(raws)},
        "harness_jobs_1_seconds": {"median": statistics.median(sequential), "min": min(sequential)},
        "harness_default_jobs_seconds": {"median": statistics.median(parallel), "min": min(parallel)},
        "ratio_jobs_1": _spread(ratios(sequential)),
        "ratio_default_jobs": _spread(ratios(parallel)),
        "floor": _spread(ratios(slowest)),  # the slower raw run alone: what running both at once can reach
        "goal": GOAL,
        "bytecode_cache": not args.no_bytecode_cache,
    }
    if args.compare:
        figures["compared"] = {"harness": str(args.compare), "ratio_default_jobs": _spread(ratios(compared))}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        r = figures["ratio_jobs_1"]
        p = figures["ratio_default_jobs"]
        print(f"raw pytest, before then after: median {figures['raw_seconds']['median']:.2f}s")
        f = figures["floor"]
        print(
            f"run.py (default jobs) / raw: median {p['median']:.3f} (range {p['min']:.3f}-{p['max']:.3f}), goal <= {GOAL}"
        )
        print(f"floor (the slower raw run alone) / raw: median {f['median']:.3f} (range {f['min']:.3f}-{f['max']:.3f})")
        print(f"run.py --jobs 1 / raw: median {r['median']:.3f} (range {r['min']:.3f}-{r['max']:.3f})")
        if args.compare:
            c = figures["compared"]["ratio_default_jobs"]
            print(
                f"{args.compare} (default jobs) / raw: median {c['median']:.3f} (range {c['min']:.3f}-{c['max']:.3f})"
            )
        print(f"load average {figures['load_average']} on {figures['cpus']} cores; {args.repeats} alternating repeats")
        if args.no_bytecode_cache:
            print("the harness ran without its bytecode cache (--no-bytecode-cache)")
    return 0 if figures["ratio_default_jobs"]["median"] <= GOAL else 1


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


if __name__ == "__main__":
    sys.exit(main())
