"""Variable projection: for laws linear in some coefficients (E, A, B of Chinchilla; E, A of a power law),
scan a dense grid of the nonlinear parameters (exponents) and solve the linear coefficients exactly.

Linear structure is detected numerically from ``law.evaluate`` (no interface needed): a set of parameters is
linear if ``f(theta) = f0(nl) + sum_j theta_j g_j(nl)`` holds at random points around base points scaled to
the data (`linear_structure`); parameters that fail are fitted as nonlinear ones. Coefficients bounded to
``[0, inf)`` (or fitted in log space) are solved by non-negative least squares, enumerating the active sets
(exact for the small numbers of coefficients laws have), batched over the whole exponent grid.

The linear solve minimises relative squared error ``sum w_i ((f_i - y_i) / y_i)**2`` for loss laws (a
first-order match of the log-space objective); the true objective then ranks the candidates.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..laws import Law
from ._solvers import Problem

__all__ = ["linear_structure", "varpro_candidates"]


#: random base points (parameters at data-driven values) at which linearity is verified, besides the
#: axes' medians and smallest magnitudes
PROBE_BASES = 4
#: relative tolerance of the numerical linearity check
LINEAR_RTOL = 1e-7


def _probe_bases(law: Law, X, y, rng: np.random.Generator) -> np.ndarray:
    """``PROBE_BASES`` parameter sets at which to probe linearity: drawn from the data-driven start axes
    (`scalinglab.fit._starts.param_axis`), so that a midpoint sits among the data and a curve is not
    probed where it is saturated (flat in every parameter, hence trivially "linear")."""
    from ._starts import param_axis

    if y is None:
        y = np.ones(len(next(iter(X.values()))))
    axes = [param_axis(law, j, X, y) for j in range(law.n_params)]
    inner = [a[a != 0.0] if np.any(a != 0.0) else a for a in axes]
    # the median of every axis, the smallest non-zero magnitudes (exponents that leave a term visible),
    # then random interior values (middle half of each sorted axis)
    rows = [[float(a[len(a) // 2]) for a in inner],
            [float(a[np.argmin(np.abs(a))]) for a in inner]]
    for _ in range(PROBE_BASES):
        rows.append([float(a[rng.integers(len(a) // 4, max(len(a) - len(a) // 4, len(a) // 4 + 1))])
                     for a in inner])
    return np.array(rows, float)


def _affine_in(law: Law, Xs, bases: np.ndarray, idx: list[int], rng: np.random.Generator) -> bool | None:
    """Whether ``f`` is affine in the parameters ``idx`` jointly at every base point: True (verified and
    the parameters move ``f`` at some base), False (a base point contradicts it), None (``f`` does not
    depend on them anywhere probed, or is not finite: inconclusive)."""
    L = len(idx)
    moved = False
    for base in bases:
        s = np.maximum(np.abs(base[idx]), 1.0)
        vals = [np.zeros(L), *(np.eye(L) * s), rng.uniform(0.5, 2.0, L) * s, rng.uniform(0.1, 3.0, L) * s]
        pts = np.repeat(base[None, :], len(vals), axis=0)
        pts[:, idx] = np.array(vals)
        with np.errstate(all="ignore"):
            F = law.evaluate(pts, Xs)
        if not np.all(np.isfinite(F)):
            continue
        f0, G = F[0], (F[1:1 + L] - F[0]) / s[:, None]
        scale = np.max(np.abs(F)) + 1e-300
        for t, fv in zip(vals[-2:], F[-2:], strict=True):
            if np.max(np.abs(f0 + t @ G - fv)) > LINEAR_RTOL * scale:
                return False
        if np.max(np.abs(G)) > 1e-9 * scale:
            moved = True
    return True if moved else None


def linear_structure(law: Law, X, y=None) -> tuple[list[int], list[int]] | None:
    """Indices ``(linear, nonlinear)`` of parameters, or ``None`` when no usable linear structure exists.

    Linear parameters must be unbounded or bounded exactly to ``[0, inf)`` (log-scale positives).
    Linearity is verified numerically, never assumed: each candidate parameter is probed at several base
    points scaled to the data (``X`` variables, ``y`` targets; see `_probe_bases`), kept only when ``f`` is
    affine in it at every base and actually depends on it, and the kept set is then verified jointly (no
    cross terms such as ``A * B``); a parameter that breaks the joint check is treated as nonlinear.
    """
    cand = []
    for j, p in enumerate(law.params):
        nonneg = (p.log or p.lower == 0.0) and math.isinf(p.upper)
        free = math.isinf(p.lower) and math.isinf(p.upper) and not p.log
        if nonneg or free:
            cand.append(j)
    if not cand:
        return None
    Xs = {k: np.asarray(v, float)[:50] for k, v in X.items()}
    ys = None if y is None else np.asarray(y, float)[:50]
    key = _cache_key(law, Xs, ys)
    if key is not None and key in _STRUCTURE_CACHE:
        return _STRUCTURE_CACHE[key]
    out = _probe(law, cand, Xs, ys)
    if key is not None:
        if len(_STRUCTURE_CACHE) >= 256:
            _STRUCTURE_CACHE.pop(next(iter(_STRUCTURE_CACHE)))
        _STRUCTURE_CACHE[key] = out
    return out


#: (law, data scale) -> structure: a fit probes once, not once per refit of its backtests
_STRUCTURE_CACHE: dict = {}


def _cache_key(law: Law, Xs, ys):
    """Law spec plus each variable's and the target's decade range (the probe's bases depend only on them)."""
    try:
        spec = repr(law.spec())
    except Exception:  # noqa: BLE001 - a law without a spec is probed every time
        return None

    def rng_of(a):
        a = np.asarray(a, float)
        a = a[np.isfinite(a)]
        if not a.size:
            return ()
        return tuple(np.round(np.sign(v) * np.log10(abs(v) + 1e-300), 1) for v in (a.min(), a.max()))

    return (type(law).__name__, spec, tuple((k, rng_of(v)) for k, v in sorted(Xs.items())),
            rng_of(ys) if ys is not None else ())


def _probe(law: Law, cand: list[int], Xs, ys) -> tuple[list[int], list[int]] | None:
    P = law.n_params
    rng = np.random.default_rng(12345)
    bases = _probe_bases(law, Xs, ys, rng)
    single = [j for j in cand if _affine_in(law, Xs, bases, [j], rng)]
    lin: list[int] = []
    for j in single:  # grow the jointly linear set one verified parameter at a time
        if _affine_in(law, Xs, bases, [*lin, j], rng):
            lin.append(j)
    if not lin or len(lin) == P or len(lin) > 4:
        return None
    nl = [j for j in range(P) if j not in lin]
    return lin, nl


def _nl_axis(law: Law, j: int, k: int, X=None, y=None) -> np.ndarray:
    """``k`` values of nonlinear parameter ``j`` spanning its start grid, strictly inside its bounds; a
    parameter without a grid gets its data-driven axis (`scalinglab.fit._starts.param_axis`) instead."""
    p = law.params[j]
    if not p.grid and X is not None:
        from ._starts import param_axis

        return param_axis(law, j, X, y if y is not None else np.ones(len(next(iter(X.values())))))
    g = np.array(p.grid if p.grid else (p.default,), float)
    lo_g, hi_g = float(g.min()), float(g.max())
    if lo_g == hi_g:
        lo_g, hi_g = (lo_g / 4, lo_g * 4) if p.log and lo_g > 0 else (lo_g - 1.0, lo_g + 1.0)
    # stay strictly inside the bounds
    span = hi_g - lo_g
    lo_g = max(lo_g, p.lower + 0.01 * span) if math.isfinite(p.lower) else lo_g
    hi_g = min(hi_g, p.upper - 0.01 * span) if math.isfinite(p.upper) else hi_g
    if p.log and lo_g > 0:
        return np.geomspace(lo_g, hi_g, k)
    return np.linspace(lo_g, hi_g, k)


def varpro_candidates(problem: Problem, lin: list[int], nl: list[int], W: np.ndarray | None = None,
                      *, budget: int = 4096, extra_nl: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate natural-space parameter sets ``(K, P)`` and their true objective ``(K,)``.

    A grid of about ``budget`` points over the nonlinear parameters (plus ``extra_nl`` rows), each with its
    linear coefficients solved exactly (NNLS for non-negative ones).
    """
    law = problem.law
    P = law.n_params
    m = len(nl)
    k = int(max(3, min(256, math.floor(budget ** (1.0 / m) + 1e-9))))
    axes = [_nl_axis(law, j, k, problem.X, problem.y) for j in nl]
    if math.prod(len(a) for a in axes) <= 4 * budget:
        NLg = np.array(list(itertools.product(*axes)), float)
    else:  # data-driven axes can be long: draw the grid at random from their product (fixed seed)
        rng = np.random.default_rng(0)
        NLg = np.column_stack([a[rng.integers(0, len(a), 4 * budget)] for a in axes])
    if extra_nl is not None and len(extra_nl):
        NLg = np.vstack([NLg, np.asarray(extra_nl, float)])
    K, L = len(NLg), len(lin)
    # columns f0 and g_j for every grid point, by evaluating with unit/zero linear coefficients
    base = np.zeros((K, P))
    base[:, nl] = NLg
    pts = np.repeat(base[:, None, :], L + 1, axis=1)  # (K, L+1, P)
    for i, j in enumerate(lin):
        pts[:, i + 1, j] = 1.0
    y = np.asarray(problem.y, float)
    n = len(y)
    w = np.ones(n) if W is None else np.asarray(W, float)
    s = (1.0 / y) if problem.space == "log" else np.ones(n)
    sw = np.sqrt(w) * s
    with np.errstate(all="ignore"):  # grid points where a term overflows are dropped below (not finite)
        F = law.evaluate(pts, problem.X)  # (K, L+1, n)
        f0 = F[:, 0, :]
        G = F[:, 1:, :] - f0[:, None, :]  # (K, L, n)
        Gw = G * sw  # (K, L, n)
        tw = (y - f0) * sw  # (K, n)
    ok = np.all(np.isfinite(Gw), axis=(1, 2)) & np.all(np.isfinite(tw), axis=1)
    Gw = np.where(ok[:, None, None], Gw, 0.0)
    tw = np.where(ok[:, None], tw, 0.0)
    norms = np.sqrt(np.sum(Gw * Gw, axis=-1))  # (K, L)
    norms = np.where(norms > 0, norms, 1.0)
    Gn = Gw / norms[..., None]
    M = np.einsum("kin,kjn->kij", Gn, Gn)
    b = np.einsum("kin,kn->ki", Gn, tw)
    nonneg = np.array([law.params[j].log or law.params[j].lower == 0.0 for j in lin])
    best_c = np.zeros((K, L))
    best_val = np.full(K, np.inf)
    for size in range(1, L + 1):
        for sub in itertools.combinations(range(L), size):
            idx = np.array(sub)
            Ms = M[:, idx[:, None], idx[None, :]] + 1e-12 * np.eye(size)
            bs = b[:, idx]
            try:
                cs = np.linalg.solve(Ms, bs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                cs = np.einsum("kij,kj->ki", np.linalg.pinv(Ms), bs)
            feas = np.all((cs >= 0) | ~nonneg[idx], axis=-1)
            val = -np.einsum("ki,ki->k", cs, bs)  # residual norm^2 minus const: c'Mc - 2b'c = -b'c at optimum
            better = feas & (val < best_val)
            c_full = np.zeros((K, L))
            c_full[:, idx] = cs
            best_c = np.where(better[:, None], c_full, best_c)
            best_val = np.where(better, val, best_val)
    coef = best_c / norms
    theta = base.copy()
    theta[:, lin] = coef
    # exactly-zero non-negative coefficients cannot live in log space; give them a negligible value
    for i, j in enumerate(lin):
        if nonneg[i]:
            col = theta[:, j]
            tiny = 1e-8 * np.max(np.abs(y)) / np.maximum(np.max(np.abs(G[:, i, :]), axis=-1), 1e-300)
            theta[:, j] = np.where(col > 0, col, tiny)
    f = problem.objective.value(problem.residuals_theta(theta), problem.pad_weights(W))
    f = np.where(ok, f, np.inf)
    return theta, f
