"""The fit space: a smooth, invertible map between natural parameters and unconstrained solver coordinates.

Each parameter is first put on its working scale ``z`` (``log(value)`` for ``Param.log`` parameters, the value
itself otherwise), then its bounds (in ``z``) are enforced by a smooth transform of an unconstrained ``u``:

* no bounds: ``z = u``
* lower bound only: ``z = lo + softplus(u)`` (identity far from the bound)
* upper bound only: ``z = hi - softplus(-u)``
* both bounds: ``z = lo + (hi - lo) * sigmoid(u)``

Bounds are therefore never reached and never clipped; starts on or outside a bound are nudged inside
(by 1e-3 of the bounded range, or 1e-3 of the unit scale for a one-sided bound).
"""

from __future__ import annotations

import math

import numpy as np

from ..laws import Law

__all__ = ["FitSpace"]


def _softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _sigmoid(u: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 0.5 * (1.0 + np.tanh(0.5 * u))


class FitSpace:
    """Natural ⇄ fit-space transform for the parameters of one law (vectorised over leading axes)."""

    def __init__(self, law: Law, lower=None, upper=None):
        """``lower``/``upper``: optional natural-space bounds ``(P,)`` that replace the law's own (a fit
        bounded by the data, e.g. an accuracy floor below the lowest accuracy); None keeps the law's."""
        self.law = law
        P = law.n_params
        # a positive parameter without a start grid (a user law's bounded-below constant such as Kaplan's
        # Nc) is also solved on log scale: its magnitude is unknown, and linear steps cannot cross decades
        self.log = np.array([p.log or (p.lower == 0.0 and math.isinf(p.upper) and not p.grid)
                             for p in law.params], dtype=bool)
        lo = np.full(P, -math.inf)
        hi = np.full(P, math.inf)
        for j, p in enumerate(law.params):
            p_lo = p.lower if lower is None else max(p.lower, float(lower[j]))
            p_hi = p.upper if upper is None else min(p.upper, float(upper[j]))
            if self.log[j]:
                lo[j] = math.log(p_lo) if p_lo > 0 else -math.inf
                hi[j] = math.log(p_hi) if math.isfinite(p_hi) else math.inf
            else:
                lo[j], hi[j] = p_lo, p_hi
        self.lo, self.hi = lo, hi
        self.kind = np.where(np.isfinite(lo) & np.isfinite(hi), 3,
                             np.where(np.isfinite(lo), 1, np.where(np.isfinite(hi), 2, 0)))
        # column groups by kind, precomputed: the solvers call _z_from_u thousands of times per fit
        self._cols = {k: np.flatnonzero(self.kind == k) for k in (1, 2, 3)}
        self._lo1, self._hi2 = lo[self._cols[1]], hi[self._cols[2]]
        self._lo3, self._width3 = lo[self._cols[3]], (hi - lo)[self._cols[3]]
        self._log_cols = np.flatnonzero(self.log)

    # ------------------------------------------------------------------ z <-> u
    def _z_from_u(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-scale value z and dz/du."""
        with np.errstate(all="ignore"):
            return self._z_from_u_raw(u)

    def _z_from_u_raw(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z, dz = u.copy(), np.ones_like(u)
        c1, c2, c3 = self._cols[1], self._cols[2], self._cols[3]
        if c1.size:
            v = u[..., c1]
            z[..., c1], dz[..., c1] = self._lo1 + _softplus(v), _sigmoid(v)
        if c2.size:
            v = u[..., c2]
            z[..., c2], dz[..., c2] = self._hi2 - _softplus(-v), 1.0 - _sigmoid(v)
        if c3.size:
            sig = _sigmoid(u[..., c3])
            z[..., c3], dz[..., c3] = self._lo3 + self._width3 * sig, self._width3 * sig * (1 - sig)
        return z, dz

    def _u_from_z(self, z: np.ndarray) -> np.ndarray:
        lo = np.where(np.isfinite(self.lo), self.lo, 0.0)
        hi = np.where(np.isfinite(self.hi), self.hi, 0.0)
        width = np.where(self.kind == 3, hi - lo, 1.0)
        eps = 1e-3 * np.where(self.kind == 3, width, 1.0)
        k = self.kind
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z1 = np.where(k == 1, np.maximum(z, lo + eps), z)
            z1 = np.where(k == 2, np.minimum(z1, hi - eps), z1)
            z1 = np.where(k == 3, np.clip(z1, lo + eps, hi - eps), z1)
            d_lo = z1 - lo
            d_hi = hi - z1
            # inverse softplus: log(expm1(t)), stable for large t
            inv_lo = np.where(d_lo > 30, d_lo, np.log(np.expm1(np.minimum(d_lo, 30))))
            inv_hi = -np.where(d_hi > 30, d_hi, np.log(np.expm1(np.minimum(d_hi, 30))))
            p = (z1 - lo) / width
            logit = np.log(p) - np.log1p(-p)
            return np.where(k == 0, z1, np.where(k == 1, inv_lo, np.where(k == 2, inv_hi, logit)))

    # ------------------------------------------------------------------ natural <-> u
    def to_natural(self, u: np.ndarray) -> np.ndarray:
        """Natural-space parameters from fit-space ``u``; same shape as ``u`` (``(..., P)``)."""
        z, _ = self._z_from_u(np.asarray(u, dtype=float))
        c = self._log_cols
        with np.errstate(over="ignore"):
            z[..., c] = np.exp(z[..., c])
        return z

    def dnatural_du(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Natural values and the diagonal Jacobian d theta / d u, both shaped like ``u``."""
        z, dz = self._z_from_u(np.asarray(u, dtype=float))
        c = self._log_cols
        with np.errstate(over="ignore"):
            ez = np.exp(z[..., c])
        z[..., c] = ez
        dz[..., c] = ez * dz[..., c]
        return z, dz

    def to_fit(self, theta: np.ndarray) -> np.ndarray:
        """Fit-space coordinates of natural ``theta``; values on/outside bounds are nudged inside."""
        theta = np.asarray(theta, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(self.log, np.log(np.where(self.log, np.maximum(theta, 1e-300), 1.0)), theta)
        return self._u_from_z(z)

    def working(self, theta: np.ndarray) -> np.ndarray:
        """The working scale z (log for log-parameters) — used to compare parameter sets."""
        theta = np.asarray(theta, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.log, np.log(np.where(self.log, np.maximum(theta, 1e-300), 1.0)), theta)
