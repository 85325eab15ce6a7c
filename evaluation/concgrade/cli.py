"""The command line: parse arguments, call the library, print a summary, exit 0 / 1 / 2."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from concgrade import __version__
from concgrade.dataset_cli import add_bulk_commands, rewrite_dataset_flag, run_bulk
from concgrade.errors import ConcgradeError, UsageError
from concgrade.pipeline import GradeOptions, grade_task
from concgrade.report.html import write_html
from concgrade.report.results_json import render_json, write_results_json
from concgrade.report.terminal import format_summary
from concgrade.task import load_task

EXIT_ERROR = 2
SUBCOMMANDS = ("grade", "check", "dataset", "predictions")


def build_parser(default_task: Path | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="concgrade",
        description="Grade a concurrency-refactor task: run its suites on before and after, isolated and instrumented.",
        epilog="Exit status: 0 accepted, 1 rejected, 2 error (bad task, bad arguments, or a run that could not start).",
    )
    parser.add_argument("--version", action="version", version=f"concgrade {__version__}")
    commands = parser.add_subparsers(dest="command")
    grade = commands.add_parser("grade", help="grade a task (the default command)")
    grade.add_argument("--task", type=Path, default=default_task, help="the task folder (default: %(default)s)")
    grade.add_argument("--candidate", type=Path, help="a third implementation folder, graded like after")
    grade.add_argument("--output", type=Path, help="where to write the reports (default: TASK/reports)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pytest processes at once")
    grade.add_argument("--test-timeout", type=float, help="seconds per test (default: the manifest's, or 20)")
    grade.add_argument("--run-timeout", type=float, help="seconds per pytest process (default: the manifest's, or 300)")
    grade.add_argument("--json", action="store_true", help="print results.json on stdout instead of the summary")
    grade.add_argument("--quiet", "-q", action="store_true", help="print only the verdict")
    grade.add_argument("--debug", action="store_true", help="show a traceback when concgrade itself fails")
    commands.add_parser("check", help="lint a task folder without running it (see `concgrade check --help`)")
    add_bulk_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, default_task: Path | None = None) -> int:
    argv = rewrite_dataset_flag(list(sys.argv[1:] if argv is None else argv))
    if argv and argv[0] == "check":  # the linter parses its own arguments (options may come first)
        from concgrade.lint import main as check_main

        return check_main(argv[1:])
    if not argv or argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "grade")
    args = build_parser(default_task or Path.cwd()).parse_args(argv)
    try:
        if args.command in ("dataset", "predictions"):
            return run_bulk(args)
        return run_grade(args)
    except ConcgradeError as exc:
        print(f"concgrade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("concgrade: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of concgrade: say so in one line, trace on request
        if args.debug:
            traceback.print_exc()
        print(f"concgrade: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        return EXIT_ERROR


def run_grade(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    for flag in ("test_timeout", "run_timeout"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive number of seconds")
    task = load_task(args.task).with_limits(args.test_timeout, args.run_timeout)
    if args.candidate:
        task = task.with_candidate(args.candidate)
    output = (args.output or task.root / "reports").resolve()
    progress = None if (args.quiet or args.json) else _print_progress
    results = grade_task(task, GradeOptions(jobs=args.jobs), progress)
    write_results_json(results, output / "results.json")
    write_html(results, output / "report.html")
    if args.json:
        sys.stdout.write(render_json(results))
    elif args.quiet:
        print(results.verdict)
    else:
        print(format_summary(results))
        print(f"reports: {output / 'results.json'}, {output / 'report.html'}")
    return results.exit_code


def _print_progress(output: object) -> None:
    name = getattr(output, "name", "?")
    duration = getattr(output, "duration", 0.0)
    print(f"  ran {name} in {duration:.1f}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
