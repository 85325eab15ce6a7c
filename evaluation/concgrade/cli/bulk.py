"""The `concgrade dataset DIR` and `concgrade predictions FILE --dataset DIR` commands (argument parsing, output)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from concgrade.cli.options import (
    Parser,
    add_bulk_options,
    add_dataset_arguments,
    add_grade_options,
    add_output_options,
    add_predictions_arguments,
    grade_options_from,
)
from concgrade.dataset.dataset import DatasetSettings, grade_dataset
from concgrade.dataset.predictions import grade_predictions
from concgrade.dataset.taskjob import JobOptions, TaskOutcome
from concgrade.errors import UsageError
from concgrade.report.writers import claim_output_folder
from concgrade.task.services import parse_service_flag

MARKS = {"accepted": "ok", "rejected": "REJECTED", "error": "ERROR", "skipped": "skipped"}


def dataset_parser(default_task: Path) -> argparse.ArgumentParser:
    parser = Parser(
        prog="concgrade dataset",
        description="Grade every task folder below DIR (a folder holding repository_after/ and tests/) in parallel.",
        epilog="Exit status: the worst task's: 0 accepted, 1 rejected, 2 error (skipped tasks count as nothing).",
    )
    add_dataset_arguments(parser)
    _add_common(parser, "DIR/reports")
    return parser


def predictions_parser(default_task: Path) -> argparse.ArgumentParser:
    parser = Parser(
        prog="concgrade predictions",
        description="Grade each candidate (a folder or a unified diff) of a JSON-lines file against its task.",
        epilog="Exit status: 0 when every prediction was graded (whatever its resolution), 2 when one could not be.",
    )
    add_predictions_arguments(parser)
    _add_common(parser, "DATASET/reports/predictions")
    return parser


def _add_common(parser: argparse.ArgumentParser, default_output: str) -> None:
    add_grade_options(parser, "tasks graded")
    add_bulk_options(parser)
    add_output_options(parser, default_output, "the aggregate JSON")


def settings_from(args: argparse.Namespace) -> DatasetSettings:
    grade = grade_options_from(args, "candidate" if args.command == "predictions" else "dataset")
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
        auto_services=args.services == "auto",
        options=JobOptions(grade=dataclasses.replace(grade, jobs=1), install=args.install),
    )


def run_bulk(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    progress = None if (args.quiet or args.json) else print_progress
    if args.command == "dataset":
        output = (args.output or args.dir / "reports").resolve()
        results = grade_dataset(args.dir, output, settings, args.changed_since, progress, args.instance_ids)
        document = results.document
        files = [output / "results.json", output / "index.html"]
    else:
        output = (args.output or args.dataset / "reports" / "predictions").resolve()
        with claim_output_folder(output):  # before anything runs: a folder that cannot take the reports fails now
            document = grade_predictions(args.file, args.dataset, output, settings, progress, args.instance_ids)
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
