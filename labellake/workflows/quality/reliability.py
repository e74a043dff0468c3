"""Each worker's error rate, per error type, with a 90% interval: a Beta-binomial model.

Evidence is counted per worker and error type as errors out of opportunities. An audited
object the auditor failed is an error of the type found. A gold object counts the same
way against the gold clip. A consensus object counts as an error where the worker's track
disagrees with the consolidated one.

Model: the worker's rate p ~ Beta(a, b), and errors ~ Binomial(opportunities, p).
- The prior (a, b) is fitted to all workers' rates of that error type by the method of
  moments (empirical Bayes).
- Its strength a + b is capped at ``MAX_PRIOR_STRENGTH``, so a few workers cannot make
  it overconfident.
- With fewer than two workers with evidence, or rates that do not vary, the prior is
  weak: strength 1 (as Jeffreys' Beta(0.5, 0.5)), centred on the pooled rate.
- The posterior is Beta(a + errors, b + opportunities - errors). The estimate is its
  mean, and the interval its 5th and 95th percentiles.

Drift: a worker's estimates are kept over time (``as_of``). A worker drifts when the
latest interval no longer overlaps the one before it, and the estimate has moved by more
than ``threshold``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from scipy.stats import beta

MAX_PRIOR_STRENGTH = 20.0
LEVEL = 0.90


@dataclass(frozen=True)
class Evidence:
    worker: str
    error_type: str
    errors: float  # may be weighted (audits with unequal probabilities)
    opportunities: int


@dataclass(frozen=True)
class Reliability:
    worker: str
    error_type: str
    estimate: float
    lower: float
    upper: float
    evidence: int  # opportunities seen
    errors: float  # may be weighted (audits with unequal probabilities)
    as_of: str = ""


def _pooled(evidence: list[Evidence]) -> tuple[float, int]:
    return sum(e.errors for e in evidence), sum(e.opportunities for e in evidence)


def prior(evidence: list[Evidence]) -> tuple[float, float]:
    """Beta(a, b) fitted to the workers' rates of one error type (method of moments)."""
    errors, opportunities = _pooled(evidence)
    mean = (errors + 0.5) / (opportunities + 1.0)
    rates = [e.errors / e.opportunities for e in evidence if e.opportunities > 0]
    if len(rates) >= 2:
        m = sum(rates) / len(rates)
        v = sum((r - m) ** 2 for r in rates) / (len(rates) - 1)
        if 0 < m < 1 and 0 < v < m * (1 - m):
            strength = min(m * (1 - m) / v - 1, MAX_PRIOR_STRENGTH)
            if strength > 0:
                return m * strength, (1 - m) * strength
    return mean, 1.0 - mean  # Jeffreys' strength (1), centred on the pooled rate


def estimate(evidence: Iterable[Evidence], as_of: str = "") -> list[Reliability]:
    """Every worker's error rate per error type, with its 90% interval."""
    by_type: dict[str, dict[str, Evidence]] = defaultdict(dict)
    for item in evidence:
        seen = by_type[item.error_type].get(item.worker)
        if seen is not None:  # several pieces of evidence of one worker add up
            item = Evidence(
                item.worker,
                item.error_type,
                seen.errors + item.errors,
                seen.opportunities + item.opportunities,
            )
        if item.errors < 0 or item.errors > item.opportunities:
            raise ValueError(
                f"worker {item.worker}, {item.error_type}: {item.errors} errors out of "
                f"{item.opportunities} opportunities"
            )
        by_type[item.error_type][item.worker] = item
    tail = (1 - LEVEL) / 2
    result = []
    for error_type, workers in sorted(by_type.items()):
        a, b = prior(list(workers.values()))
        for worker, item in sorted(workers.items()):
            post_a, post_b = a + item.errors, b + item.opportunities - item.errors
            result.append(
                Reliability(
                    worker=worker,
                    error_type=error_type,
                    estimate=post_a / (post_a + post_b),
                    lower=float(beta.ppf(tail, post_a, post_b)),
                    upper=float(beta.ppf(1 - tail, post_a, post_b)),
                    evidence=item.opportunities,
                    errors=item.errors,
                    as_of=as_of,
                )
            )
    return result


def drifting(history: list[Reliability], threshold: float = 0.05) -> list[Reliability]:
    """The latest estimate of each worker and error type that drifted from the one
    before it: their intervals do not overlap and the estimate moved past ``threshold``."""
    series: dict[tuple[str, str], list[Reliability]] = defaultdict(list)
    for item in history:
        series[(item.worker, item.error_type)].append(item)
    flagged = []
    for items in series.values():
        items.sort(key=lambda r: r.as_of)
        if len(items) < 2:
            continue
        before, now = items[-2], items[-1]
        apart = now.lower > before.upper or now.upper < before.lower
        if apart and abs(now.estimate - before.estimate) > threshold:
            flagged.append(now)
    return flagged
