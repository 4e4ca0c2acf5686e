"""``fit --law auto`` (``scalinglab fit``'s default): choose the law by backtests on the user's runs (the
forecast stack of ``_lawstack`` for parameter + token tables, else ``compare``'s ranking), report the
runner-up and how much the choice moves the forecast."""

from __future__ import annotations

import numpy as np

from .._errors import FitError

__all__ = ["AUTO_LAWS", "fit_auto"]

#: laws ranked by ``compare`` when ``fit_auto`` is not given ``laws`` and cannot use the forecast stack: a
#: table with params and tokens read through ``x``, or a compute-only table
AUTO_LAWS = {"ND": ("chinchilla", "chinchilla-joint", "kaplan-nd"), "C": ("kaplan-c", "power")}


def fit_auto(data, *, laws=None, target: dict | None = None, **fit_kwargs):
    """Choose the law by backtests on these runs, fit it on all runs and return ``(FitResult, choice)``.

    Tables with parameters and tokens and no ``laws`` given: the forecast stack of
    ``scalinglab.fit._lawstack`` (Chinchilla with Huber or the asymmetric objective, and
    ``chinchilla-joint``, chosen by internal backtests; ``choice["method"] == "lawstack/v1"``). Otherwise
    the candidate ``laws`` (default ``AUTO_LAWS``) are ranked by pooled backtest error (``compare``: lowest
    median, then max relative error). ``choice`` has ``law``, ``runner_up``, the ``ranking`` and
    ``forecast_change``: both laws' predictions at ``target`` (default: the largest run's point scaled 10x
    in compute along its tokens-per-parameter ratio) and their relative difference.

    Raises
    ------
    FitError
        If none of the candidate laws can be fitted and backtested.
    """
    from ._api import fit
    from ._backtest import compare
    from ._inputs import load_table

    df = load_table(data).df
    cols = set(map(str, df.columns))
    nd = {"params", "tokens"} <= cols or {"params", "flops"} <= cols
    if laws is None and nd and fit_kwargs.get("x") is None:
        from ._lawstack import stack_laws

        best, choice = stack_laws(data, stacklevel=7, **fit_kwargs)  # warnings at our caller
        second = choice.pop("_runner_up_fit")
    else:
        if laws is None:
            laws = AUTO_LAWS["ND"] if nd else AUTO_LAWS["C"]
            if not nd and fit_kwargs.get("x") is None and "flops" in cols:  # the power law in compute
                fit_kwargs = {**fit_kwargs, "x": "flops"}
        kw = {k: v for k, v in fit_kwargs.items() if k not in ("bootstrap", "seed", "level")}
        if str(kw.get("loss", "auto")).lower() == "auto":  # rank laws with huber; the final fit chooses its own
            kw["loss"] = "huber"
        ranked = compare(data, list(laws), **{**kw, "warn": False})  # a law's trouble is in its row
        ok = [r for r in ranked if r.get("error") is None]
        if not ok:
            raise FitError("--law auto: no candidate law could be fitted: "
                           + "; ".join(f"{r['law']}: {r['error']}" for r in ranked))
        best = fit(data, ok[0]["law"], **fit_kwargs)
        choice = {"law": ok[0]["law"], "runner_up": ok[1]["law"] if len(ok) > 1 else None,
                  "ranking": [{k: r.get(k) for k in ("rank", "law", "median_rel_error", "max_rel_error",
                                                     "coverage", "error")} for r in ranked]}
        second = None
        if len(ok) > 1:
            second = fit(data, ok[1]["law"], **{**fit_kwargs, "bootstrap": 0, "calibrate": False})  # point only
    if second is not None:
        X = best._fitted_X()
        if target is None:
            C = np.prod([X[v] for v in best.law.variables], axis=0)
            i = int(np.argmax(C))
            if len(best.law.variables) == 2:
                target = {v: float(X[v][i]) * 10.0 ** 0.5 for v in best.law.variables}
            else:
                target = {v: float(X[v][i]) * 10.0 for v in best.law.variables}
        names = (best.law.name, second.law.name)
        if names[0] == names[1]:  # same law, two objectives
            names = (f"{names[0]} ({best.loss.get('name')})", f"{names[1]} ({second.loss.get('name')})")
        try:
            p1 = best.predict(warn=False, **target).value
            p2 = second.predict(warn=False, **{v: target[v] for v in second.law.variables if v in target}).value
            choice["forecast_change"] = {"at": target, names[0]: float(p1), names[1]: float(p2),
                                         "rel_difference": float((p2 - p1) / p1)}
        except Exception as exc:  # noqa: BLE001 - variables of the two laws may differ
            choice["forecast_change"] = {"at": target, "error": str(exc)}
    return best, choice
