"""Structural analysis of every implementation: metrics, rule findings and manifest constraint violations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from concgrade.files import read_sources
from concgrade.static.constraints import check_constraints
from concgrade.static.metrics import ImplementationMetrics, delta, measure_sources
from concgrade.static.rules import find_issues
from concgrade.task.model import Task


@dataclass
class Structure:
    """What the sources show, per implementation name, JSON-ready."""

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deltas: dict[str, dict[str, Any]] = field(default_factory=dict)  # "before→after" -> metric -> before/after/delta


def analyze_task(task: Task) -> Structure:
    """Measure each implementation's source; constraints apply to what is graded as after (after, candidate)."""
    structure = Structure()
    measured: dict[str, ImplementationMetrics] = {}
    for impl in task.implementations:
        sources = read_sources(impl.folder)
        metrics = measure_sources(sources, local_modules=task.modules)
        findings = find_issues(sources)
        measured[impl.name] = metrics
        structure.metrics[impl.name] = metrics.to_dict()
        structure.findings[impl.name] = [finding.to_dict() for finding in findings]
        if impl.role == "after" and task.constraints:
            violations = check_constraints(metrics, findings, task.constraints)
            structure.violations[impl.name] = [violation.to_dict() for violation in violations]
    for name in measured:
        if name != "before" and "before" in measured:
            structure.deltas[f"before→{name}"] = delta(measured["before"], measured[name])
    return structure
