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
