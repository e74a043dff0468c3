"""How many errors are left in what a batch ships: an estimate and a 90% upper bound.

The audit level sees a sample of the delivered objects, each object i included with a
known probability pi_i (risk routing up to the budget, plus a random share, so every
object has pi_i > 0). Auditors fix what they fail, so the errors left are those of the
objects not audited.

The estimator is inverse-probability weighting (Horvitz-Thompson) under Poisson sampling
(each object drawn independently):
- Each audited object stands for 1/pi_i objects. It was audited itself, so
  (1 - pi_i)/pi_i of those were shipped unaudited. The estimated residual errors are
  R = sum over the audited errors of (1 - pi_i)/pi_i.
- R - (true residual) = sum over all errors of (I_i/pi_i - 1), whose variance is
  sum e_i (1 - pi_i)/pi_i. It is estimated without bias from the sample by
  V = sum over the audited errors of (1 - pi_i)/pi_i^2.
- The one-sided 90% upper bound is R + z * sqrt(V), with z the normal 90% quantile.

Rates divide by the objects shipped. An object audited with pi_i = 1 adds nothing.
A sample with no error found gives R = 0, and as the bound the rate such a sample would
miss with 10% probability, -ln(0.1) / (objects audited), on the objects not audited.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from scipy.stats import norm

LEVEL = 0.90


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
    method: str = "inverse-probability weighting (Horvitz-Thompson, Poisson sampling)"


def bound(objects: int, sample: Iterable[Audited]) -> QualityBound:
    """The residual error rate of ``objects`` shipped objects, from the audited ``sample``."""
    audited = errors = 0
    residual = variance = 0.0
    for item in sample:
        if not 0 < item.probability <= 1:
            raise ValueError(f"an audit probability must be in (0, 1], not {item.probability}")
        audited += 1
        if item.error:
            errors += 1
            residual += (1 - item.probability) / item.probability
            variance += (1 - item.probability) / item.probability**2
    if objects <= 0:
        return QualityBound(0, audited, errors, 0.0, 0.0, 0.0)
    z = float(norm.ppf(LEVEL))
    upper = residual + z * math.sqrt(variance)
    if errors == 0:
        # Nothing found: the rate a sample this size would miss with 10% probability,
        # (1 - p)^audited = 0.1, on the objects shipped unaudited.
        unaudited = max(objects - audited, 0)
        rate = min(-math.log(1 - LEVEL) / audited, 1.0) if audited else 1.0
        upper = rate * unaudited
    return QualityBound(
        objects=objects,
        audited=audited,
        errors_found=errors,
        residual_errors=residual,
        residual_rate=residual / objects,
        upper_rate=min(upper / objects, 1.0),
    )
