"""Observational scaling law (Ruan et al. 2024): predict a hard benchmark from cheap ones through a few
capability dimensions (PCA of logit accuracies) and a sigmoid link fitted by the fit engine."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._errors import DataError, InputError
from ._common import DownstreamPrediction, column, load_frame, squeeze

__all__ = ["ObservationalResult", "fit_observational"]


def _logit(a: np.ndarray, floor: float = 0.0, eps: float = 1e-3) -> np.ndarray:
    p = np.clip((np.asarray(a, float) - floor) / (1.0 - floor), eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True)
class ObservationalResult:
    """Capability-space predictor (Ruan et al. 2024). ``components``: PCA loadings ``(k, B)`` of the
    standardized logit accuracies of the cheap benchmarks; ``weights``/``bias``: the sigmoid link from
    capabilities to the target; ``loo_residuals``: leave-one-out errors (accuracy units) that set the
    interval; ``explained``: fraction of variance each component explains."""

    cheap: tuple
    target: str
    k: int
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    weights: np.ndarray
    bias: float
    floor: float
    ceiling: float
    loo_residuals: np.ndarray
    loo_mae: dict
    explained: np.ndarray
    n_models: int

    def capabilities(self, scores: np.ndarray) -> np.ndarray:
        """Capability coordinates ``(m, k)`` of models with cheap-benchmark accuracies ``(m, B)``."""
        Z = (_logit(scores) - self.mean) / self.scale
        return Z @ self.components.T

    def predict(self, scores, level: float = 0.8) -> DownstreamPrediction:
        """Predict the target for a model from its cheap-benchmark accuracies: a mapping
        benchmark -> accuracy (or a sequence in ``cheap`` order, or an array of rows ``(m, len(cheap))``).

        Raises
        ------
        InputError
            If a cheap benchmark's score is missing or the number of scores does not match ``cheap``.
        """
        if isinstance(scores, Mapping):
            missing = [b for b in self.cheap if b not in scores]
            if missing:
                raise InputError(f"observational predict needs scores for {', '.join(missing)}")
            S = np.array([[float(np.ravel([scores[b]])[0]) for b in self.cheap]])
        else:
            S = np.atleast_2d(np.asarray(scores, float))
        if S.shape[-1] != len(self.cheap):
            raise InputError(f"expected {len(self.cheap)} cheap-benchmark scores ({', '.join(self.cheap)}), "
                             f"got {S.shape[-1]}")
        cap = self.capabilities(S)
        val = self.floor + (self.ceiling - self.floor) / (1.0 + np.exp(-(cap @ self.weights + self.bias)))
        a = (1.0 - level) / 2.0
        qlo, qhi = np.quantile(self.loo_residuals, [a, 1.0 - a])
        lo = np.clip(val + qlo, min(self.floor, 0.0), self.ceiling)
        hi = np.clip(val + qhi, min(self.floor, 0.0), self.ceiling)
        return DownstreamPrediction(value=squeeze(val), interval=(squeeze(lo), squeeze(hi)), level=float(level),
                                    extrapolation=math.nan, method=f"observational-k{self.k}")

    def to_dict(self) -> dict:
        """JSON-able summary: benchmarks, k, explained variance, link weights, floor/ceiling, LOO errors."""
        from ..fit._result import _jsonable

        return _jsonable({"method": "observational", "cheap": list(self.cheap), "target": self.target,
                          "k": self.k, "explained_variance": self.explained, "weights": self.weights,
                          "bias": self.bias, "floor": self.floor, "ceiling": self.ceiling,
                          "loo_mae": self.loo_mae, "n_models": self.n_models})


def _fit_link(C: np.ndarray, y: np.ndarray, floor: float, ceiling: float) -> tuple[np.ndarray, float]:
    """Sigmoid link ``y = floor + (ceiling - floor) sigmoid(C w + b)`` by least squares on the fit engine
    (a user law ``floor + (ceiling - floor) * sigmoid(w1*c1 + ... + b)`` over the capability columns,
    started from a linear fit on the logit scale). Returns ``(w (k,), b)``."""
    from ..fit._multistart import multistart
    from ..fit._objectives import LeastSquares
    from ..fit._solvers import Problem
    from ..laws import parse_law

    k = C.shape[1]
    t = _logit((y - floor) / max(ceiling - floor, 1e-9))
    M = np.column_stack([C, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(M, t, rcond=None)
    cols = [f"c{i}" for i in range(k)]
    lin = " + ".join(f"w{i}*{c}" for i, c in enumerate(cols))
    law = parse_law(f"{floor!r} + ({ceiling!r} - {floor!r}) * sigmoid({lin} + b)", variables=cols, target="value")
    order = [int(n[1:]) if n.startswith("w") else k for n in law.param_names]  # law order -> coef index
    problem = Problem(law, {c: C[:, i] for i, c in enumerate(cols)}, np.asarray(y, float), LeastSquares(), "linear")
    ms = multistart(problem, starts=coef[order][None, :], method="grid")
    theta = ms.theta if np.all(np.isfinite(ms.theta)) else coef[order]
    out = np.empty(k + 1)
    out[order] = theta
    return out[:-1], float(out[-1])


def _pca(scores: np.ndarray, k: int):
    L = _logit(scores)
    mean = L.mean(axis=0)
    scale = L.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (L - mean) / scale
    _, s, Vt = np.linalg.svd(Z, full_matrices=False)
    explained = s ** 2 / np.sum(s ** 2)
    return mean, scale, Vt[:k], explained[:k]


def fit_observational(data, cheap: Sequence[str], target: str, *, k: int | str = "auto", floor: float = 0.0,
                      ceiling: float = 1.0, max_k: int = 3) -> ObservationalResult:
    """Observational scaling law (Ruan et al. 2024): predict a hard benchmark from cheap ones.

    A table of many models (any family) with accuracies (fractions) on the ``cheap`` benchmarks and on
    ``target``. The cheap accuracies are logit-transformed, standardized and reduced by PCA to ``k``
    capability dimensions (``k="auto"``: 1..``max_k``, chosen by leave-one-out error); the target is a
    sigmoid of a linear function of the capabilities between ``floor`` (chance) and ``ceiling``. Rows
    with a missing target are used for the PCA only. The prediction interval comes from the
    leave-one-out residuals (the whole pipeline refitted without each model). Returns an
    `ObservationalResult`.

    Raises
    ------
    InputError
        With fewer than 2 cheap benchmarks, a bad ``k`` or too few models with a target score.
    DataError
        For missing columns or accuracies outside [0, 1].
    """
    df, source = load_frame(data)
    cheap = tuple(cheap)
    if len(cheap) < 2:
        raise InputError("fit_observational: give at least 2 cheap benchmarks")
    S = np.column_stack([column(df, b, source, "benchmark") for b in cheap])
    y = column(df, target, source, "target")
    okS = np.all(np.isfinite(S), axis=1)
    if np.any((S[okS] < 0) | (S[okS] > 1)):
        raise DataError("benchmark accuracies must be fractions in [0, 1]", file=source)
    S = S[okS]
    y = y[okS]
    has_y = np.isfinite(y)
    n = int(has_y.sum())
    ks = list(range(1, min(max_k, len(cheap)) + 1)) if k == "auto" else [int(k)]
    if any(kk < 1 or kk > len(cheap) for kk in ks):
        raise InputError(f"k must be 1..{len(cheap)} (the number of cheap benchmarks), got {k}")
    if n < max(ks) + 4:
        raise InputError(f"fit_observational: {n} models with a {target!r} score; need at least {max(ks) + 4}")

    def pipeline(train_rows, kk):
        mean, scale, V, expl = _pca(S[train_rows] if train_rows is not None else S, kk)
        C = ((_logit(S) - mean) / scale) @ V.T
        fit_rows = has_y if train_rows is None else (has_y & train_rows)
        w, b = _fit_link(C[fit_rows], y[fit_rows], floor, ceiling)
        return mean, scale, V, expl, w, b, C

    loo: dict = {}
    idx_y = np.flatnonzero(has_y)
    for kk in ks:
        res = []
        for i in idx_y:
            keep = np.ones(len(y), bool)
            keep[i] = False
            _, _, _, _, w, b, C = pipeline(keep, kk)
            pred = floor + (ceiling - floor) / (1.0 + np.exp(-(C[i] @ w + b)))
            res.append(y[i] - pred)
        loo[kk] = np.asarray(res)
    mae = {str(kk): float(np.mean(np.abs(r))) for kk, r in loo.items()}
    best = min(ks, key=lambda kk: np.mean(np.abs(loo[kk])))
    mean, scale, V, expl, w, b, _ = pipeline(None, best)
    return ObservationalResult(cheap=cheap, target=target, k=best, mean=mean, scale=scale, components=V, weights=w,
                               bias=b, floor=float(floor), ceiling=float(ceiling), loo_residuals=loo[best],
                               loo_mae=mae, explained=expl, n_models=n)
