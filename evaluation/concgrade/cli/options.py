"""Every flag of every command, declared once, and how the grading ones become `GradeOptions`.

The commands (main.py, bulk.py, check.py) only assemble these declarations, so a flag has one spelling,
one help text and one default wherever it appears; `Parser` gives every command pytest's habits:
the defaults in `--help`, and a "did you mean" for a misspelt flag.
"""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path
from typing import Any, NoReturn

from concgrade.errors import UsageError
from concgrade.grade.repeats import GATE_REPEAT
from concgrade.mutation.model import MutantsMode, MutationSettings
from concgrade.pipeline import BenchMode, GradeKind, GradeOptions, LimitOverrides

POSITIVE_LIMITS = ("test_timeout", "run_timeout", "memory_mb", "max_tasks", "output_mb")
NO_DEFAULT_SHOWN = (None, False, argparse.SUPPRESS)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs keep their layout; an option with a real default says it, as pytest's do."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default in NO_DEFAULT_SHOWN or action.default == []:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a misspelt flag (`--taks` → `--task`), and defaults in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(message + did_you_mean(message, list(self._option_string_actions)))


def did_you_mean(message: str, known: list[str]) -> str:
    """' (did you mean --task?)' for the unrecognized flags of an argparse message that are close to a known one."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    flags = [word.split("=", 1)[0] for word in message.split(":", 1)[1].split() if word.startswith("-")]
    hints = {flag: difflib.get_close_matches(flag, known, n=1, cutoff=0.6) for flag in flags}
    found = [(flag, close[0]) for flag, close in hints.items() if close]
    if not found:
        return ""
    if len(found) == 1:
        return f" (did you mean {found[0][1]}?)"
    return " (did you mean " + ", ".join(f"{close} for {flag}" for flag, close in found) + "?)"


# --- grading one task --------------------------------------------------------------------------------


def add_task_arguments(parser: argparse.ArgumentParser, default_task: Path) -> None:
    """The task to grade (positional, as pytest and `check` take it, or --task) and a candidate."""
    parser.add_argument("task", type=Path, nargs="?", metavar="TASK", help="the task folder (the same as --task)")
    parser.add_argument(
        "--task", dest="task_option", type=Path, metavar="DIR", help=f"the task folder (default: {default_task})"
    )
    parser.add_argument(
        "--candidate",
        metavar="DIR_OR_DIFF",
        help="also grade a model's refactor, like after: a folder, or a .diff/.patch against repository_before "
        "(or repository_after, when the diff names it); its reports go to TASK/reports/candidate-NAME/",
    )
    parser.add_argument(
        "--dataset",
        metavar="DIR",
        help="grade every task folder below DIR instead (the `dataset` command: `concgrade dataset --help`)",
    )


def add_report_file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--junit-xml",
        "--junitxml",
        dest="junit_xml",
        type=Path,
        metavar="PATH",
        help="also write JUnit XML (Jenkins schema) here (--junitxml, pytest's spelling, works too)",
    )
    parser.add_argument("--summary-md", type=Path, metavar="PATH", help="also write a Markdown summary (a PR comment)")
    parser.add_argument(
        "--summary-json",
        type=Path,
        metavar="PATH",
        help="also write a short JSON summary: verdict, test counts, line counts and structure per implementation",
    )


def add_grade_options(parser: argparse.ArgumentParser, what_runs_at_once: str) -> None:
    """The options that shape each grade: test filter, parallelism, limits, repeats and stress, the benchmark."""
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="only the tests matching this pytest -k expression (a partial grade: the suites shrink to them)",
    )
    parser.add_argument(
        "--jobs", type=int, metavar="N", default=os.cpu_count() or 1, help=f"{what_runs_at_once} at once"
    )
    parser.add_argument(
        "--test-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds per test (default: the manifest's, else the task's own pytest-timeout setting, else 20)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds per pytest process (default: the manifest's, or 300)",
    )
    parser.add_argument(
        "--memory-mb", type=float, metavar="MIB", help="memory of each run, in MiB (default: the manifest's, or 4096)"
    )
    parser.add_argument(
        "--max-tasks",
        type=int,
        metavar="N",
        help="processes plus threads of each run (default: the manifest's, or 1024)",
    )
    parser.add_argument(
        "--output-mb",
        type=float,
        metavar="MIB",
        help="output each run may write, in MiB (default: the manifest's, or 16)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help=f"run each implementation N times; any disagreement is flaky (default: 1, or {GATE_REPEAT} with --gate)",
    )
    stress = parser.add_mutually_exclusive_group()
    stress.add_argument(
        "--stress", action="store_true", help="tiny switch interval and seeded yields at locks and sleeps"
    )
    stress.add_argument(
        "--no-stress",
        action="store_true",
        help="no stress anywhere: not the default of a candidate grade, nor the rerun of surviving mutants",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the stress seed to replay, also the first seed of every declared history (results.json gives it); "
        "implies --stress",
    )
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
    parser.add_argument(
        "--install",
        action="store_true",
        help="run the tests in a virtualenv of the task's own requirements (built once and cached; its pytest "
        "as pinned, the Python its Dockerfile names where one is found)",
    )


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
        help="per-test timeout of mutant runs (default: 3x the after's slowest test, rounded up, at least 2 s)",
    )


def add_output_options(parser: argparse.ArgumentParser, default_output: str, json_what: str) -> None:
    parser.add_argument(
        "--output", type=Path, metavar="DIR", help=f"where to write the reports (default: {default_output})"
    )
    parser.add_argument("--json", action="store_true", help=f"print {json_what} on stdout instead of the summary")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="print only the verdict, and no progress")
    verbosity.add_argument(
        "--verbose", "-v", action="store_true", help="also list every test's outcome and every passing check"
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback when concgrade itself fails")


# --- many tasks --------------------------------------------------------------------------------------


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="the dataset folder")
    parser.add_argument("--changed-since", metavar="REV", help="only the tasks with files changed since a git revision")


def add_predictions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, metavar="FILE", help='JSON lines: {"task": ..., "candidate": folder or diff}'
    )
    parser.add_argument(
        "--dataset", type=Path, required=True, metavar="DIR", help="the dataset folder holding the tasks"
    )


def add_bulk_options(parser: argparse.ArgumentParser) -> None:
    """What only many tasks need: which of them, their environments and services, and where they run."""
    parser.add_argument(
        "--instance-ids",
        "--instance_ids",
        dest="instance_ids",
        nargs="+",
        metavar="ID",
        help="only these tasks: a task's path below the dataset, its folder name or its manifest name "
        "(SWE-bench's --instance_ids works too)",
    )
    parser.add_argument(
        "--service", action="append", default=[], metavar="NAME=HOST:PORT", help="a service tasks need, e.g. redis"
    )
    parser.add_argument(
        "--services",
        choices=("off", "auto"),
        default="off",
        help="auto: start a private instance of a service a task needs (redis, postgres) where it is installed",
    )
    parser.add_argument("--executor", choices=("local", "dask"), default="local", help="where grades run")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler (with --executor dask)")


# --- linting -----------------------------------------------------------------------------------------


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fix", action="store_true", help="apply safe fixes derived from the task itself")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="the levels of a dataset's gate: metadata and layout problems (hygiene) are errors too",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--results",
        type=Path,
        metavar="PATH",
        help="a grade's results.json whose runs the instances file is checked against (default: TASK/reports/)",
    )
    parser.add_argument("task_dir", type=Path, metavar="TASK", help="the task folder")


# --- from flags to options ---------------------------------------------------------------------------


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
    if args.keyword is not None and not args.keyword.strip():
        raise UsageError("-k needs an expression, e.g. -k 'order and not slow'")
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
        keyword=args.keyword,
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
