"""Which labeled objects an audit level sees: a probability per object, then a draw.

With an audit budget b (the share of objects audited on average) and risk scores r_i
(the probability an auditor fails the object), every object gets a floor of
``random_share * b``, so each object can be audited and the estimate of what is left
(``bound``) stays unbiased. The rest of the budget goes to the riskiest objects first,
each raised to probability 1, which catches the most errors a budget can (the expected
errors found, the sum of p_i r_i, is largest so); the last one takes what remains.
The draw is Poisson sampling: each object is audited independently with its
probability. The probabilities are kept with the sample, since the bound needs them.
"""

from __future__ import annotations

import numpy as np

RANDOM_SHARE = 0.25  # of the audit budget, spread evenly over all objects


def audit_probabilities(
    risk: np.ndarray, budget: float, random_share: float = RANDOM_SHARE
) -> np.ndarray:
    """Each object's probability of being audited; they add up to ``budget`` x objects."""
    if not 0 < budget <= 1:
        raise ValueError(f"an audit budget must be in (0, 1], not {budget}")
    if not 0 <= random_share <= 1:
        raise ValueError(f"the random share must be in [0, 1], not {random_share}")
    risk = np.clip(np.asarray(risk, dtype="float64"), 0.0, None)
    n = len(risk)
    if n == 0:
        return risk
    floor = random_share * budget
    probability = np.full(n, floor)
    left = (budget - floor) * n  # expected audits still to place, riskiest first
    for index in np.argsort(-risk, kind="stable"):
        if left <= 1e-12:
            break
        given = min(1.0 - floor, left)
        probability[index] += given
        left -= given
    return probability


def draw(probability: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which objects are audited: each independently with its probability."""
    return rng.random(len(probability)) < probability
