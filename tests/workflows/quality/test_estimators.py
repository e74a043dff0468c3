"""The worker reliability model on known cases, and the quality bound on known populations
(seeded simulations whose true answers are known)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta, spearmanr

from labellake.workflows.quality.bound import Audited, bound
from labellake.workflows.quality.reliability import Evidence, Reliability, drifting, estimate, prior


def test_more_evidence_narrows_the_interval_around_the_rate() -> None:
    few, many = estimate([Evidence("few", "miss", 1, 10), Evidence("many", "miss", 100, 1000)])
    assert few.lower < 0.1 < few.upper and many.lower < 0.1 < many.upper
    assert (many.upper - many.lower) < (few.upper - few.lower) / 2
    assert many.estimate == pytest.approx(0.1, abs=0.01)
    assert (many.evidence, many.errors) == (1000, 100)


def test_evidence_of_one_worker_adds_up_and_bad_counts_are_refused() -> None:
    (one,) = estimate([Evidence("w", "swap", 2, 10), Evidence("w", "swap", 3, 10)])
    assert (one.errors, one.evidence) == (5, 20)
    with pytest.raises(ValueError, match="11 errors out of 10"):
        estimate([Evidence("w", "swap", 11, 10)])


def test_a_worker_without_evidence_gets_the_teams_rate_with_a_wide_interval() -> None:
    rows = {
        r.worker: r
        for r in estimate(
            [
                Evidence("a", "miss", 10, 100),
                Evidence("b", "miss", 30, 100),
                Evidence("new", "miss", 0, 0),
            ]
        )
    }
    assert rows["a"].estimate < rows["new"].estimate < rows["b"].estimate
    assert rows["new"].upper - rows["new"].lower > rows["a"].upper - rows["a"].lower


def test_the_prior_is_weak_without_spread_and_capped_with_it() -> None:
    a, b = prior([Evidence("only", "miss", 5, 50)])
    assert a + b == pytest.approx(1.0)
    a, b = prior([Evidence(f"w{i}", "miss", 10, 100) for i in range(5)])  # no spread
    assert a + b == pytest.approx(1.0)
    a, b = prior([Evidence("x", "miss", 9, 100), Evidence("y", "miss", 11, 100)])
    assert a + b <= 20.0 and a / (a + b) == pytest.approx(0.1)


def test_intervals_cover_known_worker_rates_and_rank_them() -> None:
    rng = np.random.default_rng(7)
    rates = rng.beta(2, 18, size=300)
    evidence = [
        Evidence(f"w{i:03d}", "miss", int(rng.binomial(80, p)), 80) for i, p in enumerate(rates)
    ]
    rows = sorted(estimate(evidence), key=lambda r: r.worker)
    covered = np.mean([r.lower <= p <= r.upper for r, p in zip(rows, rates, strict=True)])
    assert 0.85 <= covered <= 0.96
    rho = spearmanr([r.estimate for r in rows], rates).statistic
    assert rho > 0.7


def test_drift_needs_apart_intervals_and_a_real_move() -> None:
    def at(when: str, estimate: float, lower: float, upper: float) -> Reliability:
        return Reliability("w", "miss", estimate, lower, upper, 100, 10, when)

    steady = [at("2026-01", 0.10, 0.06, 0.15), at("2026-02", 0.12, 0.08, 0.17)]
    worse = [at("2026-01", 0.10, 0.06, 0.15), at("2026-02", 0.30, 0.22, 0.38)]
    assert drifting(steady) == []
    assert drifting(worse) == [worse[1]]
    assert drifting(worse, threshold=0.25) == []
    assert drifting(worse[:1]) == []


def population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Objects with a risk score; the riskier, the likelier an error."""
    risk = rng.beta(1, 6, size=n)
    errors = rng.random(n) < np.clip(risk * 0.6, 0, 1)
    return risk, errors


def test_with_a_probability_per_object_the_bound_stays_on_the_safe_side() -> None:
    rng = np.random.default_rng(11)
    risk, errors = population(rng, 4000)
    # A probability per object (a 5% floor plus the risk, scaled to a 20% budget): the
    # bound works on tenths of the objects by probability, and errs on the safe side
    # (routing's own probabilities are covered in test_routing.py).
    probability = np.clip(0.05 + 0.15 * risk / risk.mean(), 0.05, 1.0)
    covered, estimates, truths = [], [], []
    for _ in range(200):
        drawn = rng.random(len(risk)) < probability
        sample = [
            Audited(float(p), bool(e))
            for p, e in zip(probability[drawn], errors[drawn], strict=True)
        ]
        result = bound(probability, sample)
        truth = errors[~drawn].sum() / len(risk)  # audited errors are fixed
        covered.append(truth <= result.upper_rate)
        estimates.append(result.residual_rate)
        truths.append(truth)
    assert np.mean(covered) >= 0.85
    assert np.mean(estimates) == pytest.approx(np.mean(truths), rel=0.05)  # unbiased


def test_a_uniform_sample_bounds_like_a_binomial() -> None:
    # 1,000 objects audited at 20%: 200 audited, none wrong.
    clean = bound([0.2] * 1000, [Audited(0.2, False)] * 200)
    assert clean.residual_rate == 0.0 and clean.errors_found == 0
    # Jeffreys' 90% bound for 0 of 200, on the 800 objects left.
    jeffreys = beta.ppf(0.9, 0.5, 200.5)
    assert clean.upper_rate == pytest.approx(jeffreys * 800 / 1000, rel=0.02)
    some = bound([0.2] * 1000, [Audited(0.2, True)] * 20 + [Audited(0.2, False)] * 180)
    assert some.residual_rate == pytest.approx(0.1 * 800 / 1000)
    assert some.residual_rate < some.upper_rate < 0.12


def test_what_was_audited_whole_leaves_nothing_and_nobody_audited_is_unknown() -> None:
    everything = bound([1.0] * 3, [Audited(1.0, True)] * 3)
    assert everything.residual_rate == 0.0 and everything.upper_rate == 0.0
    unseen = bound([0.5] * 10, [])
    assert unseen.residual_rate == 0.0 and unseen.upper_rate > 0.8  # the prior: anything
    assert bound([], []).objects == 0


def test_bad_probabilities_are_refused() -> None:
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        bound([0.0, 0.5], [])
    with pytest.raises(ValueError, match="which no shipped object had"):
        bound([0.5], [Audited(0.3, True)])
