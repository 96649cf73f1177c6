"""Out-of-core isotonic calibration of a ``.npy`` memmap larger than a budget.

Writes ``n`` float64 scores and int64 0/1 labels to ``.npy`` files in ``--dir``
(default: the temporary directory), fits
``IsotonicCalibration(eps=0).fit(scores, labels, memory_budget=budget)`` on the
memory maps (the public API), and reports the wall time, the time of one
chunked read of the scores (the floor), the fit's CPU time and the peak Python
allocations during the fit (``tracemalloc``, in a second fit). With
``--check``, the fit is compared with the in-memory fit (only for sizes that
fit in memory). The files are deleted at the end.

Usage::

    python benchmarks/out_of_core.py --n 100000000 --budget 100000000
    python benchmarks/out_of_core.py --n 1000000 --budget 1000000 --check
"""

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from scipy.special import expit

from calibkit import IsotonicCalibration


def write_data(directory, n, seed=0, block=10**7):
    """Scores and 0/1 labels in ``.npy`` files, written block by block."""
    rng = np.random.default_rng(seed)
    s = open_memmap(directory / "scores.npy", "w+", np.float64, (n,))
    # int64 labels 0/1 are their own class codes: used in place, not copied.
    y = open_memmap(directory / "labels.npy", "w+", np.intp, (n,))
    for start in range(0, n, block):
        stop = min(start + block, n)
        part = rng.normal(0.0, 2.0, stop - start)
        s[start:stop] = part
        y[start:stop] = rng.random(stop - start) < expit(0.5 * part - 0.3)
    s.flush()
    y.flush()
    del s, y
    # Copy-on-write labels: np.bincount (in the label encoding) copies a
    # read-only array, which a mmap_mode="r" map is; nothing is written.
    return (
        np.load(directory / "scores.npy", mmap_mode="r"),
        np.load(directory / "labels.npy", mmap_mode="c"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10**8)
    parser.add_argument("--budget", type=int, default=10**8, help="bytes")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        s, y = write_data(tmp, args.n)
        tempfile.tempdir = str(tmp)  # the sorted runs go next to the data

        def fit():
            return IsotonicCalibration(eps=0).fit(s, y, memory_budget=args.budget)

        def read_once():
            step = 10**6
            return sum(float(np.sum(s[a : a + step])) for a in range(0, args.n, step))

        times, floors, cpu = [], [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            read_once()
            floors.append(time.perf_counter() - start)
            start, start_cpu = time.perf_counter(), time.process_time()
            cal = fit()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        tracemalloc.start()
        fit()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        disk = sum(p.stat().st_size for p in tmp.iterdir())
        print(
            f"rows {args.n:.0e}, scores {args.n * 8 / 1e6:.0f} MB on disk "
            f"({disk / 1e9:.2f} GB with labels), budget {args.budget / 1e6:g} MB"
        )
        print(
            f"fit {np.median(times):.1f} s (median of {args.repeats}), "
            f"read the scores once {np.median(floors):.1f} s, "
            f"ratio {np.median(times) / np.median(floors):.1f}; CPU time of the "
            f"fit {np.median(cpu):.1f} s (load from other processes stretches the "
            "wall time, not the CPU time)"
        )
        print(
            f"peak Python allocations during the fit {peak / 1e6:.1f} MB "
            f"({100 * peak / (args.n * 8):.1f} % of the scores)"
        )
        print(f"knots {cal.X_thresholds_[0].shape[0]}")
        if args.check:
            ref = IsotonicCalibration(eps=0).fit(np.array(s), np.array(y))
            same = np.array_equal(ref.X_thresholds_[0], cal.X_thresholds_[0])
            gap = np.max(np.abs(ref.y_thresholds_[0] - cal.y_thresholds_[0]))
            print(f"equal to the in-memory fit: knots {same}, values within {gap:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
