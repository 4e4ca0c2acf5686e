"""Backtests of downstream predictors and the choice between them: fit on the smaller models, predict the
larger ones, keep the plain sigmoid in log-compute unless another predictor is clearly better."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import FitError, InputError, ScalingLabError
from ..fit._accuracy import accuracy_scale, check_floor
from ._common import (
    LEVELS,
    DownstreamPrediction,
    column,
    compute_of,
    load_frame,
    scale_arrays,
    squeeze,
    warn_left_out,
    warn_pooled,
)
from .sigmoid import SigmoidPredictor
from .two_step import TwoStepPredictor

__all__ = ["backtest_downstream", "DownstreamSelection", "select_downstream", "stack_weights", "StackedResult",
           "ROUTE_SLOPE_PRIOR_SD", "CEILING_SLOPE_PRIOR_SD", "ROUTE_MARGIN", "ROUTE_CUTOFF_FRACS", "STACK_POWER"]

#: sd of ln k of the one-sided slope prior of the route's baseline (the plain-form sigmoid: floor at chance,
#: ceiling at the top of the scale). Chosen by ``bench/extrapolation_downstream.py --lodo`` among 1, 2 and 4,
#: leave-one-table-out (4 on every fold): a stronger prior (1) wins late-rising tasks whose rise has not begun
#: (on the Observational Scaling Laws table cut at 1e22-3e22 FLOPs, GSM8K 24 vs 55 points) but loses up to
#: 1.39x on tasks that rise more steeply than a sigmoid in log-compute (the two-step tables); pass
#: ``slope_prior=1.0`` for the former behaviour. Internal backtests cannot tell the two cases apart (the
#: plain fit's jump shows only with the whole table).
ROUTE_SLOPE_PRIOR_SD = 4.0
#: slope prior sd of the fitted-ceiling challenger (``sigmoid``); the value the former route used.
CEILING_SLOPE_PRIOR_SD = 1.0
#: a challenger's backtest error must be below ``(1 - ROUTE_MARGIN)`` x the baseline's at every internal cut.
#: Chosen leave-one-table-out among 0.1, 0.2 and 0.3 (0.1 on every fold).
ROUTE_MARGIN = 0.1
#: internal cuts (fraction of the models, the largest by compute, held out) of the selection backtests.
ROUTE_CUTOFF_FRACS = (0.3, 0.4)
#: an admitted challenger is stacked with the baseline, weights proportional to (mean backtest error) ** -p.
#: Chosen leave-one-table-out among p = 1, 2 and a switch to the challenger (2 on every fold).
STACK_POWER = 2.0


def stack_weights(scores: dict, baseline: str, *, margin: float = ROUTE_MARGIN,
                  power: float | None = STACK_POWER) -> dict[str, float]:
    """Weights of the candidates of a selection from their backtest errors (accuracy units).

    ``scores``: ``{name: {"per_cut": [errors], "cutoffs": [fractions]}}`` as `select_downstream` records
    them; ``baseline``: the candidate kept unless a challenger is admitted. A challenger is admitted when it
    was backtested at the same cuts as the baseline, its error is lower at EVERY cut and its mean error is
    below ``(1 - margin)`` x the baseline's; the best admitted one (lowest mean) is stacked with the
    baseline, weights proportional to mean error ** -``power`` (``power=None``: all weight to the
    challenger). Returns ``{name: weight}`` for the candidates with a non-zero weight (summing to 1)."""
    base = scores.get(baseline) or {}
    b_errs = base.get("per_cut") or []
    if not b_errs:
        return {baseline: 1.0}
    b = float(np.mean(b_errs))
    best = None
    for name, s in scores.items():
        errs = s.get("per_cut") or []
        if name == baseline or not errs or s.get("cutoffs") != base.get("cutoffs"):
            continue
        if all(e < (1.0 - margin) * eb for e, eb in zip(errs, b_errs, strict=True)):
            if best is None or float(np.mean(errs)) < best[0]:
                best = (float(np.mean(errs)), name)
    if best is None:
        return {baseline: 1.0}
    if power is None:
        return {best[1]: 1.0}
    wb, wc = max(b, 1e-12) ** -power, max(best[0], 1e-12) ** -power
    return {baseline: wb / (wb + wc), best[1]: wc / (wb + wc)}


@dataclass(frozen=True)
class StackedResult:
    """Several fitted downstream predictors combined with fixed weights: the point prediction is the
    weighted mean of theirs and the interval the weighted mean of their interval ends (quantile averaging),
    so it always contains the point. ``components``: ``{name: fitted result}``; ``weights``: ``{name:
    weight}`` (summing to 1). Other attributes (``fit``, ``column``, ``step1`` ...) are those of the
    component with the largest weight, so plots draw it with the stacked band."""

    components: dict
    weights: dict

    @property
    def method(self) -> str:
        """``"stack(a=0.7,b=0.3)"``: the components and their weights."""
        return "stack(" + ",".join(f"{n}={w:.2f}" for n, w in self.weights.items()) + ")"

    def __getattr__(self, name):
        if name.startswith("__") or name in ("components", "weights"):
            raise AttributeError(name)
        lead = max(self.weights, key=self.weights.get)
        return getattr(self.components[lead], name)

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Weighted prediction at a scale, e.g. ``predict(flops=1e24)`` (accuracy units of the table).

        Raises
        ------
        InputError
            For a wrong variable or a level outside (0, 1) (from the components).
        """
        preds = {n: self.components[n].predict(level=level, **variables) for n in self.weights}

        def mix(get):
            return sum(w * np.asarray(get(preds[n]), float) for n, w in self.weights.items())

        first = next(iter(preds.values()))
        warns = list(dict.fromkeys(w for p in preds.values() for w in p.warnings))
        # a two-step component's task-loss prediction (step 1) is not stacked: it is passed on as it is
        loss = next((p for p in preds.values() if p.task_loss is not None), None)
        return DownstreamPrediction(value=squeeze(mix(lambda p: p.value)),
                                    interval=(squeeze(mix(lambda p: p.interval[0])),
                                              squeeze(mix(lambda p: p.interval[1]))),
                                    level=float(level), extrapolation=first.extrapolation, method=self.method,
                                    task_loss=None if loss is None else loss.task_loss,
                                    task_loss_interval=None if loss is None else loss.task_loss_interval,
                                    warnings=warns)

    def to_dict(self) -> dict:
        """JSON-able: ``method`` (``"stack"``), the weights and every component's summary."""
        return {"method": "stack", "weights": dict(self.weights),
                "components": {n: self.components[n].to_dict() for n in self.weights}}


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

    result: object = dataclasses.field(repr=False)
    method: str
    scores: dict
    reason: str
    #: candidates left out of the forecast whose backtest error was no worse than the route's: the backtests
    #: cannot rule them out, so the interval spans their bands too (``{name: fitted result}``)
    alternates: dict = dataclasses.field(default_factory=dict, repr=False)
    #: the lowest mean backtest error among the candidates the forecast weighs (accuracy units)
    route_error: float = math.nan

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Predict with the chosen predictor, e.g. ``predict(flops=1e24)`` (accuracy units of the table,
        interval at ``level``; widened to span the `alternates`' bands, with a warning naming each one whose
        forecast differs); raises `InputError` for a wrong variable or level."""
        pred = self.result.predict(level=level, **variables)
        if not self.alternates:
            return pred
        lo, hi = np.asarray(pred.interval[0], float), np.asarray(pred.interval[1], float)
        warns = list(pred.warnings)
        for name, res in self.alternates.items():
            alt = res.predict(level=level, **variables)
            lo, hi = np.minimum(lo, alt.interval[0]), np.maximum(hi, alt.interval[1])
            warns.append(f"{name} did as well in the internal backtests (error {self.scores[name]['mean_abs_error']:.3g}"
                         f" vs {self.route_error:.3g}), so the interval spans its band too"
                         + ("; the forecast fixes the ceiling at the top of the scale, this form fits it (a task "
                            "whose ceiling is lower, e.g. from label noise, shows only once the curve bends)"
                            if name == "sigmoid" and self.method == "sigmoid-bounded" else ""))
        return dataclasses.replace(pred, interval=(squeeze(lo), squeeze(hi)), warnings=warns)

    def to_dict(self) -> dict:
        """JSON-able: chosen method, reason, every candidate's backtest score, the chosen fit and the
        ``alternates`` the interval spans."""
        return {"method": self.method, "reason": self.reason, "scores": self.scores,
                "fit": self.result.to_dict(), "alternates": sorted(self.alternates)}


def select_downstream(data, accuracy: str, *, x: str = "flops", loss: str | None = None,
                      floor: float | None = None, cutoff_fracs: Sequence[float] = ROUTE_CUTOFF_FRACS,
                      margin: float = ROUTE_MARGIN, bootstrap: int = 100, seed: int = 0,
                      calibrate: bool = True, slope_prior: float | None = ROUTE_SLOPE_PRIOR_SD,
                      ceiling_slope_prior: float | None = CEILING_SLOPE_PRIOR_SD,
                      stack_power: float | None = STACK_POWER, where: Sequence[str] = ()) -> DownstreamSelection:
    """Choose a downstream predictor by backtest and fit it on all rows.

    ``data``: table (path, DataFrame, mapping) with the scale column ``x`` (FLOPs by default; params and
    tokens also work for ``flops``), the ``accuracy`` column (fractions or percentages) and optionally a
    task-loss column ``loss``. ``floor``: chance accuracy (fixed when given, else fitted).

    Candidates (sigmoids in log10 of ``x``, least squares with the one-sided slope prior of
    `SigmoidPredictor`): ``sigmoid-bounded`` (ceiling fixed at 1 / 100 for tables of fractions /
    percentages, slope prior sd ``slope_prior`` of ln k, default `ROUTE_SLOPE_PRIOR_SD` — nearly the plain
    sigmoid in log-compute, and the baseline), ``sigmoid`` (ceiling fitted, slope prior sd
    ``ceiling_slope_prior``; the baseline when the accuracy has no known scale) and ``two-step`` (when
    ``loss`` is given). Each is backtested at ``cutoff_fracs`` (that fraction of the models, the largest by
    compute, held out) and scored by the mean absolute error of those predictions. The baseline is kept
    unless a challenger's error is lower by more than ``margin`` (relative) at every cut; an admitted
    challenger is stacked with the baseline, weights proportional to mean backtest error ** -``stack_power``
    (`stack_weights`; ``None``: switch to it), so one lucky backtest cannot move the forecast far from the
    plain sigmoid. ``method``: the admitted challenger (else the baseline);
    ``scores[name]["weight"]``: each candidate's weight. ``calibrate``: learn the interval's per-decade
    extrapolation term from internal backtests (sigmoids; cheap). ``where``: conditions selecting rows
    (``["benchmark=MMLU"]``: one benchmark of a long table; a text column that splits the table into groups
    with different accuracies at the same scale is warned about). Every default constant was chosen
    leave-one-table-out by ``bench/extrapolation_downstream.py --lodo``. Returns a `DownstreamSelection`.

    Raises
    ------
    DataError
        For missing or non-numeric columns.
    FitError
        When the chosen candidate cannot be fitted.
    """
    df, source = load_frame(data, where)
    acc = column(df, accuracy, source, "accuracy")
    usable = np.isfinite(acc)
    scales = scale_arrays(df, x, source)
    for v in scales.values():
        with np.errstate(invalid="ignore"):
            usable &= np.isfinite(v) & (v > 0)
    warn_pooled(df.assign(**{f"__{k}": v for k, v in scales.items()}), source, accuracy, [f"__{k}" for k in scales])
    if loss is not None:
        usable &= np.isfinite(column(df, loss, source, "task loss"))
    warn_left_out(df, usable, source, [x, accuracy] + ([loss] if loss else []))
    check_floor(floor, acc[usable], source)  # once, naming the file; the fits below do not repeat it
    bounds = accuracy_scale(acc[np.isfinite(acc)])
    quick = {"bootstrap": 0, "seed": seed, "calibrate": False, "floor_checked": True}
    cands: dict = {}
    if bounds is not None:
        cands["sigmoid-bounded"] = SigmoidPredictor(accuracy, x=x, floor=floor, ceiling=bounds[1],
                                                    slope_prior=slope_prior, **quick)
    cands["sigmoid"] = SigmoidPredictor(accuracy, x=x, floor=floor,
                                        slope_prior=ceiling_slope_prior if bounds is not None else slope_prior, **quick)
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
    what = "plain-form sigmoid in log-compute" if baseline == "sigmoid-bounded" else "sigmoid in log-compute"
    weights = stack_weights(scores, baseline, margin=margin, power=stack_power)
    for name in scores:
        scores[name]["weight"] = float(weights.get(name, 0.0))
    chosen = next((n for n in weights if n != baseline), baseline)
    if base is None:
        reason = f"too few models to backtest; using the {what}"
    elif chosen == baseline:
        reason = (f"no candidate beat the {what}'s backtest error {base:.4g} by more than {margin:.0%} at "
                  f"every cut")
    else:
        e = scores[chosen]["mean_abs_error"]
        how = ("used alone" if len(weights) == 1 else
               f"stacked with it, weights {weights[chosen]:.2f} / {weights[baseline]:.2f} (backtest error ** "
               f"-{stack_power:g})")
        label = {"sigmoid": "sigmoid (fitted ceiling)", "two-step": "two-step (via task loss)"}.get(chosen, chosen)
        reason = (f"{label} backtest error {e:.4g} beats the {what}'s {base:.4g} by more than {margin:.0%} at "
                  f"every cut; {how}")
    def final_fit(name):  # a candidate on every row, with the final bootstrap and calibration
        return dataclasses.replace(cands[name], bootstrap=bootstrap,
                                   calibrate=calibrate if name != "two-step" else False).fit(df)

    fitted = {name: final_fit(name) for name in weights}
    result = fitted[chosen] if len(fitted) == 1 else StackedResult(components=fitted, weights=weights)
    # a candidate the route leaves out although its backtest error was no worse: the band spans it (a task whose
    # ceiling is below the scale's top: the plain form forecast 11-27 points high with 25-40 % coverage at 80 %)
    route = min(scores[n]["mean_abs_error"] for n in weights if scores[n]["mean_abs_error"] is not None) \
        if any(scores[n]["mean_abs_error"] is not None for n in weights) else None
    alternates = {}
    for name, s in scores.items():
        if name in weights or route is None or s["mean_abs_error"] is None or s["mean_abs_error"] > route:
            continue
        try:
            alternates[name] = final_fit(name)
        except ScalingLabError:  # a candidate that cannot be fitted on every row rules nothing in
            continue
    return DownstreamSelection(result=result, method=chosen, scores=scores, reason=reason, alternates=alternates,
                               route_error=math.nan if route is None else float(route))
