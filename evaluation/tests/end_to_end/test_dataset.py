"""End to end: grade a fixture dataset (one task per convention) with `python evaluation/run.py --dataset`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chromium import FLAGS, chromium_path
from conftest import RUN_PY
from datasetfactory import EXPECTED, make_dataset, needs_redis
from taskfactory import tree_digest


def run_dataset(*args: str, cache: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python evaluation/run.py ARGS` with its own cache folder, as a real subprocess."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run(
        [sys.executable, str(RUN_PY), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def rows(document: dict) -> dict[str, dict]:
    return {row["label"]: row for row in document["tasks"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole fixture dataset graded once with --install on two workers: (dataset, cache, process, document)."""
    base = tmp_path_factory.mktemp("dataset")
    dataset, cache = make_dataset(base / "ds"), base / "cache"
    digest = tree_digest(dataset)
    result = run_dataset("--dataset", str(dataset), "--install", "--jobs", "2", cache=cache)
    document = json.loads((dataset / "reports" / "results.json").read_text())
    shutil.copytree(dataset / "reports", base / "first-reports")  # a later test regrades into the same folder
    return dataset, cache, result, document, digest


def test_each_task_gets_its_verdict_and_the_source_of_its_toggle(graded):
    dataset, _, result, document, _ = graded
    assert result.returncode == 2, result.stdout + result.stderr  # the worst task is an error
    assert "Traceback" not in result.stderr
    found = rows(document)
    assert set(found) == set(EXPECTED)
    for label, (verdict, kind, origin) in EXPECTED.items():
        row = found[label]
        assert row["verdict"] == verdict, (label, row["failing_checks"], row["error"])
        if kind:
            assert row["task"]["toggle"]["kind"] == kind, label
            assert row["task"]["toggle_source"]["origin"] == origin, label
            assert row["task"]["toggle_source"]["evidence"], label
    assert document["summary"] == {
        "tasks": 9,
        "accepted": 6,
        "rejected": 1,
        "error": 1,
        "skipped": 1,
        "cached": 0,
    }
    # Progress on stderr, one line per task.
    assert sum(line.startswith("[") for line in result.stderr.splitlines()) == 9


def test_inference_names_the_file_and_line_it_read(graded):
    found = rows(graded[3])
    env = found["env_task"]["task"]
    assert env["toggle"]["variable"] == "TEST_IMPLEMENTATION"
    assert env["toggle"]["values"] == {"before": "legacy", "after": "modern"}
    assert any(e.startswith("docker-compose.yml:5") for e in env["toggle_source"]["evidence"])
    option = found["option_task"]["task"]
    assert option["toggle"]["option"] == "--repo"
    assert any("tests/conftest.py" in e for e in option["toggle_source"]["evidence"])
    keyword = found["keyword_task"]["task"]["toggle"]
    assert keyword["selection"] == {"before": ["-k", "before"], "after": ["-k", "after"]}
    assert found["selection_task"]["task"]["toggle"]["selection"] == {
        "before": ["tests/test_before.py"],
        "after": ["tests/test_after.py"],
    }


def test_instances_files_are_read_leniently_and_audited(graded):
    found = rows(graded[3])
    # The plain grade takes its suites from what the runs show, and audits the file against them.
    valid = found["pythonpath_task"]
    assert valid["task"]["suites_source"] == "inferred" and valid["instances"]["graded_with"] == "inferred"
    assert valid["instances"]["status"] == "valid" and valid["instances"]["findings"] == []
    # Paths relative to tests/ and bare names are accepted too.
    assert found["package_task"]["instances"]["status"] == "valid"
    # Not JSON: graded by the runs, and said so in a warning (an error under --gate).
    invalid = found["option_task"]
    assert invalid["task"]["suites_source"] == "inferred" and invalid["failing_checks"] == []
    assert [(f["id"], f["severity"]) for f in invalid["instances"]["findings"]] == [("instances.invalid", "warning")]
    assert invalid["instances"]["corrected"]["FAIL_TO_PASS"] == [
        "tests/test_counter.py::test_work_leaves_the_main_thread"
    ]
    assert found["env_task"]["instances"]["status"] == "missing"
    # Contradicted by the runs: graded by what the runs show; the findings give the corrected lists.
    contradicted = found["selection_task"]
    assert contradicted["instances"]["status"] == "contradicted" and contradicted["failing_checks"] == []
    assert [f["id"] for f in contradicted["instances"]["findings"]] == ["instances.f2p_passes_on_before"]
    assert contradicted["instances"]["corrected"]["PASS_TO_PASS"] == ["tests/test_{impl}.py::test_doubles_in_order"]
    per_task = json.loads((graded[0].parent / "first-reports" / "selection_task" / "results.json").read_text())
    assert "instances.f2p_passes_on_before" in [finding["id"] for finding in per_task["lint"]]


def test_install_failure_and_missing_service_are_reported(graded):
    found = rows(graded[3])
    failed = found["install_fails"]
    assert "does-not-exist" in failed["error"] and "requirements.txt" in failed["error"]
    assert failed["report"] is None
    skipped = found["needs_redis"]
    assert skipped["services"][0]["name"] == "redis"
    assert "--service redis=HOST:PORT" in skipped["error"] and "docker-compose.yml" in skipped["error"]


def test_each_task_has_its_reports_and_the_dataset_folder_is_untouched(graded, tmp_path):
    dataset, _, _, document, digest = graded
    reports = dataset.parent / "first-reports"
    for row in document["tasks"]:
        if row["verdict"] in ("accepted", "rejected"):
            per_task = json.loads((reports / row["label"] / "results.json").read_text())
            assert per_task["verdict"] == row["verdict"]
            assert (reports / row["label"] / "report.html").is_file()
    # Nothing but reports/ was written into the dataset.
    after = {path: sha for path, sha in tree_digest(dataset).items() if not path.startswith("reports/")}
    assert after == digest


def test_a_regrade_of_an_unchanged_dataset_comes_from_the_cache(graded):
    dataset, cache, _, first, _ = graded
    result = run_dataset("dataset", str(dataset), "--install", "--jobs", "2", "--json", cache=cache)
    second = json.loads(result.stdout)
    cached = {row["label"] for row in second["tasks"] if row["cached"]}
    # Accepted and rejected grades are reused; an error (maybe transient) and a skipped task are not cached.
    assert cached == {label for label, (verdict, _, _) in EXPECTED.items() if verdict in ("accepted", "rejected")}
    assert {r["label"]: r["verdict"] for r in second["tasks"]} == {r["label"]: r["verdict"] for r in first["tasks"]}
    assert (dataset / "reports" / "env_task" / "report.html").is_file()
    assert json.loads((dataset / "reports" / "env_task" / "results.json").read_text())["verdict"] == "accepted"


def test_a_provided_service_reaches_the_runs_of_a_task_graded_as_a_dataset_of_one(tmp_path):
    task = needs_redis(tmp_path / "needs_redis")
    result = run_dataset("dataset", str(task), "--service", "redis=127.0.0.1:6399", "--quiet", cache=tmp_path / "c")
    assert result.stdout.strip() == "accepted" and result.returncode == 0, result.stdout + result.stderr
    per_task = json.loads((task / "reports" / "needs_redis" / "results.json").read_text())
    assert {t["name"] for t in per_task["implementations"]["after"]["tests"] if t["passed"]} >= {
        "test_reaches_the_service"
    }


def test_changed_since_grades_only_the_touched_tasks(tmp_path):
    dataset = make_dataset(tmp_path / "ds", ["install_fails", "manifest_task"])
    git = ["git", "-C", str(dataset), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "tasks"], check=True)
    (dataset / "install_fails" / "README.md").write_text("# changed\n")
    (dataset / "install_fails" / "tests" / "test_new.py").write_text("def test_new():\n    pass\n")  # untracked
    result = run_dataset("dataset", str(dataset), "--changed-since", "HEAD", "--install", "--json", cache=tmp_path)
    document = json.loads(result.stdout)
    assert [row["label"] for row in document["tasks"]] == ["install_fails"]
    assert document["dataset"]["tasks_found"] == 2 and document["dataset"]["changed_since"] == "HEAD"
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "more"], check=True)
    unchanged = run_dataset("dataset", str(dataset), "--changed-since", "HEAD", "--json", cache=tmp_path)
    assert json.loads(unchanged.stdout)["tasks"] == [] and unchanged.returncode == 0  # a PR touching no task passes
    bad = run_dataset("dataset", str(dataset), "--changed-since", "no-such-rev", cache=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("concgrade: error: --changed-since")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dataset", "{tmp}/nothing-here"], "not a folder"),
        (["dataset", "{tmp}"], "no task folder below it"),
        (["dataset", "{tmp}", "--jobs", "0"], "--jobs must be at least 1"),
        (["dataset", "{tmp}", "--service", "redis"], "expected NAME=HOST:PORT"),
        (["dataset", "{tmp}", "--executor", "dask"], "needs --scheduler"),
    ],
)
def test_bad_dataset_arguments_are_one_line_and_exit_2(tmp_path, args, expected):
    result = run_dataset(*(a.format(tmp=tmp_path) for a in args), cache=tmp_path / "c")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_the_index_renders_and_filters_in_headless_chromium(graded):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'")
    if chromium_path() is None:
        pytest.skip("no Chromium on this machine: install the OS package (apt-get install chromium)")
    document = graded[3]
    index = graded[0].parent / "first-reports" / "index.html"
    rejected = sorted(row["label"] for row in document["tasks"] if row["verdict"] == "rejected")

    def visible(page) -> list[str]:
        return sorted(page.locator("tr.task:not([hidden]) td:first-child code").all_inner_texts())

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(index.as_uri())
        assert len(visible(page)) == len(document["tasks"]) and page.locator("#verdict").inner_text() == "error"
        page.select_option("#verdict-filter", "rejected")
        assert visible(page) == rejected and page.locator("#shown").inner_text() == f"{len(rejected)} shown"
        page.select_option("#verdict-filter", "")
        page.fill("#q", "does-not-exist")  # in a row's error (the requirement that could not be installed)
        assert visible(page) == ["install_fails"]
        page.goto(index.as_uri() + "#verdict=skipped")  # a filtered view is a link
        page.reload()
        assert visible(page) == ["needs_redis"]
        browser.close()
    assert errors == []


def test_dask_gives_the_same_grades_as_the_local_pool(graded, tmp_path):
    pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'concgrade[dask]'")
    from distributed import LocalCluster

    dataset, _, _, local, _ = graded
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        result = run_dataset(
            "dataset",
            str(dataset),
            "--install",
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            "--no-cache",
            "--output",
            str(tmp_path / "dask-reports"),
            "--quiet",
            cache=tmp_path / "cache",
        )
    remote = json.loads((tmp_path / "dask-reports" / "results.json").read_text())
    assert remote["options"]["executor"] == "dask" and result.returncode == local["exit_code"]

    def grades(document):
        return {r["label"]: (r["verdict"], sorted(c["id"] for c in r["failing_checks"])) for r in document["tasks"]}

    assert grades(remote) == grades(local)
    assert rows(remote)["env_task"]["task"]["root"] == str(dataset / "env_task")
