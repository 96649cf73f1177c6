"""Start-up time: ``import calibkit`` and ``calibkit --help`` against bare Python.

Each command runs in a new interpreter, ``--runs`` times, the commands taking
turns (one run of each, then the next round) so that a change in the machine's
load hits every row alike. A row reports the median wall time, its ratio to
``python -c pass`` (the interpreter's own start-up) and the time above
``import sklearn``.

Usage::

    python benchmarks/startup.py             # 7 runs of each command
    python benchmarks/startup.py --runs 15

``benchmarks/run.py`` calls :func:`startup_rows` and prints the same table.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The command line's own entry point (the ``calibkit`` console script runs
#: exactly this), so that the interpreter the benchmark runs under is measured.
_CLI = "import sys; from calibkit.cli import main; sys.exit(main())"

#: (row label, arguments of the interpreter). The first is the baseline.
COMMANDS = [
    ("python -c pass", ["-c", "pass"]),
    ("import sklearn", ["-c", "import sklearn"]),
    ("import calibkit", ["-c", "import calibkit"]),
    ("import calibkit.metrics", ["-c", "import calibkit.metrics"]),
    ("calibkit --help", ["-c", _CLI, "--help"]),
    ("calibkit fit --help", ["-c", _CLI, "fit", "--help"]),
    # First use, not import: what a script that calibrates pays in total.
    (
        "every calibkit.metrics name",
        ["-c", "import calibkit.metrics as m; [getattr(m, n) for n in m.__all__]"],
    ),
    (
        "import calibkit; calibkit.PlattScaling",
        ["-c", "import calibkit; calibkit.PlattScaling"],
    ),
]


def _environment():
    """The environment of the runs: calibkit importable as in this process."""
    env = dict(os.environ)
    spec = importlib.util.find_spec("calibkit")
    root = str(Path(spec.origin).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_once(arguments, env, cwd):
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *arguments],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - start


def startup_rows(runs=7):
    """Median start-up times of :data:`COMMANDS`.

    Parameters
    ----------
    runs : int, default=7
        Runs of each command.

    Returns
    -------
    list of dict
        One per command: ``workload``, ``median_s``, ``min_s``, ``max_s``,
        ``runs``, ``ratio_to_python`` and ``above_sklearn_s``.
    """
    env = _environment()
    # ``python -c`` puts the working directory first on sys.path: run in an
    # empty one, so that the calibkit measured is this process's.
    with tempfile.TemporaryDirectory() as cwd:
        _run_once(["-c", "import calibkit, sklearn"], env, cwd)  # warm the caches
        times = {label: [] for label, _ in COMMANDS}
        for _ in range(runs):
            for label, arguments in COMMANDS:
                times[label].append(_run_once(arguments, env, cwd))
    medians = {label: statistics.median(t) for label, t in times.items()}
    python, sklearn = medians["python -c pass"], medians["import sklearn"]
    return [
        {
            "workload": label,
            "median_s": medians[label],
            "min_s": min(times[label]),
            "max_s": max(times[label]),
            "runs": runs,
            "ratio_to_python": medians[label] / python,
            "above_sklearn_s": medians[label] - sklearn,
        }
        for label, _ in COMMANDS
    ]


def markdown(rows):
    """The rows of :func:`startup_rows` as a markdown table."""
    lines = [
        "| start-up | median (s) | min-max (s) | / python -c pass | "
        "- import sklearn (s) |",
        "|" + "---|" * 5,
    ]
    for r in rows:
        cells = [
            r["workload"],
            f"{r['median_s']:.3f}",
            f"{r['min_s']:.3f}-{r['max_s']:.3f}",
            f"{r['ratio_to_python']:.1f}",
            f"{r['above_sklearn_s']:+.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command")
    args = parser.parse_args(argv)
    print(markdown(startup_rows(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
