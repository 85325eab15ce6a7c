"""CI outputs: the Markdown summary, GitHub annotations and job summary, and the terminal modes for scripts."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re

import pytest
from reportfixtures import synthetic_results
from taskfactory import make_task

from concgrade.report.github import MAX_ANNOTATIONS, SUMMARY_LIMIT, error_annotations, write_github_outputs
from concgrade.report.markdown import DEFAULT_LIMIT, render_summary_md

ANNOTATION = re.compile(r"^::error (?P<props>[^:]*)::(?P<message>.*)$")


@pytest.mark.slow
def test_github_annotations_point_at_the_failing_tests_lines(rich_grade):
    lines = [line for line in rich_grade.result.stdout.splitlines() if line.startswith("::")]
    assert 1 <= len(lines) <= MAX_ANNOTATIONS
    first = ANNOTATION.match(lines[0])
    assert first, lines[0]
    props = dict(item.split("=", 1) for item in first["props"].split(","))
    # Relative to the workspace (the repository), at the line of the failing assertion.
    assert props["file"] == "rich/tests/test_p2p.py" and props["line"] == "6"
    assert "p2p.passes_on_after" in props["title"] and "%3A%3Atest_doubles_in_order" in props["title"]
    assert first["message"].startswith("failed on after: assert [6, 4, 2] == [2, 4, 6]")
    assert any("f2p.passes_on_candidate" in line and "rich/tests/test_f2p.py" in line for line in lines)


@pytest.mark.slow
def test_the_job_summary_is_appended_and_the_pr_comment_file_written(rich_grade):
    summary = rich_grade.step_summary.read_text(encoding="utf-8")
    assert summary.startswith("# earlier step output\n")  # appended, not replaced
    assert "❌ concgrade: `rich` rejected" in summary and "p2p.passes_on_after" in summary
    comment = (rich_grade.out / "summary.md").read_text(encoding="utf-8")
    assert comment.startswith("## ❌ concgrade") and "| after | after | 1/1 ✅ | 3/5 ❌ |" in comment
    assert "Tests whose expectation is not met (3)" in comment


def test_at_most_ten_annotations_most_important_first():
    results = synthetic_results(60, failing_every=1)
    failing = [t.nodeid for t in results.implementations["after"].tests if not t.passed]
    results = dataclasses.replace(
        results,
        checks=[
            {
                "id": "p2p.passes_on_after",
                "status": "fail",
                "message": "m",
                "implementation": "after",
                "tests": failing,
            },
            {
                "id": "runs.started",
                "status": "error",
                "message": "could not start",
                "implementation": None,
                "tests": [],
            },
        ],
    )
    found = error_annotations(results)
    assert len(found) == MAX_ANNOTATIONS
    assert found[0].title == "concgrade runs.started" and found[0].file is None  # errors before failures
    assert found[1].file == "tests/test_f2p.py" and found[1].line == 3


def test_annotation_text_cannot_break_the_workflow_command():
    results = synthetic_results(2, failing_every=1, message="E   first line\nsecond, with: colons\r%")
    failing = [t.nodeid for t in results.implementations["after"].tests if not t.passed]
    checks = [{"id": "p2p.x", "status": "fail", "message": "m", "implementation": "after", "tests": failing}]
    results = dataclasses.replace(results, checks=checks)
    out = io.StringIO()
    write_github_outputs(results, {"GITHUB_ACTIONS": "true"}, out)
    for line in out.getvalue().splitlines():
        assert ANNOTATION.match(line) and "\r" not in line


def test_the_summaries_stay_within_github_limits(tmp_path):
    results = synthetic_results(5000, failing_every=1, nodeid="tests/test_{suite}.py::test_{index}[" + "p" * 200 + "]")
    assert len(render_summary_md(results)) <= DEFAULT_LIMIT
    step = tmp_path / "summary.md"
    step.write_text("x" * (SUMMARY_LIMIT - 20_000), encoding="utf-8")  # an earlier step used most of it
    write_github_outputs(results, {"GITHUB_STEP_SUMMARY": str(step)}, io.StringIO())
    assert SUMMARY_LIMIT - 20_000 < step.stat().st_size < SUMMARY_LIMIT


def test_markdown_cells_cannot_break_the_table():
    results = synthetic_results(2, failing_every=1, nodeid="tests/t.py::test_{index}[a|b`c<script>]")
    rows = [line for line in render_summary_md(results).splitlines() if line.startswith("| `tests/t.py")]
    assert rows and all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in rows)
    outside_code = re.sub(r"`[^`]*`", "", render_summary_md(results))
    assert "<script>" not in outside_code


@pytest.mark.slow
def test_quiet_and_json_modes_print_only_what_scripts_read(cli, tmp_path):
    task = make_task(tmp_path / "task")
    quiet = cli("--task", str(task), "--output", str(tmp_path / "q"), "--quiet")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "accepted\n", "")
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    lazy = make_task(tmp_path / "lazy", after=(task / "repository_before" / "counter.py").read_text())
    as_json = cli("--task", str(lazy), "--output", str(tmp_path / "j"), "--json", env=env)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["verdict"] == "rejected"  # nothing else on stdout
    assert "::error " in as_json.stderr  # annotations moved to stderr


@pytest.mark.slow
def test_progress_and_the_summary_table(rich_grade):
    stderr, stdout = rich_grade.result.stderr, rich_grade.result.stdout
    assert "grading rich: 3 runs (before, after, candidate), 2 at a time" in stderr
    assert re.search(r"\[3/3\] \w+: ", stderr)
    table = [line.split() for line in stdout.splitlines() if line.startswith("  after ")]
    assert table == [["after", "after", "1/1", "ok", "3/5", "NOT", "OK", "2", "1", table[0][-2], "s"]]
    assert "verdict: rejected (exit 1)" in stdout
