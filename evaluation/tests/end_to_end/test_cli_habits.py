"""End to end: the command line's habits on a small fixture task, as a newcomer types them.

A positional task folder, `-k`, `-v`, `--junitxml`, a candidate given as a diff with its own report
folder, the cause of each failure on the terminal, and output folders that cannot be written or are
being written by another grade.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RUN_PY
from taskfactory import make_task


def grade(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN_PY), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def diff_of(old: Path, new: Path, path: str) -> str:
    """A unified diff of two files, named `path` on both sides (as `git diff` writes one)."""
    lines = difflib.unified_diff(
        old.read_text(encoding="utf-8").splitlines(True),
        new.read_text(encoding="utf-8").splitlines(True),
        f"a/{path}",
        f"b/{path}",
    )
    return "".join(lines)


def test_positional_task_verbose_and_junitxml(tmp_path):
    task = make_task(tmp_path / "task")
    result = grade("grade", str(task), "-v", "--junitxml", str(tmp_path / "j.xml"))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # -v: every test with its outcome on each implementation, and the passing checks.
    assert "tests (before · after):" in out
    assert "F2P  tests/test_f2p.py::test_runs_concurrently  failed · passed" in out
    assert "P2P  tests/test_p2p.py::test_empty  passed · passed" in out
    assert "✓ runs.started:" in out
    assert (task / "reports" / "results.json").is_file()  # the positional folder is the task
    assert "<testsuite" in (tmp_path / "j.xml").read_text(encoding="utf-8")
    bare = grade(str(task), "--quiet", "--output", str(tmp_path / "bare"))  # `concgrade DIR`
    assert bare.returncode == 0 and bare.stdout.strip() == "accepted"


def test_keyword_filter_grades_only_the_selected_tests(tmp_path):
    task = make_task(tmp_path / "task")
    result = grade(str(task), "-k", "empty or concurrently", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert data["suites"] == {
        "PASS_TO_PASS": ["tests/test_p2p.py::test_empty"],
        "FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently"],
    }
    ran = {t["nodeid"] for t in data["implementations"]["after"]["tests"]}
    assert ran == {"tests/test_p2p.py::test_empty", "tests/test_f2p.py::test_runs_concurrently"}
    checks = {c["id"]: c for c in data["checks"]}
    assert "-k 'empty or concurrently'" in checks["suites.ran"]["message"]
    nothing = grade(str(task), "-k", "no_such_test", "--output", str(tmp_path / "none"))
    assert nothing.returncode != 0 and "no test was collected" in nothing.stdout


def test_candidate_diff_gets_its_own_report_folder_and_leaves_the_tasks_report(tmp_path):
    task = make_task(tmp_path / "task")
    first = grade(str(task), "--quiet")
    assert first.returncode == 0
    own = (task / "reports" / "results.json").read_bytes()
    patch = tmp_path / "model.diff"
    patch.write_text(
        diff_of(task / "repository_before/counter.py", task / "repository_after/counter.py", "counter.py"),
        encoding="utf-8",
    )
    assert patch.read_text().startswith("--- a/counter.py\n+++ b/counter.py\n")  # against repository_before
    result = grade(str(task), "--candidate", str(patch))
    assert result.returncode == 0, result.stdout + result.stderr
    folder = task / "reports" / "candidate-model"
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert data["verdict"] == "accepted" and "candidate" in data["implementations"]
    assert (folder / "report.html").is_file()
    assert (task / "reports" / "results.json").read_bytes() == own  # the task's own grade is untouched
    assert not (task / "repository_before" / "counter.py").read_text().count("ThreadPoolExecutor")

    broken = tmp_path / "broken.patch"
    broken.write_text("--- a/counter.py\n+++ b/counter.py\n@@ -1,1 +1,1 @@\n-no such line\n+x\n", encoding="utf-8")
    refused = grade(str(task), "--candidate", str(broken))
    assert refused.returncode == 2
    assert refused.stderr.startswith("concgrade: error: --candidate ") and "does not apply" in refused.stderr
    assert not (task / "reports" / "candidate-broken").exists()


def test_a_syntax_error_is_shown_on_the_terminal_not_only_missing_tests(tmp_path):
    task = make_task(tmp_path / "task")
    candidate = tmp_path / "candidate"
    shutil.copytree(task / "repository_after", candidate)
    with open(candidate / "counter.py", "a", encoding="utf-8") as handle:
        handle.write("\ndef broken(:\n    pass\n")
    result = grade(str(task), "--candidate", str(candidate))
    assert result.returncode == 1
    assert "candidate: no test ran (2 collection errors: SyntaxError" in result.stderr  # the progress line
    out = result.stdout
    assert (
        "ERROR tests/test_f2p.py, tests/test_p2p.py (candidate) - SyntaxError: invalid syntax "
        "(candidate/counter.py, line 12: def broken(:)"
        in out
        or "ERROR tests/test_f2p.py, tests/test_p2p.py (candidate) - SyntaxError: invalid syntax "
        "(repository_after/counter.py, line 12: def broken(:)"
        in out
    ), out
    assert "2 never ran on candidate: their collection failed: SyntaxError" in out
    assert out.count("ERROR tests/test_f2p.py") == 1  # once, though several checks fail for it
    assert (task / "reports" / "candidate-candidate" / "results.json").is_file()


def test_failing_tests_are_listed_with_their_first_error_line(tmp_path):
    task = make_task(
        tmp_path / "task", p2p="import counter\n\ndef test_doubles():\n    assert counter.run_all([1]) == [3]\n"
    )
    result = grade(str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    # pytest's own short summary words: a rewritten assert shows its comparison, on each implementation.
    for implementation in ("before", "after"):
        assert f"      FAILED tests/test_p2p.py::test_doubles ({implementation}) - assert [2] == [3]\n" in result.stdout


def read_only(folder: Path) -> list[str]:
    """A command prefix under which `folder` cannot be written, even by root (a read-only bind mount)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    if shutil.which("bwrap") is None:
        pytest.skip("root without bwrap: no way to make a folder read-only here")
    return ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--ro-bind", str(folder), str(folder)]


def test_a_read_only_task_folder_fails_before_anything_runs(tmp_path):
    task = make_task(tmp_path / "task")
    prefix = read_only(task)
    started = time.monotonic()
    result = subprocess.run(
        [*prefix, sys.executable, str(RUN_PY), str(task)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"concgrade: error: {task / 'reports'}: cannot write the reports there")
    assert "give another folder with --output DIR" in result.stderr
    assert "grading" not in result.stderr  # no run started
    assert time.monotonic() - started < 30
    assert not (task / "reports").exists()
    elsewhere = subprocess.run(
        [*prefix, sys.executable, str(RUN_PY), str(task), "--output", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr


def test_a_second_grade_into_the_same_folder_is_refused(tmp_path):
    task = make_task(tmp_path / "task")
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".concgrade.lock", "a+") as lock:  # another grade is writing there
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("4242\n")
        lock.flush()
        result = grade(str(task), "--output", str(out))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"concgrade: error: {out}: another grade (process 4242) is writing its reports there; "
        "wait for it to finish, or give this one --output DIR"
    )
    assert not (out / "results.json").exists()
    again = grade(str(task), "--output", str(out), "--quiet")  # the lock died with its holder
    assert again.returncode == 0 and (out / "results.json").is_file()
