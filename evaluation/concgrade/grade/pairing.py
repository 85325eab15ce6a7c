"""Node ids of runs that select their tests by file or `-k`, rewritten to one paired form so runs compare (pure)."""

from __future__ import annotations

from dataclasses import replace

from concgrade.grade.outcomes import RunObservation
from concgrade.task.selection import canonical_nodeid, tokens_by_role
from concgrade.task.toggle import Toggle


def canonical_run(run: RunObservation, toggle: Toggle) -> RunObservation:
    """The run with its node ids in the paired form (unchanged unless the toggle is a selection)."""
    words = tokens_by_role(toggle).get(run.role, [])
    if not words:
        return run
    tests = {}
    for nodeid, test in run.tests.items():
        paired = canonical_nodeid(nodeid, words)
        tests[paired] = replace(test, nodeid=paired)
    return replace(run, collected=[canonical_nodeid(n, words) for n in run.collected], tests=tests)


def align_parametrized(runs: list[RunObservation], toggle: Toggle) -> list[RunObservation]:
    """`-k before` and `-k after` each selecting one case of a parametrized test whose ids differ beyond the
    word (`[{impl}-False]` and `[{impl}-True]`): the cases of one test are paired by their position, after's
    ids naming both."""
    if toggle.kind != "selection":
        return runs
    reference = next((run for run in runs if run.name == "after"), None)
    if reference is None:
        return runs
    cases = _cases_by_test(reference.collected)
    aligned = []
    for run in runs:
        mapping: dict[str, str] = {}
        if run is not reference:
            for test, ids in _cases_by_test(run.collected).items():
                others = cases.get(test, [])
                if len(ids) == len(others) and not set(ids) & set(others):
                    mapping.update(zip(ids, others, strict=True))
        aligned.append(_renamed(run, mapping) if mapping else run)
    return aligned


def _cases_by_test(nodeids: list[str]) -> dict[str, list[str]]:
    """The parametrized ids of each test function (`t.py::test_x[a]` under `t.py::test_x`), in run order."""
    found: dict[str, list[str]] = {}
    for nodeid in nodeids:
        if nodeid.endswith("]") and "[" in nodeid:
            found.setdefault(nodeid[: nodeid.index("[")], []).append(nodeid)
    return found


def _renamed(run: RunObservation, mapping: dict[str, str]) -> RunObservation:
    tests = {}
    for nodeid, test in run.tests.items():
        new = mapping.get(nodeid, nodeid)
        tests[new] = replace(test, nodeid=new)
    return replace(run, collected=[mapping.get(n, n) for n in run.collected], tests=tests)
