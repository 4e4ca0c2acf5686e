"""The data-constrained law (Muennighoff et al. 2023): repeated data and excess parameters decay in value.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param
from ._catalog_base import CatalogLaw, _cols, _exp_grid, _log, _lse

__all__ = ["DataConstrainedLaw", "effective_data"]


def effective_data(D, U, r_d_star):
    """Muennighoff et al.'s effective tokens ``D' = U_D (1 + R_D* (1 - exp(-R_D / R_D*)))`` for ``D`` training
    tokens drawn from ``U`` unique ones (``U_D = min(U, D)``, ``R_D = D / U_D - 1`` repeats; ``D' = D`` when
    ``D <= U``), broadcast over the arrays given."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        UD = np.minimum(U, D)
        RD = np.maximum(D / UD - 1.0, 0.0)
        return UD * (1.0 + r_d_star * -np.expm1(-RD / r_d_star))


class DataConstrainedLaw(CatalogLaw):
    """Muennighoff et al. 2023 data-constrained law: ``L = E + A / N'**alpha + B / D'**beta``.

    Variables: N parameters, D training tokens, U unique tokens. With ``U_D = min(U, D)`` and
    ``R_D = D / U_D - 1`` repeats, ``D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*))``. With
    ``U_N = min(N, N_opt(U_D))`` (the compute-optimal size for ``U_D`` tokens, the repo's ``D_to_N``:
    ``G (U_D G)**(beta/alpha)``, ``G = (alpha A / (beta B))**(1/(alpha+beta))``) and ``R_N = N / U_N - 1``,
    ``N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*))``. Loss in nats/token (C4, GPT-2 tokenizer for the preset).
    """

    name = "data-constrained"
    variables = ("N", "D", "U")
    formula = ("E + A / N'**alpha + B / D'**beta;  D' = U_D (1 + R_D_star (1 - exp(-(D/U_D - 1)/R_D_star))), "
               "N' = U_N (1 + R_N_star (1 - exp(-(N/U_N - 1)/R_N_star))), U_N = min(N, N_opt(U_D))")
    target = "loss"
    description = "Muennighoff 2023: Chinchilla with decaying value of repeated data and excess params."
    params = (
        Param("E", 0.0, math.inf, log=True, grid=_exp_grid((-1.0, 0.0, 1.0)), default=1.87, unit="nats/token"),
        Param("A", 0.0, math.inf, log=True, grid=_exp_grid((0.0, 5.0, 10.0, 15.0)), default=520.0),
        Param("B", 0.0, math.inf, log=True, grid=_exp_grid((0.0, 5.0, 10.0, 15.0)), default=1500.0),
        Param("alpha", 0.0, 5.0, grid=(0.25, 0.5, 1.0), default=0.35),
        Param("beta", 0.0, 5.0, grid=(0.25, 0.5, 1.0), default=0.35),
        Param("R_D_star", 0.0, math.inf, log=True, grid=(5.0, 15.0, 50.0), default=15.0, unit="epochs",
              description="repeats after which repeated data loses value"),
        Param("R_N_star", 0.0, math.inf, log=True, grid=(5.0,), default=5.0,
              description="excess-parameter decay constant"),
    )

    def effective(self, theta, X) -> tuple[np.ndarray, np.ndarray]:
        """Effective parameters ``N'`` and effective tokens ``D'``, each of shape ``(..., n)``."""
        E, A, B, alpha, beta, RDs, RNs = _cols(theta, 7)
        N, D, U = self._x(X, "N"), self._x(X, "D"), self._x(X, "U")
        Dp = effective_data(D, U, RDs)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            UD = np.minimum(U, D)
            G = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
            Nopt = G * (UD * G) ** (beta / alpha)
            UN = np.minimum(N, Nopt)
            RN = np.maximum(N / UN - 1.0, 0.0)
            Np = UN * (1.0 + RNs * -np.expm1(-RN / RNs))
        return Np, Dp

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        E, A, B, alpha, beta, _, _ = _cols(theta, 7)
        Np, Dp = self.effective(theta, X)
        with np.errstate(invalid="ignore"):
            return _lse(_log(A) - alpha * _log(Np), _log(B) - beta * _log(Dp), _log(E))

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))
