"""Calibrators: scikit-learn estimators that map saved scores to probabilities.

The public names are re-exported by :mod:`calibkit`; import them from there.
"""

from calibkit.calibrators._beta import BetaCalibration
from calibkit.calibrators._classifier import CalibratedClassifier
from calibkit.calibrators._isotonic import IsotonicCalibration
from calibkit.calibrators._platt import PlattScaling
from calibkit.calibrators._temperature import TemperatureScaling

__all__ = [
    "BetaCalibration",
    "CalibratedClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
]
