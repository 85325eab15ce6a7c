"""The `concgrade mutants [TASK]` command: a grade of the task with its suites judged by mutants of the after."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from concgrade.cli.options import add_grade_options, add_mutation_options, add_output_options


def add_mutants_command(commands: Any, default_task: Path | None, epilog: str) -> None:
    """The command shares every grade option; its reports are the grade's, with the mutants section."""
    parser = commands.add_parser(
        "mutants",
        help="judge the task's suites by mutants of its after: the kill matrix and score",
        description="Grade the task, then run its suites on every mutant of repository_after/ (one typical "
        "concurrency mistake each) and report which mutants the suites kill and which survive (docs/mutants.md).",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "task", type=Path, nargs="?", default=default_task, help="the task folder (default: %(default)s)"
    )
    add_grade_options(parser, "pytest processes")
    add_mutation_options(parser)
    parser.add_argument("--junit-xml", type=Path, metavar="PATH", help="also write JUnit XML (Jenkins schema) here")
    parser.add_argument("--summary-md", type=Path, metavar="PATH", help="also write a Markdown summary")
    add_output_options(parser, "TASK/reports", "results.json")
    # The command is a grade that always runs the mutants (--no-mutants would leave nothing to do).
    parser.set_defaults(candidate=None)


def force_mutants(args: argparse.Namespace) -> argparse.Namespace:
    """`concgrade mutants` is `concgrade grade --mutants`: one grade, one code path."""
    args.mutants, args.no_mutants = True, False
    return args
