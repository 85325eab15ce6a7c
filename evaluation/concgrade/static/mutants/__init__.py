"""Concurrency mutants of an implementation: pure ast transformations, source text in, mutants out."""

from __future__ import annotations

from concgrade.static.mutants.catalog import (
    NOT_APPLICABLE,
    Applicability,
    applicability,
    find_operator,
    generate_mutants,
    limit_mutants,
    operator_catalog,
)
from concgrade.static.mutants.model import Mutant, Operator, mutant_id

__all__ = [
    "NOT_APPLICABLE",
    "Applicability",
    "Mutant",
    "Operator",
    "applicability",
    "find_operator",
    "generate_mutants",
    "limit_mutants",
    "mutant_id",
    "operator_catalog",
]
