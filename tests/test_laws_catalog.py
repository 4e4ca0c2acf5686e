
"""Every catalog law: Jacobian vs finite differences, stable log-evaluation, and recovery of known
constants from synthetic data (a small scipy least_squares in each parameter's fit space)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

from scalinglab import LawError
from scalinglab.laws import (
    PF_DAY,
    annealing_areas,
    c_min,
    constant,
    cosine,
    critical_batch_size,
    get_law,
    get_preset,
    list_laws,
    s_min,
    wsd,
)

RNG = np.random.default_rng


# ----------------------------------------------------------------------------- a tiny reference fitter
def _to_u(law, theta):
    return np.array([math.log(t) if p.log else t for p, t in zip(law.params, theta, strict=True)])


def _to_theta(law, u):
    logs = np.array([p.log for p in law.params])
    with np.errstate(over="ignore"):
        return np.where(logs, np.exp(np.minimum(u, 700.0)), u)


def _bounds(law):
    lo, hi = [], []
    for p in law.params:
        if p.log:
            lo.append(math.log(p.lower) if p.lower > 0 else -np.inf)
            hi.append(math.log(p.upper) if np.isfinite(p.upper) else np.inf)
        else:
            lo.append(p.lower)
            hi.append(p.upper)
    return np.array(lo), np.array(hi)


def _inside(u, lo, hi):
    u = np.minimum(np.maximum(u, lo), hi)
    span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
    u = np.where(u <= lo, lo + 1e-6 * span, u)
    return np.where(u >= hi, hi - 1e-6 * span, u)


def fit(law, X, y, starts):
    """Least squares on log residuals (target 'loss') or plain residuals; best of several starts."""
    lo, hi = _bounds(law)
    logs = np.array([p.log for p in law.params])
    is_loss = law.target == "loss"
    ly = np.log(y) if is_loss else y

    def res(u):
        th = _to_theta(law, u)
        r = (law.log_evaluate(th, X) if is_loss else law.evaluate(th, X)) - ly
        return np.where(np.isfinite(r), r, 1e3)

    def jac(u):
        th = _to_theta(law, u)
        J = law.log_jacobian(th, X) if is_loss else law.jacobian(th, X)
        J = np.where(logs, J * th, J)
        return np.where(np.isfinite(J), J, 0.0)

    best = None
    for s in starts:
        u0 = _inside(_to_u(law, s), lo, hi)
        r = least_squares(res, u0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac",
                          xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
        if best is None or r.cost < best.cost:
            best = r
    return _to_theta(law, best.x), best


def _fd(law, theta, X, rel=1e-6):
    cols = []
    for j, p in enumerate(law.params):
        h = rel * max(abs(theta[j]), 1e-3 if not p.log else abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        cols.append((law.evaluate(up, X) - law.evaluate(dn, X)) / (2 * h))
    return np.stack(cols, axis=-1)


# ----------------------------------------------------------------------------- synthetic problems
def _lr_X(n=200):
    lrs = cosine(4000, 3e-4, final=3e-5, warmup=0)
    S1, S2 = annealing_areas(lrs)
    idx = np.linspace(50, 3999, n).astype(int)
    return {"S1": S1[idx] * 1e3, "S2": S2[idx] * 1e3}  # areas in units of 1e-3 (LR x steps)


def _problems():
    r = RNG(1)
    p = {}
    p["power"] = (dict(variable="N"), [1.6, 400.0, 0.32], {"N": np.geomspace(1e6, 1e11, 60)})
    p["power-pure"] = ({}, [3.0, 0.2], {"x": np.geomspace(1e2, 1e8, 40)})
    p["chinchilla"] = ({}, [1.8172, 482.01, 2085.43, 0.3478, 0.3658],
                       {"N": 10 ** r.uniform(7, 10.5, 250), "D": 10 ** r.uniform(8.5, 12, 250)})
    p["chinchilla-joint"] = ({}, [1.8, 300.0, 900.0, 0.32, 0.30, 0.6],
                             {"N": 10 ** r.uniform(7, 10.5, 250), "D": 10 ** r.uniform(8.5, 12, 250)})
    p["kaplan-n"] = ({}, [8.8e13, 0.076], {"N": np.geomspace(1e3, 1.5e9, 40)})
    p["kaplan-d"] = ({}, [5.4e13, 0.095], {"D": np.geomspace(2e7, 2e10, 40)})
    p["kaplan-c"] = ({}, [3.1e8, 0.05], {"C": np.geomspace(1e-8, 1e1, 40) * PF_DAY})
    p["kaplan-nd"] = ({}, [6.4e13, 1.8e13, 0.076, 0.103],
                      {"N": 10 ** r.uniform(5, 9.5, 200), "D": 10 ** r.uniform(7, 10.5, 200)})
    p["kaplan-ns"] = ({}, [6.5e13, 2.1e3, 0.077, 0.76],
                      {"N": 10 ** r.uniform(5, 9.5, 200), "S": 10 ** r.uniform(2, 5.5, 200)})
    p["bnsl"] = ({}, [0.5, 20.0, 0.1, 0.5, 1e5, 0.3], {"x": np.geomspace(1e1, 1e9, 120)})
    N = 10 ** r.uniform(8, 10, 300)
    U = 10 ** r.uniform(8.5, 10.5, 300)
    D = U * 10 ** r.uniform(0, 2, 300)
    p["data-constrained"] = ({}, [1.87, 520.8, 1487.7, 0.3527, 0.3527, 15.39, 5.31], {"N": N, "D": D, "U": U})
    p["lr-annealing"] = ({}, [2.5, 5.0, 0.45, 0.001], _lr_X())
    p["sigmoid"] = (dict(floor=0.25), [0.85, 1.4, 23.0], {"C": np.geomspace(1e19, 1e27, 40)})
    p["coverage"] = ({}, [-1.8, -0.45], {"k": np.geomspace(1, 1e4, 30)})
    p["rm-bon"] = ({}, [1.2, 0.08], {"d": np.linspace(0.05, 12, 40)})
    p["rm-rl"] = ({}, [0.9, 0.3], {"d": np.linspace(0.05, 12, 40)})
    p["transfer"] = ({}, [1.9e4, 0.18, 0.38], {"D": 10 ** r.uniform(4, 8, 60), "N": 10 ** r.uniform(6, 9, 60)})
    return p


PROBLEMS = _problems()
#: relative tolerance per parameter for recovery (noise 0.2% log or 0.002 absolute)
TOL = {
    "chinchilla": [0.03, 0.3, 0.3, 0.05, 0.05],
    "chinchilla-joint": [0.05, 0.5, 0.5, 0.1, 0.1, 0.15],
    "kaplan-nd": [0.3, 0.3, 0.05, 0.05],
    "kaplan-ns": [0.3, 0.15, 0.05, 0.05],
    "bnsl": [0.05, 0.2, 0.3, 0.15, 0.25, 0.25],
    "data-constrained": [0.03, 0.3, 0.3, 0.05, 0.05, 0.25, 0.5],
    "lr-annealing": [0.02, 0.1, 0.1, 0.1],
}


# Laws from the beyond-pre-training issue have their recovery tests in tests/test_beyond_laws.py.
BEYOND_LAWS = {"sigmoid-loss", "sigmoid-bounded", "moe-clark", "precision"}


def test_every_catalog_law_has_a_problem():
    assert {d["name"] for d in list_laws()} - {"bnsl-2", "bnsl-3"} - BEYOND_LAWS == set(PROBLEMS)
    tested_elsewhere = Path(__file__).with_name("test_beyond_laws.py").read_text()
    assert all(f'"{name}"' in tested_elsewhere for name in BEYOND_LAWS)


@pytest.mark.parametrize("name", sorted(PROBLEMS) + ["bnsl-2", "bnsl-3"])
def test_jacobian_matches_finite_differences(name):
    if name.startswith("bnsl-"):
        law = get_law(name)
        theta = np.array([0.5, 20.0, 0.1] + [0.3, 1e4, 0.5, -0.2, 1e6, 0.8, 0.1, 3e7, 0.2][: 3 * law.n_breaks])
        X = {"x": np.geomspace(1e1, 1e9, 50)}
    else:
        opts, truth, X = PROBLEMS[name]
        law = get_law(name, **opts)
        theta = np.array(truth, dtype=float) * (1 + 0.05 * RNG(0).standard_normal(len(truth)))
    J = law.jacobian(theta, X)
    assert J.shape == (len(next(iter(X.values()))), law.n_params)
    np.testing.assert_allclose(J, _fd(law, theta, X), rtol=2e-5, atol=1e-9 * np.abs(J).max())
    # batched evaluation: (2, 3, P) -> (2, 3, n)
    batch = np.broadcast_to(theta, (2, 3, law.n_params))
    assert law.evaluate(batch, X).shape == (2, 3, J.shape[0])
    assert law.jacobian(batch, X).shape == (2, 3, *J.shape)
    if law.target == "loss":
        np.testing.assert_allclose(law.log_evaluate(theta, X), np.log(law.evaluate(theta, X)), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_recovers_known_constants(name):
    opts, truth, X = PROBLEMS[name]
    law = get_law(name, **opts)
    truth = np.array(truth, dtype=float)
    y = law.evaluate(truth, X)
    noise = RNG(7).standard_normal(y.shape)
    y = y * np.exp(0.002 * noise) if law.target == "loss" else y + 0.002 * noise
    starts = [s for s in [law.guess(X, y)] if s is not None]
    grid = law.start_grid()
    pick = RNG(3).choice(len(grid), size=min(len(grid), 12), replace=False)
    starts += list(grid[pick])
    est, res = fit(law, X, y, starts)
    tol = TOL.get(name, [0.05] * law.n_params)
    for p, e, t, tl in zip(law.param_names, est, truth, tol, strict=True):
        assert e == pytest.approx(t, rel=tl, abs=1e-3), f"{name}.{p}: {e} vs truth {t}"


def test_guess_alone_is_exact_for_log_linear_laws():
    for name in ("power-pure", "kaplan-n", "kaplan-c", "transfer", "rm-bon", "rm-rl", "coverage"):
        opts, truth, X = PROBLEMS[name]
        law = get_law(name, **opts)
        y = law.evaluate(np.array(truth), X)
        np.testing.assert_allclose(law.guess(X, y), truth, rtol=1e-6)


# ----------------------------------------------------------------------------- presets and helpers
def test_kaplan_presets_and_units():
    law, p = get_preset("kaplan-2020-nd")
    assert p.values == {"Nc": 6.4e13, "Dc": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}
    assert p.conventions["params"] == "non-embedding"
    # with D -> inf the joint law reduces to (Nc/N)^alpha_N
    assert law(p.values, N=1e9, D=1e30)[0] == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-9)
    lawc, pc = get_preset("kaplan-2020-cmin")
    assert lawc(pc.values, C=PF_DAY)[0] == pytest.approx(3.1e8 ** 0.05, rel=1e-12)  # C = 1 PF-day
    lawn, pn = get_preset("kaplan-2020-n")
    assert lawn(pn.values, N=8.8e13)[0] == pytest.approx(1.0)
    assert get_preset("kaplan-2020-d")[1].values["alpha_D"] == 0.095
    ns, pns = get_preset("kaplan-2020-ns")
    assert ns(pns.values, N=6.5e13, S=2.1e3)[0] == pytest.approx(2.0)


def test_critical_batch_and_min_steps():
    assert critical_batch_size(1.0) == pytest.approx(2.1e8)
    # B_crit doubles for every ~13% decrease in loss (Kaplan): 2^-0.21 = 0.864
    assert critical_batch_size(3.0 * 2 ** -0.21) / critical_batch_size(3.0) == pytest.approx(2.0)
    L = 3.0
    Bc = critical_batch_size(L)
    assert s_min(1000, Bc, L) == pytest.approx(500.0)
    assert c_min(1e20, Bc, L) == pytest.approx(5e19)
    with pytest.raises(LawError):
        critical_batch_size(-1.0)


def test_muennighoff_repo_sanity_values():
    law, p = get_preset("muennighoff-2023")
    L = law(p.values, N=[6.34e9, 8.67e9], D=[242e9, 178e9], U=25e9)
    np.testing.assert_allclose(L, [2.2256440889984477, 2.2269634075087867], rtol=1e-9)
    # no repetition, no excess params -> the plain Chinchilla form
    theta = np.array([p.values[k] for k in law.param_names])
    Np, Dp = law.effective(theta, {"N": [1e8], "D": [1e10], "U": [1e10]})
    assert Np[0] == pytest.approx(1e8) and Dp[0] == pytest.approx(1e10)
    # infinite repetition caps effective data at U (1 + R_D*)
    _, Dp = law.effective(theta, {"N": [1e8], "D": [1e15], "U": [1e9]})
    assert Dp[0] == pytest.approx(1e9 * (1 + 15.387756), rel=1e-6)


def test_bnsl_double_descent_is_representable():
    law = get_law("bnsl")
    x = np.geomspace(1e1, 1e9, 200)
    # c0 < 0: loss rises first, then falls after the break (c0 + c1 > 0)
    y = law({"a": 0.1, "b": 0.01, "c0": -0.3, "c1": 0.8, "d1": 1e5, "f1": 0.2}, x=x)
    i = np.argmax(y)
    assert 0 < i < len(x) - 1 and 1e4 < x[i] < 1e6
    big = law.log_evaluate(np.array([0.1, 1e3, 5.0, 5.0, 1e-300, 1e-4]), {"x": np.array([1e300])})
    assert np.isfinite(big).all()


def test_sigmoid_floor_option_and_spec():
    law = get_law("sigmoid", floor=0.25)
    assert law.param_names == ("ceiling", "k", "x0")
    assert law(dict(ceiling=0.9, k=1.0, x0=22.0), C=1e22)[0] == pytest.approx(0.575)
    assert law(dict(ceiling=0.9, k=1.0, x0=22.0), C=1e10)[0] == pytest.approx(0.25, abs=1e-5)
    free = get_law("sigmoid")
    assert free.param_names == ("floor", "ceiling", "k", "x0")
    from scalinglab.laws import law_from_spec

    assert law_from_spec(law.spec()) == law
    assert law_from_spec(free.spec()) == free != law


def test_annealing_areas_definition():
    lrs = np.array([1.0, 1.0, 0.5, 0.25, 0.25])
    S1, S2 = annealing_areas(lrs, decay=0.5)
    np.testing.assert_allclose(S1, np.cumsum(lrs))
    m = [0.0, 0.0, 0.5, 0.5 * 0.5 + 0.25, 0.5 * 0.5]
    np.testing.assert_allclose(S2, np.cumsum(m))
    S1c, S2c = annealing_areas(constant(100, 1e-3))
    assert np.all(S2c == 0) and S1c[-1] == pytest.approx(0.1)


def test_schedules():
    c = cosine(1000, 1.0, final=0.1, warmup=100)
    assert c[0] < c[99] < 1.0 + 1e-12 and c[100] == pytest.approx(1.0) and c[-1] == pytest.approx(0.1)
    w = wsd(1000, 1.0, decay_frac=0.2, final=0.0)
    assert np.all(w[:800] == 1.0) and w[-1] == pytest.approx(0.0) and np.all(np.diff(w[800:]) < 0)
    assert len(constant(10, 0.1, warmup=2)) == 10


def test_lr_annealing_fit_on_cosine_predicts_wsd():
    """Fit a cosine-schedule curve, then predict the WSD curve of the same model: Tissue et al.'s use."""
    law = get_law("lr-annealing")
    truth = np.array([2.4, 0.8, 0.5, 0.15])
    steps = np.arange(100, 8001, 20)

    def curve(lrs):
        S1, S2 = annealing_areas(lrs)
        return {"S1": S1[steps - 1], "S2": S2[steps - 1]}

    Xc = curve(cosine(8000, 2e-3, final=2e-4))
    y = law.evaluate(truth, Xc) * np.exp(0.002 * RNG(5).standard_normal(len(steps)))
    est, _ = fit(law, Xc, y, [law.guess(Xc, y), *law.start_grid()[::9]])
    Xw = curve(wsd(8000, 2e-3, decay_frac=0.2))
    pred, true_w = law.evaluate(est, Xw), law.evaluate(truth, Xw)
    assert np.max(np.abs(pred / true_w - 1)) < 0.01
    # the WSD cooldown drop is predicted: loss at the end is well below the stable-phase loss
    i_stable = np.searchsorted(steps, 6400)
    assert true_w[i_stable] - true_w[-1] > 0.02
    assert pred[i_stable] - pred[-1] == pytest.approx(true_w[i_stable] - true_w[-1], rel=0.1)


def test_bad_options():
    with pytest.raises(LawError):
        get_law("bnsl", n_breaks=9)
    with pytest.raises(LawError):
        get_law("sigmoid", floor=float("nan"))
    with pytest.raises(LawError, match="option"):
        get_law("chinchilla", variable="N")
