"""``calibkit evaluate --ci`` and ``--prefix`` repeated (in tests/test_cli.py style)."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import expit, logit

import calibkit as ck
from calibkit import cli
from calibkit.metrics import (
    brier_score,
    confidence_interval,
    expected_calibration_error,
    log_loss,
)


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err, command):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"calibkit {command}: error: ")
    return lines[0]


@pytest.fixture
def two_models(tmp_path):
    """A file with two forecast sets of the same rows: raw (too sharp) and cal."""
    rng = np.random.default_rng(31)
    n = 600
    truth = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < truth).astype(int)
    raw = expit(2.0 * logit(truth))
    table = pd.DataFrame({"y": y, "raw_1": raw, "cal_1": truth})
    path = tmp_path / "p.csv"
    table.to_csv(path, index=False)
    saved = pd.read_csv(path)  # the values the command reads back
    return path, saved["y"].to_numpy(), saved["raw_1"].to_numpy(), saved["cal_1"]


def test_prefix_repeated_gives_one_row_per_forecast_set(two_models, capsys, tmp_path):
    path, y, raw, cal = two_models
    metrics = tmp_path / "m.json"
    args = ["evaluate", path, "--label", "y", "--prefix", "raw_", "--prefix", "cal_"]
    code, out, _ = run(capsys, *args, "--json", metrics)
    assert code == 0
    rows = [line.split()[0] for line in out.splitlines()[1:3]]
    assert rows == ["raw", "cal"]
    forecasts = json.loads(metrics.read_text())["forecasts"]
    assert [f["name"] for f in forecasts] == ["raw", "cal"]
    for f, p in zip(forecasts, [raw, cal.to_numpy()], strict=True):
        assert_allclose(f["log_loss"], log_loss(y, p), rtol=1e-13)
        assert_allclose(f["brier_score"], brier_score(y, p), rtol=1e-13)
        assert_allclose(f["ece"], expected_calibration_error(y, p), rtol=1e-13)
    assert "comparisons" not in json.loads(metrics.read_text())  # without --ci


def test_ci_gives_intervals_and_the_paired_comparison(two_models, capsys, tmp_path):
    path, y, raw, cal = two_models
    metrics, report = tmp_path / "m.json", tmp_path / "r.html"
    code, out, _ = run(
        capsys,
        *["evaluate", path, "--label", "y", "--prefix", "raw_", "--prefix", "cal_"],
        *["--ci", "--n-resamples", "200", "--seed", "7"],
        *["--json", metrics, "--report", report],
    )
    assert code == 0
    assert "95% bootstrap percentile intervals, 200 resamples" in out
    assert "raw - cal, log-loss:" in out
    document = json.loads(metrics.read_text())
    first = document["forecasts"][0]
    # The same seed and resamples as the metrics' own function.
    reference = confidence_interval("log_loss", y, raw, n_resamples=200, random_state=7)
    assert_allclose(
        [first["log_loss_low"], first["log_loss_high"]],
        [reference.low, reference.high],
        rtol=1e-12,
    )
    assert first["confidence_level"] == 0.95
    for key in ("brier_score", "ece", "miscalibration", "discrimination"):
        assert first[f"{key}_low"] <= first[f"{key}_high"]
    comparison = document["comparisons"][0]
    assert (comparison["first"], comparison["second"]) == ("raw", "cal")
    losses = [np.where(y == 1, -np.log(p), -np.log1p(-p)) for p in (raw, cal)]
    t = stats.ttest_rel(*losses)
    assert_allclose(comparison["statistic"], t.statistic, rtol=1e-10)
    assert comparison["low"] > 0  # the calibrated forecasts are better
    page = report.read_text()
    assert "Is the improvement significant?" in page
    assert 'id="comparisons"' in page
    assert "raw is better" not in page
    assert "cal is better" in page
    assert page.count('<span class="ci">') == 12  # 6 scores x 2 forecast sets


def test_ci_with_a_calibrator_compares_raw_and_calibrated(tmp_path, capsys):
    rng = np.random.default_rng(5)
    n = 400
    s = rng.normal(size=n)
    y = (rng.uniform(size=n) < expit(0.4 * s)).astype(int)
    table = pd.DataFrame({"y": y, "score_1": s})
    table.to_csv(tmp_path / "t.csv", index=False)
    calibrator = ck.PlattScaling().fit(s, y)
    ck.save(calibrator, tmp_path / "cal.json")
    code, out, _ = run(
        capsys,
        *["evaluate", tmp_path / "t.csv", "--label", "y", "--prefix", "score_"],
        *["--input", "logits", "--calibrator", tmp_path / "cal.json"],
        *["--ci", "0.9", "--n-resamples", "50"],
    )
    assert code == 0
    assert "uncalibrated - calibrated (PlattScaling), log-loss:" in out
    assert "90% paired-bootstrap intervals" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ci", "1.5"], "--ci must be a confidence level between 0 and 1; got 1.5"),
        (["--ci", "x"], "--ci must be a confidence level between 0 and 1; got x"),
        (["--ci", "--n-resamples", "1"], "--n-resamples must be a whole number"),
        (["--ci", "--seed", "-3"], "--seed must be a whole number, 0 or more"),
        (["--columns", "raw_1"], "cannot be combined with --calibrator or --columns"),
        (["--n-resamples", "-5"], "--n-resamples is only used with --ci"),
        (["--seed", "1"], "--seed is only used with --ci"),
        (["--ci", "--n-resamples", "0"], "--n-resamples must be a whole number"),
    ],
)
def test_bad_options(two_models, capsys, extra, message):
    path, *_ = two_models
    args = ["evaluate", path, "--label", "y", "--prefix", "raw_", "--prefix", "cal_"]
    code, _, err = run(capsys, *args, *extra)
    assert code == 2
    assert message in one_error_line(err, "evaluate")


def test_model_column_gives_one_row_per_value(two_models, capsys, tmp_path):
    """Long format: the two forecast sets stacked, a column naming each."""
    path, y, raw, cal = two_models
    long = pd.concat(
        [
            pd.DataFrame({"model": "raw", "y": y, "p": raw}),
            pd.DataFrame({"model": "cal", "y": y, "p": cal}),
        ]
    )
    long.to_csv(tmp_path / "long.csv", index=False)
    wide, stacked = tmp_path / "wide.json", tmp_path / "long.json"
    options = ["--ci", "--n-resamples", "30", "--seed", "3"]
    args = ["evaluate", path, "--label", "y", "--prefix", "raw_", "--prefix", "cal_"]
    assert run(capsys, *args, *options, "--json", wide)[0] == 0
    args = ["evaluate", tmp_path / "long.csv", "--label", "y", "--model", "model"]
    assert run(capsys, *args, *options, "--json", stacked)[0] == 0
    a, b = (json.loads(f.read_text()) for f in (wide, stacked))
    assert [f["name"] for f in b["forecasts"]] == ["raw", "cal"]
    for f, g in zip(a["forecasts"], b["forecasts"], strict=True):
        for key in ("log_loss", "brier_score", "ece", "log_loss_low", "ece_high"):
            assert_allclose(g[key], f[key], rtol=1e-12)
    assert_allclose(
        b["comparisons"][0]["statistic"], a["comparisons"][0]["statistic"], rtol=1e-12
    )
    code, _, err = run(capsys, *args[:-1], "nope")
    assert code == 2
    assert "--model column 'nope' not found in" in one_error_line(err, "evaluate")


def test_model_column_with_groups_and_models_of_different_rows(tmp_path, capsys):
    """Each model's groups are those of its own rows (regression: the whole
    file's group column was matched against each model's rows and failed)."""
    from calibkit.metrics import calibration_by_group

    rng = np.random.default_rng(7)
    n = 240
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < p).astype(int)
    region = rng.choice(["n", "s"], n)
    w = rng.uniform(0.5, 2.0, n)
    first = pd.DataFrame({"m": "a", "y": y, "p": p, "g": region, "w": w})
    second = first.iloc[: n // 2].assign(m="b", p=p[: n // 2] ** 2)
    pd.concat([first, second]).to_csv(tmp_path / "long.csv", index=False)
    out = tmp_path / "m.json"
    args = ["evaluate", tmp_path / "long.csv", "--label", "y", "--columns", "p"]
    options = ["--model", "m", "--groups", "g", "--weight", "w", "--json", out]
    code, _, err = run(capsys, *args, *options, "--ci", "--n-resamples", "20")
    assert code == 0, err
    saved = json.loads(out.read_text())["calibration_by_group"]["forecasts"]
    for name, rows in (("a", first), ("b", second)):
        expected = calibration_by_group(
            rows.y, rows.p, groups=rows.g, sample_weight=rows.w
        )
        assert [r["group"] for r in saved[name]] == ["n", "s"]
        assert_allclose([r["bias"] for r in saved[name]], expected["bias"], rtol=1e-12)
        assert [r["count"] for r in saved[name]] == expected["count"].tolist()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "--model column 'm' of .* has 1 missing value, the first at row 3"),
        ("label", r"--model and --label name the same column \('y'\)"),
        ("one class", r"in the rows of --model 'b': the labels hold one class only"),
    ],
)
def test_bad_model_column(tmp_path, capsys, change, message):
    table = pd.DataFrame(
        {
            "m": list("aabbab"),
            "y": [0, 1, 0, 1, 1, 0],
            "p": [0.2, 0.7, 0.4, 0.6, 0.9, 0.1],
        }
    )
    if change == "missing":
        table.loc[3, "m"] = None
    if change == "one class":
        table.loc[table["m"] == "b", "y"] = 1
    table.to_csv(tmp_path / "long.csv", index=False)
    model = "y" if change == "label" else "m"
    args = ["evaluate", tmp_path / "long.csv", "--label", "y", "--columns", "p"]
    code, _, err = run(capsys, *args, "--model", model)
    assert code == 2
    assert re.search(message, one_error_line(err, "evaluate"))


def test_repeated_prefixes_that_overlap_or_clash(tmp_path, capsys):
    rng = np.random.default_rng(9)
    n = 200
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < p).astype(int)
    table = pd.DataFrame(
        {"y": y, "p_1": p, "p_0": 1 - p, "p_cal_0": 1 - p**2, "p_cal_1": p**2}
    )
    path = tmp_path / "p.csv"
    table.to_csv(path, index=False)
    out = tmp_path / "m.json"
    # Each column goes to the longest prefix it starts with.
    args = ["evaluate", path, "--label", "y", "--json", out]
    code, _, err = run(capsys, *args, "--prefix", "p_", "--prefix", "p_cal_")
    assert code == 0, err
    saved = {f["name"]: f for f in json.loads(out.read_text())["forecasts"]}
    assert list(saved) == ["p", "p_cal"]
    assert_allclose(saved["p"]["log_loss"], log_loss(y, p), rtol=1e-12)
    assert_allclose(saved["p_cal"]["log_loss"], log_loss(y, p**2), rtol=1e-12)
    code, _, err = run(capsys, *args, "--prefix", "p_cal", "--prefix", "p_cal_")
    assert code == 2
    assert (
        "every column starting with --prefix 'p_cal' is taken by a longer --prefix "
        "('p_cal_')" in one_error_line(err, "evaluate")
    )
    # Names that would clash once the underscores go keep the prefixes.
    table.rename(columns={"p_cal_0": "p0", "p_cal_1": "p1"}).to_csv(path, index=False)
    code, _, err = run(capsys, *args, "--prefix", "p", "--prefix", "p_")
    assert code == 0, err
    saved = {f["name"]: f for f in json.loads(out.read_text())["forecasts"]}
    assert list(saved) == ["p", "p_"]
    assert_allclose(saved["p"]["log_loss"], log_loss(y, p**2), rtol=1e-12)
    code, _, err = run(capsys, *args, "--prefix", "p_", "--prefix", "p_")
    assert code == 2
    assert "--prefix 'p_' is given twice" in one_error_line(err, "evaluate")
    # A prefix that only matches the label column says so.
    code, _, err = run(capsys, *args, "--prefix", "p_", "--prefix", "y")
    assert code == 2
    assert "starts with 'y' besides 'y' (not scores" in one_error_line(err, "evaluate")


def test_models_of_other_rows_are_not_compared_in_pairs(tmp_path, capsys):
    """Regression: forecast sets of different rows were skipped silently."""
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, 120)
    y = (rng.uniform(size=120) < p).astype(int)
    a = pd.DataFrame({"m": "a", "y": y, "p": p})
    b = a.iloc[:80].assign(m="b", p=p[:80] ** 2)
    c = a.assign(m="c", p=p**0.5)
    pd.concat([a, b, c]).to_csv(tmp_path / "long.csv", index=False)
    args = ["evaluate", tmp_path / "long.csv", "--label", "y", "--columns", "p"]
    code, out, err = run(capsys, *args, "--model", "m", "--ci", "--n-resamples", "20")
    assert code == 0, err
    assert "a - c, log-loss:" in out
    assert "a - b" not in out
    assert err.strip() == (
        "calibkit evaluate: warning: no paired comparison of 'a' with 'b': they "
        "are not forecasts of the same rows (labels, weights and shape must match "
        "row for row)."
    )
