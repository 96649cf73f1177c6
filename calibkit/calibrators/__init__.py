"""Calibrators: scikit-learn estimators that map saved scores to probabilities.

The public names are re-exported by :mod:`calibkit`; import them from there.
"""

from calibkit._lazy import lazy_names

__all__ = [
    "BetaCalibration",
    "CalibratedClassifier",
    "DirichletCalibration",
    "IsotonicCalibration",
    "MatrixScaling",
    "PlattScaling",
    "TemperatureScaling",
    "VectorScaling",
]

# Imported on first use (scikit-learn with them), one line per name.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "BetaCalibration": "calibkit.calibrators._beta",
        "CalibratedClassifier": "calibkit.calibrators._classifier",
        "DirichletCalibration": "calibkit.calibrators._scaling",
        "IsotonicCalibration": "calibkit.calibrators._isotonic",
        "MatrixScaling": "calibkit.calibrators._scaling",
        "PlattScaling": "calibkit.calibrators._platt",
        "TemperatureScaling": "calibkit.calibrators._temperature",
        "VectorScaling": "calibkit.calibrators._scaling",
    },
)
