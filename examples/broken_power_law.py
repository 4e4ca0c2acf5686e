"""Broken power laws: fit a curve with a sharp bend (or a double descent) and extrapolate past the data.

Some scaling curves are not one straight line in log-log: the loss of a small transformer on 4-digit
addition barely moves with training-set size, then drops steeply (Caballero et al. 2023, "Broken Neural
Scaling Laws", arXiv 2210.14891); others rise before they fall again (double descent). The broken
neural scaling law ``y = a + b x^-c0 Π_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)`` (laws ``bnsl``, ``bnsl-2``)
bends smoothly at each break ``d_i`` with sharpness ``f_i``; after break i the log-log slope is
``-(c0 + c1 + ... + c_i)``, and a negative ``c_i`` bends it upward. The addition data is not
redistributable, so this example generates a curve of the same shape from known constants (flat slope
0.05, a break at x = 500 to slope 1.55, a floor a = 0.2; 1 % multiplicative noise, fixed seed), fits it
on x ≤ 2,600 with :func:`scalinglab.fit.fit` and predicts the held-out points up to x = 10,000, next to a
single power law ``E + A x^-alpha`` (law ``power``) fitted on the same points, which cannot bend. A second curve rises between two breaks (double descent) and is fitted with
``bnsl-2``. BNSL fits have many local optima: the starts passed to ``fit`` (``starts=``, natural-space
rows in the law's parameter order) put the breaks where the plot shows them and the sharpness at
0.1-0.5 — with the default grid the fit settles on kinked optima with a worse objective.

Run: ``python examples/broken_power_law.py [--fast] [--out DIR]``.
"""

from __future__ import annotations

import itertools

import numpy as np
from _common import run, save_figure
from matplotlib.figure import Figure

from scalinglab.fit import fit
from scalinglab.laws import get_law

TRUTH = {"a": 0.2, "b": 2.3, "c0": 0.05, "c1": 1.5, "d1": 500.0, "f1": 0.1}
TRAIN_MAX = 2600.0
TRUTH_DD = {"a": 0.5, "b": 3.0, "c0": 0.3, "c1": -0.9, "d1": 1e4, "f1": 0.3, "c2": 1.2, "d2": 1e5, "f2": 0.3}
TRAIN_MAX_DD = 2e6
# Starts (natural space, law order a, b, c0, c1, d1, f1[, c2, d2, f2]) around the breaks visible in the data.
STARTS = np.array(list(itertools.product((0.1, 0.5), (2.0,), (0.05, 0.3), (1.0,), (300.0, 1000.0), (0.1, 0.5))))
STARTS_DD = np.array(list(itertools.product((0.5,), (3.0,), (0.3,), (-1.0, -0.5), (3e3, 1e4, 3e4), (0.3,),
                                            (1.0, 2.0), (3e4, 1e5, 3e5), (0.3,))))


def _rel_errors(result, law, truth, x):
    pred = np.array([float(result.predict(x=v, warn=False).value) for v in x])  # its notes: in the fit
    return pred, np.abs(pred / law(truth, x=x) - 1)


def main(fast: bool = False, out=None) -> dict:
    rng = np.random.default_rng(0)
    bnsl = get_law("bnsl")
    x = np.logspace(2, 4, 21)
    y = bnsl(TRUTH, x=x) * np.exp(rng.normal(0.0, 0.01, x.size))
    train, test = x <= TRAIN_MAX, x > TRAIN_MAX
    data = {"x": x[train], "loss": y[train]}
    res = fit(data, "bnsl", x="x", starts=STARTS)
    res_pow = fit(data, "power", x="x")
    pred, err = _rel_errors(res, bnsl, TRUTH, x[test])
    pred_pow, err_pow = _rel_errors(res_pow, bnsl, TRUTH, x[test])
    last = res.predict(x=x[-1], level=0.8)
    lo, hi = (float(v) for v in np.ravel(last.interval))
    print(f"bnsl fit on {train.sum()} points (x <= {TRAIN_MAX:,.0f}): "
          + ", ".join(f"{k} = {v:.3g} (true {TRUTH[k]:g})" for k, v in res.params.items()))
    print(f"held-out x in {x[test][0]:,.0f}-{x[-1]:,.0f}: max relative error bnsl {err.max():.1%}, "
          f"single power law {err_pow.max():.1%}")
    print(f"at x = {x[-1]:,.0f}: bnsl predicts {float(last.value):.4f} (80% {lo:.4f}-{hi:.4f}), "
          f"truth {float(bnsl(TRUTH, x=x[-1])[0]):.4f}, power law {pred_pow[-1]:.4f}")
    result = {"params": res.params, "max_rel_error_bnsl": float(err.max()),
              "max_rel_error_power": float(err_pow.max()), "pred_last": float(last.value),
              "pred_last_interval": [lo, hi], "truth_last": float(bnsl(TRUTH, x=x[-1])[0]), "x_last": float(x[-1])}

    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    xf = np.logspace(2, 4, 200)
    ax = axes[0]
    ax.loglog(x[train], y[train], "o", color="#0072B2", label="fitted points")
    ax.loglog(x[test], y[test], "o", mfc="none", color="#0072B2", label="held out")
    ax.loglog(xf, res.law.evaluate(res.theta, {"x": xf}), color="k", label="bnsl fit")
    ax.loglog(xf, res_pow.law.evaluate(res_pow.theta, {"x": xf}), "--", color="#D55E00", label="power-law fit")
    ax.axvspan(TRAIN_MAX, x[-1], color="0.93")
    ax.set_xlabel("training-set size x")
    ax.set_ylabel("test loss")
    ax.set_title("Sharp inflection (one break)", fontsize=10)
    ax.legend(fontsize=8)

    # Double descent: two breaks, the first one bending the curve upward.
    bnsl2 = get_law("bnsl-2")
    x2 = np.logspace(3, 7, 30)
    y2 = bnsl2(TRUTH_DD, x=x2) * np.exp(rng.normal(0.0, 0.01, x2.size))
    tr2 = x2 <= TRAIN_MAX_DD
    res2 = fit({"x": x2[tr2], "loss": y2[tr2]}, "bnsl-2", x="x", starts=STARTS_DD)
    _, err2 = _rel_errors(res2, bnsl2, TRUTH_DD, x2[~tr2])
    print(f"double descent (bnsl-2) fit on x <= {TRAIN_MAX_DD:.0e}: bump at d1 = {res2.params['d1']:.3g} "
          f"(true {TRUTH_DD['d1']:g}) to d2 = {res2.params['d2']:.3g} (true {TRUTH_DD['d2']:g}); "
          f"held-out max relative error {err2.max():.1%}")
    result.update({"dd_params": res2.params, "dd_max_rel_error": float(err2.max())})
    ax = axes[1]
    xf2 = np.logspace(3, 7, 300)
    ax.loglog(x2[tr2], y2[tr2], "o", color="#009E73", label="fitted points")
    ax.loglog(x2[~tr2], y2[~tr2], "o", mfc="none", color="#009E73", label="held out")
    ax.loglog(xf2, res2.law.evaluate(res2.theta, {"x": xf2}), color="k", label="bnsl-2 fit")
    ax.axvspan(TRAIN_MAX_DD, x2[-1], color="0.93")
    ax.set_xlabel("x")
    ax.set_title("Double descent (two breaks)", fontsize=10)
    ax.legend(fontsize=8)
    path = save_figure(fig, out, "broken_power_law.png", fast)
    result["figure"] = str(path)
    return result


if __name__ == "__main__":
    run(main, __doc__)
