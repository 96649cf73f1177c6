"""Run each plotting example as a script, with the Agg backend, in under 30 s."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
TIME_LIMIT = 30.0


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
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * TIME_LIMIT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    assert elapsed < TIME_LIMIT, f"{script.name} took {elapsed:.1f} s"
    figures = sorted(tmp_path.glob(f"{script.stem}_*.png"))
    assert len(figures) >= 2, result.stdout
    assert all(figure.stat().st_size > 10_000 for figure in figures)
    assert "Traceback" not in result.stderr
