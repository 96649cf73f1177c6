"""calibkit: probability calibration for classifiers and saved predictions."""

from calibkit._version import __version__

__all__ = ["__version__"]
