"""Calibration metrics: scores, reliability, decompositions and information.

All logarithms are natural (results in nats). Every function takes
``sample_weight``; integer weights give exactly what repeated rows give.
"""

from calibkit._lazy import lazy_names

__all__ = [
    "CalibrationScorer",
    "ConfidenceInterval",
    "CumulativeCalibration",
    "Decomposition",
    "HosmerLemeshowTest",
    "InformationDecomposition",
    "PairedComparison",
    "ReliabilityCurve",
    "SpiegelhalterTest",
    "brier_score",
    "calibration_by_group",
    "compare_forecasts",
    "confidence_interval",
    "cross_entropy",
    "cumulative_calibration",
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
    "smooth_ece",
    "spiegelhalter_z_test",
]

# Imported on first use, one line per name: where it lives.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CalibrationScorer": "calibkit.metrics._scorers",
        "ConfidenceInterval": "calibkit.metrics._bootstrap",
        "CumulativeCalibration": "calibkit.metrics._cumulative",
        "Decomposition": "calibkit.metrics._decomposition",
        "HosmerLemeshowTest": "calibkit.metrics._goodness_of_fit",
        "InformationDecomposition": "calibkit.metrics._information",
        "PairedComparison": "calibkit.metrics._paired",
        "ReliabilityCurve": "calibkit.metrics._reliability",
        "SpiegelhalterTest": "calibkit.metrics._goodness_of_fit",
        "brier_score": "calibkit.metrics._scores",
        "calibration_by_group": "calibkit.metrics._groups",
        "compare_forecasts": "calibkit.metrics._paired",
        "confidence_interval": "calibkit.metrics._bootstrap",
        "cross_entropy": "calibkit.metrics._information",
        "cumulative_calibration": "calibkit.metrics._cumulative",
        "decompose": "calibkit.metrics._decomposition",
        "entropy": "calibkit.metrics._information",
        "expected_calibration_error": "calibkit.metrics._reliability",
        "get_scorer": "calibkit.metrics._scorers",
        "get_scorer_names": "calibkit.metrics._scorers",
        "hosmer_lemeshow_test": "calibkit.metrics._goodness_of_fit",
        "information_decomposition": "calibkit.metrics._information",
        "kl_divergence": "calibkit.metrics._information",
        "log_loss": "calibkit.metrics._scores",
        "make_calibration_scorer": "calibkit.metrics._scorers",
        "reliability_curve": "calibkit.metrics._reliability",
        "smooth_ece": "calibkit.metrics._smooth",
        "spiegelhalter_z_test": "calibkit.metrics._goodness_of_fit",
    },
)
