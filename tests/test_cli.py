"""The calibkit command, in-process (main(argv)) and as ``python -m calibkit``."""

import base64
import json
import re
import subprocess
import sys
from contextlib import nullcontext
from importlib.metadata import entry_points

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.metrics import log_loss as sk_log_loss

import calibkit as ck
from calibkit import cli, report
from calibkit import io as ckio
from calibkit.exceptions import NoFiniteOptimumWarning

METHODS = {
    "platt": ck.PlattScaling,
    "temperature": ck.TemperatureScaling,
    "isotonic": ck.IsotonicCalibration,
}


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


# --- round trips ---------------------------------------------------------------------


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
    assert ck.persistence.load_metadata(model)["columns"] == ["a", "b", "c"]


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
    found = dict(re.findall(r"(temperature|platt|isotonic) ([0-9.]+)", err))
    assert set(found) == set(METHODS)
    best = min(found, key=lambda name: float(found[name]))
    assert ck.persistence.load_metadata(model)["method"] == best
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


# --- reports and the demo ------------------------------------------------------------


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
    assert len(images) == 2
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
    }
    assert (out_dir / "reliability.png").read_bytes().startswith(b"\x89PNG")
    assert "Platt's smoothed targets" in out
    # The printed table agrees with an independent recomputation from the
    # scores the demo saved.
    cal = pd.read_csv(out_dir / "calibration.csv")
    test = pd.read_csv(out_dir / "test.csv")
    columns = [c for c in cal.columns if c.startswith("score_")]
    rows = dict(
        re.findall(r"^(uncalibrated|temperature|platt|isotonic)\s+([0-9.]+)", out, re.M)
    )
    assert set(rows) == {"uncalibrated", *METHODS}
    raw = softmax(test[columns].to_numpy(), axis=1)
    assert rows["uncalibrated"] == f"{sk_log_loss(test.label, raw):.4f}"
    for name, cls in METHODS.items():
        # Two digits are separable one-vs-rest (the demo notes it); the
        # other fits must not warn (warnings are errors in the test run).
        expect = (
            pytest.warns(NoFiniteOptimumWarning) if name == "platt" else nullcontext()
        )
        with expect:
            fitted = cls().fit(cal[columns].to_numpy(), cal.label)
        proba = fitted.predict_proba(test[columns].to_numpy())
        assert rows[name] == f"{sk_log_loss(test.label, proba):.4f}"
    html = (out_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2


def test_demo_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "matplotlib_available", lambda: False)
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d")
    assert code == 0
    assert "matplotlib is not installed" in err
    assert not list((tmp_path / "d").glob("*.png"))
    assert "tables only" in (tmp_path / "d" / "report.html").read_text()


# --- bad input -----------------------------------------------------------------------


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
    assert "pip install 'calibkit[parquet]'" in one_error_line(err, "apply")
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
    monkeypatch.setattr(cli, "PROGRESS_MIN_BYTES", 0)
    monkeypatch.setattr(cli, "PROGRESS_MIN_ROWS", 0)
    args = ["apply", workspace / "cal.json", workspace / "good.csv", "-o"]

    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    code, _, err = run(capsys, *args, workspace / "a.csv")
    assert code == 0
    assert re.search(r"reading .*good.csv \[#+\] 100%", err)
    assert re.search(r"writing .*a.csv \[#+\] 100%", err)

    code, _, err = run(capsys, *args, workspace / "b.csv", "--quiet")
    assert (code, err) == (0, "")

    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: False)
    code, _, err = run(capsys, *args, workspace / "c.csv")
    assert code == 0
    assert "[#" not in err
    assert "wrote" in err


# --- as a program --------------------------------------------------------------------


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
