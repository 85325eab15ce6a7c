"""The red-team suite: every case graded end to end with --candidate against a copy of the reference task.

Each case is a candidate folder with the verdict it must get and the checks that must not pass; whatever it
does, the grade ends in bounded time, with no process left and nothing outside its scratch copy changed.
"""

from __future__ import annotations

import shutil

import pytest
import rt_bench_cases
import rt_bulk_cases
import rt_channel_cases
import rt_context_cases
import rt_harness_cases
import rt_legit_cases
import rt_memory_cases
import rt_output_cases
import rt_process_cases
import rt_pytest_cases
import rt_unseen_cases
import rt_writes_cases
from redteam_support import REFERENCE, Case, Grader

pytestmark = pytest.mark.slow

MODULES = (
    rt_harness_cases,
    rt_memory_cases,
    rt_channel_cases,
    rt_context_cases,
    rt_writes_cases,
    rt_output_cases,
    rt_bulk_cases,
    rt_bench_cases,
    rt_process_cases,
    rt_pytest_cases,
    rt_unseen_cases,
    rt_legit_cases,
)
CASES: list[Case] = [case for module in MODULES for case in module.CASES]
EXIT_CODES = {"accepted": 0, "rejected": 1, "error": 2}


def test_the_suite_covers_every_class_more_than_once():
    by_class = {klass: [c for c in CASES if c.klass == klass] for klass in range(10)}
    assert all(len(by_class[klass]) >= 2 for klass in range(1, 10)), {k: len(v) for k, v in by_class.items()}
    legitimate = [c for c in CASES if c.verdict == "accepted" and c.klass in (0, 9)]
    assert len(legitimate) >= 5 and len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(tmp_path, case: Case):
    if "bwrap" in case.notes and shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap: without a mount namespace this write is refused instead")
    grader = Grader(tmp_path, case)
    try:
        graded = grader.grade()
    finally:
        grader.cleanup()
    assert "Traceback" not in graded.stderr and "internal error" not in graded.stderr, graded.stderr[-3000:]
    assert graded.results, f"no results.json (exit {graded.returncode}): {graded.stderr[-2000:]}"
    assert graded.returncode == EXIT_CODES[case.verdict], (graded.returncode, graded.stderr[-2000:])
    assert not set(graded.stdout + graded.stderr) & {"\x1b", "\r", "\x00"}, "the run's text acts on the terminal"
    assert not graded.left_behind, graded.left_behind
    failing = graded.failing()
    assert graded.verdict == case.verdict, failing or graded.stdout[-2000:]
    for check_id in case.failing:
        matched = [cid for cid in failing if cid == check_id or (check_id.endswith(".") and cid.startswith(check_id))]
        assert matched, f"{check_id} did not fail; failing: {failing}"
    if case.bulk is not None:
        assert graded.bulk_row is not None and graded.bulk_row["status"] == case.bulk, graded.bulk_row


# Without the mount namespace, the unprivileged user and the audit hook, a run (as the grader's own user) can
# write the harness: the grade must then end as an error, before it renders anything from the changed files.
HARNESS_WRITER = Case(
    "harness-writer",
    1,
    {"notify_service.py": REFERENCE + '\nopen("__HARNESS__/report/html.py", "a").write("\\n# __TOKEN__\\n")\n'},
    "error",
)


def test_a_harness_changed_by_a_run_is_an_error_of_the_grade(tmp_path):
    grader = Grader(tmp_path, HARNESS_WRITER)
    grader.env["CONCGRADE_ISOLATION_DISABLE"] = "mount_namespace,unprivileged_user,audit_hook"
    try:
        out = tmp_path / "out"
        done = grader.run("--task", str(grader.task), "--candidate", str(grader.candidate), "--output", str(out))
    finally:
        grader.cleanup()
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the harness or its installed files changed during the grade" in done.stderr
    assert "report/html.py (modified)" in done.stderr
    assert not (out / "report.html").exists()  # nothing rendered from a harness that changed
