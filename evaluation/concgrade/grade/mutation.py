"""Mutation analysis of a task's suites (pure): which test killed each mutant first, the score, and the gate.

Input is plain data, so that any runner can feed it: for each mutant, the outcome of each test in the order
the tests ran (True passed, False failed, None not run), plus the mutants whose run could not start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from concgrade.grade.checks import F2P, NAMES_SHOWN, P2P, Check

KILLED = "killed"
KILLED_UNDER_STRESS = "killed_under_stress"
SURVIVED = "survived"
NOT_APPLICABLE = "not_applicable"  # an operator that made no mutant of the implementation
ERROR = "error"

Outcomes = Mapping[str, Mapping[str, bool | None]]  # mutant id -> node id -> passed, in the order tests ran


@dataclass(frozen=True)
class MutantResult:
    mutant: str
    operator: str
    status: str  # killed, killed_under_stress, survived or error
    killed_by: str | None = None  # the first suite test that failed, in the order the tests ran
    suite: str | None = None  # the suite of that test
    failing: tuple[str, ...] = ()  # every suite test that failed on the mutant
    reason: str | None = None  # why the status is error


@dataclass(frozen=True)
class OperatorResult:
    operator: str
    status: str  # killed (every mutant), survived (at least one), error, or not_applicable (no mutant)
    mutants: int
    killed: int
    survivors: tuple[str, ...]  # ids of the mutants that survived


@dataclass(frozen=True)
class KillMatrix:
    mutants: tuple[MutantResult, ...]
    operators: tuple[OperatorResult, ...]

    @property
    def killed(self) -> int:
        return sum(1 for m in self.mutants if m.status in (KILLED, KILLED_UNDER_STRESS))

    @property
    def applicable(self) -> int:
        """Mutants whose runs answered: killed or survived (a run that could not start answers nothing)."""
        return sum(1 for m in self.mutants if m.status != ERROR)

    @property
    def score(self) -> float | None:
        """Killed ÷ applicable; None when no mutant could be judged."""
        return self.killed / self.applicable if self.applicable else None

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        return tuple(m for m in self.mutants if m.status == SURVIVED)

    def result(self, mutant: str) -> MutantResult:
        return next(m for m in self.mutants if m.mutant == mutant)


def kill_matrix(
    mutants: Mapping[str, str],
    outcomes: Outcomes,
    suites: Mapping[str, Sequence[str]],
    operators: Sequence[str] = (),
    errors: Mapping[str, str] | None = None,
    stress: Outcomes | None = None,
) -> KillMatrix:
    """Judge every mutant (id -> operator id) by its runs against the suites (suite -> node ids).

    A mutant is killed by the first suite test that failed on it; it survives when every suite test ran and
    passed; `stress` holds the reruns of plain survivors under stress, which may kill them there. Tests outside
    the suites do not count. `operators` lists every operator considered, so that one without mutants shows as
    not applicable (never as killed).
    """
    suite_of = {nodeid: suite for suite in (P2P, F2P) for nodeid in suites.get(suite, ())}
    results = []
    for mutant, operator in mutants.items():
        result = _judge(mutant, operator, outcomes.get(mutant), suite_of, (errors or {}).get(mutant))
        if result.status == SURVIVED and stress is not None and mutant in stress:
            stressed = _judge(mutant, operator, stress[mutant], suite_of, None)
            if stressed.status == KILLED:
                result = MutantResult(
                    mutant, operator, KILLED_UNDER_STRESS, stressed.killed_by, stressed.suite, stressed.failing
                )
        results.append(result)
    listed = list(dict.fromkeys([*operators, *mutants.values()]))
    return KillMatrix(tuple(results), tuple(_operator_result(op, results) for op in listed))


def _judge(
    mutant: str,
    operator: str,
    ran: Mapping[str, bool | None] | None,
    suite_of: Mapping[str, str],
    error: str | None,
) -> MutantResult:
    if error is not None:
        return MutantResult(mutant, operator, ERROR, reason=error)
    if ran is None:
        return MutantResult(mutant, operator, ERROR, reason="no run of this mutant was recorded")
    failing = tuple(nodeid for nodeid, passed in ran.items() if nodeid in suite_of and passed is False)
    if failing:
        first = failing[0]
        return MutantResult(mutant, operator, KILLED, first, suite_of[first], failing)
    not_run = [nodeid for nodeid in suite_of if ran.get(nodeid) is not True]
    if not_run:
        reason = f"{len(not_run)} suite tests did not run and none failed: {_listed(not_run)}"
        return MutantResult(mutant, operator, ERROR, reason=reason)
    return MutantResult(mutant, operator, SURVIVED)


def _operator_result(operator: str, results: Sequence[MutantResult]) -> OperatorResult:
    own = [r for r in results if r.operator == operator]
    killed = sum(1 for r in own if r.status in (KILLED, KILLED_UNDER_STRESS))
    survivors = tuple(r.mutant for r in own if r.status == SURVIVED)
    if not own:
        status = NOT_APPLICABLE
    elif survivors:
        status = SURVIVED
    elif killed < len(own):
        status = ERROR
    else:
        status = KILLED
    return OperatorResult(operator, status, len(own), killed, survivors)


def kill_order(tests: Sequence[str], outcomes: Iterable[Mapping[str, bool | None]]) -> list[str]:
    """The tests reordered for the next run: those that failed on the most mutants first, ties as before.

    Run first, a test that kills often stops most mutant runs early (at their first failure).
    """
    kills = dict.fromkeys(tests, 0)
    for ran in outcomes:
        for nodeid, passed in ran.items():
            if passed is False and nodeid in kills:
                kills[nodeid] += 1
    position = {nodeid: index for index, nodeid in enumerate(tests)}
    return sorted(kills, key=lambda nodeid: (-kills[nodeid], position[nodeid]))


def mutation_checks(
    matrix: KillMatrix,
    min_score: float | None = None,
    required: Sequence[str] = (),
    descriptions: Mapping[str, str] | None = None,
) -> list[Check]:
    """The failing gate checks `suite.kills.<operator>`: an operator the manifest requires with a survivor
    (or a mutant whose run failed), and, while the score is below `min_score`, every operator with a survivor.

    `descriptions` (mutant id -> "file:line what it does") make the messages name the survivors' changes.
    """
    described = descriptions or {}
    score = matrix.score
    below = min_score is not None and score is not None and score < min_score
    checks = []
    for op in matrix.operators:
        check_id = f"suite.kills.{op.operator}"
        if op.survivors and (op.operator in required or below):
            shown = _listed([f"{m} ({described[m]})" if m in described else m for m in op.survivors])
            why = "a required operator" if op.operator in required else f"score {score:.2f} < min_score {min_score}"
            message = f"{len(op.survivors)} of {op.mutants} {op.operator} mutants survive the suites ({why}): {shown}"
            checks.append(Check(check_id, "fail", message))
        elif op.status == ERROR and op.operator in required:
            failed = [r for r in matrix.mutants if r.operator == op.operator and r.status == ERROR]
            shown = _listed([f"{r.mutant}: {r.reason}" for r in failed])
            checks.append(
                Check(
                    check_id,
                    "error",
                    f"{len(failed)} of {op.mutants} {op.operator} mutants could not be judged: {shown}",
                )
            )
    return checks


def mutation_gate(
    matrix: KillMatrix,
    min_score: float | None = None,
    required: Sequence[str] = (),
    descriptions: Mapping[str, str] | None = None,
) -> list[Check]:
    """The gate a task declares in [mutants]: the failing `suite.kills.<operator>` checks, else one passing
    `suite.kills` check that says what was asked and met; nothing when the task declares no gate. A declared
    min_score with no mutant judged is an error: the gate could not be evaluated."""
    if min_score is None and not required:
        return []
    failing = mutation_checks(matrix, min_score, required, descriptions)
    if failing:
        return failing
    if min_score is not None and matrix.score is None:
        return [Check("suite.kills", "error", "min_score is declared but no mutant could be judged")]
    asked = []
    if min_score is not None:
        asked.append(f"score {matrix.score:.2f} >= min_score {min_score:g}")
    if required:
        asked.append(f"every mutant of {', '.join(op.split('-', 1)[0] for op in required)} killed or not applicable")
    return [Check("suite.kills", "pass", f"{matrix.killed} of {matrix.applicable} mutants killed: {'; '.join(asked)}")]


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")
