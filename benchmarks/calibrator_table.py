"""Which calibrator when: held-out log-loss and ECE of every registered calibrator.

Real models on data sets that ship with scikit-learn (binary and multiclass).
For each model x data pair and each of ``--repeats`` random splits, the rows
are split in three stratified parts: the model is fitted on half, every
calibrator in :data:`calibkit.calibrators._registry.CALIBRATORS` on a quarter
(the model's ``decision_function`` as logits when it has one, else its
``predict_proba`` as probabilities, as :class:`calibkit.CalibratedClassifier`
does), and all are scored on the last quarter: mean log-loss (nats) and
top-label ECE (15 equal-width bins), averaged over the splits. A calibrator
that refuses a problem (e.g. a binary-only one on multiclass data) shows "—".

Usage::

    python benchmarks/calibrator_table.py            # writes the guide's table
    python benchmarks/calibrator_table.py --quick --out /tmp/table.inc

The full run takes under a minute on two cores; its output is committed as
``docs/user_guide/_generated/calibrator_table.inc`` and included by
``docs/user_guide/choosing_a_calibrator.rst``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from calibkit.calibrators._registry import CALIBRATORS
from calibkit.metrics import expected_calibration_error, log_loss

OUT = (
    Path(__file__).resolve().parents[1]
    / "docs"
    / "user_guide"
    / "_generated"
    / "calibrator_table.inc"
)
DASH = "—"


def load(name):
    """Features and labels of a bundled data set (``digits2``: even vs odd)."""
    if name == "digits2":
        X, y = load_digits(return_X_y=True)
        return X, y % 2
    loader = {
        "breast_cancer": load_breast_cancer,
        "digits": load_digits,
        "iris": load_iris,
        "wine": load_wine,
    }[name]
    return loader(return_X_y=True)


def models():
    """Model factories: a naive Bayes, a forest, boosting, an over-confident
    network (no weight decay, trained to fit its half perfectly), a linear
    model and a support-vector machine."""
    return {
        "GaussianNB": GaussianNB,
        "random forest": lambda: RandomForestClassifier(
            n_estimators=100, random_state=0
        ),
        "gradient boosting": lambda: HistGradientBoostingClassifier(
            max_iter=50, early_stopping=False, random_state=0
        ),
        "MLP (over-confident)": lambda: make_pipeline(
            StandardScaler(),
            MLPClassifier((64,), alpha=0.0, max_iter=300, random_state=0),
        ),
        "logistic regression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
        "SVM (RBF)": lambda: make_pipeline(StandardScaler(), SVC(random_state=0)),
    }


#: (data set, model); binary problems first.
PAIRS = [
    ("breast_cancer", "GaussianNB"),
    ("breast_cancer", "random forest"),
    ("breast_cancer", "MLP (over-confident)"),
    ("breast_cancer", "SVM (RBF)"),
    ("digits2", "GaussianNB"),
    ("digits2", "gradient boosting"),
    ("digits", "GaussianNB"),
    ("digits", "random forest"),
    ("digits", "MLP (over-confident)"),
    ("wine", "gradient boosting"),
    ("iris", "logistic regression"),
]
QUICK_PAIRS = [("breast_cancer", "GaussianNB"), ("iris", "logistic regression")]


def outputs(model, X):
    """The model's output for the calibrators and its ``input`` kind."""
    if hasattr(model, "decision_function"):
        return model.decision_function(X), "logits"
    proba = model.predict_proba(X)
    return (proba[:, 1] if proba.shape[1] == 2 else proba), "probabilities"


def evaluate_pair(data, model_name, seed):
    """{method: (log-loss, ECE)} on one split; "uncalibrated" is the model's
    own ``predict_proba``."""
    X, y = load(data)
    X_fit, X_rest, y_fit, y_rest = train_test_split(
        X, y, train_size=0.5, stratify=y, random_state=seed
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed
    )
    model = models()[model_name]().fit(X_fit, y_fit)
    scores = {}
    if hasattr(model, "predict_proba"):
        raw = model.predict_proba(X_test)
        scores["uncalibrated"] = (log_loss(y_test, raw), ece(y_test, raw))
    cal_X, kind = outputs(model, X_cal)
    test_X, _ = outputs(model, X_test)
    for name, cls in CALIBRATORS.items():
        try:
            calibrator = cls(input=kind).fit(cal_X, y_cal, classes=np.unique(y))
        except (ValueError, TypeError) as error:  # refuses this kind of problem
            print(f"  {name} refused {data}/{model_name}: {error}", file=sys.stderr)
            scores[name] = None
            continue
        proba = calibrator.predict_proba(test_X)
        scores[name] = (log_loss(y_test, proba), ece(y_test, proba))
    return scores


def ece(y, proba):
    return expected_calibration_error(y, proba[:, 1] if proba.shape[1] == 2 else proba)


def run(pairs, repeats):
    """Mean scores over ``repeats`` splits for every pair."""
    table = []
    for data, model_name in pairs:
        start = time.perf_counter()
        runs = [evaluate_pair(data, model_name, seed) for seed in range(repeats)]
        mean = {}
        for method in runs[0]:
            values = [r[method] for r in runs]
            mean[method] = (
                None if any(v is None for v in values) else tuple(np.mean(values, 0))
            )
        n_classes = len(np.unique(load(data)[1]))
        table.append((data, model_name, n_classes, mean))
        took = time.perf_counter() - start
        print(f"{data:>14} {model_name:<22} {took:5.1f} s", file=sys.stderr)
    return table


def rst_table(table, column, title):
    """An rst list-table of one score; the best calibrator of each row in bold."""
    methods = ["uncalibrated", *CALIBRATORS]
    lines = [
        f".. list-table:: {title}",
        "   :header-rows: 1",
        "",
        "   * - data (classes)",
        "     - model",
        *[f"     - {m}" for m in methods],
    ]
    for data, model_name, n_classes, mean in table:
        values = {
            m: (mean[m][column] if mean.get(m) is not None else None) for m in methods
        }
        finite = [v for m, v in values.items() if m != "uncalibrated" and v is not None]
        best = min(finite) if finite else None
        lines += [f"   * - {data} ({n_classes})", f"     - {model_name}"]
        for m in methods:
            v = values[m]
            if v is None:
                cell = DASH
            else:
                cell = f"{v:.4f}" if np.isfinite(v) else "inf"
                if m != "uncalibrated" and v == best:
                    cell = f"**{cell}**"
            lines.append(f"     - {cell}")
    return "\n".join(lines)


def document(table, repeats):
    header = [
        ".. Generated by benchmarks/calibrator_table.py; do not edit. Regenerate with",
        "   python benchmarks/calibrator_table.py",
        "",
    ]
    note = (
        f"Mean over {repeats} random stratified splits (model 50 %, calibration "
        "25 %, test 25 % of the rows). Best calibrator of each row in bold. "
        f"{DASH}: the calibrator does not take this problem (uncalibrated: the "
        "model has no predict_proba)."
    )
    return "\n".join(
        [
            *header,
            note,
            "",
            rst_table(table, 0, "Held-out log-loss (nats; lower is better)"),
            "",
            rst_table(table, 1, "Held-out top-label ECE (15 bins; lower is better)"),
            "",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two pairs, one split")
    parser.add_argument("--repeats", type=int, default=None, help="random splits")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    # One thread: OpenMP threads of the boosted model only contend on a
    # shared machine, and the timing of the whole run is what matters here.
    with warnings.catch_warnings(), threadpool_limits(1):
        # Calibrators warn on separable folds and exact zeros (and models on
        # convergence): expected here, and the scores tell the outcome.
        warnings.simplefilter("ignore")
        table = run(QUICK_PAIRS if args.quick else PAIRS, repeats)
    text = document(table, repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
