"""How many errors are left in what a batch ships: an estimate and a 90% upper bound.

The audit level sees a sample of the shipped objects. Each object was drawn
independently with its own probability (``routing``): a floor for every object, then
the riskiest objects up to 1. Auditors fix what they fail, so the errors left are those
of the objects not audited.

The estimator is stratified by audit probability:
- A stratum h is the N_h shipped objects that had the same probability. Past ten
  distinct probabilities, a stratum is a tenth of the objects ordered by probability.
- Its n_h audited objects estimate its error rate r_h. With one probability per
  stratum, r_h is simply the share found wrong. Within a tenth, r_h is the Hajek
  estimate: the errors weighted by 1/probability over the weights.
- The errors left in it are estimated as r_h (N_h - n_h). Their sum is the residual
  estimate.
- A stratum audited whole (probability 1) leaves nothing.

For the bound, each stratum's error rate gets Jeffreys' posterior
Beta(k_h + 1/2, n_h - k_h + 1/2), with k_h = r_h n_h. The bound is the 90th
percentile of sum p_h (N_h - n_h), over 20,000 seeded draws. A stratum in which
nobody was audited is left with its prior, Beta(1/2, 1/2).

Inverse-probability weighting with a normal bound was tried first. It gives the same
estimate, but its bound covered the true residual only 78% of the time in
``tests/workflows/quality/test_routing.py``'s population: with risk routing, the floor
stratum's few errors carry large weights, and their total is far from normal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.90
DRAWS = 20_000
_DIGITS = 9  # probabilities equal to this many digits are one stratum
MAX_STRATA = 10


@dataclass(frozen=True)
class Audited:
    """One audited object: the probability it had of being audited, and whether the
    auditor found it wrong."""

    probability: float
    error: bool


@dataclass(frozen=True)
class QualityBound:
    objects: int  # shipped
    audited: int
    errors_found: int
    residual_errors: float  # estimated errors left unaudited
    residual_rate: float
    upper_rate: float  # one-sided 90% upper bound of the residual rate
    method: str = "stratified by audit probability, Jeffreys posterior per stratum"


def bound(probabilities: Sequence[float] | np.ndarray, sample: Iterable[Audited]) -> QualityBound:
    """The residual error rate of the shipped objects, each with the audit probability it
    had (``probabilities``), from the audited ``sample``."""
    values = np.asarray(probabilities, dtype="float64")
    if len(values) and not (np.all(values > 0) and np.all(values <= 1)):
        bad = values[(values <= 0) | (values > 1)][0]
        raise ValueError(f"an audit probability must be in (0, 1], not {bad}")
    stratum_of = _strata(values)
    shipped: dict[int, int] = {}
    for p in values:
        shipped[stratum_of(float(p))] = shipped.get(stratum_of(float(p)), 0) + 1
    seen: dict[int, list[float]] = {}  # stratum -> [audited, sum of e/p, sum of 1/p]
    audited = errors = 0
    for item in sample:
        h = stratum_of(float(item.probability))
        if h not in shipped or not 0 < item.probability <= 1:
            raise ValueError(
                f"an audited object had probability {item.probability}, which no shipped object had"
            )
        counts = seen.setdefault(h, [0, 0.0, 0.0])
        counts[0] += 1
        counts[1] += item.error / item.probability
        counts[2] += 1 / item.probability
        audited += 1
        errors += int(item.error)
    objects = len(values)
    if objects == 0:
        return QualityBound(0, audited, errors, 0.0, 0.0, 0.0)
    residual = 0.0
    rng = np.random.default_rng(0)
    total = np.zeros(DRAWS)
    for h, count in shipped.items():
        n, weighted_errors, weights = seen.get(h, [0, 0.0, 0.0])
        left = count - n
        if left <= 0:
            continue
        rate = weighted_errors / weights if n else 0.0  # Hajek: the stratum's error rate
        residual += rate * left
        wrong = rate * n
        total += rng.beta(wrong + 0.5, n - wrong + 0.5, size=DRAWS) * left
    upper = float(np.quantile(total, LEVEL))
    return QualityBound(
        objects=objects,
        audited=audited,
        errors_found=errors,
        residual_errors=residual,
        residual_rate=residual / objects,
        upper_rate=min(upper / objects, 1.0),
    )


def _strata(values: np.ndarray) -> Callable[[float], int]:
    """Stratum of a probability: one per distinct value (what ``routing`` makes: a floor,
    1, and one in between), or, past MAX_STRATA values, one per tenth of the objects
    ordered by probability."""
    distinct = np.unique(np.round(values, _DIGITS))
    if len(distinct) <= MAX_STRATA:
        index = {float(v): i for i, v in enumerate(distinct)}
        return lambda p: index.get(round(p, _DIGITS), -1)
    edges = np.quantile(values, np.linspace(0, 1, MAX_STRATA + 1)[1:-1])
    return lambda p: int(np.searchsorted(edges, p, side="right"))
