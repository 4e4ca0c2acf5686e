"""Compute before render: `prepare` computes everything a report shows that is not already given — the
run table read from its source, an automatic fit, predictions at the requested points and at each plan's
(N_opt, D_opt), an automatic backtest and the data hash — and returns it as `ReportInputs`. The renderer
(``html.render_report``) only draws what it is given: it never fits, backtests or reads files, so it is
fast and testable without fitting.

>>> inputs = prepare("runs.csv", fit="fit.json", predictions=["N=70B,D=1.4T"])   # doctest: +SKIP
>>> html = render_report(inputs, title="My ladder")                                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError, ScalingLabError
from .._urls import mask_url
from ..units import parse_assignments
from ._inputs import FitView, as_fit, as_frame, as_plan_dict, load_any_runs

__all__ = ["ReportInputs", "prepare", "prediction_dict", "AUTO_BACKTEST_MAX_RUNS"]

#: ``backtest="auto"`` backtests tables up to this many runs (about 0.8 s at 500 runs on one core: the held-out
#: fit calibrates its own intervals, which refits several cuts); larger tables need ``backtest=True``.
AUTO_BACKTEST_MAX_RUNS = 500


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report draws, computed by `prepare`.

    ``runs``: the run table (RunTable or DataFrame) or None; ``source``: where it came from; ``fit``: the
    fit as a `FitView` or None; ``plans``: plan dicts (``Plan.to_dict()``); ``plan_predictions``: per plan,
    the fit's ``Prediction.to_dict()`` at its (N_opt, D_opt) or None; ``predictions``: ``Prediction.to_dict()``
    of each requested point; ``backtest`` / ``comparison``: results of ``scalinglab.fit.backtest`` /
    ``compare`` or None; ``curves``: step-level metrics or None; ``data_hash``: the run table's content hash
    (``scalinglab.fit._inputs.table_hash``, the string a fit of these runs records as
    ``conventions["data_hash"]`` in fit.json); ``notes`` / ``warnings``: what preparing did or could not do.
    """

    runs: Any = None
    source: str | None = None
    fit: FitView | None = None
    plans: tuple = ()
    plan_predictions: tuple = ()
    predictions: tuple = ()
    backtest: Any = None
    comparison: Any = None
    curves: Any = None
    data_hash: str | None = None
    notes: tuple = ()
    warnings: tuple = ()


def _point_text(variables: Any) -> str:
    from ..units import format_quantity
    from ._inputs import fmt_num

    if not isinstance(variables, dict):
        return str(variables)
    parts = []
    for k, v in variables.items():
        try:
            f = float(v)
            parts.append(f"{k}={format_quantity(f) if abs(f) >= 1e3 else fmt_num(f)}")
        except (TypeError, ValueError):
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def prediction_dict(pred: Any, fv: FitView | None = None, level: float | None = None) -> dict:
    """A prediction as ``Prediction.to_dict()``: a Prediction, its dict, or a point (``"N=70B,D=1.4T"`` or
    ``{"N": 7e10, "D": 1.4e12}``) predicted with the fit.

    Raises
    ------
    InputError
        If ``pred`` is not a Prediction, its dict or a point string, a point is malformed, or there is no fit
        to predict a point with.
    """
    if hasattr(pred, "to_dict") and hasattr(pred, "interval"):
        return dict(pred.to_dict())
    if isinstance(pred, dict) and "interval" in pred:
        return dict(pred)
    point = (parse_assignments(pred, what="prediction point") if isinstance(pred, str)
             else dict(pred) if isinstance(pred, dict) else None)
    if point is None:
        raise InputError(f"expected a Prediction, its dict or a point like 'N=70B,D=1.4T', got {type(pred).__name__}")
    if fv is None or not hasattr(fv.obj, "predict"):
        raise InputError(f"cannot predict at {_point_text(point)}: no fit")
    with np.errstate(all="ignore"):
        return dict(fv.obj.predict(level=level or fv.level, warn=False, **point).to_dict())


def _plan_prediction(d: dict, fv: FitView | None) -> dict | None:
    """``Prediction.to_dict()`` of the fit at the plan's (N_opt, D_opt), for its reach; None without one."""
    if fv is None or not fv.has_ND or not hasattr(fv.obj, "predict"):
        return None
    try:
        n, t = float(d["N_opt"]), float(d["D_opt"])
        lvl = d.get("level")
        return prediction_dict({"N": n, "D": t}, fv, level=float(lvl) if isinstance(lvl, float) else None)
    except (KeyError, TypeError, ValueError, ScalingLabError):
        return None


def _auto_backtest(table, fv: FitView, seed: int, notes: list, max_runs: int | None = AUTO_BACKTEST_MAX_RUNS,
                   law: Any = None):
    """``scalinglab.fit.backtest`` of the fit's law (or of ``law``: ``"auto"`` when the report fitted the
    forecast stack, which is then rerun on the smaller runs) on the runs (one cut: the largest 30% held out)."""
    df = as_frame(table)
    if df is None or getattr(fv.obj, "status", None) == "preset":
        return None
    if max_runs is not None and len(df) > max_runs:
        notes.append(f"backtest not computed automatically ({len(df)} runs > {max_runs}): pass backtest=True "
                     "(CLI: --backtest) or run `scalinglab backtest`")
        return None
    if getattr(fv.law, "target", "loss") != "loss" or "loss" not in df.columns:
        return None
    from ..fit import backtest

    x = fv.columns.get(fv.variables[0]) if len(fv.variables) == 1 else None
    try:  # the cut fit's convergence notes are in the backtest's numbers; no warnings from here
        bt = backtest(table, fv.law if law is None else law, cutoff_frac=0.3, x=x, bootstrap=0, seed=seed,
                      warn=False)
    except ScalingLabError as exc:
        notes.append(f"backtest not computed: {exc}")
        return None
    notes.append("backtest computed here: fit on the smaller 70% of runs by compute, predict the largest 30%")
    return bt


def prepare(runs: Any = None, *, fit: Any = None, plans: Sequence[Any] = (), predictions: Sequence[Any] = (),
            backtest: Any = "auto", comparison: Any = None, curves: Any = None, law: str | None = "auto",
            auto_fit: bool = True, bootstrap: int = 200, seed: int = 0) -> ReportInputs:
    """Compute what a report shows (module docstring); the arguments are those of ``write_report``.

    ``runs``: RunTable, DataFrame, file path or store URL. ``fit``: a FitResult, fit JSON path or preset
    name; when None and the runs have params/tokens/loss, ``law`` is fitted here with ``bootstrap``
    resamples (``"auto"``, the default: the forecast stack ``scalinglab fit`` uses, `fit_auto`, whose automatic
    backtest reruns the stack on the smaller runs; ``auto_fit=False`` to skip; a failed fit becomes a report
    warning). ``plans``: Plan objects, dicts or plan JSON paths. ``predictions``: Predictions, their dicts or points (``"N=70B,D=1.4T"``).
    ``backtest``: a backtest result, ``"auto"`` (the largest 30% held out when there are at most
    ``AUTO_BACKTEST_MAX_RUNS`` runs), True (always) or None/False (never).

    Raises
    ------
    InputError
        If a path does not exist or cannot be read, the fit or a plan cannot be loaded, or a prediction point
        is malformed (its subclasses `DataError` / `UnitError` for unreadable files and units).
    """
    notes: list[str] = []
    warns: list[str] = []
    table = load_any_runs(runs) if runs is not None else None
    df = as_frame(table)
    source = getattr(table, "source", None)
    source = source if isinstance(source, str) and source else (mask_url(runs) if isinstance(runs, str | Path) else None)

    from ..fit._inputs import is_auto_law

    fv = as_fit(fit) if fit is not None else None
    stack = is_auto_law(law)
    fitted_stack = False
    if fv is None and auto_fit and law and df is not None and {"params", "tokens", "loss"} <= set(df.columns):
        from ..fit import fit as do_fit
        from ..fit import fit_auto

        try:  # its status and message land in the report's warnings (html._fit_warnings)
            if stack:
                res, choice = fit_auto(table, bootstrap=bootstrap, seed=seed, warn=False)
                chosen = f"{choice['law']}" + (f" ({choice['objective']})" if choice.get("objective") else "")
                notes.append(f"fitted law 'auto' here, the forecast stack `scalinglab fit` uses by default: it chose "
                             f"{chosen} by internal backtests (bootstrap {bootstrap}, seed {seed}); pass a fit to "
                             "use your own")
            else:
                res = do_fit(table, law, bootstrap=bootstrap, seed=seed, warn=False)
                notes.append(f"fitted law {law!r} here (bootstrap {bootstrap}, seed {seed}); pass a fit to use "
                             "your own")
            fv = as_fit(res)
            fitted_stack = stack
        except ScalingLabError as exc:
            warns.append(f"automatic fit of {law!r} failed: {exc}")

    plan_dicts = tuple(as_plan_dict(p) for p in plans or ())
    pred_dicts = tuple(prediction_dict(p, fv) for p in predictions or ())  # a bad point is the user's error

    if backtest is False:
        backtest = None
    elif backtest is True or (isinstance(backtest, str) and backtest == "auto"):
        auto = isinstance(backtest, str)
        backtest = None
        if fv is not None and df is not None:
            backtest = _auto_backtest(table, fv, seed, notes, AUTO_BACKTEST_MAX_RUNS if auto else None,
                                      law="auto" if fitted_stack else None)

    if df is not None:  # what fit says about the table (pooled datasets, checkpoints, unfinished runs ...)
        from ..fit._inputs import table_notes

        warns += [text for text, _ in table_notes(df, source, laws=(getattr(fv, "law", None) if fv else law,))]
    digest = None
    if table is not None:
        from ..fit._inputs import table_hash

        try:
            digest = table_hash(table)
        except ScalingLabError as exc:
            notes.append(f"data hash not computed: {exc}")
    return ReportInputs(runs=table, source=source, fit=fv, plans=plan_dicts,
                        plan_predictions=tuple(_plan_prediction(d, fv) for d in plan_dicts),
                        predictions=pred_dicts, backtest=backtest, comparison=comparison, curves=curves,
                        data_hash=digest, notes=tuple(notes), warnings=tuple(warns))
