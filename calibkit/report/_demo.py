"""The data, fits and files of ``calibkit demo``.

A linear SVM on scikit-learn's handwritten digits gives decision scores on
held-out rows; every calibrator is fitted on half of them and scored on the
other half; the scores, the diagrams and the report are written to a
directory. The command line (:mod:`calibkit.cli._demo`) only prints.
"""

import hashlib
import json
import warnings
from pathlib import Path

from calibkit.calibrators._registry import CALIBRATORS
from calibkit.io._write import atomic_output, write_bytes
from calibkit.report import _report

#: Files ``calibkit demo`` writes into its directory.
DEMO_FILES = (
    "calibration.csv",
    "test.csv",
    "reliability.png",
    "decomposition.png",
    "report.html",
)

#: The demo's record of the files it wrote, with their SHA-256 digests, so that
#: a rerun replaces its own unchanged output but never a file the user made or
#: edited.
DEMO_MANIFEST = ".calibkit-demo.json"


def foreign_files(out):
    """Names of DEMO_FILES in ``out`` that no earlier demo wrote as they are now."""
    out = Path(out)
    own = _own_files(out)
    return [name for name in DEMO_FILES if (out / name).exists() and name not in own]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _own_files(out):
    """Names of DEMO_FILES in ``out`` that an earlier demo wrote, unchanged since."""
    try:
        recorded = json.loads((out / DEMO_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(recorded, dict):
        return set()
    return {
        name
        for name in DEMO_FILES
        if isinstance(recorded.get(name), str)
        and (out / name).is_file()
        and _sha256(out / name) == recorded[name]
    }


def _write_manifest(out, written):
    digests = {Path(path).name: _sha256(path) for path in written}
    with atomic_output(out / DEMO_MANIFEST) as tmp:
        tmp.write_text(json.dumps(digests, indent=1), encoding="utf-8")


def demo_scores(seed=0):
    """Decision scores of a linear SVM on digits, on calibration and test rows.

    Returns
    -------
    cal_scores, y_cal, test_scores, y_test : ndarray
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sklearn.svm import LinearSVC

    X, y = load_digits(return_X_y=True)
    # Half for training, a quarter each to fit and to score the calibrators.
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=0.5, stratify=y, random_state=seed
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    model = make_pipeline(MinMaxScaler(), LinearSVC(random_state=seed))
    model.fit(X_train, y_train)
    return (
        model.decision_function(X_cal),
        y_cal,
        model.decision_function(X_test),
        y_test,
    )


def demo_evaluations(cal_scores, y_cal, test_scores, y_test):
    """Fit every calibrator on the calibration rows and score the test rows.

    Returns
    -------
    evaluations : list of ForecastEvaluation
        The uncalibrated scores first, then one per method.
    caught : dict
        ``{method: [warnings.WarningMessage, ...]}``, the warnings of each fit.
    """
    evaluations = [
        _report.evaluate_forecasts(
            y_test, test_scores, name="uncalibrated", input="logits"
        )
    ]
    caught = {}
    for name, cls in CALIBRATORS.items():
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            calibrator = cls().fit(cal_scores, y_cal)
        caught[name] = records
        proba = calibrator.predict_proba(test_scores)
        evaluations.append(
            _report.evaluate_forecasts(
                y_test, proba, name=name, labels=calibrator.classes_
            )
        )
    return evaluations, caught


def write_demo(out, evaluations, data):
    """Write the demo's files into ``out`` (created if needed).

    Parameters
    ----------
    out : path
    evaluations : list of ForecastEvaluation
    data : tuple
        ``(cal_scores, y_cal, test_scores, y_test)`` from :func:`demo_scores`.

    Returns
    -------
    list of Path
        The files written; the diagrams only when matplotlib is installed.
    """
    import pandas as pd

    from calibkit.io._write import write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cal_scores, y_cal, test_scores, y_test = data
    written = []
    for name, scores, y in (
        ("calibration", cal_scores, y_cal),
        ("test", test_scores, y_test),
    ):
        columns = [f"score_{k}" for k in range(scores.shape[1])]
        table = pd.DataFrame(scores, columns=columns)
        table.insert(0, "label", y)
        write_table(table, out / f"{name}.csv")
        written.append(out / f"{name}.csv")
    images = {}
    if _report.matplotlib_available():
        images["reliability"] = _report.reliability_png(evaluations)
        images["decomposition"] = _report.figure_png(
            _report.decomposition_figure(evaluations)
        )
        for name, png in images.items():
            written.append(write_bytes(out / f"{name}.png", png))
    description = (
        "A linear support vector machine trained on scikit-learn's handwritten "
        "digits; its decision scores on held-out rows, read as logits, are "
        f"calibrated on {len(y_cal)} rows and scored on {len(y_test)} other rows."
    )
    report = _report.write_report(
        out / "report.html",
        evaluations,
        title="calibkit demo",
        description=description,
        images=images,
    )
    written.append(report)
    _write_manifest(out, written)
    return written
