"""Deprecated alias of :mod:`calibkit` (removed in calibkit 0.3)."""

from calibkit._deprecation import moved_module

__getattr__ = moved_module("calibkit.calibrators.platt", "calibkit")
