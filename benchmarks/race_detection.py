"""Race detection: how often a check-then-act race is rejected, plain repeats against stress, and what stress costs.

    python benchmarks/race_detection.py                 # 20 trials of each mode
    python benchmarks/race_detection.py --trials 5

The racy task keeps a bound of two sends at once with a limiter that checks the bound and takes a
slot in two steps; the safe task does both under one lock (evaluation/tests/taskfactory.py). Each
trial is a full grade with `python evaluation/run.py`. Modes:

  plain x1      one plain run per implementation (the authors' default)
  plain x5      --repeat 5, no stress
  stress x1     --stress, one run
  gate          --gate (its defaults: 5 stressed repeats, early exit)

Goals: the gate rejects the racy task in at least 19 of 20 grades and accepts the safe one in 20
of 20; plain runs catch the race far less often. Wall times are medians over the trials.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "evaluation" / "tests"))

from taskfactory import make_race_task  # noqa: E402

MODES = {
    "plain x1": [],
    "plain x5": ["--repeat", "5"],
    "stress x1": ["--stress"],
    "gate": ["--gate"],
}
# The safe task under plain repeats shows nothing the other modes do not, at the highest cost: skipped.
SKIP = {("plain x5", "safe")}


def grade(task: Path, out: Path, flags: list[str]) -> tuple[str, float, dict]:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            str(REPO / "evaluation" / "run.py"),
            "--task",
            str(task),
            "--output",
            str(out),
            "--quiet",
            *flags,
        ],
        capture_output=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    data = json.loads((out / "results.json").read_text())
    return data["verdict"], elapsed, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    args = parser.parse_args()
    runs = [(mode, name) for mode in args.modes for name in ("racy", "safe") if (mode, name) not in SKIP]
    verdicts: dict[tuple[str, str], list[str]] = {run: [] for run in runs}
    times: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    after_seconds: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    after_runs: dict[tuple[str, str], list[int]] = {run: [] for run in runs}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        tasks = {"racy": make_race_task(root / "racy", racy=True), "safe": make_race_task(root / "safe", racy=False)}
        print(f"{args.trials} trials per mode and task, modes interleaved within each trial", flush=True)
        for trial in range(args.trials):
            # Interleaved, so that a machine whose load drifts weighs on every mode alike.
            for mode, name in runs:
                verdict, elapsed, data = grade(tasks[name], root / f"out-{trial}-{mode}-{name}", MODES[mode])
                verdicts[(mode, name)].append(verdict)
                times[(mode, name)].append(elapsed)
                after_seconds[(mode, name)].append(data["implementations"]["after"]["duration_seconds"])
                after_runs[(mode, name)].append(data["nondeterminism"]["runs"].get("after", 1))
        for mode, name in runs:
            key = (mode, name)
            wanted = "rejected" if name == "racy" else "accepted"
            print(
                f"{mode:<10} {name}: {wanted} {verdicts[key].count(wanted)}/{args.trials}, "
                f"grade {statistics.median(times[key]):.1f} s, after process {statistics.median(after_seconds[key]):.2f} s "
                f"(medians), after runs {statistics.mean(after_runs[key]):.1f} mean"
            )
        if ("plain x1", "safe") in runs and ("stress x1", "safe") in runs:
            ratio = statistics.median(after_seconds[("stress x1", "safe")]) / statistics.median(
                after_seconds[("plain x1", "safe")]
            )
            print(f"cost of stress: the safe task's after process takes {ratio:.2f}x its plain wall time")


if __name__ == "__main__":
    main()
