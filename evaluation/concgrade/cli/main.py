"""The command line: parse arguments, call the library, print a summary, exit 0 / 1 / 2."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from concgrade import __version__
from concgrade.bench.measure import prepare_workloads
from concgrade.cli.bulk import add_bulk_commands, rewrite_dataset_flag, run_bulk
from concgrade.errors import ConcgradeError, UsageError
from concgrade.grade.repeats import GATE_REPEAT
from concgrade.pipeline import GradeOptions, grade_task
from concgrade.report.github import write_github_outputs
from concgrade.report.html import write_html
from concgrade.report.junit import write_junit
from concgrade.report.markdown import write_summary_md
from concgrade.report.results_json import render_json, write_results_json
from concgrade.report.terminal import Progress, format_summary
from concgrade.task.model import load_task

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
SUBCOMMANDS = ("grade", "check", "dataset", "predictions")
EXIT_STATUS_HELP = """\
exit status:
  0    accepted: every check passed
  1    rejected: a check failed (the summary names it, and the test)
  2    error: a malformed task, wrong arguments, a run that could not start, or a check that could not be
       evaluated (one line on stderr says what and where)
  130  interrupted (Ctrl-C)
"""


def build_parser(default_task: Path | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="concgrade",
        description="Grade a concurrency-refactor task: run its suites on before and after, isolated and instrumented.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"concgrade {__version__}")
    commands = parser.add_subparsers(dest="command")
    grade = commands.add_parser(
        "grade",
        help="grade a task (the default command)",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument("--task", type=Path, default=default_task, help="the task folder (default: %(default)s)")
    grade.add_argument("--candidate", type=Path, help="a third implementation folder, graded like after")
    grade.add_argument("--output", type=Path, help="where to write the reports (default: TASK/reports)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest processes at once")
    grade.add_argument("--test-timeout", type=float, help="seconds per test (default: the manifest's, or 20)")
    grade.add_argument("--run-timeout", type=float, help="seconds per pytest process (default: the manifest's, or 300)")
    grade.add_argument("--memory-mb", type=float, help="memory of each run, in MiB (default: the manifest's, or 4096)")
    grade.add_argument(
        "--max-tasks", type=int, help="processes plus threads of each run (default: the manifest's, or 1024)"
    )
    grade.add_argument(
        "--output-mb", type=float, help="output each run may write, in MiB (default: the manifest's, or 16)"
    )
    grade.add_argument("--repeat", type=int, help="run each implementation N times; any disagreement is flaky")
    grade.add_argument(
        "--stress", action="store_true", help="tiny switch interval and seeded yields at locks and sleeps"
    )
    grade.add_argument("--seed", type=int, help="the stress seed to replay (results.json gives it); implies --stress")
    grade.add_argument(
        "--gate",
        action="store_true",
        help=f"CI gate: --repeat {GATE_REPEAT} (unless given) with --stress; stops an implementation at its first contradiction",
    )
    grade.add_argument(
        "--no-early-exit", action="store_true", help="run every repeat even after one contradicts the expectation"
    )
    bench = grade.add_mutually_exclusive_group()
    bench.add_argument(
        "--bench",
        action="store_true",
        help="time the task's declared workloads on every implementation (docs/bench.md)",
    )
    bench.add_argument(
        "--no-bench",
        action="store_true",
        help="skip the benchmark even in the gate, where a declared min_speedup runs it",
    )
    grade.add_argument("--no-cache", action="store_true", help="re-time workloads even if this code was timed before")
    grade.add_argument("--junit-xml", type=Path, metavar="PATH", help="also write JUnit XML (Jenkins schema) here")
    grade.add_argument("--summary-md", type=Path, metavar="PATH", help="also write a Markdown summary (a PR comment)")
    grade.add_argument("--json", action="store_true", help="print results.json on stdout instead of the summary")
    grade.add_argument("--quiet", "-q", action="store_true", help="print only the verdict, and no progress")
    grade.add_argument("--debug", action="store_true", help="show a traceback when concgrade itself fails")
    commands.add_parser("check", help="lint a task folder without running it (see `concgrade check --help`)")
    add_bulk_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, default_task: Path | None = None) -> int:
    argv = rewrite_dataset_flag(list(sys.argv[1:] if argv is None else argv))
    typed = invocation(argv)
    if argv and argv[0] == "check":  # the linter parses its own arguments (options may come first)
        from concgrade.static.lint.checks import main as check_main

        return check_main(argv[1:])
    if not argv or argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "grade")
    args = build_parser(default_task or Path.cwd()).parse_args(argv)
    args.invocation = typed
    try:
        if args.command in ("dataset", "predictions"):
            return run_bulk(args)
        return run_grade(args)
    except ConcgradeError as exc:
        print(f"concgrade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("concgrade: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of concgrade: say so in one line, trace on request
        if args.debug:
            traceback.print_exc()
        print(f"concgrade: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        return EXIT_ERROR


def run_grade(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    for flag in ("test_timeout", "run_timeout", "memory_mb", "max_tasks", "output_mb"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive number")
    if args.repeat is not None and args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be a non-negative integer")
    options = GradeOptions(
        jobs=args.jobs,
        repeat=args.repeat or (GATE_REPEAT if args.gate else 1),
        stress=args.stress or args.gate or args.seed is not None,
        seed=args.seed,
        early_exit=not args.no_early_exit,
        gate=args.gate,
    )
    task = load_task(args.task).with_limits(
        args.test_timeout,
        args.run_timeout,
        memory_mb=args.memory_mb,
        max_tasks=args.max_tasks,
        output_mb=args.output_mb,
    )
    if args.candidate:
        task = task.with_candidate(args.candidate)
    prepare_workloads(task)  # a bad workload declaration is an error before anything starts
    output = (args.output or task.root / "reports").resolve()
    progress = None
    if not (args.quiet or args.json):
        progress = Progress([impl.name for impl in task.implementations], args.jobs, repeat=options.repeat)
        progress.start(task.name)
    bench_progress = None if (args.quiet or args.json) else _print_line
    try:
        options = dataclasses.replace(
            options, command=tuple(args.invocation), bench=bench_mode_of(args), bench_cache=not args.no_cache
        )
        results = grade_task(task, options, progress.run_done if progress else None, bench_progress)
    finally:
        if progress:
            progress.stop()
    written = [output / "results.json", output / "report.html"]
    write_results_json(results, written[0])
    write_html(results, written[1])
    if args.junit_xml:
        write_junit(results, args.junit_xml)
        written.append(args.junit_xml.resolve())
    if args.summary_md:
        write_summary_md(results, args.summary_md)
        written.append(args.summary_md.resolve())
    # Annotations are workflow commands read from the output; with --json, stdout is kept for the JSON alone.
    write_github_outputs(results, os.environ, sys.stderr if args.json else sys.stdout)
    if args.json:
        sys.stdout.write(render_json(results))
    elif args.quiet:
        print(results.verdict)
    else:
        print(format_summary(results))
        print("reports: " + ", ".join(str(path) for path in written))
    return results.exit_code


def _print_line(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def bench_mode_of(args: argparse.Namespace) -> str:
    """--bench times the workloads; the gate times them where the manifest demands a speedup; else none.

    Timing a sequential before takes a minute, so an author's plain grade stays the fast path.
    """
    if args.bench:
        return "on"
    if getattr(args, "gate", False) and not args.no_bench:
        return "auto"
    return "off"


def invocation(argv: Sequence[str]) -> list[str]:
    """The command line as the user typed it, to record how to reproduce the grade."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else "concgrade"
    if program.endswith(".py"):
        return ["python", program, *argv]
    return [Path(program).name if Path(program).name == "concgrade" else "concgrade", *argv]


if __name__ == "__main__":
    sys.exit(main())
