"""Isotonic calibration and the CORP decomposition of dask arrays, exact.

The rows are sorted across partitions by Dask and pooled per partition on a
local ``distributed`` cluster (loopback only); the fits and decompositions
must equal the in-memory ones (themselves checked against scikit-learn and
brute-force PAV in test_isotonic.py and test_metrics_decomposition.py).
"""

import numpy as np
import pytest
from scipy.special import expit

from calibkit import IsotonicCalibration
from calibkit.metrics import decompose

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,  # in-process workers: no network at all
        dashboard_address=":0",  # any free port: xdist workers run clusters at once
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def refuse(*args, **kwargs):
    raise AssertionError("the rows were gathered into memory")


def data(n, seed, *, decimals=None):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    if decimals is not None:  # ties, many of them across partitions
        s = np.round(s, decimals)
    y = (rng.random(n) < expit(0.8 * s - 0.3)).astype(int)
    w = rng.uniform(0.0, 3.0, n)
    w[::11] = 0.0
    return s, y, w


@pytest.mark.parametrize(
    ("decimals", "weighted", "interpolation"),
    [
        (None, False, "linear"),
        (1, False, "linear"),
        (1, True, "step"),
        (None, True, "linear"),
    ],
)
def test_dask_fit_is_the_in_memory_fit(
    client, decimals, weighted, interpolation, monkeypatch
):
    s, y, w = data(12_000, 1, decimals=decimals)
    w = w if weighted else None
    ds = da.from_array(s, chunks=2_500)  # 5 partitions
    ref = IsotonicCalibration(interpolation=interpolation).fit(s, y, sample_weight=w)
    monkeypatch.setattr(IsotonicCalibration, "_knots", refuse)  # no in-memory fit
    cal = IsotonicCalibration(interpolation=interpolation).fit(ds, y, sample_weight=w)
    # The knots are the same scores; the values agree to rounding (block
    # sums are added in another order).
    np.testing.assert_array_equal(cal.X_thresholds_[0], ref.X_thresholds_[0])
    np.testing.assert_allclose(
        cal.y_thresholds_[0], ref.y_thresholds_[0], rtol=1e-12, atol=1e-15
    )
    assert cal.eps_ == ref.eps_
    grid = np.linspace(-8.0, 8.0, 1001)
    proba = cal.predict_proba(da.from_array(grid, chunks=300))
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(
        proba.compute(), ref.predict_proba(grid), rtol=1e-12, atol=1e-15
    )


def test_dask_fit_of_a_tie_larger_than_a_partition(client):
    # Half the rows share one score: the tie spans several input partitions
    # and must still be one point of the fit.
    s, y, _ = data(8_000, 2)
    s[::2] = 0.5
    ds = da.from_array(s, chunks=1_000)
    ref = IsotonicCalibration(eps=0).fit(s, y)
    cal = IsotonicCalibration(eps=0).fit(ds, y)
    np.testing.assert_array_equal(cal.X_thresholds_[0], ref.X_thresholds_[0])
    np.testing.assert_allclose(cal.y_thresholds_[0], ref.y_thresholds_[0], rtol=1e-12)


def test_dask_fit_of_two_column_probabilities_and_dask_labels(client):
    s, y, w = data(6_000, 3, decimals=2)
    p = np.column_stack([1.0 - expit(s), expit(s)])
    dp = da.from_array(p, chunks=(1_500, 1))  # split columns are rejoined
    dy = da.from_array(y, chunks=1_000)
    kwargs = {"input": "probabilities", "eps": 0}
    ref = IsotonicCalibration(**kwargs).fit(p, y, sample_weight=w)
    cal = IsotonicCalibration(**kwargs).fit(dp, dy, sample_weight=w)
    np.testing.assert_allclose(
        cal.predict_proba(p), ref.predict_proba(p), rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("score", ["log", "brier"])
@pytest.mark.parametrize(("decimals", "weighted"), [(None, False), (2, True)])
def test_dask_corp_decomposition_is_the_in_memory_one(
    client, score, decimals, weighted
):
    s, y, w = data(10_000, 4, decimals=decimals)
    q = expit(s)
    w = w if weighted else None
    dq = da.from_array(q, chunks=2_200)
    ref = decompose(y, q, score=score, sample_weight=w)
    got = decompose(y, dq, score=score, sample_weight=w)
    for name in ("score", "miscalibration", "discrimination", "uncertainty"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(ref, name), rtol=1e-12, atol=1e-15
        )
    assert got.estimator == ref.estimator
    assert got.n_samples == ref.n_samples


def test_dask_corp_of_a_certain_wrong_forecast_is_infinite(client):
    s, y, _ = data(2_000, 5)
    q = expit(s)
    q[10], y[10] = 0.0, 1
    from calibkit.exceptions import CalibrationWarning

    with pytest.warns(CalibrationWarning, match="probability 0"):
        got = decompose(y, da.from_array(q, chunks=500))
    assert got.score == np.inf
    assert np.isfinite(got.discrimination)


def test_dask_step_fit_with_equal_block_frequencies_saves_and_loads(client, tmp_path):
    # Two blocks of frequency exactly 0.1 / 1.1 that the partitions' PAV left
    # apart: they must be one knot, else the "step" file is refused on load.
    import calibkit as ck

    rng = np.random.default_rng(0)
    for _ in range(74):  # the 74th draw of these small problems has such blocks
        s = np.sort(rng.normal(size=50))
        y = (rng.random(50) < 0.5).astype(int)
        w = rng.choice([0.1, 0.2, 0.3, 0.7], 50)
    cal = IsotonicCalibration(interpolation="step", eps=0)
    cal.fit(da.from_array(s, chunks=3), y, sample_weight=w)
    assert np.all(np.diff(cal.y_thresholds_[0]) > 0)
    ck.save(cal, tmp_path / "cal.json")
    loaded = ck.load(tmp_path / "cal.json")
    ref = IsotonicCalibration(interpolation="step", eps=0).fit(s, y, sample_weight=w)
    np.testing.assert_allclose(
        loaded.predict_proba(s), ref.predict_proba(s), rtol=1e-15, atol=0
    )
