"""The `concgrade dataset DIR` and `concgrade predictions FILE --dataset DIR` commands (argument parsing, output)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from concgrade.cli.options import add_grade_options, add_output_options, grade_options_from
from concgrade.dataset.dataset import DatasetSettings, grade_dataset
from concgrade.dataset.predictions import grade_predictions
from concgrade.dataset.taskjob import JobOptions, TaskOutcome
from concgrade.errors import UsageError
from concgrade.task.services import parse_service_flag

MARKS = {"accepted": "ok", "rejected": "REJECTED", "error": "ERROR", "skipped": "skipped"}


def add_bulk_commands(commands: Any) -> None:
    dataset = commands.add_parser(
        "dataset",
        help="grade every task folder below DIR",
        description="Grade every task folder below DIR (a folder holding repository_after/ and tests/) in parallel.",
        epilog="Exit status: the worst task's: 0 accepted, 1 rejected, 2 error (skipped tasks count as nothing).",
    )
    dataset.add_argument("dir", type=Path, help="the dataset folder")
    dataset.add_argument(
        "--changed-since", metavar="REV", help="only the tasks with files changed since a git revision"
    )
    _add_common(dataset, "DIR/reports")
    predictions = commands.add_parser(
        "predictions",
        help="grade candidates in bulk (JSON lines of {task, candidate})",
        description="Grade each candidate (a folder or a unified diff) of a JSON-lines file against its task.",
        epilog="Exit status: 0 when every prediction was graded (whatever its resolution), 2 when one could not be.",
    )
    predictions.add_argument("file", type=Path, help='JSON lines: {"task": ..., "candidate": folder or diff}')
    predictions.add_argument("--dataset", type=Path, required=True, help="the dataset folder holding the tasks")
    _add_common(predictions, "DATASET/reports/predictions")


def _add_common(parser: argparse.ArgumentParser, default_output: str) -> None:
    add_grade_options(parser, "tasks graded")
    parser.add_argument("--install", action="store_true", help="run each task in a virtualenv of its requirements")
    parser.add_argument(
        "--service", action="append", default=[], metavar="NAME=HOST:PORT", help="a service tasks need, e.g. redis"
    )
    parser.add_argument("--executor", choices=("local", "dask"), default="local", help="where grades run")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler (with --executor dask)")
    add_output_options(parser, default_output, "the aggregate JSON")


def rewrite_dataset_flag(argv: list[str]) -> list[str]:
    """`run.py --dataset DIR ...` is `dataset DIR ...` (predictions keep their own --dataset)."""
    if argv and argv[0] == "--dataset" and len(argv) > 1:
        return ["dataset", argv[1], *argv[2:]]
    if argv and argv[0].startswith("--dataset="):
        return ["dataset", argv[0].split("=", 1)[1], *argv[1:]]
    return argv


def settings_from(args: argparse.Namespace) -> DatasetSettings:
    grade = grade_options_from(args, default_bench="auto")
    if args.scheduler and args.executor != "dask":
        raise UsageError("--scheduler is for --executor dask")
    if args.executor == "dask" and not args.scheduler:
        raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://scheduler:8786)")
    return DatasetSettings(
        jobs=grade.jobs,
        use_cache=grade.bench_cache,
        executor=args.executor,
        scheduler=args.scheduler,
        services=dict(parse_service_flag(text) for text in args.service),
        options=JobOptions(grade=dataclasses.replace(grade, jobs=1), install=args.install),
    )


def run_bulk(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    progress = None if (args.quiet or args.json) else print_progress
    if args.command == "dataset":
        output = (args.output or args.dir / "reports").resolve()
        results = grade_dataset(args.dir, output, settings, args.changed_since, progress)
        document = results.document
        files = [output / "results.json", output / "index.html"]
    else:
        output = (args.output or args.dataset / "reports" / "predictions").resolve()
        document = grade_predictions(args.file, args.dataset, output, settings, progress)
        files = [output / "predictions.json", output / "index.html"]
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    elif args.quiet:
        print(document["verdict"] if args.command == "dataset" else _resolution_line(document))
    else:
        print(format_dataset_summary(document))
        print("reports: " + ", ".join(str(f) for f in files))
    return int(document["exit_code"])


def print_progress(outcome: TaskOutcome, done: int, total: int) -> None:
    width = len(str(total))
    how = "cached" if outcome.cached else f"{outcome.duration_seconds:.1f}s"
    state = (outcome.resolution or {}).get("status") or outcome.verdict
    print(f"[{done:>{width}}/{total}] {state:<10} {outcome.label} ({how})", file=sys.stderr, flush=True)


def format_dataset_summary(document: dict[str, Any]) -> str:
    """The terminal's summary: tasks and verdicts for a dataset; predictions and their statuses in bulk."""
    if "predictions" in document:
        return format_predictions_summary(document)
    summary = document["summary"]
    lines = [
        f"{summary['tasks']} graded: {summary['accepted']} accepted, {summary['rejected']} rejected, "
        f"{summary['error']} error, {summary['skipped']} skipped ({summary['cached']} from the cache)"
    ]
    for row in document["tasks"]:
        if row["verdict"] == "accepted":
            continue
        reason = row.get("error") or "; ".join(f"{c['id']}: {c['message']}" for c in row["failing_checks"][:2])
        lines.append(f"  {MARKS[row['verdict']]:<8} {row['label']}: {reason}")
    lines.append(f"verdict: {document['verdict']}")
    return "\n".join(lines)


def format_predictions_summary(document: dict[str, Any]) -> str:
    lines = []
    for row in document["predictions"]["rows"]:
        if row["status"] != "resolved":
            lines.append(f"  {row['status']:<10} {row['label']}: {row.get('error') or row.get('reason') or ''}")
    cached = document["summary"]["cached"]
    lines.append(_resolution_line(document) + (f" ({cached} from the cache)" if cached else ""))
    return "\n".join(lines)


def _resolution_line(document: dict[str, Any]) -> str:
    overall = document["predictions"]["overall"]
    return (
        f"predictions: {overall['total']}: {overall['resolved']} resolved, {overall['partial']} partial, "
        f"{overall['unresolved']} unresolved, {overall['error']} error, {overall['skipped']} skipped"
    )
