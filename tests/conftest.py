"""Shared, seeded test data. Each fixture builds its data from its own seed."""

import os

import numpy as np
import pytest


@pytest.fixture
def binary_forecasts():
    """Binary labels, mildly miscalibrated forecasts in (0, 1), integer weights.

    Returns ``(y, p, w)`` with 300 rows; weights are in {0, 1, 2, 3}, so they
    can be compared with repeated rows.
    """
    rng = np.random.default_rng(20240611)
    n = 300
    p = rng.uniform(0.01, 0.99, n)
    y = (rng.uniform(size=n) < p**1.3).astype(np.int64)
    w = rng.integers(0, 4, n)
    return y, p, w


@pytest.fixture
def multiclass_forecasts():
    """Four-class labels, softmax forecasts and integer weights.

    Returns ``(y, P, w)`` with 300 rows; labels are drawn from a sharpened
    version of ``P``, so ``P`` is underconfident.
    """
    rng = np.random.default_rng(20240612)
    n, n_classes = 300, 4
    logits = rng.normal(scale=1.5, size=(n, n_classes))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    truth = P**1.5 / (P**1.5).sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    y = np.minimum(y, n_classes - 1)
    w = rng.integers(0, 4, n)
    return y, P, w


def overlapping_data(n_classes, *, n=200, seed=0):
    """Noisy logits whose classes overlap (every fit has a finite optimum).

    A plain function (``from conftest import overlapping_data``), not a fixture:
    the tests call it with their own sizes and seeds. Binary data come as one
    column of log-odds.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) * 2.0
    logits[np.arange(n), y] += 1.0
    if n_classes == 2:
        return logits[:, 1] - logits[:, 0], y
    return logits, y


# Hypothesis profiles. CI (the default): few examples per fuzz target, derandomised
# so that a run is reproducible. HYPOTHESIS_PROFILE=fuzz-long: the long fuzz of
# issue 10 (2000 examples per target, no deadline, random seeds).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
else:
    settings.register_profile(
        "ci", derandomize=True, deadline=None, print_blob=True, database=None
    )
    settings.register_profile(
        "fuzz-long",
        max_examples=2000,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
