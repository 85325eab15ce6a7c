"""How a test outcome is decided: from what a pytest process left (streamed records, the JSON report, its exit) (pure).

The streamed records are the primary channel: pytest-json-report records a test interrupted by
KeyboardInterrupt as passed, and writes nothing when the process dies, so its outcomes are only
ever used to cross-check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from concgrade.inside import protocol
from concgrade.run.outputs import AttemptOutput, RunOutput

# What concgrade says happened to one test (more than pytest's three words: see _outcome).
Outcome = Literal[
    "passed",
    "failed",
    "error",
    "skipped",
    "xfailed",
    "xpassed",
    "timeout",
    "interrupted",
    "crashed",
    "missing",
    "inconsistent",
    "flaky",
]

# Outcomes that count as a pass (the SWE-bench convention); everything else is not a pass.
PASSING = frozenset({"passed", "xfailed"})

# What pytest-json-report calls each of our outcomes, for the cross-check.
# What pytest-json-report may call each outcome. It calls a test "error" whenever a setup or teardown failed, even
# after its call failed or timed out (a test that timed out often leaves its teardown failing too).
JSON_REPORT_EQUIVALENT = {
    "passed": {"passed"},
    "failed": {"failed", "error"},
    "timeout": {"failed", "error"},
    "error": {"error", "failed"},
    "skipped": {"skipped"},
    "xfailed": {"xfailed"},
    "xpassed": {"xpassed", "failed"},
}


@dataclass
class TestObservation:
    __test__ = False  # not a pytest test class
    nodeid: str
    outcome: Outcome
    duration: float = 0.0
    message: str = ""
    stdout: str = ""
    stderr: str = ""
    probes: list[dict[str, Any]] = field(default_factory=list)
    # Over repeated runs (see repeats.py): how many ran, how many passed, each one's outcome.
    runs: int = 1
    passes: int = -1
    outcomes: list[Outcome] = field(default_factory=list)

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
class FileLoad:
    """A file of an implementation folder that the run read (imported, loaded by path, or read as data)."""

    file: str  # relative to its implementation folder
    folder: str  # "own" (the run's implementation) or "other" (another implementation in the scratch copy)
    process: str  # "test" (the pytest process, signed channel) or "child" (an interpreter the tests started)
    sha256: str
    content_matches: bool  # own files only: the content is that of the graded implementation


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
    attempts: list[dict[str, Any]] = field(default_factory=list)  # one summary per pytest process of the run
    limit_breaches: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)  # processes that did not exit after their session ended
    hook_files: list[str] = field(default_factory=list)
    contained: list[str] = field(default_factory=list)  # what the audit hook denied or saw the implementation do
    stopped: str = ""  # why tests were not run (the same limit breached again and again)
    repeat: int = 0
    stress: dict[str, Any] | None = None  # the stress mode's seed and figures, if the run was stressed
    repeats: list[dict[str, Any]] = field(default_factory=list)  # one summary per repeat (see repeats.py)
    loads: list[FileLoad] = field(default_factory=list)  # what the run read of each implementation folder
    notes: list[str] = field(default_factory=list)  # what a reader should know and that decides nothing
    task_copy: str = ""  # where the run's scratch copy of the task was (to tell the task's files in its output)
    booted: bool = False  # the boot handed over to pytest (so what stopped it was pytest's or the task's)
    pytest_version: str = ""


def observe_run(output: RunOutput) -> RunObservation:
    """Derive per-test outcomes from a run's output, merging the tests of all its attempts."""
    attempts = output.attempts
    tests: dict[str, TestObservation] = {}
    collected: list[str] = []
    problems: list[str] = []
    notes: list[str] = []
    finish = None
    for attempt in attempts:
        records = attempt.records
        phases = _phases_by_test(records)
        collected_record = protocol.first_of(records, "collected")
        attempt_collected = list(collected_record.get("nodeids", [])) if collected_record else []
        collected = collected or attempt_collected
        finish = protocol.first_of(records, "session_finish")
        attempt_tests = {}
        for nodeid in _ordered_ids(attempt_collected, phases):
            test = _observe_test(nodeid, phases.get(nodeid, {}), finish is not None, attempt.timed_out)
            attempt_tests[nodeid] = explain(test, attempt)
        problems += [
            f"{'process ' + str(attempt.index + 1) + ': ' if len(attempts) > 1 else ''}{p}"
            for p in _duplicate_phases(records)
        ]
        for record in protocol.of_type(records, "probe"):
            if record.get("nodeid") in attempt_tests:
                attempt_tests[record["nodeid"]].probes.append(record.get("figures", {}))
        label = f"process {attempt.index + 1}: " if len(attempts) > 1 else ""
        with_subtests = frozenset(n for n, test_phases in phases.items() if "has_subtests" in test_phases)
        final = protocol.first_of(records, "session_exit")
        final_status = int(final["exitstatus"]) if final is not None else None
        problems += [label + p for p in _cross_check(attempt_tests, attempt, finish, with_subtests, final_status)]
        notes += [label + n for n in exit_status_notes(finish, final_status)]
        if (
            finish is not None
            and attempt_collected
            and finish.get("testscollected") not in (None, len(attempt_collected))
        ):
            problems.append(
                f"{label}pytest counted {finish['testscollected']} collected tests "
                f"but {len(attempt_collected)} were streamed"
            )
        for nodeid, test in attempt_tests.items():
            if nodeid not in tests or tests[nodeid].outcome == "missing":
                tests[nodeid] = test
            elif attempt.slow_retry is not None and tests[nodeid].outcome == "timeout":
                notes.append(_slow_retry_note(nodeid, attempt.slow_retry, test))
                tests[nodeid] = test
    if output.stopped:
        for test in tests.values():
            if test.outcome == "missing":
                test.message = output.stopped
    excused = _hangs_of_slow_tests(attempts, tests)
    notes += [_excused_hang_note(index) for index in sorted(excused)]
    records = output.records
    return RunObservation(
        name=output.name,
        role=output.role,
        exit_code=output.exit_code,
        timed_out=output.timed_out,
        duration=output.duration,
        started=protocol.first_of(records, "session_start") is not None,
        finished=finish is not None,
        collected=list(collected),
        collect_errors=[
            {"nodeid": r.get("nodeid", ""), "message": r.get("longrepr", "")}
            for r in protocol.of_type(records, "collect_error")
        ],
        tests=tests,
        imports=_import_proofs(records, output.expected_folder, output.expected_hashes),
        loads=file_loads(output),
        notes=_unique(notes),
        task_copy=output.task_copy,
        booted=protocol.first_of(records, "booted") is not None,
        pytest_version=str((protocol.first_of(records, "booted") or {}).get("pytest", "")),
        problems=problems,
        command=output.command,
        toggle_env=output.toggle_env,
        stdout_tail=output.stdout_tail,
        stderr_tail=output.stderr_tail,
        attempts=[_attempt_summary(attempt) for attempt in attempts],
        limit_breaches=_unique(b for attempt in attempts for b in attempt.limit_breaches),
        tampering=_tampering(attempts, output.expected_folder),
        changed_files=_unique(f for attempt in attempts for f in attempt.changed_files),
        leftovers=_unique(p for attempt in attempts for p in attempt.leftovers),
        hangs=[
            _hang(attempt)
            for attempt in attempts
            if attempt.ended_by == "hung_after_session" and attempt.index not in excused
        ],
        hook_files=list(output.hook_files),
        contained=_contained(records),
        stopped=output.stopped,
        repeat=output.repeat,
        stress=next(
            (
                r["stress"]
                for r in reversed(records)
                if r.get("type") in ("session_start", "session_finish") and r.get("stress")
            ),
            None,
        ),
    )


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


DEADLOCK = "deadlock suspected"


def explain(test: TestObservation, attempt: AttemptOutput) -> TestObservation:
    """Say why a test timed out or took its process down, with the evidence: stacks, exit status, limits."""
    stacks, breaches = attempt.stacks, attempt.limit_breaches
    if test.outcome in ("crashed", "timeout") and attempt.ended_by == "deadlock":
        test.outcome = "timeout"
        test.message = (
            f"{DEADLOCK}: deadlock: every thread of the process waited without a timeout (on locks, conditions, "
            f"queues or joins) and no CPU was used, so nothing could ever wake them; concgrade ended the process. "
            f"Stacks:\n{stacks or '(none: the process did not answer)'}"
        )
    elif test.outcome == "timeout" and protocol.PYTEST_TIMEOUT_MARK in test.message:
        test.message = f"{DEADLOCK}: the test outlived its timeout (pytest-timeout); stacks below\n{test.message}"
    elif test.outcome == "crashed" and stacks.startswith("Timeout ("):
        test.outcome = "timeout"
        test.message = (
            f"{DEADLOCK}: the test outlived twice its timeout without returning to Python "
            f"(a C loop holding the GIL, an ignored alarm, or a swallowed exception); "
            f"faulthandler ended the process. Stacks:\n{stacks}"
        )
    elif test.outcome == "timeout":
        test.message = (
            f"{DEADLOCK}: the process outlived its wall clock while in this test and was killed. "
            f"Stacks:\n{stacks or '(none: the process did not answer)'}"
        )
    elif test.outcome == "crashed":
        why = "; ".join(breaches) if breaches else attempt.exit_description
        test.message = f"the test process died during this test: {why}"
    elif test.outcome == "interrupted" and (crash := pytest_internal_error(attempt.stdout_tail, attempt.stderr_tail)):
        test.message = f"pytest itself crashed in this test, which ended its session: {crash}"
    return test


def pytest_internal_error(*outputs: str) -> str:
    """The last line of pytest's INTERNALERROR traceback in a process's output, or "" when pytest did not crash."""
    lines = [line for output in outputs for line in output.splitlines() if line.startswith("INTERNALERROR>")]
    return lines[-1].removeprefix("INTERNALERROR>").strip() if lines else ""


def _attempt_summary(attempt: AttemptOutput) -> dict[str, Any]:
    ran = protocol.started_nodeids(attempt.records)
    return {
        "index": attempt.index,
        "tests_requested": len(attempt.node_ids) if attempt.node_ids else None,
        "tests_started": len(ran),
        "exit_code": attempt.exit_code,
        "exit": attempt.exit_description,
        "ended_by": attempt.ended_by,
        "duration": round(attempt.duration, 3),
        "stacks": attempt.stacks,
    }


def _slow_retry_note(nodeid: str, timeout: float, test: TestObservation) -> str:
    return (
        f"{nodeid} outlived the default per-test timeout and ran again alone with {timeout:g} s: "
        f"{test.outcome} in {test.duration:.1f} s"
    )


def _hangs_of_slow_tests(attempts: list[AttemptOutput], tests: dict[str, TestObservation]) -> set[int]:
    """Processes that hung after their session because a default timeout stopped a test that, run again alone
    with more time, passed: its threads were still working, so the hang is the timeout's doing, not the code's."""
    cleared = {
        nodeid
        for attempt in attempts
        if attempt.slow_retry is not None
        for nodeid in attempt.node_ids
        if nodeid in tests and tests[nodeid].outcome in PASSING
    }
    return {
        attempt.index
        for attempt in attempts
        if attempt.ended_by == "hung_after_session"
        and attempt.slow_retry is None
        and cleared.intersection(protocol.timed_out_nodeids(attempt.records))
    }


def _excused_hang_note(index: int) -> str:
    return (
        f"process {index + 1} did not exit after its session: the threads of a test the default timeout "
        "stopped (it passed when run again with more time) were still running"
    )


def _hang(attempt: AttemptOutput) -> str:
    """The finding; the stacks are in the attempt's summary."""
    return (
        f"process {attempt.index + 1} did not exit after its session finished (deadlocked non-daemon threads?) "
        "and was killed; its stacks are with the run's processes"
    )


def _contained(records: list[dict[str, Any]]) -> list[str]:
    """The audit hook's findings: what the implementation did (or tried) that a graded run may not, and where."""
    found = []
    for record in protocol.of_type(records, "audit"):
        verb = "denied" if record.get("denied") else "seen"
        test = f" during {record['nodeid']}" if record.get("nodeid") else ""
        found.append(f"{record.get('what', record.get('event', '?'))} at {record.get('where', '?')} ({verb}{test})")
    return _unique(found)


def _duplicate_phases(records: list[dict[str, Any]]) -> list[str]:
    """A phase of a test reported twice: the plugin writes each exactly once (a subtest's reports apart, which
    carry their context), so one of them is not its own."""
    seen: set[tuple[str, str]] = set()
    found = []
    for record in protocol.of_type(records, "phase"):
        if "subtest" in record:
            continue
        key = (str(record.get("nodeid", "")), str(record.get("when", "")))
        if key in seen:
            found.append(f"{key[0]}: its {key[1]} phase was reported more than once")
        seen.add(key)
    return _unique(found)[:20]


def _tampering(attempts: list[AttemptOutput], expected_folder: str) -> list[str]:
    """Signs that the code under test interfered with the runner, its hooks or the records channel."""
    found = []
    folder = expected_folder.rstrip(os.sep) + os.sep
    for attempt in attempts:
        for record in attempt.records:
            if record.get("type") == "tamper":
                source = f" (from {record['source']})" if record.get("source") else ""
                found.append(f"{record.get('what', '?')}{source}")
            elif record.get("type") == "hookimpl" and str(record.get("source", "")).startswith(folder):
                found.append(f"the implementation registered a {record.get('hook')} hook ({record.get('source')})")
        forged = attempt.forged_lines
        if forged:
            found.append(f"{len(forged)} forged line(s) on the records channel, e.g. {forged[0][:80]!r}")
    return _unique(found)


def _phases_by_test(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each test's setup, call and teardown records; a failed subtest is kept as the phase `subtest`."""
    phases: dict[str, dict[str, dict[str, Any]]] = {}
    for record in protocol.of_type(records, "phase"):
        test = phases.setdefault(record.get("nodeid", ""), {})
        if "subtest" in record:
            if record.get("outcome") == "failed" and "subtest" not in test:
                test["subtest"] = record
            test.setdefault("has_subtests", record)
            continue
        test[record.get("when", "")] = record
    return phases


def _ordered_ids(collected: list[str], phases: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*collected, *phases]))


def _observe_test(nodeid: str, phases: dict[str, dict[str, Any]], finished: bool, timed_out: bool) -> TestObservation:
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    duration = sum(float(phases[when].get("duration", 0.0)) for when in ("setup", "call", "teardown") if when in phases)
    message = "\n".join(p.get("longrepr", "") for p in (setup, call, teardown) if p and p.get("longrepr"))
    # pytest's report of each phase carries the output captured in all phases so far: the last one has it all.
    last = next((p for p in (teardown, call, setup) if p), {})
    stdout, stderr = last.get("capstdout", ""), last.get("capstderr", "")
    outcome = _outcome(setup, call, teardown, finished, timed_out)
    failed_subtest = phases.get("subtest")
    if failed_subtest is not None and outcome in PASSING:
        # A unittest subTest that failed leaves the test's own report passed (pytest 9): the test failed.
        outcome = "failed"
        message = f"subtest {failed_subtest.get('subtest', '')} failed\n{failed_subtest.get('longrepr', '')}"
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
) -> Outcome:
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


def _call_outcome(call: dict[str, Any]) -> Outcome:
    xfail = "wasxfail" in call
    if call["outcome"] == "passed":
        return "xpassed" if xfail else "passed"
    if call["outcome"] == "skipped":
        return "xfailed" if xfail else "skipped"
    if protocol.PYTEST_TIMEOUT_MARK in call.get("longrepr", ""):
        return "timeout"
    return "failed"


def _cross_check(
    tests: dict[str, TestObservation],
    attempt: AttemptOutput,
    finish: dict[str, Any] | None,
    with_subtests: frozenset[str] = frozenset(),
    final_status: int | None = None,
) -> list[str]:
    """Compare the streamed records with the JSON report and the exit status, both ways; mark what disagrees.

    A session that finished must have left a usable report: a missing, unreadable or malformed one is itself
    a disagreement, never a reason to skip the comparison.
    """
    json_report, exit_code = attempt.json_report, attempt.exit_code
    problems = []
    if json_report is None and finish is not None and attempt.ended_by == "exit" and exit_code is not None:
        why = attempt.json_report_problem or "missing"
        problems.append(f"the session finished but its JSON report is unusable: {why}")
    if json_report is not None:
        reported = {t.get("nodeid"): t.get("outcome") for t in json_report.get("tests", []) if isinstance(t, dict)}
        blanked = _blank_statuses(attempt.records)
        for nodeid, test in tests.items():
            other = reported.get(nodeid)
            if other is None or test.outcome in ("interrupted", "crashed", "missing"):
                continue  # the JSON report is known to be wrong or silent about these
            if other == "passed" and nodeid in blanked:
                continue  # the task's own hook gave no status category: pytest-json-report kept its default
            if str(other).startswith("subtests ") and nodeid in with_subtests:
                continue  # pytest-json-report does not understand subtests ("subtests passed" for a failed one)
            if other not in JSON_REPORT_EQUIVALENT.get(test.outcome, {test.outcome}):
                problems.append(f"{nodeid}: streamed outcome {test.outcome!r} but the JSON report says {other!r}")
                test.message = f"channels disagree: {test.outcome} vs {other}\n{test.message}"
                test.outcome = "inconsistent"
        for nodeid in sorted({str(n) for n in reported} - set(tests)):
            problems.append(f"{nodeid}: in the JSON report but never streamed")
    if finish is not None and exit_code is not None:
        # pytest's own status comes from the reports it counted; hooks of the task may change what it returns
        # (a conftest setting `session.exitstatus = 0`), which the per-test outcomes make irrelevant.
        own = int(finish.get("exitstatus", exit_code))
        any_failure = any(not t.passed and t.outcome not in ("skipped", "xpassed") for t in tests.values())
        if own == 0 and any_failure:
            problems.append("pytest's session ended with status 0 although tests failed")
        if own == 1 and tests and not any_failure and not _collection_failed(attempt.records):
            problems.append("pytest exited 1 (tests failed) although every streamed test passed")
        left = final_status if final_status is not None else own
        if exit_code != left:
            problems.append(f"pytest returned status {left} but the process exited {exit_code}")
    return problems


def _blank_statuses(records: list[dict[str, Any]]) -> set[str]:
    """The tests with a phase that did not pass but that `pytest_report_teststatus` gave no category (a task's
    conftest quieting the terminal): pytest-json-report's outcome comes from that category, so it says passed.
    The hook of an implementation is tampering of its own (inside/guard.py), never the reason for this."""
    return {str(r.get("nodeid", "")) for r in protocol.of_type(records, "phase") if r.get("blank_status") is True}


def _collection_failed(records: list[dict[str, Any]]) -> bool:
    return protocol.first_of(records, "collect_error") is not None


def exit_status_notes(finish: dict[str, Any] | None, final_status: int | None) -> list[str]:
    """A task's hook that changed the exit status pytest returns: said, and graded by the per-test outcomes."""
    if finish is None or final_status is None or final_status == int(finish.get("exitstatus", final_status)):
        return []
    return [
        f"the task's hooks changed pytest's exit status from {finish.get('exitstatus')} to {final_status}: "
        "the grade uses the per-test outcomes"
    ]


def _import_proofs(
    records: list[dict[str, Any]], expected_folder: str, expected_hashes: dict[str, str]
) -> list[ImportProof]:
    proofs = []
    for record in protocol.of_type(records, "implementation"):
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


def file_loads(output: RunOutput) -> list[FileLoad]:
    """Files of the implementation folders the run read, from the test process's records and its children's files."""
    found: dict[tuple[str, str], FileLoad] = {}
    reads = [
        (str(r.get("file", "")), str(r.get("sha256", "")), "test") for r in protocol.of_type(output.records, "loaded")
    ]
    reads += [(file, digest, "child") for attempt in output.attempts for file, digest in attempt.child_loads]
    folders = [("own", output.expected_folder), *(("other", folder) for folder in output.other_folders)]
    for file, digest, process in reads:
        for kind, folder in folders:
            prefix = folder.rstrip(os.sep) + os.sep
            if file.startswith(prefix):
                relative = file[len(prefix) :] or "./"  # "./": the folder itself (a child started with it)
                matches = kind == "own" and output.expected_hashes.get(relative) == digest
                found.setdefault((kind, relative), FileLoad(relative, kind, process, digest, matches))
                break
    return list(found.values())
