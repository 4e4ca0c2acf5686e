"""Calibrating prediction intervals on the user's own data by internal backtests.

Method (``"backtest-calibrated/v4"``). A forecast of a larger run misses for reasons the bootstrap does not
see: run-to-run noise, misspecification of the law, and how far it extrapolates. So the interval of an
ACTUAL run is calibrated on the data at hand, split-conformal style, with backtests that mirror the task:

1. Cuts: fit the law on the runs below a compute cut and predict every run at or above it, for several
   cuts (the largest 10, 20, 30, 40, 50% of runs held out; runs of one compute level never straddle a
   cut, so an IsoFLOP budget is all in or all out even when rounding made its runs' FLOPs differ by a
   few percent: ``_levels.level_threshold``). Runs are ordered by the table's ``budget`` column, else ``flops``,
   else 6 N D (or the law's one variable).
2. Scores: each held-out run gives the normalised error ``s = (log L_actual - (log L_pred - shift)) / scale``
   with ``scale = sqrt(noise^2 + sp^2)`` (``shift``: median residual, ``noise``: 1.4826 x MAD of that cut's
   fit residuals, ``sp``: that fit's linearised parameter sd at the run; normalised conformal scores), and
   two distances: decades beyond the largest fitted run of that cut ("edge"), and decades from its median
   fitted run ("center": a misspecified law drifts with the distance from the bulk of the data it was
   fitted to, so runs just past the edge of a wide sweep already carry the drift seen at that distance).
3. Quantile lines: weighted linear quantile regressions ``q_tau(x) = a_tau + b_tau x`` for tau in 2.5..97.5%
   (each cut weighs the same), one set per distance. They carry drift (the median line) and widening (the
   fan) learnt from the data; quantiles are rearranged so they never cross, and interpolated in the normal
   score for any level.
4. Prediction: at a new point the band is ``center - shift + scale * q_tau`` (``scale`` from the final
   fit: noise and its linearised parameter sd at the point, the same measure the scores were normalised
   by: `linear_prediction_sd`; the spread of draws from the covariance is many times larger where the law
   is far from linear in a weakly identified direction, and made bands 4-12x the prediction wide on the
   (Mis)fitting study's raw ladder), where ``q_tau`` is the average of the
   two sets of lines, each read at the point's own distance from the final fit's data. Neither covariate
   is right everywhere: the final fit spans more decades than any cut, so the "center" lines extrapolate
   the drift further than the cuts ever saw and over-correct where the drift was really a property of
   the smaller fits (on the OpenAthena IsoFLOP runs the learnt drift put the band below the held-out
   runs), while the "edge" lines miss the drift that a wide sweep carries from its bulk (on the Epoch
   runs). Averaging the two quantile functions hedges between them. Beyond the largest calibrated
   distance the median line continues and the band widens further at the prior's rate (quadrature). It
   is mixed with the prior rule (weight ``m0 / (m0 + n_cuts)``, ``m0 = PRIOR["weight"] = 0.3``). With
   fewer than two usable cuts, or fewer held-out predictions than ``MIN_PREDICTIONS`` (one more than there
   are quantile lines), the prior rule of ``_predict.py`` is used: ``sd = noise * sqrt(1 + (5.0 * decades
   beyond the largest run)^2)`` plus parameter spread, with ``noise`` the scale of the residuals other than
   the ``P`` the fit passes through (`_predict.robust_scale`; `FitResult.predict`). On Chinchilla ladders of
   9 and 16 runs at 1 % noise, predicted at 10-100x their compute, 80 % bands covered 30 % and 73 % of the
   actual runs when the prior's unit was the plain MAD (0.1 % for 9 runs) and 16 runs were calibrated on 7
   held-out predictions; 97 % and 100 % now (30 seeds each): wide, as the prior rule learnt on real ladders
   is for a law that is well specified.
5. Reference fit. When ``loss="auto"`` chose the asymmetric objective (the lower envelope of the runs)
   for the point forecast, the interval is calibrated on the symmetric Huber fit of the same data and
   its cut fits (stored as ``calibration["reference"]``): the asymmetric fit's residuals are one-sided
   by design and their offset changes with how many runs sit near the envelope, so the drift learnt
   from its cuts did not transfer (nominal 80% covered 5/7 held-out OpenAthena runs with an interval
   score 2.5x the best fixed band; calibrated on the Huber fit: 7/7, 0.66x).
6. The point prediction always lies inside its interval, and laws that declare an output range
   (``Law.value_range``: accuracies, coverages) get intervals clipped to it.

Prior weight. The quantile lines come from only 3..5 cuts whose held-out runs share each cut's fit, so
their tails are optimistic on their own; the prior (a wide rule learnt across the public datasets) makes
up for it. Its weight was set on the synthetic families of ``bench/calibration.py`` (IsoFLOP tables of 8
budgets, the two largest held out; Chinchilla at 0.5% and 2% noise and a broken power law fitted with
Chinchilla's law). Nominal 80% covers, pooled over tables (weight 0.3 / 0.35 / 0.2):
``bench/calibration.py 40`` (120 tables, seeds 10000..10039) 84.4 / 85.0 / 82.5%; the slow test's 120
tables (seeds 0..39, 1000..1039, 2000..2039) 82.0 / 82.7 / -%; the fast test's 36 tables 76.4 / >75 /
73.6%. Held-out runs of one table share its fit, so a pooled figure needs many tables (seeds
10000..10019 alone give ~79%, 10020..10039 ~89%). Public datasets, two largest budgets held out: Epoch
1/2 covered, interval score 1.00x the best fixed +-k% band chosen in hindsight; OpenAthena 7/7, 0.66x
(holding out 1..4 budgets: Epoch 0.95..1.53x, OpenAthena 0.60..0.73x); both barely move with the weight.

Assumptions: the law's errors keep growing with distance at the rate seen inside the data (smooth
misspecification); the larger runs resemble the fitted ones (same recipe, data and FLOP convention);
run-to-run noise is about constant in log loss. Backtest fits use fewer runs than the final fit, so the
calibration errs on the wide side. Intervals are marginal over runs, not conditional on each one.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ._levels import level_threshold, new_mask
from ._multistart import polish
from ._predict import (
    REACH_NOISE_PER_DECADE,
    calibrated_quantiles,
    compute_of,
    extrapolation,
    linear_prediction_sd,
    robust_scale,
)
from ._profile import needs_profile, plausible_alternates
from ._stages import FitContext, ObjectiveChoice, Solution, covariance, fit_warm

__all__ = ["CALIBRATION_METHOD", "CAL_FRACS", "QR_TAUS", "calibrate", "calibrate_scores", "calibration_prior",
           "calibrated_quantiles", "calibrate_intervals", "interval_score", "backtest_scores"]

CALIBRATION_METHOD = "backtest-calibrated/v4"
#: held-out fractions of the largest runs used for the internal backtests
CAL_FRACS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: prior rule (learnt across the public datasets, see _predict.py) and its weight, in cuts (docstring)
PRIOR = {"kappa": REACH_NOISE_PER_DECADE, "weight": 0.3}
#: covariate of the quantile lines: decades from the median fitted run ("center"), from the largest ("edge"),
#: or the average of the two bands ("both", the default: see the module docstring)
DISTANCE = "both"
#: quantiles of the backtest errors modelled as lines in the distance
QR_TAUS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)
_NOISE_FLOOR = 1e-5
#: fewest held-out predictions (over all cuts) the quantile lines are drawn from: more than there are lines;
#: below it the prior rule (module docstring). Chinchilla's law on 15-16 runs at 1 % noise gave 5-7, and
#: its lines covered 67-73 % of runs at 10-100x the compute where 80 % was asked
MIN_PREDICTIONS = len(QR_TAUS) + 1


def calibration_prior(reason: str = "") -> dict:
    """The fallback calibration (the cross-dataset rule of ``_predict.py``)."""
    return {"method": CALIBRATION_METHOD, "source": "prior", "reason": reason,
            "reach_noise_per_decade": PRIOR["kappa"], "n_cuts": 0, "n_predictions": 0}


def interval_score(lo, hi, y, level: float) -> np.ndarray:
    """Interval score (Gneiting & Raftery 2007) of central ``level`` intervals: width plus
    ``2/(1-level)`` times the miss; lower is better."""
    a = 1.0 - level
    lo, hi, y = (np.asarray(v, float) for v in (lo, hi, y))
    return (hi - lo) + (2.0 / a) * np.maximum(lo - y, 0.0) + (2.0 / a) * np.maximum(y - hi, 0.0)


def _order(fd, law) -> np.ndarray:
    df = fd.frame
    if df is not None and len(df) == fd.n:
        for col in ("budget", "flops"):
            if col in df.columns:
                try:
                    v = df[col].to_numpy(float)
                except (TypeError, ValueError):
                    continue
                if np.all(np.isfinite(v)) and np.all(v > 0):
                    return v
    C = compute_of(law, fd.X)
    return C if C is not None else np.asarray(fd.X[law.variables[0]], float)


def _cuts(order: np.ndarray, n_min: int, fracs=CAL_FRACS) -> list[np.ndarray]:
    """Test masks (largest runs held out, ties together), each leaving >= n_min runs to fit."""
    n = len(order)
    srt = np.sort(order)
    out, seen = [], set()
    for f in fracs:
        k = max(1, math.ceil(f * n))
        thr = level_threshold(order, float(srt[n - k]))  # never split a compute level
        test = order >= thr
        if not new_mask(test, seen):
            continue
        if (~test).sum() >= n_min and test.sum() >= 1:
            out.append(test)
    return out


def edge_offset(order: np.ndarray) -> float:
    """Decades from the typical (median) fitted run to the largest one: where the fitted data's edge lies."""
    v = np.log10(np.asarray(order, float))
    return float(np.max(v) - np.median(v))


def law_cuts(order: np.ndarray, law, fracs=CAL_FRACS) -> list[np.ndarray]:
    """The calibration's test masks for ``law`` on runs in compute ``order`` (``_order(fd, law)``): `_cuts`,
    each leaving at least ``max(P + 2, 2 P, 8)`` runs to fit the law's ``P`` parameters."""
    return _cuts(order, max(law.n_params + 2, 2 * law.n_params, 8), fracs)


def backtest_scores(fd, law, *, fit_kwargs: dict, fracs=CAL_FRACS, fits: list | None = None,
                    warm=None) -> list[dict]:
    """Internal backtests: per cut, for each held-out run the error ``e`` (observed minus the shifted
    prediction, residual space), decades beyond the fitted compute ``d``, parameter sd ``sp`` and the
    fit's ``noise``. ``fits``: the cut fits already made with the same objective (one per cut of
    ``law_cuts(order, law, fracs)``, None where the fit failed), e.g. by ``loss="auto"``'s choice. ``warm``:
    natural-space parameters the fresh cut fits start from (the whole-table fit; a cold multi-start only
    when that start fails), as ``loss="auto"``'s cut fits do."""
    order = _order(fd, law)
    kwargs = {k: v for k, v in fit_kwargs.items() if k not in ("bootstrap", "calibrate", "weights")}
    out = []
    cuts = law_cuts(order, law, fracs)
    if fits is not None and len(fits) != len(cuts):
        fits = None
    for k, test in enumerate(cuts):
        train = ~test
        if fits is not None:
            res = fits[k]
            if res is None:
                continue
        else:
            data = {v: fd.X[v][train] for v in law.variables}
            data["__y__"] = fd.y[train]
            if fd.weights is not None:
                kwargs["weights"] = fd.weights[train]
            res = fit_warm(data, law, y="__y__", starts=None if warm is None else np.asarray(warm, float)[None, :],
                           **kwargs)
            if res is None:
                continue
        if not res.ok and res.status != "not_converged":
            continue
        Xt = {v: fd.X[v][test] for v in law.variables}
        Xf = {v: fd.X[v][train] for v in law.variables}
        log = res.space == "log"
        with np.errstate(all="ignore"):
            center = law.log_evaluate(res.theta, Xt) if log else law.evaluate(res.theta, Xt)
            yt = np.log(fd.y[test]) if log else fd.y[test]
            sp = linear_prediction_sd(law, res.theta, res.covariance, Xt, res.space)
            sp = np.zeros(len(yt)) if sp is None else sp
        ext = extrapolation(law, Xf, Xt)
        d = np.log10(np.maximum(np.asarray(ext["reach"], float), 1.0))
        e = yt - (center - res.residual_shift)
        ok = np.isfinite(e) & np.isfinite(sp) & np.isfinite(d)
        if not ok.any() or not math.isfinite(res.noise):
            continue
        out.append({"e": e[ok], "d": d[ok], "sp": sp[ok], "noise": max(float(res.noise), _NOISE_FLOOR),
                    "n_train": int(train.sum()), "offset": edge_offset(order[train])})
    return out


def quantile_line(s: np.ndarray, d: np.ndarray, w: np.ndarray, tau: float) -> tuple[float, float]:
    """Weighted linear quantile regression ``q_tau(d) = a + b d``, solved as its dual linear programme
    (HiGHS): maximise ``s @ u`` subject to ``sum(u) = 0``, ``d @ u = 0`` and ``-(1 - tau) w <= u <= tau w``;
    ``(a, b)`` are the multipliers of the two equality constraints (Koenker 2005, section 6.2). The dual has
    ``n`` box-bounded variables and two constraints where the primal has ``2 n + 2`` variables and ``n``
    constraints: same optimum, several times faster."""
    from scipy.optimize import linprog

    X = np.vstack([np.ones(len(s)), d])
    res = linprog(-s, A_eq=X, b_eq=np.zeros(2), bounds=np.column_stack([-(1.0 - tau) * w, tau * w]),
                  method="highs")
    if not res.success:  # pragma: no cover - the dual is always feasible (u = 0) and bounded
        return float(np.quantile(s, tau)), 0.0
    a, b = -np.asarray(res.eqlin.marginals, float)
    return float(a), float(b)


def calibrate(fd, law, *, fit_kwargs: dict, fracs=CAL_FRACS, fits: list | None = None, warm=None) -> dict:
    """Learn error-quantile lines in the extrapolation distance from internal backtests (module docstring).
    ``fits``: per-cut fits already made; ``warm``: start of fresh cut fits (see `backtest_scores`)."""
    cuts = backtest_scores(fd, law, fit_kwargs=fit_kwargs, fracs=fracs, fits=fits, warm=warm)
    return calibrate_scores(cuts, fd, law)


def calibrate_scores(cuts: list[dict], fd, law) -> dict:
    """The calibration (quantile lines, prior weight) from backtest scores in the format of
    `backtest_scores` (per cut: errors ``e``, distances ``d``, parameter sd ``sp``, ``noise``, ``n_train``,
    ``offset``), e.g. those of the stacked forecast (``_ensemble.py``)."""
    if len(cuts) < 2:
        return calibration_prior(f"{len(cuts)} usable backtest cut(s) in {fd.n} runs: too few to calibrate")
    n_scores = sum(len(c["e"]) for c in cuts)
    if n_scores < MIN_PREDICTIONS:
        return calibration_prior(f"{n_scores} held-out predictions in {len(cuts)} backtest cuts of {fd.n} runs: "
                                 f"too few to draw {len(QR_TAUS)} quantile lines")
    # normalised scores: error over the cut's own predictive scale (run noise and parameter spread), so
    # the smaller parameter spread of the final fit (more runs) narrows its band accordingly
    s = np.concatenate([c["e"] / np.sqrt(c["noise"] ** 2 + c["sp"] ** 2) for c in cuts])
    d_edge = np.concatenate([c["d"] for c in cuts])
    d_center = d_edge + np.concatenate([np.full(len(c["e"]), c["offset"]) for c in cuts])
    w = np.concatenate([np.full(len(c["e"]), 1.0 / len(c["e"])) for c in cuts])
    w = w / w.sum() * len(cuts)
    out = {"method": CALIBRATION_METHOD, "source": "backtest", "reason": ""}
    for kind, d in (("center", d_center), ("edge", d_edge)):
        if DISTANCE not in (kind, "both"):
            continue
        key = "_edge" if kind == "edge" and DISTANCE == "both" else ""  # "both": center lines keep the plain key
        out["quantile_lines" + key] = {f"{t:g}": list(quantile_line(s, d, w, t)) for t in QR_TAUS}
        out["d_max" + key] = float(np.max(d))
    m, m0 = float(len(cuts)), PRIOR["weight"]
    out.update({"prior_weight": m0 / (m + m0), "kappa_prior": PRIOR["kappa"],
                "distance": DISTANCE, "offset": edge_offset(_order(fd, law)), "n_cuts": len(cuts),
                "n_predictions": int(len(s)), "cut_train_sizes": [c["n_train"] for c in cuts],
                "reach_noise_per_decade": PRIOR["kappa"], "scale": "noise+param"})
    return out


def calibrate_intervals(ctx: FitContext, point: Solution, choice: ObjectiveChoice) -> tuple[dict, float]:
    """The calibrate stage of ``fit()``: ``(calibration, seconds)`` for the polished ``point`` solve.

    A weak trend (p above ``WEAK_TREND_P``) gets the wide prior rule: backtests of a law that barely beats
    a constant say nothing about its reach. Else the prediction interval is learnt by `calibrate` on the
    cut fits the objective choice already made (or fresh ones); when the choice kept a symmetric
    ``reference`` solve, on that one and its cut fits, and the reference's polished parameters, noise and
    covariance are stored as ``calibration["reference"]`` (module docstring, "Reference fit")."""
    from ._degenerate import WEAK_TREND_P

    p = point.trend["p_value"]
    if not p <= WEAK_TREND_P:
        return calibration_prior(f"weak trend (p = {p:.2g}): no internal backtests"), 0.0
    tc = time.perf_counter()
    fd, law, opts = ctx.data, ctx.law, ctx.options
    ref = choice.reference
    base = ref if ref is not None else point
    fits = choice.reference_cut_fits if ref is not None else choice.cut_fits
    cal = calibrate(fd, law, fit_kwargs={"loss": base.objective, "delta": opts.delta, "method": opts.method,
                                         "space": ctx.space}, fits=fits, warm=base.ms.theta)
    if ref is not None:
        ref_ms = polish(ref.problem, ref.ms, fd.weights)
        r_ref = ref.problem.residuals_theta(ref_ms.theta)
        noise_ref, shift_ref = robust_scale(r_ref)
        cov_ref = covariance(ref.problem, ref.problem.fitspace.to_fit(ref_ms.theta), noise_ref, fd.weights)
        cal["reference"] = {"loss": ref.objective.spec(), "theta": [float(v) for v in ref_ms.theta],
                            "noise": noise_ref, "residual_shift": shift_ref,
                            "covariance": None if cov_ref is None else np.asarray(cov_ref, float).tolist()}
    if needs_profile(law):  # reach in unique tokens / epochs: no compute cut exercised it (_profile.py)
        if ref is not None:  # the reference's polished optimum, noise and shift, as stored above
            theta, noise, shift = ref_ms.theta, noise_ref, shift_ref
        else:
            theta = base.ms.theta
            noise, shift = robust_scale(base.problem.residuals_theta(theta)[:fd.n])
        alternates = plausible_alternates(base.problem, theta, noise, shift, fd.weights)
        if alternates is not None:
            cal["alternates"] = alternates
    return cal, time.perf_counter() - tc
