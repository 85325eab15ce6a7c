"""Statistics of benchmark timings: summaries, the speedup with a rank-based interval, efficiency (pure).

The speedup interval is distribution-free: the Hodges-Lehmann interval of the shift between the
log-times of two samples, read off the exact Mann-Whitney distribution. It assumes only that the two
implementations' times differ by a factor, needs no random numbers, and states the confidence it
reaches (with 5 repeats a side: 96.8 %; with 3 a side nothing narrower than the whole range exists).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Median and spread of one implementation's timed repeats (seconds)."""

    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float
    mean: float
    stdev: float

    @property
    def relative_spread(self) -> float:
        """(max - min) / median: how far apart the repeats are, as a fraction of the median."""
        return (self.max - self.min) / self.median if self.median > 0 else math.inf


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples")
    data = sorted(float(s) for s in samples)
    q1, q3 = quartiles(data)
    return Summary(
        n=len(data),
        median=statistics.median(data),
        q1=q1,
        q3=q3,
        min=data[0],
        max=data[-1],
        mean=statistics.fmean(data),
        stdev=statistics.stdev(data) if len(data) > 1 else 0.0,
    )


def quartiles(data: Sequence[float]) -> tuple[float, float]:
    if len(data) == 1:
        return data[0], data[0]
    q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, q3


@dataclass(frozen=True)
class SpeedupEstimate:
    """How many times faster `after` is than `before`, with an interval and the confidence it reaches."""

    ratio_of_medians: float
    hodges_lehmann: float  # median of all pairwise before/after ratios: the interval's own point estimate
    low: float
    high: float
    confidence: float  # the confidence the interval really has (exact, from the rank distribution)


def speedup(before: Sequence[float], after: Sequence[float], confidence: float = CONFIDENCE) -> SpeedupEstimate:
    """The speedup of `after` over `before` (both lists of seconds, every value > 0)."""
    if not before or not after:
        raise ValueError("both samples need at least one timing")
    if min(before) <= 0 or min(after) <= 0:
        raise ValueError("timings must be positive")
    differences = sorted(math.log(b) - math.log(a) for b in before for a in after)
    rank, reached = interval_rank(len(before), len(after), confidence)
    return SpeedupEstimate(
        ratio_of_medians=statistics.median(before) / statistics.median(after),
        hodges_lehmann=math.exp(statistics.median(differences)),
        low=math.exp(differences[rank - 1]),
        high=math.exp(differences[len(differences) - rank]),
        confidence=reached,
    )


def interval_rank(n: int, m: int, confidence: float) -> tuple[int, float]:
    """The order statistic k (1-based) of the n*m pairwise differences that bounds the interval.

    The interval [d(k), d(nm-k+1)] covers the true shift with probability 1 - 2 P(U <= k-1), U the
    Mann-Whitney statistic; k is the largest rank that keeps that at or above `confidence`. When no
    rank reaches it (tiny samples), k = 1: the whole range, with the confidence it really has.
    """
    cumulative = mann_whitney_cdf(n, m)
    rank = 1
    while rank < (n * m + 1) // 2 and 1 - 2 * cumulative[rank] >= confidence:
        rank += 1
    return rank, 1 - 2 * cumulative[rank - 1]


@lru_cache(maxsize=64)
def mann_whitney_cdf(n: int, m: int) -> tuple[float, ...]:
    """P(U <= u) for u = 0..n*m under the null hypothesis, exactly (counts of rank arrangements)."""
    # counts[b][u]: arrangements of a values of one sample and b of the other with statistic u,
    # built up one value of the first sample at a time: f(a, b) = f(a-1, b) shifted by b, plus f(a, b-1).
    previous = [[1] for _ in range(m + 1)]  # a = 0: one arrangement, U = 0
    for _ in range(n):
        current: list[list[int]] = [[1]]  # b = 0
        for b in range(1, m + 1):
            shifted = [0] * b + previous[b]
            left = current[b - 1]
            size = max(len(shifted), len(left))
            current.append([_at(shifted, u) + _at(left, u) for u in range(size)])
        previous = current
    counts = previous[m]
    total = math.comb(n + m, n)
    cumulative, running = [], 0
    for count in counts:
        running += count
        cumulative.append(running / total)
    return tuple(cumulative)


def _at(values: list[int], index: int) -> int:
    return values[index] if index < len(values) else 0


def efficiency(ideal_seconds: float | None, median_seconds: float) -> float | None:
    """ideal / measured: 1.0 means the implementation reaches the declared ideal time."""
    if ideal_seconds is None or median_seconds <= 0:
        return None
    return ideal_seconds / median_seconds


@dataclass(frozen=True)
class SpeedupJudgement:
    passed: bool
    threshold: float  # the interval's lower bound must reach this
    message: str


def judge_speedup(estimate: SpeedupEstimate, min_speedup: float, margin: float) -> SpeedupJudgement:
    """Pass when the interval's lower bound reaches min_speedup less the margin (noise allowance).

    The lower bound, not the point estimate: a speedup has to be shown by the data, and a noisy run
    whose interval reaches down below the bar is not evidence of it.
    """
    threshold = min_speedup * (1 - margin)
    shown = (
        f"{estimate.ratio_of_medians:.2f}x "
        f"({estimate.confidence:.1%} interval {estimate.low:.2f}x to {estimate.high:.2f}x)"
    )
    if estimate.low >= threshold:
        return SpeedupJudgement(True, threshold, f"{shown} reaches the declared {min_speedup:g}x")
    if estimate.ratio_of_medians >= threshold:
        reason = f"the interval reaches down to {estimate.low:.2f}x, below {threshold:.3g}x: too noisy to show it"
    else:
        reason = f"below the declared {min_speedup:g}x (less a {margin:.0%} margin: {threshold:.3g}x)"
    return SpeedupJudgement(False, threshold, f"{shown}: {reason}")


def timeline_envelope(timeline: Sequence[Sequence[float]], bins: int = 200) -> list[tuple[float, int]]:
    """A long (time, active) step series cut to at most `bins` points, keeping each bin's peak."""
    points = [(float(t), int(v)) for t, v in timeline]
    if len(points) <= bins:
        return points
    start, end = points[0][0], points[-1][0]
    width = (end - start) / bins or 1.0
    peaks: dict[int, tuple[float, int]] = {}
    for t, v in points:
        index = min(bins - 1, int((t - start) / width))
        if index not in peaks or v > peaks[index][1]:
            peaks[index] = (round(start + index * width, 6), v)
    series = [peaks[index] for index in sorted(peaks)]
    if series[-1][1] != points[-1][1]:
        series.append(points[-1])  # the series ends where the timeline ends (usually 0 active)
    return series
