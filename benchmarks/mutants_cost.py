"""What the whole mutation analysis of a task costs against one plain grade of it, measured side by side.

Both are the command a user types, in fresh processes, with the benchmark phase off on both sides:
- plain: `python evaluation/run.py TASK --no-bench` (before and after, at once);
- mutants, cold: `python evaluation/run.py mutants TASK --no-bench` with an empty cache folder: the same
  grade, then every mutant of the after run by the sandboxed runner with nothing remembered (no cached run,
  no kill order from an earlier analysis: the tests are reordered as kills come in);
- mutants, warm order: the same with `--no-cache` after a first analysis: every mutant runs again, but the
  tests start in the kill order that analysis left (what a second analysis of a changed after pays).

Each repeat runs the three back to back, the order flipping every repeat so that machine drift hits all of
them; the figures are the medians of the per-repeat ratios, with their range. The goal (issue 15): the whole
analysis of the reference task on 2 cores within 10x one plain grade.

    python benchmarks/mutants_cost.py [--task .] [--repeats 3] [--jobs N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "evaluation" / "run.py"
GOAL = 10.0


def timed(arguments: list[str], cache: Path) -> tuple[float, dict]:
    """Seconds one command took, and the mutants section of the results.json it wrote (empty for a grade)."""
    with tempfile.TemporaryDirectory(prefix="mutants-cost-out-") as out:
        env = {**os.environ, "CONCGRADE_CACHE_DIR": str(cache)}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(RUN_PY), *arguments, "--output", out, "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        seconds = time.perf_counter() - started
        results = Path(out) / "results.json"
        data = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
    return seconds, data.get("mutants") or {}


def one_repeat(task: Path, jobs: list[str], flip: bool) -> dict[str, float | dict]:
    plain_args = [str(task), "--no-bench", *jobs]
    mutants_args = ["mutants", str(task), "--no-bench", *jobs]
    with tempfile.TemporaryDirectory(prefix="mutants-cost-cache-") as cache_dir:
        cache = Path(cache_dir)
        order = ["plain", "cold", "warm"] if not flip else ["cold", "warm", "plain"]
        seconds: dict[str, float] = {}
        section: dict = {}
        for what in order:
            if what == "plain":
                seconds["plain"], _ = timed(plain_args, cache)
            elif what == "cold":
                seconds["cold"], section = timed(mutants_args, cache)
            else:  # after the cold analysis of this repeat: its kill order is in the cache, its runs are not used
                seconds["warm"], _ = timed([*mutants_args, "--no-cache"], cache)
    return {**seconds, "mutants": section}


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, default=ROOT, help="the task folder (default: this repository's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, help="--jobs for both commands (default: theirs, the cores)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    repeats = [one_repeat(args.task.resolve(), jobs, flip=index % 2 == 1) for index in range(args.repeats)]
    last = repeats[-1]["mutants"]
    assert isinstance(last, dict)
    figures = {
        "task": str(args.task.resolve()),
        "cores": os.cpu_count(),
        "repeats": args.repeats,
        "plain_seconds": summary([float(r["plain"]) for r in repeats]),  # type: ignore[arg-type]
        "mutants_cold_seconds": summary([float(r["cold"]) for r in repeats]),  # type: ignore[arg-type]
        "mutants_warm_seconds": summary([float(r["warm"]) for r in repeats]),  # type: ignore[arg-type]
        "ratio_cold": summary([float(r["cold"]) / float(r["plain"]) for r in repeats]),  # type: ignore[arg-type]
        "ratio_warm": summary([float(r["warm"]) / float(r["plain"]) for r in repeats]),  # type: ignore[arg-type]
        "score": last.get("score"),
        "mutants": last.get("total"),
        "killed": (last.get("killed") or 0) + (last.get("killed_under_stress") or 0),
        "applicable": last.get("applicable"),
        "survivors": [m["operator"] for m in last.get("mutants", []) if m["status"] == "survived"],
        "goal": GOAL,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"task {figures['task']} on {figures['cores']} cores, {args.repeats} repeats")
        print(f"  one plain grade         {figures['plain_seconds']['median']:6.1f} s")
        print(
            f"  mutants, cold           {figures['mutants_cold_seconds']['median']:6.1f} s  "
            f"= {figures['ratio_cold']['median']:.1f}x ({figures['ratio_cold']['min']}-{figures['ratio_cold']['max']})"
        )
        print(
            f"  mutants, warm order     {figures['mutants_warm_seconds']['median']:6.1f} s  "
            f"= {figures['ratio_warm']['median']:.1f}x ({figures['ratio_warm']['min']}-{figures['ratio_warm']['max']})"
        )
        print(
            f"  score {figures['score']} ({figures['killed']} of {figures['applicable']} killed, "
            f"{figures['mutants']} mutants); survivors: {', '.join(figures['survivors']) or 'none'}"
        )
        verdict = "met" if figures["ratio_cold"]["median"] <= GOAL else "NOT met"
        print(f"  goal: the whole analysis within {GOAL:g}x one plain grade: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
