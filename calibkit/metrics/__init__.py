"""Calibration metrics: scores, reliability, decompositions and information.

All logarithms are natural (results in nats). Every function takes
``sample_weight``; integer weights give exactly what repeated rows give.
"""

__all__ = []
