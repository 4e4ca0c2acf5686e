"""Data-driven start values for any law, so that a user-written law starts where its data are.

A catalog law lists start values per parameter (``Param.grid``, e.g. Hoffmann et al.'s exponent grid).
A parameter without a grid (an expression's free constant such as a midpoint ``m`` in
``log10(C) - m`` or an offset ``lo``) would otherwise start only at its default (1.0), which for a
sigmoid in log-compute saturates the curve and leaves the solver on a plateau. Its axis here is built
from the data instead:

* quantiles (10/30/50/70/90 %) of the observed target ``y`` and its range;
* quantiles of every input variable, and of its natural and base-10 logarithm when it is positive (a
  midpoint or a scale lives on one of those);
* signed powers of ten from 1e-3 to 1e3 (slopes, rates) and 0;
* a parameter with finite bounds is sampled within them (log-uniformly when both are positive and
  span more than two decades); every value is kept strictly inside the bounds.

Parameters that have a grid keep it. When the product of the axes exceeds the budget, rows are drawn at
random from it (a fixed seed: fits are reproducible).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from ..laws import Law

__all__ = ["param_axis", "data_starts", "needs_data_starts", "START_BUDGET"]

#: most start rows drawn from the product of the per-parameter axes
START_BUDGET = 4096
_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
_MAGNITUDES = tuple(10.0 ** k for k in range(-3, 4))


def needs_data_starts(law: Law) -> bool:
    """True when some parameter of ``law`` has no start grid (its only start would be its default)."""
    return any(not p.grid for p in law.params)


def _inside(vals: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values strictly inside ``[lo, hi]`` (those outside are dropped; at least one value is kept)."""
    vals = vals[np.isfinite(vals)]
    if math.isfinite(lo) and math.isfinite(hi):
        eps = 1e-3 * (hi - lo)
        keep = vals[(vals > lo + eps) & (vals < hi - eps)]
        inner = (np.geomspace(lo if lo > 0 else hi * 1e-6, hi, 7)[1:-1]
                 if lo >= 0 and hi / max(lo, 1e-300) > 100 else np.linspace(lo, hi, 7)[1:-1])
        return np.unique(np.concatenate([keep, inner]))
    if math.isfinite(lo):
        keep = vals[vals > lo]
        return keep if keep.size else np.array([lo + 1.0])
    if math.isfinite(hi):
        keep = vals[vals < hi]
        return keep if keep.size else np.array([hi - 1.0])
    return vals


def param_axis(law: Law, j: int, X: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
    """Start values (natural space, sorted) of parameter ``j`` of ``law``: its grid when it has one, else
    values derived from the data ``X`` (variables, length n each) and ``y`` (target, length n); see the
    module docstring."""
    p = law.params[j]
    if p.grid:
        return np.array(sorted(set(p.grid)), float)
    anchors: list[float] = [0.0, float(p.default)]
    yv = np.asarray(y, float)
    yv = yv[np.isfinite(yv)]
    if yv.size:
        anchors += list(np.quantile(yv, _QUANTILES)) + [float(np.ptp(yv)), -float(np.ptp(yv))]
    for v in law.variables:
        a = np.asarray(X[v], float) if v in X else np.zeros(0)
        a = a[np.isfinite(a)]
        if not a.size:
            continue
        anchors += list(np.quantile(a, _QUANTILES))
        if np.all(a > 0):
            anchors += list(np.quantile(np.log(a), _QUANTILES)) + list(np.quantile(np.log10(a), _QUANTILES))
    anchors += [s * m for m in _MAGNITUDES for s in (1.0, -1.0)]
    vals = np.array(anchors, float)
    if p.log or p.lower >= 0:  # a positive scale: powers of ten around the data's magnitudes too
        pos = vals[vals > 0]
        lo_m = math.floor(math.log10(max(pos.min(), 1e-12))) - 6 if pos.size else -6
        hi_m = math.ceil(math.log10(pos.max())) + 6 if pos.size else 6
        vals = np.concatenate([pos, 10.0 ** np.arange(lo_m, hi_m + 1, 1.0)])
    vals = _inside(np.unique(np.round(vals, 12)), p.lower, p.upper)
    if p.log:
        vals = vals[vals > 0]
    return vals if vals.size else np.array([p.default], float)


def data_starts(law: Law, X: Mapping[str, np.ndarray], y: np.ndarray, *, budget: int = START_BUDGET,
                seed: int = 0) -> np.ndarray:
    """Start rows ``(S, P)`` (natural space): the product of every parameter's `param_axis`, or
    ``budget`` rows drawn from it at random when it is larger, plus the law's own ``start_grid()``."""
    axes = [param_axis(law, j, X, y) for j in range(law.n_params)]
    total = math.prod(len(a) for a in axes)
    if total <= budget:
        rows = np.array(list(itertools.product(*axes)), float)
    else:
        rng = np.random.default_rng(seed)
        rows = np.column_stack([a[rng.integers(0, len(a), budget)] for a in axes])
    grid = law.start_grid()
    if len(grid) <= budget:
        rows = np.vstack([grid, rows])
    return rows
