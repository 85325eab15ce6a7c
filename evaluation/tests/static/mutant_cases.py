"""One case per mutation operator: a small module it mutates (and the exact mutant), one it leaves alone,
and a tiny task's two suites for that module: a strong one that kills the mutant and a weak one it survives.

The suites run as real pytest processes in test_mutant_fixtures.py. Each case's module has its own name, so
that the originals of every case can run in one process. Waits in the suites are bounded: a wait for
something that must happen gives up after DEADLINE seconds; a claim that something never happens is watched
for SETTLE seconds, and the mutants show it within milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

DEADLINE = 5.0
SETTLE = 1.0


@dataclass(frozen=True)
class Case:
    operator: str  # the full operator id
    module: str  # the implementation module of the tiny task (unique across cases)
    source: str  # the module, which the operator mutates exactly once
    expected: str  # that mutant's text, exactly
    not_applicable: str  # a module the operator leaves alone
    strong: str  # a test file that passes on `source` and fails on the mutant
    weak: str  # a test file that passes on both

    @property
    def code(self) -> str:
        return self.operator.split("-", 1)[0]


def _cases() -> list[Case]:
    from mutant_cases_bounds import CASES as bounds
    from mutant_cases_errors import CASES as errors
    from mutant_cases_lifecycle import CASES as lifecycle
    from mutant_cases_locks import CASES as locks
    from mutant_cases_ordering import CASES as ordering
    from mutant_cases_sequential import CASES as sequential
    from mutant_cases_sharing import CASES as sharing
    from mutant_cases_streaming import CASES as streaming

    return [*sequential, *bounds, *sharing, *streaming, *locks, *errors, *ordering, *lifecycle]


CASES: dict[str, Case] = {case.operator: case for case in _cases()}
