"""BetaCalibration against a 40-digit constrained Newton solver, Platt and betacal."""

import json
import warnings

import mpmath
import numpy as np
import pytest
from scipy import optimize
from scipy.special import expit, softmax
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import calibkit as ck
from calibkit import BetaCalibration, PlattScaling
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning

SATURATED = "ignore:X holds .* exactly 0 or 1:calibkit.exceptions.CalibrationWarning"

# -- an independent reference: Newton's method in 40-digit arithmetic ----------


def mp_log_pair(x, kind):
    """(ln p, ln(1 - p)) of each input in mpmath, straight from the definition."""
    out = []
    for v in x:
        v = mpmath.mpf(float(v))
        if kind == "probabilities":
            out.append((mpmath.log(v), mpmath.log(1 - v)))
        else:  # log-odds
            out.append(
                (-mpmath.log(1 + mpmath.exp(-v)), -mpmath.log(1 + mpmath.exp(v)))
            )
    return out


def mp_design(pairs, parameters):
    """Feature vectors in the parameters (a, b, c) or (a, c) the fit reports."""
    ln2 = mpmath.log(2)
    if parameters == "abm":
        return [(l1, -l0, mpmath.mpf(1)) for l1, l0 in pairs]
    if parameters == "am":
        return [(l1 - l0, mpmath.mpf(1)) for l1, l0 in pairs]
    return [(l1 + ln2, -(l0 + ln2)) for l1, l0 in pairs]  # "ab": c = (a - b) ln 2


def mp_loss(theta, features, t, w):
    total = mpmath.mpf(0)
    for x, ti, wi in zip(features, t, w):
        z = mpmath.fsum(a * b for a, b in zip(theta, x))
        total += wi * (mpmath.log(1 + mpmath.exp(z)) - ti * z)
    return total / mpmath.fsum(w)


def scipy_start(features, t, w, free):
    """A float64 start for the 40-digit Newton: BFGS on the free coordinates."""
    F = np.array([[float(v) for v in x] for x in features])
    t, w = np.array([float(v) for v in t]), np.array([float(v) for v in w])

    def loss(theta):
        z = F[:, free] @ theta
        q = expit(z)
        return np.sum(w * (np.logaddexp(0, z) - t * z)), F[:, free].T @ (w * (q - t))

    result = optimize.minimize(loss, np.zeros(len(free)), jac=True, method="BFGS")
    return result.x


def mp_newton(features, t, w, free):
    """Newton on the coordinates ``free`` (the others fixed at 0), in mpmath.

    Returns ``(theta, loss)``, or None when it does not converge (the
    restricted problem has no finite optimum).
    """
    p = len(features[0])
    theta = [mpmath.mpf(0)] * p
    if not free:
        return theta, mp_loss(theta, features, t, w)
    for i, v in zip(free, scipy_start(features, t, w, free)):
        theta[i] = mpmath.mpf(float(v))
    loss = mp_loss(theta, features, t, w)
    for _ in range(40):
        g = [mpmath.mpf(0)] * p
        h = mpmath.zeros(p, p)
        for x, ti, wi in zip(features, t, w):
            z = mpmath.fsum(a * b for a, b in zip(theta, x))
            q = 1 / (1 + mpmath.exp(-z))
            for i in free:
                g[i] += wi * (q - ti) * x[i]
                for j in free:
                    h[i, j] += wi * q * (1 - q) * x[i] * x[j]
        sub = mpmath.matrix([[h[i, j] for j in free] for i in free])
        step = mpmath.lu_solve(sub, mpmath.matrix([-g[i] for i in free]))
        size = 1
        while True:
            trial = list(theta)
            for k, i in enumerate(free):
                trial[i] += size * step[k]
            new = mp_loss(trial, features, t, w)
            if new <= loss or size < 1e-6:
                break
            size /= 2
        theta, loss = trial, new
        if max(abs(step[k]) for k in range(len(free))) < mpmath.mpf(10) ** -25:
            return theta, loss
    return None


def mp_beta(x, kind, y, w, parameters, targets=(1, 0)):
    """The exact optimum: every active set of ``a, b >= 0``, best feasible one.

    The loss is convex, so the constrained minimiser is the minimiser of the
    problem restricted to its active set; among the feasible candidates it
    has the lowest loss.
    """
    with mpmath.workdps(40):
        features = mp_design(mp_log_pair(x, kind), parameters)
        t = [mpmath.mpf(targets[0] if yi else targets[1]) for yi in y]
        w = [mpmath.mpf(float(v)) for v in w]
        p = len(features[0])
        if parameters == "am":
            candidates = [list(range(p))]
        else:
            candidates = [
                [i for i in range(p) if i not in fixed]
                for fixed in [(), (0,), (1,), (0, 1)]
            ]
        best = None
        for free in candidates:
            found = mp_newton(features, t, w, free)
            if found is None:
                continue
            theta, loss = found
            if parameters != "am" and (theta[0] < 0 or theta[1] < 0):
                continue
            if best is None or loss < best[1]:
                best = (theta, loss)
        theta, loss = best
        if parameters == "abm":
            a, b, c = theta
        elif parameters == "am":
            a, b, c = theta[0], theta[0], theta[1]
        else:
            a, b = theta
            c = (a - b) * mpmath.log(2)
        return (float(a), float(b), float(c)), loss, (features, t, w)


def mp_loss_at(abc, parameters, features, t, w):
    """The reference objective at a fitted (a, b, c), in 40 digits."""
    a, b, c = (mpmath.mpf(float(v)) for v in abc)
    with mpmath.workdps(40):
        theta = {"abm": (a, b, c), "am": (a, c), "ab": (a, b)}[parameters]
        return mp_loss(theta, features, t, w)


# -- real models on breast-cancer data ----------------------------------------


@pytest.fixture(scope="module")
def cancer_outputs():
    """Held-out outputs of five real models (70 rows each, to keep mpmath quick)."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_cal, y_train, y_cal = train_test_split(
        X, y, test_size=70, random_state=0, stratify=y
    )
    models = {
        "logistic": (make_pipeline(StandardScaler(), LogisticRegression()), "logits"),
        "boosting": (
            HistGradientBoostingClassifier(max_iter=30, random_state=0),
            "logits",
        ),
        "naive_bayes": (GaussianNB(), "probabilities"),
        "forest": (
            RandomForestClassifier(n_estimators=30, random_state=0),
            "probabilities",
        ),
        "mlp": (
            make_pipeline(
                StandardScaler(),
                MLPClassifier((30,), alpha=1e-5, max_iter=300, random_state=0),
            ),
            "probabilities",
        ),
    }
    out = {}
    for name, (model, kind) in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        if kind == "logits":
            scores = model.decision_function(X_cal)
        else:
            scores = model.predict_proba(X_cal)[:, 1]
        out[name] = (scores, kind)
    return out, y_cal


def fit_quietly(X, y, w, **params):
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "X holds .* exactly 0 or 1", CalibrationWarning
        )
        return BetaCalibration(**params).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("parameters", ["abm", "am", "ab"])
@pytest.mark.parametrize(
    "model", ["logistic", "boosting", "naive_bayes", "forest", "mlp"]
)
def test_matches_high_precision_constrained_optimum(cancer_outputs, model, parameters):
    outputs, y = cancer_outputs
    x, kind = outputs[model]
    w = np.random.default_rng(len(model)).uniform(0.5, 2.0, y.shape[0])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cal = fit_quietly(x, y, w, parameters=parameters, input=kind)
    smoothed = any(issubclass(r.category, NoFiniteOptimumWarning) for r in record)
    finite = (x > 0) & (x < 1) if kind == "probabilities" else np.ones(x.size, bool)
    smoothed |= not finite.all()
    targets = (1, 0)
    if smoothed:  # Platt's targets from the weighted counts of the finite rows
        n_pos, n_neg = w[finite & (y == 1)].sum(), w[finite & (y == 0)].sum()
        targets = ((n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    ref, ref_loss, problem = mp_beta(
        x[finite], kind, y[finite] == 1, w[finite], parameters, targets
    )
    ours = (cal.a_[0], cal.b_[0], cal.c_[0])
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-12)
    if parameters != "am":
        assert min(ours[:2]) >= 0.0
    our_loss = mp_loss_at(ours, parameters, *problem)
    assert our_loss <= ref_loss * (1 + 1e-14)


def one_sided_data(seed, n=40):
    """Labels from a beta map with random (possibly negative) a and b."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    a, b = rng.normal(0.0, 1.5, 2)
    y = (rng.random(n) < expit(a * np.log(p) - b * np.log1p(-p))).astype(int)
    return p, y


@pytest.mark.parametrize("seed", [1, 2, 4, 14, 20])
def test_bounds_against_the_active_set_reference(seed):
    """Data whose unconstrained optimum has a < 0 or b < 0 (all but seed 2):
    the fit lands on the bound, at the best feasible active set."""
    p, y = one_sided_data(seed)
    cal = BetaCalibration(input="probabilities").fit(p, y)
    ref, ref_loss, problem = mp_beta(p, "probabilities", y == 1, np.ones(p.size), "abm")
    ours = (cal.a_[0], cal.b_[0], cal.c_[0])
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-12)
    # On the bound exactly where the reference is, not 1e-17 beside it.
    assert [v == 0.0 for v in ours[:2]] == [v == 0.0 for v in ref[:2]]
    assert mp_loss_at(ours, "abm", *problem) <= ref_loss * (1 + 1e-14)


# -- identities ------------------------------------------------------------------


def scores(n, seed, slope=0.5, offset=-0.3):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(slope * s + offset)).astype(int)
    return s, y


@pytest.mark.parametrize("seed", [0, 1])
def test_am_is_platt_on_the_log_odds(seed):
    """a = b is Platt scaling on ln(p / (1 - p)): a different solver agrees."""
    s, y = scores(500, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, s.size)
    beta = BetaCalibration(parameters="am").fit(s, y, sample_weight=w)
    platt = PlattScaling().fit(s, y, sample_weight=w)
    np.testing.assert_allclose(beta.a_, platt.coef_, rtol=1e-10)
    np.testing.assert_allclose(beta.b_, platt.coef_, rtol=1e-10)
    np.testing.assert_allclose(beta.c_, platt.intercept_, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(beta.predict_proba(s), platt.predict_proba(s), rtol=1e-9)


def test_beta_distributed_scores_recover_the_true_map():
    """Scores drawn from two beta distributions have the beta map as their exact
    calibration map (Kull et al. 2017): a large sample recovers it."""
    rng = np.random.default_rng(3)
    n = 200_000
    y = (rng.random(n) < 0.4).astype(int)
    # class 1 ~ Beta(a1, b1), class 0 ~ Beta(a0, b0): the log-likelihood ratio
    # is (a1 - a0) ln p + (b1 - b0) ln(1 - p) + const.
    a1, b1, a0, b0 = 3.0, 2.0, 1.5, 4.0
    p = np.where(y == 1, rng.beta(a1, b1, n), rng.beta(a0, b0, n))
    cal = BetaCalibration(input="probabilities").fit(p, y)
    np.testing.assert_allclose(cal.a_[0], a1 - a0, rtol=0.05)
    np.testing.assert_allclose(cal.b_[0], b0 - b1, rtol=0.05)


def test_logits_and_probabilities_agree():
    s, y = scores(400, 2)
    from_logits = BetaCalibration().fit(s, y)
    from_probs = BetaCalibration(input="probabilities").fit(expit(s), y)
    for name in ("a_", "b_", "c_"):
        np.testing.assert_allclose(
            getattr(from_probs, name), getattr(from_logits, name), rtol=1e-8
        )
    two_columns = BetaCalibration().fit(np.column_stack([-s / 2, s / 2]), y)
    np.testing.assert_allclose(two_columns.a_, from_logits.a_, rtol=1e-10)
    np.testing.assert_allclose(
        two_columns.predict_proba(np.column_stack([-s / 2, s / 2])),
        from_logits.predict_proba(s),
        rtol=1e-10,
    )


def test_logits_keep_what_probabilities_round_away():
    """Logits of 30 to 45 are probabilities within 1e-13 of 1 (1.0 in float64
    beyond 37), yet ln(1 - p) = -softplus(s) is exact from the log-odds."""
    rng = np.random.default_rng(4)
    s = rng.uniform(30, 45, 150)
    y = (rng.random(150) < expit(0.5 * (s - 37.0))).astype(int)
    cal = BetaCalibration().fit(s, y)
    ref, _, _ = mp_beta(s, "logits", y == 1, np.ones(150), "abm")
    np.testing.assert_allclose((cal.a_[0], cal.b_[0], cal.c_[0]), ref, rtol=1e-8)
    proba = cal.predict_proba(np.array([33.0, 37.0, 41.0]))[:, 1]
    assert proba[0] < 0.5 < proba[2]
    assert cal.b_[0] > 0.2


def test_midpoint_maps_to_one_half():
    s, y = scores(500, 5, slope=0.8, offset=0.4)
    for parameters in ("abm", "am", "ab"):
        cal = BetaCalibration(input="probabilities", parameters=parameters)
        cal.fit(expit(s), y)
        m = cal.m_[0]
        assert 0 < m < 1
        np.testing.assert_allclose(cal.predict_proba([m])[0, 1], 0.5, rtol=1e-12)
    assert BetaCalibration(parameters="ab").fit(s, y).m_[0] == pytest.approx(0.5)
    with pytest.raises(AttributeError, match="not fitted"):
        BetaCalibration().m_  # noqa: B018


# -- no finite optimum, exact 0 and 1 ---------------------------------------------


def test_separated_classes_warn_and_fall_back_to_smoothing():
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(NoFiniteOptimumWarning, match="separate the classes"):
        cal = BetaCalibration(input="probabilities").fit(p, y)
    smoothed = BetaCalibration(input="probabilities", target_smoothing=True).fit(p, y)
    np.testing.assert_array_equal(cal.a_, smoothed.a_)
    np.testing.assert_array_equal(cal.c_, smoothed.c_)
    n_pos = n_neg = 3
    ref, _, _ = mp_beta(
        p,
        "probabilities",
        y == 1,
        np.ones(6),
        "abm",
        ((n_pos + 1) / 5, 1 / (n_neg + 2)),
    )
    np.testing.assert_allclose((cal.a_[0], cal.b_[0], cal.c_[0]), ref, rtol=1e-8)


def test_ab_has_a_finite_optimum_unless_separated_at_one_half():
    """Every "ab" map crosses 1/2 at p = 1/2, so only that threshold has no
    finite optimum; a threshold at 0.35 does (no warning: warnings are errors)."""
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    cal = BetaCalibration(input="probabilities", parameters="ab").fit(p, y)
    ref, _, _ = mp_beta(p, "probabilities", y == 1, np.ones(7), "ab")
    np.testing.assert_allclose((cal.a_[0], cal.b_[0], cal.c_[0]), ref, rtol=1e-8)
    with pytest.warns(NoFiniteOptimumWarning):
        BetaCalibration(input="probabilities", parameters="ab").fit(p, p > 0.5)


def test_decreasing_relation_gives_the_constant_map():
    """With a, b >= 0 the best non-decreasing map for labels that fall with p is
    the base rate: a = b = 0 exactly, c its log-odds (closed form)."""
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, 300)
    y = (rng.random(300) < 1 - p).astype(int)
    w = rng.uniform(0.5, 2.0, 300)
    cal = BetaCalibration(input="probabilities").fit(p, y, sample_weight=w)
    rate = w[y == 1].sum() / w.sum()
    assert cal.a_[0] == 0.0
    assert cal.b_[0] == 0.0
    np.testing.assert_allclose(cal.c_[0], np.log(rate / (1 - rate)), rtol=1e-12)
    assert np.isnan(cal.m_[0])


@pytest.mark.filterwarnings(SATURATED)
def test_exact_zero_and_one_get_laplace_frequencies():
    s, y = scores(200, 8)
    p = expit(s)
    rng = np.random.default_rng(8)
    w = rng.uniform(0.5, 2.0, 200)
    p[:20], p[20:35] = 0.0, 1.0
    y[:20] = rng.random(20) < 0.1
    y[20:35] = rng.random(15) < 0.9
    cal = BetaCalibration(input="probabilities").fit(p, y, sample_weight=w)
    zero, one = slice(0, 20), slice(20, 35)
    np.testing.assert_allclose(
        cal.zero_proba_[0], (w[zero][y[zero] == 1].sum() + 1) / (w[zero].sum() + 2)
    )
    np.testing.assert_allclose(
        cal.one_proba_[0], (w[one][y[one] == 1].sum() + 1) / (w[one].sum() + 2)
    )
    # The map is fitted on the other rows, with Platt's prior.
    ref = BetaCalibration(input="probabilities", target_smoothing=True)
    ref.fit(p[35:], y[35:], sample_weight=w[35:])
    np.testing.assert_allclose(cal.a_, ref.a_, rtol=1e-10)
    np.testing.assert_allclose(cal.c_, ref.c_, rtol=1e-10)
    proba = cal.predict_proba(np.array([0.0, 1.0, 0.5]))[:, 1]
    np.testing.assert_allclose(
        proba, [cal.zero_proba_[0], cal.one_proba_[0], ref.predict_proba([0.5])[0, 1]]
    )
    # Rows of zero weight are absent rows: they change nothing.
    p2, y2, w2 = np.r_[p, 0.0], np.r_[y, 1], np.r_[w, 0.0]
    again = BetaCalibration(input="probabilities").fit(p2, y2, sample_weight=w2)
    np.testing.assert_array_equal(again.zero_proba_, cal.zero_proba_)


def test_no_exact_zero_in_calibration_gives_the_map_at_the_smallest_input():
    s, y = scores(300, 9, slope=1.0)
    p = expit(s)
    cal = BetaCalibration(input="probabilities").fit(p, y)
    smallest = p.min()
    expected = cal.predict_proba([smallest])[0, 1]
    np.testing.assert_allclose(cal.zero_proba_[0], expected, rtol=1e-12)
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        pass_through = BetaCalibration(input="probabilities").fit(
            np.r_[p, 1.0], np.r_[y, 1]
        )
    assert 0 < pass_through.one_proba_[0] < 1


# -- multiclass: one-vs-rest --------------------------------------------------------


@pytest.mark.parametrize("input_kind", ["logits", "probabilities"])
def test_multiclass_is_one_vs_rest(input_kind):
    rng = np.random.default_rng(7)
    z = rng.normal(0, 2, (400, 3))
    y = (softmax(z * 0.6, axis=1).cumsum(1) < rng.random((400, 1))).sum(1)
    P = softmax(z, axis=1)
    X = z if input_kind == "logits" else P
    cal = BetaCalibration(input=input_kind).fit(X, y)
    for k in range(3):
        one = BetaCalibration(input="probabilities").fit(P[:, k], y == k)
        np.testing.assert_allclose(cal.a_[k], one.a_[0], rtol=1e-7)
        np.testing.assert_allclose(cal.b_[k], one.b_[0], rtol=1e-7)
        np.testing.assert_allclose(cal.c_[k], one.c_[0], rtol=1e-7, atol=1e-12)
    proba = cal.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    raw = np.column_stack(
        [
            BetaCalibration(input="probabilities")
            .fit(P[:, k], y == k)
            .predict_proba(P[:, k])[:, 1]
            for k in range(3)
        ]
    )
    np.testing.assert_allclose(proba, raw / raw.sum(1, keepdims=True), rtol=1e-7)


# -- agreement with betacal ------------------------------------------------------------


def betacal_loss(map_, p, y, parameters):
    """Our objective at betacal's map_ = [a, b, m] (with c recovered from m)."""
    a, b, m = map_
    c = b * np.log1p(-m) - a * np.log(m)
    z = a * np.log(p) - b * np.log1p(-p) + c
    return np.mean(np.logaddexp(0, z) - y * z), (a, b, c)


def our_loss(cal, p, y):
    z = cal.a_[0] * np.log(p) - cal.b_[0] * np.log1p(-p) + cal.c_[0]
    return np.mean(np.logaddexp(0, z) - y * z)


@pytest.mark.parametrize("parameters", ["abm", "am", "ab"])
@pytest.mark.parametrize("model", ["logistic", "boosting", "naive_bayes", "mlp"])
def test_betacal_agrees_where_it_is_right(cancer_outputs, model, parameters):
    betacal = pytest.importorskip("betacal")
    outputs, y = cancer_outputs
    x, kind = outputs[model]
    p = expit(x) if kind == "logits" else x
    keep = (p > 1e-12) & (p < 1 - 1e-12)  # betacal clips at 2.2e-16
    p, y = p[keep], y[keep]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cal = BetaCalibration(input="probabilities", parameters=parameters).fit(p, y)
        theirs = betacal.BetaCalibration(parameters).fit(p, y).calibrator_.map_
    if any(issubclass(r.category, NoFiniteOptimumWarning) for r in record):
        pytest.skip("separated classes: no finite optimum for betacal to agree with")
    their_loss, (a, b, c) = betacal_loss(theirs, p, y, parameters)
    print(
        model,
        parameters,
        (cal.a_[0], cal.b_[0], cal.c_[0]),
        (a, b, c),
        our_loss(cal, p, y) - their_loss,
    )
    if parameters == "am" or (a >= 0 and b >= 0):
        # Never worse than betacal's answer when it is a feasible map.
        assert our_loss(cal, p, y) <= their_loss + 1e-15


def test_betacal_refit_can_leave_the_constraint():
    """betacal drops ln p when a < 0 but does not check the refitted b: here
    it returns b < 0, a map that decreases in p. Ours stays feasible."""
    betacal = pytest.importorskip("betacal")
    p, y = one_sided_data(1)
    a, b, _ = betacal.BetaCalibration("abm").fit(p, y).calibrator_.map_
    assert a == 0
    assert b < 0
    cal = BetaCalibration(input="probabilities").fit(p, y)
    assert cal.a_[0] >= 0
    assert cal.b_[0] >= 0
    proba = cal.predict_proba(np.sort(p))[:, 1]
    assert np.all(np.diff(proba) >= 0)


# -- hostile inputs, files, scale -------------------------------------------------


BAD = [
    ({"parameters": "abc"}, np.array([0.2, 0.7]), [0, 1], ValueError, "parameters"),
    ({"max_iter": 0}, np.array([0.2, 0.7]), [0, 1], ValueError, "max_iter"),
    (
        {"input": "probabilities"},
        np.array([0.2, 1.5, 0.3]),
        [0, 1, 0],
        ValueError,
        r"X must hold probabilities in \[0, 1\]; row 1",
    ),
    (
        {"input": "probabilities"},
        np.array([0.2, np.nan, 0.3]),
        [0, 1, 0],
        ValueError,
        "X contains non-finite",
    ),
    ({}, np.array([-2.0, 0.5, 3.0]), [1, 1, 1], ValueError, "at least 2 classes"),
    (
        {},
        np.array([[-1e308, 1e308], [0.0, 1.0], [1.0, 0.0]]),
        [1, 0, 1],
        ValueError,
        "log-odds exceed the float64 range",
    ),
    ({}, np.zeros((4, 3)), [0, 1, 0, 1], ValueError, "X has 3 columns but y has 2"),
]


@pytest.mark.parametrize(("params", "X", "y", "error", "match"), BAD)
def test_bad_input(params, X, y, error, match):
    with pytest.raises(error, match=match):
        BetaCalibration(**params).fit(X, y)


def test_inputs_are_not_modified_and_float32_stays_float32():
    s, y = scores(300, 10)
    p = expit(s).astype(np.float32)
    p[:3] = [0.0, 1.0, 0.5]
    before = p.copy()
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        cal = BetaCalibration(input="probabilities").fit(p, y)
    proba = cal.predict_proba(p)
    np.testing.assert_array_equal(p, before)
    assert proba.dtype == np.float32


def test_hand_edited_file_is_refused():
    s, y = scores(200, 11)
    document = ck.to_dict(BetaCalibration().fit(s, y))
    document["state"]["a_"]["values"][0] = -0.5
    with pytest.raises(ValueError, match=r"'state.a_' and 'state.b_' must be non-neg"):
        ck.from_dict(document)
    am = ck.to_dict(BetaCalibration(parameters="am").fit(s, y))
    am["state"]["b_"]["values"][0] += 1.0
    with pytest.raises(ValueError, match="must be equal for parameters='am'"):
        ck.from_dict(am)


def test_json_round_trip_is_exact():
    s, y = scores(200, 12)
    cal = BetaCalibration(parameters="ab").fit(s, y)
    loaded = ck.from_dict(json.loads(json.dumps(ck.to_dict(cal))))
    for name in ("a_", "b_", "c_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(cal, name))
    np.testing.assert_array_equal(loaded.predict_proba(s), cal.predict_proba(s))
    assert loaded.get_params() == cal.get_params()


def test_polars_and_pandas_frames():
    pl = pytest.importorskip("polars")
    s, y = scores(200, 13)
    P = np.column_stack([1 - expit(s), expit(s)])
    ref = BetaCalibration(input="probabilities").fit(P, y)
    frame = pl.DataFrame({"no": P[:, 0], "yes": P[:, 1]})
    cal = BetaCalibration(input="probabilities").fit(frame, y)
    assert cal.feature_names_in_.tolist() == ["no", "yes"]
    np.testing.assert_allclose(cal.predict_proba(frame), ref.predict_proba(P))


def test_cli_fit_and_apply_round_trip(tmp_path):
    from calibkit.cli import main

    s, y = scores(300, 14)
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"score": expit(s), "y": y}).to_csv(tmp_path / "cal.csv", index=False)
    model = tmp_path / "beta.json"
    code = main(
        [
            "fit",
            str(tmp_path / "cal.csv"),
            "--label",
            "y",
            "--input",
            "probabilities",
            "--method",
            "beta",
            "-o",
            str(model),
        ]
    )
    assert code == 0
    loaded = ck.load(model)
    ref = BetaCalibration(input="probabilities").fit(expit(s), y)
    np.testing.assert_array_equal(loaded.a_, ref.a_)
    np.testing.assert_array_equal(loaded.c_, ref.c_)


@pytest.mark.parametrize("input_kind", ["logits", "probabilities"])
def test_dask_blocks_give_the_in_memory_fit(input_kind):
    da = pytest.importorskip("dask.array")
    s, y = scores(20_000, 15)
    X = s if input_kind == "logits" else expit(s)
    w = np.random.default_rng(15).uniform(0.5, 2.0, s.size)
    ref = BetaCalibration(input=input_kind).fit(X, y, sample_weight=w)
    lazy = da.from_array(X, chunks=4_000)
    cal = BetaCalibration(input=input_kind).fit(lazy, y, sample_weight=w)
    for name in ("a_", "b_", "c_"):
        np.testing.assert_allclose(getattr(cal, name), getattr(ref, name), rtol=1e-10)
    proba = cal.predict_proba(lazy)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X), rtol=1e-10)
    z = np.column_stack([s, -s, 0.5 * s]) if input_kind == "logits" else None
    if z is not None:  # one-vs-rest on dask logits
        y3 = np.random.default_rng(16).integers(0, 3, s.size)
        ref3 = BetaCalibration().fit(z, y3)
        cal3 = BetaCalibration().fit(da.from_array(z, chunks=(5_000, 3)), y3)
        np.testing.assert_allclose(cal3.a_, ref3.a_, rtol=1e-10)


def test_fit_reads_float32_memory_map_in_chunks(tmp_path):
    """The solver's passes allocate chunk-sized temporaries only: under 10 % of
    a 16 MB float32 memory map (no float64 copy, which would be 200 %)."""
    import tracemalloc

    from calibkit.calibrators._beta import fit_beta

    rng = np.random.default_rng(17)
    n = 4_000_000
    s = rng.normal(0.0, 2.0, n).astype(np.float32)
    positive = rng.random(n) < expit(s)
    np.save(tmp_path / "s.npy", s)
    mapped = np.load(tmp_path / "s.npy", mmap_mode="r")
    tracemalloc.start()
    try:
        fit = fit_beta(mapped, "logits", positive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * s.nbytes, f"peak {peak / 1e6:.1f} MB"
    np.testing.assert_allclose([fit.a, fit.b], [1.0, 1.0], atol=0.01)
