"""How far netcal and betacal stop from the exact optimum of their own objective.

For every calibrator a peer also has, both are fitted to the same out-of-fold
probabilities of a real model on a data set that ships with scikit-learn, with
the same integer sample weights (netcal has no ``sample_weight``: it gets each
row repeated that many times, which is the same objective). Each fit is then
scored by the objective written out here in NumPy, independently of both
packages: the mean weighted log-loss of the map at the fitted parameters.

netcal works on probabilities: it clips them to ``[eps, 1 - eps]``
(``eps = 2.2e-16`` in float64) and takes their log-odds (binary) or their logs
(multiclass). calibkit is given exactly those numbers as logits, so the two
minimise the same function of the same parameters:

==================  ================================  ============================
calibkit            netcal 1.4 (``method="mle"``)     map
==================  ================================  ============================
TemperatureScaling  ``TemperatureScaling``            ``softmax(z / T)``
PlattScaling        ``LogisticCalibration``, binary   ``sigmoid(a z + b)``
VectorScaling       ``LogisticCalibration``, K > 2    ``softmax(w * z + b)``
BetaCalibration     ``BetaCalibration``, binary       ``sigmoid(a ln p - b ln(1-p)
                                                      + c)``
==================  ================================  ============================

netcal has no matrix scaling or Dirichlet calibration (its ``*Dependent``
classes are for object detection). betacal has beta calibration only, with
``parameters`` ``"abm"``, ``"am"`` and ``"ab"`` (scikit-learn's
``LogisticRegression(C=1e11)`` underneath, on the same clipped logs).

Columns: ``loss excess`` is (peer's loss - calibkit's loss) / calibkit's loss;
``max |dtheta|`` the largest difference between the parameters (vector
scaling's intercepts centred, as calibkit stores them); ``|grad|`` the largest
component of the gradient of the objective at each answer (projected on the
bounds ``a, b >= 0`` of beta calibration). A peer's answer is *converged*
when its gradient is below 1e-5.

Usage::

    python benchmarks/peer_deviations.py              # all rows (a few minutes)
    python benchmarks/peer_deviations.py --quick      # without digits x netcal vector
    python benchmarks/peer_deviations.py --rst        # the table of the guide

``tests/test_peers_netcal.py`` runs the netcal rows (but digits' vector
scaling, which takes netcal's finite-difference L-BFGS-B minutes).
"""

import argparse
import functools
import sys
import time
import warnings

import numpy as np
from scipy.special import expit, log_softmax, logit, softmax
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import calibkit as ck

#: netcal's clipping of float64 probabilities (``AbstractCalibration.epsilon``).
EPS = float(np.finfo(np.float64).eps)
LOADERS = {
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
}
MODELS = {
    "logistic": lambda: make_pipeline(
        StandardScaler(), LogisticRegression(C=0.05, max_iter=2000)
    ),
    "naive_bayes": GaussianNB,
    "forest": lambda: RandomForestClassifier(
        n_estimators=50, min_samples_leaf=3, random_state=0
    ),
}
BINARY_METHODS = ("temperature", "platt", "beta")
MULTICLASS_METHODS = ("temperature", "vector")
CONVERGED = 1e-5


@functools.cache
def outputs(data, model):
    """Out-of-fold ``predict_proba`` of a real model, its labels and weights.

    Weights are integers 1 to 3 (seeded), so that repeating rows gives the
    weighted objective to a peer without ``sample_weight``.
    """
    X, y = LOADERS[data](return_X_y=True)
    if data in ("iris", "wine"):
        # On all features a class is separated by a wide margin: no finite
        # optimum for the unregularised maps (see tests/test_scaling.py).
        X = X[:, :2]
    proba = cross_val_predict(MODELS[model](), X, y, cv=3, method="predict_proba")
    if proba.shape[1] == 2:
        proba = proba[:, 1]
    w = np.random.default_rng(len(data) + len(model)).integers(1, 4, y.shape[0])
    return proba, y, w


def clipped(proba):
    """The probabilities as netcal uses them: clipped to ``[eps, 1 - eps]``."""
    return np.clip(proba, EPS, 1.0 - EPS)


def logits(proba):
    """netcal's features: log-odds of binary, logs of multiclass probabilities."""
    q = clipped(proba)
    return logit(q) if q.ndim == 1 else np.log(q)


# --- the objective and its gradient, written out here -----------------------------


def design(method, proba):
    """Rows ``x`` with calibrated logit ``x @ theta`` (binary methods)."""
    q = clipped(proba)
    if method == "temperature":
        return logit(q)[:, None]
    if method == "platt":
        return np.column_stack([logit(q), np.ones_like(q)])
    return np.column_stack([np.log(q), -np.log1p(-q), np.ones_like(q)])  # beta


def binary_loss_grad(x, y, w, theta):
    """Mean weighted log-loss of ``sigmoid(x @ theta)`` and its gradient."""
    z = x @ theta
    loss = w @ (np.logaddexp(0.0, z) - y * z) / w.sum()
    return loss, x.T @ (w * (expit(z) - y)) / w.sum()


def softmax_loss_grad(z, y, w, scale, intercept):
    """Mean weighted log-loss of ``softmax(scale * z + intercept)``; gradient
    in ``(scale, intercept)`` (``scale`` a scalar for temperature scaling)."""
    s = z * scale + intercept
    rows = np.arange(y.shape[0])
    loss = -(w @ log_softmax(s, axis=1)[rows, y]) / w.sum()
    r = softmax(s, axis=1)
    r[rows, y] -= 1.0
    r *= (w / w.sum())[:, None]
    g_scale = (r * z).sum(axis=0)
    if np.ndim(scale) == 0:
        return loss, np.array([g_scale.sum()])
    return loss, np.concatenate([g_scale, r.sum(axis=0)])


def projected(grad, theta, bounded):
    """Gradient with the components pushing a bound parameter below 0 dropped."""
    grad = grad.copy()
    for i in bounded:
        if theta[i] <= 0.0 and grad[i] > 0.0:
            grad[i] = 0.0
    return grad


# --- fits -------------------------------------------------------------------------


def quietly(func):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func()


def fit_calibkit(method, proba, y, w):
    """calibkit's parameters, on netcal's features (beta: on the probabilities)."""
    z = logits(proba)
    if method == "temperature":
        cal = ck.TemperatureScaling().fit(z, y, sample_weight=w)
        return np.array([1.0 / cal.temperature_])
    if method == "platt":
        cal = ck.PlattScaling().fit(z, y, sample_weight=w)
        return np.array([cal.coef_[0], cal.intercept_[0]])
    if method == "vector":
        cal = ck.VectorScaling().fit(z, y, sample_weight=w)
        return np.concatenate([cal.coef_, cal.intercept_])
    cal = ck.BetaCalibration(input="probabilities").fit(clipped(proba), y, w)
    return np.array([cal.a_[0], cal.b_[0], cal.c_[0]])


def fit_netcal(method, proba, y, w):
    """netcal's maximum-likelihood parameters, on the rows repeated ``w`` times."""
    from netcal.scaling import BetaCalibration, LogisticCalibration, TemperatureScaling

    cls = {
        "temperature": TemperatureScaling,
        "platt": LogisticCalibration,
        "vector": LogisticCalibration,
        "beta": BetaCalibration,
    }[method]
    cal = quietly(
        lambda: cls(method="mle").fit(np.repeat(proba, w, axis=0), np.repeat(y, w))
    )
    sites = {name: site["values"] for name, site in cal._sites.items()}
    theta = np.concatenate(
        [np.ravel(sites["weights"]), np.ravel(sites.get("bias", []))]
    )
    if method == "vector":  # centre the intercepts: calibkit's gauge
        k = theta.size // 2
        theta[k:] -= theta[k:].mean()
    return theta.astype(np.float64)


def fit_betacal(parameters, proba, y, w):
    """betacal's ``(a, b, c)`` of ``sigmoid(a ln p - b ln(1 - p) + c)``."""
    import betacal

    cal = quietly(lambda: betacal.BetaCalibration(parameters).fit(proba, y, w))
    a, b, _ = cal.calibrator_.map_
    lr = cal.calibrator_.lr_
    if parameters == "ab":  # no intercept: logit = a ln 2p - b ln 2(1 - p)
        return np.array([a, b, (a - b) * np.log(2.0)])
    return np.array([a, b, lr.intercept_[0]])


def fit_calibkit_beta(parameters, proba, y, w):
    cal = ck.BetaCalibration(input="probabilities", parameters=parameters)
    cal.fit(clipped(proba), y, w)
    return np.array([cal.a_[0], cal.b_[0], cal.c_[0]])


def loss_and_gradient(method, proba, y, w, theta):
    """The objective at ``theta`` and the largest (projected) gradient component."""
    if method in ("temperature", "vector") and np.ndim(proba) == 2:
        z = logits(proba)
        k = z.shape[1]
        if method == "temperature":
            scale, intercept = theta[0], np.zeros(k)
        else:
            scale, intercept = theta[:k], theta[k:]
        loss, grad = softmax_loss_grad(z, y, w, scale, intercept)
        if method == "vector":  # the intercepts' gauge: drop the constant part
            grad[k:] -= grad[k:].mean()
        return loss, np.max(np.abs(grad))
    if method.startswith("beta"):
        parameters = method.partition(":")[2] or "abm"
        x = design("beta", proba)
        loss, grad = binary_loss_grad(x, y, w, theta)
        if parameters == "am":  # free (a = b, c): logit = a ln(p / (1 - p)) + c
            grad = np.array([grad[0] + grad[1], grad[2]])
        elif parameters == "ab":  # free (a, b), c = (a - b) ln 2
            ln2 = np.log(2.0)
            grad = projected(
                np.array([grad[0] + ln2 * grad[2], grad[1] - ln2 * grad[2]]),
                theta[:2],
                (0, 1),
            )
        else:
            grad = projected(grad, theta, (0, 1))
        return loss, np.max(np.abs(grad))
    loss, grad = binary_loss_grad(design(method, proba), y, w, theta)
    return loss, np.max(np.abs(grad))


def compare(peer, method, data, model):
    """One row: calibkit against ``peer`` ("netcal" or "betacal") on one problem.

    ``method`` for betacal is ``"beta:abm"``, ``"beta:am"`` or ``"beta:ab"``.
    """
    proba, y, w = outputs(data, model)
    start = time.perf_counter()
    if peer == "netcal":
        theirs = fit_netcal(method, proba, y, w)
    else:
        theirs = fit_betacal(method.partition(":")[2], proba, y, w)
    peer_s = time.perf_counter() - start
    if peer == "netcal":
        ours = quietly(lambda: fit_calibkit(method, proba, y, w))
    else:
        ours = quietly(lambda: fit_calibkit_beta(method.partition(":")[2], proba, y, w))
    key = "beta" if method == "beta" else method
    our_loss, our_grad = loss_and_gradient(key, proba, y, w, ours)
    their_loss, their_grad = loss_and_gradient(key, proba, y, w, theirs)
    return {
        "peer": peer,
        "method": method,
        "data": data,
        "model": model,
        "n": int(y.shape[0]),
        "calibkit": ours,
        "peer_theta": theirs,
        "calibkit_loss": float(our_loss),
        "peer_loss": float(their_loss),
        "loss_excess": float((their_loss - our_loss) / our_loss),
        "max_dtheta": float(np.max(np.abs(theirs - ours))),
        "calibkit_grad": float(our_grad),
        "peer_grad": float(their_grad),
        "peer_s": peer_s,
    }


def netcal_cases(quick=False):
    """``(method, data, model)`` of every netcal comparison."""
    cases = [
        (method, "breast_cancer", model)
        for method in BINARY_METHODS
        for model in MODELS
    ]
    for data in ("iris", "wine", "digits"):
        for method in MULTICLASS_METHODS:
            for model in MODELS:
                if not (quick and data == "digits" and method == "vector"):
                    cases.append((method, data, model))
    return cases


def betacal_cases():
    return [
        (f"beta:{parameters}", "breast_cancer", model)
        for parameters in ("abm", "am", "ab")
        for model in MODELS
    ]


def markdown(rows):
    head = (
        "| peer | calibrator | data x model | loss excess | max abs dtheta | "
        "calibkit grad | peer grad | converged |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        cells = [
            r["peer"],
            r["method"],
            f"{r['data']} x {r['model']}",
            f"{r['loss_excess']:.1e}",
            f"{r['max_dtheta']:.1e}",
            f"{r['calibkit_grad']:.0e}",
            f"{r['peer_grad']:.0e}",
            "yes" if r["peer_grad"] < CONVERGED else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rst(rows):
    """The table as a reST list-table (for the "Which calibrator when" guide)."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - peer",
        "     - calibrator",
        "     - data × model",
        "     - loss excess",
        "     - max abs Δθ",
        "     - peer's gradient",
    ]
    for r in rows:
        cells = [
            r["peer"],
            r["method"].replace("beta:", "beta, "),
            f"{r['data']} × {r['model']}",
            f"{r['loss_excess']:.1e}",
            f"{r['max_dtheta']:.1e}",
            f"{r['peer_grad']:.0e}",
        ]
        lines += [f"   * - {cells[0]}", *[f"     - {c}" for c in cells[1:]]]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slow rows")
    parser.add_argument("--peers", nargs="*", default=["netcal", "betacal"])
    parser.add_argument("--rst", action="store_true", help="a reST list-table")
    args = parser.parse_args(argv)
    rows = []
    for peer, cases in (
        ("netcal", netcal_cases(args.quick)),
        ("betacal", betacal_cases()),
    ):
        if peer not in args.peers:
            continue
        try:
            quietly(lambda p=peer: __import__(p))
        except ImportError:
            print(f"skipped: {peer} not installed", file=sys.stderr)
            continue
        for case in cases:
            print(f"running {peer} {case} ...", file=sys.stderr, flush=True)
            rows.append(compare(peer, *case))
    print(rst(rows) if args.rst else markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
