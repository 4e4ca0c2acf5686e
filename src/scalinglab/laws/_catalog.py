"""The law catalog: small, frozen `Law` subclasses with analytic Jacobians where they are cheap.

Every law documents its formula, units and parameter bounds. Shapes follow ``_base``: ``theta`` is
``(..., P)`` natural-space parameters, ``X`` maps variable names to 1-D arrays of length ``n``, and
``evaluate`` returns ``(..., n)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from .._errors import LawError
from ._base import Law, Param

__all__ = [
    "CatalogLaw", "PowerLaw", "PurePowerLaw", "ChinchillaLaw", "KaplanN", "KaplanD", "KaplanC", "KaplanND",
    "KaplanNS", "BNSLLaw", "DataConstrainedLaw", "LRAnnealingLaw", "SigmoidLaw", "CoverageLaw", "RewardBoNLaw",
    "RewardRLLaw", "TransferLaw", "chinchilla_optimum", "critical_batch_size", "s_min", "c_min", "PF_DAY",
    "CATALOG",
]

_LOG_HOFFMANN_SCALES = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
#: Hoffmann et al.'s start grid for exponents, and for log E.
_HOFFMANN_EXPONENTS = (0.0, 0.5, 1.0, 1.5, 2.0)
_HOFFMANN_LOG_E = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _exp_grid(logs) -> tuple[float, ...]:
    return tuple(float(math.exp(v)) for v in logs)


def _cols(theta: np.ndarray, P: int) -> list[np.ndarray]:
    """Split ``theta (..., P)`` into P arrays of shape ``(..., 1)`` that broadcast against ``(n,)``."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape[-1:] != (P,):
        raise LawError(f"expected theta with last axis {P}, got shape {theta.shape}")
    return [theta[..., j, None] for j in range(P)]


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def _lse(*terms: np.ndarray) -> np.ndarray:
    """Stable ``log(sum(exp(t)))`` of broadcastable arrays (``-inf`` terms are fine)."""
    out = terms[0]
    with np.errstate(invalid="ignore", under="ignore"):
        for t in terms[1:]:
            out = np.logaddexp(out, t)
    return out


def _check_identifier(name: str, what: str = "variable") -> str:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise LawError(f"{what} name {name!r} must be a plain identifier (letters, digits, underscores)")
    return name


def accuracy_range(floor: float, ceiling: float, fixed_ceiling: float | None = None) -> tuple[float, float]:
    """Range of an observed accuracy between ``floor`` and ``ceiling``: ``(0, 1)`` when both lie in
    [0, 1.5] (fractions; a fitted ceiling may overshoot 1 a little, a percentage scale never ends at
    1.5%), ``(0, 100)`` when both lie in [0, 100] (percentages), else unbounded; a FIXED ceiling caps it.
    The lower end is 0, not the chance floor: noisy runs do score below chance."""
    lo_v, hi_v = min(floor, ceiling), max(floor, ceiling)
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
        lo, hi = -math.inf, math.inf
    elif lo_v >= -1e-9 and hi_v <= 1.5:
        lo, hi = 0.0, 1.0
    elif lo_v >= -1e-9 and hi_v <= 100.0 + 1e-9:
        lo, hi = 0.0, 100.0
    else:
        lo, hi = -math.inf, math.inf
    if fixed_ceiling is not None and math.isfinite(fixed_ceiling) and fixed_ceiling > lo:
        hi = min(hi, float(fixed_ceiling))
    return lo, hi


class CatalogLaw(Law):
    """Base of the catalog laws: instances are frozen after construction and compare by :meth:`spec`."""

    _frozen: bool = False

    def _freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, key: str, value: object) -> None:
        if self._frozen:
            raise AttributeError(f"law {self.name!r} is frozen; build a new one instead of setting {key!r}")
        object.__setattr__(self, key, value)

    def __init__(self) -> None:
        self._freeze()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Law) and type(other) is type(self) and other.spec() == self.spec()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.spec().items())))

    def _x(self, X: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        try:
            return np.asarray(X[name], dtype=float)
        except KeyError:
            raise LawError(f"law {self.name!r} needs variable {name!r}; got {', '.join(X) or 'none'}") from None


# --------------------------------------------------------------------------------------------- power laws
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


# --------------------------------------------------------------------------------------------- Chinchilla
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
        E, A, B, alpha, beta, lN, lD = self._terms(theta, X)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            logL = _lse(_log(A) - alpha * lN, _log(B) - beta * lD, _log(E))
            wN = np.exp(-alpha * lN - logL)  # N^-alpha / L
            wD = np.exp(-beta * lD - logL)
            wE = np.exp(-logL)
            shape = np.broadcast_shapes(wN.shape, wD.shape, wE.shape)
            b = lambda a: np.broadcast_to(a, shape)  # noqa: E731
            return np.stack([b(wE), b(wN), b(wD), b(-A * wN * lN), b(-B * wD * lD)], axis=-1)


# --------------------------------------------------------------------------------------------- Kaplan 2020
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


# --------------------------------------------------------------------------------------------- BNSL
def _softplus(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.logaddexp(0.0, z)


def _sigmoid(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * (1.0 + np.tanh(0.5 * z))


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


# --------------------------------------------------------------------------------------------- Muennighoff
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
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            UD = np.minimum(U, D)
            RD = np.maximum(D / UD - 1.0, 0.0)
            Dp = UD * (1.0 + RDs * -np.expm1(-RD / RDs))
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


# --------------------------------------------------------------------------------------------- Tissue 2024
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


# --------------------------------------------------------------------------------------------- downstream
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


# --------------------------------------------------------------------------------------------- helpers
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


#: catalog name -> law factory (class or callable); ``scalinglab.laws.get_law`` reads this.
CATALOG: dict[str, object] = {
    "power": PowerLaw,
    "power-pure": PurePowerLaw,
    "chinchilla": ChinchillaLaw,
    "kaplan-n": KaplanN,
    "kaplan-d": KaplanD,
    "kaplan-c": KaplanC,
    "kaplan-nd": KaplanND,
    "kaplan-ns": KaplanNS,
    "bnsl": BNSLLaw,
    "bnsl-2": functools.partial(BNSLLaw, 2),
    "bnsl-3": functools.partial(BNSLLaw, 3),
    "data-constrained": DataConstrainedLaw,
    "lr-annealing": LRAnnealingLaw,
    "sigmoid": SigmoidLaw,
    "coverage": CoverageLaw,
    "rm-bon": RewardBoNLaw,
    "rm-rl": RewardRLLaw,
    "transfer": TransferLaw,
}
