"""The stages of a fit, each a small function with typed inputs and outputs.

``fit()`` (``_api.py``) reads top to bottom as these stages::

    check_options -> resolve_law -> prepare_data -> make_context -> solve -> judge_trend
        -> choose_objective (_choose.py) -> polish_solution -> diagnose -> bootstrap_draws
        -> calibrate_intervals (_calibrate.py) -> parameter_intervals -> build_result

`fit_point` is the same pipeline for one given objective without the two backtest stages (objective
choice and interval calibration): what every internal backtest refits on each cut. It lives here, below
``_choose.py`` and ``_calibrate.py``, so that they refit without importing ``fit()`` (no import circle).

Every value passed between stages is a frozen dataclass; the `FitResult` is constructed once, complete, by
`build_result`. Warnings a user should see (no trend, not converged, degenerate) are collected as text by
the stages and emitted once by ``fit()`` / `fit_point` (`emit_warnings`), never by a stage.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._errors import ConvergenceWarning, FitError, InputError, ScalingLabError
from ..laws import VARIABLE_COLUMNS, Law, as_theta
from ._bootstrap import bootstrap_refit
from ._degenerate import NO_TREND_P, WEAK_TREND_P, looks_flat, pinned_parameters, trend_test
from ._inputs import FitData, prepare_data, resolve_law
from ._multistart import MultiStartResult, multistart, polish
from ._objectives import Objective, get_objective
from ._predict import interval_from_draws, robust_scale, run_noise_of
from ._result import FitResult, parameter_draws, read_only
from ._solvers import Problem, gauss_newton_covariance, gauss_newton_information, unidentified_parameters

__all__ = ["FitOptions", "FitContext", "Solution", "ObjectiveChoice", "Diagnosis", "check_options",
           "make_context", "solve", "judge_trend", "polish_solution", "diagnose", "bootstrap_draws",
           "parameter_intervals", "build_result", "no_trend_result", "failed_result", "emit_warnings",
           "fit_point", "fit_quiet", "fit_warm", "robust_scale", "covariance", "solve_diagnostics", "MAX_BOOTSTRAP"]

#: most bootstrap resamples accepted (each holds a (runs x params) batch in memory)
MAX_BOOTSTRAP = 100_000
#: fewer resamples than this give no percentile interval worth the name (0 means none: covariance intervals)
MIN_BOOTSTRAP = 10
#: L-BFGS-B iterations of the final polish when the trend is weak or a parameter is at its bound
CERTIFY_ITERS_DEGENERATE = 100
#: L-BFGS-B iterations before judging the trend of a batched solve that did not converge
SHORT_POLISH_ITERS = 25


# ---------------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class FitOptions:
    """Checked options of one fit: Huber ``delta`` (log-residual units), solver ``method``, residual
    ``space`` (``"auto"`` until `make_context` resolves it), natural-space ``starts`` ``(S, P)`` or None,
    ``bootstrap`` resamples, ``seed``, interval ``level``, ``throw`` (raise instead of a failed result) and
    ``warn`` (emit `ConvergenceWarning`s; internal refits pass False and read ``status`` instead)."""

    delta: float = 1e-3
    method: str = "auto"
    space: str = "auto"
    starts: np.ndarray | None = None
    bootstrap: int = 0
    seed: int = 0
    level: float = 0.8
    throw: bool = True
    warn: bool = True


@dataclass(frozen=True)
class FitContext:
    """What every stage reads: the `Law`, the checked runs (`FitData`), the resolved residual ``space``,
    the options, the extra natural-space starts (preset constants, the law's ``guess``) and the start time
    (``time.perf_counter()`` seconds)."""

    law: Law
    data: FitData
    space: str
    options: FitOptions
    extra_starts: tuple = ()
    t0: float = 0.0


@dataclass(frozen=True)
class Solution:
    """One solve: the ``objective`` (`Objective`), the ``problem`` (`Problem`), the best multi-start
    point ``ms`` (`MultiStartResult`) and the robust trend test at it (None when no start was finite)."""

    objective: Objective
    problem: Problem
    ms: MultiStartResult
    trend: dict | None = None

    @property
    def finite(self) -> bool:
        """True when some start reached a finite objective."""
        return math.isfinite(self.ms.objective)


@dataclass(frozen=True)
class ObjectiveChoice:
    """Output of the choose-objective stage.

    ``solution``: the (unpolished) solve of the objective the point forecast uses; ``reference``: the
    symmetric solve the prediction interval is calibrated on when another objective was chosen (else
    None); ``report``: ``diagnostics["objective_choice"]`` (None when the caller named the loss);
    ``cut_fits`` / ``reference_cut_fits``: the per-cut `FitResult`s already made by the choice, reused by
    the interval calibration instead of refitting (None: calibrate refits).
    """

    solution: Solution
    reference: Solution | None = None
    report: dict | None = None
    cut_fits: list | None = None
    reference_cut_fits: list | None = None


@dataclass(frozen=True)
class Diagnosis:
    """Output of the diagnose stage: ``status``/``message`` of the result, robust residual ``noise``
    (1.4826 x MAD, residual units) and ``shift`` (median residual), fit-space Gauss-Newton ``covariance``
    ``(P, P)`` or None, ``residuals`` ``(n_runs,)``, extra ``diagnostics`` entries and the ``warnings``
    (texts) the user should see."""

    status: str
    message: str
    noise: float
    shift: float
    covariance: np.ndarray | None
    residuals: np.ndarray
    diagnostics: dict = field(default_factory=dict)
    warnings: tuple = ()


# ---------------------------------------------------------------------------------------------- stages
def check_options(*, delta: float = 1e-3, method: str = "auto", space: str = "auto", starts=None,
                  bootstrap: int = 0, seed: int = 0, level: float = 0.8, throw: bool = True,
                  warn: bool = True) -> FitOptions:
    """The checked `FitOptions` (see ``fit()`` for each option).

    Raises
    ------
    InputError
        If ``level`` is not in (0, 1), ``bootstrap`` is a bool, negative, between 1 and ``MIN_BOOTSTRAP``
        or above ``MAX_BOOTSTRAP``, ``seed`` is
        negative, or ``method`` / ``space`` is unknown.
    """
    if not 0 < float(level) < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    if isinstance(bootstrap, bool):
        raise InputError(f"bootstrap is a number of resamples (e.g. 200; 0 for none), got {bootstrap}")
    if int(bootstrap) < 0:
        raise InputError(f"bootstrap must be >= 0, got {bootstrap}")
    if 0 < int(bootstrap) < MIN_BOOTSTRAP:  # percentiles of 2 draws excluded the fit's own point
        raise InputError(f"bootstrap needs at least {MIN_BOOTSTRAP} resamples for a percentile interval (0 for "
                         f"none: intervals from the Gauss-Newton covariance), got {bootstrap}")
    if int(bootstrap) > MAX_BOOTSTRAP:
        raise InputError(f"bootstrap must be at most {MAX_BOOTSTRAP:,} resamples, got {bootstrap}")
    if int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    if method not in ("auto", "varpro", "grid"):
        raise InputError(f"method must be auto, varpro or grid, got {method!r}")
    if space not in ("auto", "log", "linear"):
        raise InputError(f"space must be auto, log or linear, got {space!r}")
    if starts is not None:
        starts = np.atleast_2d(np.asarray(starts, float))
    return FitOptions(delta=float(delta), method=method, space=space, starts=starts, bootstrap=int(bootstrap),
                      seed=int(seed), level=float(level), throw=bool(throw), warn=bool(warn))


def make_context(law: Law, preset_values: dict | None, fd: FitData, options: FitOptions,
                 t0: float | None = None) -> FitContext:
    """The `FitContext`: resolves ``space`` ("log" for loss laws, else "linear"), checks ``starts`` and
    gathers the extra starts (the preset's constants when they match the law, the law's ``guess``).

    Raises
    ------
    InputError
        If ``starts`` does not have one column per parameter of the law.
    """
    space = options.space
    if space == "auto":
        space = "log" if law.target == "loss" else "linear"
    if options.starts is not None and options.starts.shape[-1] != law.n_params:
        raise InputError(f"starts must have {law.n_params} columns ({', '.join(law.param_names)}), "
                         f"got shape {options.starts.shape}")
    extra = []
    if preset_values is not None:
        try:
            extra.append(as_theta(law, preset_values))
        except Exception:  # noqa: BLE001 - a preset that does not match is just not used as a start
            pass
    g = law.guess(fd.X, fd.y)
    if g is not None and np.all(np.isfinite(g)):
        extra.append(np.asarray(g, float))
    return FitContext(law=law, data=fd, space=space, options=options, extra_starts=tuple(extra),
                      t0=time.perf_counter() if t0 is None else t0)


def _trend(problem: Problem, ms: MultiStartResult, ctx: FitContext) -> dict:
    return trend_test(problem.residuals_theta(ms.theta), problem.y_work, ctx.law.n_params, ctx.data.weights)


def solve(ctx: FitContext, objective: Objective) -> Solution:
    """Multi-start minimisation of ``objective`` (no final certification: `polish_solution` does it) and the
    trend test at the best point."""
    fd = ctx.data
    problem = Problem(ctx.law, fd.X, fd.y, objective, ctx.space)
    ms = multistart(problem, fd.weights, starts=ctx.options.starts, method=ctx.options.method,
                    extra_starts=list(ctx.extra_starts), certify_best=False)
    trend = _trend(problem, ms, ctx) if math.isfinite(ms.objective) else None
    return Solution(objective, problem, ms, trend)


def judge_trend(ctx: FitContext, sol: Solution) -> Solution:
    """Judge an unfinished batched solve whose trend looks absent after a short polish (so that degenerate
    data end here, before the full polish chases an exponent to its bound; see ``_degenerate.py``)."""
    if sol.trend is None or not (sol.trend["p_value"] > NO_TREND_P and not sol.ms.converged):
        return sol
    ms = polish(sol.problem, sol.ms, ctx.data.weights, maxiter=SHORT_POLISH_ITERS)
    return Solution(sol.objective, sol.problem, ms, _trend(sol.problem, ms, ctx))


def polish_solution(ctx: FitContext, sol: Solution) -> Solution:
    """Certify the best point by L-BFGS-B. A weak trend gets a short polish first (it would slide along a
    flat valley towards a bound) and the full one only if the trend then shows."""
    if not sol.finite:
        return sol
    W = ctx.data.weights
    weak = not sol.trend["p_value"] <= WEAK_TREND_P
    ms = polish(sol.problem, sol.ms, W, maxiter=CERTIFY_ITERS_DEGENERATE if weak else 2000)
    trend = sol.trend
    if weak:
        trend = _trend(sol.problem, ms, ctx)
        if trend["p_value"] <= WEAK_TREND_P:
            ms = polish(sol.problem, ms, W)
    return Solution(sol.objective, sol.problem, ms, trend)


def covariance(problem: Problem, u: np.ndarray, noise: float, W, H: np.ndarray | None = None) -> np.ndarray | None:
    """Gauss-Newton covariance of the fit-space parameters at ``u``, ``s^2 (J^T W J)^-1`` (see
    `scalinglab.fit._solvers.gauss_newton_covariance`; ``H``: ``J^T W J`` when already computed) at the scale
    ``s`` of the problem's objective (`parameter_scale`; ``noise``: the fit's robust residual scale)."""
    return gauss_newton_covariance(problem, u, parameter_scale(problem, u, noise), W, H=H)


def run_noise(problem: Problem, u: np.ndarray, noise: float) -> float:
    """The run noise of a fit at ``u``: its residuals' robust scale without the runs the fit passes through
    (`robust_scale` with the law's parameter count), at least ``noise`` (the plain robust scale)."""
    return run_noise_of(problem.residuals(np.asarray(u, float))[: len(problem.y)], problem.law.n_params, noise)


def parameter_scale(problem: Problem, u: np.ndarray, noise: float) -> float:
    """The residual scale that the parameters' Gauss-Newton covariance takes: the run noise (`run_noise`)
    times the objective's sandwich factor (`Objective.noise_scale`: a Huber fit with a small threshold
    scatters like a median, sqrt(pi / 2) x a mean). With the plain MAD as ``noise^2 (J^T W J)^-1``, a 35-run
    Chinchilla ladder's 80 % parameter intervals held the true constants in 53-63 % of 30 fits."""
    return problem.objective.noise_scale(run_noise(problem, u, noise))


def _trend_words(law: Law, fd: FitData) -> str:
    kind = "power-law trend" if law.name in ("power", "kaplan-n", "kaplan-d", "kaplan-c") else \
        f"trend (law {law.name!r})"
    cols = [fd.variables[v] for v in law.variables]
    return f"no detectable {kind} in {fd.y_column} vs {', '.join(cols)}"


def solve_diagnostics(ms: MultiStartResult) -> dict:
    """The solver's part of ``FitResult.diagnostics``: method, iterations, gradient norm, convergence, start
    counts, per-start objectives and solve time (seconds)."""
    return {"method": ms.method, "iterations": ms.iterations, "grad_norm": ms.grad_norm,
            "converged": ms.converged, "n_starts": ms.n_starts, "n_polished": ms.n_polished,
            "n_in_best_basin": ms.n_in_best_basin, "start_objectives": ms.start_objectives,
            "time_s": ms.time_s}


def no_trend_result(ctx: FitContext, sol: Solution) -> tuple[FitResult, list[str]]:
    """The law does no better than a constant: a result with status ``"no_trend"`` and its warning text.

    Raises
    ------
    FitError
        With ``options.throw`` (the default), naming the flat level, its spread and the test's p-value.
    """
    law, fd, trend, ms = ctx.law, ctx.data, sol.trend, sol.ms
    log = ctx.space == "log"
    c = trend["constant"]
    flat = math.exp(c) if log else c
    sd = trend.get("scale_constant", trend["scale"])  # the runs' robust spread around the constant
    spread = sd * 100 if log else sd
    unit = "%" if log else ""
    test = trend.get("test", "robust F-test")
    dof = int(trend["dof"][1])
    facts = (f"{fd.y_column} ≈ {flat:.4g}, runs spread ± {spread:.2g}{unit} around it, {fd.n} runs; against a "
             f"constant the law's improvement has p = {trend['p_value']:.2g}, {test}")
    if dof <= 2:  # the test has next to no power: say that first, not that the law is no better than a constant
        msg = (f"{_trend_words(law, fd)}: {fd.n} runs for {law.n_params} parameters leave {dof} "
               f"degree{'s' if dof != 1 else ''} of freedom, too few to tell a trend from noise ({facts}): add runs "
               "or fit a law with fewer parameters")
    else:
        msg = (f"{_trend_words(law, fd)}: the law does no better than a constant ({facts}); widen the range of the "
               f"variables, add runs, or check that {fd.y_column!r} is the right column")
    wrong_way = [p.name for p, v in zip(law.params, ms.theta, strict=True)
                 if p.lower == 0 and p.upper == 5 and not p.log and v <= 1e-6] if _user_formula(law) else []
    if wrong_way:  # E + A*N**alpha: a formula's exponents are kept in [0, 5], so a falling loss cannot be fitted
        msg += (f" ({', '.join(wrong_way)} stopped at 0: a formula's exponents are kept in [0, 5], so a loss that "
                "falls as a variable grows is written A*N**-alpha or A/N**alpha; bounds= sets other ranges)")
    if ctx.options.throw:
        raise FitError(msg)
    theta = ms.theta
    res = FitResult(law=law, params=dict(zip(law.param_names, map(float, theta), strict=True)),
                    theta=theta, objective=float(ms.objective), residuals=sol.problem.residuals_theta(theta),
                    n_points=fd.n, data_ranges={v: (float(np.min(a)), float(np.max(a))) for v, a in fd.X.items()},
                    variables=dict(fd.variables), loss=sol.objective.spec(), space=ctx.space, status="no_trend",
                    message=msg, diagnostics={"trend_test": trend, "method": ms.method},
                    level=ctx.options.level, conventions=dict(fd.conventions))
    return res, [msg]


def failed_result(ctx: FitContext, sol: Solution, diagnostics: dict) -> tuple[FitResult, list[str]]:
    """No start reached a finite objective: a result with status ``"failed"`` and its warning text.

    Raises
    ------
    FitError
        With ``options.throw`` (the default).
    """
    law, fd = ctx.law, ctx.data
    msg = (f"no start reached a finite objective for law {law.name!r} on {fd.n} runs; check the data "
           "ranges and the law's bounds")
    if ctx.options.throw:
        raise FitError(msg)
    res = FitResult(law=law, params={k: math.nan for k in law.param_names}, theta=sol.ms.theta,
                    objective=math.inf, residuals=np.full(fd.n, np.nan), n_points=fd.n, data_ranges={},
                    variables=fd.variables, loss=sol.objective.spec(), space=ctx.space, status="failed",
                    message=msg, diagnostics=diagnostics, level=ctx.options.level, conventions=fd.conventions)
    return res, [msg]


def _user_formula(law: Law) -> bool:
    """Whether ``law`` was written by the user as a formula (not a catalog law, whose constants are never
    redundant)."""
    from ..laws._parse import ExpressionLaw

    return isinstance(law, ExpressionLaw)


def _degeneracy(law: Law, fd: FitData, theta, trend, pinned, exploding, status, message, unidentified=()):
    """Status, message and warning texts for weak trends, unidentified parameters and fits without
    residual freedom (see _degenerate.py)."""
    p = trend["p_value"]
    notes = []
    weak = fd.n <= law.n_params or p > WEAK_TREND_P
    if fd.n <= law.n_params:
        notes.append(f"{fd.n} runs for {law.n_params} parameters: the law interpolates them exactly, so nothing "
                     "checks the fit and its intervals measure no noise; add runs")
        if status == "success":
            status = "degenerate"
    elif p > NO_TREND_P:
        notes.append(f"the law fits no better than a constant (p = {p:.2g}, robust F-test; robust residual scale "
                     f"{trend['scale']:.3g} vs {trend['scale_constant']:.3g} for a constant): the data have "
                     "structure this law misses; try another law")
        if status == "success":
            status = "poor_fit"
    elif p > WEAK_TREND_P:
        notes.append(f"weak trend (against a constant the law's improvement has p = {p:.2g}, robust F-test)")
    unidentified = [n for n in unidentified if n not in pinned and n not in exploding]
    if pinned or exploding or unidentified:
        what = ", ".join([f"{n} at its bound" for n in pinned]
                         + [f"{n} = {theta[law.param_names.index(n)]:.3g}" for n in exploding]
                         + ([f"{', '.join(unidentified)}: changing them changes no fitted value (a term that "
                             "has vanished from every run)"] if unidentified else []))
        notes.append(f"parameters not determined by the data ({what})")
        if weak and status == "success":
            status = "degenerate"
    if not notes:
        return status, message, []
    message = f"{message}; " + "; ".join(notes)
    warns = []
    if weak:  # a strong trend with an exponent at its bound is a finding, not a failure: no warning
        message += "; treat the fitted constants as unreliable"
        warns.append(f"fit of {law.name!r}: " + "; ".join(notes))
    elif unidentified and _user_formula(law):  # a user formula's constants the runs cannot tell apart (A*K, a
        # misspelt variable): redundant, said even with a clear trend; in a catalog law it is a term that has
        # vanished from every run (E of a ladder far above its floor), a finding the message records
        typos = [n for n in unidentified if len(n) == 1 and n.isupper() and n not in law.variables
                 and n not in "EAB"]  # E, A, B: the constants of the usual forms, not variables
        hint = (f" ({', '.join(typos)}: a name that is not a variable ({', '.join(VARIABLE_COLUMNS)}) is a constant "
                "to fit; a misspelt variable?)" if typos else "")
        warns.append(f"fit of {law.name!r}: {', '.join(unidentified)} not determined by the data: changing them "
                     f"changes no fitted value{hint}")
        if status == "success":  # a script that checks status must not take a redundant constant for a fit
            status = "degenerate"
    return status, message, warns


def diagnose(ctx: FitContext, sol: Solution) -> Diagnosis:
    """Status and message of a finite solve (converged, parameters at bounds, weak trend, unidentified
    parameters), the robust residual scale and the Gauss-Newton covariance."""
    law, fd, ms = ctx.law, ctx.data, sol.ms
    theta = ms.theta
    r = sol.problem.residuals_theta(theta)
    noise, shift = robust_scale(r)
    warns = []
    status, message = "success", f"converged ({ms.method}, {ms.n_in_best_basin} start(s) in the best basin)"
    if not ms.converged and ms.grad_norm > 1e-6 * (1 + ms.objective):
        status = "not_converged"
        message = (f"stopped after {ms.iterations} iterations with gradient norm {ms.grad_norm:.3g}; the "
                   "parameters may not be optimal")
        warns.append(f"fit of {law.name!r}: {message}")
    on_bound = []
    for j, p in enumerate(law.params):
        v = theta[j]
        for b in (p.lower, p.upper):
            if math.isfinite(b) and abs(v - b) <= 1e-6 * max(1.0, abs(b)) and not (p.log and b == 0):
                on_bound.append(p.name)
    if on_bound:
        message += f"; parameter(s) at a bound: {', '.join(on_bound)}"
    pinned, exploding = pinned_parameters(law, sol.problem.fitspace, theta)
    u = sol.problem.fitspace.to_fit(theta)
    H = gauss_newton_information(sol.problem, u, fd.weights)  # once, for both below
    unidentified = [law.param_names[j] for j in unidentified_parameters(H)]
    status, message, more = _degeneracy(law, fd, theta, sol.trend, pinned, exploding, status, message,
                                        unidentified)
    cov = covariance(sol.problem, u, noise, fd.weights, H=H)
    return Diagnosis(status=status, message=message, noise=noise, shift=shift, covariance=cov, residuals=r,
                     diagnostics={"trend_test": sol.trend, "pinned": pinned, "exploding": exploding,
                                  "unidentified": unidentified},
                     warnings=tuple(warns + more))


def bootstrap_draws(ctx: FitContext, sol: Solution) -> tuple[np.ndarray | None, dict]:
    """``(draws (B, P) natural space or None, diagnostics)`` of ``options.bootstrap`` warm-started refits
    (none when it is 0)."""
    B = ctx.options.bootstrap
    if not B:
        return None, {}
    tb = time.perf_counter()
    boot, _, bdiag = bootstrap_refit(sol.problem, sol.problem.fitspace.to_fit(sol.ms.theta), B,
                                     seed=ctx.options.seed, weights=ctx.data.weights)
    return boot, {"bootstrap": bdiag, "time_bootstrap_s": time.perf_counter() - tb}


def parameter_intervals(law: Law, theta, boot, cov, level: float) -> tuple[dict, str | None]:
    """Percentile intervals at ``level`` of each parameter over the bootstrap draws, else over draws from
    the Gauss-Newton covariance; ``({}, None)`` when neither is known. Also returns the source's name."""
    draws = parameter_draws(law, theta, bootstrap=boot, covariance=cov)
    if draws is None:
        return {}, None
    ints = {name: interval_from_draws(draws[:, j], float(level)) for j, name in enumerate(law.param_names)}
    return ints, "bootstrap" if boot is not None else "gauss-newton covariance"


def build_result(ctx: FitContext, sol: Solution, diag: Diagnosis, *, diagnostics: dict, boot,
                 calibration: dict | None) -> FitResult:
    """The complete `FitResult`, constructed once (``calibration`` None keeps the result's default rule)."""
    law, fd, theta = ctx.law, ctx.data, sol.ms.theta
    intervals, source = parameter_intervals(law, theta, boot, diag.covariance, ctx.options.level)
    if source is not None:
        diagnostics["interval_source"] = source
    if calibration and calibration.get("alternates"):
        # the parameter values the runs cannot rule out (_profile.py): the intervals span them
        from ._profile import widen_intervals

        wide = widen_intervals(law, intervals, calibration["alternates"], ctx.options.level)
        if wide != intervals:
            intervals = wide
            diagnostics["interval_source"] = f"{source} and profile refits"
        for name in diagnostics.get("unidentified") or ():
            # an end at the estimate (the covariance gives an unconstrained direction no width, and no refit
            # reached past it): the runs rule out nothing beyond it
            j = law.param_names.index(name)
            p, v = law.params[j], float(theta[j])
            lo, hi = intervals[name]
            tol = 1e-3 * max(abs(v), 1e-12)
            intervals[name] = (p.lower if v - lo <= tol else lo, p.upper if hi - v <= tol else hi)
    else:  # no profile refits: a parameter the runs do not constrain at all spans its whole range
        for name in diagnostics.get("unidentified") or ():
            p = law.params[law.param_names.index(name)]
            intervals[name] = (p.lower, p.upper)
    cov = diag.covariance
    if fd.n <= law.n_params:  # the law passes through every run: no residual measures the noise, so neither the
        # covariance nor a resample bounds the constants (a 5-run Chinchilla fit gave a = 0.098 [0.095, 0.103])
        intervals, cov, boot = {p.name: (p.lower, p.upper) for p in law.params}, None, None
        diagnostics["interval_source"] = f"none: {fd.n} runs for {law.n_params} parameters"
    diagnostics["time_total_s"] = time.perf_counter() - ctx.t0
    extra = {} if calibration is None else {"calibration": calibration}
    return FitResult(
        law=law, params=dict(zip(law.param_names, map(float, theta), strict=True)), theta=read_only(theta),
        objective=float(sol.ms.objective), residuals=read_only(diag.residuals), n_points=fd.n,
        data_ranges={v: (float(np.min(a)), float(np.max(a))) for v, a in fd.X.items()},
        variables=dict(fd.variables), loss=sol.objective.spec(), space=ctx.space, status=diag.status,
        message=diag.message, diagnostics=diagnostics, bootstrap=read_only(boot), intervals=intervals,
        level=ctx.options.level, noise=diag.noise, residual_shift=diag.shift, covariance=read_only(cov),
        conventions={**fd.conventions, "data_hash": fd.data_hash(), "y_column": fd.y_column},
        data={"X": {k: v.tolist() for k, v in fd.X.items()}, "y": fd.y.tolist(),
              "weights": None if fd.weights is None else fd.weights.tolist()},
        **extra,
    )


def emit_warnings(texts, options: FitOptions, stacklevel: int = 3) -> None:
    """Emit each text as a `ConvergenceWarning` (pointing at the caller of ``fit()``) unless
    ``options.warn`` is False."""
    if options.warn:
        for t in texts:
            warnings.warn(t, ConvergenceWarning, stacklevel=stacklevel)


# ---------------------------------------------------------------------------------------------- the point fit
def fit_point(data, law: Law | str, *, loss: str | Objective = "huber", x: str | None = None,
              y: str | None = "loss", weights=None, delta: float = 1e-3, method: str = "auto",
              space: str = "auto", starts=None, bootstrap: int = 0, seed: int = 0, level: float = 0.8,
              throw: bool = True, warn: bool = True) -> FitResult:
    """``fit(data, law, loss=loss, calibrate=False)`` for a named objective (not ``"auto"``): the pipeline
    without the objective-choice and interval-calibration stages, which refit with it on each backtest cut.

    Raises
    ------
    InputError
        As ``fit()`` (options, ``loss``, ``starts``), and its subclass `DataError` for unusable runs.
    LawError
        If ``law`` does not give a valid law.
    FitError
        As ``fit()``: runs that cannot determine the law, or with ``throw`` no trend / no finite objective.
    """
    opts = check_options(delta=delta, method=method, space=space, starts=starts, bootstrap=bootstrap,
                         seed=seed, level=level, throw=throw, warn=warn)
    law_obj, preset_values = resolve_law(law, x)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=weights)
    ctx = make_context(law_obj, preset_values, fd, opts)
    first = judge_trend(ctx, solve(ctx, get_objective(loss, delta=opts.delta)))
    if first.finite and looks_flat(first.trend):
        res, texts = no_trend_result(ctx, first)
        emit_warnings(texts, opts)
        return res
    point = polish_solution(ctx, first)
    diagnostics = solve_diagnostics(point.ms)
    if not point.finite:
        res, texts = failed_result(ctx, point, diagnostics)
        emit_warnings(texts, opts)
        return res
    diag = diagnose(ctx, point)
    diagnostics.update(diag.diagnostics)
    boot, bdiag = bootstrap_draws(ctx, point)
    diagnostics.update(bdiag)
    emit_warnings(diag.warnings, opts)
    return build_result(ctx, point, diag, diagnostics=diagnostics, boot=boot, calibration=None)


def fit_quiet(data, law, **kw) -> FitResult | None:
    """``fit_point(data, law, warn=False, **kw)``; None when it raises a `ScalingLabError` or reaches no finite
    objective (for the many refits of backtests and stacks, where one failed cut is skipped)."""
    try:
        res = fit_point(data, law, warn=False, **kw)
    except ScalingLabError:
        return None
    return res if math.isfinite(res.objective) else None


def fit_warm(data, law, *, starts=None, **kw) -> FitResult | None:
    """`fit_quiet` from ``starts`` (natural space, ``(S, P)``), then a cold multi-start when that fails or
    neither converges nor nearly does (``status == "not_converged"``); with ``starts=None`` the cold fit only.
    Returns the last fit made (check its ``ok``), None when that one failed too."""
    res = fit_quiet(data, law, starts=starts, **kw) if starts is not None else None
    if res is None or not (res.ok or res.status == "not_converged"):
        res = fit_quiet(data, law, **kw)
    return res
