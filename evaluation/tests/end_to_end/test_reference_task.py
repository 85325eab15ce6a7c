"""The reference task at the repository root: accepted as it is, and every plausible wrong refactor is caught."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from reference_mutants import MUTANTS, write_mutants

TASK_PARTS = ("repository_before", "repository_after", "tests", "trajectory", "evaluation/concgrade.toml")


def copy_task(target: Path) -> Path:
    """The reference task alone (without the harness's own tests), as a dataset would hold it."""
    for part in TASK_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    for name in ("README.md", "Dockerfile"):
        shutil.copy2(REPO / name, target / name)
    return target


def failing(out: Path) -> dict[str, dict]:
    data = json.loads((out / "results.json").read_text())
    return {check["id"]: check for check in data["checks"] if check["status"] != "pass"}


def test_the_reference_task_is_accepted_with_before_and_after_concurrency_shown(cli, tmp_path):
    result = cli("--output", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: accepted" in result.stdout
    data = json.loads((tmp_path / "results.json").read_text())
    peaks = {
        name: max(p["max_active"] for t in impl["tests"] for p in t["probes"])
        for name, impl in data["implementations"].items()
    }
    assert peaks == {"before": 1, "after": 50}
    assert (tmp_path / "report.html").is_file()
    # A correct after raises no error-level finding of the concurrency rules.
    assert not [f for f in data["implementations"]["after"]["findings"] if f["severity"] == "error"]


def test_an_after_that_is_the_before_is_rejected(cli, tmp_path):
    task = copy_task(tmp_path / "task")
    shutil.copy2(task / "repository_before" / "notify_service.py", task / "repository_after" / "notify_service.py")
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "f2p.passes_on_after" in failing(tmp_path / "out")
    assert "f2p.passes_on_after" in result.stdout


def test_an_after_that_returns_an_empty_list_is_rejected(cli, tmp_path):
    task = copy_task(tmp_path / "task")
    module = task / "repository_after" / "notify_service.py"
    module.write_text(module.read_text() + "\n\ndef notify_users(user_ids, payload):\n    return []\n")
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    checks = failing(tmp_path / "out")
    assert {"p2p.passes_on_after", "f2p.passes_on_after"} <= set(checks)


# A wrong refactor may leave non-daemon threads deadlocked, which keeps pytest's process alive after
# its session ended; this plugin ends the process with the session's status once reports are written.
EXIT_AT_UNCONFIGURE = """
import os

def pytest_sessionfinish(session, exitstatus):
    session.config._mutant_exit_status = int(exitstatus)

def pytest_unconfigure(config):
    os._exit(getattr(config, "_mutant_exit_status", 3))
"""


@pytest.fixture(scope="module")
def mutant_folders(tmp_path_factory):
    folders = write_mutants(REPO / "repository_after" / "notify_service.py", tmp_path_factory.mktemp("mutants"))
    for folder in folders.values():
        (folder / "exit_at_unconfigure.py").write_text(EXIT_AT_UNCONFIGURE)
    return folders


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_wrong_refactor_fails_a_test(mutant_folders, tmp_path, name):
    """Each mutant breaks one requirement; the suites must catch it (a real pytest run with the plugin)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(mutant_folders[name]), str(REPO / "evaluation")])}
    report = tmp_path / "report.json"
    # no:concgrade: an installed concgrade registers the same plugin through its entry point.
    plugins = [
        "-p",
        "no:concgrade",
        "-p",
        "concgrade.inside.plugin",
        "-p",
        "exit_at_unconfigure",
        "-p",
        "no:cacheprovider",
    ]
    command = [sys.executable, "-m", "pytest", *plugins, "-q", "--timeout", "20", "--json-report"]
    command += [f"--json-report-file={report}", "tests"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 1, result.stdout[-3000:]
    failed = {t["nodeid"] for t in json.loads(report.read_text())["tests"] if t["outcome"] != "passed"}
    expected = MUTANTS[name].caught_by
    caught = {nodeid for nodeid in failed if not expected or any(nodeid.endswith(test) for test in expected)}
    assert caught, f"{name}: expected one of {expected} to fail; failed: {sorted(failed)}"
