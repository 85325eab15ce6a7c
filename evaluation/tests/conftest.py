"""Shared fixtures of the harness's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "evaluation" / "run.py"
SCHEMA = REPO / "evaluation" / "concgrade" / "results" / "schema" / "results.schema.json"
END_TO_END = Path(__file__).resolve().parent / "end_to_end"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in end_to_end/ grades real tasks: it is slow by where it lives."""
    for item in items:
        if item.path.is_relative_to(END_TO_END):
            item.add_marker(pytest.mark.slow)


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python evaluation/run.py ARGS` as a user would, in a real subprocess.

    Every results.json the run writes is validated against the published schema.
    """
    written = results_path(args, cwd or REPO)
    previous = modified(written)
    result = subprocess.run(
        [sys.executable, str(RUN_PY), *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if written is not None and modified(written) not in (None, previous):
        validate_results(json.loads(written.read_text(encoding="utf-8")), str(written))
    return result


def modified(path: Path | None) -> int | None:
    return path.stat().st_mtime_ns if path is not None and path.exists() else None


def results_path(args: tuple[str, ...], cwd: Path) -> Path | None:
    """Where a run with these arguments writes results.json (--output, else TASK/reports)."""
    values = dict(zip(args, args[1:], strict=False))
    if "--output" in values:
        return cwd / values["--output"] / "results.json"
    if "--task" in values:
        return cwd / values["--task"] / "reports" / "results.json"
    return None


@lru_cache(maxsize=1)
def schema_validator():
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def validate_results(data: dict, where: str = "results.json") -> None:
    """Fail with the first few schema errors, each with its JSON path."""
    errors = sorted(schema_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        shown = "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])
        raise AssertionError(f"{where} does not match {SCHEMA.name}: {shown}")


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def rich_grade(tmp_path_factory):
    """One grade of the rich fixture task (see reportfixtures.py) with every output asked for, run as in GitHub Actions.

    Shared by the report tests: grading once keeps them quick.
    """
    from types import SimpleNamespace

    from reportfixtures import make_rich_task

    root = tmp_path_factory.mktemp("rich")
    task, candidate = make_rich_task(root)
    out = root / "out"
    summary = root / "step_summary.md"
    summary.write_text("# earlier step output\n", encoding="utf-8")
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(root)}
    result = run_cli(
        *("--task", str(task), "--candidate", str(candidate), "--output", str(out)),
        *("--junit-xml", str(out / "junit.xml"), "--summary-md", str(out / "summary.md")),
        env=env,
    )
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return SimpleNamespace(root=root, task=task, out=out, result=result, data=data, step_summary=summary)
