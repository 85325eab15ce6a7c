"""How often a pytest-timeout failure crashes pytest, with and without concgrade's plugin (Python 3.11).

    python benchmarks/timeout_crashes.py              # 200 runs each way
    python benchmarks/timeout_crashes.py --runs 50

Each run is one pytest process whose first test spins in `concurrent.futures.wait` (as a thread-pool refactor's
caller does while its sends run) until pytest-timeout's SIGALRM fails it, and whose second test passes. On Python
3.11 the signal sometimes lands on the jump back of `wait`'s loop over a `with` block, a bytecode with no line
number: pytest then crashes formatting the failure (INTERNALERROR, exit 3) and never runs the second test.
concgrade's plugin gives such traceback entries a line before pytest formats them (inside/tracebacks.py).
Prints the crash count each way; the goal is none with the plugin. Python 3.12 numbers that jump, so both are 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SPINS_IN_WAIT = """
from concurrent.futures import Future, wait

def test_spins_in_wait():
    done = []
    for _ in range(500):
        future = Future()
        future.set_result(None)
        done.append(future)
    pending = Future()
    while True:
        wait([*done, pending], timeout=0)

def test_runs_after_it():
    pass
"""


def crashes(folder: Path, runs: int, plugin: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", "-p", "no:concgrade", *plugin, "-p", "no:cacheprovider"]
    command += ["-q", "--timeout", "0.2", "--timeout-method", "signal", "test_wait.py"]
    crashed = 0
    for _ in range(runs):
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        crashed += "INTERNALERROR" in done.stdout + done.stderr
    return crashed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_wait.py").write_text(SPINS_IN_WAIT, encoding="utf-8")
        plain = crashes(Path(folder), args.runs, [])
        fixed = crashes(Path(folder), args.runs, ["-p", "concgrade.inside.plugin"])
    print(f"Python {sys.version.split()[0]}, {args.runs} runs each")
    print(f"  pytest alone:               {plain} crashed (INTERNALERROR)")
    print(f"  with concgrade's plugin:    {fixed} crashed")
    if fixed:
        sys.exit(1)


if __name__ == "__main__":
    main()
