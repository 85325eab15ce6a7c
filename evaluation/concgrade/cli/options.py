"""The options every grading command shares, declared once, and how they become `GradeOptions`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from concgrade.errors import UsageError
from concgrade.grade.repeats import GATE_REPEAT
from concgrade.pipeline import BenchMode, GradeOptions, LimitOverrides

POSITIVE_LIMITS = ("test_timeout", "run_timeout", "memory_mb", "max_tasks", "output_mb")


def add_grade_options(parser: argparse.ArgumentParser, what_runs_at_once: str) -> None:
    """The options that shape each grade: parallelism, limits, repeats and stress, the benchmark phase."""
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help=f"{what_runs_at_once} at once")
    parser.add_argument("--test-timeout", type=float, help="seconds per test (default: the manifest's, or 20)")
    parser.add_argument(
        "--run-timeout", type=float, help="seconds per pytest process (default: the manifest's, or 300)"
    )
    parser.add_argument("--memory-mb", type=float, help="memory of each run, in MiB (default: the manifest's, or 4096)")
    parser.add_argument(
        "--max-tasks", type=int, help="processes plus threads of each run (default: the manifest's, or 1024)"
    )
    parser.add_argument(
        "--output-mb", type=float, help="output each run may write, in MiB (default: the manifest's, or 16)"
    )
    parser.add_argument("--repeat", type=int, help="run each implementation N times; any disagreement is flaky")
    parser.add_argument(
        "--stress", action="store_true", help="tiny switch interval and seeded yields at locks and sleeps"
    )
    parser.add_argument("--seed", type=int, help="the stress seed to replay (results.json gives it); implies --stress")
    parser.add_argument(
        "--gate",
        action="store_true",
        help=f"CI gate: --repeat {GATE_REPEAT} (unless given) with --stress; stops an implementation at its "
        "first contradiction",
    )
    parser.add_argument(
        "--no-early-exit", action="store_true", help="run every repeat even after one contradicts the expectation"
    )
    bench = parser.add_mutually_exclusive_group()
    bench.add_argument(
        "--bench",
        action="store_true",
        help="time the task's declared workloads on every implementation (docs/bench.md)",
    )
    bench.add_argument(
        "--no-bench", action="store_true", help="skip the benchmark even where a declared min_speedup runs it"
    )
    parser.add_argument("--no-cache", action="store_true", help="regrade and re-time even what is cached")


def add_output_options(parser: argparse.ArgumentParser, default_output: str, json_what: str) -> None:
    parser.add_argument("--output", type=Path, help=f"where to write the reports (default: {default_output})")
    parser.add_argument("--json", action="store_true", help=f"print {json_what} on stdout instead of the summary")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the verdict, and no progress")
    parser.add_argument("--debug", action="store_true", help="show a traceback when concgrade itself fails")


def grade_options_from(
    args: argparse.Namespace, default_bench: BenchMode, command: tuple[str, ...] = ()
) -> GradeOptions:
    """The parsed flags as the one options object of a grade; a bad value is a UsageError naming the flag."""
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    for flag in POSITIVE_LIMITS:
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive number")
    if args.repeat is not None and args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be a non-negative integer")
    return GradeOptions(
        jobs=args.jobs,
        repeat=args.repeat or (GATE_REPEAT if args.gate else 1),
        stress=args.stress or args.gate or args.seed is not None,
        seed=args.seed,
        early_exit=not args.no_early_exit,
        gate=args.gate,
        bench=bench_mode(args, default_bench),
        bench_cache=not args.no_cache,
        limits=LimitOverrides(**{flag: getattr(args, flag) for flag in POSITIVE_LIMITS}),
        command=command,
    )


def bench_mode(args: argparse.Namespace, default: BenchMode) -> BenchMode:
    """--bench times the workloads, --no-bench never; the gate times them where the manifest demands a speedup.

    A single author's grade defaults to "off" (timing a sequential before takes a minute, so the plain
    grade stays the fast path); a dataset grade defaults to "auto".
    """
    if args.bench:
        return "on"
    if args.no_bench:
        return "off"
    return "auto" if args.gate else default
