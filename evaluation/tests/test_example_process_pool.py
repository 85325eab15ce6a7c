"""The process_pool example task: graded accepted, and broken copies of its after rejected by the right check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import REPO

EXAMPLE = REPO / "examples" / "process_pool"

SIZED_BY_INPUT = """\
from multiprocessing import Pool


def process_item(item):
    return sum(i * i for i in range(item)) % 1_000_003


def process_all(items):
    with Pool(processes=max(1, len(items))) as pool:  # one worker per item: no bound at all
        return pool.map(process_item, items)
"""

KEPT_ALIVE = """\
from multiprocessing import Pool, cpu_count

_pool = None


def process_item(item):
    return sum(i * i for i in range(item)) % 1_000_003


def process_all(items):
    global _pool
    if _pool is None:  # "reuse the pool across calls": its workers outlive every call
        _pool = Pool(processes=cpu_count())
    return _pool.map(process_item, items)
"""


def grade(cli, task: Path, out: Path):
    result = cli("--task", str(task), "--output", str(out))
    return result, json.loads((out / "results.json").read_text())


def failing(data) -> list[str]:
    return [check["id"] for check in data["checks"] if check["status"] != "pass"]


def broken_copy(tmp_path: Path, source: str) -> Path:
    task = tmp_path / "process_pool"
    shutil.copytree(EXAMPLE, task, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    (task / "repository_after" / "parallelizing.py").write_text(source)
    return task


def test_the_example_is_accepted_with_its_worker_figures(cli, tmp_path):
    result, data = grade(cli, EXAMPLE, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["implementations"]["after"]["toggle_env"] == {"TEST_IMPLEMENTATION": "after"}
    f2p = {t["name"]: t["probes"][0] for t in data["implementations"]["after"]["tests"] if t["suite"] == "FAIL_TO_PASS"}
    cores = data["environment"]["cpu_count"]
    assert f2p["test_workers_are_reused_across_items"]["processes_started"] == cores
    before = {
        t["name"]: t["probes"][0] for t in data["implementations"]["before"]["tests"] if t["suite"] == "FAIL_TO_PASS"
    }
    assert before["test_workers_are_reused_across_items"]["processes_started"] == 3 * cores + 1


def test_a_pool_sized_by_the_input_is_rejected_by_the_bound(cli, tmp_path):
    result, data = grade(cli, broken_copy(tmp_path, SIZED_BY_INPUT), tmp_path / "out")
    assert result.returncode == 1
    assert failing(data) == ["f2p.passes_on_after"]
    assert "test_workers_are_reused_across_items" in result.stdout


def test_workers_left_alive_after_the_call_are_rejected(cli, tmp_path):
    result, data = grade(cli, broken_copy(tmp_path, KEPT_ALIVE), tmp_path / "out")
    assert result.returncode == 1
    assert failing(data) == ["p2p.passes_on_after"]
    assert "test_nothing_left_running_after_the_call_returns" in result.stdout
