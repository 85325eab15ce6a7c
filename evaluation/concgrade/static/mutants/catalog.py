"""The operator catalogue, and the mutants of an implementation's files: compiled, deduplicated, addressed."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from concgrade.static.mutants import (
    bounds,
    errors,
    lifecycle,
    locks,
    ordering,
    sequential,
    sharing,
    streaming,
)
from concgrade.static.mutants.edits import keep_bodies_nonempty, mutate_tree, render
from concgrade.static.mutants.model import Mutant, Mutation, Operator, mutant_id
from concgrade.static.pysource import ParsedSource

_FAMILIES = (sequential, bounds, sharing, streaming, locks, errors, ordering, lifecycle)

NOT_APPLICABLE = "not_applicable"  # the status of an operator that made no mutant


def operator_catalog() -> tuple[Operator, ...]:
    """Every operator, in id order."""
    return tuple(sorted((op for family in _FAMILIES for op in family.OPERATORS), key=lambda op: op.id))


def find_operator(reference: str, catalog: Sequence[Operator] | None = None) -> Operator | None:
    """The operator a manifest or command line names, by full id (`CM101-sequentialize-executor`) or code."""
    for op in catalog if catalog is not None else operator_catalog():
        if reference in (op.id, op.code):
            return op
    return None


def generate_mutants(
    sources: Mapping[str, str],
    operators: Sequence[Operator] | None = None,
    max_mutants: int | None = None,
) -> list[Mutant]:
    """The mutants of an implementation (relative path -> text), by file, then operator, then line.

    Files that do not parse yield none. Each mutant compiles and differs from its original; a mutant whose
    text another mutant of the same operator already made is dropped.
    """
    chosen = tuple(operators) if operators is not None else operator_catalog()
    mutants: list[Mutant] = []
    for path in sorted(sources):
        if path.endswith(".py"):
            mutants += mutants_of_file(path, sources[path], chosen)
    return limit_mutants(mutants, max_mutants, chosen) if max_mutants is not None else mutants


def mutants_of_file(path: str, text: str, operators: Iterable[Operator]) -> list[Mutant]:
    try:
        parsed = ParsedSource.parse(path, text)
    except (SyntaxError, ValueError):
        return []
    original = ast.dump(parsed.tree)
    made: list[Mutant] = []
    seen: set[tuple[str, str]] = set()
    for op in operators:
        for mutation in op.find(parsed):
            mutant = _build(parsed, op, mutation, original)
            if mutant is not None and (op.id, mutant.source) not in seen:
                seen.add((op.id, mutant.source))
                made.append(mutant)
    return sorted(made, key=lambda m: (m.operator, m.line))


def _build(parsed: ParsedSource, op: Operator, mutation: Mutation, original_dump: str) -> Mutant | None:
    changes = keep_bodies_nonempty(parsed, mutation.changes)
    tree = mutate_tree(parsed, changes)
    if ast.dump(tree) == original_dump:
        return None  # the "change" leaves the program as it was
    source = render(parsed, changes, tree)
    try:
        compile(source, parsed.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return Mutant(
        id=mutant_id(op.id, parsed.path, mutation.line, source),
        operator=op.id,
        file=parsed.path,
        line=mutation.line,
        description=mutation.description,
        requirement=op.requirement,
        original=parsed.text,
        source=source,
    )


def limit_mutants(mutants: Sequence[Mutant], max_mutants: int, operators: Sequence[Operator]) -> list[Mutant]:
    """At most `max_mutants`, taken in turn from each operator so that every applicable one keeps some."""
    queues = {op.id: [m for m in mutants if m.operator == op.id] for op in operators}
    kept: list[Mutant] = []
    while len(kept) < max_mutants and any(queues.values()):
        for queue in queues.values():
            if queue and len(kept) < max_mutants:
                kept.append(queue.pop(0))
    order = {m.id: index for index, m in enumerate(mutants)}
    return sorted(kept, key=lambda m: order[m.id])


@dataclass(frozen=True)
class Applicability:
    """How an operator fared on an implementation: how many mutants it made, in which files."""

    operator: str
    description: str
    requirement: str
    mutants: int
    files: tuple[str, ...]

    @property
    def status(self) -> str:
        return "applicable" if self.mutants else NOT_APPLICABLE


def applicability(mutants: Sequence[Mutant], operators: Sequence[Operator] | None = None) -> list[Applicability]:
    """One row per operator: an operator with no mutant is "not applicable" (never counted as killed)."""
    rows = []
    for op in operators if operators is not None else operator_catalog():
        own = [m for m in mutants if m.operator == op.id]
        files = tuple(dict.fromkeys(m.file for m in own))
        rows.append(Applicability(op.id, op.description, op.requirement, len(own), files))
    return rows
