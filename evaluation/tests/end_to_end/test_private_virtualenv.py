"""A grader whose virtualenv only its owner may read (`mktemp -d`, a 0700 home) grades in that virtualenv.

As root, each run is a fresh unprivileged user; such a user cannot read the virtualenv, and its Python started
silently as the base installation, with other packages (CI's pytest 7.4 venv graded on the machine's pytest 9).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import RUN_PY
from taskfactory import make_task

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="runs become a fresh user only when the grader is root and setpriv is installed",
)

PREFIX_TEST = """\
import sys


def test_runs_in_the_graders_virtualenv():
    assert sys.prefix == {prefix!r}
"""


def private_virtualenv(folder):
    """A virtualenv (seeing this Python's packages) in a folder only its owner may read, as `mktemp -d` makes."""
    folder.mkdir(mode=0o700)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(folder)],
        check=True,
        capture_output=True,
    )
    os.chmod(folder, 0o700)
    return folder / "bin" / "python"


def test_a_virtualenv_only_its_owner_may_read_is_the_one_the_tests_run_in(tmp_path):
    python = private_virtualenv(tmp_path / "venv")
    prefix = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    task = make_task(tmp_path / "task", extra={"tests/test_prefix.py": PREFIX_TEST.format(prefix=prefix)})
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(
        manifest.read_text().replace('"tests/test_p2p.py"]', '"tests/test_p2p.py", "tests/test_prefix.py"]')
    )
    result = subprocess.run(
        [str(python), str(RUN_PY), "--task", str(task), "--output", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    failed = [
        t["nodeid"] for impl in data["implementations"].values() for t in impl["tests"] if t["outcome"] != "passed"
    ]
    assert result.returncode == 0, (failed, result.stderr)
    user = next(layer for layer in data["environment"]["isolation"]["layers"] if layer["name"] == "unprivileged_user")
    assert not user["active"] and "may be read by its owner only" in user["detail"], user
