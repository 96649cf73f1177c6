"""Deprecated alias of :mod:`calibkit.metrics` (removed in calibkit 0.3)."""

from calibkit._deprecation import moved_module

__getattr__ = moved_module("calibkit.metrics.information", "calibkit.metrics")
