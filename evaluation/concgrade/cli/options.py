"""The options every grading command shares, declared once, and how they become `GradeOptions`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from concgrade.errors import UsageError
from concgrade.grade.repeats import GATE_REPEAT
from concgrade.mutation.model import MutantsMode, MutationSettings
from concgrade.pipeline import BenchMode, GradeKind, GradeOptions, LimitOverrides

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
    stress = parser.add_mutually_exclusive_group()
    stress.add_argument(
        "--stress", action="store_true", help="tiny switch interval and seeded yields at locks and sleeps"
    )
    stress.add_argument(
        "--no-stress",
        action="store_true",
        help="no stress anywhere: not the default of a candidate grade, nor the rerun of surviving mutants",
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
        "--no-bench",
        action="store_true",
        help="skip the benchmark even where a declared min_speedup would time it (the report says so)",
    )
    parser.add_argument("--no-cache", action="store_true", help="regrade and re-time even what is cached")


def add_mutation_options(parser: argparse.ArgumentParser) -> None:
    """How a grade judges the task's suites by mutants of its after (docs/mutants.md)."""
    mutants = parser.add_mutually_exclusive_group()
    mutants.add_argument(
        "--mutants",
        action="store_true",
        help="also run the suites on mutants of the after: the kill matrix and score (docs/mutants.md)",
    )
    mutants.add_argument(
        "--no-mutants", action="store_true", help="skip the mutants even where --gate runs a declared [mutants]"
    )
    parser.add_argument(
        "--full-matrix",
        action="store_true",
        help="run every suite test on every mutant (default: stop each mutant at its first failing test)",
    )
    parser.add_argument(
        "--mutant-timeout",
        type=float,
        metavar="SECONDS",
        help="per-test timeout of mutant runs (default: 5x the after's slowest test, rounded up, at least 2 s)",
    )


def add_output_options(parser: argparse.ArgumentParser, default_output: str, json_what: str) -> None:
    parser.add_argument("--output", type=Path, help=f"where to write the reports (default: {default_output})")
    parser.add_argument("--json", action="store_true", help=f"print {json_what} on stdout instead of the summary")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the verdict, and no progress")
    parser.add_argument("--debug", action="store_true", help="show a traceback when concgrade itself fails")


def grade_options_from(args: argparse.Namespace, kind: GradeKind, command: tuple[str, ...] = ()) -> GradeOptions:
    """The parsed flags as the one options object of a grade; a bad value is a UsageError naming the flag.

    `kind` is what is graded: an author's own task ("author"), a candidate refactor (--candidate,
    predictions) or a whole dataset; it decides what runs by default (`stress_mode`, `bench_mode`).
    """
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
    if args.seed is not None and getattr(args, "no_stress", False):
        raise UsageError("--seed replays a stressed grade: it cannot go with --no-stress")
    return GradeOptions(
        jobs=args.jobs,
        repeat=args.repeat or (GATE_REPEAT if args.gate else 1),
        stress=stress_mode(args, kind),
        seed=args.seed,
        early_exit=not args.no_early_exit,
        gate=args.gate,
        bench=bench_mode(args, kind),
        bench_cache=not args.no_cache,
        limits=LimitOverrides(**{flag: getattr(args, flag) for flag in POSITIVE_LIMITS}),
        mutation=mutation_settings(args),
        opted_out=tuple(phase for phase in ("stress", "bench", "mutants") if getattr(args, f"no_{phase}", False)),
        command=command,
    )


def mutation_settings(args: argparse.Namespace) -> MutationSettings:
    """The mutation phase's settings from the flags (commands without them never run mutants)."""
    timeout = getattr(args, "mutant_timeout", None)
    if timeout is not None and timeout <= 0:
        raise UsageError("--mutant-timeout must be a positive number")
    return MutationSettings(
        mode=mutants_mode(args),
        full_matrix=bool(getattr(args, "full_matrix", False)),
        test_timeout=timeout,
        stress=not getattr(args, "no_stress", False),
    )


def mutants_mode(args: argparse.Namespace) -> MutantsMode:
    """--mutants (and `concgrade mutants`) run them, --no-mutants never; the gate runs them where the task
    declares [mutants]; any other grade does not."""
    if getattr(args, "mutants", False):
        return "on"
    if getattr(args, "no_mutants", False):
        return "off"
    return "auto" if args.gate else "off"


def stress_mode(args: argparse.Namespace, kind: GradeKind) -> bool:
    """Whether the runs are stressed: --stress, --seed and the gate ask for it, and a candidate grade stresses by
    default (seeded, replayable with --seed): a model's refactor gets the strictest grade the task allows.
    --no-stress turns it off everywhere."""
    if getattr(args, "no_stress", False):
        return False
    return bool(args.stress or args.gate or args.seed is not None or kind == "candidate")


def bench_mode(args: argparse.Namespace, kind: GradeKind) -> BenchMode:
    """When the task's declared workloads are timed: the one rule (docs/bench.md says it the same way).

    --bench times them in any grade, --no-bench never. Otherwise they are timed where a workload declares
    min_speedup ("auto") in every grade but an author's plain grade of one task, which stays the fast path
    (timing a sequential before takes a minute): the gate, a candidate (--candidate, predictions) and a dataset.
    Timings of unchanged code come from the cache, so a candidate's grade times only the candidate.
    """
    if args.bench:
        return "on"
    if args.no_bench:
        return "off"
    return "auto" if args.gate or kind != "author" else "off"
