"""Out-of-core and distributed inputs give the in-memory results.

A float32 logit file several times larger than a memory budget is calibrated
and evaluated through a memory map, with peak Python allocations under the
budget; the same functions on ``dask.array`` inputs, run on a local
``distributed`` cluster (loopback only), agree with numpy.
"""

import tracemalloc

import numpy as np
import pytest
from scipy.special import expit

import calibkit._chunks
from calibkit import IsotonicCalibration, PlattScaling, TemperatureScaling
from calibkit.metrics import (
    brier_score,
    decompose,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)

N_ROWS, N_CLASSES = 20_000, 500  # 40 MB of float32 logits
BUDGET = 10 * 2**20  # bytes of Python allocations allowed during a pass


def make_logits(n, k, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.0, (n, k)).astype(np.float32)
    y = rng.integers(0, k, n)
    z[np.arange(n), y] += np.float32(2.5)
    return z, y


def softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def logit_file(tmp_path_factory):
    z, y = make_logits(N_ROWS, N_CLASSES)
    path = tmp_path_factory.mktemp("scale") / "logits.npy"
    np.save(path, z)
    prob_path = path.with_name("proba.npy")
    np.save(prob_path, softmax(z.astype(np.float64)).astype(np.float32))
    return path, prob_path, y


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(calibkit._chunks, "CHUNK_BYTES", 1 << 18)


def run_within_budget(func):
    tracemalloc.start()
    try:
        result = func()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BUDGET, f"peak {peak / 2**20:.1f} MiB over the budget"
    return result


def test_multiclass_isotonic_never_copies_float32_logits_whole(
    logit_file, small_chunks
):
    # A K x n float64 copy of the log-odds would be twice the file; the fit
    # holds blocks of classes of at most half of it, predict_proba one chunk.
    path, _, y = logit_file
    mapped = np.load(path, mmap_mode="r")
    tracemalloc.start()
    try:
        cal = IsotonicCalibration().fit(mapped, y)
        fit_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        proba = cal.predict_proba(mapped)
        predict_peak = tracemalloc.get_traced_memory()[1] - proba.nbytes
    finally:
        tracemalloc.stop()
    assert fit_peak < 0.5 * mapped.nbytes + BUDGET
    assert predict_peak < BUDGET
    assert proba.dtype == np.float32
    in_memory = IsotonicCalibration().fit(np.array(mapped), y)
    np.testing.assert_array_equal(proba, in_memory.predict_proba(np.array(mapped)))


def test_memory_mapped_logits_match_in_memory(logit_file, small_chunks):
    path, _, y = logit_file
    z_map = np.load(path, mmap_mode="r")
    assert z_map.nbytes > 3 * BUDGET
    z = np.array(z_map)

    cal = run_within_budget(lambda: TemperatureScaling().fit(z_map, y))
    ref = TemperatureScaling().fit(z, y)
    np.testing.assert_allclose(cal.temperature_, ref.temperature_, rtol=1e-10)

    loss = run_within_budget(lambda: log_loss(y, z_map, input="logits"))
    np.testing.assert_allclose(loss, log_loss(y, z, input="logits"), rtol=1e-10)


def test_memory_mapped_probabilities_match_in_memory(logit_file, small_chunks):
    _, prob_path, y = logit_file
    p_map = np.load(prob_path, mmap_mode="r")
    p = np.array(p_map)
    for metric in (log_loss, brier_score, expected_calibration_error):
        value = run_within_budget(lambda metric=metric: metric(y, p_map))
        np.testing.assert_allclose(value, metric(y, p), rtol=1e-10)


def test_memory_mapped_binary_scores(tmp_path, small_chunks):
    rng = np.random.default_rng(1)
    s = rng.normal(0, 2, 2_000_000).astype(np.float32)  # 8 MB
    y = (rng.random(s.shape[0]) < expit(0.6 * s)).astype(np.int8)
    np.save(tmp_path / "scores.npy", s)
    s_map = np.load(tmp_path / "scores.npy", mmap_mode="r")
    ref = PlattScaling().fit(np.array(s_map), y)
    # Labels and weights are per-row vectors; the scores are never copied.
    cal = PlattScaling().fit(s_map, y)
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=1e-10)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=1e-10)


def test_float32_and_float64_agree():
    z, y = make_logits(5000, 20, seed=2)
    t32 = TemperatureScaling().fit(z, y).temperature_
    t64 = TemperatureScaling().fit(z.astype(np.float64), y).temperature_
    # Same values (float32 is exactly representable in float64): equal fits.
    np.testing.assert_allclose(t32, t64, rtol=1e-12)


# -- dask on a local cluster --------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: xdist workers run clusters at once
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_fits_and_metrics_match_numpy(dask_client):
    import dask.array as da

    z, y = make_logits(30_000, 12, seed=3)
    w = np.random.default_rng(3).uniform(0.5, 2.0, y.shape[0])
    dz = da.from_array(z, chunks=(7_000, 12))

    ref = TemperatureScaling().fit(z, y, sample_weight=w)
    cal = TemperatureScaling().fit(dz, y, sample_weight=w)
    np.testing.assert_allclose(cal.temperature_, ref.temperature_, rtol=1e-10)
    proba = cal.predict_proba(dz)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(z), rtol=1e-6)

    np.testing.assert_allclose(
        log_loss(y, dz, input="logits", sample_weight=w),
        log_loss(y, z, input="logits", sample_weight=w),
        rtol=1e-10,
    )
    p = softmax(z.astype(np.float64))
    dp = da.from_array(p, chunks=(5_000, 12))
    for metric in (log_loss, brier_score, expected_calibration_error):
        np.testing.assert_allclose(metric(y, dp), metric(y, p), rtol=1e-10)
    # Curves and decompositions that sort the forecasts compute them in memory.
    for strategy in ("uniform", "isotonic"):
        lazy = decompose(y, dp, strategy=strategy)
        eager = decompose(y, p, strategy=strategy)
        np.testing.assert_allclose(lazy.score, eager.score, rtol=1e-10)
        np.testing.assert_allclose(
            lazy.miscalibration, eager.miscalibration, rtol=1e-10
        )
    for strategy in ("uniform", "isotonic"):
        lazy = reliability_curve(y, dp, strategy=strategy)
        eager = reliability_curve(y, p, strategy=strategy)
        np.testing.assert_allclose(lazy.observed, eager.observed, rtol=1e-10)


def test_dask_binary_platt_and_temperature(dask_client):
    import dask.array as da

    rng = np.random.default_rng(4)
    s = rng.normal(0, 2, 40_000)
    y = (rng.random(s.shape[0]) < expit(0.7 * s - 0.2)).astype(int)
    ds = da.from_array(s, chunks=9_000)
    for cls in (PlattScaling, TemperatureScaling):
        ref, cal = cls().fit(s, y), cls().fit(ds, y)
        np.testing.assert_allclose(
            cal.predict_proba(ds).compute(), ref.predict_proba(s), rtol=1e-10
        )


def test_dask_bad_values_are_reported_lazily(dask_client):
    import dask.array as da

    z, y = make_logits(2_000, 3, seed=5)
    z[1500, 1] = np.nan
    with pytest.raises(ValueError, match="first at rows 1500"):
        TemperatureScaling().fit(da.from_array(z, chunks=(500, 3)), y)


def test_dask_isotonic_and_multiclass_platt_are_computed_in_memory(dask_client):
    import dask.array as da

    from calibkit import IsotonicCalibration

    z, y = make_logits(3_000, 4, seed=6)
    dz = da.from_array(z, chunks=(1_000, 4))
    for cls in (IsotonicCalibration, PlattScaling):
        ref, cal = cls().fit(z, y), cls().fit(dz, y)
        np.testing.assert_allclose(
            cal.predict_proba(dz).compute(), ref.predict_proba(z), rtol=1e-10
        )
