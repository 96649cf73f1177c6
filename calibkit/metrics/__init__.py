"""Calibration metrics: scores, reliability, decompositions and information.

All logarithms are natural (results in nats). Every function takes
``sample_weight``; integer weights give exactly what repeated rows give.
"""

from calibkit.metrics._decomposition import Decomposition, decompose
from calibkit.metrics._goodness_of_fit import (
    HosmerLemeshowTest,
    SpiegelhalterTest,
    hosmer_lemeshow_test,
    spiegelhalter_z_test,
)
from calibkit.metrics._information import (
    InformationDecomposition,
    cross_entropy,
    entropy,
    information_decomposition,
    kl_divergence,
)
from calibkit.metrics._reliability import (
    ReliabilityCurve,
    expected_calibration_error,
    reliability_curve,
)
from calibkit.metrics._scorers import (
    CalibrationScorer,
    get_scorer,
    get_scorer_names,
    make_calibration_scorer,
)
from calibkit.metrics._scores import brier_score, log_loss

__all__ = [
    "CalibrationScorer",
    "Decomposition",
    "HosmerLemeshowTest",
    "InformationDecomposition",
    "ReliabilityCurve",
    "SpiegelhalterTest",
    "brier_score",
    "cross_entropy",
    "decompose",
    "entropy",
    "expected_calibration_error",
    "get_scorer",
    "get_scorer_names",
    "hosmer_lemeshow_test",
    "information_decomposition",
    "kl_divergence",
    "log_loss",
    "make_calibration_scorer",
    "reliability_curve",
    "spiegelhalter_z_test",
]
