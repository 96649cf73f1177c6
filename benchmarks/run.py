"""Benchmarks: calibkit against scikit-learn and against the hardware floor.

For each workload, calibkit and its scikit-learn counterpart are timed in the
same run (median of ``--repeats`` runs), next to a *floor*: one vectorised pass
that any algorithm must make over the data (``np.exp`` over the logits,
``log1p(exp(-|z|))`` over binary scores, ``np.argsort`` for isotonic fits).
The log-loss each reaches is reported so that speed is compared at equal
quality, and peak extra memory is measured with ``tracemalloc`` (allocations made during
the call, so the input itself is not counted). The floor, calibkit and
scikit-learn are timed in turn within each repeat (interleaved), so that a
load from other processes affects all three alike.

Usage::

    python benchmarks/run.py            # full suite (several minutes)
    python benchmarks/run.py --quick    # small sizes, a smoke test
    python benchmarks/run.py --only platt temperature
    python benchmarks/run.py --only startup

Prints a markdown table and writes ``benchmarks/results/<timestamp>.json``. The
start-up times (``import calibkit``, ``calibkit --help``, as ratios to
``python -c pass``; see ``benchmarks/startup.py``) get a table of their own.
"""

import argparse
import json
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sklearn
from scipy.special import expit, logsumexp
from sklearn.calibration import (
    _SigmoidCalibration,
    _TemperatureScaling,
    calibration_curve,
)
from sklearn.isotonic import IsotonicRegression

import calibkit
from calibkit import (
    BetaCalibration,
    DirichletCalibration,
    IsotonicCalibration,
    MatrixScaling,
    PlattScaling,
    TemperatureScaling,
    VectorScaling,
)
from calibkit import metrics as ckm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import startup  # benchmarks/startup.py, next to this file
from _memory import peak_memory  # benchmarks/_memory.py

FULL = {
    "platt": [10**5, 10**6, 10**7],
    "isotonic": [10**5, 10**6, 10**7],
    "temperature": [(10**5, 10), (10**5, 100), (2 * 10**4, 1000), (10**4, 10**4)],
    "temperature_netcal": [(10**5, 10), (10**4, 100)],
    "vector_netcal": [(10**4, 10), (10**5, 10)],
    "matrix": [(10**5, 10), (10**4, 30)],
    "dirichlet": [(10**5, 10), (10**4, 30)],
    "metrics_binary": [10**7],
    "metrics_multiclass": [(10**5, 1000)],
    "bootstrap": [(10**6, 1000), (10**5, 1000)],
    "beta": [10**5, 10**6],
    "corp": [10**6, 10**7],
    "isotonic_out_of_core": [10**8],
    "smooth_cumulative": [10**6],
    "smooth_small": [100],
    "isotonic_dask": [10**6],
}
QUICK = {
    "platt": [10**4],
    "isotonic": [10**4],
    "temperature": [(10**4, 10), (2000, 100)],
    "temperature_netcal": [(2000, 10)],
    "vector_netcal": [(1000, 5)],
    "matrix": [(2000, 5)],
    "dirichlet": [(2000, 5)],
    "metrics_binary": [10**4],
    "metrics_multiclass": [(2000, 50)],
    "bootstrap": [(10**4, 50)],
    "beta": [10**4],
    "corp": [10**4],
    "isotonic_out_of_core": [10**4],
    "smooth_cumulative": [10**4],
    "smooth_small": [100],
    "isotonic_dask": [10**4],
}


def median_time(func, repeats):
    """Median wall time of ``func()`` over ``repeats`` runs, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def interleaved_times(funcs, repeats):
    """Median wall times of ``funcs`` run in turn ``repeats`` times, and results.

    Interleaving puts the floor, calibkit and scikit-learn under the same load
    on a shared machine, so that their ratios are steadier than the times.
    """
    times = [[] for _ in funcs]
    results = [None] * len(funcs)
    for _ in range(repeats):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            results[i] = func()
            times[i].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times], results


def binary_scores(n, rng):
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(0.5 * s - 0.3)).astype(np.int64)
    return s, y


def multiclass_logits(n, k, rng, dtype=np.float32):
    z = rng.normal(0.0, 3.0, (n, k)).astype(dtype)
    y = rng.integers(0, k, n)
    z[np.arange(n), y] += dtype(4.0)  # informative but overconfident
    return z, y


def logistic_loss(a, b, s, t):
    z = a * s + b
    return float(np.mean(np.logaddexp(0.0, z) - t * z))


def bench_platt(n, repeats, rng):
    s, y = binary_scores(n, rng)
    (floor, ours, theirs), (_, cal, ref) = interleaved_times(
        [
            lambda: np.log1p(np.exp(-np.abs(s))),
            lambda: PlattScaling(target_smoothing=True).fit(s, y),
            lambda: _SigmoidCalibration().fit(s, y),
        ],
        repeats,
    )
    n_pos = y.sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n - n_pos + 2))
    return {
        "workload": f"Platt fit, n={n:.0e}",
        "floor": "log1p(exp(-|z|))",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": theirs,
        "calibkit_loss": logistic_loss(cal.coef_[0], cal.intercept_[0], s, t),
        "sklearn_loss": logistic_loss(-ref.a_, -ref.b_, s, t),
        "calibkit_peak_mb": peak_memory(lambda: PlattScaling().fit(s, y)) / 1e6,
        "input_mb": s.nbytes / 1e6,
    }


def binary_log_loss(y, q):
    return float(-np.mean(np.where(y == 1, np.log(q), np.log1p(-q))))


def bench_beta(n, repeats, rng):
    """Beta calibration against the reference package betacal (when installed),
    on probabilities whose calibration map is a beta map (a = 2, b = 0.5)."""
    p = rng.uniform(0.001, 0.999, n)
    y = (rng.random(n) < expit(2.0 * np.log(p) + 0.5 * np.log1p(-p) + 1.0)).astype(
        np.int64
    )
    floor, _ = median_time(lambda: np.log(p) + np.log1p(-p), repeats)
    ours, cal = median_time(
        lambda: BetaCalibration(input="probabilities").fit(p, y), repeats
    )
    row = {
        "workload": f"Beta fit vs betacal, n={n:.0e}",
        "floor": "log(p) + log1p(-p)",
        "floor_s": floor,
        "calibkit_s": ours,
        "calibkit_loss": binary_log_loss(y, cal.predict_proba(p)[:, 1]),
        "calibkit_peak_mb": peak_memory(
            lambda: BetaCalibration(input="probabilities").fit(p, y)
        )
        / 1e6,
        "input_mb": p.nbytes / 1e6,
    }
    try:
        import betacal
    except ImportError:  # an optional peer
        return row
    theirs, ref = median_time(lambda: betacal.BetaCalibration().fit(p, y), repeats)
    row["sklearn_s"] = theirs  # the peer's column: here betacal
    row["sklearn_loss"] = binary_log_loss(y, ref.predict(p))
    return row


def bench_isotonic(n, repeats, rng):
    s, y = binary_scores(n, rng)
    floor, _ = median_time(lambda: np.argsort(s), repeats)
    ours, cal = median_time(lambda: IsotonicCalibration(eps=0).fit(s, y), repeats)
    theirs, ref = median_time(
        lambda: IsotonicRegression(out_of_bounds="clip").fit(s, y), repeats
    )
    p_ours = np.clip(cal.predict_proba(s)[:, 1], 1e-15, 1 - 1e-15)
    p_ref = np.clip(ref.predict(s), 1e-15, 1 - 1e-15)

    def loss(p):
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))

    return {
        "workload": f"isotonic fit, n={n:.0e}",
        "floor": "argsort",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": theirs,
        "calibkit_loss": loss(p_ours),
        "sklearn_loss": loss(p_ref),
        "calibkit_peak_mb": peak_memory(lambda: IsotonicCalibration().fit(s, y)) / 1e6,
        "input_mb": s.nbytes / 1e6,
    }


def multiclass_loss(z, y, temperature):
    scaled = z.astype(np.float64) / temperature
    rows = np.arange(len(y))
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[rows, y]))


def bench_temperature(shape, repeats, rng):
    n, k = shape
    z, y = multiclass_logits(n, k, rng)
    classes = np.arange(k)  # large vocabularies: not every class occurs in y
    (floor, ours), (_, cal) = interleaved_times(
        [lambda: np.exp(z), lambda: TemperatureScaling().fit(z, y, classes=classes)],
        repeats,
    )
    theirs, ref = median_time(lambda: _TemperatureScaling().fit(z, y), 1)
    t_ref = 1.0 / float(ref.beta_)
    return {
        "workload": f"temperature fit, float32 {n:.0e} x {k}",
        "floor": "np.exp",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": theirs,
        "calibkit_loss": multiclass_loss(z, y, cal.temperature_),
        "sklearn_loss": multiclass_loss(z, y, t_ref),
        "calibkit_T": cal.temperature_,
        "sklearn_T": t_ref,
        "calibkit_peak_mb": peak_memory(
            lambda: TemperatureScaling().fit(z, y, classes=classes)
        )
        / 1e6,
        "input_mb": z.nbytes / 1e6,
    }


def _netcal_scaling():
    """netcal's scaling module, or None (printing why) when it is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import netcal.scaling
    except ImportError:
        print("skipped: netcal not installed", flush=True)
        return None
    return netcal.scaling


def probability_rows(shape, rng):
    """Softmax probabilities (float64) of ``multiclass_logits``, and labels."""
    z, y = multiclass_logits(*shape, rng)
    z = z.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p, y


def proba_loss(y, q):
    return float(-np.mean(np.log(q[np.arange(len(y)), y])))


def _against_netcal(label, ours, theirs, shape, repeats, rng):
    """A fit of calibkit against netcal's (``method="mle"``, CPU torch) on the
    same float64 probabilities; netcal takes logs of them, as calibkit does."""
    scaling = _netcal_scaling()
    if scaling is None:
        return []
    n, k = shape
    p, y = probability_rows(shape, rng)
    (floor, ours_s, theirs_s), (_, cal, ref) = interleaved_times(
        [
            lambda: np.log(p),
            lambda: ours().fit(p, y),
            lambda: getattr(scaling, theirs)(method="mle").fit(p, y),
        ],
        repeats,
    )
    return {
        "workload": f"{label} fit vs netcal, float64 probabilities {n:.0e} x {k}",
        "floor": "np.log",
        "floor_s": floor,
        "calibkit_s": ours_s,
        "sklearn_s": theirs_s,  # the peer's column: here netcal
        "calibkit_loss": proba_loss(y, cal.predict_proba(p)),
        "sklearn_loss": proba_loss(y, ref.transform(p)),
        "calibkit_peak_mb": peak_memory(lambda: ours().fit(p, y)) / 1e6,
        "input_mb": p.nbytes / 1e6,
    }


def bench_temperature_netcal(shape, repeats, rng):
    return _against_netcal(
        "temperature",
        lambda: TemperatureScaling(input="probabilities"),
        "TemperatureScaling",
        shape,
        repeats,
        rng,
    )


def bench_vector_netcal(shape, repeats, rng):
    """Vector scaling: netcal's ``LogisticCalibration`` on K > 2 classes."""
    return _against_netcal(
        "vector scaling",
        lambda: VectorScaling(input="probabilities"),
        "LogisticCalibration",
        shape,
        repeats,
        rng,
    )


def _against_multinomial(label, ours, features, x, y, shape, repeats):
    """Unregularised matrix scaling is multinomial logistic regression on the
    logits (Dirichlet calibration: on the log-probabilities); netcal has
    neither, so the peer is scikit-learn's ``LogisticRegression``."""
    from sklearn.linear_model import LogisticRegression

    n, k = shape
    (floor, ours_s, theirs_s), (_, cal, ref) = interleaved_times(
        [
            lambda: np.exp(x),
            lambda: ours().fit(x, y),
            lambda: LogisticRegression(penalty=None, max_iter=1000).fit(features(x), y),
        ],
        repeats,
    )
    return {
        "workload": f"{label} fit (no penalty), {x.dtype} {n:.0e} x {k}",
        "floor": "np.exp",
        "floor_s": floor,
        "calibkit_s": ours_s,
        "sklearn_s": theirs_s,
        "calibkit_loss": proba_loss(y, cal.predict_proba(x)),
        "sklearn_loss": proba_loss(y, ref.predict_proba(features(x))),
        "calibkit_peak_mb": peak_memory(lambda: ours().fit(x, y)) / 1e6,
        "input_mb": x.nbytes / 1e6,
    }


def bench_matrix(shape, repeats, rng):
    z, y = multiclass_logits(*shape, rng)
    return _against_multinomial(
        "matrix scaling",
        lambda: MatrixScaling(reg_off_diagonal=0.0, reg_bias=0.0),
        lambda x: x,
        z,
        y,
        shape,
        repeats,
    )


def bench_dirichlet(shape, repeats, rng):
    p, y = probability_rows(shape, rng)
    return _against_multinomial(
        "Dirichlet calibration",
        lambda: DirichletCalibration(
            input="probabilities", reg_off_diagonal=0.0, reg_bias=0.0
        ),
        np.log,
        p,
        y,
        shape,
        repeats,
    )


def _metric_rows(label, y, prob, repeats, floor_name, floor_func, ref=None):
    rows = []
    metric_calls = {
        "log_loss": lambda: ckm.log_loss(y, prob),
        "expected_calibration_error": lambda: ckm.expected_calibration_error(y, prob),
        "reliability_curve (uniform)": lambda: ckm.reliability_curve(y, prob),
    }
    if prob.ndim == 1 and hasattr(ckm, "decompose"):
        metric_calls["decompose (CORP)"] = lambda: ckm.decompose(y, prob)
    for name, call in metric_calls.items():
        funcs = [floor_func, call] + ([ref[name]] if ref and name in ref else [])
        times, _ = interleaved_times(funcs, repeats)
        floor_s, ours, theirs = (*times, None)[:3]
        rows.append(
            {
                "workload": f"{name}, {label}",
                "floor": floor_name,
                "floor_s": floor_s,
                "calibkit_s": ours,
                "sklearn_s": theirs,
                "calibkit_peak_mb": peak_memory(call) / 1e6,
                "input_mb": prob.nbytes / 1e6,
            }
        )
    return rows


def bench_metrics_binary(n, repeats, rng):
    s, y = binary_scores(n, rng)
    p = expit(0.5 * s)
    argsort, _ = median_time(lambda: np.argsort(p), repeats)
    ref = {
        "reliability_curve (uniform)": lambda: calibration_curve(y, p, n_bins=10),
        "log_loss": lambda: sklearn.metrics.log_loss(y, p),
    }
    rows = _metric_rows(
        f"binary n={n:.0e}",
        y,
        p,
        repeats,
        "log1p(exp(-|z|))",
        lambda: np.log1p(np.exp(-np.abs(s))),
        ref,
    )
    for row in rows:
        if row["workload"].startswith("decompose"):
            row["floor"], row["floor_s"] = "argsort", argsort
    return rows


def bench_metrics_multiclass(shape, repeats, rng):
    n, k = shape
    z, y = multiclass_logits(n, k, rng)
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    ref = {"log_loss": lambda: sklearn.metrics.log_loss(y, prob, labels=np.arange(k))}
    return _metric_rows(
        f"float32 {n:.0e} x {k}", y, prob, repeats, "np.exp", lambda: np.exp(z), ref
    )


def bench_bootstrap(shape, repeats, rng):
    """95% bootstrap intervals (``confidence_interval``) of log-loss, Brier and
    ECE with ``n_resamples`` resamples, against scipy.stats.bootstrap where it
    applies (mean scores, given the per-row losses, vectorised, same batch
    size) and against the floor of drawing the resampled row numbers.

    At n >= 1e6 each interval is timed once (``n_resamples * n`` draws take
    tens of seconds), and scipy only at the smaller n. The peak memory is that
    of a 100-resample run: memory is per block of resamples, not per resample.
    """
    n, n_resamples = shape
    s, y = binary_scores(n, rng)
    p = expit(0.5 * s)
    runs = 1 if n >= 10**6 else repeats
    per_block = max(1, (1 << 22) // n)

    def draw_floor():
        generator = np.random.default_rng(0)
        for start in range(0, n_resamples, per_block):
            generator.integers(0, n, size=(min(per_block, n_resamples - start), n))

    losses = {
        "log_loss": np.where(y == 1, -np.log(p), -np.log1p(-p)),
        "brier_score": (p - y) ** 2,
    }
    rows = []
    for metric in ("log_loss", "brier_score", "expected_calibration_error"):

        def ours(metric=metric, resamples=n_resamples):
            return ckm.confidence_interval(
                metric, y, p, n_resamples=resamples, random_state=0
            )

        funcs = [draw_floor, ours]
        if metric in losses and n < 10**6:
            import scipy.stats

            def theirs(values=losses[metric]):
                return scipy.stats.bootstrap(
                    (values,),
                    np.mean,
                    n_resamples=n_resamples,
                    batch=per_block,
                    method="percentile",
                    vectorized=True,
                    random_state=0,
                )

            funcs.append(theirs)
        times, results = interleaved_times(funcs, runs)
        floor_s, ours_s, theirs_s = (*times, None)[:3]
        row = {
            "workload": f"bootstrap CI {metric}, {n_resamples} resamples, "
            f"n={n:.0e}" + (" (peer: scipy.stats.bootstrap)" if theirs_s else ""),
            "floor": "draw the row numbers",
            "floor_s": floor_s,
            "calibkit_s": ours_s,
            "sklearn_s": theirs_s,  # the peer's column: here scipy
            "calibkit_peak_mb": peak_memory(lambda m=metric: ours(m, 100)) / 1e6,
            "input_mb": p.nbytes / 1e6,
            "runs": runs,
            "interval": [results[1].low, results[1].high],
        }
        if theirs_s:
            interval = results[2].confidence_interval
            row["peer_interval"] = [float(interval.low), float(interval.high)]
        rows.append(row)
    return rows


def bench_corp(n, repeats, rng):
    """CORP decomposition of binary forecasts alone, against argsort."""
    s, y = binary_scores(n, rng)
    p = expit(0.5 * s)
    floor, _ = median_time(lambda: np.argsort(p), repeats)
    ours, _ = median_time(lambda: ckm.decompose(y, p), repeats)
    return {
        "workload": f"decompose (CORP) only, binary n={n:.0e}",
        "floor": "argsort",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": None,
        "calibkit_peak_mb": peak_memory(lambda: ckm.decompose(y, p)) / 1e6,
        "input_mb": p.nbytes / 1e6,
    }


def bench_isotonic_out_of_core(n, repeats, rng):
    """Out-of-core isotonic fit of a ``.npy`` memmap 8x its memory budget, by
    the public API: ``IsotonicCalibration.fit(..., memory_budget=)``.

    The floor is one chunked pass that reads the scores; peak memory is
    measured with scipy.optimize already imported (its modules are not data).
    The labels are int64 0/1 codes (used in place) in a copy-on-write map
    (``np.bincount`` in the label encoding copies a read-only array).
    """
    import tempfile

    import scipy.optimize  # noqa: F401
    from numpy.lib.format import open_memmap

    budget = n  # bytes: an eighth of the scores' size
    with tempfile.TemporaryDirectory() as tmp:
        s = open_memmap(f"{tmp}/s.npy", mode="w+", dtype=np.float64, shape=(n,))
        y = open_memmap(f"{tmp}/y.npy", mode="w+", dtype=np.intp, shape=(n,))
        for start in range(0, n, 10**7):
            stop = min(start + 10**7, n)
            s[start:stop], y[start:stop] = binary_scores(stop - start, rng)
        s.flush()
        y.flush()
        del s, y
        s = np.load(f"{tmp}/s.npy", mmap_mode="r")
        y = np.load(f"{tmp}/y.npy", mmap_mode="c")
        tempfile.tempdir, before = tmp, tempfile.tempdir  # runs next to the data

        def read_once():
            return sum(float(np.sum(s[a : a + 10**6])) for a in range(0, n, 10**6))

        def fit():
            return IsotonicCalibration(eps=0).fit(s, y, memory_budget=budget)

        try:
            (floor, ours), _ = interleaved_times([read_once, fit], repeats)
            peak = peak_memory(fit)
        finally:
            tempfile.tempdir = before
    return {
        "workload": f"isotonic out of core, n={n:.0e}, budget {budget / 1e6:g} MB",
        "floor": "read the .npy once",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": None,
        "calibkit_peak_mb": peak / 1e6,
        "input_mb": n * 8 / 1e6,
    }


def bench_smooth_cumulative(n, repeats, rng):
    """Smooth ECE (against relplot, the authors' package, when installed) and
    the cumulative statistics (against the argsort they need), binary forecasts.

    The "scikit-learn (s)" column holds relplot's time for the smooth ECE row.
    """
    s, y = binary_scores(n, rng)
    p = expit(0.5 * s)
    t = y.astype(np.float64)
    try:
        import relplot
    except ImportError:
        relplot = None
    floor = lambda: np.argsort(p)  # noqa: E731
    funcs = [floor, lambda: ckm.smooth_ece(y, p)]
    if relplot is not None:
        funcs.append(lambda: relplot.smECE(p, t))
    times, results = interleaved_times(funcs, repeats)
    floor_s, ours, theirs = (*times, None)[:3]
    smooth = {
        "workload": f"smooth_ece (auto bandwidth) vs relplot.smECE, binary n={n:.0e}",
        "floor": "argsort",
        "floor_s": floor_s,
        "calibkit_s": ours,
        "sklearn_s": theirs,
        "peer": "relplot" if relplot is not None else None,
        "calibkit_value": results[1],
        "peer_value": float(results[2]) if relplot is not None else None,
        "calibkit_peak_mb": peak_memory(lambda: ckm.smooth_ece(y, p)) / 1e6,
        "input_mb": p.nbytes / 1e6,
    }
    (floor_s, ours), _ = interleaved_times(
        [floor, lambda: ckm.cumulative_calibration(y, p)], repeats
    )
    cumulative = {
        "workload": f"cumulative_calibration (ECCE-MAD, ECCE-R), binary n={n:.0e}",
        "floor": "argsort",
        "floor_s": floor_s,
        "calibkit_s": ours,
        "sklearn_s": None,
        "calibkit_peak_mb": peak_memory(lambda: ckm.cumulative_calibration(y, p)) / 1e6,
        "input_mb": p.nbytes / 1e6,
    }
    return [smooth, cumulative]


def bench_isotonic_dask(n, repeats, rng):
    """Exact isotonic fit of a dask array on a LocalCluster (two in-process
    workers), against the in-memory fit of the same rows as the floor.

    Peak memory is the client's (with in-process workers: theirs too).
    """
    try:
        import dask.array as da
        import distributed
    except ImportError:  # the optional dask extra
        return []
    s, y = binary_scores(n, rng)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    with distributed.Client(cluster):
        ds = da.from_array(s, chunks=max(1, n // 8)).persist()

        def in_memory():
            return IsotonicCalibration(eps=0).fit(s, y)

        def on_dask():
            return IsotonicCalibration(eps=0).fit(ds, y)

        on_dask()  # imports dask.dataframe once
        (floor, ours), (ref, cal) = interleaved_times([in_memory, on_dask], repeats)
        same = np.array_equal(ref.X_thresholds_[0], cal.X_thresholds_[0])
        if not same or not np.allclose(
            ref.y_thresholds_[0], cal.y_thresholds_[0], rtol=1e-12, atol=0
        ):
            raise AssertionError("the dask fit differs from the in-memory fit")
        peak = peak_memory(on_dask)
    cluster.close()
    return {
        "workload": f"isotonic fit on dask (2 workers, 8 blocks), n={n:.0e}",
        "floor": "in-memory fit",
        "floor_s": floor,
        "calibkit_s": ours,
        "sklearn_s": None,
        "calibkit_peak_mb": peak / 1e6,
        "input_mb": s.nbytes / 1e6,
    }


def bench_smooth_small(n, repeats, rng):
    """Smooth ECE of a few rows (one group of ``calibration_by_group``, one
    bootstrap resample), against relplot when installed: a small sample has a
    wide kernel, so the grid is sized to it."""
    s, y = binary_scores(n, rng)
    p = expit(0.5 * s)
    try:
        import relplot
    except ImportError:
        relplot = None
    funcs = [lambda: np.argsort(p), lambda: ckm.smooth_ece(y, p)]
    if relplot is not None:
        funcs.append(lambda: relplot.smECE(p, y.astype(np.float64)))
    times, results = interleaved_times(funcs, repeats)
    floor_s, ours, theirs = (*times, None)[:3]
    return {
        "workload": f"smooth_ece (auto bandwidth) vs relplot.smECE, binary n={n}",
        "floor": "argsort",
        "floor_s": floor_s,
        "calibkit_s": ours,
        "sklearn_s": theirs,
        "peer": "relplot" if relplot is not None else None,
        "calibkit_value": results[1],
        "peer_value": float(results[2]) if relplot is not None else None,
        "calibkit_peak_mb": peak_memory(lambda: ckm.smooth_ece(y, p)) / 1e6,
        "input_mb": p.nbytes / 1e6,
    }


BENCHES = {
    "platt": bench_platt,
    "isotonic": bench_isotonic,
    "temperature": bench_temperature,
    "temperature_netcal": bench_temperature_netcal,
    "vector_netcal": bench_vector_netcal,
    "matrix": bench_matrix,
    "dirichlet": bench_dirichlet,
    "metrics_binary": bench_metrics_binary,
    "metrics_multiclass": bench_metrics_multiclass,
    "bootstrap": bench_bootstrap,
    "beta": bench_beta,
    "corp": bench_corp,
    "isotonic_out_of_core": bench_isotonic_out_of_core,
    "smooth_cumulative": bench_smooth_cumulative,
    "smooth_small": bench_smooth_small,
    "isotonic_dask": bench_isotonic_dask,
}


def markdown(rows):
    head = (
        "| workload | calibkit (s) | scikit-learn (s) | speed-up | floor | "
        "calibkit / floor | log-loss calibkit | log-loss scikit-learn | "
        "peak MB / input MB (%) |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        speedup = r["sklearn_s"] / r["calibkit_s"] if r.get("sklearn_s") else None
        cells = [
            r["workload"],
            f"{r['calibkit_s']:.4f}",
            f"{r['sklearn_s']:.4f}" if r.get("sklearn_s") else "-",
            f"{speedup:.1f}x" if speedup else "-",
            r["floor"],
            f"{r['calibkit_s'] / r['floor_s']:.1f}",
            f"{r['calibkit_loss']:.12g}" if "calibkit_loss" in r else "-",
            f"{r['sklearn_loss']:.12g}" if "sklearn_loss" in r else "-",
            f"{r['calibkit_peak_mb']:.1f} / {r['input_mb']:.1f} "
            f"({100 * r['calibkit_peak_mb'] / r['input_mb']:.1f} %)",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per timing")
    parser.add_argument(
        "--only", nargs="*", choices=sorted([*BENCHES, "startup"]), default=None
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    rng = np.random.default_rng(0)
    rows = []
    warnings.simplefilter("ignore")  # e.g. separable scores at small sizes
    for name in args.only or BENCHES:
        if name == "startup":
            continue
        for size in sizes[name]:
            print(f"running {name} {size} ...", file=sys.stderr, flush=True)
            result = BENCHES[name](size, repeats, rng)
            rows.extend(result if isinstance(result, list) else [result])
    table = markdown(rows)
    print(table)
    startup_rows = []
    if args.only is None or "startup" in args.only:
        print("running startup ...", file=sys.stderr, flush=True)
        # Median of 7 runs (1 in quick mode: a smoke test of the rows).
        startup_rows = startup.startup_rows(1 if args.quick else max(repeats, 7))
        print("\n" + startup.markdown(startup_rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    meta = {
        "calibkit": calibkit.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeats": repeats,
        "quick": args.quick,
    }
    path = args.out / f"{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(
        json.dumps({"meta": meta, "results": rows, "startup": startup_rows}, indent=2)
    )
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
