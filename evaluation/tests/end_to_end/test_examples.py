"""The example tasks under examples/ are accepted, and a deliberately broken copy of each is rejected."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO
from example_mutations import MUTATIONS

EXAMPLES = sorted(path.name for path in (REPO / "examples").iterdir() if (path / "repository_after").is_dir())


def test_every_example_has_a_broken_copy():
    assert EXAMPLES and set(EXAMPLES) == set(MUTATIONS)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_is_accepted(cli, tmp_path, name):
    result = cli("--task", str(REPO / "examples" / name), "--output", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / "results.json").read_text())["verdict"] == "accepted"


@pytest.mark.parametrize("name", EXAMPLES)
def test_broken_copy_is_rejected_with_the_broken_requirement_named(cli, tmp_path, name):
    mutation = MUTATIONS[name]
    task = tmp_path / name
    shutil.copytree(REPO / "examples" / name, task, ignore=shutil.ignore_patterns("reports", "__pycache__"))
    target = task / mutation["file"]
    text = target.read_text()
    assert text.count(mutation["old"]) == 1
    target.write_text(text.replace(mutation["old"], mutation["new"]))

    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    failing = {check["id"]: check for check in data["checks"] if check["status"] != "pass"}
    assert set(failing) == {"f2p.passes_on_after"}
    assert failing["f2p.passes_on_after"]["tests"]
    files = {nodeid.split("::")[0] for nodeid in failing["f2p.passes_on_after"]["tests"]}
    assert mutation["breaks"] in files
    assert files <= {mutation["breaks"], *mutation.get("also", ())}, files
