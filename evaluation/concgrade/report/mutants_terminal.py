"""The mutation phase's lines in the terminal summary: the score, then each survivor with its diff and requirement."""

from __future__ import annotations

from concgrade.mutation.model import MutantRecord, MutationResults
from concgrade.results.model import Results

DIFF_LINES_SHOWN = 12  # of each survivor's diff, on the terminal (the report has it whole)


def mutants_lines(results: Results) -> list[str]:
    mutants: MutationResults | None = results.mutants
    if mutants is None:
        return []
    if mutants.status != "ran":
        return [f"  mutants: not judged: {mutants.reason}"]
    lines = [f"  mutants: {score_text(mutants)}"]
    for record in mutants.survivors:
        lines += survivor_lines(record)
    for record in mutants.mutants:
        if record.status == "killed_under_stress" and record.stress is not None:
            lines.append(
                f"  ~ killed only under stress (seed {record.stress.seed}): {record.id} {record.file}:{record.line} "
                f"{record.description}, by {record.killed_by}"
            )
        elif record.status == "error":
            lines.append(f"  ? not judged: {record.id} {record.file}:{record.line}: {record.reason}")
    not_applicable = [op.id.split("-", 1)[0] for op in mutants.operators if op.status == "not_applicable"]
    if not_applicable:
        lines.append(f"  operators not applicable to the after: {', '.join(not_applicable)}")
    return lines


def score_text(mutants: MutationResults) -> str:
    score = "n/a" if mutants.score is None else f"{mutants.score:.2f}"
    parts = [f"{mutants.killed + mutants.killed_under_stress} of {mutants.applicable} killed"]
    if mutants.killed_under_stress:
        parts.append(f"{mutants.killed_under_stress} only under stress")
    if mutants.survived:
        parts.append(f"{mutants.survived} survived")
    if mutants.errors:
        parts.append(f"{mutants.errors} not judged")
    cache = mutants.cache
    cached = f", {cache.get('hits', 0)} from the cache" if cache.get("hits") else ""
    timeout = mutants.settings.get("test_timeout")
    return (
        f"score {score} ({', '.join(parts)}) · {mutants.total} mutants in {mutants.seconds:.1f} s{cached} · "
        f"per-test timeout {timeout:g} s"
    )


def survivor_lines(record: MutantRecord) -> list[str]:
    lines = [
        f"  ✗ survived {record.id} {record.file}:{record.line}: {record.description}",
        f"      breaks: {record.requirement}",
    ]
    body = [line for line in record.diff.splitlines() if not line.startswith(("---", "+++"))]
    lines += [f"      {line}" for line in body[:DIFF_LINES_SHOWN]]
    if len(body) > DIFF_LINES_SHOWN:
        lines.append(f"      ... {len(body) - DIFF_LINES_SHOWN} more diff lines in report.html")
    return lines
