"""Checks of a manifest's constraints (stdlib only, forbidden and required names or rules, limits)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from concgrade.findings import SEVERITIES, Finding
from concgrade.static.metrics import ImplementationMetrics


def violation(constraint: str, message: str, path: str | None = None, line: int | None = None) -> Finding:
    """A manifest constraint the implementation breaks: always an error of the gate's `constraints.<name>` check."""
    return Finding(constraint, "error", message, path, line)


ConstraintHandler = Callable[[ImplementationMetrics, Sequence[Finding], object], list[Finding]]


_RULE_ID = re.compile(r"^CG\d{3}$")
CONSTRAINT_KEYS = ("stdlib_only", "forbidden", "required", "max_complexity", "max_nesting", "max_severity")


def check_constraints(
    metrics: ImplementationMetrics, findings: Sequence[Finding], constraints: Mapping[str, object]
) -> list[Finding]:
    """Violations of a manifest's constraints, e.g. `{"stdlib_only": True, "forbidden": ["CG103"]}`.

    `forbidden` / `required` hold rule ids or dotted names (a module forbids everything under it);
    `max_severity` ("warning" or "info") forbids findings above it. An unknown key is itself a violation,
    so a typo cannot silently switch a constraint off.
    """
    violations = [violation("parse", f"cannot check {e.path}: {e.message}", e.path, e.line) for e in metrics.errors]
    for key, value in constraints.items():
        handler = _CONSTRAINTS.get(key)
        if handler is None:
            known = ", ".join(CONSTRAINT_KEYS)
            violations.append(violation(key, f"unknown constraint {key!r} (known: {known})"))
            continue
        violations.extend(handler(metrics, findings, value))
    return violations


def _stdlib_only(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    if not value:
        return []
    return [
        violation(
            "stdlib_only",
            f"imports {use.module or '<unknown>'} ({'not provable' if use.origin == 'dynamic' else 'not stdlib'})",
            use.path,
            use.line,
        )
        for use in metrics.non_stdlib_imports
    ]


def _forbidden(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    violations = []
    for item in _string_list(value):
        if _RULE_ID.match(item):
            violations += [
                violation("forbidden", f"{item} is forbidden: {f.message}", f.path, f.line)
                for f in findings
                if f.id == item
            ]
            continue
        for use in _uses_of(metrics, item):
            violations.append(violation("forbidden", f"{item} is forbidden", use[0], use[1]))
    return violations


def _required(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    missing = []
    for item in _string_list(value):
        present = any(f.id == item for f in findings) if _RULE_ID.match(item) else _uses_of(metrics, item)
        if not present:
            missing.append(violation("required", f"{item} is required but not used"))
    return missing


def _uses_of(metrics: ImplementationMetrics, name: str) -> list[tuple[str | None, int | None]]:
    """Where a dotted name (or anything under it) is used: constructs and imports, else references."""
    under = (name, name + ".")
    uses: list[tuple[str | None, int | None]] = [
        (c.path, c.line) for c in metrics.constructs if c.name == name or c.name.startswith(under[1])
    ]
    uses += [(i.path, i.line) for i in metrics.imports if i.module == name or i.module.startswith(under[1])]
    if not uses and any(r == name or r.startswith(under[1]) for r in metrics.references):
        uses.append((None, None))
    return sorted(set(uses), key=lambda u: (u[0] or "", u[1] or 0))


def _max_complexity(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [violation("max_complexity", f"max_complexity must be an integer, got {value!r}")]
    return [
        violation("max_complexity", f"{f.name} has complexity {f.complexity} > {value}", f.path, f.line)
        for f in metrics.functions
        if f.complexity > value
    ]


def _max_nesting(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [violation("max_nesting", f"max_nesting must be an integer, got {value!r}")]
    return [
        violation("max_nesting", f"nesting depth {f.max_nesting} > {value}", f.path)
        for f in metrics.files
        if f.max_nesting > value
    ]


def _max_severity(metrics: ImplementationMetrics, findings: Sequence[Finding], value: object) -> list[Finding]:
    if value not in SEVERITIES:
        return [violation("max_severity", f"max_severity must be one of {SEVERITIES}, got {value!r}")]
    allowed = SEVERITIES[SEVERITIES.index(value) :]
    return [
        violation("max_severity", f"{f.id} ({f.severity}) exceeds {value}: {f.message}", f.path, f.line)
        for f in findings
        if f.severity not in allowed
    ]


def _string_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


_CONSTRAINTS = {
    "stdlib_only": _stdlib_only,
    "forbidden": _forbidden,
    "required": _required,
    "max_complexity": _max_complexity,
    "max_nesting": _max_nesting,
    "max_severity": _max_severity,
}
