"""``fit()``: runs + law -> `FitResult`, as a pipeline of named stages (``_stages.py``)."""

from __future__ import annotations

import logging
import time
import warnings

from .._errors import DataWarning, LawError
from ..laws import Law, get_law, law_from_spec
from ._accuracy import ACCURACY_BOOTSTRAP, ACCURACY_LAWS, accuracy_scale, fit_accuracy
from ._calibrate import calibrate_intervals
from ._degenerate import looks_flat
from ._ensemble import choose_stacked
from ._inputs import prepare_data, resolve_law, warn_table
from ._objectives import Objective, get_objective
from ._result import FitResult, outlier_warning
from ._stages import (
    MAX_BOOTSTRAP,
    ObjectiveChoice,
    bootstrap_draws,
    build_result,
    check_options,
    diagnose,
    emit_warnings,
    failed_result,
    judge_trend,
    make_context,
    no_trend_result,
    polish_solution,
    solve,
    solve_diagnostics,
)

__all__ = ["fit", "DEFAULT_LOSS", "MAX_BOOTSTRAP"]

log = logging.getLogger(__name__)

#: default objective, chosen by backtests (see tests/test_fit_backtest.py and bench/fit_speed.py)
DEFAULT_LOSS = "auto"


def fit(data, law: Law | str, *, x: str | None = None, y: str | None = "loss", loss: str | Objective = DEFAULT_LOSS,
        delta: float = 1e-3, weights=None, starts=None, bootstrap: int | None = None, seed: int = 0, level: float = 0.8,
        method: str = "auto", space: str = "auto", throw: bool = True, calibrate: bool = True,
        warn: bool = True, **law_options) -> FitResult:
    """Fit ``law`` to runs by robust multi-start minimisation.

    ``data``: RunTable, DataFrame, path or mapping of arrays; law variables map to columns via
    ``VARIABLE_COLUMNS`` (N -> params, D -> tokens, C -> flops) or to ``x`` for one-variable laws.
    ``law``: a `Law`, catalog name, preset name (its constants join the starts) or expression.
    ``loss``: ``"huber"`` (``delta`` on log residuals, summed), ``"ls"``, ``"asymmetric"`` (lower envelope:
    the law passing above a run costs 10x), ``"auto"`` (huber or asymmetric, whichever predicts the
    largest runs better in internal backtests; the choice and both scores are in
    ``diagnostics["objective_choice"]``, see ``scalinglab.fit._ensemble``) or an `Objective`. ``weights``: per-run relative weights (array or column; scaled to mean 1, so only their ratios matter; a run of weight 0 is left out).
    ``starts``: natural-space start grid ``(S, P)`` (default: variable projection over the exponents where
    the law is linear in its coefficients, else ``law.start_grid()``). ``bootstrap``: number of resamples
    (0 = none; None, the default: none for loss laws, ``ACCURACY_BOOTSTRAP`` (100) for an accuracy sigmoid,
    whose Gauss-Newton covariance misstates its spread): it sets the parameter intervals; a prediction's band,
    calibrated on internal backtests, does not read it (only the prior rule's band, without backtests, draws on
    it); ``level``: interval level. ``space``: residual space, "log" for loss laws, "linear" for
    value laws (auto). ``throw``: raise `FitError` when no finite fit is found (else return a failed result).
    ``calibrate``: learn the prediction-interval widening from internal backtests on these runs (fit on the
    smaller runs, predict the larger; see ``scalinglab.fit._calibrate``), stored in ``result.calibration``;
    False uses the cross-dataset prior rule (faster: no refits). ``warn``: emit a `ConvergenceWarning` when
    the fit is not clean (False: the same text is only in ``status`` and ``message``, for callers that fit
    many subsets). ``law_options``: options of a catalog law given by name, e.g. ``fit(data, "sigmoid",
    x="flops", y="MMLU", floor=0.25)``, the same as passing ``get_law("sigmoid", floor=0.25)``. Inputs are
    never modified.

    The stages, in order (each in ``scalinglab.fit._stages`` unless named): check the options, resolve the
    law, prepare the runs, solve (multi-start), judge the trend (a flat law ends here), choose the objective
    (``_ensemble.choose_stacked``), polish, diagnose, bootstrap, calibrate the prediction interval
    (``_calibrate.calibrate_intervals``) and build the result once.

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
        If ``law`` is a name or expression that does not give a valid law, or ``law_options`` are given
        with a law that is not a catalog name or are not options of that law (a misspelt keyword of
        ``fit`` lands here too, and is named).
    FitError
        If the runs cannot determine the law's parameters (fewer runs than parameters, a variable with a
        single value, a constant target) or, with ``throw=True``, if the law shows no detectable trend or
        no start reaches a finite objective.
    """
    if law_options:
        if not isinstance(law, str):
            raise LawError(f"option(s) {sorted(law_options)} go to a catalog law given by name, e.g. "
                           f"fit(data, 'sigmoid', floor=0.25); {type(law).__name__} takes none (or they are "
                           "misspelt keywords of fit)")
        try:
            law = get_law(law, **law_options)
        except LawError as exc:
            import difflib
            import inspect

            own = [k for k in inspect.signature(fit).parameters if k not in ("data", "law", "law_options")]
            near = {k: difflib.get_close_matches(k, own, n=1, cutoff=0.75) for k in law_options}
            guess = "; ".join(f"fit has no keyword {k!r}: did you mean {m[0]!r}?" for k, m in near.items() if m)
            raise LawError((f"{guess} ({exc})" if guess else str(exc))
                           + " (keywords fit does not take go to the law: check their spelling)") from None
    return fit_reusing(data, law, x=x, y=y, loss=loss, delta=delta, weights=weights, starts=starts,
                       bootstrap=bootstrap, seed=seed, level=level, method=method, space=space, throw=throw,
                       calibrate=calibrate, warn=warn, cut_fits=None, stacklevel=4)


def fit_reusing(data, law: Law | str, *, x, y, loss, delta, weights, starts, bootstrap, seed, level, method, space,
                throw, calibrate, warn, cut_fits: list | None, stacklevel: int = 3) -> FitResult:
    """`fit` (every argument required) with ``cut_fits``: the per-cut fits of the same law and named objective
    already made on the interval calibration's cuts (``_calibrate.law_cuts``; None where a cut's fit failed), which
    the calibration then reuses instead of refitting (the forecast stack's chosen member, ``_lawstack.py``);
    None refits, as `fit` does. Warnings point ``stacklevel`` frames up (3: at this function's caller)."""
    t0 = time.perf_counter()
    routed = bootstrap is None  # the route's own default: none for a loss law, resamples for an accuracy sigmoid
    bootstrap = 0 if routed else bootstrap
    opts = check_options(delta=delta, method=method, space=space, starts=starts, bootstrap=bootstrap, seed=seed,
                         level=level, throw=throw, warn=warn)
    law_obj, preset_values = resolve_law(law, x)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=weights)
    if opts.warn:  # internal refits (warn=False) would only compute what no one is told
        warn_table(fd.frame, fd.source, stacklevel=stacklevel, laws=(law_obj,), y=fd.y_column)
        if fd.n_copies:
            warnings.warn(f"{fd.source or 'the run table'}: {fd.n_copies} row(s) identical in every fitted value to "
                          "another (copies of one run, not independent seeds: was the seed applied?) are counted "
                          "once", DataWarning, stacklevel=stacklevel)
    auto = isinstance(loss, str) and loss.strip().lower() == "auto"
    if auto and law_obj.name in ACCURACY_LAWS and space == "auto" and starts is None and weights is None:
        # benchmark accuracy vs compute: bounded least squares with a weak slope/ceiling prior (_accuracy.py);
        # the one route of `fit(..., "sigmoid")`, `scalinglab fit --law sigmoid` and downstream's sigmoids
        var = law_obj.variables[0]
        top = accuracy_scale(fd.y)
        if law_obj.name == "sigmoid-bounded" and getattr(law_obj, "ceiling", None) is None and top is not None:
            # bounded: the ceiling is the top of the accuracy scale (1, or 100 for percentages), as downstream's
            law_obj = law_from_spec({**law_obj.spec(), "ceiling": top[1]})
        # no number asked for: the downstream route's bootstrap (its band's draws; a covariance misstates them)
        return fit_accuracy(law_obj, fd.X[var], fd.y, column=fd.variables[var],
                            bootstrap=ACCURACY_BOOTSTRAP if routed else int(bootstrap), seed=seed,
                            level=level, calibrate=calibrate, source=fd.source,
                            conventions={**fd.conventions, "data_hash": fd.data_hash(), "y_column": fd.y_column})
    objective = get_objective("huber" if auto else loss, delta=delta)  # auto: judged by backtest after the trend
    ctx = make_context(law_obj, preset_values, fd, opts, t0)

    first = judge_trend(ctx, solve(ctx, objective))
    if first.finite and looks_flat(first.trend):  # NaN (no degrees of freedom left) passes
        res, texts = no_trend_result(ctx, first)
        emit_warnings(texts, opts, stacklevel)
        return res
    choice = (choose_stacked(ctx, first) if auto and first.finite else
              ObjectiveChoice(solution=first, cut_fits=cut_fits))
    point = polish_solution(ctx, choice.solution)
    diagnostics = solve_diagnostics(point.ms)
    if choice.report is not None:
        diagnostics["objective_choice"] = choice.report
    if not point.finite:
        res, texts = failed_result(ctx, point, diagnostics)
        emit_warnings(texts, opts, stacklevel)
        return res
    diag = diagnose(ctx, point)
    diagnostics.update(diag.diagnostics)
    boot, boot_diagnostics = bootstrap_draws(ctx, point)
    diagnostics.update(boot_diagnostics)
    calibration = None
    if calibrate:
        calibration, seconds = calibrate_intervals(ctx, point, choice)
        if seconds:
            diagnostics["time_calibration_s"] = seconds
    emit_warnings(diag.warnings, opts, stacklevel)
    res = build_result(ctx, point, diag, diagnostics=diagnostics, boot=boot, calibration=calibration)
    if opts.warn:  # a run far off the law: said where the fit was asked for (that the law misses the data as a
        # whole is in quality_warnings, which the CLI and the report show: a pooled table is warned about already)
        text = outlier_warning(res.residuals, res.data, res.space) if res.law.target == "loss" else None
        if text:
            warnings.warn(text, DataWarning, stacklevel=stacklevel)
    # a user's fit at INFO (long ones, with calibration, take seconds); internal refits (warn=False) at DEBUG
    log.log(logging.INFO if opts.warn else logging.DEBUG,
            "fit of %r on %d runs: %s, loss %s, %d start(s) in the best basin, %.2f s (calibration %.2f s, %s)",
            law_obj.name, fd.n, res.status, res.loss.get("name"), point.ms.n_in_best_basin,
            diagnostics["time_total_s"], diagnostics.get("time_calibration_s", 0.0),
            (res.calibration or {}).get("source", "no calibration"))
    return res
