"""Deprecated alias of :mod:`calibkit.metrics` (removed in calibkit 0.3)."""

from calibkit._deprecation import moved_module

__getattr__ = moved_module("calibkit.metrics.goodness_of_fit", "calibkit.metrics")
