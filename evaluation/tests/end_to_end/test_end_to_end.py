"""End to end: grade small fixture tasks with `python evaluation/run.py`, in real pytest subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from taskfactory import CONCURRENT, LINELESS_FAILURE, SEQUENTIAL, make_task, tree_digest, write_files


def grade(cli, task: Path, out: Path, *extra: str):
    result = cli("--task", str(task), "--output", str(out), *extra)
    data = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None
    return result, data


def failing(data) -> list[str]:
    return [check["id"] for check in data["checks"] if check["status"] != "pass"]


def test_a_good_task_is_accepted_and_both_reports_are_written(cli, tmp_path):
    task = make_task(tmp_path / "good")
    before_digest = tree_digest(task)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: accepted" in result.stdout
    assert data["verdict"] == "accepted" and data["success"] is True and data["schema_version"]
    assert (tmp_path / "out" / "report.html").read_text().count("accepted") >= 1
    assert tree_digest(task) == before_digest  # nothing written into the user's folder
    # The probe's figures land per test and per implementation.
    peaks = {
        name: [p["max_active"] for t in impl["tests"] for p in t["probes"]]
        for name, impl in data["implementations"].items()
    }
    assert peaks == {"before": [1], "after": [2]}
    # Each run proved which implementation it imported.
    for name in ("before", "after"):
        proofs = data["implementations"][name]["imports"]
        assert proofs and all(p["expected"] and p["content_matches"] for p in proofs)
        assert f"repository_{name}" in proofs[0]["file"]
    # The common template's fields are there too.
    assert data["results"]["before"]["summary"]["total"] == 3
    assert data["results"]["after"]["summary"] == {"total": 3, "passed": 3, "failed": 0, "errors": 0, "skipped": 0}


def test_f2p_that_already_passes_on_before_is_rejected(cli, tmp_path):
    task = make_task(tmp_path / "task", before=CONCURRENT)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1
    assert failing(data) == ["f2p.fails_on_before"]
    assert "f2p.fails_on_before" in result.stdout and "test_runs_concurrently" in result.stdout


def test_after_that_breaks_p2p_is_rejected(cli, tmp_path):
    broken = CONCURRENT.replace(
        "return list(pool.map(lambda x: work(x), items))", "return list(pool.map(work, items))[::-1]"
    )
    task = make_task(tmp_path / "task", after=broken)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1
    assert "p2p.passes_on_after" in failing(data)
    assert "test_doubles_in_order" in result.stdout


def test_a_candidate_is_graded_like_after(cli, tmp_path):
    task = make_task(tmp_path / "task")
    good = tmp_path / "good_candidate"
    write_files(good, {"counter.py": CONCURRENT.replace("max_workers=4", "max_workers=2")})
    result, data = grade(cli, task, tmp_path / "out", "--candidate", str(good))
    assert result.returncode == 0, result.stdout
    assert set(data["implementations"]) == {"before", "after", "candidate"}
    assert data["implementations"]["candidate"]["imports"][0]["content_matches"]

    lazy = tmp_path / "lazy_candidate"
    write_files(lazy, {"counter.py": SEQUENTIAL})
    result, data = grade(cli, task, tmp_path / "out2", "--candidate", str(lazy))
    assert result.returncode == 1
    assert failing(data) == ["f2p.passes_on_candidate"]


def test_a_named_variable_toggle(cli, tmp_path):
    test_import = (
        "import importlib, os\ncounter = importlib.import_module('repository_' + os.environ['IMPL'] + '.counter')\n"
    )
    task = make_task(
        tmp_path / "task",
        p2p=test_import + "\ndef test_doubles():\n    assert counter.run_all([1, 2]) == [2, 4]\n",
        f2p=test_import + "\ndef test_pool():\n    assert 'ThreadPoolExecutor' in dir(counter)\n",
    )
    for name in ("before", "after"):
        (task / f"repository_{name}" / "__init__.py").write_text("")
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(
        manifest.read_text().replace(
            'modules = ["counter"]', 'modules = ["repository_before.counter", "repository_after.counter"]'
        )
        + '\n[toggle]\nkind = "env"\nvariable = "IMPL"\n'
    )
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["implementations"]["after"]["toggle_env"] == {"IMPL": "after"}


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda task: __import__("shutil").rmtree(task / "repository_after"), "repository_after"),
        (
            lambda task: (task / "tests" / "test_f2p.py").write_text("def test_x(:\n    pass\n"),
            "test_f2p.py:1: syntax error",
        ),
        (lambda task: (task / "evaluation" / "concgrade.toml").write_text("[suites\n"), "invalid TOML"),
        (lambda task: (task / "tests" / "test_f2p.py").write_bytes(b"x = '\xff\xfe'\n"), "not UTF-8"),
        (
            lambda task: (task / "evaluation" / "concgrade.toml").write_text(
                '[suites]\nFAIL_TO_PASS = ["tests/nope.py"]\n'
            ),
            "tests/nope.py: named in the suites but does not exist",
        ),
        (lambda task: (task / "tests" / "data.py").symlink_to("/etc/passwd"), "symlink points outside the task"),
        (
            lambda task: (
                [path.unlink() for path in (task / "tests").glob("test_*.py")]
                and (task / "evaluation" / "concgrade.toml").write_text('[suites]\nFAIL_TO_PASS = ["test_x"]\n')
            ),
            "no test files",
        ),
        (
            lambda task: (task / "evaluation" / "concgrade.toml").write_text(
                '[suites]\nFAIL_TO_PASS = ["tests/test_f2p.py"]\n[limits]\nmemory = 5\n'
            ),
            "unknown key limits.memory (did you mean limits.memory_mb?)",
        ),
    ],
    ids=[
        "missing-after",
        "syntax-error",
        "invalid-manifest",
        "undecodable-test",
        "suite-file-missing",
        "symlink-outside",
        "no-tests",
        "unknown-limit",
    ],
)
def test_a_malformed_task_is_one_clear_error_line_and_exit_2(cli, tmp_path, breakage, expected):
    task = make_task(tmp_path / "task")
    breakage(task)
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("concgrade: error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags", [["--jobs", "0"], ["--test-timeout", "-1"], ["--no-such-flag"]])
def test_wrong_flags_exit_2_without_a_traceback(cli, tmp_path, flags):
    result = cli("--task", str(tmp_path), *flags)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_json_on_stdout(cli, tmp_path):
    task = make_task(tmp_path / "task")
    result = cli("--task", str(task), "--output", str(tmp_path / "out"), "--json")
    assert json.loads(result.stdout)["verdict"] == "accepted"


def test_manifest_constraints_reject_an_after_that_breaks_them(cli, tmp_path):
    task = make_task(tmp_path / "task")
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + '\n[constraints]\nstdlib_only = true\nforbidden = ["CG101"]\n')
    (task / "repository_after" / "counter.py").write_text("import numpy  # noqa\n" + CONCURRENT)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1
    assert "constraints.after" in failing(data)
    check = next(c for c in data["checks"] if c["id"] == "constraints.after")
    assert "stdlib_only" in check["message"] and "CG101" in check["message"]
    assert (
        data["metrics_delta"]["before→after"]["lines"]["after"]
        > data["metrics_delta"]["before→after"]["lines"]["before"]
    )


def test_a_shadowing_module_is_a_lint_error_that_rejects_the_task(cli, tmp_path):
    task = make_task(tmp_path / "task", extra={"tests/counter.py": SEQUENTIAL})
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 1
    assert "task.lint" in failing(data)
    assert any(f["id"] == "CL040" for f in data["lint"])


def test_check_lists_a_shadowing_module_an_exit_forcing_conftest_and_invalid_instances(cli, tmp_path):
    task = make_task(
        tmp_path / "task",
        extra={
            "counter.py": SEQUENTIAL,
            "tests/conftest.py": "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n",
            "instances/task.json": '{"FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently",]}',
        },
    )
    before = tree_digest(task)
    result = cli("check", "--json", str(task))
    assert result.returncode == 1, result.stdout + result.stderr
    ids = {finding["id"] for finding in json.loads(result.stdout)["findings"]}
    assert {"CL040", "CL051", "CL020"} <= ids
    assert tree_digest(task) == before


def test_a_failure_at_a_bytecode_without_a_line_is_graded_with_its_own_message(cli, tmp_path):
    """pytest crashed formatting such a failure (a pytest-timeout signal landing in `concurrent.futures.wait` on
    Python 3.11 leaves one): the test was called interrupted and its session ended. It is an ordinary failure."""
    f2p = f"{LINELESS_FAILURE}\nimport counter\n\ndef test_runs_on_a_pool():\n"
    f2p += "    if not hasattr(counter, 'ThreadPoolExecutor'):\n        fail_where_no_line_is(spin)\n"
    task = make_task(tmp_path / "task", f2p=f2p)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    before = data["implementations"]["before"]
    (test,) = [test for test in before["tests"] if test["suite"] == "FAIL_TO_PASS"]
    assert test["outcome"] == "failed"
    assert "failed at a bytecode with no line number" in test["message"]
    assert len(before["attempts"]) == 1  # the session was not cut short and resumed
