"""Calibrators: scikit-learn estimators that map saved scores to probabilities.

The public names are re-exported by :mod:`calibkit`; import them from there.
"""

from calibkit._lazy import lazy_names

__all__ = [
    "BetaCalibration",
    "CalibratedClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
]

# Imported on first use (scikit-learn with them), one line per name.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "BetaCalibration": "calibkit.calibrators._beta",
        "CalibratedClassifier": "calibkit.calibrators._classifier",
        "IsotonicCalibration": "calibkit.calibrators._isotonic",
        "PlattScaling": "calibkit.calibrators._platt",
        "TemperatureScaling": "calibkit.calibrators._temperature",
    },
)
