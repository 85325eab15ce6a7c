"""The example run: 1,000 users, 5 messages sent to all of them, then the statistics.

Run it against one implementation with `PYTHONPATH=repository_before python example.py` (or _after).
"""

from __future__ import annotations

import argparse
import time

from notifsim.simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--loss-ratio", type=float, default=0.1)
    parser.add_argument("--open-ratio", type=float, default=0.3)
    parser.add_argument("--latency", type=float, default=0.001, help="seconds each delivery waits")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with Simulator(
        seed=args.seed, loss_ratio=args.loss_ratio, open_ratio=args.open_ratio, latency=args.latency
    ) as simulator:
        simulator.create_users(args.users)
        for n in range(1, args.messages + 1):
            simulator.send(simulator.create_message(f"Newsletter #{n}", f"Issue {n} of our newsletter."))
        statistics = simulator.statistics()
    elapsed = time.perf_counter() - started

    print(statistics.summary())
    print(f"elapsed: {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
