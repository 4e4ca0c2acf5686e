"""`CatalogLaw`, the frozen base of the catalog laws, and the numerics they share (stable logs,
log-sum-exp, start grids, the accuracy range of downstream laws).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .._errors import LawError
from ._base import Law

__all__ = ["accuracy_range", "CatalogLaw"]


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
    """Stable ``log(sum(exp(t)))`` of broadcastable arrays (``-inf`` terms are fine).

    Summed directly when every result lies in (-600, inf) (no exponential overflowed, none lost precision
    to underflow: five times faster than chained ``np.logaddexp``, and the solvers call this at every
    step); otherwise by ``np.logaddexp``, which is exact at any magnitude."""
    with np.errstate(all="ignore"):
        total = np.exp(terms[0])
        for t in terms[1:]:
            total = total + np.exp(t)
        out = np.log(total)
        if np.size(out) == 0 or (np.min(out) > -600.0 and np.max(out) < math.inf):
            return out
        out = terms[0]
        for t in terms[1:]:
            out = np.logaddexp(out, t)
        return out


def _softplus(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.logaddexp(0.0, z)


def _sigmoid(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * (1.0 + np.tanh(0.5 * z))


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
        self._frozen = True  # the last assignment: from here on __setattr__ refuses

    def __setattr__(self, key: str, value: object) -> None:
        if self._frozen:
            raise AttributeError(f"law {self.name!r} is frozen; build a new one instead of setting {key!r}")
        super().__setattr__(key, value)

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
