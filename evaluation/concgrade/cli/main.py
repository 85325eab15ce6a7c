"""The command line: parse arguments, call the library, print a summary, exit 0 / 1 / 2."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from concgrade import __version__
from concgrade.cli.bulk import add_bulk_commands, rewrite_dataset_flag, run_bulk
from concgrade.cli.check import main as check_main
from concgrade.cli.options import add_grade_options, add_output_options, grade_options_from
from concgrade.errors import ConcgradeError
from concgrade.pipeline import grade, load_graded_task
from concgrade.report.github import write_github_outputs
from concgrade.report.terminal import Progress, format_summary
from concgrade.report.writers import WRITERS, write_report

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
    add_grade_options(grade, "pytest processes")
    grade.add_argument("--junit-xml", type=Path, metavar="PATH", help="also write JUnit XML (Jenkins schema) here")
    grade.add_argument("--summary-md", type=Path, metavar="PATH", help="also write a Markdown summary (a PR comment)")
    add_output_options(grade, "TASK/reports", "results.json")
    commands.add_parser("check", help="lint a task folder without running it (see `concgrade check --help`)")
    add_bulk_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, default_task: Path | None = None) -> int:
    argv = rewrite_dataset_flag(list(sys.argv[1:] if argv is None else argv))
    typed = invocation(argv)
    if argv and argv[0] == "check":  # the linter parses its own arguments (options may come first)
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
    options = grade_options_from(args, default_bench="off", command=tuple(args.invocation))
    task = load_graded_task(args.task, options, args.candidate)  # a bad task fails before anything starts
    output = (args.output or task.root / "reports").resolve()
    progress = None
    if not (args.quiet or args.json):
        progress = Progress([impl.name for impl in task.implementations], args.jobs, repeat=options.repeat)
        progress.start(task.name)
    bench_progress = None if (args.quiet or args.json) else _print_line
    try:
        results = grade(task, options, progress.run_done if progress else None, bench_progress)
    finally:
        if progress:
            progress.stop()
    written = [
        write_report(results, "json", output / "results.json"),
        write_report(results, "html", output / "report.html"),
    ]
    if args.junit_xml:
        written.append(write_report(results, "junit", args.junit_xml))
    if args.summary_md:
        written.append(write_report(results, "markdown", args.summary_md))
    # Annotations are workflow commands read from the output; with --json, stdout is kept for the JSON alone.
    write_github_outputs(results, os.environ, sys.stderr if args.json else sys.stdout)
    if args.json:
        sys.stdout.write(WRITERS["json"].render(results))
    elif args.quiet:
        print(results.verdict)
    else:
        print(format_summary(results))
        print("reports: " + ", ".join(str(path) for path in written))
    return results.exit_code


def _print_line(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def invocation(argv: Sequence[str]) -> list[str]:
    """The command line as the user typed it, to record how to reproduce the grade."""
    program = sys.argv[0] if sys.argv and sys.argv[0] else "concgrade"
    if program.endswith(".py"):
        return ["python", program, *argv]
    return [Path(program).name if Path(program).name == "concgrade" else "concgrade", *argv]


if __name__ == "__main__":
    sys.exit(main())
