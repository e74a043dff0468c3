"""Audit probabilities from risk scores and a budget, and the draw."""

from __future__ import annotations

import numpy as np
import pytest

from labellake.workflows.quality.bound import Audited, bound
from labellake.workflows.quality.routing import audit_probabilities, draw


def test_probabilities_spend_the_budget_with_a_floor_riskiest_first() -> None:
    risk = np.array([0.0, 0.1, 0.2, 0.4, 0.8, 0.05, 0.0, 0.3])
    p = audit_probabilities(risk, budget=0.25, random_share=0.2)
    assert p.sum() == pytest.approx(0.25 * len(risk))
    assert p.min() == pytest.approx(0.05)  # the floor: 20% of the budget
    # 8 x 0.2 = 1.6 audits to place: the riskiest object all the way, the next the rest.
    assert p[4] == pytest.approx(1.0) and p[3] == pytest.approx(0.05 + 0.65)
    order = np.argsort(risk, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-12)  # riskier, likelier


def test_no_risk_at_all_spreads_the_budget_evenly() -> None:
    assert audit_probabilities(np.zeros(5), 0.4, random_share=1.0) == pytest.approx([0.4] * 5)
    assert audit_probabilities(np.ones(3), 1.0) == pytest.approx([1.0] * 3)
    assert len(audit_probabilities(np.array([]), 0.2)) == 0


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_a_budget_outside_zero_to_one_is_refused(budget: float) -> None:
    with pytest.raises(ValueError, match=r"audit budget must be in \(0, 1\]"):
        audit_probabilities(np.ones(3), budget)


def test_risk_routing_finds_more_errors_than_random_and_the_bound_still_covers() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    risk = rng.beta(0.6, 6, size=n)  # a well-calibrated model's scores
    errors = rng.random(n) < risk
    routed = audit_probabilities(risk, 0.2)
    even = np.full(n, 0.2)
    found_routed, found_even, covered = [], [], []
    for _ in range(200):
        picked = draw(routed, rng)
        found_routed.append(errors[picked].sum())
        found_even.append(errors[draw(even, rng)].sum())
        sample = [
            Audited(float(p), bool(e)) for p, e in zip(routed[picked], errors[picked], strict=True)
        ]
        covered.append(errors[~picked].sum() / n <= bound(routed, sample).upper_rate)
    assert np.mean(found_routed) > 2 * np.mean(found_even)
    assert 0.85 <= np.mean(covered) <= 0.97
