"""Multi-start minimisation: variable-projection candidates (or a start grid), one batched LM polish with
pruning, an L-BFGS-B certification of the best point, and a count of starts that reached the best basin."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ._solvers import LMResult, Problem, certify, levenberg_marquardt
from ._starts import data_starts, needs_data_starts
from ._varpro import linear_structure, varpro_candidates

__all__ = ["MultiStartResult", "multistart", "polish", "VARPRO_BUDGET", "POLISH_STARTS"]

#: exponent-grid points scanned by variable projection (32 x 32 for two exponents)
VARPRO_BUDGET = 1024
#: best variable-projection candidates polished by the batched LM
POLISH_STARTS = 128
#: largest start grid polished as is; bigger grids are ranked by their initial objective first
MAX_GRID = 20000


@dataclass
class MultiStartResult:
    """Best solution of a multi-start fit: ``theta`` ``(P,)`` natural space, ``u`` ``(P,)`` fit space,
    ``objective``, ``grad_norm``, ``iterations``, ``converged``, ``method`` (``varpro``, ``grid``, ...),
    start counts (``n_starts``, ``n_polished``, ``n_in_best_basin``), ``start_objectives`` ``(n_starts,)``,
    ``time_s`` (seconds) and the batched solver's `LMResult` (``lm``).
    """
    theta: np.ndarray
    u: np.ndarray
    objective: float
    grad_norm: float
    iterations: int
    converged: bool
    method: str
    n_starts: int
    n_polished: int
    n_in_best_basin: int
    start_objectives: np.ndarray
    time_s: float
    lm: LMResult | None = field(default=None, repr=False)


def _dedupe(theta: np.ndarray, fs) -> np.ndarray:
    """Indices of rows with distinct working-scale values (rounded)."""
    z = fs.working(theta)
    key = np.round(z, 6)
    _, idx = np.unique(key, axis=0, return_index=True)
    return np.sort(idx)


def multistart(problem: Problem, W: np.ndarray | None = None, *, starts: np.ndarray | None = None,
               method: str = "auto", extra_starts: list[np.ndarray] | None = None,
               polish_starts: int = POLISH_STARTS, varpro_budget: int = VARPRO_BUDGET,
               certify_best: bool = True) -> MultiStartResult:
    """Minimise ``problem`` from many starts at once; see the module docstring."""
    t0 = time.perf_counter()
    law, fs = problem.law, problem.fitspace
    extra = [np.asarray(e, float) for e in (extra_starts or []) if e is not None]
    structure = linear_structure(law, problem.X, problem.y) if (starts is None and method in ("auto", "varpro")) else None
    if method == "varpro" and structure is None:
        method = "grid"
    if starts is not None:
        cand = np.atleast_2d(np.asarray(starts, float))
        used = "user-starts"
        n_starts = len(cand)
    elif structure is not None:
        lin, nl = structure
        extra_nl = np.array([e[nl] for e in extra]) if extra else None
        cand, f_c = varpro_candidates(problem, lin, nl, W, budget=varpro_budget, extra_nl=extra_nl)
        n_starts = len(cand)
        if extra:
            cand = np.vstack([cand, np.array(extra)])
            f_c = np.concatenate([f_c, problem.value(fs.to_fit(np.array(extra)), W)])
        order = np.argsort(f_c)
        order = order[np.isfinite(f_c[order])]
        cand = cand[order]
        cand = cand[_dedupe(cand, fs)] if len(cand) else cand
        # re-sort after dedupe and keep the best few
        fc2 = problem.value(fs.to_fit(cand), W) if len(cand) else np.zeros(0)
        cand = cand[np.argsort(fc2)[:polish_starts]]
        used = "varpro"
    else:
        cand = data_starts(law, problem.X, problem.y) if needs_data_starts(law) else law.start_grid()
        if extra:
            cand = np.vstack([cand, np.array(extra)])
        n_starts = len(cand)
        if len(cand) > MAX_GRID:
            f0 = problem.value(fs.to_fit(cand), W)
            cand = cand[np.argsort(f0)[:MAX_GRID]]
        used = "grid"
    u0 = fs.to_fit(cand) if len(cand) else np.zeros((0, law.n_params))
    if len(u0) == 0:
        return MultiStartResult(theta=np.full(law.n_params, np.nan), u=np.full(law.n_params, np.nan),
                                objective=math.inf, grad_norm=math.inf, iterations=0, converged=False,
                                method=used, n_starts=n_starts, n_polished=0, n_in_best_basin=0,
                                start_objectives=np.zeros(0), time_s=time.perf_counter() - t0)
    res = levenberg_marquardt(problem, u0, W, prune_after=5 if len(u0) > 16 else None, keep=8)
    finite = np.isfinite(res.f)
    if not finite.any():
        return MultiStartResult(theta=np.full(law.n_params, np.nan), u=np.full(law.n_params, np.nan),
                                objective=math.inf, grad_norm=math.inf, iterations=int(res.iterations.max()),
                                converged=False, method=used, n_starts=n_starts, n_polished=len(u0),
                                n_in_best_basin=0, start_objectives=res.f, time_s=time.perf_counter() - t0, lm=res)
    b = int(np.argmin(np.where(finite, res.f, np.inf)))
    ms = MultiStartResult(theta=fs.to_natural(res.u[b]), u=res.u[b], objective=float(res.f[b]),
                          grad_norm=float(res.grad_norm[b]), iterations=int(res.iterations[b]),
                          converged=bool(res.converged[b]), method=used, n_starts=n_starts, n_polished=len(u0),
                          n_in_best_basin=1, start_objectives=res.f, time_s=time.perf_counter() - t0, lm=res)
    return polish(problem, ms, W, certify_best=certify_best)


def polish(problem: Problem, ms: MultiStartResult, W: np.ndarray | None = None, *,
           certify_best: bool = True, maxiter: int = 2000) -> MultiStartResult:
    """Certify the best point of ``ms`` (L-BFGS-B, see `certify`) and count the starts in its basin.

    ``multistart(..., certify_best=False)`` followed by ``polish`` is ``multistart`` with a chance to look
    at the batched solver's best point first (``fit`` uses it to stop degenerate fits early)."""
    t0 = time.perf_counter()
    fs, res = problem.fitspace, ms.lm
    u_best, f_best, g_best = ms.u, ms.objective, ms.grad_norm
    if certify_best:
        u_best, f_best, g_best = certify(problem, u_best, W, maxiter=maxiter)
    theta = fs.to_natural(u_best)
    # best basin: objective within 1e-6 relative AND working-scale parameters close
    z_best = fs.working(theta)
    z_all = fs.working(fs.to_natural(res.u))
    close = np.all(np.abs(z_all - z_best) <= 1e-2 * (1 + np.abs(z_best)), axis=-1)
    in_basin = int(np.sum((res.f <= f_best * (1 + 1e-6) + 1e-300) & close))
    return MultiStartResult(theta=theta, u=u_best, objective=f_best, grad_norm=g_best,
                            iterations=ms.iterations, converged=ms.converged, method=ms.method,
                            n_starts=ms.n_starts, n_polished=ms.n_polished, n_in_best_basin=max(in_basin, 1),
                            start_objectives=res.f, time_s=ms.time_s + time.perf_counter() - t0, lm=res)
