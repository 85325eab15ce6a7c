"""Grading: ordered checks from observations to a verdict (pure functions, no I/O).

Checks run in a fixed order, each with a stable id, so that the first failing one explains the
verdict; a skipped, missing, errored, interrupted or crashed test is never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from concgrade.grade.outcomes import RunObservation
from concgrade.task.model import F2P, P2P, entry_matches

ACCEPTED, REJECTED, ERROR = "accepted", "rejected", "error"
EXIT_CODES = {ACCEPTED: 0, REJECTED: 1, ERROR: 2}

# The outcome of a test whose repeats disagree: never a pass, and never the expected failure either.
FLAKY: Literal["flaky"] = "flaky"

# How many test names a check message lists before it says "and N more".
NAMES_SHOWN = 5


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


def infer_suites(before: RunObservation, collected: Iterable[str]) -> dict[str, list[str]]:
    """Without declared suites: what passes on before is PASS_TO_PASS, everything else FAIL_TO_PASS."""
    p2p: list[str] = []
    f2p: list[str] = []
    for nodeid in dict.fromkeys(collected):
        test = before.tests.get(nodeid)
        (p2p if test is not None and test.passed else f2p).append(nodeid)
    return {P2P: p2p, F2P: f2p}


def verdict_of(checks: Sequence[Check]) -> str:
    if any(check.status == "error" for check in checks):
        return ERROR
    if any(check.status == "fail" for check in checks):
        return REJECTED
    return ACCEPTED


def check_runs_started(runs: Sequence[RunObservation]) -> Check:
    dead = [run for run in runs if not run.started]
    if dead:
        names = ", ".join(f"{run.name} (exit {run.exit_code})" for run in dead)
        detail = (dead[0].stderr_tail or dead[0].stdout_tail).strip().splitlines()[-1:] or [""]
        return Check("runs.started", "error", f"pytest did not start for {names}: {detail[0]}")
    # Every process counts: each repeat (--repeat, --gate) and each rerun after a crash is one.
    counts = {run.name: max(1, len(run.attempts)) for run in runs}
    per_implementation = ", ".join(f"{name} {count}" for name, count in counts.items())
    return Check("runs.started", "pass", f"{sum(counts.values())} pytest processes ran ({per_implementation})")


def check_suites_ran(
    entries: dict[str, list[str]],
    suites: dict[str, list[str]],
    runs: Sequence[RunObservation],
    inferred: bool,
    keyword: str | None = None,
) -> Check:
    """Every suite entry matched a collected test, and every implementation collected tests.

    Under `-k` (a partial grade) entries the expression left out are expected, and the message says so.
    """
    problems = []
    if not inferred and keyword is None:
        for suite, names in entries.items():
            unmatched = [e for e in names if not any(entry_matches(e, n) for n in suites[suite])]
            if unmatched:
                problems.append(f"{suite} entries that match no collected test: {list_names(unmatched)}")
    for run in runs:
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
    lines = [
        line for line in (run.stdout_tail + "\n" + run.stderr_tail).splitlines() if line.startswith("INTERNALERROR>")
    ]
    if lines:
        return f" (pytest internal error: {lines[-1].removeprefix('INTERNALERROR>').strip()})"
    return ""


def check_f2p_nonempty(suites: dict[str, list[str]]) -> Check:
    if not suites[F2P]:
        return Check("suites.f2p_nonempty", "fail", "FAIL_TO_PASS is empty: nothing in this task grades the refactor")
    return Check("suites.f2p_nonempty", "pass", f"{len(suites[F2P])} FAIL_TO_PASS tests")


def check_runs_consistent(runs: Sequence[RunObservation]) -> Check:
    problems = [f"{run.name}: {problem}" for run in runs for problem in run.problems]
    if problems:
        return Check("runs.consistent", "fail", "the result channels disagree (tampering?): " + list_names(problems))
    return Check("runs.consistent", "pass", "streamed records, JSON report and exit status agree")


def check_implementation_proved(run: RunObservation) -> Check:
    """The run imported the implementation it asked for, from the right folder, with the right content."""
    check_id = f"implementation.proved.{run.name}"
    if not run.started:
        return Check(check_id, "error", f"{run.name}: the run did not start", run.name)
    if not run.imports:
        return Check(check_id, "fail", f"{run.name}: the tests never imported the implementation", run.name)
    wrong = [proof for proof in run.imports if not proof.expected]
    if wrong:
        where = ", ".join(f"{p.module} from {p.file}" for p in wrong)
        return Check(check_id, "fail", f"{run.name}: imported the wrong implementation: {where}", run.name)
    changed = [proof for proof in run.imports if not proof.content_matches]
    if changed:
        where = ", ".join(proof.module for proof in changed)
        return Check(check_id, "fail", f"{run.name}: the imported {where} is not the graded source", run.name)
    modules = ", ".join(sorted({proof.module for proof in run.imports}))
    return Check(check_id, "pass", f"{run.name}: imported {modules} from its own folder", run.name)


def check_repeats_agree(run: RunObservation) -> Check:
    """Every repeat of an implementation gave each test the same pass or fail: a flaky test rejects."""
    check_id = f"repeats.agree_on_{run.name}"
    flaky = [test for test in run.tests.values() if test.outcome == FLAKY]
    if flaky:
        listed = list_names([f"{test.nodeid} (passed {test.passes} of {test.runs})" for test in flaky])
        message = f"{len(flaky)} tests changed outcome between repeats on {run.name} (flaky): {listed}"
        return Check(check_id, "fail", message, run.name, tuple(test.nodeid for test in flaky))
    return Check(check_id, "pass", f"{len(run.repeats)} repeats on {run.name} agree on every test", run.name)


def expectation_checks(run: RunObservation, suites: dict[str, list[str]]) -> list[Check]:
    """before: FAIL_TO_PASS fails and PASS_TO_PASS passes; after (and a candidate): both pass."""
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
        if passed != want_pass or (test is not None and test.outcome == FLAKY):
            wrong.append(nodeid)
    if wrong:
        outcomes = {nodeid: (run.tests[nodeid].outcome if nodeid in run.tests else "missing") for nodeid in wrong}
        listed = list_names([f"{nodeid} ({outcome})" for nodeid, outcome in outcomes.items()])
        expectation = "pass" if want_pass else "fail"
        message = f"{len(wrong)} of {len(nodeids)} {suite} tests do not {expectation} on {run.name}: {listed}"
        return Check(check_id, "fail", message, run.name, tuple(wrong))
    expectation = "pass" if want_pass else "fail"
    return Check(check_id, "pass", f"all {len(nodeids)} {suite} tests {expectation} on {run.name}", run.name)


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


def list_names(items: Sequence[str]) -> str:
    """The first few items, then how many more: check messages stay one readable line."""
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")
