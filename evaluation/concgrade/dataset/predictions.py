"""Candidates in bulk: a JSON-lines file of `{task, candidate}` graded against a dataset, and resolution counts.

A candidate is a folder, or a unified diff against `repository_before` or `repository_after` (as text in
the line, or a .diff/.patch file). Diffs are applied with `git apply` into a temporary copy, never into
the dataset; a diff that touches anything but the implementation folder is refused (it could change
the tests that grade it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade.dataset.dataset import (
    DatasetSettings,
    GradeRequest,
    Progress,
    dataset_document,
    grade_requests,
    write_document,
    write_outcome_files,
)
from concgrade.dataset.discovery import TASK_PARTS, find_tasks, task_label
from concgrade.dataset.taskjob import SKIPPED, TaskOutcome
from concgrade.errors import ConcgradeError, UsageError
from concgrade.files import IGNORED_DIRS
from concgrade.grade.checks import ERROR
from concgrade.report.dataset_html import render_dataset_html
from concgrade.report.writers import write_atomically

PREDICTIONS_SCHEMA_VERSION = "1.0"
STATUSES = ("resolved", "partial", "unresolved", "error", "skipped")
TASK_KEYS = ("task", "instance_id")
CANDIDATE_KEYS = ("candidate", "model_patch", "patch")


@dataclass(frozen=True)
class Prediction:
    line: int
    id: str
    task: str
    candidate: str  # a folder, a diff file, or diff text
    base: str | None = None  # "before" or "after": what a diff without folder names applies to
    model: str | None = None


def read_predictions(path: Path) -> list[Prediction]:
    """Every line of the file as a prediction; a line that is not one is a usage error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the predictions file ({exc})") from None
    predictions: list[Prediction] = []
    seen: Counter[tuple[str, str]] = Counter()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        task = next((data.get(k) for k in TASK_KEYS if isinstance(data, dict) and data.get(k)), None)
        candidate = next((data.get(k) for k in CANDIDATE_KEYS if isinstance(data, dict) and data.get(k)), None)
        if not isinstance(task, str) or not isinstance(candidate, str):
            raise UsageError(f'{path}:{number}: needs "task" and "candidate" (a folder or a diff)')
        base = data.get("base")
        if base not in (None, "before", "after"):
            raise UsageError(f'{path}:{number}: "base" must be "before" or "after"')
        model = data.get("model") or data.get("model_name_or_path")
        name = str(data.get("id") or (f"{model}" if model else f"line{number}"))
        seen[(task, name)] += 1
        if seen[(task, name)] > 1:
            name = f"{name}-{seen[(task, name)]}"
        predictions.append(Prediction(number, safe_name(name), task, candidate, base, model))
    if not predictions:
        raise UsageError(f"{path}: no predictions in the file")
    return predictions


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.@+-]+", "_", name).strip("._") or "prediction"


def is_diff(text: str) -> bool:
    return "\n" in text and bool(re.search(r"^(diff --git |--- |\+\+\+ )", text, re.MULTILINE))


def diff_paths(diff: str) -> list[str]:
    """The paths a unified diff names (old and new sides, /dev/null left out)."""
    paths = []
    for line in diff.splitlines():
        if line.startswith(("--- ", "+++ ")):
            path = line[4:].split("\t", 1)[0].strip()
            if path != "/dev/null":
                paths.append(path)
    return paths


def apply_diff(diff: str, task_root: Path, workdir: Path, base_hint: str | None) -> Path:
    """A copy of the implementation the diff is against, with the diff applied; the folder of that copy."""
    paths = diff_paths(diff)
    if not paths:
        raise ConcgradeError("the diff names no file")
    strip = 1 if all(p.startswith(("a/", "b/")) for p in paths) else 0
    stripped = [p.split("/", 1)[1] if strip else p for p in paths]
    folders = {"before": "repository_before", "after": "repository_after"}
    firsts = {p.split("/", 1)[0] for p in stripped}
    named = {role for role, folder in folders.items() if folder in firsts}
    if named:
        if len(named) > 1 or firsts - {folders[role] for role in named}:
            raise ConcgradeError(f"the diff changes files outside one implementation folder: {sorted(firsts)}")
        base = named.pop()
        target, cwd = workdir / folders[base], workdir
    else:
        if firsts & TASK_PARTS:
            raise ConcgradeError(
                f"the diff changes the task itself ({sorted(firsts & TASK_PARTS)}), not an implementation"
            )
        base = base_hint or "before"  # a model refactors the original
        target = cwd = workdir / folders[base]
    source = task_root / folders[base]
    if not source.is_dir():
        raise ConcgradeError(f"{source}: no such implementation folder to apply the diff to")
    shutil.copytree(source, workdir / folders[base], ignore=shutil.ignore_patterns(*IGNORED_DIRS), symlinks=True)
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(workdir.parent)}  # never apply inside a repository
    try:
        done = subprocess.run(
            ["git", "apply", "--recount", "--whitespace=nowarn", f"-p{strip}", "-"],
            input=diff,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except FileNotFoundError:
        raise ConcgradeError("applying a diff needs git, which is not installed") from None
    if done.returncode != 0:
        detail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise ConcgradeError(f"the diff does not apply to {folders[base]}: {detail}")
    return target


def prepare_candidate(prediction: Prediction, task_root: Path, workdir: Path, relative_to: Path) -> Path:
    """The candidate folder of a prediction: as given, or built from its diff."""
    text = prediction.candidate
    if is_diff(text):
        return apply_diff(text, task_root, workdir, prediction.base)
    return candidate_from_path(relative_to / text, task_root, workdir, prediction.base)


def candidate_from_path(path: Path, task_root: Path, workdir: Path, base: str | None = None) -> Path:
    """A candidate given as a path (`--candidate`, or a prediction's): a folder as it is, a diff file applied."""
    path = path.resolve()
    if path.is_dir():
        return path
    if path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace")
        if not is_diff(text):
            raise ConcgradeError(f"{path}: neither a folder nor a unified diff")
        return apply_diff(text, task_root, workdir, base)
    raise ConcgradeError(f"{path}: no such folder or diff file")


def grade_predictions(
    file: Path,
    dataset: Path,
    output: Path,
    settings: DatasetSettings,
    progress: Progress | None = None,
    instance_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Grade every prediction (or those for `instance_ids`); write each one's reports, `predictions.json` and
    `index.html` under `output`."""
    started, clock = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.monotonic()
    predictions = predictions_for(read_predictions(file), instance_ids)
    dataset = dataset.resolve()
    if not dataset.is_dir():
        raise UsageError(f"{dataset}: not a folder")
    tasks = {task_label(task, dataset): task for task in find_tasks(dataset)}
    by_name: dict[str, list[Path]] = {}
    for task in tasks.values():
        by_name.setdefault(task.name, []).append(task)
    requests, failed = [], []
    with tempfile.TemporaryDirectory(prefix="concgrade-predictions-") as scratch:
        for index, prediction in enumerate(predictions):
            label = f"{prediction.task}/{prediction.id}"
            root = tasks.get(prediction.task) or _only(by_name.get(prediction.task, []))
            try:
                if root is None:
                    raise ConcgradeError(f"no task {prediction.task!r} in {dataset}")
                label = f"{task_label(root, dataset)}/{prediction.id}"
                workdir = Path(scratch) / str(index)
                workdir.mkdir()
                candidate = prepare_candidate(prediction, root, workdir, file.resolve().parent)
            except ConcgradeError as exc:
                failed.append(TaskOutcome(label, ERROR, error=f"line {prediction.line}: {exc}"))
                continue
            requests.append(GradeRequest(label, root, candidate))
        outcomes = grade_requests(requests, settings, progress) + failed
    for outcome in outcomes:
        write_outcome_files(outcome, output / outcome.label)
    document = dataset_document(
        outcomes,
        dataset={"root": str(dataset), "changed_since": None, "tasks_found": len(tasks)},
        settings=settings,
        started_at=started,
        duration=time.monotonic() - clock,
    )
    document["kind"] = "concgrade-predictions"
    document["schema_version"] = PREDICTIONS_SCHEMA_VERSION
    document["predictions"] = prediction_summary(outcomes, predictions)
    document["exit_code"] = 2 if document["predictions"]["overall"]["error"] else 0
    write_document(document, output / "predictions.json")
    write_atomically(output / "index.html", render_dataset_html(document).encode("utf-8"))
    return document


def predictions_for(predictions: list[Prediction], instance_ids: Sequence[str] | None) -> list[Prediction]:
    """The predictions of the tasks `--instance-ids` names (all without it); an id with none is a usage error."""
    if not instance_ids:
        return predictions
    unknown = [wanted for wanted in instance_ids if not any(p.task == wanted for p in predictions)]
    if unknown:
        tasks = sorted({p.task for p in predictions})
        raise UsageError(
            f"--instance-ids: no prediction for {', '.join(unknown)} (the file has {', '.join(tasks[:5])})"
        )
    return [p for p in predictions if p.task in instance_ids]


def _only(paths: list[Path]) -> Path | None:
    return paths[0] if len(paths) == 1 else None


def status_of(outcome: TaskOutcome) -> str:
    if outcome.verdict == SKIPPED:
        return "skipped"
    if outcome.resolution is None:
        return "error"
    return str(outcome.resolution["status"])


def prediction_summary(outcomes: list[TaskOutcome], predictions: list[Prediction]) -> dict[str, Any]:
    """Resolved, partial, unresolved (and error, skipped) counts: overall and per task."""
    per_task: dict[str, Counter[str]] = {}
    rows = []
    for outcome in outcomes:
        task = outcome.label.rsplit("/", 1)[0]
        status = status_of(outcome)
        per_task.setdefault(task, Counter())[status] += 1
        rows.append(
            {
                "label": outcome.label,
                "task": task,
                "status": status,
                "task_verdict": outcome.verdict,
                **{k: v for k, v in (outcome.resolution or {}).items() if k != "status"},
                "error": outcome.error,
            }
        )
    overall = Counter(status_of(o) for o in outcomes)
    return {
        "overall": {"total": len(outcomes), **{s: overall.get(s, 0) for s in STATUSES}},
        "per_task": {
            task: {"total": sum(c.values()), **{s: c.get(s, 0) for s in STATUSES}}
            for task, c in sorted(per_task.items())
        },
        "rows": rows,
        "input_lines": len(predictions),
    }
