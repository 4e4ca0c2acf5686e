"""Pluggable fit objectives: ``objective = sum_i w_i * rho(r_i)`` over residuals ``r``.

Residuals are ``r = log(prediction) - log(observed)`` for laws that predict a loss (``Law.target ==
"loss"``) and ``r = prediction - observed`` for laws that predict a value of any sign (``"value"``).
The objective is SUMMED over runs, not averaged (averaging a Huber loss with delta = 1e-3 makes
gradients tiny and optimisers stop early; Besiroglu et al. 2024).

Each objective gives ``rho`` (loss per residual), ``psi = d rho / d r`` and a non-negative curvature
weight used by the Gauss-Newton / IRLS solver: ``curvature="irls"`` returns ``psi(r) / r`` (a majoriser,
so every accepted step decreases the true objective), ``curvature="exact"`` returns ``rho''(r)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import InputError

__all__ = ["Objective", "Huber", "LeastSquares", "Asymmetric", "get_objective", "OBJECTIVES", "Penalty"]


@dataclass(frozen=True)
class Objective:
    """Base class. Subclasses implement :meth:`rho`, :meth:`psi` and :meth:`curvature`."""

    name: str = "objective"

    def rho(self, r: np.ndarray) -> np.ndarray:
        """Loss per residual, same shape as ``r`` (any shape, e.g. ``(B, n_runs)``); residuals are log-loss
        differences (dimensionless) for loss laws, value differences otherwise.
        """
        raise NotImplementedError

    def psi(self, r: np.ndarray) -> np.ndarray:
        """Influence ``d rho / d r``, same shape as ``r``."""
        raise NotImplementedError

    def curvature(self, r: np.ndarray, kind: str = "irls") -> np.ndarray:
        """Non-negative curvature weight per residual, same shape as ``r``: ``psi(r) / r`` for ``kind="irls"`` (a
        majoriser: accepted Gauss-Newton steps always decrease the objective), ``rho''(r)`` for ``kind="exact"``.
        """
        raise NotImplementedError

    def value(self, r: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        """Summed objective over the last axis (``inf`` where any residual is not finite)."""
        rho = self.rho(r)
        if w is not None:
            rho = rho * w
        with np.errstate(invalid="ignore"):
            total = np.sum(rho, axis=-1)
        return np.where(np.isfinite(total), total, np.inf)

    def spec(self) -> dict:
        """JSON-able description (``name`` plus options) that `objective_from_spec` rebuilds."""
        return {"name": self.name}

    def pieces(self) -> tuple[tuple[float, float, float, float], ...]:
        """``psi`` as linear pieces ``(a, b, c0, c1)``: ``psi(r) = c0 + c1 r`` for ``a < r < b`` (each objective
        here is piecewise linear); empty where unknown."""
        return ()

    def noise_scale(self, sigma: float) -> float:
        """The scale ``s`` that makes ``s^2 (J^T W J)^-1`` the covariance of this objective's estimate when runs
        scatter normally with sd ``sigma`` about the law (residual units): the M-estimator sandwich
        ``sqrt(E[psi^2]) / E[psi']`` at the centre where ``E[psi] = 0`` (Huber 1964, the asymptotic variance
        of an M-estimate). Least squares: ``sigma``; a Huber threshold far below the noise: ``sigma sqrt(pi / 2)``, the
        least-absolute-deviations limit (the median of a sample scatters 1.25x more than its mean); the
        asymmetric objective, which centres the fit on an upper quantile of the runs, more. ``sigma`` as it
        is where the pieces are unknown or ``sigma`` is not a positive finite number."""
        pieces = self.pieces()
        if not pieces or not (math.isfinite(sigma) and sigma > 0):
            return sigma

        def moments(mu: float) -> tuple[float, float, float]:  # E[psi], E[psi^2], E[psi'] for r ~ N(mu, sigma^2)
            e1 = e2 = d = 0.0
            for a, b, c0, c1 in pieces:
                za, zb = (a - mu) / sigma, (b - mu) / sigma
                pr = _ncdf(zb) - _ncdf(za)
                fa, fb = _npdf(za), _npdf(zb)
                m1 = mu * pr + sigma * (fa - fb)  # E[r; a < r < b]
                m2 = (mu * mu + sigma * sigma) * pr + 2 * mu * sigma * (fa - fb) + sigma * sigma * (
                    (za * fa if math.isfinite(za) else 0.0) - (zb * fb if math.isfinite(zb) else 0.0))
                e1 += c0 * pr + c1 * m1
                e2 += c0 * c0 * pr + 2 * c0 * c1 * m1 + c1 * c1 * m2
                d += c1 * pr
            return e1, e2, d

        span = 20 * sigma + max((abs(v) for piece in pieces for v in piece[:2] if math.isfinite(v)), default=0.0)
        mu = 0.0
        e1, e2, _ = moments(0.0)
        if abs(e1) > 1e-9 * math.sqrt(e2):  # E[psi(r)] rises with mu (psi never falls): its root brackets in the span
            from scipy.optimize import brentq

            mu = brentq(lambda m: moments(m)[0], -span, span, xtol=1e-12 * sigma)
        _, e2, d = moments(mu)
        return math.sqrt(e2) / d if d > 0 and e2 > 0 else sigma


@dataclass(frozen=True)
class Huber(Objective):
    """Huber loss with threshold ``delta`` (Hoffmann et al. use 1e-3 on log-loss residuals)."""

    name: str = "huber"
    delta: float = 1e-3

    def __post_init__(self) -> None:
        if not self.delta > 0:
            raise InputError(f"huber delta must be > 0, got {self.delta}")

    def rho(self, r):
        """``r**2 / 2`` for ``|r| <= delta``, ``delta * (|r| - delta / 2)`` beyond; shape of ``r``."""
        a = np.abs(r)
        d = self.delta
        return np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))

    def psi(self, r):
        """``r`` clipped to ``[-delta, delta]``; shape of ``r``."""
        return np.clip(r, -self.delta, self.delta)

    def curvature(self, r, kind="irls"):
        """1 inside ``delta``; beyond it ``delta / |r|`` (``"irls"``) or 0 (``"exact"``); shape of ``r``."""
        a = np.abs(r)
        if kind == "exact":
            return (a <= self.delta).astype(float)
        with np.errstate(divide="ignore"):
            return np.where(a <= self.delta, 1.0, self.delta / np.maximum(a, 1e-300))

    def spec(self):
        """``{"name": "huber", "delta": delta}``."""
        return {"name": self.name, "delta": self.delta}

    def pieces(self):
        """``-delta`` below ``-delta``, ``r`` within, ``delta`` above."""
        d = self.delta
        return ((-math.inf, -d, -d, 0.0), (-d, d, 0.0, 1.0), (d, math.inf, d, 0.0))


@dataclass(frozen=True)
class LeastSquares(Objective):
    """Plain least squares, ``rho = r**2 / 2``."""

    name: str = "ls"

    def rho(self, r):
        """``r**2 / 2``; shape of ``r``."""
        return 0.5 * r * r

    def psi(self, r):
        """``r`` itself (as a float array)."""
        return np.asarray(r, dtype=float)

    def curvature(self, r, kind="irls"):
        """All ones, shape of ``r`` (for both ``kind`` values)."""
        return np.ones_like(r, dtype=float)

    def pieces(self):
        """``psi(r) = r`` everywhere."""
        return ((-math.inf, math.inf, 0.0, 1.0),)


@dataclass(frozen=True)
class Asymmetric(Objective):
    """Asymmetric Huber: residuals where the law passes ABOVE a run (``r > 0``: the run's loss is under the
    prediction) weigh ``weight`` times more, so the fit follows the lower envelope of the runs.

    This is the idea of the ``chinchilla`` package (asymmetric MAE, 10x weight); here it is smoothed by a
    Huber threshold ``delta`` so that the Gauss-Newton solver applies, and it acts on the same residuals as
    the other objectives (log space for loss laws).
    """

    name: str = "asymmetric"
    delta: float = 1e-3
    weight: float = 10.0

    def __post_init__(self) -> None:
        if not self.delta > 0 or not self.weight > 0:
            raise InputError(f"asymmetric objective needs delta > 0 and weight > 0, got {self.delta}, {self.weight}")

    def _side(self, r):
        return np.where(r > 0, self.weight, 1.0)

    def rho(self, r):
        """Huber ``rho`` times ``weight`` where ``r > 0`` (the law above the run); shape of ``r``."""
        return self._side(r) * Huber(delta=self.delta).rho(r)

    def psi(self, r):
        """Clipped residual times ``weight`` where ``r > 0``; shape of ``r``."""
        return self._side(r) * np.clip(r, -self.delta, self.delta)

    def curvature(self, r, kind="irls"):
        """Huber curvature times ``weight`` where ``r > 0``; shape of ``r``."""
        return self._side(r) * Huber(delta=self.delta).curvature(r, kind)

    def spec(self):
        """``{"name": "asymmetric", "delta": delta, "weight": weight}``."""
        return {"name": self.name, "delta": self.delta, "weight": self.weight}

    def pieces(self):
        """Huber's pieces, those above zero times ``weight``."""
        d, w = self.delta, self.weight
        return ((-math.inf, -d, -d, 0.0), (-d, 0.0, 0.0, 1.0), (0.0, d, 0.0, w), (d, math.inf, w * d, 0.0))


def _ncdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _npdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) if math.isfinite(z) else 0.0


OBJECTIVES = {"huber": Huber, "ls": LeastSquares, "asymmetric": Asymmetric}


def get_objective(loss: str | Objective, delta: float = 1e-3, **options) -> Objective:
    """Objective by name (``huber``, ``ls``, ``asymmetric``) or an `Objective` instance (returned as is).

    Raises
    ------
    InputError
        If ``loss`` is not a known objective name, or ``delta`` / ``weight`` is not positive.
    """
    if isinstance(loss, Objective):
        return loss
    key = str(loss).strip().lower()
    if key in ("least_squares", "lsq", "mse", "l2"):
        key = "ls"
    if key not in OBJECTIVES:
        raise InputError(f"unknown loss {loss!r}; expected one of {', '.join(OBJECTIVES)}")
    if key == "ls":
        return LeastSquares()
    if key == "huber":
        return Huber(delta=float(delta))
    return Asymmetric(delta=float(delta), weight=float(options.get("weight", 10.0)))


def sandwich_factor(spec: dict | None, sigma: float) -> float:
    """``noise_scale(sigma) / sigma`` of the objective a fit records as ``spec`` (1 for least squares, or
    where the record names no objective here, such as the accuracy sigmoid's)."""
    try:
        scale = objective_from_spec(spec or {}).noise_scale(sigma)
    except (KeyError, TypeError, ValueError, InputError):
        return 1.0
    return scale / sigma if sigma > 0 and math.isfinite(scale / sigma) else 1.0


def objective_from_spec(spec: dict) -> Objective:
    """Rebuild an objective from its ``spec()`` mapping (as stored in fit.json)."""
    spec = dict(spec)
    name = spec.pop("name")
    return get_objective(name, **spec) if name != "asymmetric" else Asymmetric(**spec)


@dataclass(frozen=True)
class Penalty:
    """A prior (penalty) term of a fit: ``size`` extra residual rows appended to the runs' residuals, so
    the objective becomes ``sum_i w_i rho(r_i) + sum_k rho(p_k(theta))`` (with least squares, a Gaussian
    MAP term ``sum_k p_k^2 / 2``). ``terms(theta)`` maps natural-space ``theta (..., P)`` to
    ``(p (..., size), dp/dtheta (..., size, P))``; the rows carry weight 1 and the same units as the
    residuals. ``name`` describes the prior in the fit's ``loss`` spec."""

    terms: Callable
    size: int
    name: str = "penalty"

