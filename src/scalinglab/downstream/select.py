"""Backtests of downstream predictors and the choice between them: fit on the smaller models, predict the
larger ones, keep the plain sigmoid in log-compute unless another predictor is clearly better."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import FitError, InputError, ScalingLabError
from ..fit._accuracy import accuracy_scale
from ._common import LEVELS, DownstreamPrediction, column, compute_of, load_frame, scale_arrays
from .sigmoid import SigmoidPredictor
from .two_step import TwoStepPredictor

__all__ = ["backtest_downstream", "DownstreamSelection", "select_downstream", "ROUTE_SLOPE_PRIOR_SD"]

#: sd of ln k of the one-sided slope prior used by the selection route's sigmoids (a weaker prior than the
#: single sigmoid fit's ``SLOPE_PRIOR_SD`` = 0.5). Chosen by ``bench/extrapolation_downstream.py --lodo``
#: among 0.5, 1, 2 and none, leave-one-table-out: 1.0 on every fold (held-out share of cells within 5 % of the
#: plain sigmoid 0.98 with it, 0.92 with 0.5).
ROUTE_SLOPE_PRIOR_SD = 1.0


def backtest_downstream(data, predictor, *, cutoff_frac: float = 0.3, x: str | None = None) -> dict:
    """Fit ``predictor`` (a `TwoStepPredictor` or `SigmoidPredictor`) on the smaller models and predict
    the largest ``cutoff_frac`` (by compute). Returns a dict: ``method``, ``n_train``, ``n_test``,
    ``cutoff`` (compute of the cut), ``mean_abs_error`` / ``max_abs_error`` / ``bias`` (accuracy units),
    ``coverage`` (fraction of held-out models inside the 50/80/95% intervals, keyed "0.5"/"0.8"/"0.95")
    and ``points`` (one dict per held-out model). Raises `InputError` for ``cutoff_frac`` outside (0, 1)
    and `FitError` with fewer than 4 models below the cut.

    Raises
    ------
    InputError
        For ``cutoff_frac`` outside (0, 1).
    FitError
        With fewer than 4 models below the cut.
    """
    df, source = load_frame(data)
    scale = x or (predictor.x if isinstance(predictor.x, str) else "flops")
    comp = compute_of(scale_arrays(df, [scale], source)) if isinstance(scale, str) else None
    acc = column(df, predictor.accuracy, source, "accuracy")
    ok = np.isfinite(comp) & np.isfinite(acc)
    idx = np.flatnonzero(ok)
    if not 0 < cutoff_frac < 1:
        raise InputError(f"cutoff_frac must be between 0 and 1, got {cutoff_frac}")
    k = max(1, math.ceil(cutoff_frac * len(idx)))
    thr = np.sort(comp[idx])[len(idx) - k]
    test = idx[comp[idx] >= thr]
    train = idx[comp[idx] < thr]
    if len(train) < 4:
        raise FitError(f"backtest: only {len(train)} model(s) below the cut at {thr:.3g}; need at least 4")
    res = predictor.fit(df.iloc[train])
    point = {scale: comp[test]}
    if isinstance(predictor, TwoStepPredictor) and predictor.step1 == "chinchilla":
        cols = res.scale_columns
        point = {c: column(df, c, source, "scale")[test] for c in cols}
    preds = {lv: res.predict(level=lv, **point) for lv in LEVELS}
    p0 = preds[0.8]
    val = np.atleast_1d(p0.value)
    err = val - acc[test]
    cov = {}
    for lv, p in preds.items():
        lo, hi = np.atleast_1d(p.interval[0]), np.atleast_1d(p.interval[1])
        cov[f"{lv:g}"] = float(np.mean((acc[test] >= lo) & (acc[test] <= hi)))
    return {"method": res.method, "n_train": int(len(train)), "n_test": int(len(test)), "cutoff": float(thr),
            "mean_abs_error": float(np.mean(np.abs(err))), "max_abs_error": float(np.max(np.abs(err))),
            "bias": float(np.mean(err)), "coverage": cov,
            "points": [{"row": int(i) + 1, "compute": float(comp[i]), "actual": float(acc[i]),
                        "predicted": float(v), "interval_0.8": [float(a), float(b)]}
                       for i, v, a, b in zip(test, val, np.atleast_1d(p0.interval[0]),
                                             np.atleast_1d(p0.interval[1]), strict=True)]}


@dataclass(frozen=True)
class DownstreamSelection:
    """The chosen predictor (fitted on all rows), the backtest score of every candidate, and why."""

    result: object
    method: str
    scores: dict
    reason: str

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Predict with the chosen predictor, e.g. ``predict(flops=1e24)`` (accuracy units of the table,
        interval at ``level``); raises `InputError` for a wrong variable or level."""
        return self.result.predict(level=level, **variables)

    def to_dict(self) -> dict:
        """JSON-able: chosen method, reason, every candidate's backtest score and the chosen fit."""
        return {"method": self.method, "reason": self.reason, "scores": self.scores,
                "fit": self.result.to_dict()}


def select_downstream(data, accuracy: str, *, x: str = "flops", loss: str | None = None,
                      floor: float | None = None, cutoff_fracs: Sequence[float] = (0.2, 0.3, 0.4),
                      margin: float = 0.1, bootstrap: int = 100, seed: int = 0,
                      calibrate: bool = True, slope_prior: float | None = ROUTE_SLOPE_PRIOR_SD) -> DownstreamSelection:
    """Choose a downstream predictor by backtest and fit it on all rows.

    ``data``: table (path, DataFrame, mapping) with the scale column ``x`` (FLOPs by default; params and
    tokens also work for ``flops``), the ``accuracy`` column (fractions or percentages) and optionally a
    task-loss column ``loss``. ``floor``: chance accuracy (fixed when given, else fitted).

    Candidates (all sigmoids in log10 of ``x`` use least squares with the one-sided slope prior of
    `SigmoidPredictor`, sd ``slope_prior`` of ln k, default `ROUTE_SLOPE_PRIOR_SD`; None: plain least
    squares): ``sigmoid-bounded`` (ceiling fixed at 1 / 100 for tables of fractions /
    percentages: the plain sigmoid in log-compute, and the baseline), ``sigmoid`` (ceiling fitted; the
    baseline when the accuracy has no known scale) and ``two-step`` (when ``loss`` is given). Each is
    backtested at ``cutoff_fracs`` (that fraction of the models, the largest by compute, held out) and
    scored by the mean absolute error of those predictions. The baseline is kept unless a candidate's
    error is lower at every cut and lower on average by more than ``margin`` (relative), so selection noise
    cannot easily make the result worse than the plain sigmoid. ``calibrate``: learn the interval's per-decade extrapolation term from internal
    backtests (sigmoids; cheap). Returns a `DownstreamSelection`; raises `DataError` for missing columns
    and `FitError` when no candidate can be fitted.
    """
    df, source = load_frame(data)
    acc = column(df, accuracy, source, "accuracy")
    bounds = accuracy_scale(acc[np.isfinite(acc)])
    quick = {"bootstrap": 0, "seed": seed, "calibrate": False}
    sig = {**quick, "slope_prior": slope_prior}
    cands: dict = {}
    if bounds is not None:
        cands["sigmoid-bounded"] = SigmoidPredictor(accuracy, x=x, floor=floor, ceiling=bounds[1], **sig)
    cands["sigmoid"] = SigmoidPredictor(accuracy, x=x, floor=floor, **sig)
    if loss is not None:
        cands["two-step"] = TwoStepPredictor(loss=loss, accuracy=accuracy, x=x, floor=floor, **quick)
    baseline = next(iter(cands))
    scores: dict = {}
    for name, pred in cands.items():
        errs, cuts = [], []
        for f in cutoff_fracs:
            try:  # the candidates' own fits are quiet (warn=False): a cut's trouble shows in its error
                bt = backtest_downstream(df, pred, cutoff_frac=f, x=x)
            except ScalingLabError:
                continue
            errs.append(bt["mean_abs_error"])
            cuts.append(f)
        scores[name] = {"mean_abs_error": float(np.mean(errs)) if errs else None, "cutoffs": cuts,
                        "per_cut": errs}
    base = scores[baseline]["mean_abs_error"]
    chosen = baseline
    what = "plain sigmoid in log-compute" if baseline == "sigmoid-bounded" else "sigmoid in log-compute"
    if base is not None:
        # a challenger must be backtested at the same cuts, be better at EVERY cut, and better on average by
        # more than the margin: forms that differ mainly beyond the data (a fitted ceiling) can win one
        # lucky cut and then extrapolate badly
        base_cuts = scores[baseline]["per_cut"]
        fair = [(s["mean_abs_error"], n) for n, s in scores.items()
                if n != baseline and s["mean_abs_error"] is not None and s["cutoffs"] == scores[baseline]["cutoffs"]
                and all(e < b for e, b in zip(s["per_cut"], base_cuts, strict=True))]
        best = min(fair) if fair else None
        if best is not None and best[0] < (1.0 - margin) * base:
            chosen = best[1]
            reason = (f"{best[1]} backtest error {best[0]:.4g} beats the {what}'s {base:.4g} by more "
                      f"than {margin:.0%}, and at every cut")
        else:
            reason = (f"no candidate beat the {what}'s backtest error {base:.4g} at every cut and by more than "
                      f"{margin:.0%} on average")
    else:
        reason = f"too few models to backtest; using the {what}"
    final = dataclasses.replace(cands[chosen], bootstrap=bootstrap,
                                calibrate=calibrate if chosen != "two-step" else False)
    return DownstreamSelection(result=final.fit(df), method=chosen, scores=scores, reason=reason)
