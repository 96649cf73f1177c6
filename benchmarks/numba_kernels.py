"""Would a compiled kernel meet the 1e5-row floor targets? (benchmark only)

Times one fused pass of the Platt and temperature Newton sums, compiled with
numba, against the floor of ``run.py`` (``log1p(exp(-|z|))`` over 1e5 binary
scores, ``np.exp`` over 1e5 x 10 float32 logits), in process CPU time
(medians of 51 runs). ``benchmarks/count_passes.py --profile`` gives
calibkit's pure-numpy pass in the same units. numba is not a dependency of
calibkit: this script only argues whether one would pay off.

Usage::

    pip install numba    # not part of any calibkit extra
    python benchmarks/numba_kernels.py
"""

import time

import numpy as np
from count_passes import binary, multiclass


def _median_cpu(func, repeats=51):
    times = []
    for _ in range(repeats):
        start = time.process_time()
        func()
        times.append(time.process_time() - start)
    return float(np.median(times))


def main():
    import numba

    @numba.njit(cache=False, fastmath=False)
    def platt_pass(s, y, a, b):
        """Log-loss, gradient and Hessian of sigmoid(a s + b), one sweep."""
        loss = g0 = g1 = h00 = h01 = h11 = 0.0
        for i in range(s.shape[0]):
            t = a * s[i] + b
            e = np.exp(-abs(t))
            log_term = np.log1p(e)
            p = 1.0 / (1.0 + e) if t >= 0 else e / (1.0 + e)
            loss += log_term + (max(t, 0.0) - t * y[i])
            r = p - y[i]
            w = p * (1.0 - p)
            g0 += r * s[i]
            g1 += r
            h00 += w * s[i] * s[i]
            h01 += w * s[i]
            h11 += w
        return loss, g0, g1, h00, h01, h11

    @numba.njit(cache=False)
    def temperature_pass(z, y, inv_t):
        """Log-loss and its first two derivatives in 1/T, one sweep."""
        loss = d1 = d2 = 0.0
        for i in range(z.shape[0]):
            row = z[i]
            top = row[0]
            for k in range(1, row.shape[0]):
                top = max(top, row[k])
            total = m1 = m2 = 0.0
            for k in range(row.shape[0]):
                v = float(row[k]) - top
                e = np.exp(inv_t * v)
                total += e
                m1 += e * v
                m2 += e * v * v
            mean = m1 / total
            loss += np.log(total) - inv_t * (float(row[y[i]]) - top)
            d1 += mean - (float(row[y[i]]) - top)
            d2 += m2 / total - mean * mean
        return loss, d1, d2

    s, y = binary(10**5)
    yf = y.astype(np.float64)
    z, yz = multiclass(10**5, 10)
    platt_pass(s, yf, 0.5, -0.3)  # compile
    temperature_pass(z, yz, 0.7)
    floor_b = _median_cpu(lambda: np.log1p(np.exp(-np.abs(s))))
    floor_m = _median_cpu(lambda: np.exp(z))
    platt = _median_cpu(lambda: platt_pass(s, yf, 0.5, -0.3))
    temp = _median_cpu(lambda: temperature_pass(z, yz, 0.7))
    print("| kernel | pass (ms) | floor (ms) | pass / floor |\n|---|---|---|---|")
    print(
        f"| Platt, n=1e5 | {platt * 1e3:.3f} | {floor_b * 1e3:.3f} | "
        f"{platt / floor_b:.2f} |"
    )
    print(
        f"| temperature, float32 1e5x10 | {temp * 1e3:.3f} | {floor_m * 1e3:.3f} | "
        f"{temp / floor_m:.2f} |"
    )


if __name__ == "__main__":
    main()
