"""calibkit: probability calibration for classifiers and saved predictions.

Calibrators (:class:`PlattScaling`, :class:`TemperatureScaling`,
:class:`IsotonicCalibration`, :class:`BetaCalibration`, :class:`VectorScaling`,
:class:`MatrixScaling`, :class:`DirichletCalibration`) are scikit-learn
estimators fitted on saved scores by minimising log-loss;
:mod:`calibkit.metrics` measures calibration.
"""

from calibkit._lazy import lazy_names
from calibkit._version import __version__

__all__ = [
    "BetaCalibration",
    "CalibratedClassifier",
    "DirichletCalibration",
    "IsotonicCalibration",
    "MatrixScaling",
    "PlattScaling",
    "TemperatureScaling",
    "VectorScaling",
    "__version__",
    "config_context",
    "from_dict",
    "get_config",
    "load",
    "load_metadata",
    "load_with_metadata",
    "metrics",
    "plotting",
    "save",
    "set_config",
    "to_dict",
]

# Each public name is imported on first use, so that ``import calibkit`` (and the
# command line, whose ``--help`` must be instant) pays neither for scikit-learn
# nor for ``calibkit.plotting``'s matplotlib, an optional dependency. One line
# per name: where it lives.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "BetaCalibration": "calibkit.calibrators",
        "CalibratedClassifier": "calibkit.calibrators",
        "DirichletCalibration": "calibkit.calibrators",
        "IsotonicCalibration": "calibkit.calibrators",
        "MatrixScaling": "calibkit.calibrators",
        "PlattScaling": "calibkit.calibrators",
        "TemperatureScaling": "calibkit.calibrators",
        "VectorScaling": "calibkit.calibrators",
        "config_context": "calibkit._array_api",
        "from_dict": "calibkit._persistence",
        "load": "calibkit._persistence",
        "load_metadata": "calibkit._persistence",
        "load_with_metadata": "calibkit._persistence",
        "get_config": "calibkit._array_api",
        "save": "calibkit._persistence",
        "set_config": "calibkit._array_api",
        "to_dict": "calibkit._persistence",
    },
    submodules=(
        "calibrators",
        "cli",
        "exceptions",
        "io",
        "metrics",
        "plotting",
        "report",
    ),
)
