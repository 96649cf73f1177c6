"""Cross-validated choice between calibrators (``method="auto"``).

Shared by :class:`~calibkit.CalibratedClassifier` and ``calibkit fit --method
auto``: candidates are fitted on training folds of the calibration rows and
scored by their held-out log-loss (nats), weighted by ``sample_weight``.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from calibkit.calibrators._isotonic import IsotonicCalibration
from calibkit.calibrators._platt import PlattScaling
from calibkit.calibrators._temperature import TemperatureScaling
from calibkit.exceptions import CalibrationWarning, InputKindWarning

#: Calibrators by name, in the order "auto" tries them (fewest parameters
#: first, so that a tie goes to the simplest map).
METHODS = {
    "temperature": TemperatureScaling,
    "platt": PlattScaling,
    "isotonic": IsotonicCalibration,
}


@dataclass(frozen=True)
class CalibrationSet:
    """Calibrator inputs (out-of-fold outputs), class codes and weights."""

    inputs: np.ndarray
    codes: np.ndarray
    sample_weight: np.ndarray | None

    @property
    def all_rows(self):
        return np.arange(self.codes.shape[0])

    def weights(self, rows):
        if self.sample_weight is None:
            return np.ones(rows.shape[0])
        return self.sample_weight[rows]

    def fit(self, calibrator, rows):
        """A fitted clone of ``calibrator`` on the given rows."""
        weights = None if self.sample_weight is None else self.sample_weight[rows]
        with warnings.catch_warnings():
            # The calibrators guess when logits "look like probabilities" (all
            # in [0, 1]); here the input kind is known from the response.
            warnings.simplefilter("ignore", InputKindWarning)
            # Exact zeros in a classifier's predict_proba are expected (trees,
            # k-NN, naive Bayes) and modelled by the calibrators.
            warnings.filterwarnings(
                "ignore",
                message="X holds .* exactly 0 or 1",
                category=CalibrationWarning,
            )
            # classes=: every class has a column in the inputs, even when these
            # rows lack it (a rare class absent from a fold).
            return clone(calibrator).fit(
                self.inputs[rows],
                self.codes[rows],
                sample_weight=weights,
                classes=np.arange(2 if self.inputs.ndim == 1 else self.inputs.shape[1]),
            )

    def cross_validated_log_loss(self, calibrator, splits):
        """Mean log-loss (nats) of ``calibrator`` on held-out folds of the rows.

        A candidate that gives some class probability exactly 0 on a held-out
        row scores ``inf`` even if no row of that class came: it is certain of
        something, and one row of that class on new data costs an infinite
        log-loss. So "auto" never prefers such a calibrator to one whose loss
        is finite (a temperature of 0, say, on rows the model got all right).
        """
        total, weight = 0.0, 0.0
        with warnings.catch_warnings():
            # Warnings of candidates that may not be chosen would only confuse;
            # the chosen one is refitted on all rows and warns then.
            warnings.simplefilter("ignore", CalibrationWarning)
            for train, test in splits:
                fitted = self.fit(calibrator, train)
                proba = fitted.predict_proba(self.inputs[test])
                p_true = probability_of_truth(proba, fitted.classes_, self.codes[test])
                w = self.weights(test)
                counted = w > 0  # 0 * inf would be NaN
                if np.any(proba[counted] == 0):
                    return float("inf")
                with np.errstate(divide="ignore"):
                    total -= float(np.sum(w[counted] * np.log(p_true[counted])))
                weight += float(np.sum(w))
        return total / weight


def probability_of_truth(proba, fitted_codes, codes):
    """Probability given to each row's class; 0 for a class the fit never saw."""
    columns = np.minimum(np.searchsorted(fitted_codes, codes), len(fitted_codes) - 1)
    seen = fitted_codes[columns] == codes
    return np.where(seen, proba[np.arange(codes.shape[0]), columns], 0.0)
