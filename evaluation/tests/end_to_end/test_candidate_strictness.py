"""A candidate's grade is as strict as the task allows: stressed (seeded, replayable) and, where a workload
declares min_speedup, timed (before and after from the cache); a correct but throttled candidate is rejected.
`--no-stress` and `--no-bench` opt out, and the report says what was skipped; an author's plain grade stays fast."""

from __future__ import annotations

import pytest
from taskfactory import make_task
from test_bench_end_to_end import LOCKED, bench_task, failing, grade


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCGRADE_CACHE_DIR", str(tmp_path / "cache"))


def throttled_candidate(root):
    """Correct by the tests (they replace `work`), but every real call waits for one lock: no faster than before."""
    folder = root / "candidate"
    folder.mkdir()
    (folder / "counter.py").write_text(LOCKED)
    return folder


def skipped(data) -> dict[str, str]:
    return {entry["phase"]: entry["reason"] for entry in data["skipped"]}


def test_a_correct_but_throttled_candidate_is_rejected_by_default(cli, tmp_path):
    task = bench_task(tmp_path / "task", extra="min_speedup = 1.5")
    # The author's grade with --bench times before and after; the candidate's grade reuses those timings.
    author, _ = grade(cli, task, tmp_path / "author", "--bench")
    assert author.returncode == 0, author.stdout + author.stderr
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(throttled_candidate(tmp_path)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert failing(data) == ["bench.speedup.candidate"]  # its tests pass, stressed: only the timing sees it
    assert data["bench"]["requested_by"] == "manifest"
    timed = data["bench"]["workloads"][0]["implementations"]
    assert (timed["before"]["cached"], timed["after"]["cached"], timed["candidate"]["cached"]) == (True, True, False)
    assert data["nondeterminism"]["stress"] is True and isinstance(data["nondeterminism"]["seed"], int)
    assert data["skipped"] == []


def test_a_candidate_grade_replays_its_stress_seed(cli, tmp_path):
    task = make_task(tmp_path / "task")
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / "counter.py").write_text((task / "repository_after" / "counter.py").read_text())
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(candidate), "--seed", "41")
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["nondeterminism"]["stress"] is True and data["nondeterminism"]["seed"] == 41
    stressed = {run["name"]: run["repeats"][0]["stress"] for run in data["implementations"].values()}
    assert all(stressed.values()), stressed


def test_opting_out_is_said_in_the_report(cli, tmp_path):
    task = bench_task(tmp_path / "task", extra="min_speedup = 1.5")
    candidate = throttled_candidate(tmp_path)
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(candidate), "--no-stress", "--no-bench")
    assert result.returncode == 0, result.stdout + result.stderr  # nothing that would see the throttle ran
    assert data["bench"] is None and data["nondeterminism"]["stress"] is False
    reasons = skipped(data)
    assert set(reasons) == {"bench", "stress"}
    assert reasons["bench"].startswith("--no-bench") and "double-20" in reasons["bench"]
    assert reasons["stress"].startswith("--no-stress")
    assert "skipped bench: --no-bench" in result.stdout and "skipped stress: --no-stress" in result.stdout
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="skipped"' in html and "Not run: <strong>bench</strong>" in html


def test_an_authors_plain_grade_stays_fast_and_says_what_it_did_not_time(cli, tmp_path):
    task = bench_task(tmp_path / "task", extra="min_speedup = 1.5")
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["bench"] is None and data["nondeterminism"]["stress"] is False
    assert "an author's plain grade does not time workloads" in skipped(data)["bench"]


def test_seed_and_no_stress_contradict(cli, tmp_path):
    task = make_task(tmp_path / "task")
    result = cli("--task", str(task), "--seed", "3", "--no-stress", "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "--seed replays a stressed grade: it cannot go with --no-stress" in result.stderr
