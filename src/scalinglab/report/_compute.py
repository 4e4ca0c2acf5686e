"""Small numerical helpers for the figures: the compute-optimal frontier of any (N, D) law, IsoFLOP budget
grouping and parabola optima, and the Kaplan / Chinchilla reference allocation rules.

All use the ``C = 6·N·D`` FLOP convention (stated in every figure that uses them).
"""

from __future__ import annotations

import inspect

import numpy as np


def quiet_predict(predict, **kwargs):
    """``predict(**kwargs)`` of a fit drawn in a figure, with floating-point warnings off (a grid may leave a
    law's domain) and, where the predictor takes it, ``warn=False``: a band over a plot's grid reaches past the
    fitted runs by design, and the report states each prediction's extrapolation itself."""
    try:
        quiet = "warn" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        quiet = False
    with np.errstate(all="ignore"):
        return predict(**kwargs, **({"warn": False} if quiet else {}))

PF_DAY = 8.64e19  # FLOPs in one petaflop/s-day


def kaplan_allocation(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan et al. 2020 compute-efficient frontier: N = 1.3e9·(C/PF-day)^0.73 parameters (Table 6),
    D = C / (6N) tokens (so D ∝ C^0.27)."""
    C = np.asarray(C, float)
    N = 1.3e9 * (C / PF_DAY) ** 0.73
    return N, C / (6.0 * N)


def chinchilla_allocation(C: np.ndarray, tokens_per_param: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Chinchilla rule of thumb (Hoffmann et al. 2022): D = 20·N, C = 6ND → N = sqrt(C/120)."""
    C = np.asarray(C, float)
    N = np.sqrt(C / (6.0 * tokens_per_param))
    return N, tokens_per_param * N


def optimal_frontier(evaluate, theta: np.ndarray, C: np.ndarray, *, n_grid: int = 161,
                     span: tuple[float, float] = (-3.0, 2.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum over N of ``L(N, D=C/(6N))`` for each compute ``C``, batched over parameter sets.

    ``evaluate(theta, X)`` is a law's evaluation with ``theta`` of shape ``(B, P)`` (or ``(P,)``).
    Returns ``(L*, N*, D*)`` of shape ``(B, len(C))`` (or ``(len(C),)``). The search is a log-spaced grid of
    tokens-per-parameter ratios around ``N = sqrt(C/6)`` refined by a parabola through the best three points.
    """
    theta = np.asarray(theta, float)
    single = theta.ndim == 1
    th = theta[None, :] if single else theta
    C = np.asarray(C, float)
    log_r = np.linspace(span[0], span[1], n_grid)
    logN = 0.5 * np.log10(C / 6.0)[:, None] + log_r[None, :]                  # (nC, n_grid)
    N = 10.0**logN
    D = C[:, None] / (6.0 * N)
    with np.errstate(all="ignore"):
        L = np.asarray(evaluate(th, {"N": N.ravel(), "D": D.ravel()}), float).reshape(len(th), len(C), n_grid)
    L = np.where(np.isfinite(L), L, np.inf)
    k = np.clip(np.argmin(L, axis=-1), 1, n_grid - 2)                          # (B, nC)
    idx = np.arange(len(C))[None, :]
    y0 = np.take_along_axis(L, (k - 1)[..., None], -1)[..., 0]
    y1 = np.take_along_axis(L, k[..., None], -1)[..., 0]
    y2 = np.take_along_axis(L, (k + 1)[..., None], -1)[..., 0]
    h = log_r[1] - log_r[0]
    with np.errstate(all="ignore"):
        denom = y0 - 2 * y1 + y2
        shift = np.where((denom > 0) & np.isfinite(denom), 0.5 * (y0 - y2) / denom, 0.0)
    shift = np.clip(np.nan_to_num(shift), -1.0, 1.0)
    logN_opt = logN[idx, k] + shift * h
    L_opt = y1 - 0.25 * (y0 - y2) * shift
    L_opt = np.where(np.isfinite(L_opt), np.minimum(L_opt, y1), np.nan)
    N_opt = 10.0**logN_opt
    D_opt = C[None, :] / (6.0 * N_opt)
    if single:
        return L_opt[0], N_opt[0], D_opt[0]
    return L_opt, N_opt, D_opt


def isoflop_groups(flops: np.ndarray, *, gap_dex: float = 0.05, min_size: int = 3,
                   params: np.ndarray | None = None) -> np.ndarray:
    """Label each run with an IsoFLOP budget id (-1 = not part of a profile).

    Runs whose log10 compute lie within ``gap_dex`` of a neighbour share a budget; budgets with fewer than
    ``min_size`` runs (or fewer than 3 distinct model sizes when ``params`` is given) are dropped.
    """
    c = np.asarray(flops, float)
    labels = np.full(len(c), -1)
    ok = np.isfinite(c) & (c > 0)
    if ok.sum() < min_size:
        return labels
    order = np.flatnonzero(ok)[np.argsort(np.log10(c[ok]))]
    lc = np.log10(c[order])
    breaks = np.flatnonzero(np.diff(lc) > gap_dex) + 1
    gid = 0
    for chunk in np.split(order, breaks):
        if len(chunk) < min_size:
            continue
        if params is not None and len(np.unique(np.round(np.log10(params[chunk]), 3))) < 3:
            continue
        # a "budget" spanning more than 0.3 dex is a continuum (e.g. random sizes), not an IsoFLOP profile
        if np.ptp(np.log10(c[chunk])) > 0.3:
            continue
        labels[chunk] = gid
        gid += 1
    return labels


def parabola_optimum(N: np.ndarray, loss: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    """Chinchilla Approach 2: fit ``loss ≈ a·x² + b·x + c`` in ``x = log10 N``; return (N*, L*, coeffs), or
    None when the parabola is not convex or its minimum lies outside the sampled sizes."""
    x = np.log10(np.asarray(N, float))
    y = np.asarray(loss, float)
    m = np.isfinite(x) & np.isfinite(y)
    if m.sum() < 3 or np.ptp(x[m]) == 0:
        return None
    coef = np.polyfit(x[m], y[m], 2)
    if coef[0] <= 0:
        return None
    x0 = -coef[1] / (2 * coef[0])
    if not (x[m].min() <= x0 <= x[m].max()):
        return None
    return float(10**x0), float(np.polyval(coef, x0)), coef
