"""The command line: pick the command, parse its flags, call the library, print a summary, exit 0 / 1 / 2."""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade import __version__
from concgrade.cli.options import (
    Parser,
    add_grade_options,
    add_mutation_options,
    add_output_options,
    add_report_file_options,
    add_task_arguments,
    grade_options_from,
)
from concgrade.errors import ConcgradeError, UsageError
from concgrade.pipeline import GradeKind, GradeOptions, grade, load_graded_task
from concgrade.report.folder import claim_output_folder
from concgrade.task.model import Task

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_STATUS_HELP = """\
exit status:
  0    accepted: every check passed
  1    rejected: a check failed (the summary names it, and the test)
  2    error: a malformed task, wrong arguments, a run that could not start, or a check that could not be
       evaluated (one line on stderr says what and where)
  130  interrupted (Ctrl-C)
"""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # how the commands list in --help shows it
    summary: str
    parser: Callable[[Path], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


def grade_parser(default_task: Path) -> argparse.ArgumentParser:
    parser = Parser(
        prog="concgrade",
        usage="concgrade [grade] [TASK] [options]",
        description="Grade a concurrency-refactor task: run its suites on before and after (and a candidate), "
        "isolated and instrumented.\n\ncommands:\n" + commands_help(),
        epilog=EXIT_STATUS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"concgrade {__version__}")
    add_task_arguments(parser, default_task)
    add_grade_options(parser, "pytest processes")
    add_mutation_options(parser)
    add_report_file_options(parser)
    add_output_options(parser, "TASK/reports, or TASK/reports/candidate-NAME with --candidate", "results.json")
    return parser


def mutants_parser(default_task: Path) -> argparse.ArgumentParser:
    """`concgrade mutants` takes every grade option: it is a grade whose mutation phase always runs."""
    parser = grade_parser(default_task)
    parser.prog, parser.usage = "concgrade mutants", "concgrade mutants [TASK] [options]"
    parser.description = (
        "Grade the task, then run its suites on every mutant of repository_after/ (one typical concurrency "
        "mistake each) and report which mutants the suites kill and which survive (docs/mutants.md)."
    )
    return parser


def run_mutants(args: argparse.Namespace) -> int:
    """`concgrade mutants` is `concgrade grade --mutants`: one grade, one code path."""
    if args.no_mutants:
        raise UsageError("concgrade mutants runs the mutants: --no-mutants leaves it nothing to do")
    args.mutants = True
    return run_grade(args)


def commands_help() -> str:
    return "\n".join(f"  {command.usage:<42} {command.summary}" for command in COMMANDS.values()) + (
        "\n  (`concgrade COMMAND --help` shows a command's options)"
    )


def main(argv: Sequence[str] | None = None, default_task: Path | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    typed = invocation(argv)
    try:
        name, rest = split_command(argv)
    except UsageError as exc:
        print(f"concgrade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    command = COMMANDS[name]
    args = command.parser(default_task or Path.cwd()).parse_args(rest)
    args.command, args.invocation, args.default_task = name, typed, default_task or Path.cwd()
    try:
        return command.run(args)
    except ConcgradeError as exc:
        print(f"concgrade: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("concgrade: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of concgrade: say so in one line, trace on request
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"concgrade: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        return EXIT_ERROR


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    """The command and its arguments: a named command, else grade (whose --dataset DIR means `dataset DIR`)."""
    if argv and argv[0] in COMMANDS:
        name, rest = argv[0], argv[1:]
    else:
        name, rest = "grade", argv
        if argv and not argv[0].startswith("-") and not Path(argv[0]).exists():
            close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1, cutoff=0.6)
            if close:
                raise UsageError(f"{argv[0]}: no such command or task folder (did you mean {close[0]}?)")
    if name == "grade":
        dataset = dataset_flag(rest)
        if dataset is not None:
            return "dataset", dataset
    return name, rest


def dataset_flag(argv: list[str]) -> list[str] | None:
    """`--dataset DIR ...` given to grade, as the `dataset DIR ...` arguments; None without the flag."""
    for index, arg in enumerate(argv):
        if arg == "--dataset" and index + 1 < len(argv):
            return [argv[index + 1], *argv[:index], *argv[index + 2 :]]
        if arg.startswith("--dataset="):
            return [arg.split("=", 1)[1], *argv[:index], *argv[index + 1 :]]
    return None


def task_folder(args: argparse.Namespace) -> Path:
    """The task folder: positional or --task (not two different ones), else the default."""
    if args.task is not None and args.task_option is not None and args.task.resolve() != args.task_option.resolve():
        raise UsageError(f"two task folders given: {args.task} and --task {args.task_option}")
    return args.task or args.task_option or args.default_task


@contextmanager
def candidate_folder(candidate: str | None, task_root: Path) -> Iterator[Path | None]:
    """The candidate as a folder: as given, or a diff applied to a temporary copy (removed afterwards)."""
    if candidate is None:
        yield None
        return
    from concgrade.dataset.predictions import candidate_from_path  # predictions apply diffs: one home

    with tempfile.TemporaryDirectory(prefix="concgrade-candidate-") as scratch:
        try:
            yield candidate_from_path(Path(candidate), task_root, Path(scratch))
        except ConcgradeError as exc:
            raise UsageError(f"--candidate {candidate}: {exc}") from None


def default_output(task_root: Path, candidate: str | None) -> Path:
    """TASK/reports, and for a candidate its own folder below it, so it never overwrites the task's report."""
    if candidate is None:
        return task_root / "reports"
    from concgrade.dataset.predictions import safe_name

    path = Path(candidate)
    name = path.name if path.is_dir() else path.stem
    return task_root / "reports" / f"candidate-{safe_name(name)}"


def run_grade(args: argparse.Namespace) -> int:
    kind: GradeKind = "candidate" if args.candidate is not None else "author"
    options = grade_options_from(args, kind, command=tuple(args.invocation))
    root = task_folder(args)
    output = (args.output or default_output(root, args.candidate)).resolve()
    with ExitStack() as stack:
        candidate = stack.enter_context(candidate_folder(args.candidate, root))
        task = load_graded_task(root, options, candidate)  # a bad task fails before anything starts
        if args.install:
            task = install_environment(task)
        stack.enter_context(claim_output_folder(output))  # so does an output folder that cannot be written
        return grade_and_report(args, task, options, output)


def install_environment(task: Task) -> Task:
    """`--install`: the task's own virtualenv (the dataset machinery is imported only then)."""
    from concgrade.dataset.cache import default_cache_dir
    from concgrade.dataset.environments import installed

    return installed(task, default_cache_dir())[0]


def prepare_reports() -> None:
    from concgrade.report.writers import prepare_reports

    prepare_reports()


def grade_and_report(args: argparse.Namespace, task: Task, options: GradeOptions, output: Path) -> int:
    from concgrade.report.github import write_github_outputs
    from concgrade.report.terminal import Progress, format_summary
    from concgrade.report.writers import WRITERS, write_report

    progress = None
    if not (args.quiet or args.json):
        progress = Progress([impl.name for impl in task.implementations], args.jobs, repeat=options.repeat)
        progress.start(task.name)
    bench_progress = None if (args.quiet or args.json) else _print_line
    try:
        # The report machinery (jinja2, the compiled template) is made ready while the runs are in flight.
        run_done = progress.run_done if progress else None
        results = grade(task, options, run_done, bench_progress, bench_progress, alongside=prepare_reports)
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
    if args.summary_json:
        written.append(write_report(results, "summary-json", args.summary_json))
    # Annotations are workflow commands read from the output; with --json, stdout is kept for the JSON alone.
    write_github_outputs(results, os.environ, sys.stderr if args.json else sys.stdout)
    if args.json:
        sys.stdout.write(WRITERS["json"].render(results))
    elif args.quiet:
        print(results.verdict)
    else:
        print(format_summary(results, verbose=args.verbose))
        print("reports: " + ", ".join(str(path) for path in written))
    return results.exit_code


def lazily(module: str, name: str) -> Callable[..., Any]:
    """A command's function, imported when that command runs: a grade never pays for the dataset machinery."""

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args)

    return call


COMMANDS = {
    command.name: command
    for command in (
        Command(
            "grade",
            "concgrade [grade] [TASK]",
            "grade a task (the default command: these options)",
            grade_parser,
            run_grade,
        ),
        Command(
            "mutants",
            "concgrade mutants [TASK]",
            "grade, then judge the suites by mutants of the after (kill matrix, score)",
            mutants_parser,
            run_mutants,
        ),
        Command(
            "check",
            "concgrade check TASK",
            "lint a task folder without running it",
            lazily("concgrade.cli.check", "parser"),
            lazily("concgrade.cli.check", "run"),
        ),
        Command(
            "dataset",
            "concgrade dataset DIR",
            "grade every task folder below DIR",
            lazily("concgrade.cli.bulk", "dataset_parser"),
            lazily("concgrade.cli.bulk", "run_bulk"),
        ),
        Command(
            "predictions",
            "concgrade predictions FILE --dataset DIR",
            "grade candidates in bulk (JSON lines of {task, candidate})",
            lazily("concgrade.cli.bulk", "predictions_parser"),
            lazily("concgrade.cli.bulk", "run_bulk"),
        ),
    )
}


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
