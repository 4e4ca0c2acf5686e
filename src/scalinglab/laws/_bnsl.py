"""Broken neural scaling laws (Caballero et al. 2023).
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import LawError
from ._base import Param
from ._catalog_base import CatalogLaw, _check_identifier, _cols, _log, _lse, _sigmoid, _softplus

__all__ = ["BNSLLaw"]


class BNSLLaw(CatalogLaw):
    """Broken neural scaling law (Caballero et al. 2023) with ``n_breaks`` breaks:

    ``y = a + b * x**(-c0) * prod_i (1 + (x / d_i)**(1/f_i))**(-c_i * f_i)``

    Computed in log x: ``log(y - a) = log b - c0 log x - sum_i c_i f_i softplus((log x - log d_i) / f_i)``,
    so huge x and sharp breaks stay finite. ``a`` (limit), ``b``, ``d_i`` (break locations, same unit as
    x) and ``f_i`` (sharpness; small = sharp) are positive and fitted in log space; ``c0`` and the slope
    changes ``c_i`` may be negative (double descent). After break i the local log-log slope is
    ``-(c0 + c_1 + ... + c_i)``.
    """

    target = "loss"
    description = "Broken neural scaling law (Caballero 2023), smoothly broken power law."

    def __init__(self, n_breaks: int = 1, variable: str = "x") -> None:
        n = int(n_breaks)
        if not 1 <= n <= 5:
            raise LawError(f"bnsl: n_breaks must be 1..5, got {n_breaks}")
        v = _check_identifier(variable)
        self.n_breaks = n
        self.name = "bnsl" if n == 1 else f"bnsl-{n}"
        self.variables = (v,)
        terms = " * ".join(f"(1 + ({v} / d{i})**(1 / f{i}))**(-c{i} * f{i})" for i in range(1, n + 1))
        self.formula = f"a + b * {v}**(-c0) * {terms}"
        params = [
            Param("a", 0.0, math.inf, log=True, grid=(0.5, 2.0), default=1.0, description="limit as x -> inf"),
            Param("b", 0.0, math.inf, log=True, grid=(1.0, 100.0), default=10.0, description="initial scale"),
            Param("c0", -5.0, 5.0, grid=(0.1, 0.5), default=0.3, description="initial exponent"),
        ]
        for i in range(1, n + 1):
            params += [
                Param(f"c{i}", -5.0, 5.0, grid=(-0.3, 0.3), default=0.2, description=f"slope change at break {i}"),
                Param(f"d{i}", 0.0, math.inf, log=True, grid=(1e3, 1e6), default=10.0 ** (3 * i),
                      description=f"location of break {i} (units of {v})"),
                Param(f"f{i}", 1e-4, 1e3, log=True, grid=(0.3, 1.0), default=0.5,
                      description=f"sharpness of break {i} (smaller = sharper)"),
            ]
        self.params = tuple(params)
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "variable": self.variables[0]}

    def _logT(self, theta, X):
        cols = _cols(theta, self.n_params)
        a, b, c0 = cols[:3]
        lx = _log(self._x(X, self.variables[0]))
        with np.errstate(invalid="ignore", over="ignore"):
            logT = _log(b) - c0 * lx
            parts = []
            for i in range(self.n_breaks):
                c, d, f = cols[3 + 3 * i: 6 + 3 * i]
                z = (lx - _log(d)) / f
                sp = _softplus(z)
                logT = logT - c * f * sp
                parts.append((c, d, f, z, sp))
        return a, b, lx, logT, parts

    def evaluate(self, theta, X):
        """Law value (the unit of the fitted y), shape ``(..., n)``, for natural-space ``theta`` of shape ``(...,
        P)``; ``X`` maps each variable to a 1-D array of length n.
        """
        a, _, _, logT, _ = self._logT(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return a + np.exp(logT)

    def log_evaluate(self, theta, X):
        """Natural log of the law value (the unit of the fitted y), shape ``(..., n)``, computed stably; ``theta``
        has shape ``(..., P)``.
        """
        a, _, _, logT, _ = self._logT(theta, X)
        return _lse(_log(a), logT)

    def jacobian(self, theta, X):
        """Derivative of the law value (the unit of the fitted y) with respect to natural-space ``theta``, shape
        ``(..., n, P)``.
        """
        a, b, lx, logT, parts = self._logT(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            T = np.exp(logT)
            cols = [np.broadcast_to(np.ones_like(a), T.shape), T / b, -T * lx]
            for c, d, f, z, sp in parts:
                sg = _sigmoid(z)
                cols += [-T * f * sp, T * c * sg / d, -T * c * (sp - sg * z)]
            return np.stack([np.broadcast_to(col, T.shape) for col in cols], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        x = np.asarray(X[self.variables[0]], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (x > 0) & np.isfinite(y) & (y > 0)
        if ok.sum() < self.n_params or np.ptp(np.log(x[ok])) == 0:
            return None
        x, y = x[ok], y[ok]
        a = 0.5 * y.min()
        slope, icpt = np.polyfit(np.log(x), np.log(y - a), 1)
        qs = np.quantile(np.log(x), np.linspace(0, 1, self.n_breaks + 2)[1:-1])
        theta = [a, float(np.exp(icpt)), float(np.clip(-slope, -4.9, 4.9))]
        for q in qs:
            theta += [0.0, float(np.exp(q)), 0.5]
        return np.array(theta)
