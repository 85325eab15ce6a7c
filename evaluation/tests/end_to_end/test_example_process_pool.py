"""The process_pool example: an after whose workers outlive the call is rejected by its PASS_TO_PASS suite.

(The example's acceptance, and its broken copy whose pool is sized from the input, are graded with the
other examples in test_examples.py.)
"""

from __future__ import annotations

import json
import shutil

from conftest import REPO

EXAMPLE = REPO / "examples" / "process_pool"

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


def test_workers_left_alive_after_the_call_are_rejected(cli, tmp_path):
    task = tmp_path / "process_pool"
    shutil.copytree(EXAMPLE, task, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    (task / "repository_after" / "parallelizing.py").write_text(KEPT_ALIVE)
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    failing = {check["id"]: check for check in data["checks"] if check["status"] != "pass"}
    assert set(failing) == {"p2p.passes_on_after"}
    assert failing["p2p.passes_on_after"]["tests"] == [
        "tests/test_results.py::test_nothing_left_running_after_the_call_returns"
    ]
    # The pool's workers were already running when the bounded tests began: still seen, still within the bound.
    bounds = [t for t in data["implementations"]["after"]["tests"] if t["suite"] == "FAIL_TO_PASS"]
    assert all(t["passed"] for t in bounds)
    probed = [t for t in bounds if t["probes"]]
    assert probed and all(t["probes"][0]["max_processes"] == data["environment"]["cpu_count"] for t in probed)
