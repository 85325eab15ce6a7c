"""2,000 items, before against after: wall time, processes started and peak live processes (measured side by side).

    python examples/process_pool/benchmark.py [--items 2000] [--cost 2000]

Each implementation runs in its own interpreter (TEST_IMPLEMENTATION selects it, as in the tests), with
concgrade's cross-process probe counting its worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

CHILD = """
import json, sys, time
sys.path[:0] = [{harness!r}, {folder!r}]
from concgrade.inside import process_probe
import parallelizing
items = [{cost}] * {items}
probe, undo = process_probe.start_probe("parallelizing:process_item")
started = time.perf_counter()
results = parallelizing.process_all(items)
elapsed = time.perf_counter() - started
undo()
figures = probe.figures()
print(json.dumps({{"seconds": elapsed, "results": len(results), "processes_started": figures["processes_started"],
                   "max_processes": figures["max_processes"], "max_active": figures["max_active"]}}))
"""


def measure(implementation: str, items: int, cost: int) -> dict:
    code = CHILD.format(
        harness=str(REPO / "evaluation"), folder=str(HERE / f"repository_{implementation}"), items=items, cost=cost
    )
    env = {**os.environ, "TEST_IMPLEMENTATION": implementation}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--cost", type=int, default=2000, help="the item value: the checksum's loop length")
    args = parser.parse_args()
    print(f"{args.items} items of cost {args.cost} on {os.cpu_count()} cores")
    figures = {name: measure(name, args.items, args.cost) for name in ("before", "after")}
    for name, data in figures.items():
        print(
            f"  {name:<6} {data['seconds']:7.2f} s  processes started {data['processes_started']:5}  "
            f"peak live {data['max_processes']:4}  peak calls at once {data['max_active']}"
        )
    print(f"  speed-up {figures['before']['seconds'] / figures['after']['seconds']:.1f}x")


if __name__ == "__main__":
    main()
