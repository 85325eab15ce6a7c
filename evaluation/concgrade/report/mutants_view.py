"""The view model of the report's mutants section: the score, the survivors first with their diffs, the
operators, and the kill matrix (mutants × tests, the first kill marked), from `results.mutants` alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from concgrade.mutation.model import MutantRecord, MutationResults
from concgrade.report.view import DiffLine, diff_line_kind
from concgrade.results.model import Results

# What a matrix cell prints, by how the test ended on the mutant (the first kill is marked apart).
CELL_MARKS = {"passed": "·", "xfailed": "·", "timeout": "T", "crashed": "C", "interrupted": "I"}
STATUS_LABELS = {
    "survived": "survived",
    "killed_under_stress": "killed only under stress",
    "error": "not judged",
    "killed": "killed",
}


@dataclass(frozen=True)
class MatrixCell:
    mark: str  # "K" first kill, "x" another failure, "·" passed, "T"/"C"/"I" timeout, crash, interrupted, "" not run
    kind: str  # first-kill, failed, passed, not-run
    title: str


@dataclass
class MutantView:
    id: str
    operator: str
    where: str
    description: str
    requirement: str
    status: str
    label: str
    killed_by: str
    reason: str
    seconds: str
    cached: bool
    stress: str
    diff: list[DiffLine]
    cells: list[MatrixCell] = field(default_factory=list)


@dataclass
class MutantsView:
    status: str
    reason: str
    score: str
    summary: str
    settings: str
    notes: list[str]
    survivors: list[MutantView]
    others: list[MutantView]  # killed under stress, not judged, killed: in that order
    operators: list[dict[str, Any]]
    tests: list[dict[str, str]]  # the matrix's columns: {"nodeid", "short", "kills"}
    rows: list[MutantView]  # every mutant, survivors first


def mutants_view(results: Results) -> MutantsView | None:
    mutants: MutationResults | None = results.mutants
    if mutants is None:
        return None
    if mutants.status != "ran":
        return MutantsView(mutants.status, mutants.reason or "", "", "", "", mutants.notes, [], [], [], [], [])
    tests = list(mutants.tests)
    rows = [mutant_view(record, tests) for record in mutants.mutants]
    settings = mutants.settings
    seed = f" · stress seed {settings['stress_seed']}" if settings.get("stress_seed") is not None else ""
    cache = mutants.cache
    return MutantsView(
        status=mutants.status,
        reason="",
        score="n/a" if mutants.score is None else f"{mutants.score:.2f}",
        summary=summary_text(mutants),
        settings=(
            f"per-test timeout {settings.get('test_timeout', 0):g} s ({settings.get('timeout_rule', '')}) · "
            f"{'each mutant stopped at its first failing test' if settings.get('first_failure') else 'full matrix'}"
            f" · {settings.get('jobs', 1)} at once{seed} · {mutants.seconds:.1f} s · cache "
            f"{'on' if cache.get('enabled') else 'off'} ({cache.get('hits', 0)} hit(s), {cache.get('misses', 0)} run)"
        ),
        notes=list(mutants.notes),
        survivors=[row for row in rows if row.status == "survived"],
        others=[row for row in rows if row.status != "survived"],
        operators=[
            {
                "id": op.id,
                "code": op.id.split("-", 1)[0],
                "description": op.description,
                "requirement": op.requirement,
                "status": op.status,
                "label": op.status.replace("_", " "),
                "counts": f"{op.killed}/{op.mutants}" if op.mutants else "",
            }
            for op in mutants.operators
        ],
        tests=[
            {"nodeid": nodeid, "short": short_name(nodeid), "kills": str(mutants.kills.get(nodeid, 0))}
            for nodeid in tests
        ],
        rows=rows,
    )


def summary_text(mutants: MutationResults) -> str:
    parts = [f"{mutants.killed + mutants.killed_under_stress} of {mutants.applicable} killed"]
    if mutants.killed_under_stress:
        parts.append(f"{mutants.killed_under_stress} only under stress")
    parts.append(f"{mutants.survived} survived")
    if mutants.errors:
        parts.append(f"{mutants.errors} not judged")
    applicable = sum(1 for op in mutants.operators if op.status != "not_applicable")
    return f"{', '.join(parts)} · {mutants.total} mutants from {applicable} of {len(mutants.operators)} operators"


def mutant_view(record: MutantRecord, tests: list[str]) -> MutantView:
    stress = ""
    if record.stress is not None:
        stress = f"rerun under stress (seed {record.stress.seed}): {record.stress.status}"
        if record.stress.killed_by:
            stress += f" by {record.stress.killed_by}"
    ran = record.stress.tests if record.status == "killed_under_stress" and record.stress else record.tests
    return MutantView(
        id=record.id,
        operator=record.operator,
        where=f"{record.file}:{record.line}",
        description=record.description,
        requirement=record.requirement,
        status=record.status,
        label=STATUS_LABELS.get(record.status, record.status),
        killed_by=record.killed_by or "",
        reason=record.reason or "",
        seconds=f"{record.seconds:.1f} s" + (" (cached)" if record.cached else ""),
        cached=record.cached,
        stress=stress,
        diff=[DiffLine(diff_line_kind(line), line) for line in record.diff.splitlines()],
        cells=[matrix_cell(nodeid, ran.get(nodeid), record.killed_by) for nodeid in tests],
    )


def matrix_cell(nodeid: str, outcome: str | None, killed_by: str | None) -> MatrixCell:
    if outcome is None:
        return MatrixCell("", "not-run", f"{nodeid}: not run")
    if nodeid == killed_by:
        return MatrixCell("K", "first-kill", f"{nodeid}: {outcome}, the first kill")
    if outcome in ("passed", "xfailed"):
        return MatrixCell("·", "passed", f"{nodeid}: {outcome}")
    return MatrixCell(CELL_MARKS.get(outcome, "x"), "failed", f"{nodeid}: {outcome}")


def short_name(nodeid: str) -> str:
    """A column heading: the test's name without its file, `test_` and parameters cut to fit."""
    name = nodeid.rsplit("::", 1)[-1].removeprefix("test_")
    return name if len(name) <= 28 else name[:26] + "…"
