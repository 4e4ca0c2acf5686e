"""The compute-optimal kernel every planning query builds on: along ``C = 6 N D`` the loss-minimising
(N, D) per parameter draw (closed form for the Chinchilla law, a shared log-N grid refined by a parabola
otherwise), its inverse (the least compute for a target loss), the tokens that reach a loss at a given N,
and the compute-optimal frontier. ``allocation.py`` (plans), ``inference.py`` and ``data_constrained.py``
all import it; it imports none of them (no import circle in ``plan/``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._errors import PlanError
from ._law import LawSpec

__all__ = ["FLOP_CONVENTION", "optimum", "optimal_loss_curve", "optimum_for_loss_rows"]

FLOP_CONVENTION = "C = 6ND (training FLOPs; 2ND forward + 4ND backward, attention and embeddings ignored)"

_GRID_DECADES = 6.0
_GRID_POINTS = 1201



# --------------------------------------------------------------------------------------------- validation
def _positive(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise PlanError(f"{what} must be a positive finite number, got {v:g}")
    return v


def _quantity(value, what: str) -> float:
    if isinstance(value, str):
        from ..units import parse_quantity

        value = parse_quantity(value, what=what)
    return _positive(value, what)


# --------------------------------------------------------------------------------------------- core solvers
def _chinchilla_cols(thetas: np.ndarray):
    return (thetas[:, 0], thetas[:, 1], thetas[:, 2], thetas[:, 3], thetas[:, 4])


def _fixed_arrays(fixed: Mapping[str, float] | None, n: int) -> dict[str, np.ndarray]:
    return {k: np.full(n, float(v)) for k, v in (fixed or {}).items()}


def optimum(spec: LawSpec, flops: float, *, fixed: Mapping[str, float] | None = None,
            numeric: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute-optimal ``(N, D, L)`` for every row of ``spec.thetas()`` (row 0 = central), ``C = 6ND``.

    ``fixed`` holds values for the law's other variables (e.g. ``{"U": 4e12}``); ``numeric=True`` forces
    the grid solver even for the Chinchilla form (used to cross-check the closed form). Rows without an
    interior optimum (the law keeps improving towards an edge of the search range) are NaN.

    Raises
    ------
    PlanError
        If ``flops`` is not a positive finite number, or the law lacks N and D or needs another variable that
        ``fixed`` does not give.
    """
    C = _positive(flops, "compute budget (FLOPs)")
    thetas = spec.thetas()
    if spec.is_chinchilla and not numeric and not fixed:
        E, A, B, al, be = _chinchilla_cols(thetas)
        with np.errstate(all="ignore"):
            s = al + be
            G = (al * A / (be * B)) ** (1.0 / s)
            N = G * (C / 6.0) ** (be / s)
            D = C / (6.0 * N)
            L = E + A * N ** -al + B * D ** -be
        return N, D, L
    spec.require("N", "D", what="compute-optimal allocation")
    others = [v for v in spec.variables if v not in ("N", "D") and v not in (fixed or {})]
    if others:
        hint = " (unique tokens: --unique-tokens / unique_tokens=)" if "U" in others else ""
        raise PlanError(f"law {spec.name!r} also needs {', '.join(others)}: give a value for it{hint}")
    centre = 0.5 * math.log(C / 6.0)
    x = np.linspace(centre - _GRID_DECADES * math.log(10), centre + _GRID_DECADES * math.log(10), _GRID_POINTS)
    N = np.exp(x)
    X = {"N": N, "D": C / (6.0 * N), **_fixed_arrays(fixed, N.size)}
    with np.errstate(all="ignore"):
        Lg = np.asarray(spec.law.evaluate(thetas, X), dtype=float)
    Lg = np.where(np.isfinite(Lg), Lg, np.inf)
    xs, Ls = _parabola_min(x, Lg)
    Nopt = np.exp(xs)
    return Nopt, C / (6.0 * Nopt), Ls


def _parabola_min(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise minimum of ``y (B, n)`` over the even grid ``x (n,)``, refined by a 3-point parabola.

    Rows whose minimum is at the edge of the grid (no interior optimum) or not finite give NaN.
    """
    h = x[1] - x[0]
    i = np.argmin(y, axis=1)
    rows = np.arange(y.shape[0])
    interior = (i > 0) & (i < y.shape[1] - 1)
    ii = np.clip(i, 1, y.shape[1] - 2)
    y0, y1, y2 = y[rows, ii - 1], y[rows, ii], y[rows, ii + 1]
    with np.errstate(all="ignore"):
        b = (y2 - y0) / (2 * h)
        c = (y0 - 2 * y1 + y2) / (2 * h * h)
        dx = np.where(c > 0, np.clip(-b / (2 * c), -h, h), 0.0)
        ymin = np.where(c > 0, y1 - b * b / (4 * c), y1)
    ok = interior & np.isfinite(y1)
    return np.where(ok, x[ii] + dx, np.nan), np.where(ok, ymin, np.nan)


def optimal_loss_curve(spec: LawSpec, flops: np.ndarray, *, fixed=None) -> np.ndarray:
    """Compute-optimal loss ``L*(C)`` of the central parameters at each budget in ``flops``."""
    flops = np.atleast_1d(np.asarray(flops, dtype=float))
    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name)
    return np.array([optimum(central, c, fixed=fixed)[2][0] for c in flops])


def _eval_rows(law, thetas: np.ndarray, X: Mapping[str, np.ndarray], chunk: int = 256) -> np.ndarray:
    """``law`` at one point per parameter row: ``thetas (B, P)``, ``X[v] (B,)`` → ``(B,)``."""
    B = thetas.shape[0]
    out = np.empty(B)
    for s in range(0, B, chunk):
        sl = slice(s, min(B, s + chunk))
        with np.errstate(all="ignore"):
            full = np.asarray(law.evaluate(thetas[sl], {k: v[sl] for k, v in X.items()}), dtype=float)
        out[sl] = np.diagonal(full)
    return out


def _compute_for_loss_rows(spec: LawSpec, target: float, *, fixed=None, max_draws: int = 100) -> np.ndarray:
    """Minimal C with ``L*(C) = target`` per row of ``spec.thetas()``: +inf where the row's loss stays above
    the target at any budget (its floor is at or above it), NaN where no answer was found."""
    thetas = spec.thetas()
    if spec.is_chinchilla and not fixed:
        E, A, B, al, be = _chinchilla_cols(thetas)
        with np.errstate(all="ignore"):
            s = al + be
            G = (al * A / (be * B)) ** (1.0 / s)
            k = A * G ** -al * (1.0 + al / be)  # L* - E = k (C/6)^(-al*be/s)
            C = 6.0 * ((target - E) / k) ** (-s / (al * be))
        return np.where(target > E, C, np.where(np.isfinite(E), np.inf, np.nan))
    rows = thetas[: 1 + max_draws]
    out = np.full(rows.shape[0], np.nan)
    for r, th in enumerate(rows):
        single = LawSpec(law=spec.law, theta=th, name=spec.name)
        out[r] = _bisect_log(lambda c, s=single: optimum(s, c, fixed=fixed)[2][0] - target, 1e6, 1e40)
    return out


def _bisect_log(f, lo: float, hi: float, iters: int = 80) -> float:
    """Root of a decreasing ``f`` in ``[lo, hi]`` by bisection in log space; +inf when ``f`` is still positive
    at the top of the bracket (the target is out of reach), NaN without an answer."""
    a, b = math.log(lo), math.log(hi)
    fa, fb = f(lo), f(hi)
    while not np.isfinite(fb) and b - a > 2 * math.log(10):  # no optimum that far out: shrink the bracket
        b -= math.log(10)
        fb = f(math.exp(b))
    if np.isfinite(fa) and np.isfinite(fb) and fb > 0:
        return math.inf
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa < 0:
        return math.nan
    for _ in range(iters):
        m = 0.5 * (a + b)
        fm = f(math.exp(m))
        if not np.isfinite(fm):
            return math.nan
        if fm > 0:
            a = m
        else:
            b = m
    return math.exp(0.5 * (a + b))


def _tokens_for_loss_rows(spec: LawSpec, N: float, target: float, *, fixed=None) -> np.ndarray:
    """Training tokens D with ``L(N, D) = target`` per row (NaN where the target is below the N floor)."""
    thetas = spec.thetas()
    if spec.is_chinchilla and not fixed:
        E, A, B, al, be = _chinchilla_cols(thetas)
        with np.errstate(all="ignore"):
            gap = target - E - A * N ** -al
            D = (B / gap) ** (1.0 / be)
        return np.where(gap > 0, D, np.nan)
    # vectorised bisection in log D over rows
    Bn = thetas.shape[0]
    lo, hi = np.full(Bn, math.log(1.0)), np.full(Bn, math.log(1e40))
    Nrow = np.full(Bn, N)
    fx = _fixed_arrays(fixed, Bn)
    f_hi = _eval_rows(spec.law, thetas, {"N": Nrow, "D": np.exp(hi), **fx}) - target
    f_lo = _eval_rows(spec.law, thetas, {"N": Nrow, "D": np.exp(lo), **fx}) - target
    ok = (f_hi < 0) & (f_lo > 0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        fm = _eval_rows(spec.law, thetas, {"N": Nrow, "D": np.exp(mid), **fx}) - target
        lo, hi = np.where(fm > 0, mid, lo), np.where(fm > 0, hi, mid)
    return np.where(ok, np.exp(0.5 * (lo + hi)), np.nan)


def _frontier_tokens_rows(spec: LawSpec, N: float, *, fixed=None, max_draws: int = 100) -> np.ndarray:
    """D such that (N, D) is compute-optimal (N* at C = 6 N D equals N), per row."""
    thetas = spec.thetas()
    if spec.is_chinchilla and not fixed:
        E, A, B, al, be = _chinchilla_cols(thetas)
        with np.errstate(all="ignore"):
            s = al + be
            G = (al * A / (be * B)) ** (1.0 / s)
            C6 = (N / G) ** (s / be)
        return C6 / N
    rows = thetas[: 1 + max_draws]
    out = np.full(rows.shape[0], np.nan)
    for r, th in enumerate(rows):
        single = LawSpec(law=spec.law, theta=th, name=spec.name)
        C = _bisect_log(lambda c, s=single: N - optimum(s, c, fixed=fixed)[0][0], 1e6, 1e40)
        out[r] = C / (6.0 * N)
    return out


def optimum_for_loss_rows(spec: LawSpec, target: float, *, fixed=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``spec.thetas()``: the least compute ``C`` (FLOPs) whose compute-optimal loss is
    ``target`` (nats/token) and the compute-optimal ``N`` (parameters), ``D`` (tokens) there; +inf where
    the row never reaches it (no budget does: its draw of the law needs unbounded compute), NaN where no
    answer was found."""
    C = _compute_for_loss_rows(spec, target, fixed=fixed)
    N = np.where(np.isinf(C), np.inf, np.nan)
    D = N.copy()
    for r in np.flatnonzero(np.isfinite(C)):
        row = LawSpec(law=spec.law, theta=spec.thetas()[r], name=spec.name)
        n, d, _ = optimum(row, C[r], fixed=fixed)
        N[r], D[r] = n[0], d[0]
    return C, N, D
