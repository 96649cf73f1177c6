"""Time two report workloads: calibration_by_group on many small groups, and
evaluate_forecasts with bootstrap intervals (``calibkit evaluate --groups`` and
``--ci``). Run it at two commits to compare them; prints medians.

    python benchmarks/groups_and_intervals.py --repeats 3
"""

import argparse
import time

import numpy as np

from calibkit.metrics import calibration_by_group
from calibkit.report._report import evaluate_forecasts


def median_time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 3000)
    y = (rng.random(3000) < p).astype(int)
    groups = rng.integers(0, 300, 3000)
    by_group = lambda: calibration_by_group(y, p, groups=groups)  # noqa: E731
    seconds = median_time(by_group, args.repeats)
    print(f"calibration_by_group, 300 groups of ~10 rows: median {seconds:.2f} s")
    q = rng.uniform(0.05, 0.95, 5000)
    t = (rng.random(5000) < q**1.2).astype(int)
    seconds = median_time(lambda: evaluate_forecasts(t, q, ci=0.95), args.repeats)
    print(f"evaluate_forecasts(ci=0.95), 5,000 rows: median {seconds:.2f} s")


if __name__ == "__main__":
    main()
