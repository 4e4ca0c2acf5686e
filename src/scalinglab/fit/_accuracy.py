"""Benchmark accuracy vs compute: the sigmoid fit behind ``fit(..., "sigmoid")``, ``scalinglab fit --law
sigmoid`` and `scalinglab.downstream.SigmoidPredictor` (one route for all three).

``acc = floor + (ceiling - floor) / (1 + exp(-k (log10 C - x0)))``, C in FLOPs (or any scale variable),
fitted by least squares on the fit module's own engine (`Problem`, `multistart`) with two additions:

* **bounds from the data** (`accuracy_bounds`): the floor lies between the bottom of the accuracy scale
  and the lowest accuracy, a fitted ceiling between the median accuracy and the top of the scale, the
  steepness in [1e-4, 100] per decade and the midpoint within 10 decades of the data;
* **a weak prior** (`sigmoid_penalty`, a `Penalty`): a one-sided log-normal prior on ``k`` above
  ``SLOPE_PRIOR_CENTER`` per decade (sd ``SLOPE_PRIOR_SD`` of ln k), so that while every model sits below
  the midpoint least squares does not jump to a near-vertical step; flat benchmarks (k below the centre)
  are not pushed to rise. A fitted ceiling of a table of fractions (percentages) gets a Gaussian prior
  centred on 1 (100) with sd ``CEILING_PRIOR_SD`` of the top. The prior is a MAP term scaled by the
  residual sd of the unpenalised fit, so it decides only what the models leave open.

It never stops with "no trend" (a table near chance gives a flat-ish curve with a wide interval).
Intervals: bootstrap refits (``bootstrap`` resamples of the models) or, without a bootstrap, the
Gauss-Newton covariance; plus the residual scatter and a per-decade extrapolation term learned from
internal backtests (`reach_per_decade`, fit on the models below the 60/70/80 % compute quantiles).
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import FitError, InputError
from ..laws import Law
from ._accuracy_band import ACCURACY_METHOD, accuracy_band, accuracy_scale
from ._multistart import multistart
from ._objectives import Huber, LeastSquares, Penalty
from ._predict import interval_from_draws
from ._result import FitResult, covariance_draws, within_bounds
from ._solvers import Problem, gauss_newton_covariance

__all__ = ["SLOPE_PRIOR_CENTER", "SLOPE_PRIOR_SD", "CEILING_PRIOR_SD", "accuracy_scale", "accuracy_bounds",
           "sigmoid_penalty", "fit_sigmoid_map", "reach_per_decade", "fit_accuracy", "accuracy_band",
           "ACCURACY_LAWS", "ACCURACY_BOOTSTRAP", "ACCURACY_METHOD"]

#: steepness k (per decade of compute) above which the one-sided slope prior acts
SLOPE_PRIOR_CENTER = 1.0
#: sd of ln k of the one-sided prior above SLOPE_PRIOR_CENTER (k = 2.7/decade is 2 sd out)
SLOPE_PRIOR_SD = 0.5
#: sd of a fitted ceiling's prior around the top of the scale (1 for fractions), as a fraction of the top
CEILING_PRIOR_SD = 0.1
#: per-decade extrapolation sd (fraction of the top of the scale) when it is not learned
DEFAULT_REACH = 0.01
#: catalog laws that ``fit(..., loss="auto")`` sends through `fit_accuracy`
ACCURACY_LAWS = ("sigmoid", "sigmoid-bounded")
#: robust objective scale (accuracy units, fractions) of ``fit_loss="huber"``
HUBER_SCALE = 0.05
#: bootstrap resamples of the models when none are asked for: the draws of the interval (a sigmoid's
#: Gauss-Newton covariance misstates its spread: 80 % bands at 10x compute covered 100 % of simulated MMLU-like
#: tasks at 5x the width, and 33 % of late-rising GSM8K-like ones)
ACCURACY_BOOTSTRAP = 100


def check_floor(floor: float | None, y: np.ndarray, source: str | None = None, *, warn: bool = True) -> None:
    """Check a fixed chance accuracy ``floor`` against the accuracies ``y`` it is for.

    Raises
    ------
    InputError
        If it is not a number, or lies outside the table's accuracy scale (0-1 or 0-100) or at its top.

    Warns
    -----
    DataWarning
        For a floor under 1 on a table of percentages (0.25 there is 0.25 %: chance at 25 % is 25), or one
        above every model's accuracy (the sigmoid then has no rise to fit); not with ``warn=False`` (a fit of
        part of a table whose floor was checked on all of it).
    """
    import warnings

    from .._errors import DataWarning

    if floor is None:
        return
    where = source or "the table"
    f = float(floor)
    if not math.isfinite(f):
        raise InputError(f"floor (--floor) must be a number, got {floor!r}")
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    bounded = accuracy_scale(y)
    if bounded is not None and not bounded[0] <= f < bounded[1]:
        raise InputError(f"floor (--floor) {f:g} is outside the accuracy scale of {where} ({bounded[0]:g} to "
                         f"{bounded[1]:g}): give the chance accuracy in the table's unit, e.g. "
                         f"{0.25 * bounded[1]:g} for 4-way multiple choice")
    if not warn:
        return
    if bounded == (0.0, 100.0) and 0 < f < 1 and y.size and y.min() > 1:
        warnings.warn(DataWarning(f"floor (--floor) {f:g} on {where}, whose accuracies are percentages, is {f:g} %: "
                                  f"chance at {100 * f:g} % is --floor {100 * f:g}"), stacklevel=3)
    elif y.size and f >= y.max():
        warnings.warn(DataWarning(f"floor (--floor) {f:g} is at or above every model's accuracy in {where} (at most "
                                  f"{y.max():.4g}): the sigmoid has no rise to fit"), stacklevel=3)


def accuracy_bounds(law: Law, lx: np.ndarray, y: np.ndarray, bounded) -> tuple[np.ndarray, np.ndarray]:
    """Natural-space box ``(lower, upper)`` of a sigmoid law's parameters from the data: log10 scale
    ``lx``, accuracies ``y`` and the accuracy scale ``bounded`` (see the module docstring)."""
    lo_acc, hi_acc = bounded if bounded is not None else (float(np.min(y)) - np.ptp(y), float(np.max(y)) + np.ptp(y))
    lo, hi = [], []
    for n in law.param_names:
        if n == "floor":
            lo.append(lo_acc)
            hi.append(max(float(np.min(y)), lo_acc) + 1e-3 * max(hi_acc - lo_acc, 1e-9))
        elif n == "ceiling":
            lo.append(float(np.median(y)))
            hi.append(hi_acc)
        elif n == "k":
            lo.append(1e-4)
            hi.append(100.0)
        elif n == "x0":
            lo.append(float(lx.min()) - 10.0)
            hi.append(float(lx.max()) + 10.0)
        else:
            lo.append(-np.inf)
            hi.append(np.inf)
    return np.asarray(lo, float), np.asarray(hi, float)


def sigmoid_penalty(law: Law, weight: float, *, prior_sd: float, prior_center: float = SLOPE_PRIOR_CENTER,
                    top: float | None = None, ceiling_sd: float | None = None) -> Penalty:
    """The slope (and ceiling) prior as a `Penalty`: rows ``weight * max(ln k - ln k0, 0)`` and, when
    ``top`` and ``ceiling_sd`` are given and the ceiling is fitted,
    ``weight * prior_sd * (ceiling - top) / (ceiling_sd * top)``."""
    names = law.param_names
    ik = names.index("k")
    ic = names.index("ceiling") if ("ceiling" in names and top is not None and ceiling_sd) else None
    size = 1 + (ic is not None)
    lk0 = math.log(prior_center)

    def terms(theta):
        theta = np.asarray(theta, float)
        k = np.maximum(theta[..., ik], 1e-12)
        over = np.log(k) - lk0
        p = [weight * np.maximum(over, 0.0)]
        dp = np.zeros(theta.shape[:-1] + (size, theta.shape[-1]))
        dp[..., 0, ik] = np.where(over > 0, weight / k, 0.0)
        if ic is not None:
            c = weight * prior_sd / (ceiling_sd * top)
            p.append(c * (theta[..., ic] - top))
            dp[..., 1, ic] = c
        return np.stack(p, axis=-1), dp

    return Penalty(terms=terms, size=size, name="slope prior" + (" + ceiling prior" if ic is not None else ""))


def _default_starts(law: Law, lx: np.ndarray, y: np.ndarray) -> np.ndarray:
    rows = []
    for k0 in (0.5, 1.0, 2.0):
        for x0 in [*np.quantile(lx, [0.2, 0.5, 0.8]), lx.max() + 1.0, lx.max() + 3.0]:
            v = {"floor": float(np.min(y)), "ceiling": float(np.max(y)), "k": k0, "x0": float(x0)}
            rows.append([v[n] for n in law.param_names])
    return np.asarray(rows, float)


def _objective(fit_loss: str):
    if fit_loss == "ls":
        return LeastSquares()
    if fit_loss == "huber":
        return Huber(delta=HUBER_SCALE)
    raise InputError(f"fit_loss must be ls or huber, got {fit_loss!r}")


def fit_sigmoid_map(law: Law, x: np.ndarray, y: np.ndarray, *, bounded, prior_sd: float | None = SLOPE_PRIOR_SD,
                    prior_center: float = SLOPE_PRIOR_CENTER, ceiling_sd: float | None = CEILING_PRIOR_SD,
                    fit_loss: str = "ls", starts=None) -> tuple[np.ndarray, float]:
    """MAP sigmoid fit of accuracies ``y`` at scales ``x`` (e.g. FLOPs) with the data bounds and the
    prior of the module docstring (``prior_sd=None``: plain bounded least squares). Returns ``(theta,
    residual sd)``, the sd in accuracy units (at least 1e-3 of the accuracy range).

    Raises
    ------
    FitError
        If no start reaches a finite objective.
    InputError
        If ``fit_loss`` is not ``ls`` or ``huber``.
    """
    var = law.variables[0]
    X = {var: np.asarray(x, float)}
    y = np.asarray(y, float)
    lx = np.log10(X[var])
    bounds = accuracy_bounds(law, lx, y, bounded)
    obj = _objective(fit_loss)
    S0 = _default_starts(law, lx, y) if starts is None else np.atleast_2d(np.asarray(starts, float))

    def solve(penalty, init):
        problem = Problem(law, X, y, obj, "linear", bounds=bounds, penalty=penalty)
        ms = multistart(problem, starts=init, method="grid")
        if not math.isfinite(ms.objective):
            raise FitError("sigmoid fit: no start reached a finite objective")
        return ms.theta

    def rms(th):
        with np.errstate(all="ignore"):
            return float(np.sqrt(np.mean((law.evaluate(th, X) - y) ** 2)))

    th = solve(None, S0)
    scale = max(rms(th), 1e-3 * max(float(np.ptp(y)), 1e-3))
    if prior_sd is not None and prior_sd > 0:
        top = None if bounded is None else float(bounded[1])
        pen = sigmoid_penalty(law, scale / float(prior_sd), prior_sd=float(prior_sd), prior_center=prior_center,
                              top=top, ceiling_sd=ceiling_sd)
        th = solve(pen, np.vstack([th[None, :], S0]))
        scale = max(rms(th), scale)
    return th, scale


def reach_per_decade(law: Law, x: np.ndarray, y: np.ndarray, bounded, default: float, **map_kwargs) -> float:
    """Per-decade extrapolation sd (accuracy units) from internal backtests: refit on the models below the
    60/70/80 % compute quantiles and attribute the excess of the held-out squared errors over the
    in-sample residual variance to the distance beyond the fit (least squares through the origin in
    decades); ``default`` when no cut has enough models."""
    from .._errors import ScalingLabError

    lc = np.log10(x)
    var = law.variables[0]
    num = den = 0.0
    for q in (0.6, 0.7, 0.8):
        cut = np.quantile(lc, q)
        tr, te = lc < cut, lc >= cut
        if tr.sum() < 6 or te.sum() < 2 or np.ptp(lc[tr]) <= 0:
            continue
        try:
            th, scale = fit_sigmoid_map(law, x[tr], y[tr], bounded=bounded, **map_kwargs)
        except ScalingLabError:
            continue
        with np.errstate(all="ignore"):
            err2 = (law.evaluate(th, {var: x[te]}) - y[te]) ** 2
        d = lc[te] - lc[tr].max()
        num += float(np.sum(d ** 2 * (err2 - scale ** 2)))
        den += float(np.sum(d ** 4))
    if den <= 0:
        return default
    return float(np.sqrt(max(num / den, 0.0))) if num > 0 else 0.0


def fit_accuracy(law: Law, x: np.ndarray, y: np.ndarray, *, column: str | None = None, bootstrap: int = 0,
                 seed: int = 0, level: float = 0.8, calibrate: bool = True, fit_loss: str = "ls",
                 prior_sd: float | None = SLOPE_PRIOR_SD, prior_center: float = SLOPE_PRIOR_CENTER,
                 ceiling_sd: float | None = CEILING_PRIOR_SD, conventions: dict | None = None,
                 source: str | None = None, warn_floor: bool = True) -> FitResult:
    """Fit a sigmoid accuracy law (``sigmoid`` or ``sigmoid-bounded``, one variable, e.g. FLOPs) to
    accuracies ``y`` at scales ``x`` and return a complete `FitResult` (see the module docstring).

    ``column``: the table column of the variable (recorded in ``variables``); ``bootstrap``: resamples of
    the models for the parameter draws (0: Gauss-Newton covariance); ``calibrate``: learn the per-decade
    extrapolation term from internal backtests (else ``DEFAULT_REACH`` of the scale's top per decade);
    ``fit_loss``: ``"ls"`` or ``"huber"``; ``prior_sd``/``prior_center``/``ceiling_sd``: the prior;
    ``warn_floor``: warn about a fixed floor in the wrong unit (`check_floor`; errors are raised either way).

    Raises
    ------
    FitError
        With fewer than 3 usable models (positive scale, finite values) or when no start converges.
    InputError
        If ``level`` is not in (0, 1) or ``fit_loss`` is unknown.
    """
    if not 0 < float(level) < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    var = law.variables[0]
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    if ok.sum() < 3:
        raise FitError(f"sigmoid fit: {int(ok.sum())} usable model(s) in {source or 'the table'}; need at least 3")
    x, y = x[ok], y[ok]
    o = np.lexsort((y, x))  # by scale: the row order of a table does not change the bootstrap or the band
    x, y = x[o], y[o]
    check_floor((law.spec() or {}).get("floor"), y, source, warn=warn_floor)
    bounded = accuracy_scale(y)
    kw = {"prior_sd": prior_sd, "prior_center": prior_center, "ceiling_sd": ceiling_sd, "fit_loss": fit_loss}
    th, scale = fit_sigmoid_map(law, x, y, bounded=bounded, **kw)
    X = {var: x}
    with np.errstate(all="ignore"):
        resid = law.evaluate(th, X) - y
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(int(bootstrap)):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(np.log10(x[i])) <= 0:
            continue
        try:
            boots.append(fit_sigmoid_map(law, x[i], y[i], bounded=bounded, starts=th, **kw)[0])
        except FitError:
            continue
    B = np.asarray(boots) if boots else None
    default_reach = DEFAULT_REACH * (1.0 if bounded is None else bounded[1])
    reach = reach_per_decade(law, x, y, bounded, default_reach, **kw) if calibrate else default_reach
    cov = None
    if B is None:
        # in the law's own fit space, which `covariance_draws` maps back through (the bounds of the solve, a
        # different transform, read as the law's gave a ceiling interval of [-0.9, 2.5] on a public table)
        problem = Problem(law, X, y, LeastSquares(), "linear")
        cov = gauss_newton_covariance(problem, problem.fitspace.to_fit(th), scale)
    draws = B
    bounds = accuracy_bounds(law, np.log10(x), y, bounded)
    if B is None and cov is not None:  # within the bounds of the solve, as FitResult's draws are
        draws = within_bounds(covariance_draws(law, th, cov, seed=seed), bounds)
    ivs = ({n: interval_from_draws(draws[:, i], float(level)) for i, n in enumerate(law.param_names)}
           if draws is not None else {})
    return FitResult(
        law=law, params=dict(zip(law.param_names, map(float, th), strict=True)), theta=np.asarray(th, float),
        objective=float(np.sum(resid ** 2)), residuals=resid, n_points=int(len(x)),
        data_ranges={var: (float(x.min()), float(x.max()))}, variables={var: column or var},
        loss={"name": fit_loss, "slope_prior_sd": prior_sd, "slope_prior_center": prior_center,
              "ceiling_prior_sd": ceiling_sd},
        space="linear", status="success",
        message=f"least squares{' + slope prior' if prior_sd else ''} ({source or 'table'})",
        diagnostics={"method": "accuracy-sigmoid", "bounds": [list(map(float, b)) for b in bounds]},
        bootstrap=B, intervals=ivs, level=float(level), noise=float(scale), covariance=cov,
        conventions=dict(conventions or {}), data={"X": {var: x.tolist()}, "y": y.tolist(), "weights": None},
        calibration={"method": ACCURACY_METHOD, "reach_noise_per_decade": reach / max(scale, 1e-12),
                     "reach_per_decade": float(reach), "seed": int(seed),
                     "source": "reach-backtest" if calibrate else "fixed"})

