"""Power laws in one variable: ``E + A x^-alpha`` (``power``) and ``A x^-alpha`` (``power-pure``).
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param
from ._catalog_base import (
    _HOFFMANN_EXPONENTS,
    _LOG_HOFFMANN_SCALES,
    CatalogLaw,
    _check_identifier,
    _cols,
    _exp_grid,
    _log,
    _lse,
)

__all__ = ["PowerLaw", "PurePowerLaw"]


class PowerLaw(CatalogLaw):
    """Saturating power law in one variable: ``L = E + A * x**(-alpha)``.

    ``x`` is whatever positive quantity the law is fitted on (parameters, tokens, FLOPs, steps, examples);
    ``PowerLaw(variable="N")`` names it. E (irreducible loss, same unit as the target) and A are fitted in
    log space; ``alpha`` is bounded to [0, 5].
    """

    name = "power"
    target = "loss"
    description = "Saturating power law in one variable (irreducible term E plus a decaying power)."

    def __init__(self, variable: str = "x") -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        self.formula = f"E + A * {v}**(-alpha)"
        self.params = (
            Param("E", 0.0, math.inf, log=True, grid=_exp_grid((-1.0, 0.0, 1.0)), default=1.0,
                  description="irreducible value as x -> inf (target units)"),
            Param("A", 0.0, math.inf, log=True, grid=_exp_grid(_LOG_HOFFMANN_SCALES), default=10.0,
                  description="scale of the reducible term"),
            Param("alpha", 0.0, 5.0, grid=_HOFFMANN_EXPONENTS, default=0.5, description=f"exponent of {v}"),
        )
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "variable": self.variables[0]}

    def evaluate(self, theta, X):
        """Law value (the unit of the fitted y; loss in nats/token by default), shape ``(..., n)``, for natural-
        space ``theta`` of shape ``(..., P)``; ``X`` maps each variable to a 1-D array of length n.
        """
        E, A, alpha = _cols(theta, 3)
        lx = _log(self._x(X, self.variables[0]))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return E + A * np.exp(-alpha * lx)

    def log_evaluate(self, theta, X):
        """Natural log of the law value (the unit of the fitted y; loss in nats/token by default), shape ``(...,
        n)``, computed stably; ``theta`` has shape ``(..., P)``.
        """
        E, A, alpha = _cols(theta, 3)
        lx = _log(self._x(X, self.variables[0]))
        return _lse(_log(A) - alpha * lx, _log(E))

    def jacobian(self, theta, X):
        """Derivative of the law value (the unit of the fitted y; loss in nats/token by default) with respect to
        natural-space ``theta``, shape ``(..., n, P)``.
        """
        E, A, alpha = _cols(theta, 3)
        lx = _log(self._x(X, self.variables[0]))
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.exp(-alpha * lx)
            dE = np.broadcast_to(np.ones_like(E), p.shape)
            return np.stack([dE, p, -A * p * lx], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        x = np.asarray(X[self.variables[0]], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (x > 0) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(np.log(x[ok])) == 0:
            return None
        x, y = x[ok], y[ok]
        E = 0.9 * y.min() if y.min() > 0 else 1e-3
        r = y - E
        good = r > 0
        if good.sum() < 2:
            return None
        slope, icpt = np.polyfit(np.log(x[good]), np.log(r[good]), 1)
        alpha = float(np.clip(-slope, 1e-3, 4.9))
        return np.array([E, float(np.exp(icpt)), alpha])


class PurePowerLaw(CatalogLaw):
    """Pure power law in one variable, no offset: ``y = A * x**(-alpha)``.

    ``alpha`` may have either sign (bounded to [-10, 10]) so the same law fits decaying losses and growing
    quantities such as ``N_opt(C)``. A is fitted in log space. In log space this is a straight line, so
    :meth:`guess` (an ordinary least-squares line in log-log) is already the least-squares optimum.
    """

    name = "power-pure"
    target = "loss"
    description = "Pure power law y = A x^-alpha (a straight line in log-log)."

    def __init__(self, variable: str = "x") -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        self.formula = f"A * {v}**(-alpha)"
        self.params = (
            Param("A", 0.0, math.inf, log=True, grid=_exp_grid(_LOG_HOFFMANN_SCALES), default=1.0,
                  description="scale"),
            Param("alpha", -10.0, 10.0, grid=(-1.0, -0.5, 0.0, 0.5, 1.0), default=0.5,
                  description=f"exponent of {v} (positive = decreasing)"),
        )
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "variable": self.variables[0]}

    def evaluate(self, theta, X):
        """Law value (the unit of the fitted y), shape ``(..., n)``, for natural-space ``theta`` of shape ``(...,
        P)``; ``X`` maps each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def log_evaluate(self, theta, X):
        """Natural log of the law value (the unit of the fitted y), shape ``(..., n)``, computed stably; ``theta``
        has shape ``(..., P)``.
        """
        A, alpha = _cols(theta, 2)
        lx = _log(self._x(X, self.variables[0]))
        with np.errstate(invalid="ignore"):
            return _log(A) - alpha * lx

    def jacobian(self, theta, X):
        """Derivative of the law value (the unit of the fitted y) with respect to natural-space ``theta``, shape
        ``(..., n, P)``.
        """
        A, alpha = _cols(theta, 2)
        lx = _log(self._x(X, self.variables[0]))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p = np.exp(-alpha * lx)
            return np.stack([p + 0 * A, -A * p * lx], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        x = np.asarray(X[self.variables[0]], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (x > 0) & (y > 0) & np.isfinite(y)
        if ok.sum() < 2 or np.ptp(np.log(x[ok])) == 0:
            return None
        slope, icpt = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
        return np.array([float(np.exp(icpt)), float(np.clip(-slope, -9.9, 9.9))])
