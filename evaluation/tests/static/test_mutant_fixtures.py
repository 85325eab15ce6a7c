"""Every operator against real suites: in a tiny task, the strong suite kills its mutant, the weak one lets it
survive, and both pass on the original (real pytest processes; see mutant_task.py)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from mutant_cases import CASES, Case
from mutant_task import materialize, run_tests, strong_file, weak_file, write_task

from concgrade.grade.checks import F2P
from concgrade.grade.mutation import KILLED, SURVIVED, kill_matrix
from concgrade.static.mutants import Mutant, find_operator, generate_mutants

pytestmark = pytest.mark.slow

ORIGINAL_RUNS = 4  # the originals' tests split over this many processes; together they wait about 15 s


def only_mutant(case: Case) -> Mutant:
    (mutant,) = generate_mutants({f"{case.module}.py": case.source}, [find_operator(case.operator)])
    return mutant


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Future[dict[str, bool | None]]]:
    """Every run at once (they mostly wait on their own deadlines): the originals, then each case's mutant
    with the weak suite first, since a strong test may leave a mutant stuck for the tests after it."""
    root = tmp_path_factory.mktemp("tiny")
    cases = list(CASES.values())
    task = write_task(root / "task", cases)
    after = task / "repository_after"
    jobs: dict[str, Future[dict[str, bool | None]]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for index in range(ORIGINAL_RUNS):
            files = [f for case in cases[index::ORIGINAL_RUNS] for f in (strong_file(case), weak_file(case))]
            jobs[f"original-{index}"] = pool.submit(run_tests, task, after, files, f"original-{index}")
        for case in cases:
            folder = materialize(after, only_mutant(case).files(), root / f"mutant-{case.code}")
            files = [weak_file(case), strong_file(case)]
            jobs[case.operator] = pool.submit(run_tests, task, folder, files, case.code)
    return jobs


def original_outcomes(runs: dict[str, Future[dict[str, bool | None]]]) -> dict[str, bool | None]:
    return {nodeid: passed for i in range(ORIGINAL_RUNS) for nodeid, passed in runs[f"original-{i}"].result().items()}


def test_every_suite_passes_on_the_original(runs):
    outcomes = original_outcomes(runs)
    assert len(outcomes) == 2 * len(CASES)
    assert [nodeid for nodeid, passed in outcomes.items() if passed is not True] == []


@pytest.mark.parametrize("operator", sorted(CASES))
def test_the_strong_suite_kills_the_mutant_and_the_weak_suite_lets_it_survive(runs, operator):
    case = CASES[operator]
    ran = runs[operator].result()
    strong = [nodeid for nodeid in ran if nodeid.startswith(strong_file(case))]
    weak = [nodeid for nodeid in ran if nodeid.startswith(weak_file(case))]
    assert strong and weak, ran
    assert all(original_outcomes(runs)[nodeid] for nodeid in strong + weak)  # a kill is the mutant's doing
    killing = kill_matrix({"mutant": operator}, {"mutant": ran}, {F2P: strong}).mutants[0]
    surviving = kill_matrix({"mutant": operator}, {"mutant": ran}, {F2P: weak}).mutants[0]
    assert (killing.status, killing.killed_by) == (KILLED, strong[0])
    assert surviving.status == SURVIVED
