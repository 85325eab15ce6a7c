"""The parts of a dataset grade that need no run: discovery, cache keys, services, resolution, environments."""

from __future__ import annotations

import sys
from pathlib import Path

from taskfactory import write_files

from concgrade.dataset.dataset import GradeRequest, grade_key, worst_verdict
from concgrade.dataset.discovery import find_tasks, task_label
from concgrade.dataset.environments import HARNESS_TEST_REQUIREMENTS
from concgrade.dataset.taskjob import JobOptions, candidate_resolution
from concgrade.files import hash_tree
from concgrade.pipeline import GradeOptions, LimitOverrides
from concgrade.task.services import detect_services, service_environment, unmet_services

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]
TASK = {"repository_after/m.py": "", "tests/test_m.py": ""}


def test_discovery_finds_nested_tasks_and_skips_what_is_not_a_task(tmp_path):
    write_files(tmp_path, {**TASK, **{f"examples/a/{k}": v for k, v in TASK.items()}})
    write_files(tmp_path, {f"group/b/{k}": v for k, v in TASK.items()})
    write_files(tmp_path, {f".hidden/c/{k}": v for k, v in TASK.items()})
    write_files(tmp_path, {f"venv/d/{k}": v for k, v in TASK.items()})
    write_files(tmp_path, {f"tests/e/{k}": v for k, v in TASK.items()})  # inside a task's own tests/
    write_files(tmp_path, {"env/pyvenv.cfg": "", **{f"env/f/{k}": v for k, v in TASK.items()}})
    found = [task_label(task, tmp_path) for task in find_tasks(tmp_path)]
    assert found == [tmp_path.name, "examples/a", "group/b"]


def test_the_cache_key_follows_content_options_and_candidate_but_not_reports(tmp_path):
    write_files(tmp_path / "t", TASK)
    request = GradeRequest("t", tmp_path / "t")
    key = grade_key(request, JobOptions(), {})
    write_files(tmp_path / "t", {"reports/results.json": "{}", "tests/__pycache__/x.pyc": "x"})
    assert grade_key(request, JobOptions(), {}) == key
    assert grade_key(request, JobOptions(GradeOptions(limits=LimitOverrides(test_timeout=7))), {}) != key
    assert (
        grade_key(request, JobOptions(GradeOptions(bench_cache=False)), {}) == key
    )  # --no-cache regrades, then is reused
    assert grade_key(request, JobOptions(), {"REDIS_HOST": "h"}) != key
    write_files(tmp_path / "copy", TASK)  # the same content elsewhere: its reports name another task
    assert grade_key(GradeRequest("copy", tmp_path / "copy"), JobOptions(), {}) != key
    write_files(tmp_path / "c", {"m.py": "x = 1\n"})
    assert grade_key(GradeRequest("t", tmp_path / "t", tmp_path / "c"), JobOptions(), {}) != key
    before = hash_tree(tmp_path / "t")
    (tmp_path / "t" / "tests" / "test_m.py").write_text("# changed\n")
    assert hash_tree(tmp_path / "t") != before


def test_services_from_compose_and_the_variables_that_reach_them(tmp_path):
    write_files(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  db:\n    image: postgres:16\n    environment:\n"
            "      - POSTGRES_PASSWORD=x\n  tests:\n    environment:\n"
            "      - DATABASE_URL=postgresql://app:pw@db:5432/app\n",
            "tests/test_x.py": "import os\nHOST = os.environ.get('REDIS_HOST', 'localhost')\n",
        },
    )
    needs = detect_services(tmp_path)
    assert [n.name for n in needs] == ["postgres", "redis"]
    assert unmet_services(needs, {"postgres": "127.0.0.1:5433"}, {"REDIS_HOST": "cache"}) == []
    assert [n.name for n in unmet_services(needs, {}, {})] == ["postgres", "redis"]
    env = service_environment(needs, {"postgres": "127.0.0.1:5433", "redis": "10.0.0.9:6380"})
    assert env == {"DATABASE_URL": "postgresql://app:pw@127.0.0.1:5433/app", "REDIS_HOST": "10.0.0.9"}


def _results(f2p, p2p, failing=(), probes=None, verdict=None) -> dict:
    """A single grade's results.json as far as the resolution reads it: tests, suites, checks, verdict."""
    probes = probes or {}
    tests = [{"nodeid": n, "passed": ok, "probes": probes.get(n, [])} for n, ok in {**f2p, **p2p}.items()]
    checks = [{"id": "runs.started", "status": "pass", "message": "3 pytest processes ran"}]
    for suite, short in ((f2p, "f2p"), (p2p, "p2p")):
        ok = all(suite.values())
        check = {
            "id": f"{short}.passes_on_candidate",
            "status": "pass" if ok else "fail",
            "implementation": "candidate",
        }
        checks.append({**check, "message": "some tests do not pass on candidate"})
    for check_id, implementation in failing:
        checks.append({"id": check_id, "status": "fail", "implementation": implementation, "message": check_id})
    failed = any(c["status"] != "pass" for c in checks)
    return {
        "implementations": {"candidate": {"tests": tests}},
        "suites": {"FAIL_TO_PASS": list(f2p), "PASS_TO_PASS": list(p2p)},
        "checks": checks,
        "verdict": verdict or ("rejected" if failed else "accepted"),
    }


CONCURRENT = [{"max_active": 2}]
SEQUENTIAL = [{"max_active": 1}]


def status(results: dict) -> str:
    return candidate_resolution(results)["status"]


def test_resolved_is_what_the_single_grade_accepts():
    assert status(_results({"a": True, "b": True}, {"c": True})) == "resolved"


def test_partial_needs_every_p2p_and_a_passing_f2p_test_that_shows_concurrent_calls():
    shown = {"a": CONCURRENT, "b": CONCURRENT}
    assert status(_results({"a": True, "b": False}, {"c": True}, probes=shown)) == "partial"
    assert status(_results({"a": True, "b": False}, {"c": False}, probes=shown)) == "unresolved"


def test_a_sequential_candidate_passing_only_a_constant_test_is_unresolved_not_partial():
    probes = {"constant": [], "runs_at_once": SEQUENTIAL}
    results = _results({"constant": True, "runs_at_once": False}, {"c": True}, probes=probes)
    resolution = candidate_resolution(results)
    assert (
        resolution["status"] == "unresolved"
        and "none of the FAIL_TO_PASS tests it passes shows" in resolution["reason"]
    )


def test_without_any_probe_in_the_task_partial_is_swe_benchs():
    assert status(_results({"a": True, "b": False}, {"c": True})) == "partial"


def test_every_other_failing_check_of_the_candidate_makes_it_unresolved_whatever_its_tests_say():
    for check_id in (
        "runs.processes_ended.candidate",
        "integrity.sandbox_respected.candidate",
        "candidate.test_aware",
        "implementation.proved.candidate",
        "limits.respected.candidate",
    ):
        resolution = candidate_resolution(_results({"a": True}, {"c": True}, failing=[(check_id, "candidate")]))
        assert resolution["status"] == "unresolved" and resolution["reason"] == check_id


def test_an_error_or_a_task_that_does_not_grade_is_an_error_of_the_prediction():
    assert status(_results({"a": True}, {"c": True}, verdict="error")) == "error"
    assert status(_results({"a": True}, {"c": True}, failing=[("f2p.fails_on_before", "before")])) == "error"
    assert candidate_resolution({"checks": [], "verdict": "error", "error": "no run"})["status"] == "error"


def test_the_worst_verdict_ignores_skipped_tasks():
    assert worst_verdict(["accepted", "skipped", "rejected"]) == "rejected"
    assert worst_verdict(["rejected", "error"]) == "error"
    assert worst_verdict(["skipped"]) == "accepted"


def test_virtualenvs_get_the_harness_test_dependencies_pinned_as_in_pyproject():
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(HARNESS_TEST_REQUIREMENTS) <= set(pins)
