"""Tiny tasks for the mutant fixture tests: an after folder and its suites in tmp_path, run by real pytest.

Until the sandboxed runner grades mutants, this is the simplest honest run: copy the after folder, write the
mutant's files over it, run the suites with PYTHONPATH on it, and read each test's outcome from --junitxml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from pathlib import Path

from mutant_cases import Case

# A mutant may leave non-daemon threads stuck, which keeps pytest's process alive after its session ended;
# this plugin ends the process with the session's status once the report is written.
EXIT_AT_END = """\
import os


def pytest_sessionfinish(session, exitstatus):
    session.config._tiny_task_status = int(exitstatus)


def pytest_unconfigure(config):
    os._exit(getattr(config, "_tiny_task_status", 3))
"""


def strong_file(case: Case) -> str:
    return f"tests/test_{case.code.lower()}_strong.py"


def weak_file(case: Case) -> str:
    return f"tests/test_{case.code.lower()}_weak.py"


def write_task(root: Path, cases: Iterable[Case]) -> Path:
    """A task folder with each case's module in repository_after/ and its two suites in tests/."""
    (root / "repository_after").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "exit_at_end.py").write_text(EXIT_AT_END)
    for case in cases:
        (root / "repository_after" / f"{case.module}.py").write_text(case.source)
        (root / strong_file(case)).write_text(case.strong)
        (root / weak_file(case)).write_text(case.weak)
    return root


def materialize(after: Path, files: Mapping[str, str], destination: Path) -> Path:
    """A copy of the after folder with the given files (relative path -> text) written over it."""
    shutil.copytree(after, destination)
    for relative, text in files.items():
        (destination / relative).write_text(text)
    return destination


def run_tests(task: Path, implementation: Path, files: Iterable[str], name: str) -> dict[str, bool | None]:
    """Node id -> passed (None: skipped) of one pytest process over `files`, in the order they ran.

    `name` names the run's report, so that runs of one task can go at the same time.
    """
    report = task / f"junit-{name}.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "CONCGRADE"))}
    env["PYTHONPATH"] = os.pathsep.join([str(implementation), str(task)])
    command = [sys.executable, "-m", "pytest", "-p", "no:concgrade", "-p", "no:cacheprovider", "-p", "exit_at_end"]
    command += ["-q", "--timeout", "30", f"--junitxml={report}", "--rootdir", str(task), *files]
    result = subprocess.run(command, cwd=task, env=env, capture_output=True, text=True, timeout=180)
    if not report.exists():
        raise AssertionError(f"pytest wrote no report (exit {result.returncode}): {result.stdout[-2000:]}")
    return read_junit(report)


def read_junit(report: Path) -> dict[str, bool | None]:
    outcomes: dict[str, bool | None] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        nodeid = f"{module}.py::{case.get('name')}"
        if case.find("skipped") is not None:
            outcomes[nodeid] = None
        else:
            outcomes[nodeid] = case.find("failure") is None and case.find("error") is None
    return outcomes
