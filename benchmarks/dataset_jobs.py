"""Dataset grading throughput: the speedup of `--jobs 2` over `--jobs 1`, and the cost of a fully cached regrade.

    python benchmarks/dataset_jobs.py [--copies 10] [--rounds 1] [--task PATH]

Grades COPIES copies of one task (the reference task at the repository root when it is there, else a
small fixture task), side by side in one run: `--jobs 1` and `--jobs 2` alternate (ABBA over the rounds)
with the cache off, then one regrade with every task in the cache. Prints one JSON object: wall times,
the speedup (goal >= 1.8 on two idle cores), seconds per task of the cached regrade (goal: well under 1),
and the load average before and after, since a busy machine bends every ratio.
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

REPO = Path(__file__).resolve().parents[1]
RUN_PY = REPO / "evaluation" / "run.py"
IGNORED = ("reports", "__pycache__", ".git", ".pytest_cache", ".venv", "venv", "benchmarks", "examples")


def reference_task() -> Path | None:
    """The repository root when it holds the reference task."""
    return REPO if (REPO / "repository_after").is_dir() and (REPO / "tests").is_dir() else None


def fixture_task(folder: Path) -> Path:
    sys.path[:0] = [str(REPO / "evaluation"), str(REPO / "evaluation" / "tests")]
    from taskfactory import make_task

    return make_task(folder)


def make_dataset(task: Path, copies: int, folder: Path) -> Path:
    for index in range(copies):
        shutil.copytree(task, folder / f"task{index:02d}", ignore=shutil.ignore_patterns(*IGNORED))
    return folder


def grade(dataset: Path, cache: Path, *flags: str) -> tuple[float, dict]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    done = subprocess.run(
        # --no-bench: a task that declares min_speedup is timed alone (by design), which is not what is measured here.
        [sys.executable, str(RUN_PY), "dataset", str(dataset), "--json", "--no-bench", *flags],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout:
        raise SystemExit(f"grade failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="ABBA rounds of jobs 1 / jobs 2 (default 1)")
    parser.add_argument("--task", type=Path, help="the task to copy (default: the reference task, else a fixture)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="concgrade-bench-") as scratch:
        scratch_path = Path(scratch)
        task = args.task or reference_task() or fixture_task(scratch_path / "fixture")
        dataset = make_dataset(task, args.copies, scratch_path / "dataset")
        cache = scratch_path / "cache"
        times: dict[int, list[float]] = {1: [], 2: []}
        verdicts = set()
        for round_index in range(args.rounds):
            order = (1, 2) if round_index % 2 == 0 else (2, 1)
            for jobs in order:
                elapsed, document = grade(dataset, cache, "--jobs", str(jobs), "--no-cache")
                times[jobs].append(elapsed)
                verdicts |= {row["verdict"] for row in document["tasks"]}
        cached_elapsed, cached = grade(dataset, cache, "--jobs", "2")
    one, two = statistics.median(times[1]), statistics.median(times[2])
    result = {
        "task": "reference" if task == REPO else str(task.name),
        "copies": args.copies,
        "verdicts": sorted(verdicts),
        "jobs1_seconds": [round(t, 2) for t in times[1]],
        "jobs2_seconds": [round(t, 2) for t in times[2]],
        "speedup_jobs2_over_jobs1": round(one / two, 2),
        "cached_regrade_seconds": round(cached_elapsed, 2),
        "cached_seconds_per_task": round(cached_elapsed / args.copies, 3),
        "cached_tasks": cached["summary"]["cached"],
        "cpu_count": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
