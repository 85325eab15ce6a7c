"""The benchmark's lines in the terminal summary: per workload, each implementation's median and the speedups."""

from __future__ import annotations

from typing import Any

from concgrade.results.model import Results


def bench_lines(results: Results) -> list[str]:
    bench = results.bench
    if bench is None:
        return []
    lines = []
    for workload in bench.workloads:
        ideal = f", ideal {workload.ideal_seconds:.3g}s" if workload.ideal_seconds else ""
        lines.append(f"  bench {workload.name} ({workload.repeats} repeats{ideal}):")
        for impl in workload.implementations.values():
            lines.append(f"    {impl.name:<10} {_timing(impl)}")
        for comparison in workload.comparisons:
            verdict = "" if comparison.passed is None else ("  ok" if comparison.passed else "  NOT SHOWN")
            lines.append(f"    speedup {comparison.implementation}: {comparison.message}{verdict}")
    lines += [f"  bench note: {note}" for note in bench.notes]
    return lines


def _timing(impl: Any) -> str:
    if impl.summary is None:
        return f"{impl.status}: {impl.error}"
    s = impl.summary
    parts = [f"median {s['median']:.4f}s", f"IQR {s['q1']:.4f}-{s['q3']:.4f}s"]
    if impl.efficiency is not None:
        parts.append(f"efficiency {impl.efficiency:.2f}")
    if impl.concurrency:
        parts.append(f"max_active {impl.concurrency['max_active']}")
    if impl.peak_rss_bytes:
        parts.append(f"peak {impl.peak_rss_bytes / 2**20:.0f} MiB")
    if impl.cached:
        parts.append(f"cached {impl.cached_at}")
    return ", ".join(parts)
