"""Batched solvers: a damped Gauss-Newton / Levenberg-Marquardt with IRLS weights over many starts at once.

Every start (or bootstrap resample) is a row of a batch: parameters ``u (S, P)`` in fit space, per-row
run weights ``W (S, n)`` (bootstrap resamples are multinomial count weights on the same runs, so the law
is always evaluated on one shared ``X``). One iteration costs one batched residual + Jacobian evaluation
``(S, n, P)``, two einsums and one batched ``(S, P, P)`` solve; rows that converge or are pruned leave the
batch so the work shrinks as the solve proceeds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..laws import Law
from ._objectives import Objective, Penalty
from ._space import FitSpace

__all__ = ["Problem", "LMResult", "levenberg_marquardt", "certify", "gauss_newton_covariance", "one_blas_thread"]


_BLAS: list = []  # the threadpoolctl controller of the BLAS libraries, found once (a scan reads files: ~1 ms)


def one_blas_thread():
    """A context in which BLAS runs on one thread (`threadpoolctl`; the limit is lifted on leaving it). The
    solves here are tiny (a handful of parameters, at most thousands of runs), and OpenBLAS threads that
    spin-wait for work made a fit 2-3x slower on a busy 2-core machine (7.4-8.0 s against 3.2 s for one
    public table's default fit); a no-op without threadpoolctl. The libraries are found once, numpy's and
    scipy's (whose L-BFGS-B `certify` uses): scanning them on every solve cost a default fit 25 %."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency; kept optional for old environments
        return contextlib.nullcontext()
    if not _BLAS:
        import scipy.optimize  # noqa: F401  (loads scipy's own OpenBLAS before the scan)

        _BLAS.append(ThreadpoolController().select(user_api="blas"))
    return _BLAS[0].limit(limits=1)


@dataclass(frozen=True)
class Problem:
    """A fitting problem: a law, its data and an objective; residuals in ``space`` ("log" or "linear")."""

    law: Law
    X: Mapping[str, np.ndarray]
    y: np.ndarray
    objective: Objective
    space: str = "log"
    #: optional natural-space ``(lower, upper)`` arrays ``(P,)`` that tighten the law's bounds
    bounds: tuple | None = None
    #: optional prior term (`Penalty`): extra residual rows after the runs' residuals
    penalty: Penalty | None = None

    @cached_property  # computed on first use, stored in the instance dict (the frozen fields never change)
    def fitspace(self) -> FitSpace:
        """The law's natural ⇄ fit-space transform (`FitSpace`, with ``bounds`` if given), built once and
        cached."""
        return FitSpace(self.law) if self.bounds is None else FitSpace(self.law, *self.bounds)

    @cached_property
    def y_work(self) -> np.ndarray:
        """Observations in residual space, shape ``(n_runs,)``: ``log(y)`` for ``space="log"``, else ``y``."""
        return np.log(self.y) if self.space == "log" else np.asarray(self.y, float)

    def pad_weights(self, W: np.ndarray | None) -> np.ndarray | None:
        """Run weights ``(n,)`` or ``(S, n)`` extended with weight 1 for the penalty rows (None stays None)."""
        if W is None or self.penalty is None:
            return W
        W = np.asarray(W, float)
        return np.concatenate([W, np.ones(W.shape[:-1] + (self.penalty.size,))], axis=-1)

    def residuals_theta(self, theta: np.ndarray) -> np.ndarray:
        """Residuals ``(..., n)`` at natural ``theta (..., P)`` (``(..., n + k)`` with a k-row penalty)."""
        with np.errstate(all="ignore"):
            pred = self.law.log_evaluate(theta, self.X) if self.space == "log" else self.law.evaluate(theta, self.X)
            r = pred - self.y_work
            if self.penalty is not None:
                p, _ = self.penalty.terms(np.asarray(theta, float))
                r = np.concatenate([r, np.broadcast_to(p, r.shape[:-1] + (self.penalty.size,))], axis=-1)
            return r

    def residuals(self, u: np.ndarray) -> np.ndarray:
        """Residuals ``(..., n_runs)`` at fit-space parameters ``u`` of shape ``(..., P)``."""
        return self.residuals_theta(self.fitspace.to_natural(u))

    def residuals_jac(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals ``(S, n)`` and their fit-space Jacobian ``(S, n, P)``."""
        theta, dtheta = self.fitspace.dnatural_du(u)
        with np.errstate(all="ignore"):
            if self.space == "log":
                logy, J = self.law.log_evaluate_jacobian(theta, self.X)
                r = logy - self.y_work
            else:
                r = self.law.evaluate(theta, self.X) - self.y_work
                J = self.law.jacobian(theta, self.X)
            if self.penalty is not None:
                p, dp = self.penalty.terms(theta)
                r = np.concatenate([r, np.broadcast_to(p, r.shape[:-1] + (self.penalty.size,))], axis=-1)
                J = np.concatenate([J, np.broadcast_to(dp, J.shape[:-2] + dp.shape[-2:])], axis=-2)
            J = J * dtheta[..., None, :]
        return r, J

    def value(self, u: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
        """Objective ``(...,)`` at fit-space ``u`` ``(..., P)``, optionally weighted by ``W`` ``(n_runs,)``."""
        return self.objective.value(self.residuals(u), self.pad_weights(W))


@dataclass
class LMResult:
    """Result of a batched Levenberg-Marquardt / IRLS solve over S starts: ``u`` ``(S, P)`` final fit-space
    parameters, ``f`` ``(S,)`` objective, ``iterations`` ``(S,)``, ``grad_norm`` ``(S,)`` (fit space),
    ``converged`` and ``alive`` (not pruned) ``(S,)`` booleans.
    """
    u: np.ndarray           # (S, P) final fit-space parameters
    f: np.ndarray           # (S,) final objective
    iterations: np.ndarray  # (S,) iterations used per row
    grad_norm: np.ndarray   # (S,) final gradient norm (fit space)
    converged: np.ndarray   # (S,) bool
    alive: np.ndarray       # (S,) bool: not pruned


def _grad_hess(obj: Objective, r, J, W, curvature):
    psi = obj.psi(r) * W
    c = obj.curvature(r, curvature) * W
    Jt = np.swapaxes(J, -1, -2)
    g = np.matmul(Jt, psi[..., None])[..., 0]
    H = np.matmul(Jt, J * c[..., None])
    return g, H


def _solve(H: np.ndarray, g: np.ndarray, mu: np.ndarray) -> np.ndarray:
    P = g.shape[-1]
    d = np.diagonal(H, axis1=-2, axis2=-1)
    dmax = np.max(np.abs(d), axis=-1, keepdims=True)
    dmax = np.where(np.isfinite(dmax) & (dmax > 0), dmax, 1.0)
    scale = np.maximum(d, 1e-9 * dmax)
    A = H + (mu[:, None] * scale + 1e-14 * dmax)[..., None] * np.eye(P)
    bad = ~np.all(np.isfinite(A), axis=(-2, -1)) | ~np.all(np.isfinite(g), axis=-1)
    if bad.any():
        A = A.copy()
        A[bad] = np.eye(P)
        g = np.where(bad[:, None], 0.0, g)
    try:
        return -np.linalg.solve(A, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(g)
        for i in range(len(g)):
            out[i] = -np.linalg.lstsq(A[i], g[i], rcond=None)[0]
        return out


def levenberg_marquardt(
    problem: Problem,
    u0: np.ndarray,
    W: np.ndarray | None = None,
    *,
    max_iter: int = 200,
    ftol: float = 1e-12,
    xtol: float = 1e-10,
    gtol: float = 1e-12,
    prune_after: int | None = None,
    keep: int = 32,
    keep_rel: float = 0.5,
    curvature: str = "hybrid",
    irls_iters: int = 5,
    mu0: float = 1e-3,
) -> LMResult:
    """Minimise ``problem`` from every row of ``u0 (S, P)`` at once.

    ``W`` is ``(n,)`` or ``(S, n)`` run weights. If ``prune_after`` is set, after that many iterations only
    the ``keep`` best rows and rows within ``keep_rel`` (relative) of the best objective continue; the
    others are frozen (``alive = False``). A row converges when an accepted step changes the objective by
    less than ``ftol`` (relative) and the parameters by less than ``xtol``, or when its gradient norm is below
    ``gtol * (1 + f)``, or when no step can decrease the objective any more (damping saturated).

    ``curvature``: "irls" (``psi(r)/r`` weights: a majoriser, robust far from the optimum), "exact"
    (``rho''``: Newton-fast once the set of runs inside the Huber threshold settles) or "hybrid" (IRLS for
    the first ``irls_iters`` iterations, then exact; the default).
    """
    with np.errstate(all="ignore"), one_blas_thread():
        return _lm(problem, u0, W, max_iter=max_iter, ftol=ftol, xtol=xtol, gtol=gtol, prune_after=prune_after,
                   keep=keep, keep_rel=keep_rel, curvature=curvature, irls_iters=irls_iters, mu0=mu0)


def _lm(problem, u0, W, *, max_iter, ftol, xtol, gtol, prune_after, keep, keep_rel, curvature, irls_iters, mu0):
    u = np.array(u0, dtype=float, copy=True)
    S, P = u.shape
    n = len(problem.y)
    if W is None:
        W = np.ones(n)
    W = problem.pad_weights(np.asarray(W, dtype=float))
    per_row_w = W.ndim == 2
    obj = problem.objective

    r, J = problem.residuals_jac(u)
    f = obj.value(r, W)
    mu = np.full(S, mu0)
    iters = np.zeros(S, dtype=int)
    converged = np.zeros(S, dtype=bool)
    alive = np.isfinite(f)
    gnorm = np.full(S, np.inf)
    active = np.flatnonzero(alive)
    # cached residuals / Jacobians for active rows
    r_a, J_a = r[active], J[active]

    for it in range(max_iter):
        if active.size == 0:
            break
        if prune_after is not None and it == prune_after and active.size > keep:
            fa = f[active]
            best = np.min(f[alive]) if alive.any() else np.inf
            order = np.argsort(fa)
            keep_mask = np.zeros(active.size, dtype=bool)
            keep_mask[order[:keep]] = True
            keep_mask |= fa <= best * (1 + keep_rel)
            alive[active[~keep_mask]] = False
            active, r_a, J_a = active[keep_mask], r_a[keep_mask], J_a[keep_mask]
            if active.size == 0:
                break
        Wa = W[active] if per_row_w else W[None, :]
        kind = curvature if curvature != "hybrid" else ("irls" if it < irls_iters else "exact")
        g, H = _grad_hess(obj, r_a, J_a, np.broadcast_to(Wa, r_a.shape), kind)
        gnorm[active] = np.sqrt(np.sum(g * g, axis=-1))
        step = _solve(H, g, mu[active])
        u_new = u[active] + step
        f_new = obj.value(problem.residuals(u_new), Wa)
        fa = f[active]
        accept = f_new < fa
        iters[active] += 1
        # convergence tests
        small_f = (fa - f_new) <= ftol * np.maximum(np.abs(fa), 1e-300)
        small_x = np.max(np.abs(step), axis=-1) <= xtol * (1 + np.max(np.abs(u[active]), axis=-1))
        small_g = gnorm[active] <= gtol * (1 + np.abs(fa))
        stalled = ~accept & (mu[active] > 1e12)
        done = (accept & small_f & small_x) | small_g | stalled
        acc_idx = active[accept]
        u[acc_idx] = u_new[accept]
        f[acc_idx] = f_new[accept]
        mu[active] = np.where(accept, np.maximum(mu[active] / 3.0, 1e-15), mu[active] * 4.0)
        converged[active[done]] = True
        # update cache: recompute r/J for accepted rows still active
        keep_rows = ~done
        if accept.any():
            ra_new, Ja_new = problem.residuals_jac(u[acc_idx])
            r_a = r_a.copy()
            J_a = J_a.copy()
            r_a[accept], J_a[accept] = ra_new, Ja_new
        active, r_a, J_a = active[keep_rows], r_a[keep_rows], J_a[keep_rows]

    # final gradient norms for the rows still reported
    return LMResult(u=u, f=f, iterations=iters, grad_norm=gnorm, converged=converged, alive=alive)


def certify(problem: Problem, u: np.ndarray, W: np.ndarray | None = None, *, maxiter: int = 2000):
    """Refine one start with scipy's L-BFGS-B (exact gradient, tight tolerances); returns (u, f, grad_norm).

    Used after the batched solver to certify that no nearby point is better; it keeps the better of its
    input and its output.
    """
    from scipy.optimize import minimize

    u = np.asarray(u, dtype=float)
    n = len(problem.y)
    Wv = problem.pad_weights(np.ones(n) if W is None else np.asarray(W, float))
    obj = problem.objective

    def fun(x):
        r, J = problem.residuals_jac(x[None, :])
        f = float(obj.value(r, Wv)[0])
        if not np.isfinite(f):
            return 1e300, np.zeros_like(x)
        g = np.einsum("snp,sn->p", J, obj.psi(r) * Wv)
        return f, g

    with np.errstate(all="ignore"), one_blas_thread():
        return _certify(fun, u, minimize, maxiter)


#: certify stops when the objective improved by less than STALL_RTOL (relative) over STALL_ITERS iterations
#: (a point sliding along a flat valley towards a bound would otherwise use all ``maxiter`` iterations)
STALL_ITERS, STALL_RTOL = 40, 1e-12


def _certify(fun, u, minimize, maxiter):
    f0, g0 = fun(u)
    hist: list[float] = []

    def stall(intermediate_result):
        hist.append(float(intermediate_result.fun))
        if len(hist) > STALL_ITERS and hist[-STALL_ITERS - 1] - hist[-1] <= STALL_RTOL * abs(hist[-1]):
            raise StopIteration

    res = minimize(fun, u, jac=True, method="L-BFGS-B", callback=stall,
                   options={"ftol": 1e-15, "gtol": 1e-14, "maxiter": maxiter, "maxcor": 20})
    f1, g1 = fun(res.x)
    if f1 < f0:
        return res.x, f1, float(np.linalg.norm(g1))
    return u, f0, float(np.linalg.norm(g0))


#: eigenvalues of ``J^T W J`` below this fraction of the largest are directions the runs do not constrain:
#: the covariance's pseudo-inverse gives them zero variance (`gauss_newton_covariance`), so the parameters
#: along them are reported as unidentified instead (`unidentified_parameters`)
NULL_RCOND = 1e-12


def gauss_newton_information(problem: Problem, u: np.ndarray, W=None) -> np.ndarray | None:
    """``J^T W J`` ``(P, P)`` of the fit-space parameters ``u`` (``W``: run weights ``(n,)``); None when the
    Jacobian is not finite."""
    r, J = problem.residuals_jac(np.asarray(u, float)[None, :])
    J = J[0]
    if not np.all(np.isfinite(J)):
        return None
    w = problem.pad_weights(np.ones(len(problem.y)) if W is None else np.asarray(W, float))
    return J.T @ (J * w[:, None])


def unidentified_parameters(H: np.ndarray | None) -> list[int]:
    """Indices of the parameters that move the fit along a direction the runs do not constrain, from the
    information ``H`` (`gauss_newton_information`): an eigenvector with eigenvalue at most `NULL_RCOND` of the
    largest, on which the parameter has at least 5 % of its weight (a term that has vanished from every run:
    ``A N^-alpha`` with alpha at 5 and A near 0, an E of 1e-10 beside losses of 3). The covariance's
    pseudo-inverse would give them zero width."""
    if H is None:
        return []
    lam, V = np.linalg.eigh(H)
    null = lam <= NULL_RCOND * max(float(lam[-1]), 0.0)
    if not np.any(null):
        return []
    return [int(j) for j in np.flatnonzero(np.max(V[:, null] ** 2, axis=1) >= 0.05)]


def gauss_newton_covariance(problem: Problem, u: np.ndarray, noise: float, W=None,
                            H: np.ndarray | None = None) -> np.ndarray | None:
    """Gauss-Newton covariance ``noise^2 (J^T W J)^-1`` ``(P, P)`` of the fit-space parameters ``u`` ``(P,)``
    (``noise``: residual sd in residual units; ``W``: run weights ``(n,)``; ``H``: ``J^T W J`` when already
    computed, `gauss_newton_information`); None when it is not finite."""
    if H is None:
        H = gauss_newton_information(problem, u, W)
    if H is None:
        return None
    try:
        cov = np.linalg.pinv(H, rcond=NULL_RCOND, hermitian=True) * max(noise, 1e-12) ** 2
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None

