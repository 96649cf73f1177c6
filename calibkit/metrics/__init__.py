"""Calibration metrics: scores, reliability, decompositions and information.

All logarithms are natural (results in nats). Every function takes
``sample_weight``; integer weights give exactly what repeated rows give.
"""

from calibkit.metrics.decomposition import Decomposition, decompose
from calibkit.metrics.goodness_of_fit import (
    HosmerLemeshowTest,
    SpiegelhalterTest,
    hosmer_lemeshow_test,
    spiegelhalter_z_test,
)
from calibkit.metrics.information import (
    InformationDecomposition,
    cross_entropy,
    entropy,
    information_decomposition,
    kl_divergence,
)
from calibkit.metrics.reliability import (
    ReliabilityCurve,
    expected_calibration_error,
    reliability_curve,
)
from calibkit.metrics.scores import brier_score, log_loss

__all__ = [
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
    "hosmer_lemeshow_test",
    "information_decomposition",
    "kl_divergence",
    "log_loss",
    "reliability_curve",
    "spiegelhalter_z_test",
]
