"""The best hyperparameter at a target scale, from a study's grid.

A run table that sweeps a hyperparameter (every (N, D) trained at several learning rates, batch sizes...:
`scalinglab.data.sweeps`) answers the next question a scaling study asks: which learning rate for the large
run? The answer follows the practice of the studies that publish such grids (DeepSeek LLM 2024 and Porian et
al. 2024 fit the best learning rate and batch size as power laws of the scale; Bi et al. 2024 Sec. 3.1):

1. each point's optimum: the vertex of the parabola through the best value and its two neighbours in log
   value and log loss (`scalinglab.data.sweeps.optima`); a point whose best value is the smallest or largest
   tried (the optimum may lie beyond the grid) or that tried one value only is left out and reported;
2. a power law ``A * N**a * D**b`` (``A * N**a`` when the points do not vary N and D independently, ``A *
   C**a`` for a table of compute budgets) fitted to those optima by the one fitting engine (`fit`: log-space
   robust fit, parameter intervals, prediction intervals calibrated by internal backtests when there are
   enough points), so a prediction carries an interval and says how far it extrapolates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import FitError
from ._api import fit, fit_reusing
from ._inputs import load_table
from ._result import FitResult

__all__ = ["fit_optimum", "optimum_point", "EXPONENT_BOUNDS"]

#: bounds of the fitted exponents (a learning rate falls with size, a batch size grows: both signs)
EXPONENT_BOUNDS = (-3.0, 3.0)


def _law_for(points: pd.DataFrame):
    """The power law ``A * N**a * D**b`` in the scale variables the optima vary in independently (N and D;
    N alone when D moves with it; C for a table of compute budgets)."""
    from ..laws import parse_law

    logs = {v: np.log(points[c].to_numpy(float)) for v, c in (("N", "params"), ("D", "tokens"), ("C", "flops"))
            if c in points.columns}
    varies = [v for v in ("N", "D") if v in logs and np.ptp(logs[v]) > 0]
    if len(varies) == 2:
        if abs(np.corrcoef(logs["N"], logs["D"])[0, 1]) > 0.99:
            varies = ["N"]  # D moves with N (one token budget per size): only N can be told apart
    if not varies and "C" in logs and np.ptp(logs["C"]) > 0:
        varies = ["C"]
    if not varies:
        raise FitError("the optima do not vary in params, tokens or flops: nothing to fit a scaling of")
    names = {"N": "a", "D": "b", "C": "c"}
    formula = "A * " + " * ".join(f"{v}**{names[v]}" for v in varies)
    bounds = {names[v]: EXPONENT_BOUNDS for v in varies}
    return parse_law(formula, bounds=bounds, variables=varies)


def fit_optimum(runs, column: str = "lr", *, y: str = "loss", level: float = 0.8, bootstrap: int = 0,
                seed: int = 0, warn: bool = True) -> tuple[FitResult, pd.DataFrame]:
    """Fit how the best value of hyperparameter ``column`` scales, from a run table that sweeps it.

    ``runs``: anything `fit` reads (path, DataFrame, RunTable); ``column``: the swept hyperparameter (a
    learning rate, a batch size; positive); ``y``: what the best value minimises (``loss``, nats/token).

    Returns
    -------
    (FitResult, pandas.DataFrame)
        The fit of ``A * N**a * D**b`` (or its one-variable forms, see the module docstring) to the points'
        optima, in units of ``column``: ``result.predict(N="7B", D="140B")`` gives the best value at a target
        with its interval and extrapolation; and the optimum of every point (`scalinglab.data.sweeps.optima`:
        point columns, ``column``, ``y``, ``method``) with a ``used`` column (False: left out).

    Raises
    ------
    InputError
        If ``column`` or ``y`` is not a numeric column, or ``column`` is not positive.
    FitError
        If fewer points have an interior optimum than the law has parameters.
    """
    from ..data.sweeps import column_name, optima

    table = load_table(runs)
    df, source = table.df, table.source
    points = optima(df, column, y=y)
    name = column_name(df, column)
    points["used"] = points["method"] == "parabola"
    used = points[points["used"]].drop(columns=["method", "used"]).reset_index(drop=True)
    if "flops" not in used.columns and {"params", "tokens"} <= set(used.columns):
        used["flops"] = 6.0 * used["params"] * used["tokens"]
    law = _law_for(used) if len(used) >= 2 else None  # fewer: the grid's edges are the message, not the law
    if law is None or len(used) < law.n_params + 1:
        counts = points["method"].value_counts().to_dict()
        raise FitError(f"{source or 'the run table'}: {len(used)} point(s) have a best {name!r} inside the grid "
                       f"tried ({counts}); at least {(law.n_params if law else 2) + 1} are needed to fit how it "
                       "scales. Widen the grid where the best value is its smallest or largest")
    # `fit` with its own defaults, its warnings pointed at the caller of fit_optimum (4 frames up)
    result = fit_reusing(used, law, **{**fit.__kwdefaults__, "y": name, "level": level, "bootstrap": bootstrap,
                                       "seed": seed, "warn": warn}, cut_fits=None, stacklevel=4)
    return result, points


def optimum_point(result: FitResult, points: pd.DataFrame, point: dict) -> tuple[dict, list[str]]:
    """The part of a target ``point`` (``{"N": "7B", "D": "140B"}``) the fitted law of the best value takes,
    and a note for each scale left out: a sweep whose sizes share one token budget per parameter has a law in N
    alone, and ``--at N=7B,D=140B`` (as for any law of N and D) then predicts at N, for runs at the sweep's
    tokens per parameter. Unknown names are kept (the law's error names them).
    """
    takes = set(result.law.variables) | {result.variables.get(v, v) for v in result.law.variables}
    scale = {"N": "params", "D": "tokens", "C": "flops"}
    kept, notes = {}, []
    for k, v in point.items():
        if k in takes or (k not in scale and k not in scale.values()):
            kept[k] = v
            continue
        ratio = ""
        if {"params", "tokens"} <= set(points.columns):
            tpp = float(np.median(points["tokens"].to_numpy(float) / points["params"].to_numpy(float)))
            ratio = f", about {tpp:.3g}"
        notes.append(f"{k} is not used: the sweep's best values scale with {', '.join(result.law.variables)} alone "
                     f"(its points share one token budget per parameter{ratio}), so the prediction holds for a run "
                     "at that ratio")
    return kept, notes
