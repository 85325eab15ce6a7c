"""The habits CI enforces, run as tests so that the README's one test command checks them too."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "evaluation" / "concgrade"
# What the code inside the test process may import besides the standard library and itself.
INSIDE_MAY_IMPORT = {"pytest", "_pytest", "pluggy"}


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (pip install -e '.[dev]')")
    # This checkout's package, not the installed one (import-linter imports the package it checks).
    env = {**os.environ, "PYTHONPATH": str(REPO / "evaluation")}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",), ("lint-imports",)],
    ids=["ruff-check", "ruff-format", "mypy", "import-linter"],
)
def test_the_repository_passes(command):
    result = run_tool(*command)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_code_inside_the_test_process_imports_only_the_standard_library_pytest_and_itself():
    offending = {}
    for path in sorted((PACKAGE / "inside").rglob("*.py")):
        for name in imported_top_levels(path):
            top = name.split(".")[0]
            allowed = top in sys.stdlib_module_names or top in INSIDE_MAY_IMPORT
            if not allowed and not (name == "concgrade" or name.startswith("concgrade.inside")):
                offending.setdefault(path.relative_to(REPO).as_posix(), []).append(name)
    assert offending == {}
