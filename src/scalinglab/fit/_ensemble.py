"""The backtest-weighted forecast: Huber and asymmetric fits combined with weights learnt from internal backtests.

Why. Fitting details change an extrapolated scaling law more than their authors expect: the objective and
its robustness (Hoffmann et al. 2022 used Huber on log loss; Besiroglu et al. 2024 showed that the refit,
with the same objective, changes the constants and their uncertainty), the optimiser and its starts, and
which runs are fitted (Porian et al. 2024 resolve the Kaplan/Hoffmann discrepancy largely by such details;
the "(Mis)fitting" survey of scaling-law fits, Li et al. 2025, lists objective, initialisation and data
selection as choices that flip conclusions). On public IsoFLOP ladders the symmetric Huber fit and the
lower-envelope asymmetric fit of the ``chinchilla`` package each win on some ladders.

Method (``"stack/v1"``).

1. Members: the Huber fit (delta 1e-3 on log loss) and the asymmetric fit (10x weight where the law passes
   above a run) of the whole table. The asymmetric member starts from the Huber fit (a cold multi-start of
   the one-sided objective can stop in a degenerate basin: on Epoch's runs A -> 0 at 9x the objective).
2. Internal backtests: at the cuts of the interval calibration (the largest 10..50 % of runs held out,
   budgets never split; ``_calibrate._cuts``) both members are refitted on the smaller runs, warm-started
   from the whole-table fits (cold multi-start only when that fails): ~3x cheaper than cold refits.
3. Weights: for each weight ``w`` of the asymmetric member on a grid the two cut fits are averaged in the
   parameters' working scale (logarithm of the positive scale parameters E, A, B; the exponents as they
   are) and predict the held-out runs; the score of ``w`` is the mean over cuts of
   ``(1 - MAX_WEIGHT) * median + MAX_WEIGHT * max`` of |relative error|. The chosen ``w`` minimises
   ``score(w) * (1 + SHRINK * w)`` (``SHRINK`` keeps the Huber fit on a near tie). With fewer than
   ``MIN_CUTS`` usable cuts the Huber fit is kept (``w = 0``), and also while the Huber fit's backtest
   median |relative error| (mean over the cuts) is under ``ERROR_NOISE`` times its run noise (the robust
   residual sd of its whole-table fit): errors the noise explains give no sign that the symmetric fit
   misses, and on them a few held-out budgets pick the other member by chance (the same gate as
   ``_lawstack.ERROR_NOISE``; ``bench/extrapolation.py`` chooses it leave-one-dataset-out).
4. The forecast: the whole-table members averaged with the chosen ``w``; one parameter vector, so the
   parameters, the plan and every prediction agree. Weights, scores and per-cut errors are in
   ``diagnostics["stack"]``.
5. Intervals: calibrated (``_calibrate.calibrate_scores``) on the chosen combination's own cut forecasts
   (held-out errors normalised by the noise of its training residuals and the Huber cut fit's parameter
   spread), so the band is centred on the point that is reported.

What the harness showed. ``bench/extrapolation.py`` compares the fine grid ``WEIGHTS_FINE`` (true averages)
with ``WEIGHTS = (0, 1)`` (the better member only) leave-one-dataset-out: on 36 (ladder, cut) pairs the
internal backtests did not pick the out-of-sample best average (an oracle weight would lead on 97 % of
pairs, the backtest-chosen fine weight on 42 %), while choosing between the two members matched the former
``loss="auto"`` (67 %) at half its time. So the grid is ``(0, 1)``; ``SHRINK`` and the grid are settings
the harness chooses without the ladder it scores. With eight public ladders from four sources (Chinchilla,
Llama 3, Marin, "(Mis)fitting") and independent synthetic noise, the harness chose ``MAX_WEIGHT = 0.5``
(the max error weighs as much as the median) for every held-out dataset but Marin's; a median-only score
picks the asymmetric fit more often (better medians, worse maxima on the public IsoFLOP ladders).
The run-noise gate (``ERROR_NOISE``, step 3), offered 0 / 1.25 / 1.5 / 2, was chosen at 1.5 for 8 of 9
held-out datasets (1.25 for the other): ``fit(..., "chinchilla")`` then met the forecast goal's yardstick
(median and max error each within 5 % of the better bare fit) on 52 % of 87 (ladder, cut) pairs instead
of 46 %, with a lower mean max error (2.37 % vs 2.65 %) and a higher mean median error (0.78 % vs 0.73 %).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["STACK_METHOD", "WEIGHTS", "WEIGHTS_FINE", "SHRINK", "SHRINK_CHOICES", "MAX_WEIGHT", "MAX_WEIGHT_CHOICES",
           "ERROR_NOISE", "ERROR_NOISE_CHOICES", "error_noise_ratio", "passes_noise_gate",
           "mix_theta", "stack_fit", "restack", "choose_stacked"]

STACK_METHOD = "stack/v1"
#: weights of the asymmetric member tried by the internal backtests (the harness's choice, module docstring)
WEIGHTS = (0.0, 1.0)
#: the finer grid the harness compares it with
WEIGHTS_FINE = (0.0, 0.25, 0.5, 0.75, 1.0)
#: penalty toward the Huber fit (module docstring, step 3); chosen leave-one-dataset-out in bench/extrapolation.py
SHRINK = 0.01
#: the values of SHRINK the harness chooses from
SHRINK_CHOICES = (0.0, 0.01, 0.1, 0.3)
#: fewer usable cuts than this: keep the Huber fit
MIN_CUTS = 2
#: weight of the max error in the backtest score ``(1 - MAX_WEIGHT) * median + MAX_WEIGHT * max`` (module
#: docstring, step 3); chosen leave-one-dataset-out by bench/extrapolation.py from ``MAX_WEIGHT_CHOICES``
MAX_WEIGHT = 0.5
#: the values of MAX_WEIGHT the harness chooses from
MAX_WEIGHT_CHOICES = (0.0, 0.25, 0.5)
#: the asymmetric member is considered only when the Huber member's backtest median |relative error| (mean
#: over the cuts) is at least this many times its run noise (the robust residual sd of its whole-table fit):
#: errors the noise cannot explain (module docstring, step 3; ``_lawstack.ERROR_NOISE`` is the same gate on
#: the law stack). 0 drops the condition; chosen leave-one-dataset-out by bench/extrapolation.py
ERROR_NOISE = 1.5
#: the values of ERROR_NOISE the harness chooses from
ERROR_NOISE_CHOICES = (0.0, 1.25, 1.5, 2.0)


def error_noise_ratio(median_errors, noise: float) -> float:
    """The gate's statistic: the mean of a member's backtest median |relative error| over its cuts
    (``median_errors``) divided by its run ``noise`` (robust residual sd of its whole-table fit, same units);
    nan without cuts or noise."""
    v = [float(m) for m in median_errors]
    return float(np.mean(v)) / max(noise, 1e-12) if v and math.isfinite(noise) else math.nan


def passes_noise_gate(ratio: float, error_noise: float) -> bool:
    """Whether backtest errors ``ratio`` x the run noise let other members be considered (``error_noise``
    <= 0 drops the condition)."""
    return error_noise <= 0 or ratio >= error_noise


def mix_theta(law, theta_h, theta_a, w: float) -> np.ndarray:
    """Natural-space parameters ``(P,)``: ``(1 - w) * z_h + w * z_a`` in each parameter's working scale
    (log for ``Param.log`` parameters), back to natural space."""
    th, ta = np.asarray(theta_h, float), np.asarray(theta_a, float)
    out = np.empty_like(th)
    for j, p in enumerate(law.params):
        if p.log and th[j] > 0 and ta[j] > 0:
            out[j] = math.exp((1 - w) * math.log(th[j]) + w * math.log(ta[j]))
        else:
            out[j] = (1 - w) * th[j] + w * ta[j]
    return out


def _rel_err(law, theta, X, y):
    with np.errstate(all="ignore"):
        pred = law.evaluate(theta, X)
    e = (pred - y) / y if law.target == "loss" else pred - y
    return np.asarray(e, float)


def _members(fd, law, final: dict, *, delta: float, fit_kwargs: dict) -> list[dict]:
    """Per cut: the test mask and the Huber / asymmetric fits of the runs below it (None where one failed).
    ``final``: the whole-table members by name (`FitResult`s or natural-space parameter vectors)."""
    from ._calibrate import _order, law_cuts
    from ._stages import fit_warm

    kw = {k: v for k, v in fit_kwargs.items() if k in ("method", "space")}
    out = []
    for test in law_cuts(_order(fd, law), law):
        train = ~test
        data = {v: fd.X[v][train] for v in law.variables}
        data["__y__"] = fd.y[train]
        if fd.weights is not None:
            kw["weights"] = fd.weights[train]
        row = {"test": test}
        for name in ("huber", "asymmetric"):
            # warm starts: the whole-table fit, and for the asymmetric member also this cut's Huber fit
            warm = [np.asarray(getattr(final[name], "theta", final[name]), float)]
            if name == "asymmetric" and row["huber"] is not None:
                warm.append(row["huber"].theta)
            row[name] = fit_warm(data, law, y="__y__", loss=name, delta=delta, starts=np.array(warm), **kw)
        out.append(row)
    return out


def _choose(law, fd, cuts: list[dict], shrink: float, weights=WEIGHTS, max_weight: float = MAX_WEIGHT, *,
            noise: float = math.nan, error_noise: float = ERROR_NOISE) -> tuple[float, dict]:
    """The asymmetric member's weight ``w`` and the report (module docstring, step 3); ``noise``: the Huber
    member's run noise (robust residual sd of its whole-table fit, in the units of ``_rel_err``)."""
    usable = [c for c in cuts if c["huber"] is not None and c["asymmetric"] is not None]
    scores = {}
    per_cut = []
    for c in usable:
        X = {v: fd.X[v][c["test"]] for v in law.variables}
        y = fd.y[c["test"]]
        row = {"n_train": int((~c["test"]).sum()), "n_test": int(c["test"].sum())}
        for w in weights:
            e = np.abs(_rel_err(law, mix_theta(law, c["huber"].theta, c["asymmetric"].theta, w), X, y))
            ok = bool(np.all(np.isfinite(e)))
            med, mx = (float(np.median(e)), float(np.max(e))) if ok else (math.inf, math.inf)
            s = (1 - max_weight) * med + max_weight * mx
            row[f"{w:g}"] = s
            row[f"median_{w:g}"], row[f"max_{w:g}"] = med, mx
            scores.setdefault(w, []).append(s)
        per_cut.append(row)
    mean = {w: float(np.mean(v)) for w, v in scores.items()}
    ratio = error_noise_ratio([r["median_0"] for r in per_cut], noise)
    gate = {"error_noise_ratio": None if math.isnan(ratio) else ratio, "min_error_noise_ratio": error_noise}
    if len(usable) < MIN_CUTS:
        return 0.0, {"weight_asymmetric": 0.0, "reason": f"{len(usable)} usable backtest cut(s): kept huber",
                     "n_cuts": len(usable), "scores": {f"{w:g}": s for w, s in mean.items()}, "cuts": per_cut,
                     **gate}
    info = {"n_cuts": len(usable), "shrink": shrink, "max_weight": max_weight,
            "scores": {f"{k:g}": s for k, s in mean.items()}, **gate,
            "criterion": f"mean over backtest cuts of ({1 - max_weight:g} x median + {max_weight:g} x max) "
                         "|relative error| of the parameter average, times 1 + shrink * w"
                         + (f"; the asymmetric fit considered only when huber's backtest median |relative error| "
                            f"is at least {error_noise:g} x its run noise" if error_noise > 0 else ""),
            "cuts": per_cut}
    if not passes_noise_gate(ratio, error_noise):
        return 0.0, {"weight_asymmetric": 0.0, **info,
                     "reason": f"kept huber: its backtest errors are {ratio:.2g} x its run noise, under "
                               f"{error_noise:g} x: no sign that the symmetric fit misses (backtest score "
                               f"{mean[0.0]:.3%}, asymmetric {mean[1.0]:.3%})"}
    pen = {w: s * (1 + shrink * w) for w, s in mean.items()}
    w = min(weights, key=lambda k: (pen[k], k))
    return float(w), {"weight_asymmetric": float(w), **info,
                      "reason": f"weight {w:g} on the asymmetric fit: backtest score {mean[w]:.3%} (huber "
                                f"{mean[0.0]:.3%}, asymmetric {mean[1.0]:.3%})"}


def _calibration(fd, law, cuts: list[dict], w: float) -> dict:
    """Interval calibration on the stacked cut forecasts (module docstring, step 5)."""
    from ._calibrate import _NOISE_FLOOR, _order, calibrate_scores, edge_offset
    from ._objectives import LeastSquares
    from ._predict import extrapolation
    from ._solvers import Problem

    order = _order(fd, law)
    scored = []
    log = law.target == "loss"
    for c in cuts:
        h, a = c["huber"], c["asymmetric"]
        if h is None or a is None:
            continue
        test, train = c["test"], ~c["test"]
        th = mix_theta(law, h.theta, a.theta, w)
        Xt = {v: fd.X[v][test] for v in law.variables}
        Xf = {v: fd.X[v][train] for v in law.variables}
        space = h.space
        with np.errstate(all="ignore"):
            if space == "log":
                rt = law.log_evaluate(th, Xf) - np.log(fd.y[train])
                center, yt = law.log_evaluate(th, Xt), np.log(fd.y[test])
            else:
                rt = law.evaluate(th, Xf) - fd.y[train]
                center, yt = law.evaluate(th, Xt), fd.y[test]
        rt = rt[np.isfinite(rt)]
        if rt.size < 2:
            continue
        shift = float(np.median(rt))
        noise = max(float(1.4826 * np.median(np.abs(rt - shift))), _NOISE_FLOOR)
        sp = np.zeros(len(yt))
        if h.covariance is not None:
            prob = Problem(law, Xt, fd.y[test], LeastSquares(), space)
            with np.errstate(all="ignore"):
                _, J = prob.residuals_jac(prob.fitspace.to_fit(th)[None, :])
                var = np.einsum("ij,jk,ik->i", J[0], np.asarray(h.covariance, float), J[0])
            sp = np.sqrt(np.clip(var, 0, None))
        d = np.log10(np.maximum(np.asarray(extrapolation(law, Xf, Xt)["reach"], float), 1.0))
        e = yt - (center - shift)
        ok = np.isfinite(e) & np.isfinite(sp) & np.isfinite(d)
        if ok.any():
            scored.append({"e": e[ok], "d": d[ok], "sp": sp[ok], "noise": noise, "n_train": int(train.sum()),
                           "offset": edge_offset(order[train])})
    del log
    return calibrate_scores(scored, fd, law)


def _assemble(fd, law, final: dict, cuts: list[dict], shrink: float, *, keep_members: bool, level: float,
              weights=WEIGHTS, max_weight: float = MAX_WEIGHT, error_noise: float = ERROR_NOISE):
    """The stacked FitResult from the members (cheap: no refits)."""
    from ._objectives import get_objective
    from ._predict import interval_from_draws
    from ._predict import robust_scale as _robust_scale
    from ._solvers import Problem
    from ._stages import covariance as _covariance

    h, a = final["huber"], final["asymmetric"]
    w, info = _choose(law, fd, cuts, shrink, weights, max_weight, noise=h.noise, error_noise=error_noise)
    theta = mix_theta(law, h.theta, a.theta, w)
    obj = get_objective("huber", delta=float(h.loss.get("delta", 1e-3)))
    problem = Problem(law, fd.X, fd.y, obj, h.space)
    r = problem.residuals_theta(theta)
    noise, shift = _robust_scale(r)
    cov = _covariance(problem, problem.fitspace.to_fit(theta), noise, fd.weights)
    cal = _calibration(fd, law, cuts, w) if info["n_cuts"] >= MIN_CUTS else None
    diagnostics = dict(h.diagnostics)
    diagnostics["stack"] = {"method": STACK_METHOD, **info,
                            "members": {"huber": [float(v) for v in h.theta],
                                        "asymmetric": [float(v) for v in a.theta]}}
    if keep_members:
        diagnostics["_stack_state"] = (fd, law, final, cuts, level)
    res = dataclasses.replace(
        h, params=dict(zip(law.param_names, map(float, theta), strict=True)), theta=theta,
        objective=float(np.sum(obj.rho(r[np.isfinite(r)]))), residuals=r, noise=noise, residual_shift=shift,
        covariance=cov, loss={"name": "stack", "delta": float(h.loss.get("delta", 1e-3)),
                              "weight_asymmetric": w, "members": ["huber", "asymmetric"]},
        diagnostics=diagnostics, calibration=cal if cal is not None else h.calibration, intervals={})
    draws = res.parameter_draws()
    if draws is not None:
        res = dataclasses.replace(res, intervals={name: interval_from_draws(draws[:, j], level)
                                                  for j, name in enumerate(law.param_names)})
    return res


def stack_fit(data, law, *, x: str | None = None, y: str | None = "loss", delta: float = 1e-3, weights=None,
              level: float = 0.8, method: str = "auto", space: str = "auto", shrink: float | None = None,
              keep_members: bool = False):
    """Fit ``law`` to runs with the stacked Huber/asymmetric forecast (module docstring).

    Arguments as for :func:`scalinglab.fit.fit`; ``shrink`` overrides ``SHRINK``; ``keep_members`` keeps the
    member and cut fits in ``diagnostics["_stack_state"]`` for :func:`restack` (not JSON-able).

    Returns
    -------
    FitResult
        With ``loss["name"] == "stack"``, parameters in natural space (law order in ``theta``), the chosen
        weight and backtest scores in ``diagnostics["stack"]`` and intervals calibrated on the stacked cuts.

    Raises
    ------
    InputError
        For bad arguments (as :func:`scalinglab.fit.fit`).
    FitError
        If the Huber fit of the whole table fails (no trend, no finite objective).
    """
    from ._inputs import prepare_data, resolve_law
    from ._stages import fit_point, fit_quiet

    law_obj, _ = resolve_law(law, x)
    kw = {"x": x, "y": y, "delta": delta, "weights": weights, "level": level, "method": method, "space": space}
    h = fit_point(data, law_obj, loss="huber", warn=False, **kw)
    # the asymmetric member starts from the Huber fit: the envelope lies next to it, and a cold multi-start
    # of the one-sided objective can stop in a degenerate basin (A -> 0 on Epoch's runs, 9x the objective)
    a = fit_quiet(data, law_obj, loss="asymmetric", starts=np.array([h.theta]), **kw)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=weights)
    if a is None or not h.ok:  # nothing to stack: the Huber fit (prior interval rule)
        return h
    final = {"huber": h, "asymmetric": a}
    cuts = _members(fd, law_obj, final, delta=delta, fit_kwargs={"method": method, "space": h.space})
    return _assemble(fd, law_obj, final, cuts, SHRINK if shrink is None else float(shrink),
                     keep_members=keep_members, level=level)


def restack(res, *, shrink: float, weights=WEIGHTS, max_weight: float = MAX_WEIGHT,
            error_noise: float = ERROR_NOISE):
    """The stacked result of ``stack_fit(..., keep_members=True)`` with another ``shrink``, weight grid,
    ``max_weight`` and ``error_noise`` (no refits)."""
    fd, law, final, cuts, level = res.diagnostics["_stack_state"]
    return _assemble(fd, law, final, cuts, shrink, keep_members=False, level=level, weights=tuple(weights),
                     max_weight=max_weight, error_noise=error_noise)


def choose_stacked(ctx, first):
    """The choose-objective stage of ``fit(loss="auto")`` (``_stages.ObjectiveChoice`` out; the signature of
    ``_choose.choose_objective``): the asymmetric member solved warm from ``first`` (the Huber solve), both
    refitted warm on the backtest cuts, the weight chosen on the grid ``WEIGHTS = (0, 1)`` (module
    docstring). The chosen member's solve is the point forecast; the interval is calibrated on the Huber
    member and its cut fits (``_calibrate.py``, "Reference fit"). Same choice as ``_choose.choose_objective``
    (same cuts and criterion) at about a third of its time: warm starts instead of cold multi-starts.
    """
    import dataclasses as _dc

    from ._objectives import get_objective
    from ._predict import robust_scale
    from ._stages import ObjectiveChoice, solve

    fd, law = ctx.data, ctx.law
    warm_ctx = _dc.replace(ctx, options=_dc.replace(ctx.options, starts=np.array([first.ms.theta])))
    asym = solve(warm_ctx, get_objective("asymmetric", delta=ctx.options.delta))
    if not asym.finite:
        return ObjectiveChoice(solution=first, report={"chosen": "huber", "reason": "the asymmetric solve failed"})
    cuts = _members(fd, law, {"huber": first.ms.theta, "asymmetric": asym.ms.theta}, delta=ctx.options.delta,
                    fit_kwargs={"method": ctx.options.method, "space": ctx.space})
    noise, _ = robust_scale(first.problem.residuals_theta(first.ms.theta))
    w, info = _choose(law, fd, cuts, SHRINK, WEIGHTS, MAX_WEIGHT, noise=noise, error_noise=ERROR_NOISE)
    chosen = "asymmetric" if w >= 0.5 else "huber"
    names = {"0": "huber", "1": "asymmetric"}
    rows = info["cuts"]

    def per(key):
        return {n: (float(np.mean([r[f"{key}_{k}"] for r in rows])) if rows else math.nan) for k, n in names.items()}

    report = {"chosen": chosen, "method": STACK_METHOD, "weight_asymmetric": w, "n_cuts": info["n_cuts"],
              "scores": {n: info["scores"].get(k, math.nan) for k, n in names.items()},
              "mean_median_rel_error": per("median"), "mean_max_rel_error": per("max"),
              "error_noise_ratio": info["error_noise_ratio"], "min_error_noise_ratio": ERROR_NOISE,
              "criterion": f"mean over backtest cuts of ({1 - MAX_WEIGHT:g} x median + {MAX_WEIGHT:g} x max) "
                           "|relative error| on the held-out largest runs; huber kept unless asymmetric scores "
                           f"lower by more than {SHRINK:.0%}"
                           + (f", and considered only when huber's backtest median |relative error| is at least "
                              f"{ERROR_NOISE:g} x its run noise" if ERROR_NOISE > 0 else ""),
              "reason": info["reason"].replace("usable backtest cut(s): kept huber",
                                               "usable backtest cut(s): too few to choose; kept huber"),
              "cuts": rows}
    huber_cuts = [c["huber"] for c in cuts]
    if chosen == "huber":
        return ObjectiveChoice(solution=first, report=report, cut_fits=huber_cuts, reference_cut_fits=huber_cuts)
    # the interval stays calibrated on the symmetric fit (``_calibrate.py``, "Reference fit"): calibrated on
    # the envelope's own one-sided cut errors it was wider and covered less on the public IsoFLOP ladders
    return ObjectiveChoice(solution=asym, reference=first, report=report, cut_fits=[c["asymmetric"] for c in cuts],
                           reference_cut_fits=huber_cuts)
