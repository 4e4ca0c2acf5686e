"""The `Law` interface shared by the catalog, the fitter and the planner.

A law is a small, frozen description of a functional form: its input variables, its named parameters
(with bounds, a fit transform and multi-start grid values), a vectorised evaluation that is batched over
parameter sets, a Jacobian, a readable formula and optional published presets.

Shapes (the contract every law and every consumer relies on):

* ``theta``: parameter values in *natural* space, shape ``(..., P)`` where ``P = len(law.params)`` and the
  order is ``law.param_names``. Leading axes are batch axes (multi-start, bootstrap).
* ``X``: a mapping from variable name (``law.variables``) to a 1-D float array of length ``n``.
* ``law.evaluate(theta, X)`` → shape ``(..., n)``; ``law.jacobian(theta, X)`` → shape ``(..., n, P)``
  (derivatives of ``evaluate`` with respect to natural-space parameters).

Variable names: ``N`` (parameters), ``D`` (training tokens), ``C`` (training FLOPs), ``U`` (unique tokens),
``S`` (steps), or any other name for single-variable laws fitted on two columns (``x`` by default).
``VARIABLE_COLUMNS`` maps the canonical ones to run-table columns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._errors import LawError

__all__ = ["Param", "Preset", "Law", "VARIABLE_COLUMNS", "as_theta"]

#: law variable -> canonical run-table column (see ``scalinglab.data``).
VARIABLE_COLUMNS: dict[str, str] = {"N": "params", "D": "tokens", "C": "flops", "U": "unique_tokens",
                                    "S": "step"}


@dataclass(frozen=True)
class Param:
    """One named parameter of a law.

    ``lower``/``upper`` bound the natural-space value (the fitter enforces them by transforming the
    parameter, never by clipping). ``log=True`` means the fitter works with ``log(value)`` (the value must
    be positive), as Hoffmann et al. do for E, A and B. ``grid`` lists natural-space start values for the
    default multi-start grid; an empty grid means "use ``default``".
    """

    name: str
    lower: float = -math.inf
    upper: float = math.inf
    log: bool = False
    grid: tuple[float, ...] = ()
    default: float = 1.0
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise LawError(f"parameter name {self.name!r} is not a valid identifier")
        if not self.lower < self.upper:
            raise LawError(f"parameter {self.name!r}: lower bound {self.lower} must be < upper bound {self.upper}")
        if self.log and self.lower < 0:
            object.__setattr__(self, "lower", 0.0)


@dataclass(frozen=True)
class Preset:
    """Published constants for a law, with where they come from and what they are tied to.

    ``conventions`` records what the constants are only valid for, e.g.
    ``{"params": "total", "flops": "6ND", "loss": "nats/token", "dataset": "MassiveText"}``.
    """

    name: str
    law: str
    values: Mapping[str, float]
    source: str
    notes: str = ""
    conventions: Mapping[str, str] = field(default_factory=dict)
    #: published standard errors (natural space) where known, e.g. Besiroglu et al.'s for ``chinchilla-epoch``.
    stderr: Mapping[str, float] = field(default_factory=dict)
    #: constructor options of the law this preset is for (e.g. ``{"variable": "C"}``), see :meth:`Law.spec`.
    law_options: Mapping[str, object] = field(default_factory=dict)
    #: the ranges of the runs the constants were fitted on, by variable (``{"N": (7e7, 1.6e10)}``: parameters,
    #: tokens), where the source states them: extrapolation notes and the pivot of the parameter draws.
    data_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)


class Law:
    """Base class of every law. Subclasses set the class attributes and implement :meth:`evaluate`.

    Override :meth:`jacobian` with an analytic form where one is cheap; the default is a central finite
    difference in each parameter's fit space. Override :meth:`log_evaluate` where ``log(evaluate)`` can be
    computed more stably (e.g. log-sum-exp for sums of power laws).
    """

    name: str = "law"
    variables: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    formula: str = ""
    #: what the law predicts: "loss" (positive; fitted on log residuals) or "value" (any sign).
    target: str = "loss"
    description: str = ""
    #: range ``(lo, hi)`` the predicted quantity can physically take (e.g. ``(0.0, 1.0)`` for a coverage or
    #: an accuracy), or None when unbounded; prediction intervals are kept inside it. See `value_range`.
    output_bounds: tuple[float, float] | None = None

    # ----------------------------------------------------------------- structure
    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names in law order (the order of the last axis of ``theta``), length P."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        """Number of parameters P (the length of the last axis of ``theta``)."""
        return len(self.params)

    def param(self, name: str) -> Param:
        """The `Param` called ``name``; raises `LawError` naming the law's parameters when there is none.

        Raises
        ------
        LawError
            If the law has no parameter called ``name`` (the message lists the ones it has).
        """
        for p in self.params:
            if p.name == name:
                return p
        raise LawError(f"law {self.name!r} has no parameter {name!r}; it has {', '.join(self.param_names)}")

    # ----------------------------------------------------------------- evaluation
    def evaluate(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """Law value, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``."""
        raise NotImplementedError

    def log_evaluate(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """``log(evaluate(theta, X))``; only meaningful for positive laws (``target == "loss"``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.evaluate(theta, X))

    def jacobian(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """d evaluate / d theta (natural space), shape ``(..., n, P)``; central differences by default, the
        ``2 P`` shifted parameter sets evaluated in one batched call (one law evaluation's overhead, not 2 P)."""
        theta = np.asarray(theta, dtype=float)
        lead, P = theta.shape[:-1], theta.shape[-1]
        flat = theta.reshape(-1, P)  # (B, P): every law evaluates a 2-D batch of parameter sets
        shifted = np.repeat(flat[None, :, :], 2 * P, axis=0)  # (2P, B, P): +h then -h for each parameter
        step = np.empty((P, flat.shape[0]))
        for j, p in enumerate(self.params):
            t = flat[:, j]
            if p.log:
                up, dn = t * np.exp(1e-6), t * np.exp(-1e-6)
            else:
                h = 1e-6 * np.maximum(1.0, np.abs(t))
                up, dn = t + h, t - h
            shifted[2 * j, :, j], shifted[2 * j + 1, :, j] = up, dn
            step[j] = up - dn
        values = self.evaluate(shifted.reshape(-1, P), X)
        values = values.reshape(2 * P, flat.shape[0], -1)  # (2P, B, n)
        J = (values[0::2] - values[1::2]) / step[:, :, None]  # (P, B, n)
        return np.moveaxis(J, 0, -1).reshape(*lead, J.shape[-1], P)

    def log_jacobian(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """d log(evaluate) / d theta (natural space), shape ``(..., n, P)``: ``jacobian / evaluate``."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self.jacobian(theta, X) / self.evaluate(theta, X)[..., None]

    def log_evaluate_jacobian(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(log_evaluate(theta, X), log_jacobian(theta, X))`` in one call, shapes ``(..., n)`` and ``(..., n,
        P)``. The solvers need both at every step; a law whose two share their costly terms (Chinchilla's
        log-sum-exp) overrides this to compute them once."""
        return self.log_evaluate(theta, X), self.log_jacobian(theta, X)

    def spec(self) -> dict:
        """JSON-able description from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"name": self.name}

    def __call__(self, params: Mapping[str, float] | Sequence[float] | np.ndarray, /, **variables) -> np.ndarray:
        """Evaluate at one parameter set: ``law({"E": 1.69, ...}, N=7e10, D=1.4e12)``."""
        theta = as_theta(self, params)
        X = self.check_variables(variables)
        return self.evaluate(theta, X)

    def check_variables(self, variables: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Validate and broadcast the input variables to 1-D float arrays of one length.

        ``variables`` maps each law variable (``N`` in parameters, ``D`` in tokens, ``C`` in FLOPs, ...) to
        a scalar or array; extra keys are ignored. Returns ``{variable: array of shape (n,)}`` in law
        variable order, ``n`` being the broadcast size.

        Raises
        ------
        LawError
            If a variable of the law is missing from ``variables``.
        """
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise LawError(f"law {self.name!r} needs variable(s) {', '.join(missing)}; "
                           f"got {', '.join(variables) or 'none'}")
        arrays = [np.atleast_1d(np.asarray(variables[v], dtype=float)) for v in self.variables]
        arrays = np.broadcast_arrays(*arrays) if arrays else []
        return {v: np.ravel(a) for v, a in zip(self.variables, arrays, strict=True)}

    def value_range(self, theta: np.ndarray | None = None) -> tuple[float, float]:
        """Range ``(lo, hi)`` an observed value of the target can take for parameters ``theta`` (natural
        space, shape ``(P,)``): `output_bounds` by default, ``(-inf, inf)`` when the law declares none.
        Laws whose range depends on their parameters (a sigmoid with a fitted ceiling) override it."""
        return (-math.inf, math.inf) if self.output_bounds is None else tuple(map(float, self.output_bounds))

    # ----------------------------------------------------------------- fitting helpers
    def start_grid(self) -> np.ndarray:
        """Default multi-start grid, natural space, shape ``(S, P)``: the product of each param's grid."""
        axes = [p.grid if p.grid else (p.default,) for p in self.params]
        return np.array(list(itertools.product(*axes)), dtype=float)

    def guess(self, X: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray | None:
        """An optional data-driven start (natural space, shape ``(P,)``), added to the grid."""
        return None

    presets: Mapping[str, Preset] = {}

    def __repr__(self) -> str:
        return f"<Law {self.name}: {self.formula}>"


def as_theta(law: Law, params: Mapping[str, float] | Sequence[float] | np.ndarray) -> np.ndarray:
    """Turn a mapping or sequence of parameter values into a natural-space vector in ``law`` order.

    A mapping is matched by parameter name (case-insensitive as a fallback) and gives shape
    ``(n_params,)``; an array must have ``n_params`` as its last axis (``(n_params,)`` or a batch
    ``(B, n_params)``) and is returned as floats.

    Raises
    ------
    LawError
        If a mapping lacks a value for one of the law's parameters, or an array's last axis is not
        ``n_params`` long.
    """
    if isinstance(params, Mapping):
        lower = {k.lower(): v for k, v in params.items()}
        out = []
        for name in law.param_names:
            if name in params:
                out.append(float(params[name]))
            elif name.lower() in lower:
                out.append(float(lower[name.lower()]))
            else:
                raise LawError(f"law {law.name!r}: no value given for parameter {name!r}")
        return np.array(out)
    theta = np.asarray(params, dtype=float)
    if theta.shape[-1:] != (law.n_params,):
        raise LawError(f"law {law.name!r} has {law.n_params} parameters, got an array of shape {theta.shape}")
    return theta
