"""Count the passes over the data that the Platt and temperature fits make.

A pass is one :func:`calibkit._chunks.reduce_rows` reduction (every solver
iteration, summary and validation check is one). Counting passes instead of
timing them compares solver versions on a loaded machine. The workloads are
those of ``run.py``.

Usage::

    python benchmarks/count_passes.py

Prints a markdown table: workload, passes over all rows, row-passes (rows
read by every reduction, subsample fits included, divided by the number of
rows), ``n_iter_``.
"""

import sys

import numpy as np
from scipy.special import expit, log_softmax

import calibkit._chunks as chunks
from calibkit import PlattScaling, TemperatureScaling

_count = [0]
_rows = [0]
_reduce_rows = chunks.reduce_rows


def _counted(kernel, *arrays, **kwargs):
    _rows[0] += arrays[0].shape[0]
    _count[0] += arrays[0].shape[0] == _n_rows[0]
    return _reduce_rows(kernel, *arrays, **kwargs)


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


def main():
    _install_counter()
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
