"""Warnings raised by calibkit.

Errors are plain :class:`ValueError` and :class:`TypeError`; warnings are
reserved for results that are valid but deserve a second look.
"""

__all__ = ["CalibrationWarning", "InputKindWarning", "NoFiniteOptimumWarning"]


class CalibrationWarning(UserWarning):
    """A result is valid but suspect: inputs were clipped, a forecast was certain
    and wrong, or data look like they were passed with the wrong ``input``."""


class NoFiniteOptimumWarning(CalibrationWarning):
    """The log-loss of a calibrator has no finite minimiser on the given data.

    Raised, for example, when scores separate the two classes (unsmoothed Platt
    scaling) or when every calibration row is already classified correctly
    (temperature scaling). The docstring of each calibrator says what it returns
    in that case.
    """


class InputKindWarning(CalibrationWarning):
    """Data passed as logits look like probabilities (or the other way round).

    calibkit never guesses the kind of its input; this warning says which
    argument to change when the data suggest a mistake.
    """
