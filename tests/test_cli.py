"""The calibkit command, in-process (main(argv)) and as ``python -m calibkit``."""

import base64
import json
import re
import subprocess
import sys
import warnings
from contextlib import nullcontext
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.metrics import log_loss as sk_log_loss

import calibkit as ck
from calibkit import cli
from calibkit import io as ckio
from calibkit.calibrators._registry import CALIBRATORS
from calibkit.cli import _console as console
from calibkit.exceptions import NoFiniteOptimumWarning
from calibkit.report import _report as report

METHODS = CALIBRATORS  # every registered calibrator is a --method choice


def overconfident_logits(labels, *, n, seed):
    """Logits three times too sharp, and labels drawn from the true softmax."""
    rng = np.random.default_rng(seed)
    k = len(labels)
    true_logits = rng.normal(size=(n, k))
    p = softmax(true_logits, axis=1)
    codes = (rng.uniform(size=(n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    codes = np.minimum(codes, k - 1)
    logits = 3.0 * true_logits
    y = np.asarray(labels)[codes]
    if k == 2:
        return logits[:, 1] - logits[:, 0], y
    return logits, y


def prediction_table(X, y, *, label="y"):
    """Columns logit_<label>: one per class, or the greater label's for 1-D X."""
    classes = np.unique(y)
    if X.ndim == 1:
        table = pd.DataFrame({f"logit_{classes[1]}": X})
    else:
        table = pd.DataFrame({f"logit_{c}": X[:, j] for j, c in enumerate(classes)})
    table.insert(0, label, y)
    return table


def write_input(table, path):
    """Write a table as the user would: CSV/Parquet by pandas, .npy as a 2-D array."""
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        np.save(path, table.to_numpy(dtype=np.float64))


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err, command):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"calibkit {command}: error: ")
    assert "Traceback" not in err
    return lines[0]


# --- round trips --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [".csv", ".parquet", ".npy"])
@pytest.mark.parametrize(
    ("labels", "method"),
    [
        ([0, 1], "platt"),
        ([0, 1], "isotonic"),
        ([3, 5, 9], "temperature"),
        ([3, 5, 9], "platt"),
        ([3, 5, 9], "isotonic"),
    ],
)
def test_fit_apply_evaluate_match_the_python_api(tmp_path, capsys, fmt, labels, method):
    X_cal, y_cal = overconfident_logits(labels, n=300, seed=1)
    X_test, y_test = overconfident_logits(labels, n=200, seed=2)
    cal_path, test_path = tmp_path / f"cal{fmt}", tmp_path / f"test{fmt}"
    write_input(prediction_table(X_cal, y_cal), cal_path)
    write_input(prediction_table(X_test, y_test), test_path)
    n_cols = 1 if X_cal.ndim == 1 else X_cal.shape[1]
    if fmt == ".npy":  # plain 2-D array: columns "0" (label), "1", "2", ...
        selection = [
            "--label",
            "0",
            "--columns",
            ",".join(map(str, range(1, n_cols + 1))),
        ]
    else:
        selection = ["--label", "y", "--prefix", "logit_"]
    model = tmp_path / "calibrator.json"

    code, out, err = run(
        capsys, "fit", cal_path, *selection, "--method", method, "-o", model
    )
    assert (code, out) == (0, "")
    assert f"fitted {METHODS[method].__name__} on 300 rows" in err
    expected = METHODS[method]().fit(X_cal, y_cal)
    loaded = ck.load(model)
    assert_array_equal(loaded.classes_, expected.classes_)
    assert_array_equal(loaded.predict_proba(X_test), expected.predict_proba(X_test))

    output = tmp_path / f"out{fmt}"
    assert run(capsys, "apply", model, test_path, "-o", output)[0] == 0
    result = ckio.read_table(output)
    names = [f"calibrated_{label}" for label in labels]
    assert list(result.columns)[-len(labels) :] == names
    proba = expected.predict_proba(X_test)
    assert_array_equal(result[names].to_numpy(), proba)
    inputs = ckio.read_table(test_path)
    assert_array_equal(result[list(inputs.columns)].to_numpy(), inputs.to_numpy())

    metrics = tmp_path / "metrics.json"
    label_col = "0" if fmt == ".npy" else "y"
    code, out, _ = run(
        capsys,
        "evaluate",
        output,
        "--label",
        label_col,
        "--prefix",
        "calibrated_",
        "--json",
        metrics,
    )
    assert code == 0
    scores = json.loads(metrics.read_text())["forecasts"][0]
    onehot = (y_test[:, None] == np.asarray(labels)[None, :]).astype(float)
    assert_allclose(
        scores["log_loss"], sk_log_loss(y_test, proba, labels=labels), rtol=1e-12
    )
    if len(labels) == 2:
        brier = np.mean((proba[:, 1] - onehot[:, 1]) ** 2)
    else:
        brier = np.mean(np.sum((proba - onehot) ** 2, axis=1))
    assert_allclose(scores["brier_score"], brier, rtol=1e-12)
    assert f"{scores['log_loss']:.4f}" in out

    # Scoring the raw file with the calibrator gives the same calibrated scores.
    both = tmp_path / "both.json"
    args = ["evaluate", test_path, "--label", label_col, "--calibrator", model]
    assert run(capsys, *args, "--json", both)[0] == 0
    raw, calibrated = json.loads(both.read_text())["forecasts"]
    assert calibrated["log_loss"] == scores["log_loss"]
    assert raw["name"] == "uncalibrated"
    if len(labels) == 2:
        raw_proba = np.column_stack(
            [1 - 1 / (1 + np.exp(-X_test)), 1 / (1 + np.exp(-X_test))]
        )
    else:
        raw_proba = softmax(X_test, axis=1)
    assert_allclose(
        raw["log_loss"], sk_log_loss(y_test, raw_proba, labels=labels), rtol=1e-9
    )


def test_stdin_to_stdout(tmp_path, capsys, monkeypatch):
    X, y = overconfident_logits(["no", "yes"], n=120, seed=3)
    table = prediction_table(X, y)
    model = tmp_path / "m.json"
    table.to_csv(tmp_path / "in.csv", index=False)
    monkeypatch.setattr(sys, "stdin", _text_stream(tmp_path / "in.csv"))
    assert (
        run(capsys, "fit", "-", "--label", "y", "--method", "platt", "-o", model)[0]
        == 0
    )
    monkeypatch.setattr(sys, "stdin", _text_stream(tmp_path / "in.csv"))
    code, out, err = run(capsys, "apply", model, "-", "-o", "-")
    assert code == 0
    assert err == ""
    result = pd.read_csv(_string_stream(out))
    expected = ck.PlattScaling().fit(X, y).predict_proba(X)
    assert_array_equal(result[["calibrated_no", "calibrated_yes"]].to_numpy(), expected)


def _text_stream(path):
    import io

    return io.StringIO(path.read_text())


def _string_stream(text):
    import io

    return io.StringIO(text)


def test_probability_inputs_weights_and_column_lists(tmp_path, capsys):
    X, y = overconfident_logits([0, 1, 2], n=150, seed=4)
    P = softmax(X, axis=1)
    w = np.random.default_rng(5).integers(0, 4, len(y))
    table = pd.DataFrame({"y": y, "w": w, "a": P[:, 0], "b": P[:, 1], "c": P[:, 2]})
    table.to_csv(tmp_path / "p.csv", index=False)
    model = tmp_path / "m.json"
    code, _, _ = run(
        capsys,
        "fit",
        tmp_path / "p.csv",
        "--label",
        "y",
        "--weight",
        "w",
        "--columns",
        "a,b",
        "--columns",
        "c",
        "--input",
        "probabilities",
        "--method",
        "isotonic",
        "-o",
        model,
    )
    assert code == 0
    # Integer weights act as repeated rows.
    repeated = np.repeat(np.arange(len(y)), w)
    expected = ck.IsotonicCalibration(input="probabilities").fit(
        P[repeated], y[repeated]
    )
    assert_allclose(
        ck.load(model).predict_proba(P), expected.predict_proba(P), rtol=1e-12
    )
    assert ck.load_metadata(model)["columns"] == ["a", "b", "c"]


def test_auto_picks_the_lowest_cross_validated_loss(tmp_path, capsys):
    X, y = overconfident_logits([0, 1, 2], n=200, seed=6)
    prediction_table(X, y).to_csv(tmp_path / "c.csv", index=False)
    model = tmp_path / "auto.json"
    code, _, err = run(
        capsys,
        "fit",
        tmp_path / "c.csv",
        "--label",
        "y",
        "--method",
        "auto",
        "-o",
        model,
    )
    assert code == 0
    names = "|".join(METHODS)
    found = dict(re.findall(rf"({names}) ([0-9.]+)", err))
    assert set(found) == set(METHODS)
    best = min(found, key=lambda name: float(found[name]))
    assert ck.load_metadata(model)["method"] == best
    assert type(ck.load(model)) is METHODS[best]


def test_evaluate_matches_columns_to_labels_by_name(tmp_path, capsys):
    labels = np.array(["cat", "dog", "emu"])
    X, y = overconfident_logits(labels, n=150, seed=7)
    P = softmax(X, axis=1)
    # Columns in a different order than the sorted labels.
    table = pd.DataFrame({"y": y, "p_emu": P[:, 2], "p_cat": P[:, 0], "p_dog": P[:, 1]})
    table.to_csv(tmp_path / "p.csv", index=False)
    metrics = tmp_path / "m.json"
    args = ["evaluate", tmp_path / "p.csv", "--label", "y", "--prefix", "p_"]
    assert run(capsys, *args, "--json", metrics)[0] == 0
    got = json.loads(metrics.read_text())["forecasts"][0]["log_loss"]
    assert_allclose(got, sk_log_loss(y, P, labels=labels), rtol=1e-12)

    table.loc[4, "y"] = "owl"
    table.to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run(capsys, *args)
    assert code == 2
    assert "the labels include ['owl'] (first at row 4)" in one_error_line(
        err, "evaluate"
    )


def test_infinite_log_loss_is_strict_json(tmp_path, capsys):
    table = pd.DataFrame({"y": [0, 1, 1], "p": [0.2, 0.9, 0.0]})
    table.to_csv(tmp_path / "p.csv", index=False)
    metrics = tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "evaluate",
        tmp_path / "p.csv",
        "--label",
        "y",
        "--columns",
        "p",
        "--json",
        metrics,
    )
    assert code == 0
    assert "calibkit evaluate: warning:" in err
    assert re.search(r"predictions\s+inf", out)

    def refuse(name):
        raise AssertionError(name)

    forecast = json.loads(metrics.read_text(), parse_constant=refuse)["forecasts"][0]
    assert forecast["log_loss"] == "inf"


# --- reports and the demo -----------------------------------------------------------


def test_html_report_content(tmp_path, capsys):
    X, y = overconfident_logits([0, 1, 2], n=200, seed=8)
    prediction_table(X, y).to_csv(tmp_path / "t.csv", index=False)
    model = tmp_path / "m.json"
    run(capsys, "fit", tmp_path / "t.csv", "--label", "y", "-o", model)
    html_path = tmp_path / "report.html"
    code, _, _ = run(
        capsys,
        "evaluate",
        tmp_path / "t.csv",
        "--label",
        "y",
        "--calibrator",
        model,
        "--report",
        html_path,
    )
    assert code == 0
    html = html_path.read_text()
    calibrated = ck.load(model).predict_proba(X)
    for proba in (softmax(X, axis=1), calibrated):
        assert f"{sk_log_loss(y, proba):.4f}" in html
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3  # reliability, decomposition, cumulative differences
    assert all(
        base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n") for data in images
    )
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing fetched
    assert "uncalibrated" in html
    assert "calibrated (TemperatureScaling)" in html


def test_report_without_matplotlib_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "matplotlib_available", lambda: False)
    table = pd.DataFrame({"y": [0, 1, 1, 0, 1], "p": [0.2, 0.9, 0.6, 0.4, 0.7]})
    table.to_csv(tmp_path / "p.csv", index=False)
    html_path = tmp_path / "r.html"
    args = ["evaluate", tmp_path / "p.csv", "--label", "y", "--report", html_path]
    assert run(capsys, *args)[0] == 0
    html = html_path.read_text()
    assert "matplotlib is not installed" in html
    assert "<img" not in html
    brier = np.mean((table.p - table.y) ** 2)
    assert f"{brier:.4f}" in html


def test_demo(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    code, out, _ = run(capsys, "demo", "--out", out_dir)
    assert code == 0
    files = {p.name for p in out_dir.iterdir()}
    assert files == {
        "calibration.csv",
        "test.csv",
        "reliability.png",
        "decomposition.png",
        "report.html",
        ".calibkit-demo.json",  # digests of the files above, for a rerun
    }
    assert (out_dir / "reliability.png").read_bytes().startswith(b"\x89PNG")
    assert "Platt's smoothed targets" in out
    # The printed table agrees with an independent recomputation from the
    # scores the demo saved.
    cal = pd.read_csv(out_dir / "calibration.csv")
    test = pd.read_csv(out_dir / "test.csv")
    columns = [c for c in cal.columns if c.startswith("score_")]
    rows = dict(
        re.findall(rf"^(uncalibrated|{'|'.join(METHODS)})\s+([0-9.]+)", out, re.M)
    )
    assert set(rows) == {"uncalibrated", *METHODS}
    raw = softmax(test[columns].to_numpy(), axis=1)
    assert rows["uncalibrated"] == f"{sk_log_loss(test.label, raw):.4f}"
    for name, cls in METHODS.items():
        # Two digits are separable one-vs-rest, and part of the classes by
        # the vector and matrix maps (the demo notes it); the other fits must
        # not warn (warnings are errors in the test run).
        expect = (
            pytest.warns(NoFiniteOptimumWarning)
            if name in ("platt", "beta", "vector", "matrix")
            else nullcontext()
        )
        with expect:
            fitted = cls().fit(cal[columns].to_numpy(), cal.label)
        proba = fitted.predict_proba(test[columns].to_numpy())
        assert rows[name] == f"{sk_log_loss(test.label, proba):.4f}"
    html = (out_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3


def test_demo_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "matplotlib_available", lambda: False)
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d")
    assert code == 0
    assert "matplotlib is not installed" in err
    assert not list((tmp_path / "d").glob("*.png"))
    assert "tables only" in (tmp_path / "d" / "report.html").read_text()


# --- bad input ----------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path, capsys):
    """Valid inputs, a fitted calibrator, and outputs that already exist."""
    X, y = overconfident_logits(["no", "yes"], n=100, seed=9)
    # A name that does not name a label: one column is the score of "yes".
    table = prediction_table(X, y).rename(columns={"logit_yes": "logit_0"})
    table.to_csv(tmp_path / "good.csv", index=False)
    run(
        capsys,
        "fit",
        tmp_path / "good.csv",
        "--label",
        "y",
        "-o",
        tmp_path / "cal.json",
    )
    bad_cell = table.astype({"logit_0": object})
    bad_cell.loc[3, "logit_0"] = "abc"
    bad_cell.to_csv(tmp_path / "cell.csv", index=False)
    missing = table.copy()
    missing.loc[2, "logit_0"] = np.nan
    missing.to_csv(tmp_path / "nan.csv", index=False)
    unseen = table.copy()
    unseen.loc[1, "y"] = "maybe"
    unseen.to_csv(tmp_path / "unseen.csv", index=False)
    clash = table.assign(calibrated_yes=0.5)
    clash.to_csv(tmp_path / "clash.csv", index=False)
    (tmp_path / "data.txt").write_text("y,logit_0\nno,1\n")
    (tmp_path / "broken.json").write_text("{not json")
    doc = json.loads((tmp_path / "cal.json").read_text())
    doc["schema_version"] = 99
    (tmp_path / "future.json").write_text(json.dumps(doc))
    for name in ("out.csv", "out.json", "out.html", "out.parquet"):
        (tmp_path / name).write_text("OLD")
    return tmp_path


BAD_INPUTS = [
    (
        ["fit", "missing.csv", "--label", "y", "-o", "out.json"],
        r"input file '.*missing.csv' does not exist",
    ),
    (
        ["fit", "data.txt", "--label", "y", "-o", "out.json"],
        r"unknown file format for '.*data.txt' \(extension '.txt'\)",
    ),
    (
        ["fit", "good.csv", "--label", "label", "-o", "out.json"],
        r"label column 'label' not found in '.*good.csv'; columns are 'y', 'logit_0'",
    ),
    (
        ["fit", "cell.csv", "--label", "y", "-o", "out.json"],
        r"column 'logit_0' of '.*cell.csv' has a value that is not a number, 'abc', "
        r"at row 3 \(line 5 of the file\)",
    ),
    (
        ["fit", "nan.csv", "--label", "y", "-o", "out.json"],
        r"column 'logit_0' .* missing \(empty or NaN\) value at row 2 \(line 4",
    ),
    (
        ["fit", "good.csv", "--label", "y", "-o", "nodir/out.json"],
        r"--output: directory '.*nodir' does not exist",
    ),
    (
        [
            "evaluate",
            "unseen.csv",
            "--label",
            "y",
            "--calibrator",
            "cal.json",
            "--report",
            "out.html",
            "--json",
            "out.json",
        ],
        r"label column 'y' has values not seen when the calibrator was fitted: "
        r"\['maybe'\] \(first at row 1\); the calibrator knows \[no, yes\]",
    ),
    (
        ["apply", "broken.json", "good.csv", "-o", "out.csv"],
        r"'.*broken.json' is not a calibrator file: invalid JSON",
    ),
    (
        ["apply", "future.json", "good.csv", "-o", "out.csv"],
        r"field 'schema_version' is 99, but this calibkit .* reads schema version 1",
    ),
    (
        ["apply", "nothere.json", "good.csv", "-o", "out.csv"],
        r"calibrator file '.*nothere.json' does not exist",
    ),
    (
        ["apply", "cal.json", "cell.csv", "-o", "out.csv"],
        r"'abc', at row 3 \(line 5 of the file\)",
    ),
    (["apply", "cal.json", "good.csv", "-o", "out.txt"], r"unknown file format"),
    (
        ["apply", "cal.json", "good.csv", "--columns", "logit_0,y", "-o", "out.csv"],
        r"the calibrator takes 1 prediction column\(s\) but 2 were selected",
    ),
    (
        ["apply", "cal.json", "clash.csv", "-o", "out.csv"],
        r"already has column\(s\) \['calibrated_yes'\]; choose another --output-prefix",
    ),
    (
        ["fit", "good.csv", "--label", "y", "-o", "-"],
        r"--output cannot be standard output \('-'\); give a file name",
    ),
    (
        [
            "evaluate",
            "good.csv",
            "--label",
            "y",
            "--calibrator",
            "cal.json",
            "--json",
            "-",
        ],
        r"--json cannot be standard output",
    ),
    (
        ["evaluate", "good.csv", "--label", "y", "--n-bins", "0"],
        r"--n-bins must be a whole number from 1 to 10000; got 0",
    ),
    (
        ["evaluate", "good.csv", "--label", "y"],
        r"columns logit_0: the score table must hold probabilities in \[0, 1\]; "
        r"row \d+ has .* "
        r"pass --input logits",
    ),
]


@pytest.mark.parametrize(
    ("argv", "match"),
    BAD_INPUTS,
    ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in enumerate(BAD_INPUTS)],
)
def test_bad_input_exits_2_with_one_line_and_no_partial_file(
    workspace, capsys, monkeypatch, argv, match
):
    monkeypatch.chdir(workspace)
    before = {p.name: p.read_bytes() for p in workspace.iterdir() if p.is_file()}
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert re.search(match, one_error_line(err, argv[0]))
    after = {p.name: p.read_bytes() for p in workspace.iterdir() if p.is_file()}
    assert after == before  # nothing new, nothing half-written, old outputs kept


def test_parquet_output_without_pyarrow(workspace, capsys, monkeypatch):
    # Hide only pyarrow.parquet: pandas itself keeps using the pyarrow it found
    # at import time for CSV strings, which a real environment without pyarrow
    # would not.
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code, _, err = run(
        capsys,
        "apply",
        workspace / "cal.json",
        workspace / "good.csv",
        "-o",
        workspace / "out.parquet",
    )
    assert code == 2
    assert "pip install pyarrow" in one_error_line(err, "apply")
    assert (workspace / "out.parquet").read_text() == "OLD"


def test_usage_errors_and_help(capsys):
    assert cli.main([]) == 2
    assert "choose a subcommand" in capsys.readouterr().err
    assert cli.main(["fit", "x.csv"]) == 2
    assert "--label" in capsys.readouterr().err
    for command in ("demo", "fit", "apply", "evaluate"):
        assert cli.main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"usage: calibkit {command}" in text
        assert f"examples:\n  calibkit {command}" in text
    cli.main(["apply", "--help"])
    assert "calibrated_0, calibrated_1" in " ".join(capsys.readouterr().out.split())


def test_progress_bar_only_on_a_terminal(workspace, capsys, monkeypatch):
    monkeypatch.setattr(console, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(console, "PROGRESS_MIN_ROWS", 0)
    args = ["apply", workspace / "cal.json", workspace / "good.csv", "-o"]

    monkeypatch.setattr(console, "stderr_is_terminal", lambda: True)
    code, _, err = run(capsys, *args, workspace / "a.csv")
    assert code == 0
    assert re.search(r"reading .*good.csv \[#+\] 100%", err)
    assert re.search(r"writing .*a.csv \[#+\] 100%", err)

    code, _, err = run(capsys, *args, workspace / "b.csv", "--quiet")
    assert (code, err) == (0, "")

    monkeypatch.setattr(console, "stderr_is_terminal", lambda: False)
    code, _, err = run(capsys, *args, workspace / "c.csv")
    assert code == 0
    assert "[#" not in err
    assert "wrote" in err


# --- as a program -------------------------------------------------------------------


def test_entry_point_is_declared():
    (script,) = [
        e for e in entry_points(group="console_scripts") if e.name == "calibkit"
    ]
    assert script.value == "calibkit.cli:main"


def test_python_dash_m(workspace):
    def calibkit(*args, **kwargs):
        return subprocess.run(
            [sys.executable, "-m", "calibkit", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kwargs,
        )

    done = calibkit(
        "fit", workspace / "missing.csv", "--label", "y", "-o", workspace / "out.json"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert re.fullmatch(
        r"calibkit fit: error: input file '.*' does not exist\.\n", done.stderr
    )
    assert (workspace / "out.json").read_text() == "OLD"

    done = calibkit(
        "apply",
        workspace / "cal.json",
        "-",
        "-o",
        "-",
        input=(workspace / "good.csv").read_text(),
    )
    assert (done.returncode, done.stderr) == (0, "")
    result = pd.read_csv(_string_stream(done.stdout))
    table = pd.read_csv(workspace / "good.csv")
    expected = ck.load(workspace / "cal.json").predict_proba(
        table["logit_0"].to_numpy()
    )
    assert_array_equal(result[["calibrated_no", "calibrated_yes"]].to_numpy(), expected)


def test_library_warnings_are_one_line_and_name_the_options(tmp_path, capsys):
    table = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "p": [0.2, 0.9, 0.6, 0.4, 0.3, 0.7]})
    table.to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run(
        capsys, "fit", tmp_path / "p.csv", "--label", "y", "-o", tmp_path / "c.json"
    )
    assert code == 0
    (warning,) = [line for line in err.splitlines() if ": warning: " in line]
    # The command line's own words: no Python argument names (X, input=...).
    assert warning.startswith(
        "calibkit fit: warning: the score table looks like probabilities"
    )
    assert "but --input logits" in warning
    assert "pass --input probabilities if they are" in warning.lower()
    assert "input=" not in warning


@pytest.mark.parametrize("dtype", [np.float64, object])
def test_report_scores_logits_of_any_numeric_dtype_as_probabilities(dtype):
    from calibkit.metrics import brier_score
    from calibkit.report import evaluate_forecasts

    rng = np.random.default_rng(0)
    s = rng.normal(0.0, 2.0, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-s))).astype(int)
    evaluation = evaluate_forecasts(y, s.astype(dtype), name="m", input="logits")
    assert evaluation.brier_score == pytest.approx(brier_score(y, 1 / (1 + np.exp(-s))))


# --- columns matched to labels by name (issue 10) -----------------------------------


def _animals(tmp_path, order):
    """Logits for labels bird/cat/dog, columns logit_<label> in ``order``."""
    labels = ["bird", "cat", "dog"]
    X, y = overconfident_logits(labels, n=300, seed=11)
    table = pd.DataFrame({f"logit_{c}": X[:, labels.index(c)] for c in order})
    table.insert(0, "y", y)
    path = tmp_path / "animals.csv"
    table.to_csv(path, index=False)
    return path, X, y


def test_fit_matches_columns_to_labels_by_name_in_any_order(tmp_path, capsys):
    path, X, y = _animals(tmp_path, ["dog", "cat", "bird"])
    model = tmp_path / "c.json"
    code, _, err = run(
        capsys, "fit", path, "--label", "y", "--prefix", "logit_", "-o", model
    )
    assert code == 0, err
    expected = ck.TemperatureScaling().fit(X, y)  # columns in sorted label order
    loaded = ck.load(model)
    assert loaded.temperature_ == expected.temperature_
    assert json.loads(model.read_text())["metadata"]["columns"] == [
        "logit_bird",
        "logit_cat",
        "logit_dog",
    ]
    # apply and evaluate find the columns by name too, whatever their order.
    out = tmp_path / "out.csv"
    assert run(capsys, "apply", model, path, "-o", out)[0] == 0
    result = pd.read_csv(out)
    assert_array_equal(
        result[["calibrated_bird", "calibrated_cat", "calibrated_dog"]].to_numpy(),
        expected.predict_proba(X),
    )
    code, _, _ = run(
        capsys,
        "evaluate",
        path,
        "--label",
        "y",
        "--prefix",
        "logit_",
        "--input",
        "logits",
        "--calibrator",
        model,
        "--json",
        tmp_path / "m.json",
    )
    assert code == 0
    scores = json.loads((tmp_path / "m.json").read_text())
    # Uncalibrated log-loss of the logits, columns paired with the right labels.
    expected_raw = sk_log_loss(y, softmax(X, axis=1), labels=["bird", "cat", "dog"])
    assert_allclose(_first_log_loss(scores), expected_raw, rtol=1e-9)


def _first_log_loss(doc):
    """The first log_loss value found in a JSON document."""
    if isinstance(doc, dict):
        if "log_loss" in doc and isinstance(doc["log_loss"], float):
            return doc["log_loss"]
        values = doc.values()
    elif isinstance(doc, list):
        values = doc
    else:
        return None
    for value in values:
        found = _first_log_loss(value)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--columns", "a,b,c"], None),
        (["--prefix", "s_"], r"do not say which class each one is for; .*--columns"),
        ([], r"do not say which class each one is for"),
        (["--columns", "s_a,logit_cat,s_c"], r"some prediction columns are named"),
    ],
)
def test_unnamed_columns_need_a_stated_order(tmp_path, capsys, argv, match):
    labels = ["bird", "cat", "dog"]
    X, y = overconfident_logits(labels, n=200, seed=12)
    table = pd.DataFrame({"y": y, "s_a": X[:, 0], "logit_cat": X[:, 1], "s_c": X[:, 2]})
    if match is None or "--prefix" in argv or not argv:
        table = table.rename(columns={"s_a": "a", "logit_cat": "b", "s_c": "c"})
        if "--prefix" in argv:
            table = table.rename(columns={"a": "s_a", "b": "s_b", "c": "s_c"})
    table.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(
        capsys,
        "fit",
        tmp_path / "t.csv",
        "--label",
        "y",
        *argv,
        "-o",
        tmp_path / "c.json",
    )
    if match is None:  # an explicit list is the order of the sorted labels
        assert code == 0, err
        assert ck.load(tmp_path / "c.json").temperature_ == (
            ck.TemperatureScaling().fit(X, y).temperature_
        )
    else:
        assert code == 2
        assert re.search(match, one_error_line(err, "fit"))
        assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("labels", "prefix"), [(["01", "1", "2"], "p_"), (["01", "1", "NA"], "s_")]
)
def test_labels_from_csv_keep_their_text(tmp_path, capsys, labels, prefix):
    # Labels match column names by their exact text: "01" and "1" are two
    # classes (p_1 is not p_01), and "NA" is a class, not a missing value.
    rng = np.random.default_rng(0)
    y = rng.choice(labels, size=120)
    X = rng.normal(size=(120, 3))
    columns = {f"{prefix}{label}": X[:, k] for k, label in enumerate(labels)}
    table = pd.DataFrame({"y": y, **dict(reversed(columns.items()))})
    table.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(
        capsys,
        "fit",
        tmp_path / "t.csv",
        "--label",
        "y",
        "--prefix",
        prefix,
        "-o",
        tmp_path / "c.json",
    )
    assert code == 0, err
    loaded = ck.load(tmp_path / "c.json")
    assert loaded.classes_.tolist() == labels
    expected = ck.TemperatureScaling().fit(X, y)
    assert loaded.temperature_ == expected.temperature_


def test_single_column_named_for_the_other_class_is_refused(tmp_path, capsys):
    table = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "p_0": [0.1, -1, -2, 0.5, -1, 2.0]})
    table.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(
        capsys, "fit", tmp_path / "t.csv", "--label", "y", "-o", tmp_path / "c.json"
    )
    assert code == 2
    assert "named for label 0" in one_error_line(err, "fit")


# --- columns that are not scores ----------------------------------------------------


@pytest.mark.parametrize(
    ("table", "argv", "match"),
    [
        (
            {
                "id": [10, 11, 12, 13, 14, 15],
                "label": [0, 1, 0, 1, 1, 0],
                "score": [-1.0, 2, 0.5, 1, 3, -2],
            },
            [],
            r"column 'id' .* holds distinct whole numbers, like a row identifier",
        ),
        (
            {"label": [0, 1, 0, 1], "score": [-1.0, 2, 0.5, 1]},
            ["--columns", "label,score"],
            r"column 'label' is the label, weight, group or model column",
        ),
        (
            {"label": [0, 1, 0, 1], "score": [-1.0, 2, 0.5, 1]},
            ["--columns", "score,score"],
            r"selected twice",
        ),
    ],
)
def test_columns_that_are_not_scores_are_refused(tmp_path, capsys, table, argv, match):
    pd.DataFrame(table).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run(
        capsys,
        "fit",
        tmp_path / "t.csv",
        "--label",
        "label",
        *argv,
        "-o",
        tmp_path / "c.json",
    )
    assert code == 2
    assert re.search(match, one_error_line(err, "fit"))
    assert not (tmp_path / "c.json").exists()


def test_duplicate_headers_are_refused(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("y,score,score\n0,1,2\n1,2,3\n")
    code, _, err = run(
        capsys,
        "fit",
        tmp_path / "t.csv",
        "--label",
        "y",
        "--columns",
        "score",
        "-o",
        tmp_path / "c.json",
    )
    assert code == 2
    assert "two columns named 'score'" in one_error_line(err, "fit")


# --- outputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["apply", "cal.json", "good.csv", "-o", "good.csv"],
        ["apply", "cal.json", "good.csv", "-o", "hard.csv"],
        [
            "evaluate",
            "good.csv",
            "--label",
            "y",
            "--calibrator",
            "cal.json",
            "--json",
            "cal.json",
        ],
        [
            "evaluate",
            "good.csv",
            "--label",
            "y",
            "--input",
            "logits",
            "--report",
            "good.csv",
        ],
        [
            "evaluate",
            "good.csv",
            "--label",
            "y",
            "--input",
            "logits",
            "--report",
            "x.html",
            "--json",
            "x.html",
        ],
        ["fit", "good.csv", "--label", "y", "-o", "link.json"],
    ],
)
def test_an_output_that_is_an_input_is_refused(workspace, capsys, argv):
    (workspace / "good.json").write_text("{}")
    (workspace / "link.json").symlink_to(workspace / "good.csv")
    (workspace / "hard.csv").hardlink_to(workspace / "good.csv")
    before = {p.name: p.read_bytes() for p in workspace.iterdir() if p.is_file()}
    code, _, err = run(
        capsys,
        *[workspace / a if a.endswith((".csv", ".json", ".html")) else a for a in argv],
    )
    assert code == 2
    assert "is the same file as" in one_error_line(err, argv[0])
    after = {p.name: p.read_bytes() for p in workspace.iterdir() if p.is_file()}
    assert after == before


def test_outputs_follow_symlinks_and_never_replace_devices(workspace, capsys):
    target = workspace / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = workspace / "link.csv"
    link.symlink_to(target)
    assert (
        run(
            capsys, "apply", workspace / "cal.json", workspace / "good.csv", "-o", link
        )[0]
        == 0
    )
    assert link.is_symlink()
    assert "calibrated_yes" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o640
    # /dev/null is written through, never replaced (as root it could be).
    import os

    fifo = workspace / "pipe.csv"
    os.mkfifo(fifo)
    import threading

    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code = run(
        capsys, "apply", workspace / "cal.json", workspace / "good.csv", "-o", fifo
    )[0]
    reader.join(timeout=30)
    assert code == 0
    assert received[0].startswith(b"y,logit_0,calibrated_no,calibrated_yes")
    import stat

    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert (
        run(
            capsys,
            "evaluate",
            workspace / "good.csv",
            "--label",
            "y",
            "--input",
            "logits",
            "--json",
            os.devnull,
        )[0]
        == 0
    )
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    # The write-through temporaries live in the temp directory, not beside the
    # node (never in /dev), and are gone afterwards.
    assert not list(Path(os.devnull).parent.glob(".null.calibkit-tmp-*"))
    assert not list(workspace.glob(".pipe.csv.calibkit-tmp-*"))


def test_demo_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "d"
    out.mkdir()
    (out / "report.html").write_text("mine")
    code, _, err = run(capsys, "demo", "--out", out)
    assert code == 2
    assert "--force" in one_error_line(err, "demo")
    assert (out / "report.html").read_text() == "mine"
    assert run(capsys, "demo", "--out", out, "--force", "--quiet")[0] == 0
    assert (out / "report.html").read_text() != "mine"


def test_demo_reruns_over_its_own_unchanged_output(tmp_path, capsys):
    # The README's command run twice works; a file the user edited since is kept.
    out = tmp_path / "d"
    assert run(capsys, "demo", "--out", out, "--quiet")[0] == 0
    assert run(capsys, "demo", "--out", out, "--quiet")[0] == 0
    with open(out / "test.csv", "a") as file:
        file.write("my notes\n")
    code, _, err = run(capsys, "demo", "--out", out, "--quiet")
    assert code == 2
    assert "test.csv, not as an earlier demo left them" in one_error_line(err, "demo")
    assert (out / "test.csv").read_text().endswith("my notes\n")


# --- malformed inputs ---------------------------------------------------------------


def _npy_claiming_rows(path, rows):
    header = {"descr": "<f8", "fortran_order": False, "shape": (rows, 2)}
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(np.zeros(4).tobytes())


@pytest.mark.parametrize(
    ("name", "make", "match"),
    [
        (
            "deep.json",
            lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
            r"nested too deeply",
        ),
        (
            "big.npy",
            lambda p: _npy_claiming_rows(p, 10**11),
            r"header claims an array of shape \(100000000000, 2\)",
        ),
        (
            "trunc.npz",
            lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 20),
            r"is not a readable numpy file",
        ),
    ],
)
def test_malformed_files_exit_2_with_one_line(tmp_path, capsys, name, make, match):
    path = tmp_path / name
    make(path)
    if name.endswith(".json"):
        (tmp_path / "t.csv").write_text("s\n0.5\n")
        argv = ["apply", path, tmp_path / "t.csv", "-o", tmp_path / "o.csv"]
    else:
        argv = ["fit", path, "--label", "0", "-o", tmp_path / "c.json"]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert re.search(match, one_error_line(err, argv[0]))


def test_bad_crc_npz(tmp_path, capsys):
    path = tmp_path / "s.npz"
    np.savez(path, y=np.array([0, 1, 0, 1]), s=np.array([0.1, 0.2, 0.3, 0.4]))
    data = bytearray(path.read_bytes())
    index = data.find(np.array([0.1, 0.2, 0.3, 0.4]).tobytes())
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "fit", path, "--label", "y", "-o", tmp_path / "c.json")
    assert code == 2
    assert re.search(r"not a readable numpy", one_error_line(err, "fit"))


@pytest.mark.parametrize("value", ["10000000000", "1e10", "9" * 400])
def test_n_bins_is_bounded(workspace, capsys, value):
    code, _, err = run(
        capsys,
        "evaluate",
        workspace / "good.csv",
        "--label",
        "y",
        "--input",
        "logits",
        "--n-bins",
        value,
    )
    assert code == 2
    assert "--n-bins must be a whole number from 1 to 10000" in one_error_line(
        err, "evaluate"
    )


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (np.array([1 + 2j, 0.5, 1j, 2.0]), "complex numbers"),
        (
            np.array(
                ["2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"],
                dtype="datetime64[ns]",
            ),
            "dates and times",
        ),
        (np.array([1, 2, 3, 4], dtype="timedelta64[s]"), "time differences"),
    ],
)
def test_non_real_score_columns_are_refused(tmp_path, capsys, values, what):
    np.savez(tmp_path / "s.npz", y=np.array([0, 1, 0, 1]), s=values)
    code, _, err = run(
        capsys, "fit", tmp_path / "s.npz", "--label", "y", "-o", tmp_path / "c.json"
    )
    assert code == 2
    assert f"column 's' of '{tmp_path / 's.npz'}' holds {what}" in one_error_line(
        err, "fit"
    )


# --- signals and pipes (a real process) ---------------------------------------------


def _subprocess_env():
    import os
    from pathlib import Path

    env = dict(os.environ)
    root = str(Path(ck.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_broken_pipe_exits_quietly(tmp_path):
    rng = np.random.default_rng(0)
    n = 200_000
    s = rng.normal(size=n)
    y = (rng.uniform(size=n) < 0.5).astype(int)
    pd.DataFrame({"y": y, "s": s}).to_csv(tmp_path / "t.csv", index=False)
    cal = ck.PlattScaling().fit(s[:1000], y[:1000])
    ck.save(cal, tmp_path / "c.json", metadata={"columns": ["s"]})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "calibkit",
            "apply",
            str(tmp_path / "c.json"),
            str(tmp_path / "t.csv"),
            "-o",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_subprocess_env(),
    )
    with process:
        process.stdout.readline()  # like `| head -1`
        process.stdout.close()
        err = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert code == 141
    assert err == ""


def test_sigterm_leaves_no_temporary_and_stale_ones_are_removed(tmp_path):
    import os
    import signal
    import time

    # A temporary left by a process that no longer exists (pid from a
    # finished child) is removed by the next write to the same file.
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.csv.calibkit-tmp-{dead.pid}-abcd1234"
    stale.write_text("half")
    assert done.returncode == 0
    from calibkit import io as io_module

    with io_module.atomic_output(tmp_path / "out.csv") as tmp:
        tmp.write_text("x")
    assert not stale.exists()

    # Through the command line's SIGTERM handling: run main() on a slow job.
    script = (
        "import sys, time\n"
        "from calibkit import cli, io\n"
        "def slow(args, console):\n"
        "    with io.atomic_output(r'%s') as tmp:\n"
        "        tmp.write_text('partial')\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(60)\n"
        "    return 0\n"
        "parser = cli.build_parser\n"
        "def patched():\n"
        "    p = parser()\n"
        "    p.set_defaults(command='fit', run=slow, quiet=False)\n"
        "    return p\n"
        "cli.build_parser = patched\n"
        "sys.exit(cli.main([]))\n"
    ) % (tmp_path / "slow.csv")
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_subprocess_env(),
    )
    with process:
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(0.2)
        os.kill(process.pid, signal.SIGTERM)
        status = process.wait(timeout=60)
        err = process.stderr.read().decode()
    assert status == 143, err
    assert "terminated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("method", ["temperature", "platt"])
def test_fit_summary_shows_the_state_of_exact_zeros(tmp_path, capsys, method):
    # Probabilities with exact zeros: the fitted logit (temperature) or
    # probabilities (Platt) of exact 0/1, and the floor, belong in the summary.
    rng = np.random.default_rng(3)
    P = rng.dirichlet([1.0, 1.0, 1.0], size=60)
    P[:10, 2] = 0.0
    P[:10] /= P[:10].sum(axis=1, keepdims=True)
    y = rng.integers(0, 3, size=60)
    table = pd.DataFrame({"y": y, "p_0": P[:, 0], "p_1": P[:, 1], "p_2": P[:, 2]})
    table.to_csv(tmp_path / "p.csv", index=False)
    model = tmp_path / "m.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.exceptions.CalibrationWarning)
        code, _, err = run(
            capsys, "fit", tmp_path / "p.csv", "--label", "y", "--input",
            "probabilities", "--method", method, "-o", model,
        )  # fmt: skip
    assert code == 0, err
    cal = ck.load(model)
    if method == "temperature":
        assert f"logit of exact zeros {cal.zero_logit_:.4g}" in err
        if cal.log_floor_ is not None:
            assert f"floored at {cal.log_floor_:g}" in err
    else:
        shown = ", ".join(f"{v:.4g}" for v in cal.zero_proba_)
        assert f"probability for an input of exactly 0: {shown}" in err
        shown = ", ".join(f"{v:.4g}" for v in cal.one_proba_)
        assert f"probability for an input of exactly 1: {shown}" in err


def _evaluate_both(tmp_path, capsys):
    table = pd.DataFrame({"y": [0, 1, 1, 0, 1], "p": [0.2, 0.9, 0.6, 0.4, 0.7]})
    table.to_csv(tmp_path / "p.csv", index=False)
    args = ["evaluate", tmp_path / "p.csv", "--label", "y"]
    args += ["--json", tmp_path / "e.json", "--report", tmp_path / "r.html"]
    return run(capsys, *args)


def test_evaluate_report_failure_leaves_no_json(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("the report cannot be drawn")

    monkeypatch.setattr(report, "render_html", broken)
    code, _, err = _evaluate_both(tmp_path, capsys)
    assert code == 2
    assert "cannot be drawn" in one_error_line(err, "evaluate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]


def test_evaluate_write_failure_of_the_second_output_leaves_neither(
    tmp_path, capsys, monkeypatch
):
    real_write = Path.write_text

    def full_disk(self, *args, **kwargs):
        if "r.html" in self.name:
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    code, _, err = _evaluate_both(tmp_path, capsys)
    assert code == 2
    assert "No space left" in one_error_line(err, "evaluate")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]


def test_evaluate_writes_both_outputs(tmp_path, capsys):
    code, _, err = _evaluate_both(tmp_path, capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "e.json").read_text())["source"].endswith("p.csv")
    assert "<html" in (tmp_path / "r.html").read_text().lower()
    assert f"wrote {tmp_path / 'e.json'}" in err
    assert f"wrote {tmp_path / 'r.html'}" in err


def test_named_columns_of_a_class_without_rows(tmp_path, capsys):
    # A subset without "cat": logit_cat still names a class (text labels), so
    # the file fits with every class, as the Python API does with classes=.
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, 300)
    z = rng.normal(size=(300, 3))
    z[np.arange(300), codes] += 1.5
    labels = np.array(["bird", "cat", "dog"])[codes]
    keep = labels != "cat"
    table = pd.DataFrame(
        {"logit_dog": z[:, 2], "y": labels, "logit_bird": z[:, 0], "logit_cat": z[:, 1]}
    )[keep]
    table.to_csv(tmp_path / "nocat.csv", index=False)
    code, _, _ = run(
        capsys, "fit", tmp_path / "nocat.csv", "--label", "y", "-o", tmp_path / "c.json"
    )
    assert code == 0
    fitted = ck.load(tmp_path / "c.json")
    assert fitted.classes_.tolist() == ["bird", "cat", "dog"]
    by_hand = ck.TemperatureScaling().fit(
        z[keep], labels[keep], classes=["bird", "cat", "dog"]
    )
    assert fitted.temperature_ == pytest.approx(by_hand.temperature_, rel=1e-12)


def test_one_class_labels_are_named_as_such(tmp_path, capsys):
    (tmp_path / "one.csv").write_text("score,y\n1,1\n2,1\n0.5,1\n")
    code, _, err = run(
        capsys, "fit", tmp_path / "one.csv", "--label", "y", "-o", tmp_path / "c.json"
    )
    assert code == 2
    assert "the labels hold one class only (1)" in one_error_line(err, "fit")


def test_n_bins_default_is_the_metrics_default():
    """--n-bins without a value gives what expected_calibration_error gives."""
    import inspect

    args = cli.build_parser().parse_args(["evaluate", "p.csv", "--label", "y"])
    default = inspect.signature(ck.metrics.expected_calibration_error).parameters
    assert int(args.n_bins) == default["n_bins"].default == 10
