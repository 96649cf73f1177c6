"""Array API inputs: torch on a GPU, and torch on the CPU against numpy.

Two parts:

1. **GPU** (only when ``torch.cuda.is_available()``; otherwise it prints that
   it skipped): temperature and vector scaling fitted on 1e6 x 1000 float32
   logits that live on the GPU, Platt scaling and beta calibration fitted on
   1e8 float32 binary forecasts there, and the pass-style metrics (log-loss,
   Brier, ECE unweighted and weighted, entropy) on them. Seconds per call
   (median of ``--repeats``), and the host memory never holds the data.
2. **CPU**: the same calls on torch CPU tensors and on numpy arrays holding
   the same values (calibkit's numpy path is the peer), at a size that fits
   this machine; the ratio torch / numpy of the median times.

Run ``python benchmarks/gpu.py`` (``--rows``, ``--classes``, ``--metric-rows``,
``--repeats``, ``--threads`` set the CPU part; ``--quick`` shrinks it).
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import calibkit as ck
import calibkit.metrics as m


def _median_seconds(func, repeats):
    func()  # warm-up: first-call imports and allocations are not timed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _workloads(z, y, p, y_bin, s, w):
    """``{name: callable}`` on logits ``z`` (n, K), labels, 1-D forecasts ``p``.

    ``s`` are the log-odds of ``p`` and ``w`` weights of its rows (host).
    """
    beta = ck.BetaCalibration(input="probabilities")
    return {
        "TemperatureScaling fit": lambda: ck.TemperatureScaling().fit(z, y),
        "TemperatureScaling predict_proba": lambda: (
            ck.TemperatureScaling().fit(z[:1000], y[:1000]).predict_proba(z)
        ),
        "VectorScaling fit": lambda: ck.VectorScaling().fit(z, y),
        "log_loss (logits)": lambda: m.log_loss(y, z, input="logits"),
        "log_loss (1-D)": lambda: m.log_loss(y_bin, p),
        "brier_score (1-D)": lambda: m.brier_score(y_bin, p),
        "expected_calibration_error (1-D)": lambda: m.expected_calibration_error(
            y_bin, p
        ),
        "expected_calibration_error (1-D, weighted)": lambda: (
            m.expected_calibration_error(y_bin, p, sample_weight=w)
        ),
        "entropy (1-D)": lambda: m.entropy(p),
        "Platt fit (1-D log-odds)": lambda: ck.PlattScaling().fit(s, y_bin),
        "BetaCalibration fit (1-D)": lambda: beta.fit(p, y_bin),
    }


def _data(rng, n, k, n_metric):
    y = rng.integers(0, k, n)
    z = rng.normal(size=(n, k)).astype(np.float32) * 2.0
    z[np.arange(n), y] += 1.5
    p = rng.uniform(0.01, 0.99, n_metric).astype(np.float32)
    y_bin = (rng.uniform(size=n_metric) < p).astype(np.int64)
    s = np.log(p) - np.log1p(-p)
    return z, y, p, y_bin, s


def gpu_part(torch, repeats):
    if not torch.cuda.is_available():
        print("GPU part skipped: no CUDA device (torch.cuda.is_available() is False).")
        return
    device = torch.device("cuda")
    print(f"GPU part on {torch.cuda.get_device_name(device)}")
    gen = torch.Generator(device=device).manual_seed(0)
    n, k, n_metric = 1_000_000, 1000, 100_000_000
    y = torch.randint(0, k, (n,), device=device, generator=gen)
    z = 2.0 * torch.randn(n, k, device=device, generator=gen, dtype=torch.float32)
    z[torch.arange(n, device=device), y] += 1.5
    p = torch.rand(n_metric, device=device, generator=gen, dtype=torch.float32)
    p = 0.01 + 0.98 * p
    y_bin = (torch.rand(n_metric, device=device, generator=gen) < p).to(torch.int64)
    s = torch.log(p) - torch.log1p(-p)
    w = np.random.default_rng(0).uniform(0.0, 2.0, n_metric)
    print("| workload | size | seconds (median) |")
    print("|---|---|---|")
    with ck.config_context(array_api_dispatch=True):
        for name, func in _workloads(z, y, p, y_bin, s, w).items():
            size = (
                f"{n:.0e} x {k}"
                if "Scaling" in name or "logits" in name
                else (f"{n_metric:.0e}")
            )

            def synced(func=func):
                func()
                torch.cuda.synchronize()

            print(f"| {name} | {size} | {_median_seconds(synced, repeats):.3g} |")


def cpu_part(torch, args):
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    z, y, p, y_bin, s = _data(rng, args.rows, args.classes, args.metric_rows)
    w = rng.uniform(0.0, 2.0, args.metric_rows)
    on_host = _workloads(z, y, p, y_bin, s, w)
    tensors = [torch.from_numpy(a) for a in (z, y, p, y_bin, s)]
    on_torch = _workloads(*tensors, w)
    print(
        f"CPU part: torch {torch.__version__} ({args.threads} intra-op threads) "
        f"against numpy; logits {args.rows} x {args.classes} float32, 1-D "
        f"forecasts {args.metric_rows} float32; median of {args.repeats} runs"
    )
    print("| workload | numpy (s) | torch CPU (s) | torch / numpy |")
    print("|---|---|---|---|")
    for name in on_host:
        numpy_s = _median_seconds(on_host[name], args.repeats)
        with ck.config_context(array_api_dispatch=True):
            torch_s = _median_seconds(on_torch[name], args.repeats)
        print(f"| {name} | {numpy_s:.3g} | {torch_s:.3g} | {torch_s / numpy_s:.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--metric-rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.classes, args.metric_rows, args.repeats = 5000, 10, 50_000, 1
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to run.")
        return
    warnings.simplefilter("ignore")
    gpu_part(torch, args.repeats)
    cpu_part(torch, args)


if __name__ == "__main__":
    main()
