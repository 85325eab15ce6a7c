"""From what a pytest process left (streamed records, the JSON report, its exit) to per-test outcomes (pure).

The streamed records are the primary channel: pytest-json-report records a test interrupted by
KeyboardInterrupt as passed, and writes nothing when the process dies, so its outcomes are only
ever used to cross-check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

# Outcomes that count as a pass (the SWE-bench convention); everything else is not a pass.
PASSING = frozenset({"passed", "xfailed"})

# What pytest-json-report calls each of our outcomes, for the cross-check.
JSON_REPORT_EQUIVALENT = {
    "passed": {"passed"},
    "failed": {"failed"},
    "timeout": {"failed"},
    "error": {"error", "failed"},
    "skipped": {"skipped"},
    "xfailed": {"xfailed"},
    "xpassed": {"xpassed", "failed"},
}


@dataclass
class TestObservation:
    __test__ = False  # not a pytest test class
    nodeid: str
    outcome: str  # passed failed error skipped xfailed xpassed timeout interrupted crashed missing inconsistent
    duration: float = 0.0
    message: str = ""
    stdout: str = ""
    stderr: str = ""
    probes: list[dict[str, Any]] = field(default_factory=list)
    # Over repeated runs (see repeats.py): how many ran, how many passed, each one's outcome.
    runs: int = 1
    passes: int = -1
    outcomes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.passes < 0:
            self.passes = int(self.passed)
        if not self.outcomes:
            self.outcomes = [self.outcome]

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING


@dataclass
class ImportProof:
    module: str
    file: str
    sha256: str
    expected: bool  # imported from the folder of the implementation this run asked for
    content_matches: bool  # the file's hash is the hash of that implementation's source


@dataclass
class RunObservation:
    name: str
    role: str
    exit_code: int | None
    timed_out: bool
    duration: float
    started: bool  # the plugin ran: the process got as far as configuring pytest
    finished: bool  # the session ended normally (a missing session end means the process died)
    collected: list[str]
    collect_errors: list[dict[str, str]]
    tests: dict[str, TestObservation]
    imports: list[ImportProof]
    problems: list[str]  # disagreements between the channels, and other signs that the run is not trustworthy
    command: list[str]
    toggle_env: dict[str, str]
    stdout_tail: str
    stderr_tail: str
    repeat: int = 0
    stress: dict[str, Any] | None = None  # the stress mode's seed and figures, if the run was stressed
    repeats: list[dict[str, Any]] = field(default_factory=list)  # one summary per repeat (see repeats.py)


def observe_run(output: Any) -> RunObservation:
    """Derive per-test outcomes from a RunOutput (see runner.py)."""
    records = output.records
    phases = _phases_by_test(records)
    collected = next((r.get("nodeids", []) for r in records if r.get("type") == "collected"), [])
    finish = next((r for r in records if r.get("type") == "session_finish"), None)
    started = any(r.get("type") == "session_start" for r in records)
    tests = {}
    for nodeid in _ordered_ids(collected, phases):
        tests[nodeid] = _observe_test(nodeid, phases.get(nodeid, {}), finish is not None, output.timed_out)
    for record in records:
        if record.get("type") == "probe" and record.get("nodeid") in tests:
            tests[record["nodeid"]].probes.append(record.get("figures", {}))
    problems = _cross_check(tests, output.json_report, finish, output.exit_code)
    return RunObservation(
        name=output.name,
        role=output.role,
        exit_code=output.exit_code,
        timed_out=output.timed_out,
        duration=output.duration,
        started=started,
        finished=finish is not None,
        collected=list(collected),
        collect_errors=[
            {"nodeid": r.get("nodeid", ""), "message": r.get("longrepr", "")}
            for r in records
            if r.get("type") == "collect_error"
        ],
        tests=tests,
        imports=_import_proofs(records, output.expected_folder, output.expected_hashes),
        problems=problems,
        command=output.command,
        toggle_env=output.toggle_env,
        stdout_tail=output.stdout_tail,
        stderr_tail=output.stderr_tail,
        repeat=getattr(output, "repeat", 0),
        stress=next(
            (
                r["stress"]
                for r in reversed(records)
                if r.get("type") in ("session_start", "session_finish") and r.get("stress")
            ),
            None,
        ),
    )


def _phases_by_test(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    phases: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        if record.get("type") == "phase":
            phases.setdefault(record.get("nodeid", ""), {})[record.get("when", "")] = record
    return phases


def _ordered_ids(collected: list[str], phases: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*collected, *phases]))


def _observe_test(nodeid: str, phases: dict[str, dict[str, Any]], finished: bool, timed_out: bool) -> TestObservation:
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    duration = sum(float(p.get("duration", 0.0)) for p in phases.values())
    message = "\n".join(p.get("longrepr", "") for p in (setup, call, teardown) if p and p.get("longrepr"))
    stdout = "".join(p.get("capstdout", "") for p in (setup, call, teardown) if p)
    stderr = "".join(p.get("capstderr", "") for p in (setup, call, teardown) if p)
    outcome = _outcome(setup, call, teardown, finished, timed_out)
    if outcome in ("crashed", "interrupted", "missing") and not message:
        message = {
            "crashed": "the test process died during this test",
            "interrupted": "the test started but never finished its call phase (KeyboardInterrupt or exit)",
            "missing": "collected but never run (the session ended or died before it)",
        }[outcome]
        if timed_out:
            message += "; the run hit its wall-clock limit"
    return TestObservation(nodeid, outcome, round(duration, 6), message, stdout, stderr)


def _outcome(
    setup: dict[str, Any] | None,
    call: dict[str, Any] | None,
    teardown: dict[str, Any] | None,
    finished: bool,
    timed_out: bool,
) -> str:
    if setup is None:
        return "missing"
    if setup["outcome"] == "failed":
        return "error"
    if setup["outcome"] == "skipped":
        return "xfailed" if "wasxfail" in setup else "skipped"
    if call is None:
        # Set up but never called: the process died in the test, or an interrupt ended the session.
        return "interrupted" if finished else ("timeout" if timed_out else "crashed")
    outcome = _call_outcome(call)
    if teardown is None and not finished:
        return "timeout" if timed_out else "crashed"
    if teardown is not None and teardown["outcome"] == "failed" and outcome in PASSING:
        return "error"
    return outcome


def _call_outcome(call: dict[str, Any]) -> str:
    xfail = "wasxfail" in call
    if call["outcome"] == "passed":
        return "xpassed" if xfail else "passed"
    if call["outcome"] == "skipped":
        return "xfailed" if xfail else "skipped"
    if "Failed: Timeout" in call.get("longrepr", ""):  # pytest-timeout's signal method
        return "timeout"
    return "failed"


def _cross_check(
    tests: dict[str, TestObservation],
    json_report: dict[str, Any] | None,
    finish: dict[str, Any] | None,
    exit_code: int | None,
) -> list[str]:
    """Compare the streamed records with the JSON report and the exit status; mark what disagrees."""
    problems = []
    if json_report is not None:
        reported = {t.get("nodeid"): t.get("outcome") for t in json_report.get("tests", []) if isinstance(t, dict)}
        for nodeid, test in tests.items():
            other = reported.get(nodeid)
            if other is None or test.outcome in ("interrupted", "crashed", "missing"):
                continue  # the JSON report is known to be wrong or silent about these
            if other not in JSON_REPORT_EQUIVALENT.get(test.outcome, {test.outcome}):
                problems.append(f"{nodeid}: streamed outcome {test.outcome!r} but the JSON report says {other!r}")
                test.message = f"channels disagree: {test.outcome} vs {other}\n{test.message}"
                test.outcome = "inconsistent"
        for nodeid in sorted(set(reported) - set(tests)):
            problems.append(f"{nodeid}: in the JSON report but never streamed")
    if finish is not None and exit_code is not None:
        any_failure = any(not t.passed and t.outcome not in ("skipped", "xpassed") for t in tests.values())
        if exit_code == 0 and any_failure:
            problems.append("pytest exited 0 although tests failed")
        if exit_code != int(finish.get("exitstatus", exit_code)):
            problems.append(
                f"pytest's session ended with status {finish.get('exitstatus')} but the process exited {exit_code}"
            )
    return problems


def _import_proofs(
    records: list[dict[str, Any]], expected_folder: str, expected_hashes: dict[str, str]
) -> list[ImportProof]:
    proofs = []
    for record in records:
        if record.get("type") != "implementation":
            continue
        file = str(record.get("file", ""))
        inside = file.startswith(expected_folder.rstrip(os.sep) + os.sep)
        relative = file[len(expected_folder) + 1 :] if inside else ""
        proofs.append(
            ImportProof(
                module=str(record.get("module", "")),
                file=file,
                sha256=str(record.get("sha256", "")),
                expected=inside,
                content_matches=inside and expected_hashes.get(relative) == record.get("sha256"),
            )
        )
    return proofs
