"""Candidates in bulk: `concgrade predictions FILE --dataset DIR` on a fixture dataset, and diff application."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys

import pytest
from conftest import RUN_PY
from datasetfactory import pythonpath_task
from taskfactory import CONCURRENT, SEQUENTIAL, tree_digest, write_files

from concgrade.dataset.predictions import apply_diff
from concgrade.errors import ConcgradeError


def unified(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))


def test_a_diff_is_applied_to_a_copy_of_the_implementation_it_names(tmp_path):
    task = pythonpath_task(tmp_path / "task")
    digest = tree_digest(task)
    changed = CONCURRENT.replace("max_workers=4", "max_workers=2")
    (tmp_path / "w").mkdir()
    folder = apply_diff(unified(CONCURRENT, changed, "repository_after/counter.py"), task, tmp_path / "w", None)
    assert folder == tmp_path / "w" / "repository_after"
    assert "max_workers=2" in (folder / "counter.py").read_text()
    assert tree_digest(task) == digest  # never applied in the dataset
    (tmp_path / "w2").mkdir()
    with pytest.raises(ConcgradeError, match="the task itself"):
        apply_diff(unified("x\n", "y\n", "tests/test_counter.py"), task, tmp_path / "w2", None)
    (tmp_path / "w3").mkdir()
    with pytest.raises(ConcgradeError, match="does not apply"):
        apply_diff(unified("nothing like it\n", "y\n", "counter.py"), task, tmp_path / "w3", None)


@pytest.mark.slow
def test_predictions_are_graded_and_counted(tmp_path):
    dataset = tmp_path / "ds"
    pythonpath_task(dataset / "pythonpath_task")
    write_files(tmp_path / "lazy", {"counter.py": SEQUENTIAL})
    predictions = [
        {"task": "pythonpath_task", "id": "good", "candidate": unified(SEQUENTIAL, CONCURRENT, "counter.py")},
        {"task": "pythonpath_task", "model": "lazy-model", "candidate": "lazy"},
        {"instance_id": "pythonpath_task", "model_patch": unified("x\n", "y\n", "tests/test_counter.py")},
        {"task": "no_such_task", "candidate": "lazy"},
    ]
    file = tmp_path / "predictions.jsonl"
    file.write_text("\n".join(json.dumps(p) for p in predictions) + "\n")
    result = subprocess.run(
        [sys.executable, str(RUN_PY), "predictions", str(file), "--dataset", str(dataset), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.returncode == 2, result.stderr  # two predictions could not be graded
    document = json.loads(result.stdout)
    summary = document["predictions"]
    assert summary["overall"] == {
        "total": 4,
        "resolved": 1,
        "partial": 0,
        "unresolved": 1,
        "error": 2,
        "skipped": 0,
    }
    by_label = {row["label"]: row for row in summary["rows"]}
    assert by_label["pythonpath_task/good"]["status"] == "resolved"
    assert by_label["pythonpath_task/lazy-model"]["fail_to_pass"] == "0/1"
    assert "the task itself" in by_label["pythonpath_task/line3"]["error"]
    assert "no task 'no_such_task'" in by_label["no_such_task/line4"]["error"]
    assert summary["per_task"]["pythonpath_task"]["total"] == 3
    report = dataset / "reports" / "predictions" / "pythonpath_task" / "good" / "results.json"
    assert json.loads(report.read_text())["implementations"]["candidate"]["imports"][0]["content_matches"]
    # The index speaks of predictions in the summary's words, not of tasks.
    index = (dataset / "reports" / "predictions" / "index.html").read_text(encoding="utf-8")
    assert "<h1>Predictions</h1>" in index and "4 predictions:" in index
    assert '<table id="predictions">' in index and "<th>status</th>" in index
    assert "tasks" not in index.split("<h1>", 1)[1].split("<table", 1)[0]  # the summary above the table


def test_a_broken_predictions_file_is_one_line_and_exit_2(tmp_path):
    file = tmp_path / "p.jsonl"
    file.write_text('{"task": "t", "candidate": "c"}\n{not json\n')
    result = subprocess.run(
        [sys.executable, str(RUN_PY), "predictions", str(file), "--dataset", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.strip() == f"concgrade: error: {file}:2: not a JSON object " + (
        "(Expecting property name enclosed in double quotes)"
    )
