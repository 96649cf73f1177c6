"""Count the passes over the data that the Platt and temperature fits make.

A pass is one :func:`calibkit._chunks.reduce_rows` reduction (every solver
iteration, summary and validation check is one). Counting passes instead of
timing them compares solver versions on a loaded machine. The workloads are
those of ``run.py``.

Usage::

    python benchmarks/count_passes.py
    python benchmarks/count_passes.py --profile   # where the time goes at 1e5

Prints a markdown table: workload, passes over all rows, row-passes (rows
read by every reduction, subsample fits included, divided by the number of
rows), ``n_iter_``.
"""

import sys
import time

import numpy as np
from scipy.special import expit, log_softmax

import calibkit._chunks as chunks
from calibkit import PlattScaling, TemperatureScaling

_count = [0]
_rows = [0]
_reduce_rows = chunks.reduce_rows


_seconds = [0.0, 0.0]  # in reductions over all rows, over subsamples


def _counted(kernel, *arrays, **kwargs):
    _rows[0] += arrays[0].shape[0]
    full = arrays[0].shape[0] == _n_rows[0]
    _count[0] += full
    start = _clock()
    try:
        return _reduce_rows(kernel, *arrays, **kwargs)
    finally:
        _seconds[0 if full else 1] += _clock() - start


_n_rows = [0]


def _install_counter():
    # Modules import reduce_rows by name: replace it wherever it was imported.
    for name, module in list(sys.modules.items()):
        if name.startswith("calibkit") and (
            getattr(module, "reduce_rows", None) is _reduce_rows
        ):
            module.reduce_rows = _counted


def binary(n, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(0.5 * s - 0.3)).astype(np.int64)
    return s, y


def multiclass(n, k, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, (n, k)).astype(np.float32)
    y = rng.integers(0, k, n)
    z[np.arange(n), y] += np.float32(4.0)
    return z, y


def workloads():
    for n in (10**5, 10**6, 10**7):
        s, y = binary(n)
        yield f"Platt smoothed n={n:.0e}", PlattScaling(target_smoothing=True), s, y
        yield f"Platt n={n:.0e}", PlattScaling(), s, y
    for k in (10, 100):
        z, y = multiclass(10**5, k)
        yield f"temperature float32 1e5x{k}", TemperatureScaling(), z, y
    s, y = binary(10**5)
    yield "temperature binary 1e5 (1-D)", TemperatureScaling(), s, y
    yield (
        "temperature binary float32 1e5 (1-D)",
        TemperatureScaling(),
        s.astype(np.float32),
        y,
    )
    z, y = multiclass(10**5, 10)
    p = np.exp(log_softmax(z.astype(np.float64), axis=1)).astype(np.float32)
    yield (
        "temperature probabilities float32 1e5x10",
        TemperatureScaling(input="probabilities"),
        p,
        y,
    )


#: CPU time of this process: on a shared machine, wall time stretches long
#: calls (preempted) more than the sub-millisecond floor, CPU time does not.
_clock = time.process_time


def _median(func, repeats):
    times = []
    for _ in range(repeats):
        start = _clock()
        func()
        times.append(_clock() - start)
    return float(np.median(times))


def profile(repeats=21):
    """Where a fit's time goes at the sizes whose floor targets are missed.

    In units of the floor of ``run.py`` (one ``log1p(exp(-|z|))`` pass over
    binary scores, one ``np.exp`` over the logits), medians of ``repeats``
    runs of process CPU time: the whole fit; the reductions over all rows
    (the per-pass kernels); the reductions over the warm-start subsample; and
    the rest (validation,
    label encoding, solver steps: per-call overhead that does not grow with
    the rows).
    """
    s, y = binary(10**5)
    z, yz = multiclass(10**5, 10)
    cases = [
        ("Platt n=1e5", PlattScaling, s, y, lambda: np.log1p(np.exp(-np.abs(s)))),
        ("temperature float32 1e5x10", TemperatureScaling, z, yz, lambda: np.exp(z)),
    ]
    print(
        "| workload | floor (ms) | fit / floor | full-row passes | per pass / floor "
        "| subsample / floor | rest / floor |\n|---|---|---|---|---|---|---|"
    )
    for label, cls, X, target, floor_func in cases:
        floor = _median(floor_func, repeats)
        fits, full, sub = [], [], []
        for _ in range(repeats):
            _seconds[0] = _seconds[1] = 0.0
            _count[0] = 0
            _n_rows[0] = X.shape[0]
            start = _clock()
            cls().fit(X, target)
            fits.append(_clock() - start)
            full.append(_seconds[0])
            sub.append(_seconds[1])
        fit, full, sub = (float(np.median(v)) for v in (fits, full, sub))
        print(
            f"| {label} | {floor * 1e3:.3f} | {fit / floor:.1f} | {_count[0]} | "
            f"{full / _count[0] / floor:.1f} | {sub / floor:.1f} | "
            f"{(fit - full - sub) / floor:.1f} |",
            flush=True,
        )


def main():
    _install_counter()
    if "--profile" in sys.argv[1:]:
        profile()
        return
    print("| workload | passes | row-passes | n_iter_ |\n|---|---|---|---|")
    for label, estimator, X, y in workloads():
        _count[0] = _rows[0] = 0
        _n_rows[0] = X.shape[0]
        estimator.fit(X, y)
        row_passes = _rows[0] / X.shape[0]
        print(
            f"| {label} | {_count[0]} | {row_passes:.2f} | {estimator.n_iter_} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
