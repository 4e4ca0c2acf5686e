"""The Chinchilla law (Hoffmann et al. 2022) ``E + A/N^alpha + B/D^beta``, its joint-exponent generalisation
``E + (A/N^alpha + B/D^beta)^gamma`` and their closed-form compute-optimal allocation under C = 6ND.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._errors import LawError
from ._base import Param
from ._catalog_base import (
    _HOFFMANN_EXPONENTS,
    _HOFFMANN_LOG_E,
    _LOG_HOFFMANN_SCALES,
    CatalogLaw,
    _cols,
    _exp_grid,
    _log,
    _lse,
)

__all__ = ["ChinchillaLaw", "ChinchillaJointLaw", "chinchilla_optimum"]


class ChinchillaLaw(CatalogLaw):
    """Hoffmann et al. 2022 (Approach 3): ``L(N, D) = E + A / N**alpha + B / D**beta``.

    N = total parameters (embeddings included), D = training tokens, L in nats/token. E, A, B are fitted in
    log space (as ``e, a, b`` in the paper); :meth:`log_evaluate` is the paper's log-sum-exp
    ``LSE(a - alpha log N, b - beta log D, e)``. Default start grid: Hoffmann's 4,500 starts
    (alpha, beta in {0, 0.5, ..., 2}; log E in {-1, -0.5, ..., 1}; log A, log B in {0, 5, ..., 25}).
    Exponents are bounded to [0, 5].
    """

    name = "chinchilla"
    variables = ("N", "D")
    formula = "E + A / N**alpha + B / D**beta"
    target = "loss"
    description = "Hoffmann et al. 2022 parametric loss in parameters N and tokens D (Approach 3)."
    params = (
        Param("E", 0.0, math.inf, log=True, grid=_exp_grid(_HOFFMANN_LOG_E), default=1.7, unit="nats/token",
              description="irreducible loss"),
        Param("A", 0.0, math.inf, log=True, grid=_exp_grid(_LOG_HOFFMANN_SCALES), default=400.0,
              description="parameter-term scale"),
        Param("B", 0.0, math.inf, log=True, grid=_exp_grid(_LOG_HOFFMANN_SCALES), default=400.0,
              description="data-term scale"),
        Param("alpha", 0.0, 5.0, grid=_HOFFMANN_EXPONENTS, default=0.34, description="exponent of N"),
        Param("beta", 0.0, 5.0, grid=_HOFFMANN_EXPONENTS, default=0.28, description="exponent of D"),
    )

    def _terms(self, theta, X):
        E, A, B, alpha, beta = _cols(theta, 5)
        lN, lD = _log(self._x(X, "N")), _log(self._x(X, "D"))
        return E, A, B, alpha, beta, lN, lD

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        E, A, B, alpha, beta, lN, lD = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return E + A * np.exp(-alpha * lN) + B * np.exp(-beta * lD)

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        E, A, B, alpha, beta, lN, lD = self._terms(theta, X)
        with np.errstate(invalid="ignore"):
            return _lse(_log(A) - alpha * lN, _log(B) - beta * lD, _log(E))

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        E, A, B, alpha, beta, lN, lD = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            pN = np.exp(-alpha * lN)
            pD = np.exp(-beta * lD)
            shape = np.broadcast_shapes(pN.shape, pD.shape, E.shape)
            b = lambda a: np.broadcast_to(a, shape)  # noqa: E731
            return np.stack([b(np.ones_like(E)), b(pN), b(pD), b(-A * pN * lN), b(-B * pD * lD)], axis=-1)

    def log_jacobian(self, theta, X):
        """Derivative of log(loss in nats/token) with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        return self.log_evaluate_jacobian(theta, X)[1]

    def log_evaluate_jacobian(self, theta, X):
        """``(log_evaluate, log_jacobian)`` sharing one log-sum-exp; shapes ``(..., n)`` and ``(..., n, P)``."""
        E, A, B, alpha, beta, lN, lD = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            tN, tD = -alpha * lN, -beta * lD
            logL = _lse(np.log(A) + tN, np.log(B) + tD, np.log(E))
            wN = np.exp(tN - logL)  # N^-alpha / L
            wD = np.exp(tD - logL)
            wE = np.exp(-logL)
            shape = np.broadcast_shapes(wN.shape, wD.shape, wE.shape)
            J = np.empty(shape + (5,))
            J[..., 0], J[..., 1], J[..., 2] = wE, wN, wD
            J[..., 3], J[..., 4] = -A * wN * lN, -B * wD * lD
            return logL, J


class ChinchillaJointLaw(CatalogLaw):
    """Chinchilla's law with a joint exponent: ``L(N, D) = E + (A / N**alpha + B / D**beta)**gamma``.

    ``gamma = 1`` is the Chinchilla law (Hoffmann et al. 2022); ``E = 0`` with ``beta = 1`` is Kaplan et al.
    2020's joint form ``((Nc/N)**(alpha_N/alpha_D) + Dc/D)**alpha_D`` (eq. 1.5). The extra exponent changes how
    the loss curves across an IsoFLOP sweep (how fast it rises away from the optimum) separately from how
    the optimum falls with compute: on public IsoFLOP ladders (``bench/extrapolation.py``) fitted
    ``gamma`` ranged 0.2..1.6, and where it was far from 1 the Chinchilla form overpredicted near-optimal
    larger runs and underpredicted far-off-optimal ones. N = total parameters, D = training tokens, L in
    nats/token. The compute-optimal allocation under C = 6ND is Chinchilla's (``chinchilla_optimum``:
    ``x -> x**gamma`` is increasing, so the same N, D minimise the inner sum). Exponents bounded to [0, 5],
    ``gamma`` to [0.05, 5].
    """

    name = "chinchilla-joint"
    variables = ("N", "D")
    formula = "E + (A / N**alpha + B / D**beta)**gamma"
    target = "loss"
    description = "Chinchilla's law with a joint exponent gamma on its reducible part (gamma = 1: Chinchilla)."
    params = ChinchillaLaw.params + (
        Param("gamma", 0.05, 5.0, grid=(0.5, 1.0), default=1.0, description="joint exponent of the reducible loss"),
    )

    def _terms(self, theta, X):
        E, A, B, alpha, beta, gamma = _cols(theta, 6)
        lN, lD = _log(self._x(X, "N")), _log(self._x(X, "D"))
        with np.errstate(invalid="ignore", divide="ignore"):
            lS = _lse(_log(A) - alpha * lN, _log(B) - beta * lD)  # log of the inner sum
        return E, A, B, alpha, beta, gamma, lN, lD, lS

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``."""
        E, A, B, alpha, beta, gamma, lN, lD, lS = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return E + np.exp(gamma * lS)

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably."""
        E, A, B, alpha, beta, gamma, lN, lD, lS = self._terms(theta, X)
        with np.errstate(invalid="ignore"):
            return _lse(gamma * lS, _log(E))

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        return self._jacobian_terms(theta, X)[0]

    def _jacobian_terms(self, theta, X):
        """``(jacobian, E, gamma, lS, R)``: the Jacobian of the loss and the terms the log-space methods reuse
        (``lS``: log of the inner sum, ``R = S**gamma``: the reducible loss)."""
        E, A, B, alpha, beta, gamma, lN, lD, lS = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            R = np.exp(gamma * lS)
            g = gamma * np.exp((gamma - 1) * lS)  # d S**gamma / dS
            pN, pD = np.exp(-alpha * lN), np.exp(-beta * lD)
            J = np.empty(np.broadcast_shapes(g.shape, pN.shape, pD.shape, E.shape) + (6,))
            J[..., 0], J[..., 1], J[..., 2] = 1.0, g * pN, g * pD
            J[..., 3], J[..., 4], J[..., 5] = -g * A * pN * lN, -g * B * pD * lD, R * lS
        return J, E, gamma, lS, R

    def log_jacobian(self, theta, X):
        """Derivative of log(loss in nats/token) with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        return self.log_evaluate_jacobian(theta, X)[1]

    def log_evaluate_jacobian(self, theta, X):
        """``(log_evaluate, log_jacobian)`` from one pass over the shared terms; shapes ``(..., n)`` and ``(...,
        n, P)``."""
        J, E, gamma, lS, R = self._jacobian_terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _lse(gamma * lS, np.log(E)), J / (E + R)[..., None]


def chinchilla_optimum(params: Mapping[str, float] | np.ndarray, flops) -> tuple[np.ndarray, np.ndarray]:
    """Compute-optimal allocation of the Chinchilla law under ``C = 6 N D`` (Hoffmann et al. eq. 4).

    ``params``: a mapping with A, B, alpha, beta (E is not needed) or a natural-space ``theta`` in
    ``chinchilla`` order ``(..., 5)``; ``flops``: training FLOPs (scalar or array). Returns
    ``(N_opt, D_opt)`` in parameters and tokens: ``N_opt = G (C/6)**a``, ``D_opt = C / (6 N_opt)`` with
    ``G = (alpha A / (beta B))**(1/(alpha+beta))`` and ``a = beta/(alpha+beta)``. Broadcasts over a batch of
    parameter sets (leading axes of ``theta``) against ``flops``.

    Raises
    ------
    LawError
        If a mapping lacks A, B, alpha or beta, ``theta``'s last axis is not 5 long, or a compute budget
        is not positive.
    """
    if isinstance(params, Mapping):
        try:
            A, B, alpha, beta = (float(params[k]) for k in ("A", "B", "alpha", "beta"))
        except KeyError as exc:
            raise LawError(f"chinchilla_optimum needs A, B, alpha and beta; missing {exc.args[0]!r}") from None
    else:
        theta = np.asarray(params, dtype=float)
        if theta.shape[-1] != 5:
            raise LawError(f"chinchilla_optimum expects theta in chinchilla order (E, A, B, alpha, beta); "
                           f"got shape {theta.shape}")
        A, B, alpha, beta = (theta[..., j] for j in (1, 2, 3, 4))
    C = np.asarray(flops, dtype=float)
    if np.any(C <= 0):
        raise LawError("compute budget must be positive (FLOPs)")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = np.asarray(alpha) + np.asarray(beta)
        G = (np.asarray(alpha) * A / (np.asarray(beta) * B)) ** (1.0 / s)
        a = np.asarray(beta) / s
        N = G * (C / 6.0) ** a
        D = C / (6.0 * N)
    return N, D
