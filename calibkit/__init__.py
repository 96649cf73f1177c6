"""calibkit: probability calibration for classifiers and saved predictions.

Calibrators (:class:`PlattScaling`, :class:`TemperatureScaling`,
:class:`IsotonicCalibration`) are scikit-learn estimators fitted on saved
scores by minimising log-loss; :mod:`calibkit.metrics` measures calibration.
"""

from calibkit._version import __version__
from calibkit.calibrators import (
    CalibratedClassifier,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)
from calibkit.persistence import from_dict, load, save, to_dict

__all__ = [
    "CalibratedClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "__version__",
    "from_dict",
    "load",
    "save",
    "to_dict",
]
