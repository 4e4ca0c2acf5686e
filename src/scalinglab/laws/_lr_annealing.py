"""The learning-rate annealing law (Tissue et al. 2024): loss along a training run from its LR schedule.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Param
from ._catalog_base import CatalogLaw, _cols, _log

__all__ = ["LRAnnealingLaw"]


class LRAnnealingLaw(CatalogLaw):
    """Tissue, Wang, Wang 2024 learning-rate-annealing law: ``L(s) = L0 + A * S1**(-alpha) - C * S2``.

    ``S1`` = forward area (cumulative learning rate up to step s) and ``S2`` = annealing area with
    momentum; compute both from a learning-rate schedule with :func:`scalinglab.laws.annealing_areas`.
    Fit one or two training curves, then predict the loss curve of any other schedule (e.g. WSD) from
    its (S1, S2). ``C`` may be 0 (no annealing benefit) and is not log-transformed.
    """

    name = "lr-annealing"
    variables = ("S1", "S2")
    formula = "L0 + A * S1**(-alpha) - C * S2"
    target = "loss"
    description = "Tissue 2024: loss along a training curve from LR areas S1, S2."
    params = (
        Param("L0", 0.0, math.inf, log=True, grid=(1.0, 2.0, 3.0), default=2.0, unit="nats/token"),
        Param("A", 0.0, math.inf, log=True, grid=(0.3, 1.0, 3.0), default=1.0),
        Param("alpha", 0.0, 5.0, grid=(0.25, 0.5, 1.0), default=0.5),
        Param("C", 0.0, math.inf, grid=(0.0, 0.5, 2.0), default=0.5),
    )

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        L0, A, alpha, C = _cols(theta, 4)
        l1 = _log(self._x(X, "S1"))
        S2 = self._x(X, "S2")
        with np.errstate(over="ignore", invalid="ignore"):
            return L0 + A * np.exp(-alpha * l1) - C * S2

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        L0, A, alpha, C = _cols(theta, 4)
        l1 = _log(self._x(X, "S1"))
        S2 = self._x(X, "S2")
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.exp(-alpha * l1)
            shape = np.broadcast_shapes(p.shape, (A * p).shape)
            b = lambda a: np.broadcast_to(a, shape)  # noqa: E731
            return np.stack([b(np.ones_like(L0)), b(p), b(-A * p * l1), b(-S2 + 0 * C)], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        S1 = np.asarray(X["S1"], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (S1 > 0) & (y > 0)
        if ok.sum() < 3:
            return None
        L0 = 0.9 * y[ok].min()
        slope, icpt = np.polyfit(np.log(S1[ok]), np.log(np.maximum(y[ok] - L0, 1e-12)), 1)
        return np.array([L0, float(np.exp(icpt)), float(np.clip(-slope, 1e-3, 4.9)), 0.0])
