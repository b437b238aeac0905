"""The decision, on raw response times: p95 per route, a bootstrap interval for the ratio, Holm across routes.

Pure functions over samples (no locust, no I/O), so the rule is tested on synthetic data and its
false-alarm rate can be stated:

- A route *regresses* when its candidate/baseline p95 ratio is above ``max_ratio`` (1.20), the one-sided
  bootstrap test says the ratio is above 1.0 at level ``alpha`` after Holm's correction for the number of
  routes, and the increase is at least ``min_increase_ms``. The bootstrap resamples rounds (so drift
  between rounds widens the interval instead of faking a regression), then requests within the chosen
  rounds; the p95 of a resample is drawn through the Beta distribution of the order statistic over
  per-round histograms, which makes thousands of resamples cheap.
- Too few samples, or a target that could not sustain the requested rate, is *inconclusive*: never a pass.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

# Histogram buckets grow by 0.5%: p95 read from a histogram is within 0.5% of the exact value.
BUCKET_GROWTH = 1.005
BUCKET_FLOOR_MS = 0.05
_LOG_GROWTH = math.log(BUCKET_GROWTH)
# With 400 samples, 20 lie above the 95th percentile: fewer, and its estimate rests on a handful of requests.
MIN_SAMPLES = 400


def bucket_of(ms: float) -> int:
    return max(0, int(math.log(max(ms, BUCKET_FLOOR_MS) / BUCKET_FLOOR_MS) / _LOG_GROWTH))


def bucket_value(index: int) -> float:
    """The middle of a bucket, in ms."""
    return float(BUCKET_FLOOR_MS * math.exp(_LOG_GROWTH * (index + 0.5)))


def p95(samples: Sequence[float]) -> float:
    """The exact 95th percentile (linear interpolation between order statistics, numpy's default)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    position = 0.95 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Histogram:
    """Sparse bucket -> count; the compact form samples are stored and resampled in."""

    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, samples: Sequence[float]) -> Histogram:
        histogram = cls()
        for value in samples:
            index = bucket_of(value)
            histogram.counts[index] = histogram.counts.get(index, 0) + 1
        return histogram

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        target = q * self.total
        running = 0
        for index in sorted(self.counts):
            running += self.counts[index]
            if running >= target:
                return bucket_value(index)
        return math.nan

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Histogram:
        return cls({int(k): int(v) for k, v in data.items()})


class _RoundCDFs:
    """Per-round cumulative counts on a shared bucket grid, for fast quantiles of mixtures of rounds."""

    def __init__(self, rounds: Sequence[Histogram]) -> None:
        used = sorted({index for histogram in rounds for index in histogram.counts})
        self.grid = used
        self.cdfs: list[list[int]] = []
        self.totals: list[int] = []
        for histogram in rounds:
            running, cdf = 0, []
            for index in used:
                running += histogram.counts.get(index, 0)
                cdf.append(running)
            self.cdfs.append(cdf)
            self.totals.append(running)

    def quantile_of_mixture(self, chosen: Sequence[int], q: float) -> float:
        """The q-quantile of the pooled samples of the chosen rounds (with repetition)."""
        total = sum(self.totals[r] for r in chosen)
        target = q * total
        low, high = 0, len(self.grid) - 1
        while low < high:
            middle = (low + high) // 2
            if sum(self.cdfs[r][middle] for r in chosen) >= target:
                high = middle
            else:
                low = middle + 1
        return bucket_value(self.grid[low])


def bootstrap_p95(rounds: Sequence[Histogram], resamples: int, rng: random.Random) -> list[float]:
    """p95 of ``resamples`` two-stage bootstrap resamples: rounds with replacement, then requests."""
    cdfs = _RoundCDFs([r for r in rounds if r.total])
    count = len(cdfs.totals)
    if count == 0:
        return [math.nan] * resamples
    out = []
    for _ in range(resamples):
        chosen = [rng.randrange(count) for _ in range(count)]
        n = sum(cdfs.totals[r] for r in chosen)
        rank = max(1, math.ceil(0.95 * n))
        # The rank-th smallest of n uniforms is Beta(rank, n - rank + 1): the resample's p95 sits at that
        # quantile of the pooled distribution, without drawing n requests.
        out.append(cdfs.quantile_of_mixture(chosen, rng.betavariate(rank, n - rank + 1)))
    return out


@dataclass(frozen=True)
class Gate:
    max_ratio: float = 1.20
    min_increase_ms: float = 10.0
    alpha: float = 0.05
    budget_ms: float = 300.0
    max_error_rate: float = 0.01
    min_samples: int = MIN_SAMPLES
    resamples: int = 2000


@dataclass
class Side:
    """One side's measurement of one route: raw times per round, requests, errors."""

    rounds: list[list[float]]
    errors: int = 0

    @property
    def samples(self) -> list[float]:
        return [value for round_ in self.rounds for value in round_]

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.rounds)

    @property
    def error_rate(self) -> float:
        attempts = self.count + self.errors
        return self.errors / attempts if attempts else 0.0

    def histograms(self) -> list[Histogram]:
        return [Histogram.of(r) for r in self.rounds]


@dataclass
class RouteVerdict:
    route: str
    verdict: str  # pass, regression, over-budget, errors, inconclusive
    reasons: list[str]
    baseline_p95: float | None
    candidate_p95: float
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    p_value: float | None = None
    p_holm: float | None = None
    baseline_samples: int = 0
    candidate_samples: int = 0
    baseline_error_rate: float = 0.0
    candidate_error_rate: float = 0.0

    @property
    def failed(self) -> bool:
        return self.verdict != "pass"


def absolute(route: str, side: Side, gate: Gate, budget: float) -> RouteVerdict:
    """What holds without a baseline: the error rate and the p95 budget."""
    verdict = RouteVerdict(
        route,
        "pass",
        [],
        None,
        p95(side.samples),
        None,
        None,
        None,
        candidate_samples=side.count,
        candidate_error_rate=side.error_rate,
    )
    if side.error_rate > gate.max_error_rate:
        verdict.verdict = "errors"
        verdict.reasons.append(
            f"candidate error rate {side.error_rate:.1%} is over {gate.max_error_rate:.0%}"
        )
    if side.count and verdict.candidate_p95 > budget:
        verdict.verdict = "over-budget" if verdict.verdict == "pass" else verdict.verdict
        verdict.reasons.append(
            f"candidate p95 {verdict.candidate_p95:.1f} ms is over the {budget:g} ms budget"
        )
    return verdict


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: family-wise error at most alpha across all routes."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    m = len(p_values)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def decide(
    baseline: dict[str, Side] | dict[str, list[Histogram]],
    candidate: dict[str, Side],
    gate: Gate,
    budgets: dict[str, float] | None = None,
    seed: int = 0,
) -> list[RouteVerdict]:
    """Per route: compare candidate against baseline (raw sides, or stored histograms for the baseline)."""
    rng = random.Random(seed)
    verdicts: list[RouteVerdict] = []
    pending: list[tuple[RouteVerdict, float]] = []
    for route, side in candidate.items():
        base = baseline.get(route)
        verdict = absolute(route, side, gate, (budgets or {}).get(route, gate.budget_ms))
        verdicts.append(verdict)
        base_histograms = base.histograms() if isinstance(base, Side) else (base or [])
        base_total = sum(h.total for h in base_histograms)
        verdict.baseline_samples = base_total
        if isinstance(base, Side):
            verdict.baseline_error_rate = base.error_rate
            verdict.baseline_p95 = p95(base.samples)
        elif base_histograms:
            merged = Histogram()
            for histogram in base_histograms:
                for index, count in histogram.counts.items():
                    merged.counts[index] = merged.counts.get(index, 0) + count
            verdict.baseline_p95 = merged.quantile(0.95)
        if base_total == 0 or min(side.count, base_total) < gate.min_samples:
            if verdict.verdict == "errors":
                continue  # a candidate that fails its requests has failed, however few succeeded
            verdict.verdict = "inconclusive"
            verdict.reasons.append(
                f"{min(side.count, base_total)} samples on one side, under the {gate.min_samples} needed: "
                "raise rounds, round_seconds or rate"
            )
            continue
        assert verdict.baseline_p95 is not None
        verdict.ratio = verdict.candidate_p95 / verdict.baseline_p95
        base_boot = bootstrap_p95(base_histograms, gate.resamples, rng)
        cand_boot = bootstrap_p95(side.histograms(), gate.resamples, rng)
        ratios = sorted(c / b for c, b in zip(cand_boot, base_boot, strict=True))
        verdict.ratio_low = ratios[int(0.025 * len(ratios))]
        verdict.ratio_high = ratios[min(len(ratios) - 1, int(0.975 * len(ratios)))]
        p_value = (sum(r <= 1.0 for r in ratios) + 1) / (len(ratios) + 1)
        verdict.p_value = p_value
        pending.append((verdict, p_value))
    adjusted = holm([p for _, p in pending])
    for (verdict, _), p_holm in zip(pending, adjusted, strict=True):
        verdict.p_holm = p_holm
        assert verdict.ratio is not None and verdict.baseline_p95 is not None
        increase = verdict.candidate_p95 - verdict.baseline_p95
        if verdict.ratio > gate.max_ratio and p_holm < gate.alpha and increase >= gate.min_increase_ms:
            verdict.verdict = "regression" if verdict.verdict == "pass" else verdict.verdict
            verdict.reasons.append(
                f"p95 {verdict.baseline_p95:.1f} → {verdict.candidate_p95:.1f} ms (x{verdict.ratio:.2f}, "
                f"95% interval {verdict.ratio_low:.2f}-{verdict.ratio_high:.2f}, Holm p={p_holm:.3f})"
            )
    return verdicts
