"""Run each plotting example as a script, with the Agg backend.

Correctness only: the script exits cleanly and saves its figures. How long an
example takes depends on the machine and its load; that is measured by
``benchmarks/examples.py``, not asserted here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
# Only a guard against a hung example, far above any normal run.
HANG_TIMEOUT = 600


def test_examples_are_found():
    names = {script.name for script in SCRIPTS}
    assert {
        "plot_compare_methods.py",
        "plot_saved_multiclass_logits.py",
        "plot_wrap_classifier.py",
    } <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_runs_and_saves_its_figures(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = sorted(tmp_path.glob(f"{script.stem}_*.png"))
    assert len(figures) >= 2, result.stdout
    assert all(figure.stat().st_size > 10_000 for figure in figures)
    assert "Traceback" not in result.stderr
