"""Wall-clock time of each plotting example, run as a script with Agg.

The test suite checks that the examples run and save their figures
(``tests/test_examples.py``); how long they take depends on the machine and
its load, so it is measured here instead. Each example runs ``--repeats``
times in a fresh interpreter (import time included, as a user sees it) and
the median is reported against a budget.

Usage::

    python benchmarks/examples.py                   # every examples/plot_*.py
    python benchmarks/examples.py --repeats 3 --budget 30 plot_compare_methods

Prints a markdown table; exits with status 1 when an example fails or its
median exceeds ``--budget`` seconds.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_once(script):
    """Seconds one run of ``script`` takes, or None when it fails."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(script), out],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return None
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="example stems (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds")
    args = parser.parse_args(argv)
    scripts = sorted(EXAMPLES.glob("plot_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem in args.names]
    print(f"| example | median of {args.repeats} (s) | within {args.budget:g} s |")
    print("|---|---|---|")
    ok = True
    for script in scripts:
        times = [run_once(script) for _ in range(args.repeats)]
        if None in times:
            print(f"| {script.stem} | failed | no |")
            ok = False
            continue
        median = statistics.median(times)
        within = median <= args.budget
        ok &= within
        print(f"| {script.stem} | {median:.1f} | {'yes' if within else 'NO'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
