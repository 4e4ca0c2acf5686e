"""Kaplan et al. 2020: single-variable laws in N, D and C, the joint L(N, D) and L(N, S) laws, and the
critical-batch-size relations (S_min, C_min) used to read them.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import LawError
from ._base import Param
from ._catalog_base import CatalogLaw, _cols, _log, _lse

__all__ = ["PF_DAY", "KaplanN", "KaplanD", "KaplanC", "KaplanND", "KaplanNS", "critical_batch_size", "s_min", "c_min"]


#: FLOPs in one PF-day (1e15 FLOP/s for a day), Kaplan et al.'s compute unit.
PF_DAY = 1e15 * 24 * 3600


class _KaplanSingle(CatalogLaw):
    """``L = (Xc / X)**alpha`` in one variable (Kaplan et al. 2020, eqs. 1.1-1.3)."""

    target = "loss"
    _var = "N"
    _scale = "Nc"
    _exp = "alpha_N"
    _x_unit = 1.0  # divide the variable by this before use (PF-days for kaplan-c)
    _scale_grid: tuple[float, ...] = (1e9, 1e11, 1e13, 1e15, 1e17)

    def __init__(self) -> None:
        self.variables = (self._var,)
        self.params = (
            Param(self._scale, 0.0, math.inf, log=True, grid=self._scale_grid, default=self._scale_grid[2],
                  description="critical scale (same unit as the variable)"),
            Param(self._exp, 0.0, 5.0, grid=(0.03, 0.05, 0.1, 0.2, 0.5), default=0.076, description="exponent"),
        )
        self._freeze()

    def _lr(self, theta, X):
        Xc, alpha = _cols(theta, 2)
        lx = _log(self._x(X, self._var) / self._x_unit)
        return Xc, alpha, _log(Xc) - lx

    def log_evaluate(self, theta, X):
        _, alpha, r = self._lr(theta, X)
        with np.errstate(invalid="ignore"):
            return alpha * r

    def evaluate(self, theta, X):
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def jacobian(self, theta, X):
        Xc, alpha, r = self._lr(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            L = np.exp(alpha * r)
            return np.stack([L * alpha / Xc, L * r], axis=-1)

    def guess(self, X, y):
        x = np.asarray(X[self._var], dtype=float) / self._x_unit
        y = np.asarray(y, dtype=float)
        ok = (x > 0) & (y > 0)
        if ok.sum() < 2 or np.ptp(np.log(x[ok])) == 0:
            return None
        slope, icpt = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
        alpha = float(np.clip(-slope, 1e-3, 4.9))
        return np.array([float(np.exp(icpt / alpha)), alpha])


class KaplanN(_KaplanSingle):
    """Kaplan et al. 2020 eq. 1.1: ``L(N) = (Nc / N)**alpha_N``.

    N = NON-embedding parameters, L in nats/token; models trained to convergence on large data.
    """

    name = "kaplan-n"
    formula = "(Nc / N)**alpha_N"
    description = "Kaplan 2020 L(N), non-embedding params, converged."


class KaplanD(_KaplanSingle):
    """Kaplan et al. 2020 eq. 1.2: ``L(D) = (Dc / D)**alpha_D``; D = tokens, large model, early stopping."""

    name = "kaplan-d"
    formula = "(Dc / D)**alpha_D"
    description = "Kaplan 2020 L(D), tokens, early-stopped large model."
    _var, _scale, _exp = "D", "Dc", "alpha_D"


class KaplanC(_KaplanSingle):
    """Kaplan et al. 2020 eq. 1.3: ``L(C_min) = (Cc / C_min)**alpha_C``.

    The variable ``C`` is given in FLOPs (like every compute column in scalinglab) and converted to
    PF-days (1 PF-day = 8.64e19 FLOPs) inside the law; the scale ``Cc`` is in PF-DAYS, as in the paper.
    Kaplan's ``C_min`` is the compute at batch size << B_crit (see :func:`c_min`); with a fixed batch
    size use the "naive" constants (preset ``kaplan-2020-c``).
    """

    name = "kaplan-c"
    formula = "(Cc / (C / 8.64e19))**alpha_C   [C in FLOPs, Cc in PF-days]"
    description = "Kaplan 2020 L(C_min); C in FLOPs, Cc in PF-days."
    _var, _scale, _exp = "C", "Cc", "alpha_C"
    _x_unit = PF_DAY
    _scale_grid = (1e3, 1e5, 1e7, 1e9, 1e11)


class KaplanND(CatalogLaw):
    """Kaplan et al. 2020 eq. 1.5: ``L(N, D) = [(Nc/N)**(alpha_N/alpha_D) + Dc/D]**alpha_D``.

    N = non-embedding parameters, D = tokens, L = early-stopped test loss in nats/token. Use the Table 2
    constants (preset ``kaplan-2020-nd``), not Table 5's single-variable ones.
    """

    name = "kaplan-nd"
    variables = ("N", "D")
    formula = "((Nc / N)**(alpha_N / alpha_D) + Dc / D)**alpha_D"
    target = "loss"
    description = "Kaplan 2020 joint L(N, D) (early-stopped)."
    params = (
        Param("Nc", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), default=6.4e13,
              description="critical non-embedding parameter count"),
        Param("Dc", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), default=1.8e13,
              description="critical token count"),
        Param("alpha_N", 0.0, 5.0, grid=(0.05, 0.1, 0.2), default=0.076),
        Param("alpha_D", 1e-6, 5.0, grid=(0.05, 0.1, 0.2), default=0.103),
    )

    def _parts(self, theta, X):
        Nc, Dc, aN, aD = _cols(theta, 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = _log(Nc) - _log(self._x(X, "N"))
            u = aN / aD * r
            v = _log(Dc) - _log(self._x(X, "D"))
            s = _lse(u, v)
        return Nc, Dc, aN, aD, r, u, v, s

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        *_, aD, r, u, v, s = self._parts(theta, X)
        with np.errstate(invalid="ignore"):
            return aD * s

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def log_jacobian(self, theta, X):
        """Derivative of log(loss in nats/token) with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        Nc, Dc, aN, aD, r, u, v, s = self._parts(theta, X)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            wu, wv = np.exp(u - s), np.exp(v - s)
            return np.stack([aN * wu / Nc, aD * wv / Dc, wu * r, s - wu * u], axis=-1)

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.log_jacobian(theta, X) * self.evaluate(theta, X)[..., None]


class KaplanNS(CatalogLaw):
    """Kaplan et al. 2020 eq. 1.6: ``L(N, S) = (Nc / N)**alpha_N + (Sc / S)**alpha_S``.

    N = non-embedding parameters; ``S`` = S_min, the number of optimizer steps at batch size >> B_crit
    (convert raw steps at batch size B with :func:`s_min`). L in nats/token, infinite-data regime.
    """

    name = "kaplan-ns"
    variables = ("N", "S")
    formula = "(Nc / N)**alpha_N + (Sc / S)**alpha_S"
    target = "loss"
    description = "Kaplan 2020 learning-curve law L(N, S_min)."
    params = (
        Param("Nc", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), default=6.5e13),
        Param("Sc", 0.0, math.inf, log=True, grid=(1e1, 1e3, 1e5), default=2.1e3, unit="steps"),
        Param("alpha_N", 0.0, 5.0, grid=(0.05, 0.1, 0.3), default=0.077),
        Param("alpha_S", 0.0, 5.0, grid=(0.25, 0.75, 1.5), default=0.76),
    )

    def _parts(self, theta, X):
        Nc, Sc, aN, aS = _cols(theta, 4)
        rN = _log(Nc) - _log(self._x(X, "N"))
        rS = _log(Sc) - _log(self._x(X, "S"))
        return Nc, Sc, aN, aS, rN, rS

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        *_, aN, aS, rN, rS = self._parts(theta, X)
        with np.errstate(invalid="ignore"):
            return _lse(aN * rN, aS * rS)

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        *_, aN, aS, rN, rS = self._parts(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(aN * rN) + np.exp(aS * rS)

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        Nc, Sc, aN, aS, rN, rS = self._parts(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            tN, tS = np.exp(aN * rN), np.exp(aS * rS)
            return np.stack([tN * aN / Nc, tS * aS / Sc, tN * rN, tS * rS], axis=-1)


def critical_batch_size(loss, *, B_star: float = 2.1e8, alpha_B: float = 0.21):
    """Kaplan et al. 2020 eq. 1.4: critical batch size ``B_crit(L) = B_star / L**(1/alpha_B)`` in TOKENS.

    ``loss`` in nats/token (WebText2 conventions); defaults are Table 5's ``B_star = 2.1e8`` tokens and
    ``alpha_B = 0.21``. Returns the critical batch size in tokens, with the shape of ``loss``.

    Raises
    ------
    LawError
        If any ``loss`` is not positive.
    """
    L = np.asarray(loss, dtype=float)
    if np.any(L <= 0):
        raise LawError("critical_batch_size: loss must be positive (nats/token)")
    return B_star / L ** (1.0 / alpha_B)


def s_min(steps, batch_size, loss, **kw):
    """Kaplan et al. 2020 eq. 5.4: minimum steps ``S_min = S / (1 + B_crit(L) / B)``.

    ``steps`` taken at ``batch_size`` TOKENS per step, reaching ``loss`` (nats/token). Keywords go to
    :func:`critical_batch_size`.
    """
    B = np.asarray(batch_size, dtype=float)
    return np.asarray(steps, dtype=float) / (1.0 + critical_batch_size(loss, **kw) / B)


def c_min(flops, batch_size, loss, **kw):
    """Kaplan et al. 2020 eq. 5.5: minimum compute ``C_min = C / (1 + B / B_crit(L))`` (same unit as C)."""
    B = np.asarray(batch_size, dtype=float)
    return np.asarray(flops, dtype=float) / (1.0 + B / critical_batch_size(loss, **kw))
