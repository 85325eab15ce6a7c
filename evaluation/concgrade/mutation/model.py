"""The mutation phase's part of the results model (`results.mutants`), and the settings that shape the phase.

Fields of `results.mutants` (JSON-ready; times in seconds), documented for readers in docs/results.md:

- `status`: "ran", or "skipped" with `reason` (e.g. the after fails its own suites, so no mutant can be judged).
- `requested_by`: "flag" (--mutants, `concgrade mutants`) or "manifest" (the gate, where [mutants] is declared).
- `score` (killed ÷ applicable, null when nothing could be judged), `killed`, `killed_under_stress`, `survived`,
  `errors`, `applicable`, `total`.
- `mutants[]`: one per mutant (survivors first, then in the order they were made): {"id", "operator",
  "file", "line", "description", "requirement", "status" (killed, killed_under_stress, survived, error),
  "killed_by", "suite", "reason", "diff", "tests" ({node id: outcome} in the order the tests ran; tests not run
  are absent), "seconds", "cached", "stress" (the rerun of a plain survivor under stress: {"seed", "status",
  "killed_by", "tests", "seconds", "cached"}, else null)}.
- `operators[]`: one per operator considered, applicable or not: {"id", "description", "requirement",
  "status" (killed, survived, error, not_applicable), "mutants", "killed", "survivors"}.
- `tests`: the suite tests in the order the last mutant runs used (most kills first); `kills`: {node id: how many
  mutants it killed first}.
- `settings`: {"test_timeout", "timeout_rule", "first_failure", "stress", "stress_seed", "jobs", "policy"
  ({"operators", "min_score", "required", "max_mutants"})}; `cache`: {"dir", "enabled", "hits", "misses"};
  `seconds`; `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MutantsMode = Literal["on", "off", "auto"]  # --mutants, --no-mutants, or: the gate, where [mutants] is declared
RAN, SKIPPED = "ran", "skipped"


@dataclass(frozen=True)
class MutationSettings:
    """What the command line asks of the mutation phase."""

    mode: MutantsMode = "off"
    full_matrix: bool = False  # run every suite test on every mutant instead of stopping at the first failure
    test_timeout: float | None = None  # per-test timeout of mutant runs; None: derived from the after's tests
    stress: bool = True  # rerun the plain survivors under stress (seeded)

    def key(self) -> dict[str, Any]:
        return {"mode": self.mode, "full_matrix": self.full_matrix, "test_timeout": self.test_timeout}


@dataclass
class StressRun:
    seed: int
    status: str  # killed, survived or error
    killed_by: str | None
    tests: dict[str, str]
    seconds: float
    cached: bool = False


@dataclass
class MutantRecord:
    id: str
    operator: str
    file: str
    line: int
    description: str
    requirement: str
    status: str
    killed_by: str | None
    suite: str | None
    reason: str | None
    diff: str
    tests: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    stress: StressRun | None = None


@dataclass
class OperatorRecord:
    id: str
    description: str
    requirement: str
    status: str
    mutants: int
    killed: int
    survivors: list[str] = field(default_factory=list)


@dataclass
class MutationResults:
    status: str
    requested_by: str
    reason: str | None = None
    score: float | None = None
    killed: int = 0
    killed_under_stress: int = 0
    survived: int = 0
    errors: int = 0
    applicable: int = 0
    total: int = 0
    mutants: list[MutantRecord] = field(default_factory=list)
    operators: list[OperatorRecord] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def survivors(self) -> list[MutantRecord]:
        return [m for m in self.mutants if m.status == "survived"]
