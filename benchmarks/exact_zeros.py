"""Held-out log-loss on models that emit exact-zero probabilities.

calibkit's temperature and Platt scaling against scikit-learn's temperature
and sigmoid calibration, on scikit-learn's digits data: a model fitted on 40 %
of the rows, calibrated on 30 % (saved ``predict_proba``, or the wrappers with
5-fold cross-fitting and ``ensemble=True`` on those 70 %), scored on the other
30 %. Run ``python benchmarks/exact_zeros.py [seed ...]``.
"""

import sys
import warnings

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import calibkit as ck

MODELS = {
    "GaussianNB": GaussianNB(),
    "tree, depth 8": DecisionTreeClassifier(max_depth=8, random_state=0),
    "10-NN": KNeighborsClassifier(n_neighbors=10),
}
PAIRS = [("temperature", "temperature"), ("platt", "sigmoid")]
CALIBRATORS = {"temperature": ck.TemperatureScaling, "platt": ck.PlattScaling}


def log_loss(y, proba):
    return -np.mean(np.log(proba[np.arange(len(y)), y]))


def main(seeds):
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    print(
        "| seed | model | route | zeros | ck temperature | sk temperature "
        "| ck Platt | sk sigmoid |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        X_fit, X_rest, y_fit, y_rest = train_test_split(
            X, y, test_size=0.6, random_state=seed, stratify=y
        )
        X_cal, X_test, y_cal, y_test = train_test_split(
            X_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
        )
        X_train = np.vstack([X_fit, X_cal])
        y_train = np.concatenate([y_fit, y_cal])
        for name, model in MODELS.items():
            fitted = model.fit(X_fit, y_fit)
            p_cal, p_test = fitted.predict_proba(X_cal), fitted.predict_proba(X_test)
            saved, wrapped = [], []
            for ours, theirs in PAIRS:
                cal = CALIBRATORS[ours](input="probabilities").fit(p_cal, y_cal)
                ref = CalibratedClassifierCV(FrozenEstimator(fitted), method=theirs)
                saved += [
                    log_loss(y_test, cal.predict_proba(p_test)),
                    log_loss(y_test, ref.fit(X_cal, y_cal).predict_proba(X_test)),
                ]
                wrapper = ck.CalibratedClassifier(model, method=ours, ensemble=True)
                ref = CalibratedClassifierCV(model, method=theirs, ensemble=True)
                wrapped += [
                    log_loss(
                        y_test, wrapper.fit(X_train, y_train).predict_proba(X_test)
                    ),
                    log_loss(y_test, ref.fit(X_train, y_train).predict_proba(X_test)),
                ]
            zeros = f"{np.mean(p_cal == 0):.0%}"
            for route, losses in (("saved proba", saved), ("wrapper", wrapped)):
                cells = " | ".join(f"{v:.4f}" for v in losses)
                print(f"| {seed} | {name} | {route} | {zeros} | {cells} |")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0])
