"""
Compare Platt, temperature and isotonic calibration
===================================================

A Gaussian naive Bayes model treats correlated features as independent, so it
counts the same evidence several times and its probabilities are far too
extreme. We calibrate its log-odds with the three calibkit calibrators, each
fitted by log-loss on a calibration set, and compare them on a test set:

1. CORP reliability diagrams (isotonic, no binning choice) with 90%
   consistency bands: where a curve leaves its band, the forecast is not
   calibrated there;
2. the same curves on logit axes, which spread out forecasts near 0 and 1;
3. the decomposition of the log-loss, score = MCB - DSC + UNC, in nats:
   calibration lowers the miscalibration MCB; a monotone map cannot add
   discrimination DSC; the uncertainty UNC is the same for every model.

Run ``python plot_compare_methods.py FOLDER`` to save the figures as PNG files
instead of showing them.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB

from calibkit import IsotonicCalibration, PlattScaling, TemperatureScaling
from calibkit.metrics import decompose
from calibkit.plotting import DecompositionDisplay, ReliabilityDisplay

# %%
# Data and an over-confident model
# --------------------------------
# Three disjoint sets: the model is fitted on the first, the calibrators on the
# model's outputs for the second, and everything is evaluated on the third.
X, y = make_classification(
    n_samples=9000,
    n_features=12,
    n_informative=3,
    n_redundant=6,
    class_sep=0.7,
    random_state=3,
)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=3000, random_state=0
)
X_cal, X_test, y_cal, y_test = train_test_split(
    X_rest, y_rest, train_size=3000, random_state=0
)
model = GaussianNB().fit(X_train, y_train)


def log_odds(X):
    """Log-odds of class 1; from log-probabilities, which never round to 0."""
    log_proba = model.predict_log_proba(X)
    return log_proba[:, 1] - log_proba[:, 0]


scores_cal, scores_test = log_odds(X_cal), log_odds(X_test)

# %%
# Calibrate the saved scores
# --------------------------
# The calibrators take the scores themselves (``input="logits"``, the
# default); no refitting of the model is needed.
forecasts = {"naive Bayes": model.predict_proba(X_test)[:, 1]}
calibrators = {
    "Platt": PlattScaling(),
    "temperature": TemperatureScaling(),
    "isotonic": IsotonicCalibration(),
}
for name, calibrator in calibrators.items():
    calibrator.fit(scores_cal, y_cal)
    forecasts[name] = calibrator.predict_proba(scores_test)[:, 1]

decompositions = {name: decompose(y_test, p) for name, p in forecasts.items()}
table = pd.concat(
    [d.to_frame().assign(model=name) for name, d in decompositions.items()]
).set_index("model")
columns = ["score", "miscalibration", "discrimination", "uncertainty"]
print("Log-loss on the test set and its CORP decomposition (nats):")
print(table[columns].round(4).to_string())

# %%
# CORP reliability diagrams with consistency bands
# ------------------------------------------------
# One diagram per model, each with its own axes: the forecast histogram is
# then drawn in the bottom of the diagram, behind the curve.
fig, axes = plt.subplots(2, 2, figsize=(7.5, 8), layout="constrained")
for ax, (name, p) in zip(axes.flat, forecasts.items(), strict=True):
    ReliabilityDisplay.from_predictions(
        y_test,
        p,
        strategy="isotonic",
        bands=0.9,
        n_resamples=200,
        random_state=0,
        name=name,
        ax=ax,
    )
    ax.set_title(f"{name}: log-loss {decompositions[name].score:.3f} nats")

# %%
# All models on logit axes
# ------------------------
# Calling ``from_predictions`` again with ``ax=display.ax_`` adds a model to
# the same diagram; each histogram goes below, in the colour of its curve.
display = None
for name, p in forecasts.items():
    display = ReliabilityDisplay.from_predictions(
        y_test,
        p,
        strategy="quantile",
        n_bins=15,
        logit_scale=True,
        name=name,
        ax=None if display is None else display.ax_,
    )
_ = display.ax_.set_title("Equal-mass bins, logit axes")

# %%
# The decomposition, seen
# -----------------------
# Top: each model's waterfall from UNC down by DSC and up by MCB to its
# score. Bottom: the MCB-DSC plot; dotted lines join models of equal score.
fig, (top, bottom) = plt.subplots(
    2, 1, figsize=(6.4, 9.5), layout="constrained", height_ratios=(1.2, 1)
)
DecompositionDisplay.from_decompositions(decompositions, ax=top)
DecompositionDisplay.from_decompositions(decompositions, kind="mcb_dsc", ax=bottom)

# Save the figures when a folder is given, else show them.
if len(sys.argv) > 1:
    folder = Path(sys.argv[1])
    for number in plt.get_fignums():
        plt.figure(number).savefig(folder / f"{Path(__file__).stem}_{number}.png")
else:
    plt.show()
