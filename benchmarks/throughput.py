"""Throughput of the reference refactor against the ideal of 50 perfectly busy send slots.

Each repeat runs in a fresh process: import notify_service from the implementation folder,
warm up (the first call starts the pool's threads), then time notify_users over N users with
the real send (about 20 ms) and the real lookup (about 2 ms).

The ideal: every user costs one lookup and one send, one after the other on the same worker, and
at most 50 users are in progress at once, so N users need N x (lookup + send) / 50 seconds. The
bound with sends alone, N x send / 50, is printed too; it would need lookups done outside the
50 slots, which the task does not ask for.

    python benchmarks/throughput.py [--users 2000] [--repeats 5] [--implementation repository_after]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.9


def time_one_batch(users: int) -> dict[str, float]:
    """In this process: warm up, then time one batch. notify_service must be importable."""
    import notify_service

    notify_service.notify_users(range(notify_service.MAX_WORKERS), "warm-up")
    start = time.perf_counter()
    results = notify_service.notify_users(range(users), "benchmark")
    seconds = time.perf_counter() - start
    if len(results) != users or any(not isinstance(result, str) for result in results):
        raise SystemExit("notify_users returned something else than one string per user")
    return {
        "seconds": seconds,
        "send": notify_service.SEND_LATENCY,
        "lookup": notify_service.LOOKUP_LATENCY,
        "limit": notify_service.MAX_WORKERS,
    }


def sleep_overshoot(seconds: float, samples: int = 20) -> float:
    """How much longer than asked time.sleep really blocks here, on average."""
    start = time.perf_counter()
    for _ in range(samples):
        time.sleep(seconds)
    return (time.perf_counter() - start) / samples - seconds


def run_repeat(implementation: Path, users: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(implementation), PYTHONDONTWRITEBYTECODE="1")
    completed = subprocess.run(
        [sys.executable, __file__, "--single", "--users", str(users)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--implementation", type=Path, default=ROOT / "repository_after")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.single:
        print(json.dumps(time_one_batch(args.users)))
        return

    runs = [run_repeat(args.implementation.resolve(), args.users) for _ in range(args.repeats)]
    send, lookup, limit = runs[0]["send"], runs[0]["lookup"], runs[0]["limit"]
    measured = [run["seconds"] for run in runs]
    median = statistics.median(measured)
    rounds = math.ceil(args.users / limit)
    ideal = rounds * (lookup + send)
    ideal_sends_only = rounds * send

    real_send, real_lookup = send + sleep_overshoot(send), lookup + sleep_overshoot(lookup)
    ideal_real_sleeps = rounds * (real_send + real_lookup)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    rows = [
        ("implementation", str(args.implementation)),
        ("users", f"{args.users}, limit {limit}, send {send * 1e3:g} ms, lookup {lookup * 1e3:g} ms"),
        ("load average", f"{load} on {os.cpu_count()} cpus"),
        ("ideal seconds", f"{ideal:.3f}  ({rounds} rounds of lookup + send)"),
        (
            "measured seconds",
            f"{median:.3f}  median of {len(measured)}, min {min(measured):.3f}, max {max(measured):.3f}",
        ),
        ("ratio", f"{ideal / median:.3f}  (goal >= {GOAL})"),
        (
            "ratio, sends only",
            f"{ideal_sends_only / median:.3f}  (ideal {ideal_sends_only:.3f} s if lookups cost nothing)",
        ),
        (
            "real sleeps here",
            f"send {real_send * 1e3:.2f} ms, lookup {real_lookup * 1e3:.2f} ms: "
            f"ideal {ideal_real_sleeps:.3f} s, ratio {ideal_real_sleeps / median:.3f}",
        ),
    ]
    for label, value in rows:
        print(f"{label:<19} {value}")


if __name__ == "__main__":
    main()
