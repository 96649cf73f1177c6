"""How often betacal's "abm" fit leaves its own constraint a, b >= 0.

betacal fits an unconstrained logistic regression on (ln p, -ln(1 - p)) and,
when a < 0 (else b < 0), refits without that term; it does not check the
refit. This draws sets of 40 probabilities with labels from beta maps whose
slopes have either sign, keeps those where calibkit's fit has a finite optimum
(no warning), and counts how often betacal returns a negative coefficient and
how often its log-loss exceeds calibkit's by more than 1e-6 while feasible.

Usage::

    python benchmarks/betacal_constraint.py
"""

import warnings

import numpy as np
from scipy.special import expit

from calibkit import BetaCalibration


def log_loss(y, q):
    return -np.mean(np.where(y == 1, np.log(q), np.log1p(-q)))


def main(n_sets=300, n_rows=40):
    import betacal

    used = infeasible = worse = 0
    for seed in range(n_sets):
        rng = np.random.default_rng(seed)
        p = rng.uniform(0.01, 0.99, n_rows)
        a, b = rng.normal(0.0, 1.5, 2)
        y = (rng.random(n_rows) < expit(a * np.log(p) - b * np.log1p(-p))).astype(int)
        if y.min() == y.max():
            continue
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ours = BetaCalibration(input="probabilities").fit(p, y)
        if record:  # separated classes: no finite optimum to compare
            continue
        used += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = betacal.BetaCalibration("abm").fit(p, y)
        a_t, b_t, _ = theirs.calibrator_.map_
        if a_t < 0 or b_t < 0:
            infeasible += 1
        elif (
            log_loss(y, theirs.predict(p))
            > log_loss(y, ours.predict_proba(p)[:, 1]) + 1e-6
        ):
            worse += 1
    print(f"{used} sets with a finite optimum")
    print(f"betacal returned a < 0 or b < 0 (a decreasing map): {infeasible}")
    print(f"betacal feasible but log-loss > calibkit's + 1e-6: {worse}")


if __name__ == "__main__":
    main()
