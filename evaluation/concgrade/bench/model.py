"""The benchmark's part of the results model (`results.bench`), built from the measured repeats (pure).

Fields of `results.bench` (all JSON-ready; times in seconds, memory in bytes):

- `requested_by`: "flag" (--bench) or "manifest" (a workload declares min_speedup, so the gate needs it).
- `cache`: {"dir", "enabled", "hits", "misses"}; `seconds`: wall time of the phase; `notes` (e.g. a busy machine);
  `load_average`: {"start", "end", "cpus"}, the 1-minute load average around the phase (None where unknown).
- `workloads[]`: {"name", "description", "callable", "params", "ideal" (the declared text), "ideal_seconds",
  "repeats", "warmup", "warmup_params", "min_speedup", "margin", "implementations", "comparisons"}.
- `implementations{name}`: {"name", "role", "status" (ok, error, timeout, skipped), "error", "samples" (the timed
  repeats in the order run), "warmup_samples" (the untimed warm-up calls before them, all repeats), "summary" ({"n", "median", "q1", "q3", "min", "max", "mean",
  "stdev"}), "relative_spread", "efficiency" (ideal / median), "peak_rss_bytes" (largest peak of the process
  tree over the repeats: the process plus its largest child), "baseline_rss_bytes" (the process's peak just
  before the call), "concurrency" ({"label", "max_active", "calls", "timeline" [[t, active], ...] of the median
  repeat, cut to at most 200 points keeping peaks}), "imported" ({"module", "file", "sha256", "expected"}),
  "result_digests" (distinct sha256 of the calls' results as JSON, null for other values), "cached",
  "cached_at", "cache_key"}.
- `comparisons[]`: {"implementation", "baseline", "speedup" (ratio of medians), "hodges_lehmann", "low",
  "high", "confidence" (the interval's real coverage), "min_speedup", "threshold", "passed", "message", "same_result" (returned what before returned;
  null when before's result is not plain data; false fails the comparison unless `same_result = false`)}.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from concgrade.bench import stats
from concgrade.task.workloads import Workload

OK, ERROR, TIMEOUT, SKIPPED = "ok", "error", "timeout", "skipped"


@dataclass
class ImplementationBench:
    name: str
    role: str
    status: str
    error: str | None = None
    samples: list[float] = field(default_factory=list)
    warmup_samples: list[float] = field(default_factory=list)
    summary: dict[str, float] | None = None
    relative_spread: float | None = None
    efficiency: float | None = None
    peak_rss_bytes: int | None = None
    baseline_rss_bytes: int | None = None
    concurrency: dict[str, Any] | None = None
    imported: dict[str, Any] | None = None
    result_digests: list[str | None] = field(default_factory=list)  # distinct digests of what the calls returned
    cached: bool = False
    cached_at: str | None = None
    cache_key: str | None = None


@dataclass
class Comparison:
    implementation: str
    baseline: str
    speedup: float | None
    hodges_lehmann: float | None
    low: float | None
    high: float | None
    confidence: float | None
    min_speedup: float | None
    threshold: float | None
    passed: bool | None  # None: no minimum declared, or nothing to compare
    message: str
    same_result: bool | None = None  # returned what the baseline returned (None: not comparable)


@dataclass
class WorkloadBench:
    name: str
    description: str
    callable: str
    params: dict[str, Any]
    ideal: str | None
    ideal_seconds: float | None
    repeats: int
    warmup: int
    warmup_params: dict[str, Any]
    min_speedup: float | None
    margin: float
    implementations: dict[str, ImplementationBench]
    comparisons: list[Comparison]


@dataclass
class BenchResults:
    requested_by: str
    workloads: list[WorkloadBench]
    cache: dict[str, Any]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    load_average: dict[str, float] | None = None  # the 1-minute load at the start and end of the phase

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def implementation_bench(
    name: str,
    role: str,
    records: list[dict[str, Any]],
    ideal_seconds: float | None,
    failure: tuple[str, str] | None = None,
) -> ImplementationBench:
    """One implementation's figures from the child records of its repeats.

    `failure` is (status, message) when a repeat failed or timed out; the figures of the repeats
    that did run are kept for the report but the implementation has no summary.
    """
    samples = [float(record["seconds"]) for record in records]
    result = ImplementationBench(
        name=name,
        role=role,
        status=failure[0] if failure else OK,
        error=failure[1] if failure else None,
        samples=[round(s, 6) for s in samples],
        warmup_samples=[round(float(s), 6) for r in records for s in r.get("warmup_seconds", [])],
        imported=next((r.get("imported") for r in reversed(records) if r.get("imported")), None),
        result_digests=sorted({r.get("result_digest") for r in records}, key=str),
    )
    trees = [r["rss"]["tree"] for r in records if isinstance(r.get("rss"), dict)]
    baselines = [r["rss_before_call"]["self"] for r in records if isinstance(r.get("rss_before_call"), dict)]
    result.peak_rss_bytes = max(trees) if trees else None
    result.baseline_rss_bytes = max(baselines) if baselines else None
    if failure or not samples:
        return result
    summary = stats.summarize(samples)
    result.summary = {key: round(value, 6) for key, value in asdict(summary).items()}
    result.relative_spread = round(summary.relative_spread, 4)
    efficiency = stats.efficiency(ideal_seconds, summary.median)
    result.efficiency = round(efficiency, 4) if efficiency is not None else None
    result.concurrency = concurrency_profile(records)
    return result


def concurrency_profile(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The probe's figures: peak over every repeat, and the timeline of the median repeat."""
    probed = [r for r in records if isinstance(r.get("probe"), dict)]
    if not probed:
        return None
    median_time = statistics.median_low([r["seconds"] for r in probed])
    middle = next(r for r in probed if r["seconds"] == median_time)["probe"]
    return {
        "label": middle.get("label"),
        "max_active": max(int(r["probe"].get("max_active", 0)) for r in probed),
        "max_active_per_repeat": [int(r["probe"].get("max_active", 0)) for r in probed],
        "calls": int(middle.get("calls", 0)),
        "timeline": [list(point) for point in stats.timeline_envelope(middle.get("timeline", []))],
        "timeline_truncated": bool(middle.get("timeline_truncated")),
    }


def compare(
    workload: Workload, baseline: ImplementationBench, other: ImplementationBench, confidence: float = stats.CONFIDENCE
) -> Comparison:
    """The speedup of `other` over `baseline`, judged against the workload's minimum if it declares one."""
    empty = Comparison(other.name, baseline.name, None, None, None, None, None, workload.min_speedup, None, None, "")
    if baseline.status != OK:
        empty.message = f"no speedup: {baseline.name} could not be timed ({baseline.error})"
        return empty
    if other.status != OK:
        empty.message = f"no speedup: {other.name} could not be timed ({other.error})"
        empty.passed = False if workload.min_speedup is not None else None
        return empty
    same = same_result(baseline, other)
    if workload.same_result and same is False:
        empty.message = f"no speedup: {other.name} returned something else than {baseline.name} (not the same work)"
        empty.passed, empty.same_result = False, False
        return empty
    estimate = stats.speedup(baseline.samples, other.samples, confidence)
    comparison = Comparison(
        implementation=other.name,
        baseline=baseline.name,
        speedup=round(estimate.ratio_of_medians, 4),
        hodges_lehmann=round(estimate.hodges_lehmann, 4),
        low=round(estimate.low, 4),
        high=round(estimate.high, 4),
        confidence=round(estimate.confidence, 4),
        min_speedup=workload.min_speedup,
        threshold=None,
        passed=None,
        message=(
            f"{estimate.ratio_of_medians:.2f}x ({estimate.confidence:.1%} interval "
            f"{estimate.low:.2f}x to {estimate.high:.2f}x)"
        ),
        same_result=same,
    )
    if workload.min_speedup is not None:
        judgement = stats.judge_speedup(estimate, workload.min_speedup, workload.margin)
        comparison.threshold = round(judgement.threshold, 4)
        comparison.passed = judgement.passed
        comparison.message = judgement.message
    return comparison


def same_result(baseline: ImplementationBench, other: ImplementationBench) -> bool | None:
    """Whether `other` returned what the baseline returned; None when the baseline's result is not plain data."""
    if len(baseline.result_digests) != 1 or baseline.result_digests[0] is None:
        return None  # not comparable: not JSON data, or different from one repeat to the next
    return other.result_digests == baseline.result_digests


def workload_bench(workload: Workload, implementations: dict[str, ImplementationBench]) -> WorkloadBench:
    """A workload's figures, with every non-before implementation compared to before."""
    baseline = next((impl for impl in implementations.values() if impl.role == "before"), None)
    comparisons = []
    if baseline is not None:
        comparisons = [compare(workload, baseline, impl) for impl in implementations.values() if impl is not baseline]
    return WorkloadBench(
        name=workload.name,
        description=workload.description,
        callable=workload.callable,
        params=workload.params,
        ideal=workload.ideal,
        ideal_seconds=workload.ideal_seconds,
        repeats=workload.repeats,
        warmup=workload.warmup,
        warmup_params=workload.warmup_params,
        min_speedup=workload.min_speedup,
        margin=workload.margin,
        implementations=implementations,
        comparisons=comparisons,
    )
