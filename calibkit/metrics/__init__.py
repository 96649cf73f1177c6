"""Calibration metrics: scores, reliability, decompositions and information.

All logarithms are natural (results in nats). Every function takes
``sample_weight``; integer weights give exactly what repeated rows give.
"""

from calibkit._lazy import lazy_names

__all__ = [
    "CalibrationScorer",
    "ConfidenceInterval",
    "Decomposition",
    "HosmerLemeshowTest",
    "InformationDecomposition",
    "PairedComparison",
    "ReliabilityCurve",
    "SpiegelhalterTest",
    "brier_score",
    "compare_forecasts",
    "confidence_interval",
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

# Imported on first use, one line per name: where it lives.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CalibrationScorer": "calibkit.metrics._scorers",
        "Decomposition": "calibkit.metrics._decomposition",
        "HosmerLemeshowTest": "calibkit.metrics._goodness_of_fit",
        "InformationDecomposition": "calibkit.metrics._information",
        "ReliabilityCurve": "calibkit.metrics._reliability",
        "SpiegelhalterTest": "calibkit.metrics._goodness_of_fit",
        "brier_score": "calibkit.metrics._scores",
        "cross_entropy": "calibkit.metrics._information",
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
        "spiegelhalter_z_test": "calibkit.metrics._goodness_of_fit",
        "ConfidenceInterval": "calibkit.metrics._bootstrap",
        "confidence_interval": "calibkit.metrics._bootstrap",
        "PairedComparison": "calibkit.metrics._paired",
        "compare_forecasts": "calibkit.metrics._paired",
    },
)
