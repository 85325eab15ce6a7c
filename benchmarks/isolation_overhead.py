"""Wall and CPU time of `python evaluation/run.py --task FIXTURE`, this checkout against another, interleaved.

    python benchmarks/isolation_overhead.py --baseline /path/to/other/checkout [--repeats 10]

Runs are interleaved (baseline, current, baseline, ...) on a small fixture task so that load from other
processes on the machine falls on both alike; the medians and their ratio are printed. CPU time is that
of the whole process tree (children included), less sensitive to a loaded machine than wall time.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE / "evaluation"), str(HERE / "evaluation" / "tests")]

from taskfactory import make_task  # noqa: E402


def one_grade(checkout: Path, task: Path, out: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(checkout / "evaluation" / "run.py"), "--task", str(task), "--output", str(out), "-q"],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: grade failed: {done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of concgrade")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        task = make_task(Path(scratch) / "task")
        times: dict[str, list[tuple[float, float]]] = {"baseline": [], "current": []}
        for name, checkout in (("baseline", args.baseline), ("current", HERE)):  # warm-up, not counted
            one_grade(checkout, task, Path(scratch) / f"out-{name}")
        for _ in range(args.repeats):
            for name, checkout in (("baseline", args.baseline), ("current", HERE)):
                times[name].append(one_grade(checkout, task, Path(scratch) / f"out-{name}"))
    for kind, index in (("wall", 0), ("cpu", 1)):
        base = statistics.median(t[index] for t in times["baseline"])
        current = statistics.median(t[index] for t in times["current"])
        spread = [round(t[index], 2) for t in times["current"]]
        print(
            f"{kind}: baseline {base:.2f} s, current {current:.2f} s, ratio {current / base:.3f}  (current: {spread})"
        )


if __name__ == "__main__":
    main()
