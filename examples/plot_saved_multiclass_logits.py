"""
Calibrate the saved logits of a multiclass model
================================================

Often the model is gone, or too expensive to rerun, and all that is left is a
file of its logits: one row per example, one column per class. calibkit's
calibrators work on such saved outputs directly. Here a weakly regularised
logistic regression on the digits data plays the part of a network whose
logits were saved to a ``.npy`` file; it is over-confident on new data.

We fit temperature scaling (one parameter, keeps every prediction), Platt
scaling (one-vs-rest) and isotonic calibration (one-vs-rest) on the logits of
a calibration set, and compare them on a test set with a top-label reliability
diagram, a class-wise grid and the log-loss decomposition.

Run ``python plot_saved_multiclass_logits.py FOLDER`` to save the figures as
PNG files instead of showing them.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from calibkit import IsotonicCalibration, PlattScaling, TemperatureScaling
from calibkit.metrics import decompose, expected_calibration_error, log_loss
from calibkit.plotting import DecompositionDisplay, ReliabilityDisplay

# %%
# A model, and its logits saved to a file
# ---------------------------------------
X, y = load_digits(return_X_y=True)
X_train, X_new, y_train, y_new = train_test_split(
    X, y, train_size=600, stratify=y, random_state=0
)
network = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
network.fit(X_train, y_train)

# %%
# Calibrate from the files
# ------------------------
# A memory map reads the logits without loading the whole file; float32 stays
# float32. Half of the rows calibrate, the other half test. Some digits are
# separated from the rest by their own logit, where unsmoothed Platt scaling
# has no finite optimum: Platt's smoothed targets avoid that.
with tempfile.TemporaryDirectory() as folder:
    np.save(Path(folder, "logits.npy"), network.decision_function(X_new).astype("f4"))
    np.save(Path(folder, "labels.npy"), y_new)

    logits = np.load(Path(folder, "logits.npy"), mmap_mode="r")
    labels = np.load(Path(folder, "labels.npy"))
    cal = np.arange(labels.shape[0]) % 2 == 0
    logits_cal, logits_test = logits[cal], logits[~cal]  # copies, in memory
    y_cal, y_test = labels[cal], labels[~cal]
    del logits  # release the memory map before the folder is removed

forecasts = {"saved logits": softmax(np.asarray(logits_test, dtype=float), axis=1)}
calibrators = {
    "temperature": TemperatureScaling(),
    "Platt (one-vs-rest)": PlattScaling(target_smoothing=True),
    "isotonic (one-vs-rest)": IsotonicCalibration(),
}
for name, calibrator in calibrators.items():
    calibrator.fit(logits_cal, y_cal)
    forecasts[name] = calibrator.predict_proba(logits_test)

print(f"Fitted temperature: {calibrators['temperature'].temperature_:.3f}")
print(f"{'':>24}  log-loss (nats)  top-label ECE  accuracy")
for name, P in forecasts.items():
    ece = expected_calibration_error(y_test, P, n_bins=10)
    accuracy = np.mean(P.argmax(axis=1) == y_test)
    print(f"{name:>24}  {log_loss(y_test, P):15.4f}  {ece:13.4f}  {accuracy:8.3f}")

# %%
# Top-label reliability diagram
# -----------------------------
# A 2-D ``y_prob`` gives the confidence of the predicted class against how
# often that prediction was right. Over-confidence lies below the diagonal.
display = None
for name in ["saved logits", "temperature", "isotonic (one-vs-rest)"]:
    display = ReliabilityDisplay.from_predictions(
        y_test,
        forecasts[name],
        strategy="quantile",
        n_bins=8,
        name=name,
        ax=None if display is None else display.ax_,
    )
_ = display.ax_.set_title("Top-label diagram, equal-mass bins")

# %%
# One diagram per class
# ---------------------
# Column k of the temperature-scaled forecast against "the digit is k", as a
# CORP curve (isotonic): with about 45 examples of each digit, bins would be
# too noisy to read.
grid = ReliabilityDisplay.from_predictions_classwise(
    y_test, forecasts["temperature"], strategy="isotonic", name="temperature"
)
_ = grid[0].figure_.suptitle("Class-wise CORP diagrams after temperature scaling")

# %%
# Where the log-loss goes
# -----------------------
# Multiclass components are estimates (class-wise PAV recalibration); the
# score and the uncertainty are exact.
decompositions = {name: decompose(y_test, P) for name, P in forecasts.items()}
DecompositionDisplay.from_decompositions(decompositions)

# Save the figures when a folder is given, else show them.
if len(sys.argv) > 1:
    out = Path(sys.argv[1])
    for number in plt.get_fignums():
        plt.figure(number).savefig(out / f"{Path(__file__).stem}_{number}.png")
else:
    plt.show()
