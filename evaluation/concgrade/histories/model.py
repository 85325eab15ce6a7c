"""What the histories phase found, as plain data for results.json and the reports (built by phase.py, read by all)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# What one recorded run came to.
LINEARIZABLE, VIOLATION, UNDECIDED = "linearizable", "violation", "undecided"
FAILED = "failed"  # the recording itself failed: crashed, timed out, broke a limit, or was tampered with
UNAVAILABLE = "model_unavailable"  # the sequential model could not answer: nothing was decided


@dataclass
class HistoryRun:
    """One recorded run of one implementation, and its verdict."""

    seed: int
    outcome: str  # LINEARIZABLE, VIOLATION, UNDECIDED, FAILED or UNAVAILABLE
    message: str
    operations: int = 0
    verdict: dict[str, Any] | None = None  # Verdict.to_json(): status, steps, seconds, counterexample, ...
    record_seconds: float = 0.0
    check_seconds: float = 0.0
    stress: dict[str, Any] | None = None  # the driver's stress figures (seed, switch interval, yields, call yields)
    imported: dict[str, Any] | None = None  # the target's module: file, sha256, expected
    process: dict[str, Any] = field(default_factory=dict)  # how the recording process ended
    tampered: bool = False


@dataclass
class ImplementationHistory:
    """Every recorded run of one implementation, and what they add up to."""

    implementation: str
    role: str
    graded: bool  # after and a candidate are graded; before's result is shown (it is the sequential original)
    status: str  # "pass", "fail" or "error", as the check would say
    message: str
    runs: list[HistoryRun] = field(default_factory=list)

    def first_violation(self) -> HistoryRun | None:
        return next((run for run in self.runs if run.outcome == VIOLATION), None)


@dataclass
class DeclaredHistory:
    """One [[histories]] entry as it was run: what it declares, the model that judged it, each implementation."""

    name: str
    description: str
    target: str
    kind: str
    threads: int
    operations_per_thread: int
    asyncio: bool
    stress: bool
    seeds: list[int]
    budget_seconds: float
    timeout_seconds: float
    partition_by: int | None
    model: dict[str, Any]  # implementation (the reference), strategy, error
    implementations: list[ImplementationHistory] = field(default_factory=list)


@dataclass
class HistoryResults:
    seed: int  # the first seed of every history; --seed replays it
    reference: str  # the implementation the sequential model runs: before, or after for a greenfield task
    seconds: float
    histories: list[DeclaredHistory] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
