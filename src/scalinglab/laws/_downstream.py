"""Laws of downstream metrics: accuracy sigmoids, pass@k coverage, reward-model over-optimisation (Gao et
al. 2023) and transfer (Hernandez et al. 2021).
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import LawError
from ._base import Param
from ._catalog_base import CatalogLaw, _check_identifier, _cols, _log, _sigmoid, accuracy_range

__all__ = ["SigmoidLaw", "CoverageLaw", "RewardBoNLaw", "RewardRLLaw", "TransferLaw"]


class SigmoidLaw(CatalogLaw):
    """Downstream accuracy vs one scale variable, a sigmoid in log10 of it:

    ``acc = floor + (ceiling - floor) / (1 + exp(-k * (log10(x) - x0)))``

    The variable defaults to ``C`` (training FLOPs); ``x0`` is then the log10 FLOPs of the midpoint.
    ``floor`` is the chance level: pass ``floor=0.25`` for 4-way multiple choice to fix it (it is then
    not a parameter). ``k`` (steepness per decade) is bounded to [0, 100]; floor and ceiling are
    unbounded so percentages work as well as fractions. Target "value" (fitted on plain residuals).
    """

    name = "sigmoid"
    target = "value"
    description = "Downstream accuracy: sigmoid in log10(x) between a chance floor and a ceiling."

    def __init__(self, variable: str = "C", floor: float | None = None) -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        self.floor = None if floor is None else float(floor)
        if self.floor is not None and not math.isfinite(self.floor):
            raise LawError(f"sigmoid: floor must be a finite number, got {floor!r}")
        fl = "floor" if self.floor is None else repr(self.floor)
        self.formula = f"{fl} + (ceiling - {fl}) / (1 + exp(-k * (log10({v}) - x0)))"
        ps = [] if self.floor is not None else [
            Param("floor", grid=(0.0, 0.25), default=0.25, description="chance level (as x -> 0)")]
        ps += [
            Param("ceiling", grid=(0.7, 1.0), default=1.0, description="accuracy as x -> inf"),
            Param("k", 0.0, 100.0, grid=(0.5, 1.0, 2.0), default=1.0, description="steepness per decade of x"),
            Param("x0", grid=(18.0, 21.0, 24.0, 27.0), default=22.0, description=f"log10({v}) at the midpoint"),
        ]
        self.params = tuple(ps)
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "variable": self.variables[0], "floor": self.floor}

    def value_range(self, theta=None) -> tuple[float, float]:
        """Observed accuracy range (see `accuracy_range`): fractions in [0, 1], percentages in [0, 100]."""
        if theta is None:
            return (-math.inf, math.inf)
        t = np.asarray(theta, float)
        fl = self.floor if self.floor is not None else float(t[0])
        ce = float(t[0 if self.floor is not None else 1])
        return accuracy_range(fl, ce)

    def _parts(self, theta, X):
        cols = _cols(theta, self.n_params)
        if self.floor is None:
            fl, ce, k, x0 = cols
        else:
            ce, k, x0 = cols
            fl = np.full_like(ce, self.floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log10(self._x(X, self.variables[0]))
        return fl, ce, k, x0, lx

    def evaluate(self, theta, X):
        """Accuracy (fraction), shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        fl, ce, k, x0, lx = self._parts(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return fl + (ce - fl) * _sigmoid(k * (lx - x0))

    def jacobian(self, theta, X):
        """Derivative of the accuracy (fraction) with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        fl, ce, k, x0, lx = self._parts(theta, X)
        with np.errstate(over="ignore", invalid="ignore"):
            s = _sigmoid(k * (lx - x0))
            ds = (ce - fl) * s * (1.0 - s)
            cols = [] if self.floor is not None else [1.0 - s]
            cols += [s + 0 * ce, ds * (lx - x0), -ds * k]
            shape = np.broadcast_shapes(*(c.shape for c in cols))
            return np.stack([np.broadcast_to(c, shape) for c in cols], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        x = np.asarray(X[self.variables[0]], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (x > 0) & np.isfinite(y)
        if ok.sum() < 3:
            return None
        lx, y = np.log10(x[ok]), y[ok]
        fl = self.floor if self.floor is not None else float(y.min())
        ce = max(float(y.max()), fl + 1e-3)
        if self.floor is not None and ce - fl < 1e-6:
            ce = fl + 0.5
        mid = fl + 0.5 * (ce - fl)
        order = np.argsort(lx)
        above = np.nonzero(y[order] >= mid)[0]
        x0 = float(lx[order][above[0]]) if above.size else float(lx.max())
        k = 2.0 / max(float(np.ptp(lx)), 1e-3) * 2.0
        head = [] if self.floor is not None else [fl]
        return np.array([*head, ce, k, x0])


class CoverageLaw(CatalogLaw):
    """Repeated-sampling coverage (Brown et al. 2024): ``c(k) = exp(a * k**b)`` with a < 0, b < 0.

    ``k`` = number of samples per problem; c = fraction of problems solved by at least one sample.
    ``log c = a k**b`` is a power law in k, so :meth:`guess` fits ``log(-log c)`` against ``log k``.
    Preset ``coverage-brown-2024-swebench-lite`` is solved exactly through the paper's two headline coverages
    (not the paper's own fit, which is only in its figures).
    """

    name = "coverage"
    target = "value"
    output_bounds = (0.0, 1.0)
    description = "Brown 2024 exponentiated power law for coverage vs number of samples."

    def __init__(self, variable: str = "k") -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        self.formula = f"exp(a * {v}**b)"
        self.params = (
            Param("a", -100.0, 0.0, grid=(-3.0, -1.0, -0.3), default=-1.0, description="log coverage at k = 1"),
            Param("b", -5.0, 0.0, grid=(-1.0, -0.5, -0.2), default=-0.3, description="exponent of k"),
        )
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "variable": self.variables[0]}

    def log_evaluate(self, theta, X):
        """Natural log of the coverage (fraction of problems in [0, 1]), shape ``(..., n)``, computed stably;
        ``theta`` has shape ``(..., P)``.
        """
        a, b = _cols(theta, 2)
        lk = _log(self._x(X, self.variables[0]))
        with np.errstate(over="ignore", invalid="ignore"):
            return a * np.exp(b * lk)

    def evaluate(self, theta, X):
        """Coverage (fraction of problems in [0, 1]), shape ``(..., n)``, for natural-space ``theta`` of shape
        ``(..., P)``; ``X`` maps each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore", under="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def jacobian(self, theta, X):
        """Derivative of the coverage (fraction of problems in [0, 1]) with respect to natural-space ``theta``,
        shape ``(..., n, P)``.
        """
        a, b = _cols(theta, 2)
        lk = _log(self._x(X, self.variables[0]))
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            p = np.exp(b * lk)
            c = np.exp(a * p)
            return np.stack([c * p, c * a * p * lk], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        k = np.asarray(X[self.variables[0]], dtype=float)
        y = np.asarray(y, dtype=float)
        ok = (k > 0) & (y > 0) & (y < 1)
        if ok.sum() < 2 or np.ptp(np.log(k[ok])) == 0:
            return None
        slope, icpt = np.polyfit(np.log(k[ok]), np.log(-np.log(y[ok])), 1)
        return np.array([float(np.clip(-np.exp(icpt), -99.0, -1e-6)), float(np.clip(slope, -4.9, -1e-6))])


class _LinearInD(CatalogLaw):
    """Shared pieces of the reward-model laws: linear in (alpha, beta) given d."""

    target = "value"
    _form = "bon"

    def __init__(self, variable: str = "d") -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        second = f"{v}" if self._form == "bon" else f"log({v})"
        self.formula = f"{v} * (alpha - beta * {second})"
        self.params = (
            Param("alpha", -1e3, 1e3, grid=(0.3, 1.0, 3.0), default=1.0, description="initial slope"),
            Param("beta", -1e3, 1e3, grid=(0.03, 0.1, 0.3), default=0.1, description="over-optimisation term"),
        )
        self._freeze()

    def spec(self) -> dict:
        return {"name": self.name, "variable": self.variables[0]}

    def _basis(self, X):
        d = self._x(X, self.variables[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            second = d * d if self._form == "bon" else d * np.log(d)
        return d, second

    def evaluate(self, theta, X):
        alpha, beta = _cols(theta, 2)
        d, second = self._basis(X)
        with np.errstate(invalid="ignore", over="ignore"):
            return alpha * d - beta * second

    def jacobian(self, theta, X):
        alpha, _ = _cols(theta, 2)
        d, second = self._basis(X)
        shape = np.broadcast_shapes(alpha.shape, d.shape)
        return np.stack([np.broadcast_to(d, shape), np.broadcast_to(-second, shape)], axis=-1)

    def guess(self, X, y):
        d, second = self._basis(X)
        y = np.asarray(y, dtype=float)
        ok = np.isfinite(second) & np.isfinite(y) & (d > 0)
        if ok.sum() < 2:
            return None
        M = np.stack([d[ok], -second[ok]], axis=1)
        coef, *_ = np.linalg.lstsq(M, y[ok], rcond=None)
        return coef


class RewardBoNLaw(_LinearInD):
    """Gao et al. 2022 best-of-n gold reward vs ``d = sqrt(KL)`` (nats): ``R = d (alpha - beta d)``.

    Peak at ``d* = alpha / (2 beta)`` with ``R* = alpha**2 / (4 beta)``; best-of-n KL is ``log n - (n - 1)/n``
    nats. R is the gold-RM score relative to the initial policy (R(0) = 0; the paper recentres every RM so the
    initial policy scores 0 and unit-normalises the gold RM's variance). No preset: the full text (sections 1-5,
    appendices A-C, figure captions) states no fitted alpha/beta; the per-proxy-RM-size values exist only as plotted
    curves (Fig. 3, and Figs. 17-18 for data size), so there is no number to quote. Fit the form to your runs.
    """

    name = "rm-bon"
    description = "Gao 2022 reward-model over-optimisation, best-of-n."
    _form = "bon"


class RewardRLLaw(_LinearInD):
    """Gao et al. 2022 RL (PPO) gold reward vs ``d = sqrt(KL)`` (nats): ``R = d (alpha - beta log d)``.

    The paper holds ``alpha_RL`` constant across proxy-RM sizes and lets only ``beta_RL`` scale (sec. 3.2); the
    form has infinite slope at d = 0 (footnote 1). No preset, for the same reason as ``rm-bon``: the values are
    only plotted (Fig. 3c), never stated.
    """

    name = "rm-rl"
    description = "Gao 2022 reward-model over-optimisation, RL."
    _form = "rl"


class TransferLaw(CatalogLaw):
    """Hernandez et al. 2021 effective data transferred: ``D_T = k * D**alpha * N**beta``.

    ``D`` = fine-tuning tokens (D_F), ``N`` = non-embedding parameters; ``D_T`` in tokens (the effective
    data is ``D_F + D_T``). Positive, so fitted on log residuals (target "loss").
    """

    name = "transfer"
    variables = ("D", "N")
    formula = "k * D**alpha * N**beta"
    target = "loss"
    description = "Hernandez 2021 effective data transferred from pre-training (tokens)."
    params = (
        Param("k", 0.0, math.inf, log=True, grid=(1e2, 1e4, 1e6), default=1.9e4),
        Param("alpha", -5.0, 5.0, grid=(0.1, 0.3), default=0.18, description="exponent of fine-tuning tokens"),
        Param("beta", -5.0, 5.0, grid=(0.2, 0.5), default=0.38, description="exponent of parameters"),
    )

    def log_evaluate(self, theta, X):
        """Natural log of the effective tokens transferred, shape ``(..., n)``, computed stably; ``theta`` has
        shape ``(..., P)``.
        """
        k, alpha, beta = _cols(theta, 3)
        with np.errstate(invalid="ignore"):
            return _log(k) + alpha * _log(self._x(X, "D")) + beta * _log(self._x(X, "N"))

    def evaluate(self, theta, X):
        """Effective tokens transferred, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``;
        ``X`` maps each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def jacobian(self, theta, X):
        """Derivative of the effective tokens transferred with respect to natural-space ``theta``, shape ``(..., n,
        P)``.
        """
        k, _, _ = _cols(theta, 3)
        y = self.evaluate(theta, X)
        return np.stack([y / k, y * _log(self._x(X, "D")), y * _log(self._x(X, "N"))], axis=-1)

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        D, N, y = (np.asarray(v, dtype=float) for v in (X["D"], X["N"], y))
        ok = (D > 0) & (N > 0) & (y > 0)
        if ok.sum() < 3:
            return None
        M = np.stack([np.ones(ok.sum()), np.log(D[ok]), np.log(N[ok])], axis=1)
        coef, *_ = np.linalg.lstsq(M, np.log(y[ok]), rcond=None)
        return np.array([float(np.exp(coef[0])), float(coef[1]), float(coef[2])])
