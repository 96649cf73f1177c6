"""Smoke test of the benchmark suite: its quick mode runs and writes results."""

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_quick_benchmark_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "| Platt fit" in done.stdout
    (result,) = tmp_path.glob("*-quick.json")
    saved = json.loads(result.read_text())
    rows = saved["results"]
    # The start-up rows: every command ran, the baseline is the unit.
    assert "| calibkit --help |" in done.stdout
    startup = {r["workload"]: r for r in saved["startup"]}
    assert {"python -c pass", "import calibkit", "calibkit fit --help"} <= set(startup)
    assert startup["python -c pass"]["ratio_to_python"] == 1.0
    platt = next(r for r in rows if r["workload"].startswith("Platt"))
    # Same objective, same optimum: calibkit's loss is not above scikit-learn's.
    assert platt["calibkit_loss"] <= platt["sklearn_loss"] * (1 + 1e-12)


TABLE = BENCHMARK.with_name("calibrator_table.py")


def test_calibrator_table_runs_on_a_subset(tmp_path):
    """The guide's table script: every registered calibrator gets a column."""
    from calibkit.calibrators._registry import CALIBRATORS

    out = tmp_path / "table.inc"
    subprocess.run(
        [sys.executable, str(TABLE), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    text = out.read_text()
    assert text.count(".. list-table::") == 2
    for name in CALIBRATORS:
        assert f"     - {name}\n" in text
    # Two data sets (binary, multiclass) x one model each, in both tables.
    assert text.count("   * - breast_cancer (2)") == 2
    assert text.count("   * - iris (3)") == 2
