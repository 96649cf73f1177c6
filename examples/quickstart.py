"""Quickstart: calibrate a classifier's saved predictions with each method.

A linear support vector machine on scikit-learn's bundled handwritten digits
outputs decision scores, not probabilities: read as logits, they are badly
calibrated. We keep only its saved scores (as a batch scoring job would),
calibrate them on a calibration split with Platt scaling, temperature scaling
and isotonic calibration, and compare held-out log-loss, Brier score and
accuracy before and after.

Run with ``python examples/quickstart.py``.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import LinearSVC

import calibkit as ck
from calibkit.metrics import brier_score, log_loss


def saved_predictions(seed=0):
    """Train a model and return its saved scores on two held-out splits."""
    X, y = load_digits(return_X_y=True)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.6, stratify=y, random_state=seed
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    scaler = MinMaxScaler().fit(X_train)
    model = LinearSVC().fit(scaler.transform(X_train), y_train)
    # One decision score per class: the calibrators read them as logits.
    return (
        model.decision_function(scaler.transform(X_cal)),
        y_cal,
        model.decision_function(scaler.transform(X_test)),
        y_test,
    )


def main():
    logits_cal, y_cal, logits_test, y_test = saved_predictions()
    calibrators = {
        "Platt scaling": ck.PlattScaling(),
        "temperature scaling": ck.TemperatureScaling(),
        "isotonic calibration": ck.IsotonicCalibration(),
    }
    rows = [
        _scores(
            "uncalibrated",
            logits_test,
            y_test,
            log_loss(y_test, logits_test, input="logits"),
        )
    ]
    for name, calibrator in calibrators.items():
        calibrator.fit(logits_cal, y_cal)
        proba = calibrator.predict_proba(logits_test)
        rows.append(_scores(name, proba, y_test, log_loss(y_test, proba)))
    table = pd.DataFrame(rows).set_index("method")
    print(
        f"LinearSVC on digits: {len(y_cal)} calibration rows, {len(y_test)} test rows"
    )
    print(f"fitted temperature: {calibrators['temperature scaling'].temperature_:.3f}")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))


def _scores(name, values, y, held_out_log_loss):
    proba = values if values.min() >= 0 else _softmax(values)
    return {
        "method": name,
        "log-loss (nats)": held_out_log_loss,
        "Brier": brier_score(y, proba),
        "accuracy": float(np.mean(proba.argmax(axis=1) == y)),
    }


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


if __name__ == "__main__":
    main()
