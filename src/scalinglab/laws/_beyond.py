"""Laws beyond pre-training loss: downstream accuracy vs task loss, bounded sigmoids, MoE and precision.

Registered in the catalog under:

* ``sigmoid-loss``  accuracy vs task loss / bits-per-byte (step 2 of the OLMo / Llama 3 two-step ladders);
* ``sigmoid-bounded``  accuracy vs log10 of a scale variable with optional FIXED floor and ceiling;
* ``moe-clark``  Clark et al. 2022 unified scaling law for routed (MoE) models in N and expert count E;
* ``precision``  Kumar et al. 2024 precision-aware law with an effective parameter count.

Presets: ``precision-kumar-2024`` (weights), ``precision-kumar-2024-activations`` and ``precision-kumar-2024-kv``
carry Kumar et al.'s Appendix K, Table 2 constants; ``moe-clark-2022-sbase`` carries Clark et al.'s Table 3 fit for
S-BASE routing (base-10 logs, saturating E). See ``_presets.py`` for where each number was read and how it was
checked.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import LawError
from ._base import Param
from ._catalog_base import CatalogLaw, _check_identifier, _cols, _log, _lse, _sigmoid, accuracy_range
from ._registry import register_law

__all__ = ["LossSigmoidLaw", "BoundedSigmoidLaw", "MoEClarkLaw", "PrecisionLaw"]


def _fixed(value, what: str) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        raise LawError(f"{what} must be a finite number, got {value!r}")
    return v


class _SigmoidBase(CatalogLaw):
    """Shared code: ``floor + (ceiling - floor) * s(z)`` with optional fixed floor and ceiling."""

    target = "value"

    def _setup(self, variable: str, floor, ceiling, z_params: list[Param]) -> None:
        v = _check_identifier(variable)
        self.variables = (v,)
        self.floor = _fixed(floor, f"{self.name}: floor")
        self.ceiling = _fixed(ceiling, f"{self.name}: ceiling")
        ps = []
        if self.floor is None:
            ps.append(Param("floor", grid=(0.0, 0.25), default=0.25, description="chance level"))
        if self.ceiling is None:
            ps.append(Param("ceiling", grid=(0.7, 1.0), default=1.0, description="best reachable accuracy"))
        self.params = tuple(ps + z_params)
        self._n_bounds = len(ps)

    def spec(self) -> dict:
        return {"name": self.name, "variable": self.variables[0], "floor": self.floor, "ceiling": self.ceiling}

    def value_range(self, theta=None) -> tuple[float, float]:
        """Observed accuracy range (see `accuracy_range`); a fixed ceiling caps it."""
        if theta is None:
            return (-math.inf, math.inf) if self.ceiling is None else (-math.inf, self.ceiling)
        fl, ce, _ = self._split(np.asarray(theta, float)[None, :])
        return accuracy_range(float(np.ravel(fl)[0]), float(np.ravel(ce)[0]), self.ceiling)

    def _split(self, theta):
        cols = _cols(theta, self.n_params)
        i = 0
        if self.floor is None:
            fl = cols[i]
            i += 1
        else:
            fl = None
        if self.ceiling is None:
            ce = cols[i]
            i += 1
        else:
            ce = None
        rest = cols[i:]
        like = rest[0]
        fl = np.full_like(like, self.floor) if fl is None else fl
        ce = np.full_like(like, self.ceiling) if ce is None else ce
        return fl, ce, rest

    def _z(self, rest, X):
        """(z, dz/dk, dz/dmid) for the sigmoid argument; subclasses define the geometry."""
        raise NotImplementedError

    def evaluate(self, theta, X):
        fl, ce, rest = self._split(theta)
        z, _, _ = self._z(rest, X)
        with np.errstate(over="ignore", invalid="ignore"):
            return fl + (ce - fl) * _sigmoid(z)

    def jacobian(self, theta, X):
        fl, ce, rest = self._split(theta)
        z, dk, dm = self._z(rest, X)
        with np.errstate(over="ignore", invalid="ignore"):
            s = _sigmoid(z)
            ds = (ce - fl) * s * (1.0 - s)
            cols = []
            if self.floor is None:
                cols.append(1.0 - s)
            if self.ceiling is None:
                cols.append(s + 0 * ce)
            cols += [ds * dk, ds * dm]
            shape = np.broadcast_shapes(*(c.shape for c in cols))
            return np.stack([np.broadcast_to(c, shape) for c in cols], axis=-1)

    def _bounds_guess(self, y):
        fl = self.floor if self.floor is not None else float(np.min(y))
        ce = self.ceiling if self.ceiling is not None else float(np.max(y))
        if abs(ce - fl) < 1e-6:
            ce = fl + 0.5
        head = ([] if self.floor is not None else [fl]) + ([] if self.ceiling is not None else [ce])
        return fl, ce, head


class LossSigmoidLaw(_SigmoidBase):
    """Accuracy vs task loss (step 2 of the two-step downstream ladders, Bhagia et al. 2024; Llama 3):

    ``acc = floor + (ceiling - floor) / (1 + exp(k * (L - L0)))``

    ``L`` = task loss (normalized NLL of the correct answer, nats, or bits-per-byte); accuracy FALLS as L
    grows, so ``k > 0`` (steepness per unit of loss) and ``L0`` is the loss at the midpoint. Pass
    ``floor=0.25`` for 4-way multiple choice and/or ``ceiling=1.0`` to fix them. Target "value".
    """

    name = "sigmoid-loss"
    description = "Accuracy vs task loss: falling sigmoid between a chance floor and a ceiling."

    def __init__(self, variable: str = "L", floor: float | None = None, ceiling: float | None = None) -> None:
        self._setup(variable, floor, ceiling, [
            Param("k", 0.0, 1e3, grid=(2.0, 5.0, 15.0), default=5.0, description="steepness per unit of loss"),
            Param("L0", grid=(0.5, 1.0, 2.0), default=1.0, description="task loss at the midpoint"),
        ])
        fl = "floor" if self.floor is None else repr(self.floor)
        ce = "ceiling" if self.ceiling is None else repr(self.ceiling)
        self.formula = f"{fl} + ({ce} - {fl}) / (1 + exp(k * ({variable} - L0)))"
        self._freeze()

    def _z(self, rest, X):
        k, L0 = rest
        L = self._x(X, self.variables[0])
        return -k * (L - L0), -(L - L0) + 0 * k, k + 0 * L

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        L = np.asarray(X[self.variables[0]], float)
        y = np.asarray(y, float)
        ok = np.isfinite(L) & np.isfinite(y)
        if ok.sum() < 3:
            return None
        L, y = L[ok], y[ok]
        fl, ce, head = self._bounds_guess(y)
        mid = fl + 0.5 * (ce - fl)
        L0 = float(L[np.argmin(np.abs(y - mid))])
        k = 4.0 / max(float(np.ptp(L)), 1e-3)
        return np.array([*head, k, L0])


class BoundedSigmoidLaw(_SigmoidBase):
    """Accuracy vs log10 of a scale variable with optional fixed floor AND ceiling:

    ``acc = floor + (ceiling - floor) / (1 + exp(-k * (log10(x) - x0)))``

    Same form as the catalog ``sigmoid``; fixing ``ceiling=1.0`` (and ``floor`` = chance) leaves two
    parameters, which extrapolates more stably from a few noisy models. ``x`` defaults to ``C``
    (training FLOPs).
    """

    name = "sigmoid-bounded"
    description = "Sigmoid in log10(x) with optional fixed floor and ceiling."

    def __init__(self, variable: str = "C", floor: float | None = None, ceiling: float | None = None) -> None:
        self._setup(variable, floor, ceiling, [
            Param("k", 0.0, 100.0, grid=(0.5, 1.0, 2.0), default=1.0, description="steepness per decade"),
            Param("x0", grid=(18.0, 21.0, 24.0, 27.0), default=22.0, description="log10(x) at the midpoint"),
        ])
        fl = "floor" if self.floor is None else repr(self.floor)
        ce = "ceiling" if self.ceiling is None else repr(self.ceiling)
        self.formula = f"{fl} + ({ce} - {fl}) / (1 + exp(-k * (log10({variable}) - x0)))"
        self._freeze()

    def _z(self, rest, X):
        k, x0 = rest
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log10(self._x(X, self.variables[0]))
        return k * (lx - x0), (lx - x0) + 0 * k, -k + 0 * lx

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        x = np.asarray(X[self.variables[0]], float)
        y = np.asarray(y, float)
        ok = (x > 0) & np.isfinite(y)
        if ok.sum() < 2:
            return None
        lx, y = np.log10(x[ok]), y[ok]
        fl, ce, head = self._bounds_guess(y)
        frac = np.clip((y - fl) / (ce - fl), 0.02, 0.98)
        logit = np.log(frac / (1 - frac))
        if np.ptp(lx) > 0:
            slope, icpt = np.polyfit(lx, logit, 1)
            if slope > 1e-3:
                return np.array([*head, float(min(slope, 99.0)), float(-icpt / slope)])
        return np.array([*head, 1.0, float(np.median(lx))])


class MoEClarkLaw(CatalogLaw):
    """Clark et al. 2022 ("Unified Scaling Laws for Routed Language Models", arXiv 2202.01169, eq. 1):

    ``log L = a log N + b log E + c log N log E + d``

    ``N`` = parameters of the dense base model (the parameters seen per token, the authors' data column
    ``dense_parameter_count``), ``E`` = number of experts per routed layer (E = 1 is the dense model). With
    ``e_start`` and ``e_max`` the paper's saturating transform replaces E by
    ``1/E_hat = 1/(E - 1 + 1/(1/e_start - 1/e_max)) + 1/e_max`` (E_hat(1) = e_start, E_hat -> e_max for large
    E; the same transform as the authors' example notebook in github.com/google-deepmind/scaling_laws_for_routing).
    Logs are natural by default; ``log10=True`` reads every ``log`` above as base 10, which is how the paper's
    coefficients are printed (preset ``moe-clark-2022-sbase``: a = -0.082, b = -0.108, c = 0.009, d = 1.104,
    E_start = 1.847, E_max = 314.478). L in nats/token. Linear in (a, b, c, d) in log space; a base change maps
    (a, b, c, d) to (a, b, c / ln 10, d ln 10).
    """

    name = "moe-clark"
    variables = ("N", "E")
    target = "loss"
    description = "Clark 2022 routed-LM law in active params N and expert count E (bilinear in logs)."
    params = (
        Param("a", -5.0, 5.0, grid=(-0.1, -0.05), default=-0.08, description="exponent of N (negative)"),
        Param("b", -5.0, 5.0, grid=(-0.1, 0.0), default=-0.1, description="exponent of E at N = 1"),
        Param("c", -5.0, 5.0, grid=(0.0, 0.01), default=0.005, description="interaction log N log E"),
        Param("d", -50.0, 50.0, grid=(1.0, 3.0), default=2.0, description="log loss at N = E = 1"),
    )

    def __init__(self, e_start: float | None = None, e_max: float | None = None, log10: bool = False) -> None:
        if (e_start is None) != (e_max is None):
            raise LawError("moe-clark: give both e_start and e_max (saturating E) or neither")
        if e_start is not None and not 1.0 <= float(e_start) < float(e_max):
            raise LawError(f"moe-clark: need 1 <= e_start < e_max, got {e_start}, {e_max}")
        self.e_start = None if e_start is None else float(e_start)
        self.e_max = None if e_max is None else float(e_max)
        if not isinstance(log10, (bool, np.bool_)):
            raise LawError(f"moe-clark: log10 must be true or false, got {log10!r}")
        self.log10 = bool(log10)
        ev = "E" if self.e_start is None else "E_hat"
        lg, base = ("log10", "10**") if self.log10 else ("log", "exp")
        self.formula = f"{base}(a*{lg}(N) + b*{lg}({ev}) + c*{lg}(N)*{lg}({ev}) + d)"
        self._freeze()

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name, "e_start": self.e_start, "e_max": self.e_max, "log10": self.log10}

    def e_hat(self, E) -> np.ndarray:
        """Saturated expert count ``E_hat`` for expert counts ``E`` (any shape, >= 1; same shape out).

        Without ``e_start``/``e_max`` this is ``E`` itself (as a float array).
        """
        E = np.asarray(E, float)
        if self.e_start is None:
            return E
        inner = 1.0 / (1.0 / self.e_start - 1.0 / self.e_max)
        return 1.0 / (1.0 / (E - 1.0 + inner) + 1.0 / self.e_max)

    @property
    def _scale(self) -> float:
        """ln(base) of the law's logs: 1 for natural logs, ln 10 for ``log10=True``."""
        return math.log(10.0) if self.log10 else 1.0

    def _basis(self, X):
        s = self._scale
        lN = _log(self._x(X, "N")) / s
        lE = _log(self.e_hat(self._x(X, "E"))) / s
        return lN, lE

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        a, b, c, d = _cols(theta, 4)
        lN, lE = self._basis(X)
        return self._scale * (a * lN + b * lE + c * lN * lE + d)

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))

    def log_jacobian(self, theta, X):
        """Derivative of log(loss in nats/token) with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        a, _, _, _ = _cols(theta, 4)
        lN, lE = self._basis(X)
        shape = np.broadcast_shapes(a.shape, lN.shape)
        s = self._scale
        cols = [s * lN, s * lE, s * lN * lE, np.full_like(lN, s)]
        return np.stack([np.broadcast_to(c, shape) for c in cols], axis=-1)

    def jacobian(self, theta, X):
        """Derivative of the loss in nats/token with respect to natural-space ``theta``, shape ``(..., n, P)``."""
        return self.log_jacobian(theta, X) * self.evaluate(theta, X)[..., None]

    def guess(self, X, y):
        """Data-driven start: natural-space ``theta`` of shape ``(P,)`` from ``X`` and observed ``y`` (length n),
        or None when too few points are usable.
        """
        lN, lE = self._basis(X)
        y = np.asarray(y, float)
        ok = np.isfinite(lN) & np.isfinite(lE) & (y > 0)
        if ok.sum() < 4:
            return None
        M = np.stack([lN[ok], lE[ok], lN[ok] * lE[ok], np.ones(ok.sum())], axis=1)
        coef, *_ = np.linalg.lstsq(M, np.log(y[ok]) / self._scale, rcond=None)
        return np.clip(coef, [-4.9, -4.9, -4.9, -49.0], [4.9, 4.9, 4.9, 49.0])


class PrecisionLaw(CatalogLaw):
    """Kumar et al. 2024 ("Scaling Laws for Precision", arXiv 2411.04330), low-precision training with
    quantized weights:

    ``L(N, D, P) = E + A * N_eff**(-alpha) + B * D**(-beta)``,  ``N_eff = N * (1 - exp(-P / gamma))``

    ``N`` = parameters, ``D`` = training tokens, ``P`` = training precision of the weights in BITS;
    ``gamma`` (bits) sets how fast extra bits stop mattering. The paper multiplies one such factor per
    quantized tensor (weights, activations, KV cache); this law models one precision. Presets
    ``precision-kumar-2024`` (gamma = gamma_w = 2.6745 bits), ``-activations`` (2.2102) and ``-kv`` (0.9578),
    with E = 2.7648, A = 4299, B = 18060, alpha = beta = 0.4965 (Appendix K, Table 2). L in nats/token.
    """

    name = "precision"
    variables = ("N", "D", "P")
    target = "loss"
    description = "Kumar 2024 precision-aware Chinchilla law with effective params N(1 - exp(-P/gamma))."
    formula = "E + A * (N * (1 - exp(-P / gamma)))**(-alpha) + B * D**(-beta)"
    params = (
        Param("E", 0.0, math.inf, log=True, grid=(1.0, 2.0), default=1.7, unit="nats/token"),
        Param("A", 0.0, math.inf, log=True, grid=(1e2, 1e3), default=400.0),
        Param("B", 0.0, math.inf, log=True, grid=(1e2, 1e3), default=400.0),
        Param("alpha", 0.0, 5.0, grid=(0.3, 0.5), default=0.34),
        Param("beta", 0.0, 5.0, grid=(0.3, 0.5), default=0.28),
        Param("gamma", 1e-3, 1e3, log=True, grid=(1.0, 3.0), default=2.0, unit="bits",
              description="precision scale of the effective-parameter factor"),
    )

    def _terms(self, theta, X):
        E, A, B, alpha, beta, gamma = _cols(theta, 6)
        lN, lD = _log(self._x(X, "N")), _log(self._x(X, "D"))
        P = self._x(X, "P")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            lf = np.log(-np.expm1(-P / gamma))
        return E, A, B, alpha, beta, gamma, lN, lD, P, lf

    def log_evaluate(self, theta, X):
        """Natural log of the loss in nats/token, shape ``(..., n)``, computed stably; ``theta`` has shape ``(...,
        P)``.
        """
        E, A, B, alpha, beta, _, lN, lD, _, lf = self._terms(theta, X)
        return _lse(_log(A) - alpha * (lN + lf), _log(B) - beta * lD, _log(E))

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``; ``X`` maps
        each variable to a 1-D array of length n.
        """
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))


register_law("sigmoid-loss", LossSigmoidLaw)
register_law("sigmoid-bounded", BoundedSigmoidLaw)
register_law("moe-clark", MoEClarkLaw)
register_law("precision", PrecisionLaw)
