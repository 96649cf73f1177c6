"""``calibkit evaluate --groups COL``: per-group table, worst group, report."""

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

import calibkit as ck
from calibkit import cli
from calibkit.metrics import calibration_by_group
from calibkit.report import _report as report


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def grouped(tmp_path):
    """A CSV file whose forecasts are too high in the south."""
    rng = np.random.default_rng(0)
    n = 400
    p = rng.uniform(0.02, 0.98, size=n)
    region = rng.choice(["north", "south", "west"], size=n)
    y = (rng.uniform(size=n) < np.where(region == "south", p**2, p)).astype(int)
    table = pd.DataFrame(
        {"y": y, "p": p, "region": region, "w": rng.uniform(0.5, 2.0, size=n)}
    )
    path = tmp_path / "preds.csv"
    table.to_csv(path, index=False)
    return path, table


def test_prints_the_group_table_and_the_worst_group(grouped, capsys):
    path, table = grouped
    code, out, err = run(
        capsys, "evaluate", path, "--label", "y", "--columns", "p", "--groups", "region"
    )
    assert code == 0, err
    expected = calibration_by_group(table.y, table.p, groups=table.region)
    assert "calibration by region (predictions):" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for _, row in expected.iterrows():
        line = lines[row["group"]]
        for key in ("bias", "bias_se", "ece", "log_loss", "miscalibration"):
            assert f"{row[key]:.4f}" in line
        assert f"{row['p_value']:.3g}" in line
    assert expected.loc[expected["worst"], "group"].item() == "south"
    worst = [line for line in out.splitlines() if line.startswith("worst group")]
    assert worst == [
        "worst group (largest |bias| / SE): south, bias "
        f"{expected['bias'][1]:+.4f} ± {expected['bias_se'][1]:.4f} (SE), "
        f"p = {expected['p_value'][1]:.3g}"
    ]


def test_weights_json_and_a_numeric_group_column(grouped, capsys, tmp_path):
    """A numeric group column is not taken as a score column, and the JSON
    holds the tables of the Python API."""
    path, table = grouped
    table = table.assign(zone=table.region.map({"north": 1, "south": 2, "west": 3}))
    table = table.drop(columns="region")
    table.to_csv(path, index=False)
    out_json = tmp_path / "m.json"
    args = ["evaluate", path, "--label", "y", "--weight", "w", "--groups", "zone"]
    code, _, err = run(capsys, *args, "--json", out_json)
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    by_group = doc["calibration_by_group"]
    assert by_group["column"] == "zone"
    assert by_group["worst_by"] == "bias"
    rows = by_group["forecasts"]["predictions"]
    expected = calibration_by_group(
        table.y, table.p, groups=table.zone, sample_weight=table.w
    )
    assert [r["group"] for r in rows] == [1, 2, 3]
    for key in ("weight", "bias", "bias_se", "p_value", "ece", "miscalibration"):
        np.testing.assert_allclose([r[key] for r in rows], expected[key], rtol=1e-12)
    assert [r["worst"] for r in rows] == expected["worst"].tolist()


def test_before_and_after_a_calibrator(grouped, capsys, tmp_path):
    path, table = grouped
    model = tmp_path / "cal.json"
    fit = ["fit", path, "--label", "y", "--columns", "p", "--input", "probabilities"]
    assert run(capsys, *fit, "--method", "platt", "-o", model)[0] == 0
    code, out, err = run(
        capsys,
        "evaluate",
        path,
        "--label",
        "y",
        "--columns",
        "p",
        "--calibrator",
        model,
        "--groups",
        "region",
    )
    assert code == 0, err
    assert "calibration by region (uncalibrated):" in out
    assert "calibration by region (calibrated (PlattScaling)):" in out
    calibrated = ck.load(model).predict_proba(table.p.to_numpy())[:, 1]
    expected = calibration_by_group(table.y, calibrated, groups=table.region)
    for value in expected["bias"]:
        assert f"{value:.4f}" in out


def test_html_report_has_the_group_tables_and_small_multiples(grouped, capsys):
    path, _ = grouped
    html_path = path.parent / "r.html"
    code, _, err = run(
        capsys,
        "evaluate",
        path,
        "--label",
        "y",
        "--columns",
        "p",
        "--groups",
        "region",
        "--report",
        html_path,
    )
    assert code == 0, err
    html = html_path.read_text()
    assert "<h2>Calibration by region</h2>" in html
    tables = re.findall(r'<table class="groups">.*?</table>', html, flags=re.S)
    assert len(tables) == 1
    assert '<tr class="best"><td>south</td>' in tables[0]
    assert "worst group (largest |bias| / SE): south" in tables[0]
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # reliability, decomposition, cumulative differences, then the groups
    assert len(images) == 4
    assert base64.b64decode(images[-1]).startswith(b"\x89PNG")
    assert 'alt="Reliability by region"' in html


def test_report_without_matplotlib_keeps_the_group_table(grouped, capsys, monkeypatch):
    monkeypatch.setattr(report, "matplotlib_available", lambda: False)
    path, _ = grouped
    html_path = path.parent / "r.html"
    args = ["evaluate", path, "--label", "y", "--columns", "p", "--groups", "region"]
    assert run(capsys, *args, "--report", html_path)[0] == 0
    html = html_path.read_text()
    assert '<table class="groups">' in html
    assert "<img" not in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"groups": "regio"},
            r"--groups column 'regio' not found in .*preds\.csv'; columns are 'y', "
            r"'p', 'region', 'w'\.",
        ),
        (
            {"missing": 2},
            r"--groups column 'region' of .*preds\.csv' has 1 missing value, the "
            r"first at row 2 \(line 4 of the file\); give those rows a value",
        ),
        (
            {"one": True},
            r"the --groups column forms a single group \('north'\); calibration by "
            r"group needs at least two groups\.",
        ),
    ],
)
def test_bad_group_columns_exit_2_with_one_line(grouped, capsys, change, message):
    path, table = grouped
    if "missing" in change:
        table.loc[change["missing"], "region"] = np.nan
    if "one" in change:
        table["region"] = "north"
    table.to_csv(path, index=False)
    out_json = path.parent / "m.json"
    code, out, err = run(
        capsys,
        "evaluate",
        path,
        "--label",
        "y",
        "--columns",
        "p",
        "--groups",
        change.get("groups", "region"),
        "--json",
        out_json,
    )
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("calibkit evaluate: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not out_json.exists()


def test_groups_option_is_in_the_help(capsys):
    code, out, _ = run(capsys, "evaluate", "--help")
    assert code == 0
    assert "--groups COL" in out


def test_report_says_when_only_some_groups_are_drawn():
    rng = np.random.default_rng(5)
    n = 300
    p = rng.uniform(0.05, 0.95, size=n)
    y = (rng.uniform(size=n) < p).astype(int)
    zone = rng.integers(0, report.MAX_GROUP_PANELS + 3, size=n)
    evaluation = report.evaluate_forecasts(y, p, name="model")
    by_group = report.evaluate_groups([evaluation], zone, column="zone")
    fake = dict.fromkeys(
        ("reliability", "decomposition", "cumulative", "groups"), b"\x89PNG"
    )
    html = report.render_html([evaluation], images=fake, groups=by_group)
    table = re.search(r'<table class="groups">.*?</table>', html, flags=re.S)[0]
    assert table.count("<tr") == report.MAX_GROUP_PANELS + 3 + 1  # with the head
    assert (
        f"Diagrams of {report.MAX_GROUP_PANELS} of the "
        f"{report.MAX_GROUP_PANELS + 3} groups" in html
    )


def test_group_tables_are_bounded_and_keep_the_worst_group(monkeypatch):
    # Regression: 10,000 groups gave a 10,000-row table in the terminal and
    # in the HTML page.
    monkeypatch.setattr(report, "MAX_GROUP_ROWS", 3)
    rng = np.random.default_rng(8)
    zone = np.repeat(np.arange(6), [60, 50, 40, 30, 20, 100])
    p = rng.uniform(0.05, 0.95, size=zone.size)
    # Zone 4 (20 rows, not among the 3 heaviest) is badly miscalibrated.
    y = np.where(zone == 4, 1, rng.uniform(size=zone.size) < p).astype(int)
    evaluation = report.evaluate_forecasts(y, p, name="model")
    by_group = report.evaluate_groups([evaluation], zone, column="zone")
    table = by_group.tables["model"]
    assert table.loc[table["worst"], "group"].item() == 4
    text = report.format_group_tables(by_group)
    listed = [line.split()[0] for line in text.splitlines()[2:5]]
    assert listed == ["0", "4", "5"]  # the two heaviest and the worst, in order
    assert "3 of 6 groups listed" in text
    fake = dict.fromkeys(
        ("reliability", "decomposition", "cumulative", "groups"), b"\x89PNG"
    )
    html = report.render_html([evaluation], images=fake, groups=by_group)
    body = re.search(r'<table class="groups">.*?</table>', html, flags=re.S)[0]
    assert body.count("<tr") == 3 + 1  # with the head
    assert "3 of 6 groups listed" in html


def test_the_label_column_as_groups(grouped, capsys):
    # Regression: the label column is read as text, and checking it for
    # missing values wrote into pandas' read-only mask ("output array is
    # read-only").
    path, table = grouped
    args = ["evaluate", path, "--label", "y", "--columns", "p", "--groups", "y"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    expected = calibration_by_group(table.y, table.p, groups=table.y)
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for _, row in expected.iterrows():
        assert f"{row['bias']:.4f}" in lines[str(row["group"])]
