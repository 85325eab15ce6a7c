"""The manifest reader's one list of tables and keys: a misspelt one is an error with "did you mean", in a
grade and in `concgrade check` alike, and every table it knows is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, RUN_PY
from taskfactory import MANIFEST, make_task

from concgrade.errors import TaskError
from concgrade.static.lint.checks import lint_task
from concgrade.task.load import load_task
from concgrade.task.manifest import TABLES

BASE = MANIFEST.format(name="t", test_timeout=10, run_timeout=60)


def with_manifest(tmp_path: Path, text: str) -> Path:
    return make_task(tmp_path / "task", extra={"evaluation/concgrade.toml": text})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('\n[toogle]\nkind = "env"\n', "unknown table [toogle] (did you mean [toggle]?)"),
        ("\n[limit]\nrun_timeout = 5\n", "unknown table [limit] (did you mean [limits]?)"),
        ("\n[[probe]]\ntarget = 'counter:work'\n", "unknown table [probe] (did you mean [probes]?)"),
        ('\n[toggle]\nkind = "env"\nvarible = "IMPL"\n', "unknown key toggle.varible (did you mean toggle.variable?)"),
        ("\n[implementations]\nbefor = 'repository_before'\n", "unknown key implementations.befor (did you mean"),
        ("\n[whatever]\nx = 1\n", "unknown table [whatever] (known tables: task, implementations, toggle"),
    ],
)
def test_a_misspelt_table_or_key_is_an_error_naming_the_closest(tmp_path, extra, message):
    root = with_manifest(tmp_path, BASE + extra)
    with pytest.raises(TaskError, match=re.escape(message)):
        load_task(root)
    [finding] = [f for f in lint_task(root) if f.id == "CL014"]
    assert finding.severity == "error" and message in finding.message and finding.line is not None


def test_a_misspelt_key_in_task_is_an_error(tmp_path):
    root = with_manifest(tmp_path, BASE.replace('name = "t"', 'nmae = "t"'))
    with pytest.raises(TaskError, match=re.escape("unknown key task.nmae (did you mean task.name?)")):
        load_task(root)


def test_the_grade_stops_at_the_typo_before_anything_runs(tmp_path):
    root = with_manifest(tmp_path, BASE + '\n[toogle]\nkind = "env"\nvariable = "IMPL"\n')
    done = subprocess.run([sys.executable, str(RUN_PY), str(root)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"concgrade: error: {root / 'evaluation' / 'concgrade.toml'}: unknown table [toogle] (did you mean [toggle]?)"
    )


def test_documented_tables_are_known_and_clean_in_check(tmp_path):
    extra = (
        "\n[constraints]\nstdlib_only = true\n"
        '\n[[probes]]\ntarget = "counter:work"\nkind = "threads"\n'
        '\n[toggle]\nkind = "pythonpath"\n'
    )
    root = with_manifest(tmp_path, BASE + extra)
    load_task(root)
    assert [f for f in lint_task(root) if f.id == "CL014"] == []
    assert [f for f in lint_task(REPO) if f.id == "CL014"] == []  # the reference task's own manifest


def test_every_known_table_is_documented_and_every_documented_one_known():
    docs = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "docs").glob("*.md"))
    documented = set(re.findall(r"^\[\[?([a-z_]+)\]\]?", docs, re.MULTILINE))
    assert set(TABLES) <= documented, f"undocumented tables: {set(TABLES) - documented}"
    manifest_doc = (REPO / "docs" / "manifest.md").read_text(encoding="utf-8")
    in_manifest_doc = set(re.findall(r"^\[\[?([a-z_]+)\]\]?", manifest_doc, re.MULTILINE))
    assert in_manifest_doc <= set(TABLES) and "constraints" in in_manifest_doc
