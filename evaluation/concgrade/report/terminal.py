"""The short summary printed on the terminal after a grade."""

from __future__ import annotations

from concgrade.results import Results

VERDICT_MARK = {"accepted": "ACCEPTED", "rejected": "REJECTED", "error": "ERROR"}


def format_summary(results: Results) -> str:
    lines = [f"concgrade {results.tool['version']} · task {results.task['name']}"]
    nondeterminism = results.nondeterminism
    if nondeterminism.get("repeat", 1) > 1 or nondeterminism.get("stress"):
        runs = ", ".join(f"{name} {count}" for name, count in nondeterminism.get("runs", {}).items())
        stress = f" · stress seed {nondeterminism['seed']} (--seed replays it)" if nondeterminism.get("stress") else ""
        lines.append(f"  repeats {nondeterminism['repeat']} (ran: {runs}){stress}")
    width = max(len(name) for name in results.implementations) if results.implementations else 0
    for name, impl in results.implementations.items():
        by_suite = {}
        for test in impl.tests:
            passed, total = by_suite.get(test.suite, (0, 0))
            by_suite[test.suite] = (passed + test.passed, total + 1)
        cells = "  ".join(
            f"{suite or 'other'} {passed}/{total}" for suite, (passed, total) in sorted(by_suite.items(), key=str)
        )
        peak = max((p.get("max_active", 0) for t in impl.tests for p in t.probes), default=None)
        probe = f"  max_active {peak}" if peak is not None else ""
        lines.append(f"  {name:<{width}}  {cells}{probe}  ({impl.duration_seconds:.1f}s)")
    for check in results.checks:
        if check["status"] != "pass":
            lines.append(f"  ✗ {check['id']}: {check['message']}")
    lines.append(f"verdict: {results.verdict} ({VERDICT_MARK[results.verdict]})")
    return "\n".join(lines)
