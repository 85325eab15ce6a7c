"""How long a grade of the reference task takes to reject hostile candidates: a deadlock, a memory hog.

    python benchmarks/hostile_verdict_times.py [--baseline /path/to/other/checkout] [--repeats 1]

Each candidate is graded with `--candidate` (and --no-bench) against a copy of the reference task, by this
checkout and, with --baseline, by another one, interleaved; the wall time of each grade, its verdict and the
check that failed first on the candidate are printed. The goal is 15 s or less for each hostile candidate
(the reference candidate shows what an ordinary grade costs on the machine at the moment).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PARTS = ("repository_before", "repository_after", "tests", "trajectory", "README.md", "Dockerfile")
REFERENCE = (HERE / "repository_after" / "notify_service.py").read_text(encoding="utf-8")

CANDIDATES = {
    "reference": REFERENCE,
    # Every call takes the module's lock twice: the caller's thread waits on itself forever.
    "deadlock": REFERENCE
    + "\n\n_lock = threading.Lock()\n_bounded = notify_users\n\n\ndef notify_users(user_ids, payload):\n"
    "    with _lock:\n        with _lock:\n            return _bounded(user_ids, payload)\n",
    # Every call holds on to memory until the run's limit ends the process.
    "memory-hog": REFERENCE + "\n\n_hoard = []\n_bounded = notify_users\n\n\ndef notify_users(user_ids, payload):\n"
    "    while True:\n        _hoard.append(bytearray(64 * 2**20))\n",
}


def copy_task(target: Path) -> Path:
    for part in PARTS:
        source = HERE / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    (target / "evaluation").mkdir()
    shutil.copy2(HERE / "evaluation" / "concgrade.toml", target / "evaluation" / "concgrade.toml")
    return target


def grade(checkout: Path, task: Path, candidate: Path, out: Path) -> tuple[float, str, str]:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(checkout / "evaluation" / "run.py"), "--task", str(task), "--candidate", str(candidate)]
        + ["--output", str(out), "--no-bench", "-q"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    data = json.loads((out / "results.json").read_text())
    first = next((c for c in data["checks"] if c["status"] != "pass" and "candidate" in c["id"]), None)
    return seconds, data["verdict"], first["id"] if first else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout of concgrade, graded side by side")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    checkouts = {"current": HERE, **({"baseline": args.baseline} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        task = copy_task(root / "task")
        times: dict[tuple[str, str], list[tuple[float, str, str]]] = {}
        for name, source in CANDIDATES.items():
            folder = root / "candidates" / name
            folder.mkdir(parents=True)
            (folder / "notify_service.py").write_text(source, encoding="utf-8")
            for number in range(args.repeats):
                for label, checkout in checkouts.items():
                    out = root / "out" / f"{label}-{name}-{number}"
                    times.setdefault((label, name), []).append(grade(checkout, task, folder, out))
    for (label, name), runs in times.items():
        seconds = statistics.median(run[0] for run in runs)
        print(f"{label:8s} {name:10s} {seconds:6.1f} s  verdict {runs[0][1]:8s} first failing check {runs[0][2]}")


if __name__ == "__main__":
    main()
