"""calibkit: probability calibration for classifiers and saved predictions.

Calibrators (:class:`PlattScaling`, :class:`TemperatureScaling`,
:class:`IsotonicCalibration`) are scikit-learn estimators fitted on saved
scores by minimising log-loss; :mod:`calibkit.metrics` measures calibration.
"""

from calibkit import metrics
from calibkit._persistence import (
    from_dict,
    load,
    load_metadata,
    load_with_metadata,
    save,
    to_dict,
)
from calibkit._version import __version__
from calibkit.calibrators import (
    BetaCalibration,
    CalibratedClassifier,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)

__all__ = [
    "BetaCalibration",
    "CalibratedClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "__version__",
    "from_dict",
    "load",
    "load_metadata",
    "load_with_metadata",
    "metrics",
    "plotting",
    "save",
    "to_dict",
]


def __getattr__(name):
    # ``calibkit.plotting`` needs matplotlib, an optional dependency: import it
    # on first use so that ``import calibkit`` works without it.
    if name == "plotting":
        import importlib

        return importlib.import_module("calibkit.plotting")
    msg = f"module 'calibkit' has no attribute {name!r}"
    raise AttributeError(msg)
