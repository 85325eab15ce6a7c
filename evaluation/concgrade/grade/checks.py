"""Grading: ordered checks from observations to a verdict (pure functions, no I/O).

Checks run in a fixed order, each with a stable id, so that the first failing one explains the
verdict; a skipped, missing, errored, interrupted or crashed test is never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from concgrade.findings import Finding
from concgrade.grade.outcomes import PASSING, RunObservation, pytest_internal_error
from concgrade.task.model import F2P, P2P, entry_matches

ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
EXIT_CODES = {ACCEPTED: 0, REJECTED: 1, ERROR: 2}

# The outcome of a test whose repeats disagree: never a pass, and never the expected failure either.
FLAKY: Literal["flaky"] = "flaky"

# Outcomes on before that show a test failing there (pytest's xfail is a pass in SWE-bench's convention).
FAILS_ON_BEFORE = frozenset(
    {"failed", "error", "timeout", "crashed", "interrupted", "missing", "inconsistent", "flaky"}
)

# How many test names a check message lists before it says "and N more".
NAMES_SHOWN = 5

# What the before run is (see before_mode): an ordinary run, a folder with no code, or a run that cannot
# reach before at all (nothing in the task selects it and the tests read only the after folder).
RAN, NOTHING_TO_IMPORT, NOT_SELECTABLE = "ran", "nothing to import", "not selectable"
NOT_SELECTABLE_REASON = (
    "before cannot be selected: nothing in the task selects an implementation and the tests read only "
    "another implementation's files"
)


@dataclass(frozen=True)
class Check:
    id: str
    status: str  # "pass", "fail" or "error" (the check could not be evaluated)
    message: str
    implementation: str | None = None
    tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grade:
    checks: tuple[Check, ...]
    verdict: str
    suites: dict[str, list[str]]  # suite -> the collected node ids that belong to it
    suites_inferred: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    before: str = RAN  # what the before run was: RAN, NOTHING_TO_IMPORT or NOT_SELECTABLE

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def failing(self) -> list[Check]:
        return [check for check in self.checks if check.status != "pass"]


def assign_suites(entries: dict[str, list[str]], collected: Iterable[str]) -> dict[str, list[str]]:
    """The collected node ids of each suite; a test named by both suites belongs to FAIL_TO_PASS."""
    collected = list(dict.fromkeys(collected))
    f2p = [n for n in collected if any(entry_matches(e, n) for e in entries.get(F2P, []))]
    p2p = [n for n in collected if n not in f2p and any(entry_matches(e, n) for e in entries.get(P2P, []))]
    return {P2P: p2p, F2P: f2p}


def infer_suites(
    before: RunObservation,
    collected: Iterable[str],
    before_mode: str = RAN,
    others: Sequence[RunObservation] = (),
    before_runs_other_tests: bool = False,
) -> dict[str, list[str]]:
    """Without declared suites: what passes on before is PASS_TO_PASS, what fails there FAIL_TO_PASS.

    A test that was not collected on before (a collection error, a before with no code) failed there. One
    skipped, xfailed-by-skip or xpassed on before shows nothing about before: it is in neither suite, unless
    it fails on after (then it is listed with FAIL_TO_PASS, whose check names it). A before that cannot be
    selected counts as failing every test.

    `before_runs_other_tests`: the task's documented command for before runs other tests than after's. A test
    only after's command runs is absent on before by design, so its absence is evidence only when what before's
    own command ran shows before failing; where all of that passes (or xfails), it is in neither suite. A test
    only before's command runs (its baseline file) is absent on after by design: it is in neither suite either.
    """
    p2p: list[str] = []
    f2p: list[str] = []
    absent_fails = not before_runs_other_tests or shows_a_failure(before)
    elsewhere = {nodeid for run in others for nodeid in run.collected}
    for nodeid in dict.fromkeys(collected):
        if before_runs_other_tests and others and nodeid not in elsewhere:
            continue
        test = before.tests.get(nodeid)
        outcome = test.outcome if test is not None else "missing"
        if test is None and before_mode != NOT_SELECTABLE and not absent_fails:
            continue
        if before_mode == NOT_SELECTABLE or outcome in FAILS_ON_BEFORE:
            f2p.append(nodeid)
        elif outcome in PASSING:
            p2p.append(nodeid)
        elif any(_fails(run, nodeid) for run in others):
            f2p.append(nodeid)
    return {P2P: p2p, F2P: f2p}


def shows_a_failure(run: RunObservation) -> bool:
    """The run shows its implementation failing: a test that failed there, a collection error, or nothing run."""
    if run.collect_errors or not run.tests:
        return True
    return any(test.outcome in FAILS_ON_BEFORE for test in run.tests.values())


def _fails(run: RunObservation, nodeid: str) -> bool:
    test = run.tests.get(nodeid)
    return test is None or (not test.passed and test.outcome != "skipped")


def verdict_of(checks: Sequence[Check]) -> str:
    if any(check.status == "error" for check in checks):
        return ERROR
    if any(check.status == "fail" for check in checks):
        return REJECTED
    return ACCEPTED


def check_runs_started(runs: Sequence[RunObservation]) -> Check:
    """Every run got as far as pytest's configuration.

    When the task's own files stop pytest (a conftest that fails to import or uses a hook argument the task's
    pytest no longer has), that is the task's answer, not an outage: on before it is a before that fails, on
    after it rejects the task. Anything else that stops a run (the interpreter, the harness) is an error.
    """
    dead = [run for run in runs if not run.started]
    ours = [run for run in dead if not stopped_by_task(run)]
    if ours:
        names = ", ".join(f"{run.name} (exit {run.exit_code})" for run in ours)
        return Check("runs.started", "error", f"pytest did not start for {names}: {last_words(ours[0])}")
    broken = [run for run in dead if run.role != "before"]
    if broken:
        names = ", ".join(run.name for run in broken)
        message = f"pytest could not start on {names} because of the task's own files: {last_words(broken[0])}"
        return Check("runs.started", "fail", message)
    # Every process counts: each repeat (--repeat, --gate) and each rerun after a crash is one.
    counts = {run.name: max(1, len(run.attempts)) for run in runs}
    ran = f"{sum(counts.values())} pytest processes ran ({', '.join(f'{name} {n}' for name, n in counts.items())})"
    if dead:
        return Check(
            "runs.started", "pass", f"{ran}; on before the task's own files stopped pytest: {last_words(dead[0])}"
        )
    return Check("runs.started", "pass", ran)


# The harness's own pytest options: pytest refusing one of them is the harness's environment, not the task.
HARNESS_OPTIONS = ("--json-report", "--timeout", "--concgrade-")


def stopped_by_task(run: RunObservation) -> bool:
    """Whether pytest, once started by the boot, gave up because of the task's own files (a conftest that fails
    to load, a hook argument the task's pytest no longer has, a bad option in its ini file): pytest exited
    with an error before its configuration was done, and what failed was not the harness's own code or options."""
    if run.started or run.exit_code in (None, 0):
        return False
    text = run.stdout_tail + "\n" + run.stderr_tail
    if harness_failed(text):
        return False
    names_the_task = bool(run.task_copy) and run.task_copy + "/" in text
    return run.booted or names_the_task  # without the boot's word, only a traceback into the task's files


def harness_failed(text: str) -> bool:
    """pytest refused an option of the harness, or the innermost frame of the traceback is the harness's code."""
    lines = text.splitlines()
    if any("unrecognized arguments" in line and any(o in line for o in HARNESS_OPTIONS) for line in lines):
        return True
    frames = [line for line in lines if line.strip().startswith('File "') or line.startswith("INTERNALERROR>   File")]
    return bool(frames) and "/concgrade/inside/" in frames[-1]


def last_words(run: RunObservation) -> str:
    """The line of pytest's output that says why it stopped: the exception raised, else an error line, else the last."""
    lines = [line.strip() for line in (run.stderr_tail + "\n" + run.stdout_tail).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^(E\s+)?[\w.]+(Error|Exception|Warning|Exit)\b:", line)]
    telling = raised or [line for line in lines if "Error" in line or "error:" in line]
    chosen = (telling or lines or [""])[-1]
    return chosen.replace(run.task_copy + "/", "") if run.task_copy else chosen


def check_suites_ran(
    entries: dict[str, list[str]],
    suites: dict[str, list[str]],
    runs: Sequence[RunObservation],
    inferred: bool,
    keyword: str | None = None,
) -> Check:
    """Every suite entry matched a collected test, and after (and a candidate) collected without errors.

    Under `-k` (a partial grade) entries the expression left out are expected, and the message says so.
    """
    problems = []
    if not inferred and keyword is None:
        for suite, names in entries.items():
            unmatched = [e for e in names if not any(entry_matches(e, n) for n in suites[suite])]
            if unmatched:
                problems.append(f"{suite} entries that match no collected test: {list_names(unmatched)}")
    for run in runs:
        if run.role == "before":
            continue  # a test that does not even collect on before fails there: that is FAIL_TO_PASS evidence
        if run.started and not run.collected:
            problems.append(f"no test was collected on {run.name}{why_nothing_collected(run)}")
        for error in run.collect_errors:
            last = (error.get("message") or "").strip().splitlines()[-1:] or ["?"]
            reason = last[0].removeprefix("E ").strip()  # pytest's `E   ` marks the exception line
            problems.append(f"collection error on {run.name} in {error.get('nodeid') or 'the session'}: {reason}")
    if problems:
        return Check("suites.ran", "fail", "; ".join(problems))
    counts = ", ".join(f"{len(ids)} {suite}" for suite, ids in suites.items())
    if keyword is not None:
        return Check("suites.ran", "pass", f"the tests -k {keyword!r} selects ran on every implementation ({counts})")
    return Check("suites.ran", "pass", f"every suite ran on every implementation ({counts})")


def why_nothing_collected(run: RunObservation) -> str:
    """pytest's own last word when collection itself blew up (e.g. SystemExit raised while importing)."""
    crash = pytest_internal_error(run.stdout_tail, run.stderr_tail)
    return f" (pytest internal error: {crash})" if crash else ""


def check_f2p_nonempty(suites: dict[str, list[str]], why: str = "") -> Check:
    if not suites[F2P]:
        message = "FAIL_TO_PASS is empty: nothing in this task grades the refactor"
        return Check("suites.f2p_nonempty", "fail", message + (f" ({why})" if why else ""))
    return Check("suites.f2p_nonempty", "pass", f"{len(suites[F2P])} FAIL_TO_PASS tests")


def check_runs_consistent(runs: Sequence[RunObservation]) -> Check:
    problems = [f"{run.name}: {problem}" for run in runs for problem in run.problems]
    if problems:
        return Check("runs.consistent", "fail", "the result channels disagree (tampering?): " + list_names(problems))
    return Check("runs.consistent", "pass", "streamed records, JSON report and exit status agree")


def check_implementation_proved(run: RunObservation, before_mode: str = RAN) -> Check:
    """The run read its own implementation (imported, loaded by path, or read as data), with the right content.

    A run may also read another implementation on purpose (equivalence and performance tests import both):
    that is recorded, not held against it. It fails when a module the toggle selects came from another
    implementation's folder, when it read only another implementation, and (after, a candidate) when it read
    nothing of its own; a before with no code has nothing to import.
    """
    check_id = f"implementation.proved.{run.name}"
    if not run.started:
        if not stopped_by_task(run):
            return Check(check_id, "error", f"{run.name}: the run did not start", run.name)
        if run.role == "before":
            return Check(
                check_id, "pass", f"{run.name}: the task's files stopped pytest (counted as failing)", run.name
            )
        return Check(check_id, "fail", f"{run.name}: the task's files stopped pytest before any test ran", run.name)
    if run.role == "before" and before_mode == NOT_SELECTABLE:
        message = f"{run.name}: {NOT_SELECTABLE_REASON}; every test counts as failing on {run.name}"
        return Check(check_id, "pass", message, run.name)
    wrong = [proof for proof in run.imports if not proof.expected]
    if wrong:
        where = ", ".join(f"{p.module} from {p.file}" for p in wrong)
        return Check(check_id, "fail", f"{run.name}: imported the wrong implementation: {where}", run.name)
    own = [load for load in run.loads if load.folder == "own"]
    other = [load for load in run.loads if load.folder == "other"]
    changed = [p.module for p in run.imports if not p.content_matches]
    changed += [load.file for load in own if not load.content_matches and load.file.endswith(".py")]
    if changed:
        where = ", ".join(dict.fromkeys(changed))
        return Check(check_id, "fail", f"{run.name}: the imported {where} is not the graded source", run.name)
    if not own and not run.imports:
        if other:
            listed = list_names([load.file for load in other])
            message = f"{run.name}: read only another implementation's files ({listed}), nothing of its own"
            if run.role == "before" and not any(test.passed for test in run.tests.values()):
                # Nothing passed on before, so nothing it passed came from the other's code (pytest collecting
                # a package of the other folder from the root reads it, too).
                return Check(check_id, "pass", f"{message}; no test passed there", run.name)
            return Check(check_id, "fail", message, run.name)
        if run.role == "before":
            why = "before has no code: nothing to import" if before_mode == NOTHING_TO_IMPORT else "read nothing"
            return Check(check_id, "pass", f"{run.name}: {why}", run.name)
        return Check(check_id, "fail", f"{run.name}: the tests never imported or read the implementation", run.name)
    names = sorted({p.module for p in run.imports} | {load.file for load in own})
    message = f"{run.name}: read its own {list_names(names)}"
    if other:
        message += f"; also read another implementation on purpose: {list_names([load.file for load in other])}"
    return Check(check_id, "pass", message, run.name)


def check_repeats_agree(run: RunObservation) -> Check:
    """Every repeat of an implementation gave each test the same pass or fail: a flaky test rejects."""
    check_id = f"repeats.agree_on_{run.name}"
    flaky = [test for test in run.tests.values() if test.outcome == FLAKY]
    if flaky:
        listed = list_names([f"{test.nodeid} (passed {test.passes} of {test.runs})" for test in flaky])
        message = f"{len(flaky)} tests changed outcome between repeats on {run.name} (flaky): {listed}"
        return Check(check_id, "fail", message, run.name, tuple(test.nodeid for test in flaky))
    return Check(check_id, "pass", f"{len(run.repeats)} repeats on {run.name} agree on every test", run.name)


def expectation_checks(run: RunObservation, suites: dict[str, list[str]], before_mode: str = RAN) -> list[Check]:
    """before: FAIL_TO_PASS fails and PASS_TO_PASS passes; after (and a candidate): both pass."""
    if run.role == "before" and before_mode == NOT_SELECTABLE:
        why = f"{NOT_SELECTABLE_REASON}: counted as failing every test"
        return [
            Check("f2p.fails_on_before", "pass", why, run.name),
            Check("p2p.passes_on_before", "pass", f"{why}; PASS_TO_PASS is not checked on before", run.name),
        ]
    if run.role == "before":
        return [
            _suite_check(run, suites[F2P], F2P, want_pass=False),
            _suite_check(run, suites[P2P], P2P, want_pass=True),
        ]
    return [
        _suite_check(run, suites[P2P], P2P, want_pass=True),
        _suite_check(run, suites[F2P], F2P, want_pass=True),
    ]


def _suite_check(run: RunObservation, nodeids: list[str], suite: str, want_pass: bool) -> Check:
    short = "f2p" if suite == F2P else "p2p"
    verb = "passes" if want_pass else "fails"
    check_id = f"{short}.{verb}_on_{run.name}"
    wrong = []
    for nodeid in nodeids:
        test = run.tests.get(nodeid)
        passed = test is not None and test.passed
        if not want_pass and test is not None:
            passed = test.outcome in ("passed", "xpassed")  # an xfail on before did not pass; an xpass did
        if passed != want_pass or (test is not None and test.outcome == FLAKY):
            wrong.append(nodeid)
    if wrong:
        outcomes = {nodeid: (run.tests[nodeid].outcome if nodeid in run.tests else "missing") for nodeid in wrong}
        listed = list_names([f"{nodeid} ({outcome})" for nodeid, outcome in outcomes.items()])
        expectation = "pass" if want_pass else "fail"
        message = f"{len(wrong)} of {len(nodeids)} {suite} tests do not {expectation} on {run.name}: {listed}"
        return Check(check_id, "fail", message, run.name, tuple(wrong))
    expectation = "pass" if want_pass else "fail"
    message = f"all {len(nodeids)} {suite} tests {expectation} on {run.name}"
    if not want_pass and (run.collect_errors or not run.started):
        message += f" ({collection_problem(run)})"
    return Check(check_id, "pass", message, run.name)


def collection_problem(run: RunObservation) -> str:
    """Why tests did not even run on before: it stopped pytest, or a test file failed to import."""
    if not run.started:
        return f"pytest did not start: {last_words(run)}"
    error = run.collect_errors[0]
    last = (error.get("message") or "").strip().splitlines()[-1:] or ["?"]
    more = f" and {len(run.collect_errors) - 1} more" if len(run.collect_errors) > 1 else ""
    return f"collection error in {error.get('nodeid') or 'the session'}: {last[0]}{more}"


def check_task_lint(findings: Sequence[dict[str, object]]) -> Check:
    """Error-level findings of `concgrade check` reject a task: broken in ways a test run does not show."""
    errors = [f for f in findings if f.get("severity") == "error" and not f.get("fixed")]
    if errors:
        listed = list_names([f"{f['id']} {f.get('path') or ''}: {f['message']}" for f in errors])
        return Check("task.lint", "fail", f"{len(errors)} lint error(s): {listed}")
    return Check("task.lint", "pass", f"no lint error ({len(findings)} warnings or notes)")


def check_constraints_met(name: str, violations: Sequence[dict[str, object]]) -> Check:
    """The manifest's constraints (e.g. standard library only, forbidden constructs) hold on an implementation."""
    check_id = f"constraints.{name}"
    if violations:
        listed = list_names([f"{v['id']}: {v['message']}" for v in violations])
        return Check(check_id, "fail", f"{name} breaks the manifest's constraints: {listed}", name)
    return Check(check_id, "pass", f"{name} meets the manifest's constraints", name)


def check_test_aware(name: str, findings: Sequence[Finding]) -> Check:
    """The implementation does not look for signs of being tested (static/testaware.py): `<name>.test_aware`."""
    check_id = f"{name}.test_aware"
    if findings:
        listed = list_names([f"{f.path}:{f.line} {f.id} {f.message}" for f in findings])
        return Check(check_id, "fail", f"{name} looks for signs of being tested or graded: {listed}", name)
    return Check(check_id, "pass", f"{name} does not look for the test runner, the harness or its probes", name)


def list_names(items: Sequence[str]) -> str:
    """The first few items, then how many more: check messages stay one readable line."""
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")
