"""The grader is whole before untrusted code runs: every module of the harness imported and its files
fingerprinted before the first pytest process starts, and no module of the harness imported after it.

The preparation of the harness goes on beside the grade's own (sandbox probe, snapshot): this proves it still
ends before any process of the task is started, in a fresh interpreter grading a real task.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import REPO
from taskfactory import make_task

GRADER = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from concgrade import harness
    from concgrade.run import supervisor

    seen = {"fingerprints": 0, "starts": []}
    real_fingerprint, real_start = harness.fingerprint, supervisor.start_process

    def fingerprint():
        found = real_fingerprint()
        if not seen["fingerprints"]:
            time.sleep(1)  # a slow first fingerprint: the first process must wait for it all the same
        seen["fingerprints"] += 1
        return found

    def start_process(*args, **kwargs):
        seen["starts"].append({"modules": sorted(sys.modules), "fingerprints": seen["fingerprints"]})
        return real_start(*args, **kwargs)

    harness.fingerprint, supervisor.start_process = fingerprint, start_process
    from concgrade.cli.main import main

    code = main([sys.argv[2], "--output", sys.argv[3], "--quiet", "--no-bench"])
    print(json.dumps({"code": code, "starts": seen["starts"], "everything": harness.import_everything(),
                      "at_end": sorted(sys.modules)}))
    """
)


def test_the_harness_is_imported_and_fingerprinted_before_the_first_process(tmp_path):
    task = make_task(tmp_path / "task")
    done = subprocess.run(
        [sys.executable, "-c", GRADER, str(REPO / "evaluation"), str(task), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    first = seen["starts"][0]
    assert len(seen["starts"]) >= 2  # before and after, at least
    assert first["fingerprints"] == 1  # taken before the first process started
    assert set(seen["everything"]) <= set(first["modules"])  # every module the grader imports, already there
    own_later = {
        name
        for name in set(seen["at_end"]) - set(first["modules"])
        if name == "concgrade" or name.startswith("concgrade.")
    }
    assert own_later == set(), own_later
    assert len(seen["everything"]) > 100
