"""``fit()``: runs + law -> `FitResult`."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from .._errors import ConvergenceWarning, FitError, InputError
from ..laws import Law, as_theta
from ._bootstrap import bootstrap_refit
from ._degenerate import NO_TREND_P, WEAK_TREND_P, looks_flat, pinned_parameters, trend_test
from ._inputs import prepare_data, resolve_law
from ._multistart import multistart, polish
from ._objectives import Objective, get_objective
from ._predict import interval_from_draws
from ._result import FitResult
from ._solvers import Problem

__all__ = ["fit", "DEFAULT_LOSS"]

#: default objective, chosen by backtests (see tests/test_fit_backtest.py and bench/fit_speed.py)
DEFAULT_LOSS = "auto"
#: most bootstrap resamples accepted (each holds a (runs x params) batch in memory)
MAX_BOOTSTRAP = 100_000
#: L-BFGS-B iterations of the final polish when the trend is weak or a parameter is at its bound
CERTIFY_ITERS_DEGENERATE = 100
#: L-BFGS-B iterations before judging the trend of a batched solve that did not converge
SHORT_POLISH_ITERS = 25


def _robust_scale(r: np.ndarray) -> tuple[float, float]:
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan, 0.0
    med = float(np.median(r))
    return float(1.4826 * np.median(np.abs(r - med))), med


def _covariance(problem: Problem, u: np.ndarray, noise: float, W) -> np.ndarray | None:
    """Gauss-Newton covariance of the fit-space parameters, ``noise^2 (J^T W J)^-1``."""
    r, J = problem.residuals_jac(u[None, :])
    J = J[0]
    w = np.ones(len(problem.y)) if W is None else np.asarray(W, float)
    if not np.all(np.isfinite(J)):
        return None
    H = J.T @ (J * w[:, None])
    try:
        cov = np.linalg.pinv(H, rcond=1e-12, hermitian=True) * max(noise, 1e-12) ** 2
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None


def _trend_words(law: Law, fd) -> str:
    kind = "power-law trend" if law.name in ("power", "kaplan-n", "kaplan-d", "kaplan-c") else \
        f"trend (law {law.name!r})"
    cols = [fd.variables[v] for v in law.variables]
    return f"no detectable {kind} in {fd.y_column} vs {', '.join(cols)}"


def _no_trend(law_obj: Law, fd, problem: Problem, ms, obj, space, trend, level, throw):
    """The law does no better than a constant: FitError (``throw``) or a result with status "no_trend"."""
    c = trend["constant"]
    flat = math.exp(c) if space == "log" else c
    spread = trend["scale"] * 100 if space == "log" else trend["scale"]
    unit = "%" if space == "log" else ""
    msg = (f"{_trend_words(law_obj, fd)}: the best fit is flat ({fd.y_column} ≈ {flat:.4g} ± {spread:.2g}{unit} "
           f"over {fd.n} runs; against a constant the law's improvement has p = {trend['p_value']:.2g}, robust "
           f"F-test); widen the range of the variables, add runs, or check that {fd.y_column!r} is the right column")
    if throw:
        raise FitError(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    theta = ms.theta
    return FitResult(law=law_obj, params=dict(zip(law_obj.param_names, map(float, theta), strict=True)),
                     theta=theta, objective=float(ms.objective), residuals=problem.residuals_theta(theta),
                     n_points=fd.n, data_ranges={v: (float(np.min(a)), float(np.max(a))) for v, a in fd.X.items()},
                     variables=dict(fd.variables), loss=obj.spec(), space=space, status="no_trend", message=msg,
                     diagnostics={"trend_test": trend, "method": ms.method}, level=float(level),
                     conventions=dict(fd.conventions))


def _degeneracy_status(law: Law, fd, theta, trend, pinned, exploding, status, message):
    """Status and message for weak trends, unidentified parameters and fits without residual freedom
    (a `ConvergenceWarning` for each; see _degenerate.py)."""
    p = trend["p_value"]
    notes = []
    weak = fd.n <= law.n_params or p > WEAK_TREND_P
    if fd.n <= law.n_params:
        notes.append(f"{fd.n} runs for {law.n_params} parameters: the law interpolates them exactly, so nothing "
                     "checks the fit; add runs")
    elif p > NO_TREND_P:
        notes.append(f"the law fits no better than a constant (p = {p:.2g}, robust F-test; robust residual scale "
                     f"{trend['scale']:.3g} vs {trend['scale_constant']:.3g} for a constant): the data have "
                     "structure this law misses; try another law")
        if status == "success":
            status = "poor_fit"
    elif p > WEAK_TREND_P:
        notes.append(f"weak trend (against a constant the law's improvement has p = {p:.2g}, robust F-test)")
    if pinned or exploding:
        what = ", ".join([f"{n} at its bound" for n in pinned]
                         + [f"{n} = {theta[law.param_names.index(n)]:.3g}" for n in exploding])
        notes.append(f"parameters not determined by the data ({what})")
        if weak and status == "success":
            status = "degenerate"
    if not notes:
        return status, message
    message = f"{message}; " + "; ".join(notes)
    if weak:  # a strong trend with an exponent at its bound is a finding, not a failure: no warning
        message += "; treat the fitted constants as unreliable"
        warnings.warn(f"fit of {law.name!r}: " + "; ".join(notes), ConvergenceWarning, stacklevel=3)
    return status, message


def fit(data, law: Law | str, *, x: str | None = None, y: str | None = "loss", loss: str | Objective = DEFAULT_LOSS,
        delta: float = 1e-3, weights=None, starts=None, bootstrap: int = 0, seed: int = 0, level: float = 0.8,
        method: str = "auto", space: str = "auto", throw: bool = True, calibrate: bool = True) -> FitResult:
    """Fit ``law`` to runs by robust multi-start minimisation.

    ``data``: RunTable, DataFrame, path or mapping of arrays; law variables map to columns via
    ``VARIABLE_COLUMNS`` (N -> params, D -> tokens, C -> flops) or to ``x`` for one-variable laws.
    ``law``: a `Law`, catalog name, preset name (its constants join the starts) or expression.
    ``loss``: ``"huber"`` (``delta`` on log residuals, summed), ``"ls"``, ``"asymmetric"`` (lower envelope:
    the law passing above a run costs 10x), ``"auto"`` (huber or asymmetric, whichever predicts the
    largest runs better in internal backtests; the choice and both scores are in
    ``diagnostics["objective_choice"]``, see ``scalinglab.fit._choose``) or an `Objective`. ``weights``: per-run weights (array or column).
    ``starts``: natural-space start grid ``(S, P)`` (default: variable projection over the exponents where
    the law is linear in its coefficients, else ``law.start_grid()``). ``bootstrap``: number of resamples
    (0 = none); ``level``: interval level. ``space``: residual space, "log" for loss laws, "linear" for
    value laws (auto). ``throw``: raise `FitError` when no finite fit is found (else return a failed result).
    ``calibrate``: learn the prediction-interval widening from internal backtests on these runs (fit on the
    smaller runs, predict the larger; see ``scalinglab.fit._calibrate``), stored in ``result.calibration``;
    False uses the cross-dataset prior rule (faster: no refits).
    Inputs are never modified.

    Returns
    -------
    FitResult
        Frozen result: ``params`` (natural space, law order in ``theta``, shape ``(n_params,)``),
        ``intervals`` at ``level``, ``residuals`` of shape ``(n_runs,)``, ``diagnostics``. A law that does no
        better than a constant, or a solve that reaches no finite objective, gives ``status`` ``"no_trend"``
        or ``"failed"`` when ``throw=False``.

    Raises
    ------
    InputError
        If ``level`` is not in (0, 1), ``bootstrap`` is negative or too large, ``seed`` is negative,
        ``method``, ``space`` or ``loss`` is unknown, or ``starts`` does not have one column per parameter.
        Its subclass `DataError` (naming file and column) if the runs lack a column the law needs or hold
        non-numeric, non-finite or (for log-space fits) non-positive values.
    LawError
        If ``law`` is a name or expression that does not give a valid law.
    FitError
        If the runs cannot determine the law's parameters (fewer runs than parameters, a variable with a
        single value, a constant target) or, with ``throw=True``, if the law shows no detectable trend or
        no start reaches a finite objective.
    """
    t0 = time.perf_counter()
    if not 0 < float(level) < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    if int(bootstrap) < 0:
        raise InputError(f"bootstrap must be >= 0, got {bootstrap}")
    if int(bootstrap) > MAX_BOOTSTRAP:
        raise InputError(f"bootstrap must be at most {MAX_BOOTSTRAP:,} resamples, got {bootstrap}")
    if int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    if method not in ("auto", "varpro", "grid"):
        raise InputError(f"method must be auto, varpro or grid, got {method!r}")
    law_obj, preset_values = resolve_law(law, x)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=weights)
    choice = None
    reference = None  # (objective, problem, multistart) of the symmetric fit when auto chose another one
    auto = isinstance(loss, str) and loss.strip().lower() == "auto"
    obj = get_objective("huber" if auto else loss, delta=delta)  # auto: judged by backtest after the trend test
    if space == "auto":
        space = "log" if law_obj.target == "loss" else "linear"
    if space not in ("log", "linear"):
        raise InputError(f"space must be auto, log or linear, got {space!r}")
    problem = Problem(law_obj, fd.X, fd.y, obj, space)
    extra = []
    if preset_values is not None:
        try:
            extra.append(as_theta(law_obj, preset_values))
        except Exception:  # noqa: BLE001 - a preset that does not match is just not used as a start
            pass
    g = law_obj.guess(fd.X, fd.y)
    if g is not None and np.all(np.isfinite(g)):
        extra.append(np.asarray(g, float))
    if starts is not None:
        starts = np.atleast_2d(np.asarray(starts, float))
        if starts.shape[-1] != law_obj.n_params:
            raise InputError(f"starts must have {law_obj.n_params} columns ({', '.join(law_obj.param_names)}), "
                             f"got shape {starts.shape}")
    ms = multistart(problem, fd.weights, starts=starts, method=method, extra_starts=extra, certify_best=False)
    trend = None
    if math.isfinite(ms.objective):
        # degenerate data end here, before the polish chases an exponent to its bound (see _degenerate.py)
        trend = trend_test(problem.residuals_theta(ms.theta), problem.y_work, law_obj.n_params, fd.weights)
        if trend["p_value"] > NO_TREND_P and not ms.converged:  # judge an unfinished solve after a short polish
            ms = polish(problem, ms, fd.weights, maxiter=SHORT_POLISH_ITERS)
            trend = trend_test(problem.residuals_theta(ms.theta), problem.y_work, law_obj.n_params, fd.weights)
        if looks_flat(trend):  # NaN (no degrees of freedom left) passes
            return _no_trend(law_obj, fd, problem, ms, obj, space, trend, level, throw)
        if auto:
            from ._choose import choose_objective

            choice = choose_objective(fd, law_obj, delta=delta, fit_kwargs={"method": method, "space": space})
            if choice["chosen"] != obj.name:
                # the symmetric fit stays as the reference the prediction interval is calibrated on
                reference = (obj, problem, ms)
                obj = get_objective(choice["chosen"], delta=delta)
                problem = Problem(law_obj, fd.X, fd.y, obj, space)
                ms = multistart(problem, fd.weights, starts=starts, method=method, extra_starts=extra,
                                certify_best=False)
                trend = trend_test(problem.residuals_theta(ms.theta), problem.y_work, law_obj.n_params,
                                   fd.weights)
        # a weak trend: the polish would slide along a flat valley towards a bound
        weak = not trend["p_value"] <= WEAK_TREND_P
        ms = polish(problem, ms, fd.weights, maxiter=CERTIFY_ITERS_DEGENERATE if weak else 2000)
        if weak:  # the short polish may have found the trend after all: then polish to the end
            trend = trend_test(problem.residuals_theta(ms.theta), problem.y_work, law_obj.n_params, fd.weights)
            if trend["p_value"] <= WEAK_TREND_P:
                ms = polish(problem, ms, fd.weights)
    diagnostics = {"method": ms.method, "iterations": ms.iterations, "grad_norm": ms.grad_norm,
                   "converged": ms.converged, "n_starts": ms.n_starts, "n_polished": ms.n_polished,
                   "n_in_best_basin": ms.n_in_best_basin, "start_objectives": ms.start_objectives,
                   "time_s": ms.time_s}
    cut_fits = ref_cut_fits = None
    if choice is not None:
        cut_fits = choice.pop("_fits", None)
        ref_cut_fits = choice.pop("_fits_reference", None)
        diagnostics["objective_choice"] = choice
    if not math.isfinite(ms.objective):
        msg = (f"no start reached a finite objective for law {law_obj.name!r} on {fd.n} runs; check the data "
               "ranges and the law's bounds")
        if throw:
            raise FitError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        nanp = {k: math.nan for k in law_obj.param_names}
        return FitResult(law=law_obj, params=nanp, theta=ms.theta, objective=math.inf,
                         residuals=np.full(fd.n, np.nan), n_points=fd.n, data_ranges={}, variables=fd.variables,
                         loss=obj.spec(), space=space, status="failed", message=msg, diagnostics=diagnostics,
                         level=float(level), conventions=fd.conventions)
    theta = ms.theta
    r = problem.residuals_theta(theta)
    noise, shift = _robust_scale(r)
    status, message = "success", f"converged ({ms.method}, {ms.n_in_best_basin} start(s) in the best basin)"
    if not ms.converged and ms.grad_norm > 1e-6 * (1 + ms.objective):
        status = "not_converged"
        message = (f"stopped after {ms.iterations} iterations with gradient norm {ms.grad_norm:.3g}; the "
                   "parameters may not be optimal")
        warnings.warn(f"fit of {law_obj.name!r}: {message}", ConvergenceWarning, stacklevel=2)
    on_bound = []
    for j, p in enumerate(law_obj.params):
        v = theta[j]
        for b in (p.lower, p.upper):
            if math.isfinite(b) and abs(v - b) <= 1e-6 * max(1.0, abs(b)) and not (p.log and b == 0):
                on_bound.append(p.name)
    if on_bound:
        message += f"; parameter(s) at a bound: {', '.join(on_bound)}"
    pinned, exploding = pinned_parameters(law_obj, problem.fitspace, theta)
    diagnostics["trend_test"] = trend
    diagnostics["pinned"], diagnostics["exploding"] = pinned, exploding
    status, message = _degeneracy_status(law_obj, fd, theta, trend, pinned, exploding, status, message)
    cov = _covariance(problem, problem.fitspace.to_fit(theta), noise, fd.weights)
    boot = None
    intervals: dict = {}
    if bootstrap:
        boot, ok, bdiag = bootstrap_refit(problem, problem.fitspace.to_fit(theta), int(bootstrap), seed=seed,
                                          weights=fd.weights)
        diagnostics["bootstrap"] = bdiag
        diagnostics["time_bootstrap_s"] = time.perf_counter() - t0 - ms.time_s
    res = FitResult(
        law=law_obj, params=dict(zip(law_obj.param_names, map(float, theta), strict=True)), theta=theta,
        objective=float(ms.objective), residuals=r, n_points=fd.n,
        data_ranges={v: (float(np.min(a)), float(np.max(a))) for v, a in fd.X.items()},
        variables=dict(fd.variables), loss=obj.spec(), space=space, status=status, message=message,
        diagnostics=diagnostics, bootstrap=boot, level=float(level), noise=noise, residual_shift=shift,
        covariance=cov, conventions={**fd.conventions, "data_hash": fd.data_hash(), "y_column": fd.y_column},
        data={"X": {k: v.tolist() for k, v in fd.X.items()}, "y": fd.y.tolist(),
              "weights": None if fd.weights is None else fd.weights.tolist()},
    )
    if calibrate and not trend["p_value"] <= WEAK_TREND_P:
        from ._calibrate import calibration_prior

        # backtests of a law that barely beats a constant say nothing about its reach: the wide prior rule
        object.__setattr__(res, "calibration", calibration_prior(
            f"weak trend (p = {trend['p_value']:.2g}): no internal backtests"))
    elif calibrate:
        from ._calibrate import calibrate as _calibrate

        tc = time.perf_counter()
        if reference is None:
            cal = _calibrate(fd, law_obj, fit_kwargs={"loss": obj, "delta": delta, "method": method,
                                                      "space": space}, fits=cut_fits)
        else:  # intervals from the symmetric fit's calibration (see _calibrate.py, "Reference fit")
            ref_obj, ref_problem, ref_ms = reference
            ref_ms = polish(ref_problem, ref_ms, fd.weights)
            cal = _calibrate(fd, law_obj, fit_kwargs={"loss": ref_obj, "delta": delta, "method": method,
                                                      "space": space}, fits=ref_cut_fits)
            r_ref = ref_problem.residuals_theta(ref_ms.theta)
            noise_ref, shift_ref = _robust_scale(r_ref)
            cov_ref = _covariance(ref_problem, ref_problem.fitspace.to_fit(ref_ms.theta), noise_ref, fd.weights)
            cal["reference"] = {"loss": ref_obj.spec(), "theta": [float(v) for v in ref_ms.theta],
                                "noise": noise_ref, "residual_shift": shift_ref,
                                "covariance": None if cov_ref is None else np.asarray(cov_ref, float).tolist()}
        object.__setattr__(res, "calibration", cal)
        diagnostics["time_calibration_s"] = time.perf_counter() - tc
    draws = res.parameter_draws()
    if draws is not None:
        intervals = {name: interval_from_draws(draws[:, j], float(level))
                     for j, name in enumerate(law_obj.param_names)}
        object.__setattr__(res, "intervals", intervals)
        diagnostics["interval_source"] = "bootstrap" if boot is not None else "gauss-newton covariance"
    diagnostics["time_total_s"] = time.perf_counter() - t0
    return res
