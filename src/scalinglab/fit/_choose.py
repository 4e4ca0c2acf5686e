"""``loss="auto"``: choose the fit objective per dataset by an internal backtest, not by habit.

Candidates: ``huber`` (symmetric; Hoffmann et al.) and ``asymmetric`` (the lower envelope, 10x weight on
runs below the law; the ``chinchilla`` package). Each is fitted on the smaller runs and predicts the
largest ones at the cuts of the interval calibration (largest 10..50% of runs held out, IsoFLOP budgets
never split; runs ordered by ``budget``, else ``flops``, else 6ND). Per cut the score is the mean of the
median and the max |relative error| of the held-out runs (|error| for laws that predict a value rather
than a loss); a candidate's score is the mean over cuts. The lower score wins; huber wins ties (within
1% relative) and whenever fewer than two cuts leave enough runs to fit (``MIN_CUTS``). Asking for both the
typical and the worst error keeps a choice from trading a slightly lower median for a large miss, which
the asymmetric fit does on some tables (it follows the lowest runs, so one lucky run pulls it down).

The pipeline stage is `choose_objective` (typed: a `FitContext` and the first, Huber `Solution` in, an
`ObjectiveChoice` out); `score_objectives` is the backtest behind it. A different default estimator
replaces `choose_objective` with a function of the same signature.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import ScalingLabError
from ._calibrate import _order, law_cuts
from ._objectives import get_objective
from ._stages import FitContext, ObjectiveChoice, Solution, fit_point, solve

__all__ = ["AUTO_CANDIDATES", "choose_objective", "score_objectives", "MIN_CUTS"]

AUTO_CANDIDATES = ("huber", "asymmetric")
#: fewer usable backtest cuts than this: keep huber (no evidence either way)
MIN_CUTS = 2
#: relative score margin within which huber (the field's standard) is kept
TIE = 0.01


def _cut_errors(fd, law, test, loss, fit_kwargs):
    train = ~test
    data = {v: fd.X[v][train] for v in law.variables}
    data["__y__"] = fd.y[train]
    kw = dict(fit_kwargs)
    if fd.weights is not None:
        kw["weights"] = fd.weights[train]
    try:
        res = fit_point(data, law, y="__y__", loss=loss, warn=False, **kw)
    except ScalingLabError:
        return None, None
    if not math.isfinite(res.objective):
        return None, res
    with np.errstate(all="ignore"):
        pred = law.evaluate(res.theta, {v: fd.X[v][test] for v in law.variables})
    actual = fd.y[test]
    err = (pred - actual) / actual if law.target == "loss" else pred - actual
    err = np.abs(np.asarray(err, float))
    return (err if np.all(np.isfinite(err)) else None), res


def score_objectives(fd, law, *, delta: float = 1e-3, fit_kwargs: dict | None = None,
                     candidates=AUTO_CANDIDATES) -> dict:
    """Backtest each candidate objective on ``fd`` (a prepared `FitData`); returns ``objective_choice``:
    ``{"chosen", "scores": {name: score}, "criterion", "cuts": [...]}`` (module docstring), and under the
    private key ``"_fits"`` the chosen objective's per-cut fits (the same cuts as the interval calibration,
    which reuses them instead of refitting)."""
    fit_kwargs = {k: v for k, v in (fit_kwargs or {}).items()
                  if k in ("method", "space", "starts")}
    order = _order(fd, law)
    cuts = law_cuts(order, law)
    per_cut: list[dict] = []
    usable = []
    fits: dict = {name: [] for name in candidates}
    for test in cuts:
        row = {"n_train": int((~test).sum()), "n_test": int(test.sum()), "threshold": float(order[test].min())}
        errs = {}
        for name in candidates:
            e, res = _cut_errors(fd, law, test, get_objective(name, delta=delta), fit_kwargs)
            fits[name].append(res)
            if e is None:
                continue
            errs[name] = e
            row[name] = {"median_rel_error": float(np.median(e)), "max_rel_error": float(np.max(e)),
                         "score": 0.5 * (float(np.median(e)) + float(np.max(e)))}
        if len(errs) == len(candidates):
            usable.append(row)
        per_cut.append(row)
    scores = {name: (float(np.mean([r[name]["score"] for r in usable])) if usable else math.nan)
              for name in candidates}
    medians = {name: (float(np.mean([r[name]["median_rel_error"] for r in usable])) if usable else math.nan)
               for name in candidates}
    maxima = {name: (float(np.mean([r[name]["max_rel_error"] for r in usable])) if usable else math.nan)
              for name in candidates}
    default = candidates[0]
    if len(usable) < MIN_CUTS:
        chosen, reason = default, f"{len(usable)} usable backtest cut(s): too few to choose; kept {default}"
    else:
        best = min(candidates, key=lambda k: scores[k])
        if scores[best] < scores[default] * (1 - TIE):
            chosen = best
            reason = f"{best} predicted the held-out largest runs better ({scores[best]:.3%} vs " \
                     f"{scores[default]:.3%})"
        else:
            chosen = default
            other = min((k for k in candidates if k != default), key=lambda k: scores[k])
            reason = f"{default} kept ({scores[default]:.3%} vs {other} {scores[other]:.3%})"
    return {"_fits": fits[chosen], "_fits_reference": fits[default], "chosen": chosen, "scores": scores, "mean_median_rel_error": medians, "mean_max_rel_error": maxima,
            "criterion": "mean over backtest cuts of (median + max |relative error|) / 2 on the held-out "
                         "largest runs", "n_cuts": len(usable), "reason": reason,
            "cuts": per_cut}


def choose_objective(ctx: FitContext, first: Solution) -> ObjectiveChoice:
    """The choose-objective stage of ``fit(loss="auto")``: score the candidates by internal backtests
    (`score_objectives`) and solve with the winner. ``first`` is the Huber solve the trend was judged on;
    when another objective wins it stays as the reference the prediction interval is calibrated on
    (``_calibrate.py``, "Reference fit")."""
    choice = score_objectives(ctx.data, ctx.law, delta=ctx.options.delta,
                              fit_kwargs={"method": ctx.options.method, "space": ctx.space})
    cut_fits, ref_cut_fits = choice.pop("_fits"), choice.pop("_fits_reference")
    if choice["chosen"] == first.objective.name:
        return ObjectiveChoice(solution=first, report=choice, cut_fits=cut_fits, reference_cut_fits=ref_cut_fits)
    chosen = solve(ctx, get_objective(choice["chosen"], delta=ctx.options.delta))
    return ObjectiveChoice(solution=chosen, reference=first, report=choice, cut_fits=cut_fits,
                           reference_cut_fits=ref_cut_fits)
