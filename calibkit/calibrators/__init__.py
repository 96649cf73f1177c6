"""Calibrators: scikit-learn estimators that map saved scores to probabilities."""

from calibkit.calibrators.classifier import CalibratedClassifier
from calibkit.calibrators.isotonic import IsotonicCalibration
from calibkit.calibrators.platt import PlattScaling
from calibkit.calibrators.temperature import TemperatureScaling

__all__ = [
    "CalibratedClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
]
