"""Statistics of the benchmark: summaries, the rank interval of the speedup, its judgement, timeline envelopes."""

from __future__ import annotations

import math
import random

import pytest

from concgrade.bench.stats import (
    efficiency,
    interval_rank,
    judge_speedup,
    mann_whitney_cdf,
    speedup,
    summarize,
    timeline_envelope,
)


def test_summary_of_repeats():
    summary = summarize([0.30, 0.10, 0.20, 0.50, 0.40])
    assert (summary.n, summary.median, summary.min, summary.max) == (5, 0.30, 0.10, 0.50)
    assert (summary.q1, summary.q3) == pytest.approx((0.20, 0.40))
    assert summary.relative_spread == pytest.approx(0.4 / 0.3)
    with pytest.raises(ValueError):
        summarize([])


def test_the_exact_rank_distribution_matches_the_published_tables():
    # n = m = 5: 252 arrangements; P(U <= 0..4) = 1, 2, 4, 7, 12 of them.
    assert [round(p * 252) for p in mann_whitney_cdf(5, 5)[:5]] == [1, 2, 4, 7, 12]
    assert mann_whitney_cdf(4, 7)[-1] == pytest.approx(1.0)
    # Critical values of the two-sided 5 % Mann-Whitney test (U <= 2 for 5/5, 23 for 10/10, 2 for 4/6).
    assert interval_rank(5, 5, 0.95) == (3, pytest.approx(1 - 8 / 252))
    assert interval_rank(10, 10, 0.95)[0] == 24
    assert interval_rank(4, 6, 0.95)[0] == 3


def test_tiny_samples_get_the_whole_range_and_say_how_sure_that_is():
    rank, confidence = interval_rank(3, 3, 0.95)
    assert rank == 1 and confidence == pytest.approx(0.9)
    estimate = speedup([3.0, 3.3, 3.1], [1.0, 1.1, 1.05])
    assert estimate.low == pytest.approx(3.0 / 1.1) and estimate.high == pytest.approx(3.3 / 1.0)
    assert estimate.confidence == pytest.approx(0.9)


def test_a_pure_scaling_is_estimated_exactly():
    before = [1.0, 1.2, 0.9, 1.5, 1.1]
    estimate = speedup(before, [value / 4 for value in before])
    assert estimate.hodges_lehmann == pytest.approx(4.0)
    assert estimate.ratio_of_medians == pytest.approx(4.0)
    assert estimate.low < 4.0 < estimate.high


def test_the_interval_covers_the_true_speedup_as_often_as_it_claims():
    """Lognormal noise, true speedup 20: the 96.8 % interval of 5 + 5 repeats misses it about 3 % of the time."""
    rng = random.Random(8)
    trials, misses = 600, 0
    for _ in range(trials):
        before = [10.0 * math.exp(rng.gauss(0, 0.1)) for _ in range(5)]
        after = [0.5 * math.exp(rng.gauss(0, 0.1)) for _ in range(5)]
        estimate = speedup(before, after)
        misses += not (estimate.low <= 20.0 <= estimate.high)
    assert misses / trials < 0.06


def test_timings_must_be_positive():
    with pytest.raises(ValueError):
        speedup([1.0], [0.0])
    with pytest.raises(ValueError):
        speedup([], [1.0])


def test_the_judgement_needs_the_lower_bound_not_the_point_estimate():
    clear = speedup([10.0, 10.2, 9.9, 10.1, 10.3], [1.0, 1.01, 0.99, 1.02, 1.0])
    judged = judge_speedup(clear, min_speedup=5, margin=0.1)
    assert judged.passed and judged.threshold == pytest.approx(4.5) and "reaches the declared 5x" in judged.message

    no_faster = speedup([1.0, 1.02, 0.98, 1.01, 0.99], [1.0, 0.99, 1.03, 1.0, 1.01])
    judged = judge_speedup(no_faster, min_speedup=2, margin=0.1)
    assert not judged.passed and "below the declared 2x" in judged.message

    noisy = speedup([10.0, 10.0, 10.0, 10.0, 10.0], [1.0, 1.1, 0.9, 2.0, 4.0])
    judged = judge_speedup(noisy, min_speedup=5, margin=0.1)
    assert noisy.ratio_of_medians >= 5 and not judged.passed and "too noisy" in judged.message


def test_efficiency_against_the_ideal():
    assert efficiency(0.4, 0.5) == pytest.approx(0.8)
    assert efficiency(None, 0.5) is None


def test_a_long_timeline_keeps_its_peaks_and_its_end():
    timeline = [(i / 1000, (i % 50) + 1) for i in range(4000)] + [(4.0, 0)]
    envelope = timeline_envelope(timeline, bins=100)
    assert len(envelope) <= 101
    assert max(active for _, active in envelope) == 50
    assert envelope[-1] == (4.0, 0)
    short = [(0.0, 1), (0.1, 0)]
    assert timeline_envelope(short) == short
