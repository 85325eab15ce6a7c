"""The benchmark's checks for the verdict: each graded implementation shows its declared minimum speedup (pure)."""

from __future__ import annotations

from typing import Any

from concgrade.bench.model import OK, BenchResults, ImplementationBench, WorkloadBench
from concgrade.grade.checks import Check


def speedup_checks(bench: BenchResults) -> list[Check]:
    """One `bench.speedup.<implementation>` check per implementation compared with before, where a minimum is declared.

    error: the baseline (before) could not be timed, or imported something else; fail: the implementation
    failed, timed out, imported the wrong code, or its speedup interval does not reach the minimum.
    """
    gated = [workload for workload in bench.workloads if workload.min_speedup is not None]
    names = list(dict.fromkeys(c.implementation for w in gated for c in w.comparisons))
    return [implementation_check(name, gated) for name in names]


def implementation_check(name: str, workloads: list[WorkloadBench]) -> Check:
    check_id = f"bench.speedup.{name}"
    errors, failures, passes = [], [], []
    for workload in workloads:
        baseline = next(impl for impl in workload.implementations.values() if impl.role == "before")
        impl = workload.implementations[name]
        comparison = next(c for c in workload.comparisons if c.implementation == name)
        if baseline.status != OK:
            errors.append(f"{workload.name}: {baseline.name} could not be timed: {baseline.error}")
        elif not _imported_expected(baseline.imported):
            errors.append(f"{workload.name}: {baseline.name} timed code from outside its folder: {_file(baseline)}")
        elif impl.status != OK:
            failures.append(f"{workload.name}: {name} could not be timed: {impl.error}")
        elif not _imported_expected(impl.imported):
            failures.append(f"{workload.name}: {name} timed code from outside its folder: {_file(impl)}")
        elif not comparison.passed:
            failures.append(f"{workload.name}: {comparison.message}")
        else:
            passes.append(f"{workload.name}: {comparison.message}")
    if errors:
        return Check(check_id, "error", "; ".join(errors), name)
    if failures:
        return Check(check_id, "fail", "; ".join(failures), name)
    return Check(check_id, "pass", "; ".join(passes), name)


def _imported_expected(imported: dict[str, Any] | None) -> bool:
    return bool(imported and imported.get("expected"))


def _file(impl: ImplementationBench) -> str:
    return str((impl.imported or {}).get("file", "nothing"))
