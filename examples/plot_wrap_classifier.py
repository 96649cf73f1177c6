"""
Calibrate a scikit-learn classifier
===================================

:class:`calibkit.CalibratedClassifier` wraps any scikit-learn classifier: the
classifier's out-of-fold outputs train a calibrator fitted by log-loss, and
the whole thing is one estimator (``fit``, ``predict_proba``, usable in a
pipeline or a grid search).

Two classic miscalibrated models: Gaussian naive Bayes is over-confident
(probabilities too close to 0 and 1), a random forest is under-confident
(averaged trees rarely reach 0 or 1). A linear SVM has no probabilities at
all; its ``decision_function`` is calibrated instead. An already fitted model
is calibrated without refitting through ``FrozenEstimator``.

Run ``python plot_wrap_classifier.py FOLDER`` to save the figures as PNG files
instead of showing them.
"""

import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC

from calibkit import CalibratedClassifier
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import decompose
from calibkit.plotting import DecompositionDisplay, ReliabilityDisplay

X, y = make_classification(
    n_samples=8000,
    n_features=16,
    n_informative=4,
    n_redundant=8,
    class_sep=0.8,
    random_state=1,
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=5000, random_state=0
)

# %%
# Wrap, fit, compare
# ------------------
# ``method="auto"`` scores Platt, temperature and isotonic calibration by
# cross-validated log-loss and keeps the best.
naive_bayes = GaussianNB().fit(X_train, y_train)
naive_bayes_calibrated = CalibratedClassifier(GaussianNB(), method="auto")
naive_bayes_calibrated.fit(X_train, y_train)
print("naive Bayes, cross-validated log-loss of each method (nats):")
for method, score in naive_bayes_calibrated.method_scores_.items():
    print(f"  {method:>12}: {score:.4f}")
print(f"  chosen: {naive_bayes_calibrated.method_}")

forest = RandomForestClassifier(n_estimators=60, min_samples_leaf=3, random_state=0)
forest.fit(X_train, y_train)
# The forest is already fitted: calibrate it as it is, on rows it has not
# seen. Its training rows would teach the calibrator the forest's in-sample
# over-fit, so the calibration rows are held out.
X_fit, X_cal, y_fit, y_cal = train_test_split(
    X_train, y_train, test_size=0.4, random_state=0
)
forest_fitted = RandomForestClassifier(
    n_estimators=60, min_samples_leaf=3, random_state=0
).fit(X_fit, y_fit)
forest_calibrated = CalibratedClassifier(
    FrozenEstimator(forest_fitted), method="isotonic"
).fit(X_cal, y_cal)

svm_calibrated = CalibratedClassifier(LinearSVC(), method="platt")
svm_calibrated.fit(X_train, y_train)
print(f"linear SVM calibrated from its {svm_calibrated.response_}")

# %%
# Reliability diagrams
# --------------------
# ``from_estimator`` calls ``predict_proba`` on the test set; a second call
# with ``ax=display.ax_`` adds the calibrated model to the same diagram.
pairs = [
    (naive_bayes, naive_bayes_calibrated, "naive Bayes"),
    (forest, forest_calibrated, "random forest"),
]
for raw, calibrated, title in pairs:
    display = ReliabilityDisplay.from_estimator(
        raw, X_test, y_test, strategy="quantile", n_bins=10, name=title
    )
    ReliabilityDisplay.from_estimator(
        calibrated,
        X_test,
        y_test,
        strategy="quantile",
        n_bins=10,
        name=f"{title}, calibrated",
        ax=display.ax_,
    )
    display.ax_.set_title(f"{title}: before and after calibration")

# %%
# The log-loss, decomposed
# ------------------------
# Calibration removes most of the miscalibration MCB. It leaves the
# discrimination DSC nearly unchanged: the forest calibrated here was trained
# on fewer rows, which costs it a little discrimination. The raw forest gives
# some test rows probability exactly 0 for what happened: its log-loss is
# infinite (calibkit warns, and draws the bar to the edge), a risk calibration
# also removes.
models = {
    "naive Bayes": naive_bayes,
    "naive Bayes, calibrated": naive_bayes_calibrated,
    "random forest": forest,
    "random forest, calibrated": forest_calibrated,
    "linear SVM, calibrated": svm_calibrated,
}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", CalibrationWarning)
    decompositions = {
        name: decompose(y_test, model.predict_proba(X_test)[:, 1])
        for name, model in models.items()
    }
for warning in caught:
    print(f"{warning.category.__name__}: {warning.message}")
DecompositionDisplay.from_decompositions(decompositions)

# Save the figures when a folder is given, else show them.
if len(sys.argv) > 1:
    out = Path(sys.argv[1])
    for number in plt.get_fignums():
        plt.figure(number).savefig(out / f"{Path(__file__).stem}_{number}.png")
else:
    plt.show()
