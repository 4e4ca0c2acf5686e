"""The prediction band of an accuracy sigmoid (`fit/_accuracy.py`), shared by `FitResult.predict` and
`scalinglab.downstream.SigmoidPredictor`: one engine for ``fit(..., "sigmoid")``, ``scalinglab fit --law
sigmoid`` + ``predict`` and ``scalinglab downstream``."""

from __future__ import annotations

import numpy as np

from ..laws import Law

__all__ = ["ACCURACY_METHOD", "accuracy_scale", "accuracy_band"]

#: ``calibration["method"]`` of an accuracy fit: `FitResult.predict` takes its band from `accuracy_band`
ACCURACY_METHOD = "downstream-sigmoid/v1"
#: Monte Carlo samples of `accuracy_band`
_N_MC = 2000


def accuracy_scale(acc: np.ndarray) -> tuple[float, float] | None:
    """``(0, 1)`` for accuracies that are fractions, ``(0, 100)`` for percentages, else None."""
    acc = np.asarray(acc, float)
    acc = acc[np.isfinite(acc)]
    if not acc.size:
        return None
    if acc.min() >= 0 and acc.max() <= 1:
        return (0.0, 1.0)
    if acc.min() >= 0 and acc.max() <= 100:
        return (0.0, 100.0)
    return None


def accuracy_band(law: Law, theta: np.ndarray, draws: np.ndarray | None, residuals: np.ndarray, reach_sd: float,
                  x: np.ndarray, x_max: float, level: float, *, bounded: tuple | None,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(center, lo, hi)`` of an accuracy sigmoid at scales ``x``: the one band of `fit(..., "sigmoid")`
    predictions and `scalinglab.downstream.SigmoidPredictor`.

    Monte Carlo over the parameter ``draws`` (bootstrap refits; None: the point ``theta`` alone), plus a
    resampled in-sample residual (the model-to-model scatter, accuracy units) and a normal term of sd
    ``reach_sd`` per decade beyond ``x_max`` (the largest fitted scale); clipped to ``bounded`` (the accuracy
    scale, ``(0, 1)`` or ``(0, 100)``) when given, the point kept inside its band."""
    x = np.atleast_1d(np.asarray(x, float))
    var = law.variables[0]
    with np.errstate(all="ignore"):
        center = np.atleast_1d(law.evaluate(theta, {var: x}))
    rng = np.random.default_rng(seed)
    D = draws if draws is not None and len(draws) else np.asarray(theta, float)[None, :]
    S = max(_N_MC, len(D))
    j = rng.integers(0, len(D), S)
    samples = np.empty((S, len(x)))
    with np.errstate(all="ignore"):
        for u in np.unique(j):
            samples[j == u] = law.evaluate(D[u], {var: x})[None, :]
    res = np.asarray(residuals, float)
    res = res[np.isfinite(res)] if res.size else res
    samples += rng.choice(res if res.size else np.zeros(1), size=(S, 1))
    decades = np.maximum(np.log10(np.maximum(x / x_max, 1e-300)), 0.0)
    samples += rng.standard_normal((S, 1)) * reach_sd * decades[None, :]
    if bounded is not None:
        samples, center = np.clip(samples, *bounded), np.clip(center, *bounded)
    a = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(samples, [a, 1.0 - a], axis=0)
    return center, np.minimum(lo, center), np.maximum(hi, center)
