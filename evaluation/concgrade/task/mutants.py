"""The manifest's `[mutants]`: which mutation operators run on the after, how many mutants, and the gate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError

KEYS = ("min_score", "required", "operators", "max_mutants")
OPERATOR_KEYS = ("include", "exclude")


@dataclass(frozen=True)
class MutantsPolicy:
    """What the task asks of its mutation analysis; the default runs every operator and gates nothing."""

    operators: tuple[str, ...]  # full ids of the operators to run, in catalogue order
    min_score: float | None = None  # the gate: killed ÷ applicable must reach this (0 to 1)
    required: tuple[str, ...] = ()  # full ids of operators whose every mutant must be killed
    max_mutants: int | None = None  # at most this many mutants, spread over the operators


def read_mutants(section: Any, manifest_path: Path, catalog: Sequence[str]) -> MutantsPolicy:
    """Validate `[mutants]` (None: the table is absent) against the operator ids of `catalog`.

    Operators are named by full id (`CM101-sequentialize-executor`) or by code (`CM101`). The caller passes
    the ids of `concgrade.static.mutants.operator_catalog()`: the task stage stands below static analysis.
    """
    known = tuple(catalog)
    if section is None:
        return MutantsPolicy(operators=known)
    if not isinstance(section, dict):
        raise TaskError(f"{manifest_path}: [mutants] must be a table")
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise TaskError(f"{manifest_path}: unknown key(s) in [mutants]: {unknown}; use {', '.join(KEYS)}")
    operators = _selected(section.get("operators"), manifest_path, known)
    required = _operator_list(section.get("required", []), manifest_path, "mutants.required", known)
    left_out = [op for op in required if op not in operators]
    if left_out:
        raise TaskError(
            f"{manifest_path}: mutants.required names {', '.join(left_out)}, which mutants.operators leaves out"
        )
    return MutantsPolicy(
        operators=operators,
        min_score=_min_score(section.get("min_score"), manifest_path),
        required=required,
        max_mutants=_max_mutants(section.get("max_mutants"), manifest_path),
    )


def _selected(value: Any, manifest_path: Path, known: tuple[str, ...]) -> tuple[str, ...]:
    """`operators = ["CM101", ...]` keeps those; `operators = { include = [...], exclude = [...] }` both ways."""
    if value is None:
        return known
    if isinstance(value, list):
        value = {"include": value}
    if not isinstance(value, dict):
        raise TaskError(
            f"{manifest_path}: mutants.operators must be a list of operators or a table of include and exclude"
        )
    unknown = sorted(set(value) - set(OPERATOR_KEYS))
    if unknown:
        raise TaskError(f"{manifest_path}: unknown key(s) in mutants.operators: {unknown}; use include and exclude")
    included = _operator_list(value.get("include", list(known)), manifest_path, "mutants.operators.include", known)
    excluded = _operator_list(value.get("exclude", []), manifest_path, "mutants.operators.exclude", known)
    chosen = tuple(op for op in known if op in included and op not in excluded)
    if not chosen:
        raise TaskError(f"{manifest_path}: mutants.operators leaves no operator to run")
    return chosen


def _operator_list(value: Any, manifest_path: Path, key: str, known: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TaskError(f'{manifest_path}: {key} must be a list of operator ids, e.g. ["CM101"]')
    ids = []
    for reference in value:
        found = next((op for op in known if reference in (op, op.split("-", 1)[0])), None)
        if found is None:
            codes = ", ".join(op.split("-", 1)[0] for op in known)
            raise TaskError(f"{manifest_path}: {key} names an unknown operator {reference!r}; known: {codes}")
        ids.append(found)
    return tuple(dict.fromkeys(ids))


def _min_score(value: Any, manifest_path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise TaskError(f"{manifest_path}: mutants.min_score must be a number from 0 to 1, not {value!r}")
    return float(value)


def _max_mutants(value: Any, manifest_path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskError(f"{manifest_path}: mutants.max_mutants must be a whole number above zero, not {value!r}")
    return value
