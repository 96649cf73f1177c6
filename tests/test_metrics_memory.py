"""Pass-style metrics in bounded memory: chunked passes equal brute force.

The log-loss, the ECE and the uniform reliability curve read the forecasts in
row chunks; their extra memory stays a few chunks, whatever the number of rows
(checked with tracemalloc at a chunk size small against the input).
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

import calibkit._chunks
from calibkit.metrics import expected_calibration_error, log_loss, reliability_curve

# The benchmarks' measurement of peak memory (benchmarks/_memory.py): the bound
# checked here and the column the benchmark reports are measured alike.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _memory import peak_memory


def binary(n, seed=0):
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(0.0, 2.0, n))
    y = (rng.random(n) < p**1.3).astype(np.intp)
    # Forecasts on the edges of the uniform bins, and at 0 and 1.
    p[:6] = [0.0, 0.1, 0.3, 0.7, 0.9, 1.0]
    y[0], y[5] = 0, 1  # certain and right
    return p, y


def brute_force_bins(x, t, n_bins):
    """Mean forecast, frequency and count per non-empty bin of linspace edges."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    number = np.searchsorted(edges[1:-1], x, side="right")
    rows = [number == b for b in range(n_bins)]
    filled = [b for b in range(n_bins) if rows[b].any()]
    mean_x = np.array([x[rows[b]].mean() for b in filled])
    mean_t = np.array([t[rows[b]].mean() for b in filled])
    count = np.array([rows[b].sum() for b in filled])
    return np.array(filled), mean_x, mean_t, count


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(calibkit._chunks, "CHUNK_BYTES", 1 << 12)  # 512 rows


@pytest.mark.parametrize("n_bins", [1, 10, 37])
def test_chunked_binary_curve_and_ece_equal_brute_force(tiny_chunks, n_bins):
    p, y = binary(5_003)
    filled, mean_x, mean_t, count = brute_force_bins(p, y.astype(float), n_bins)
    curve = reliability_curve(y, p, n_bins=n_bins)
    np.testing.assert_array_equal(curve.bin_index, filled)
    np.testing.assert_array_equal(curve.count, count)
    np.testing.assert_allclose(curve.forecast, mean_x, rtol=1e-13)
    np.testing.assert_allclose(curve.observed, mean_t, rtol=1e-13)
    # ECE: top label of the rows (1 - p, p), class 1 only when strictly above.
    predicted = (p > 1.0 - p).astype(int)
    confidence = np.maximum(p, 1.0 - p)
    _, cx, ct, cn = brute_force_bins(confidence, (predicted == y).astype(float), n_bins)
    expected = np.sum(cn / cn.sum() * np.abs(ct - cx))
    ece = expected_calibration_error(y, p, n_bins=n_bins)
    np.testing.assert_allclose(ece, expected, rtol=1e-12)
    for norm, value in [
        ("max", np.max(np.abs(ct - cx))),
        ("l2", np.sqrt(np.sum(cn / cn.sum() * (ct - cx) ** 2))),
    ]:
        np.testing.assert_allclose(
            expected_calibration_error(y, p, n_bins=n_bins, norm=norm),
            value,
            rtol=1e-12,
        )


def test_chunked_top_label_equals_brute_force(tiny_chunks):
    rng = np.random.default_rng(1)
    z = rng.normal(0.0, 2.0, (3_001, 7))
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    y = rng.integers(0, 7, q.shape[0])
    confidence = q.max(axis=1)
    hit = (q.argmax(axis=1) == y).astype(float)
    filled, mean_x, mean_t, count = brute_force_bins(confidence, hit, 15)
    curve = reliability_curve(y, q, n_bins=15)
    np.testing.assert_array_equal(curve.bin_index, filled)
    np.testing.assert_array_equal(curve.count, count)
    np.testing.assert_allclose(curve.forecast, mean_x, rtol=1e-13)
    np.testing.assert_allclose(curve.observed, mean_t, rtol=1e-13)
    expected = np.sum(count / count.sum() * np.abs(mean_t - mean_x))
    ece = expected_calibration_error(y, q, n_bins=15)
    np.testing.assert_allclose(ece, expected, rtol=1e-12)


def test_unit_weights_give_the_unweighted_result():
    # Weighted input takes the in-memory path: the two must agree.
    p, y = binary(20_000, seed=2)
    ones = np.ones_like(p)
    np.testing.assert_allclose(
        expected_calibration_error(y, p, n_bins=12),
        expected_calibration_error(y, p, n_bins=12, sample_weight=ones),
        rtol=1e-12,
    )
    plain = reliability_curve(y, p, n_bins=12)
    weighted = reliability_curve(y, p, n_bins=12, sample_weight=ones)
    for name in ("forecast", "observed", "weight", "count", "bin_lower", "bin_index"):
        np.testing.assert_allclose(
            getattr(plain, name), getattr(weighted, name), rtol=1e-12
        )


@pytest.mark.parametrize(
    "metric",
    [
        lambda y, p: log_loss(y, p),
        lambda y, p: expected_calibration_error(y, p),
        lambda y, p: reliability_curve(y, p),
    ],
    ids=["log_loss", "ece", "reliability_curve"],
)
def test_peak_memory_is_a_few_chunks(monkeypatch, metric):
    # 8 MB of forecasts and int labels that are their own codes: nothing per
    # row is allocated, only chunk-sized temporaries (64 kB each here).
    monkeypatch.setattr(calibkit._chunks, "CHUNK_BYTES", 1 << 16)
    p, y = binary(1_000_000, seed=3)
    flags = y.flags.writeable
    assert peak_memory(lambda: metric(y, p)) < 0.1 * p.nbytes
    assert y.flags.writeable == flags  # the caller's labels are left as they were


def test_label_codes_are_not_writable_views_of_the_input():
    from calibkit._validation import encode_labels

    y = np.array([1, 0, 2, 1], dtype=np.intp)
    classes, codes = encode_labels(y)
    np.testing.assert_array_equal(classes, [0, 1, 2])
    np.testing.assert_array_equal(codes, y)
    assert not codes.flags.writeable
    assert y.flags.writeable
    # Not all of 0 .. K-1 present: codes are a new array.
    _, codes = encode_labels(np.array([0, 2, 2], dtype=np.intp))
    np.testing.assert_array_equal(codes, [0, 1, 1])
