"""A "rich" fixture task whose grade exercises every part of the reports: expected and unexpected failures,
a timeout, captured output, probes, a candidate, and a hostile trajectory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from taskfactory import CONCURRENT, SEQUENTIAL, make_task, write_files

SLOW_OK = "\n\ndef slow():\n    return None\n"
SLOW_HANGS = "\n\ndef slow():\n    time.sleep(30)\n"

# Concurrent, but it loses the order of three or more results, and slow() hangs past the test timeout.
BROKEN_AFTER = (
    CONCURRENT.replace(
        "        return list(pool.map(lambda x: work(x), items))",
        "        results = list(pool.map(lambda x: work(x), items))\n"
        "    return results if len(results) < 3 else results[::-1]",
    )
    + SLOW_HANGS
)

RICH_P2P = """\
import pytest
import counter


def test_doubles_in_order():
    assert counter.run_all([1, 2, 3]) == [2, 4, 6]


def test_empty():
    assert counter.run_all([]) == []


def test_slow_is_quick():
    counter.slow()


def test_prints_markup():
    print('<b>printed & "quoted"</b> \\x1b[31mred\\x1b[0m')
    assert True


@pytest.mark.xfail(reason="a known bug, on every implementation")
def test_known_bug():
    assert counter.run_all([1]) == [3]
"""

HOSTILE_TRAJECTORY = """\
# Refactor notes

Use a **bounded** pool.

<script>window.__pwned = true</script>

<img src="x" onerror="window.__pwned = true">

[click](javascript:window.__pwned=true) and ![remote](https://example.invalid/pixel.png)

| step | result |
|------|--------|
| pool | bounded |
"""

# What the template-only reader must count in the rich grade (xfailed counts as passed, a timeout as failed).
RICH_COUNTS = {
    "before": {"total": 6, "passed": 5, "failed": 1},
    "after": {"total": 6, "passed": 4, "failed": 2},
    "candidate": {"total": 6, "passed": 5, "failed": 1},
}


def make_rich_task(root: Path) -> tuple[Path, Path]:
    """The rich task, and a lazy candidate (sequential: its FAIL_TO_PASS test fails)."""
    task = make_task(
        root / "rich",
        before=SEQUENTIAL + SLOW_OK,
        after=BROKEN_AFTER,
        p2p=RICH_P2P,
        # Well above the F2P test's 1.5 s barrier, so that a loaded machine cannot turn its failure into a timeout.
        test_timeout=4,
        extra={"trajectory/001_refactor.md": HOSTILE_TRAJECTORY},
    )
    candidate = root / "candidate"
    write_files(candidate, {"counter.py": SEQUENTIAL + SLOW_OK})
    return task, candidate


def synthetic_results(
    tests: int = 10,
    *,
    failing_every: int = 0,
    message: str = "E   assert 1 == 2\ntests/test_f2p.py:3: AssertionError",
    nodeid: str = "tests/test_{suite}.py::test_{index}",
    probes: bool = True,
    extras: bool = False,
):
    """A Results model built by hand (no runs): `tests` tests on before and after, half of them FAIL_TO_PASS.

    F2P tests fail on before and pass on after; every `failing_every`-th test also fails on after.
    With `extras`, the results also carry metrics, findings, isolation layers and repeats.
    """
    from concgrade.results.model import ImplementationResult, Results, TestResult, summarize

    suites = {"PASS_TO_PASS": [], "FAIL_TO_PASS": []}
    per_impl = {"before": [], "after": []}
    for index in range(tests):
        suite = "FAIL_TO_PASS" if index % 2 == 0 else "PASS_TO_PASS"
        node = nodeid.format(suite="f2p" if suite == "FAIL_TO_PASS" else "p2p", index=index)
        suites[suite].append(node)
        for name in ("before", "after"):
            fails = (name == "before" and suite == "FAIL_TO_PASS") or (
                name == "after" and failing_every and index % failing_every == 0
            )
            peak = 1 if name == "before" else 4
            timeline = [(i * 0.001, min(i + 1, peak)) for i in range(peak)] + [(0.01, 0)]
            figures = [{"label": "m.work", "kind": "threads", "max_active": peak, "calls": 4, "timeline": timeline}]
            result = TestResult(
                nodeid=node,
                name=node.rsplit("::", 1)[-1],
                suite=suite,
                outcome="failed" if fails else "passed",
                passed=not fails,
                duration=0.01,
                message=message if fails else "",
                stdout="",
                stderr="",
                probes=figures if probes else [],
            )
            if extras and index == 1 and name == "after":
                result.repeats = ["passed", "failed", "passed"]
            per_impl[name].append(result)
    implementations = {
        name: ImplementationResult(
            name=name,
            role=name,
            folder=f"/task/repository_{name}",
            toggle_env={"PYTHONPATH": f"repository_{name}"},
            command=["python", "-m", "pytest"],
            exit_code=1,
            timed_out=False,
            finished=True,
            duration_seconds=1.0,
            imports=[],
            problems=[],
            collect_errors=[],
            summary=summarize(results),
            tests=results,
            metrics={"lines": 10 if name == "before" else 14} if extras else None,
        )
        for name, results in per_impl.items()
    }
    results = Results(
        run_id="synthetic",
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
        duration_seconds=1.0,
        task={"name": "synthetic", "root": "/task"},
        environment={"python_version": "3.11", "platform": "test", "isolation": {}},
        implementations=implementations,
        suites=suites,
        checks=[{"id": "runs.started", "status": "pass", "message": "2 ran", "implementation": None, "tests": []}],
        verdict="rejected" if failing_every else "accepted",
        exit_code=1 if failing_every else 0,
        timings={},
    )
    if extras:
        implementations["after"].findings = [
            {"id": "CG101", "severity": "warning", "message": "unbounded queue", "path": "m.py", "line": 12}
        ]
        results.environment["isolation"] = {"pid_namespace": "bwrap", "cgroup": False}
        results = dataclasses.replace(
            results,
            metrics_delta={"before→after": {"lines": {"before": 10, "after": 14, "delta": 4}}},
            lint=[{"id": "CL040", "severity": "error", "message": "shadowing module", "path": "tests/m.py"}],
            trajectory=[{"path": "trajectory/notes.md", "text": "# Notes\n\n*fine*", "truncated": False}],
            diffs=[
                {
                    "from": "before",
                    "to": "after",
                    "files": [
                        {
                            "path": "m.py",
                            "status": "modified",
                            "added": 1,
                            "removed": 1,
                            "diff": "--- before/m.py\n+++ after/m.py\n@@ -1 +1 @@\n-old\n+new\n",
                            "truncated": False,
                        }
                    ],
                    "unchanged": [],
                }
            ],
            reproduce={"argv": ["concgrade", "--task", "t"], "cwd": "/", "shell": "cd / && concgrade --task t"},
        )
    return results
