"""`FitResult` (immutable outcome of a fit, with a JSON round trip) and `Prediction`."""

from __future__ import annotations

import html
import json
import math
import os
import warnings as _warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import CatalogError, ExtrapolationWarning, InputError, LawError
from .._io import atomic_write_text
from .._json import to_jsonable as _jsonable
from ..laws import VARIABLE_COLUMNS, Law, as_theta, get_preset, law_from_spec
from ._accuracy_band import ACCURACY_METHOD, accuracy_band, accuracy_scale
from ._degenerate import parameter_notes
from ._objectives import sandwich_factor
from ._predict import (
    OTHER_REACH_WARN,
    REACH_NOISE_PER_DECADE,
    REACH_WARN_FACTOR,
    calibrated_band,
    extrapolation,
    interval_from_draws,
    keep_point_inside,
    linear_prediction_sd,
    predictive_quantiles,
    run_noise_of,
)
from ._profile import kept_alternates
from ._space import FitSpace

__all__ = ["FitResult", "Prediction", "Derived", "FORMAT_VERSION", "PRIOR_RULE", "parameter_draws",
           "covariance_draws", "within_bounds"]

#: the interval rule of a fit not calibrated by backtests (``_predict.py``'s module docstring)
PRIOR_RULE = "boot+noise+reach/v1"

FORMAT_VERSION = 1
_N_PARAM_DRAWS = 1000


def _scalar_or_array(a):
    a = np.asarray(a)
    return a.item() if a.ndim == 0 or a.size == 1 else a


@dataclass(frozen=True)
class Prediction:
    """A law's prediction at one point (or an array of points) with a prediction interval.

    ``value``: the law's value (for loss laws in ``unit``: nats/token unless the fitted table said otherwise,
    e.g. bits/byte from a ``val_bpb`` column); ``loss``: the same when the law predicts a loss, else None;
    ``interval``: ``(lo, hi)`` at nominal ``level`` for an ACTUAL run at that point (parameter
    uncertainty + run noise + extrapolation reach); ``extrapolation``: ratio of the point to the largest
    fitted value in compute (``flops``) and in each variable, the largest ratio (``reach``), and whether it
    leaves the fitted (N, D) hull; ``warnings``: readable strings.
    """

    value: float | np.ndarray
    interval: tuple
    level: float
    extrapolation: dict
    warnings: list
    variables: dict
    loss: float | np.ndarray | None = None
    method: str = PRIOR_RULE
    unit: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready mapping: ``value``, ``interval`` ``[lo, hi]``, ``level``, ``extrapolation``, ``warnings``,
        ``variables``, ``interval_method`` and, for loss laws, ``loss`` and its ``unit`` (``"nats/token"``,
        ``"bits/byte"``...; also as ``loss_unit``, the key `backtest` and `validate` use). Arrays become lists."""
        d = {"value": self.value, "interval": list(self.interval), "level": self.level,
             "extrapolation": self.extrapolation, "warnings": list(self.warnings),
             "variables": self.variables, "interval_method": self.method}
        if self.loss is not None:
            d = {"loss": self.loss, **d}
        if self.unit is not None:
            d["unit"] = d["loss_unit"] = self.unit
        return _jsonable(d)

    def __repr__(self) -> str:
        lo, hi = self.interval
        reach = self.extrapolation.get("reach") if isinstance(self.extrapolation, dict) else None
        more = f", reach={float(np.max(reach)):.3g}x" if reach is not None and np.size(reach) else ""
        more += f", warnings={len(self.warnings)}" if self.warnings else ""
        return f"Prediction(value={self.value!r}, interval=({lo!r}, {hi!r}), level={self.level}{more})"


@dataclass(frozen=True)
class Derived:
    """A derived quantity at the fit (``value``) with a percentile ``interval`` over parameter draws."""

    value: float
    interval: tuple[float, float]
    level: float

    def __iter__(self):
        return iter((self.value, self.interval))



def covariance_draws(law, theta, covariance, n: int = _N_PARAM_DRAWS, seed: int = 0) -> np.ndarray | None:
    """Natural-space parameter draws ``(n, P)`` from a Gauss-Newton ``covariance`` ``(P, P)`` of the
    fit-space parameters around ``theta`` ``(P,)``; None when the covariance is not finite."""
    cov = np.asarray(covariance, float)
    if not np.all(np.isfinite(cov)):
        return None
    fs = FitSpace(law)
    u0 = fs.to_fit(np.asarray(theta, float))
    try:
        L = np.linalg.cholesky(cov + 1e-15 * np.eye(len(cov)))
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(cov)
        L = V * np.sqrt(np.maximum(w, 0))
    return fs.to_natural(u0 + np.random.default_rng(seed).standard_normal((n, len(u0))) @ L.T)


def within_bounds(draws: np.ndarray | None, bounds) -> np.ndarray | None:
    """Parameter draws ``(B, P)`` clipped to ``bounds`` (``(lower (P,), upper (P,))``, the bounds a fit was
    solved within); ``draws`` as they are without bounds of their shape."""
    if draws is None or not bounds:
        return draws
    lo, hi = (np.asarray(v, float) for v in bounds)
    return np.clip(draws, lo, hi) if lo.shape == hi.shape == draws.shape[1:] else draws


def parameter_draws(law, theta, *, bootstrap=None, covariance=None, stderr: dict | None = None,
                    n: int = _N_PARAM_DRAWS, seed: int = 0,
                    ranges: Mapping[str, tuple[float, float]] | None = None) -> np.ndarray | None:
    """Natural-space parameter draws ``(B, P)`` of a fit at ``theta`` ``(P,)``: the ``bootstrap`` draws,
    else ``n`` draws from the fit-space Gauss-Newton ``covariance`` ``(P, P)``, else from published
    standard errors ``stderr`` (by parameter name; log-normal for log-scale parameters; for the Chinchilla
    form with the fitted ``ranges`` of N and D known, pivoted: `pivoted_draws`); None when none is known."""
    if bootstrap is not None and len(bootstrap):
        return np.asarray(bootstrap, float)
    rng = np.random.default_rng(seed)
    if covariance is not None:
        draws = covariance_draws(law, theta, covariance, n, seed)
        if draws is not None:
            return draws
    if stderr and ranges and "N" in ranges and "D" in ranges and is_chinchilla_form(law):
        return pivoted_draws(theta, stderr, ranges, n, seed)
    if stderr:
        draws = np.tile(theta, (n, 1))
        for j, p in enumerate(law.params):
            se = stderr.get(p.name)
            if se is None or not math.isfinite(se) or se <= 0:
                continue
            v = theta[j]
            if p.log and v > 0:
                s = math.sqrt(math.log1p((se / v) ** 2))
                draws[:, j] = v * np.exp(rng.standard_normal(n) * s - 0.5 * s * s)
            else:
                d = v + se * rng.standard_normal(n)
                lo = p.lower if math.isfinite(p.lower) else -math.inf
                hi = p.upper if math.isfinite(p.upper) else math.inf
                draws[:, j] = np.clip(d, lo + 1e-9 * max(1, abs(v)), hi - 1e-9 * max(1, abs(v)))
        return draws
    return None


def is_chinchilla_form(law) -> bool:
    """True for the ``E + A/N^alpha + B/D^beta`` law in N and D (closed-form answers, pivoted draws)."""
    return (getattr(law, "name", "") == "chinchilla" and tuple(law.variables) == ("N", "D")
            and tuple(law.param_names) == ("E", "A", "B", "alpha", "beta"))


def pivoted_draws(theta: np.ndarray, stderr: Mapping[str, float], ranges: Mapping[str, tuple[float, float]],
                  n: int, seed: int) -> np.ndarray:
    """Parametric draws ``(n, 5)`` for the Chinchilla form that respect the A–alpha and B–beta correlation of
    a fit.

    Published standard errors come without their correlations, and in a Chinchilla fit A is almost a
    function of alpha (and B of beta): the data pin the N-term ``A N^-alpha`` near the middle of the fitted
    sizes, not A itself. Independent draws therefore give absurd allocations (tokens/param from ~1 to ~500
    at 5.76e23 FLOPs for chinchilla-epoch). Here E, alpha, beta are drawn from their standard errors (E
    log-normal) and ``A = A0 N_p^(alpha - alpha0)``, ``B = B0 D_p^(beta - beta0)`` with the pivots
    ``N_p``, ``D_p`` at the geometric centre of the fitted ``ranges`` (parameters, tokens). For
    chinchilla-epoch the implied spread of A and B (10th-90th pct ~285-820 and ~1170-3610) matches the
    published standard errors (482 ± 125, 2085 ± 1293), which supports the construction.
    """
    rng = np.random.default_rng(seed)
    E0, A0, B0, al0, be0 = (float(v) for v in theta)
    Np = float(np.sqrt(ranges["N"][0] * ranges["N"][1]))
    Dp = float(np.sqrt(ranges["D"][0] * ranges["D"][1]))
    se = {k: float(stderr.get(k, 0.0) or 0.0) for k in ("E", "alpha", "beta")}
    E = E0 * np.exp(rng.normal(0.0, se["E"] / E0, n)) if se["E"] > 0 else np.full(n, E0)
    al = np.clip(rng.normal(al0, se["alpha"], n), 1e-3, 5.0)
    be = np.clip(rng.normal(be0, se["beta"], n), 1e-3, 5.0)
    A = A0 * Np ** (al - al0)
    B = B0 * Dp ** (be - be0)
    return np.column_stack([E, A, B, al, be])


def _interval_from_json(law: Law, name: str, pair) -> tuple[float, float]:
    """A stored parameter interval: JSON writes infinities as null, so a null end beside a finite one is an
    open end (a profile interval running to the parameter's bound, `_profile.widen_intervals`), read back as
    that bound; two nulls stay NaN (no interval known)."""
    lo, hi = (math.nan if x is None else float(x) for x in pair)
    if name in law.param_names and math.isfinite(lo) != math.isfinite(hi):
        p = law.params[law.param_names.index(name)]
        lo, hi = (p.lower if pair[0] is None else lo), (p.upper if pair[1] is None else hi)
    return lo, hi


#: a loss law whose RMS log residual exceeds this misses its runs (run-to-run noise is ~0.5-1 %): say so
MISFIT_RMS = 0.03


def misfit_warning(residuals, space: str = "log") -> str | None:
    """The warning a fit of a loss law in log space gets when its RMS log residual exceeds `MISFIT_RMS`: the law
    misses the data (a bend it cannot follow, or several ladders pooled: two evaluation sets 8 % apart fitted as
    one gave alpha 0.75 with status success); None otherwise. Runs `outlier_runs` names are left out: one bad run
    is named for what it is, not blamed on the law. `FitResult.quality_warnings` and the report's warnings read
    it."""
    r = np.asarray(residuals, float)
    if space != "log" or r.size == 0:
        return None
    keep = np.ones(r.size, bool)
    keep[outlier_runs(r)] = False
    r = r[keep & np.isfinite(r)]
    if r.size == 0:
        return None
    rms = float(np.sqrt(np.mean(r ** 2)))
    if rms <= MISFIT_RMS:
        return None
    return (f"fit quality: RMS log residual {rms:.3f} (> {MISFIT_RMS:.0%} of the loss): the law misses the data; "
            "look for runs pooled from several ladders or evaluation sets (fit each with --where), or a law that "
            "misses the shape (compare laws)")


#: a run whose loss is this many times off the fitted law (either way), and far beyond the run noise, is named
#: as an outlier: a diverged run or a unit slip, not noise
OUTLIER_FACTOR = 2.0
#: ...as is a run more than this many run-noise sds off when few runs are (an isolated run, not a misfit)
OUTLIER_SDS = 10.0
#: "few": at most this share of the runs (and at least one run)
OUTLIER_SHARE = 0.05
#: ...and at least this far off in log loss (1 %): a near-exact fit's noise is no yardstick
OUTLIER_MIN_LOG = 0.01


def outlier_runs(residuals) -> np.ndarray:
    """Positions of the runs a loss law misses by more than `OUTLIER_SDS` run-noise sds (log residuals, robust
    scale) and either `OUTLIER_FACTOR` either way, or as one of few such runs (`OUTLIER_SHARE`): a run 30 % low at
    1 % run noise is 30 sds off, and at the top of a ladder it moved 10x forecasts by 21 %. Many runs that far off
    are a law that misses the shape (`misfit_warning`), not outliers."""
    from ._predict import robust_scale

    r = np.asarray(residuals, float)
    if r.size < 3:
        return np.zeros(0, dtype=int)
    sigma = robust_scale(r)[0]
    far = np.isfinite(r) & (np.abs(r) > max(OUTLIER_SDS * (sigma if math.isfinite(sigma) else np.inf),
                                            OUTLIER_MIN_LOG))
    gross = far & (np.abs(r) > math.log(OUTLIER_FACTOR))
    if 0 < far.sum() <= max(1, int(OUTLIER_SHARE * r.size)):
        return np.flatnonzero(far)
    return np.flatnonzero(gross)


def outlier_warning(residuals, data: Mapping | None, space: str = "log") -> str | None:
    """The warning naming the runs `outlier_runs` finds (a diverged run at loss 11,000 spoilt every interval
    while the misfit warning pointed at pooled ladders); None when there is none. ``data``: the fit's
    ``{"X": {var: values}, "y": values}``."""
    r = np.asarray(residuals, float)
    if space != "log" or not data or r.size < 3:
        return None
    bad = outlier_runs(r)
    if not bad.size:
        return None
    y = np.asarray(data.get("y", []), float)
    X = {k: np.asarray(v, float) for k, v in (data.get("X") or {}).items()}
    if y.size != r.size:
        return None
    from ._predict import robust_scale

    sigma = robust_scale(r)[0]

    def run(i):
        where = ", ".join(f"{k}={v[i]:.3g}" for k, v in X.items() if v.size == r.size)
        return (f"{where}: loss {y[i]:.4g}, {math.exp(-r[i]):.3g}x the law's {y[i] * math.exp(r[i]):.4g}"
                + (f" ({abs(r[i]) / sigma:.0f} run-noise sds)" if sigma > 0 else ""))
    worst = bad[np.argsort(-np.abs(r[bad]))]
    gross = bool(np.all(np.abs(r[bad]) > math.log(OUTLIER_FACTOR)))
    return (f"{bad.size} run(s) lie " + (f"more than {OUTLIER_FACTOR:g}x " if gross else "")
            + "off the law, far beyond the run noise: " + "; ".join(run(i) for i in worst[:3])
            + ("; ..." if bad.size > 3 else "")
            + (" (a diverged run or a unit slip? leave it out, e.g. --where 'loss<...')" if gross else
               " (a run that diverged, stopped early or was logged wrong, or the law bends there? refit without it "
               "(--where) and compare the forecasts)"))


def read_only(a):
    """A read-only copy of array ``a`` (None stays None): a result's arrays, so that an edit of ``theta`` (which
    every prediction reads) raises instead of silently changing later forecasts."""
    if a is None:
        return None
    a = np.array(a, dtype=float, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class FitResult:
    """Immutable outcome of :func:`scalinglab.fit.fit`.

    Parameters are in natural space (``params`` by name, ``theta`` in law order). ``residuals`` are
    ``log(pred) - log(observed)`` for loss laws (``space == "log"``), ``pred - observed`` otherwise.
    ``objective`` is the SUMMED robust loss at the optimum. ``bootstrap`` holds ``(B, P)`` natural-space
    draws (or None); ``intervals`` percentile intervals at ``level`` (from the bootstrap, else from the
    Gauss-Newton covariance, else from a preset's standard errors). ``noise`` is the robust residual scale
    (1.4826 x MAD). ``diagnostics`` has ``iterations``, ``grad_norm``, ``n_starts``, ``n_in_best_basin``,
    ``start_objectives`` and timings.
    """

    law: Law
    params: dict
    theta: np.ndarray
    objective: float
    residuals: np.ndarray
    n_points: int
    data_ranges: dict
    variables: dict
    loss: dict = field(default_factory=lambda: {"name": "huber", "delta": 1e-3})
    space: str = "log"
    status: str = "success"
    message: str = ""
    diagnostics: dict = field(default_factory=dict)
    bootstrap: np.ndarray | None = None
    intervals: dict = field(default_factory=dict)
    level: float = 0.8
    noise: float = 0.0
    residual_shift: float = 0.0
    covariance: np.ndarray | None = None
    conventions: dict = field(default_factory=dict)
    data: dict | None = None
    calibration: dict = field(default_factory=lambda: {"method": PRIOR_RULE,
                                                       "reach_noise_per_decade": REACH_NOISE_PER_DECADE})
    preset: str | None = None
    stderr: dict | None = None

    # ------------------------------------------------------------------ basics
    @property
    def ok(self) -> bool:
        """True when the fit converged cleanly (``status == "success"``); False for ``"not_converged"``,
        ``"failed"``, ``"no_trend"``, ``"poor_fit"``, ``"degenerate"`` and ``"preset"`` results."""
        return self.status == "success"

    @property
    def law_spec(self) -> dict:
        """The law's JSON spec (:meth:`Law.spec`): what :func:`scalinglab.laws.law_from_spec` rebuilds it from."""
        return self.law.spec()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<FitResult {self.law.name}: {ps}; objective={self.objective:.6g}, n={self.n_points}, {self.status}>"

    # ------------------------------------------------------------------ parameter draws
    def _fitted_X(self) -> dict | None:
        if not self.data:
            return None
        return {k: np.asarray(v, float) for k, v in self.data["X"].items()}

    def parameter_draws(self, n: int = _N_PARAM_DRAWS, seed: int = 0) -> np.ndarray | None:
        """Natural-space parameter draws ``(B, P)``: bootstrap draws, else Gauss-Newton covariance draws,
        else a preset's standard errors (log-normal for log-scale parameters); None when none is known."""
        draws = parameter_draws(self.law, self.theta, bootstrap=self.bootstrap, covariance=self.covariance,
                                stderr=self.stderr, n=n, seed=seed, ranges=self.data_ranges if self.preset else None)
        return self._within_bounds(draws)

    def _within_bounds(self, draws: np.ndarray | None) -> np.ndarray | None:
        """``draws`` clipped to the bounds the fit was solved within (``diagnostics["bounds"]``, the accuracy
        route's chance floor and scale top): a Gauss-Newton draw past a bound is no model the fit could give
        (a ceiling at the top with a wide covariance drew ceilings below the floor, and bands down to 0)."""
        return within_bounds(draws, (self.diagnostics or {}).get("bounds"))

    # ------------------------------------------------------------------ derived quantities
    def derived(self, fn: Callable[[dict], float], level: float | None = None) -> Derived:
        """``fn(params_dict)`` at the fit with a percentile interval over the parameter draws."""
        level = self.level if level is None else float(level)
        value = float(fn(dict(self.params)))
        draws = self.parameter_draws()
        if draws is None:
            return Derived(value, (math.nan, math.nan), level)
        names = self.law.param_names
        vals = np.array([fn(dict(zip(names, row, strict=True))) for row in draws], float)
        return Derived(value, interval_from_draws(vals, level), level)

    def compute_optimal_exponents(self, level: float | None = None) -> dict:
        """``a = beta/(alpha+beta)`` (N_opt ~ C^a) and ``b = alpha/(alpha+beta)`` (D_opt ~ C^b) with
        intervals, for laws in model size N and tokens D with ``alpha`` and ``beta`` (Chinchilla form).

        N_opt is in parameters, D_opt in tokens and C in training FLOPs. Returns a dict with ``a``,
        ``a_interval``, ``b``, ``b_interval`` (``(lo, hi)`` at ``level``, NaN when no parameter draws are
        known) and ``level``.

        Raises
        ------
        LawError
            If the law has no ``alpha`` and ``beta`` parameters.
        """
        names = set(self.law.param_names)
        if not {"alpha", "beta"} <= names:
            raise LawError(f"law {self.law.name!r} has no alpha/beta exponents for a compute-optimal allocation")
        if not {"N", "D"} <= set(self.law.variables):  # E + A/N^alpha + B/T^beta: T is a parameter, not D
            raise LawError(f"law {self.law.name!r} is not a law of model size N and tokens D (its variables: "
                           f"{', '.join(self.law.variables)}): no compute-optimal split between them")
        a = self.derived(lambda p: p["beta"] / (p["alpha"] + p["beta"]), level)
        b = self.derived(lambda p: p["alpha"] / (p["alpha"] + p["beta"]), level)
        if {"alpha", "beta"} & set((self.diagnostics or {}).get("unidentified") or ()):
            # an exponent the runs do not constrain (its term vanished): the split can be anything
            return {"a": a.value, "a_interval": (0.0, 1.0), "b": b.value, "b_interval": (0.0, 1.0), "level": a.level}
        return {"a": a.value, "a_interval": a.interval, "b": b.value, "b_interval": b.interval,
                "level": a.level}

    # ------------------------------------------------------------------ prediction
    def _compute_law_point(self, variables: Mapping[str, object]) -> Mapping[str, object] | None:
        """For a law in training compute alone (``C``, or a variable read from the ``flops`` column) given a point
        as model size and tokens (``N=7B D=140B``, or ``params``/``tokens``) and no compute: the point with its
        compute, ``factor x N x D`` under the fit's FLOP convention; None when that does not apply."""
        from ..data.schema import flops_factor
        from ..units import parse_quantity

        if len(self.law.variables) != 1:
            return None
        v = self.law.variables[0]
        col = self.variables.get(v, v)
        if (v not in ("C", "flops") and col != "flops") or v in variables or col in variables:
            return None
        n = next((k for k in ("N", "params") if k in variables), None)
        d = next((k for k in ("D", "tokens") if k in variables), None)
        if n is None or d is None:
            return None
        conv = self.conventions.get("flops") or "6ND"
        factor = flops_factor(conv)
        if factor is None:
            raise InputError(f"law {self.law.name!r} is in training compute, counted under the FLOP convention "
                             f"{conv!r}, which does not follow from N and D: give {col}=... instead")
        N, D = (np.asarray(parse_quantity(x, what=k) if isinstance(x, str) else x, float)
                for k, x in ((n, variables[n]), (d, variables[d])))
        return {**{k: x for k, x in variables.items() if k not in (n, d)}, v: factor * N * D}

    def _point_of(self, given) -> dict:
        """The variables of a point given whole: a mapping, the CLI's ``"N=7B,D=140B"`` or a DataFrame (its
        columns that are the law's variables or the columns the fit read them from; one point per row)."""
        if isinstance(given, str):
            from ..units import parse_assignments

            return parse_assignments(given)
        if isinstance(given, Mapping):
            return dict(given)
        names = set(self.law.variables) | set(self.variables.values())
        cols = [c for c in given.columns if str(c) in names]
        if not cols:
            raise InputError(f"predict: the table has none of the columns {', '.join(sorted(names))} "
                             f"(it has {', '.join(map(str, given.columns))})")
        return {str(c): given[c].to_numpy() for c in cols}

    def _parse_point(self, variables: Mapping[str, object]) -> dict[str, np.ndarray]:
        from ..units import parse_quantity

        variables = self._compute_law_point(variables) or variables
        col_to_var = {c: v for v, c in self.variables.items()}
        X = {}
        letters = {c: v for v, c in VARIABLE_COLUMNS.items()}
        for k, val in variables.items():
            v = k if k in self.law.variables else col_to_var.get(k)
            if v is None:  # C=... for a law read from the flops column (N, D, U, S likewise), or the reverse
                v = col_to_var.get(VARIABLE_COLUMNS.get(k, ""))
                if v is None and letters.get(k) in self.law.variables:
                    v = letters[k]
            if v is not None and v in X:
                raise InputError(f"{k!r} gives {v} a second time: give each variable once")
            if v is None:
                raise InputError(f"law {self.law.name!r} takes {', '.join(self.law.variables)} "
                                 f"(columns {', '.join(self.variables.values())}); got {k!r}")
            if isinstance(val, str):
                val = parse_quantity(val, what=k)
            elif isinstance(val, list | tuple) and any(isinstance(x, str) for x in val):  # ["70B", "1.4T"]
                val = [parse_quantity(x, what=k) if isinstance(x, str) else x for x in val]
            X[v] = np.atleast_1d(np.asarray(val, float))
        missing = [v for v in self.law.variables if v not in X]
        if missing:
            what = ", ".join(f"{v} ({self.variables[v]})" if self.variables.get(v, v) != v else v for v in missing)
            hint = "; U=D for data seen once" if "U" in missing and "D" in self.law.variables else ""
            raise InputError(f"predict needs {what} for law {self.law.name!r}, e.g. "
                             + " ".join(f"{v}=..." for v in self.law.variables) + hint)
        empty = [v for v in self.law.variables if X[v].size == 0]
        if empty:
            raise InputError(f"predict got no points: {', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty")
        try:
            arrs = np.broadcast_arrays(*[X[v] for v in self.law.variables])
        except ValueError:
            raise InputError("predict: the variables' arrays do not line up (" + ", ".join(
                f"{v} has shape {X[v].shape}" for v in self.law.variables) + "); give one value per point, or "
                "a single value for all") from None
        out = {v: np.ravel(a) for v, a in zip(self.law.variables, arrs, strict=True)}
        for v, a in out.items():
            if np.any(~np.isfinite(a)) or np.any(a <= 0):
                raise InputError(f"{v} must be a positive number, got {float(a[~np.isfinite(a) | (a <= 0)][0]):g}")
        return out

    def _band_fit(self, X: dict, center, noise: float) -> tuple:
        """``(base, noise, theta, covariance)`` of the fit a calibrated band is drawn around at the points
        ``X``: this fit (``base`` its value ``center`` less its median residual), or the symmetric reference
        fit the interval was calibrated on when ``loss="auto"`` chose another objective for the point
        (``calibration["reference"]``, ``_calibrate.py`` step 5). Residual space; `predict` and `suggest`."""
        ref = (self.calibration or {}).get("reference")
        if not ref:
            return center - float(self.residual_shift), noise, self.theta, self.covariance
        theta = np.asarray(ref["theta"], float)
        with np.errstate(all="ignore"):
            rc = self.law.log_evaluate(theta, X) if self.space == "log" else self.law.evaluate(theta, X)
        return (rc - float(ref.get("residual_shift", 0.0)), max(float(ref.get("noise", noise)), 1e-5), theta,
                ref.get("covariance"))

    def _prior_noise(self, noise: float, X: Mapping[str, np.ndarray] | None = None) -> tuple[float, np.ndarray | None]:
        """The run noise and the law's values at ``X`` over the parameter draws (``(B, m)``; None without
        ``X`` or draws) for a band not calibrated by backtests (the prior rule of ``_predict.py``).

        The noise: without the runs the fit passes through (`_predict.robust_scale` with the law's parameter
        count; the plain MAD ``noise`` of a small ladder reads a fraction of it). The values: the prior rule's
        constants were learnt with draws of the covariance at the plain MAD, their spread in the law's value
        then widened linearly by that noise over the MAD; the fit's covariance is now taken at that noise
        times the objective's sandwich factor (`_stages.parameter_scale`, for honest parameter intervals), so
        it is scaled back to the MAD for these draws (drawn at their full width, the law's nonlinearity made
        9-run ladders' bands, which already covered 97 %, up to 2.5x wider). Bootstrap draws are used as they
        are. Other rules (the downstream sigmoid's, which learnt its own reach per unit of its noise) keep the
        noise and the draws."""
        cal = self.calibration or {}
        r = np.asarray(self.residuals, float)
        prior = cal.get("source") == "prior" or cal.get("method", PRIOR_RULE) == PRIOR_RULE
        sigma = run_noise_of(r, self.law.n_params, noise) if prior else noise
        if X is None:
            return sigma, None
        from_covariance = (self.bootstrap is None or not len(self.bootstrap)) and self.covariance is not None
        if prior and from_covariance and sigma > 0:
            shrink = noise / (sandwich_factor(self.loss, sigma) * sigma)
            draws = self._within_bounds(covariance_draws(self.law, self.theta,
                                                         np.asarray(self.covariance, float) * shrink ** 2))
        else:
            draws = self.parameter_draws()
        if draws is None:
            return sigma, None
        log = self.space == "log"
        with np.errstate(all="ignore"):
            values = self.law.log_evaluate(draws, X) if log else self.law.evaluate(draws, X)
        if prior and from_covariance and sigma > noise:
            mid = np.nanmedian(values, axis=0)
            values = mid + (values - mid) * (sigma / noise)
        return sigma, values

    def predict(self, level: float | None = None, *, warn_factor: float = REACH_WARN_FACTOR, warn: bool = True,
                **variables) -> Prediction:
        """Predict the law at a point, e.g. ``result.predict(N=7e10, D="1.4T")``, with a prediction
        interval at ``level`` (default: the fit's own ``level``, 0.8 unless the fit was asked for another) for an
        actual run there and the extrapolation it needs. ``warn_factor``:
        extrapolation factor (compute, else the single variable) beyond which the prediction warns: its
        ``warnings`` say so and, with ``warn`` (the default), one `ExtrapolationWarning` says it too (with
        every other extrapolation note: reach in unique tokens or epochs, outside the fitted hull, below the
        fitted range). Callers that report ``warnings`` themselves pass ``warn=False``.

        Variables are given by law variable (``N``, ``D``, ``C``, ...) or by the run-table column the fit used
        (``params``, ``tokens``, ``flops``), as numbers, arrays or unit strings (``"70B"``); arrays broadcast,
        and a prediction at ``n`` points has ``value`` and interval bounds of shape ``(n,)`` (a grid keeps its
        shape). The point may also come first, whole: ``predict({"N": 7e10, "D": "1.4T"})``,
        ``predict("N=70B,D=1.4T")`` or ``predict(table)`` (a DataFrame: one point per row, from its columns
        named as the law's variables or the fit's columns). A law in compute
        alone also takes ``N`` and ``D`` (its compute under the fit's FLOP convention, with a warning that the
        split is not modelled).

        Returns
        -------
        Prediction
            ``value`` (nats/token for loss laws), ``interval`` ``(lo, hi)`` at ``level``, ``extrapolation``
            (ratios to the largest fitted run) and readable ``warnings``.

        Raises
        ------
        InputError
            If ``level`` is not in (0, 1), a variable is missing or not one of the law's, a value is not
            a positive finite number (its subclass `UnitError` for an unreadable unit string), an array is
            empty or arrays do not broadcast together.
        """
        if isinstance(level, Mapping | str) or hasattr(level, "columns"):  # the point itself, given first
            if variables:
                raise InputError("predict takes the point once: predict({...}) or predict(N=..., D=...), not both")
            variables = self._point_of(level)
            level = None
        level = float(self.level if level is None else level)
        if not 0 < level < 1:
            hint = (f" (the point goes by name: predict({', '.join(f'{v}=...' for v in self.law.variables)}))"
                    if level > 1 and not variables else "")
            raise InputError(f"level must be between 0 and 1, got {level:g}{hint}")
        point = self._compute_law_point(variables)  # N and D for a law in compute alone
        X = self._parse_point(point or variables)
        shape = np.broadcast_shapes(*(np.shape(v) for v in variables.values() if not isinstance(v, str)))
        scalar = all(np.ndim(v) == 0 or (isinstance(v, str)) for v in variables.values())
        law = self.law
        log = self.space == "log"
        with np.errstate(all="ignore"):
            center = law.log_evaluate(self.theta, X) if log else law.evaluate(self.theta, X)
        draws = self.parameter_draws()

        def draw_values():
            """The law at ``X`` for every parameter draw (None without draws): the bands that are not
            calibrated by backtests take the parameter spread from them."""
            if draws is None:
                return None
            with np.errstate(all="ignore"):
                return law.log_evaluate(draws, X) if log else law.evaluate(draws, X)
        fitted = self._fitted_X()
        warnings: list[str] = []
        if fitted is not None:
            ext = extrapolation(law, fitted, X)
            reach = np.asarray(ext["reach"], float)
        else:
            ext = {}
            reach = np.ones_like(center)
            if self.preset and self.data_ranges:  # the published fit's ranges: say how far beyond them
                reach_of = {v: float(np.nanmax(np.asarray(X[v], float))) / hi
                            for v, (_, hi) in self.data_ranges.items() if v in X and hi > 0}
                beyond = "; ".join(f"{v} reaches {r:.3g}x beyond the largest" for v, r in reach_of.items() if r > 1)
                warnings.append(f"preset {self.preset!r} was fitted on " + ", ".join(
                    f"{v} in [{lo:.3g}, {hi:.3g}]" for v, (lo, hi) in self.data_ranges.items())
                    + (f" ({beyond})" if beyond else "") + ": the interval covers its published parameter "
                    "uncertainty only, not run-to-run noise or the reach")
            else:
                warnings.append("no fitted data recorded (preset): extrapolation distance unknown; the interval "
                                "covers parameter uncertainty only" if self.preset else
                                "no fitted data recorded: extrapolation distance unknown")
        n_before = len(warnings)  # what follows is said by the warning too: the preset's notes are in its docs
        noise = max(float(self.noise), 1e-5) if math.isfinite(self.noise) else float(self.noise)
        cal = self.calibration or {}
        accuracy = cal.get("method") == ACCURACY_METHOD and len(law.variables) == 1 and self.data
        # the rule the band came from: the calibration's method only where its backtests shaped the band
        band = str(cal.get("method", PRIOR_RULE)) if accuracy or cal.get("quantile_lines") else PRIOR_RULE
        if accuracy:  # an accuracy sigmoid: the band of downstream's SigmoidPredictor, one engine (_accuracy.py)
            var = law.variables[0]
            y = np.asarray(self.data["y"], float)
            center, lo, hi = accuracy_band(
                law, self.theta, self.bootstrap, np.asarray(self.residuals, float),
                float(cal.get("reach_per_decade", float(cal.get("reach_noise_per_decade", 0.0)) * noise)),
                np.asarray(X[var], float), float(np.max(self.data["X"][var])), level,
                bounded=accuracy_scale(y), seed=int(cal.get("seed", 0)))
        elif cal.get("quantile_lines"):
            base, noise, btheta, bcov = self._band_fit(X, center, noise)
            # the parameter spread the calibration normalised its backtest errors by (`linear_prediction_sd`)
            sp = (linear_prediction_sd(law, btheta, bcov, X, self.space) if cal.get("scale") == "noise+param"
                  else None)
            lo, hi = calibrated_band(cal, base=base, noise=noise, sp=sp, reach=reach, level=level)
            alts = kept_alternates(cal.get("alternates"), level)
            if alts is not None:  # the band re-centred on every refit the runs cannot rule out (_profile.py)
                with np.errstate(all="ignore"):
                    at = law.log_evaluate(alts, X) if log else law.evaluate(alts, X)
                    bt = law.log_evaluate(btheta, X) if log else law.evaluate(btheta, X)
                    d = np.where(np.isfinite(at), at - bt, 0.0)
                lo, hi = lo + np.minimum(d.min(axis=0), 0.0), hi + np.maximum(d.max(axis=0), 0.0)
            if cal.get("method") == "backtest-calibrated/v2":  # files written by v2: its band, unchanged
                lo2, hi2 = predictive_quantiles(center, draw_values(), noise=noise, shift=float(self.residual_shift),
                                                reach=reach, level=level, noise_per_decade=0.0)
                lo, hi = np.minimum(lo2, lo), np.maximum(hi2, hi)
        else:
            npd = float(cal.get("reach_noise_per_decade", REACH_NOISE_PER_DECADE))
            noise, values = self._prior_noise(noise, X)
            lo, hi = predictive_quantiles(center, values, noise=noise, shift=float(self.residual_shift),
                                          reach=reach, level=level, noise_per_decade=npd)
        # the point prediction lies strictly inside its interval (an accuracy's band may touch the scale's end)
        if not accuracy:
            lo, hi = keep_point_inside(lo, hi, center, noise, level)
        if self.data and not self.preset and self.n_points <= law.n_params:
            # the law passes through every run: no residual measures the noise, and no band drawn from one holds
            # (a 5-run Chinchilla fit's 80 % band was 0.4 % wide and held the truth 1 time in 30)
            lo, hi, band = np.full_like(center, -np.inf), np.full_like(center, np.inf), "none"
            warnings.append(f"no interval: {self.n_points} runs for {law.n_params} parameters leave no residual to "
                            "measure the noise (the law passes through every run); add runs")
        if log:
            with np.errstate(over="ignore"):  # a band beyond any float is infinite, said by its reach warning
                value, lo, hi = np.exp(center), np.exp(lo), np.exp(hi)
        else:
            value = center
            vlo, vhi = law.value_range(self.theta)
            if math.isfinite(vlo) or math.isfinite(vhi):  # keep inside the law's range (accuracies, coverages)
                value, lo, hi = np.clip(value, vlo, vhi), np.clip(lo, vlo, vhi), np.clip(hi, vlo, vhi)
        if draws is None:
            warnings.append("no parameter uncertainty available (no bootstrap, covariance or standard errors)")
        if point is not None:
            warnings.append(f"law {law.name!r} is in training compute only: predicted at C = "
                            f"{self.conventions.get('flops') or '6ND'} of the given N and D; how that compute "
                            "splits into parameters and tokens is not modelled (the forecast holds for runs split "
                            "as the fitted ones were)")
        if ext:
            rmax = float(np.max(reach))
            if rmax > warn_factor * (1 + 1e-6):  # a point at 100x, read back from rounded inputs, is not beyond
                # the coordinate whose ratio is the reach (_predict.extrapolation); unique tokens, epochs: below
                by = {"compute": ext.get("flops"), "model size N": ext.get("N"), "tokens D": ext.get("D")}
                key = (next((k for k, r in by.items() if r is not None and np.max(r) >= rmax), None)
                       if "flops" in ext else "the fitted variable")
                if key is not None:
                    warnings.append(f"extrapolates {rmax:.3g}x beyond the largest fitted run in {key} "
                                    f"(> {warn_factor:g}x): treat the interval with care")
            for k, r in ext.items():  # reach in coordinates other than N, D, C (unique tokens, epochs)
                if k.startswith("reach_") and np.nanmax(np.asarray(r, float)) > OTHER_REACH_WARN:
                    name = "epochs (D/U)" if k == "reach_epochs" else k[len("reach_"):]
                    warnings.append(f"extrapolates {float(np.nanmax(r)):.3g}x beyond the fitted range in {name}: "
                                    "the interval widens with that reach, but the law's form there is untested")
            if "outside_hull" in ext and np.any(ext["outside_hull"]):
                warnings.append("point lies outside the convex hull of the fitted (" + ", ".join(law.variables)
                                + ") data")
            if np.any(ext.get("below_range", False)):
                warnings.append("point lies below the smallest fitted value of a variable")
        warnings += parameter_notes(law, self.params, self.intervals, self.level)
        if warn and len(warnings) > n_before:
            _warnings.warn(ExtrapolationWarning(f"prediction of {law.name!r}: " + "; ".join(warnings[n_before:])),
                           stacklevel=2)
        conv = self.conventions.get("flops")
        exts = {k: _scalar_or_array(v) if scalar else np.asarray(v) for k, v in ext.items()}
        if scalar:
            value, lo, hi = float(value[0]), float(lo[0]), float(hi[0])
        elif len(shape) > 1:  # arrays broadcast: a grid of points comes back as that grid
            value, lo, hi = (np.reshape(a, shape) for a in (value, lo, hi))
            X = {v: np.reshape(a, shape) for v, a in X.items()}
        out_vars = {v: _scalar_or_array(a) if scalar else a for v, a in X.items()}
        if conv:
            exts["flops_convention"] = conv
        if ext:
            exts["warn_factor"] = float(warn_factor)
            exts["beyond_warn_factor"] = bool(np.max(reach) > warn_factor)
        return Prediction(value=value, interval=(lo, hi), level=level, extrapolation=exts, warnings=warnings,
                          variables=out_vars, loss=value if law.target == "loss" else None,
                          method=band, unit=self.loss_unit)

    @property
    def loss_unit(self) -> str | None:
        """The unit of the fitted loss: the run table's (`scalinglab.data.RunTable.loss_unit`: ``"bits/byte"``
        for a ``val_bpb`` column), ``"nats/token"`` for a loss law fitted to ``loss`` without a record (presets,
        older saved fits); None when the fitted column is not a loss."""
        from ..data.schema import DEFAULT_LOSS_UNIT

        unit = self.conventions.get("loss_unit")
        if unit is None and self.law.target == "loss" and self.conventions.get("y", "loss") == "loss":
            return DEFAULT_LOSS_UNIT
        return unit

    @property
    def quality_warnings(self) -> list[str]:
        """What the fit's own residuals say is wrong with it (`misfit_warning`), for the CLI and the report."""
        if self.law.target != "loss":
            return []
        notes = (outlier_warning(self.residuals, self.data, self.space), misfit_warning(self.residuals, self.space))
        return [w for w in notes if w]

    # ------------------------------------------------------------------ serialisation
    def summary(self) -> dict:
        """The compact JSON of ``scalinglab fit --json``."""
        diag = {k: v for k, v in self.diagnostics.items() if k != "start_objectives"}
        out = {"law": self.law.name, "params": dict(self.params),
               "intervals": {k: list(v) for k, v in self.intervals.items()},
               "objective": self.objective, "n_points": self.n_points, "status": self.status,
               "message": self.message, "level": self.level, "loss": dict(self.loss), "space": self.space,
               "noise": self.noise, "diagnostics": diag,
               "data_ranges": {k: list(v) for k, v in self.data_ranges.items()},
               "variables": dict(self.variables), "conventions": dict(self.conventions),
               "law_spec": self.law.spec(), "formula": self.law.formula,
               "n_bootstrap": 0 if self.bootstrap is None else int(len(self.bootstrap)),
               "warnings": self.quality_warnings,
               "calibration": {k: self.calibration.get(k) for k in ("method", "source", "n_cuts", "n_predictions",
                                                                    "reason") if k in self.calibration}}
        if "objective_choice" in self.diagnostics:
            out["objective_choice"] = {k: v for k, v in self.diagnostics["objective_choice"].items() if k != "cuts"}
        if ({"alpha", "beta"} <= set(self.law.param_names) and {"N", "D"} <= set(self.law.variables)
                and (self.bootstrap is not None or self.covariance is not None or self.stderr)):
            out["compute_optimal"] = self.compute_optimal_exponents()
        return _jsonable(out)

    def to_dict(self) -> dict:
        """Everything needed to rebuild the result (and to predict with it) as JSON-able data."""
        return _jsonable({
            "format": "scalinglab.FitResult", "version": FORMAT_VERSION,
            "law": self.law.name, "law_spec": self.law.spec(), "formula": self.law.formula,
            "params": dict(self.params), "theta": self.theta, "objective": self.objective,
            "residuals": self.residuals, "n_points": self.n_points,
            "data_ranges": {k: list(v) for k, v in self.data_ranges.items()},
            "variables": dict(self.variables), "loss": dict(self.loss), "space": self.space,
            "status": self.status, "message": self.message, "diagnostics": self.diagnostics,
            "bootstrap": self.bootstrap, "intervals": {k: list(v) for k, v in self.intervals.items()},
            "level": self.level, "noise": self.noise, "residual_shift": self.residual_shift,
            "covariance": self.covariance, "conventions": dict(self.conventions), "data": self.data,
            "calibration": dict(self.calibration), "preset": self.preset, "stderr": self.stderr,
        })

    @classmethod
    def from_dict(cls, d: Mapping) -> FitResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. a parsed ``fit.json``).

        Raises
        ------
        InputError
            If ``d`` lacks the ``"format": "scalinglab.FitResult"`` marker.
        LawError
            If the stored law spec does not give a valid law.
        """
        if d.get("format") != "scalinglab.FitResult":
            raise InputError("not a scalinglab fit result (missing format marker 'scalinglab.FitResult')")
        law = law_from_spec(d.get("law_spec") or d["law"])
        theta = np.asarray(d["theta"], float)

        def arr(x):
            return None if x is None else np.asarray(x, float)

        def fl(x, default=math.nan):
            return default if x is None else float(x)

        return cls(
            law=law, params={k: fl(v) for k, v in d["params"].items()}, theta=read_only(theta),
            objective=fl(d.get("objective")), residuals=read_only(d.get("residuals") or []),
            n_points=int(d.get("n_points", 0)),
            data_ranges={k: tuple(fl(x) for x in v) for k, v in (d.get("data_ranges") or {}).items()},
            variables=dict(d.get("variables") or {}), loss=dict(d.get("loss") or {}),
            space=d.get("space", "log"), status=d.get("status", "success"), message=d.get("message", ""),
            diagnostics=dict(d.get("diagnostics") or {}), bootstrap=read_only(arr(d.get("bootstrap"))),
            intervals={k: _interval_from_json(law, k, v) for k, v in (d.get("intervals") or {}).items()},
            level=fl(d.get("level"), 0.8), noise=fl(d.get("noise"), 0.0),
            residual_shift=fl(d.get("residual_shift"), 0.0), covariance=read_only(arr(d.get("covariance"))),
            conventions=dict(d.get("conventions") or {}), data=d.get("data"),
            calibration=dict(d.get("calibration") or {}), preset=d.get("preset"), stderr=d.get("stderr"),
        )

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON atomically (temp file + rename); returns the path."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(path, text)

    @classmethod
    def load(cls, path_or_preset: str | os.PathLike) -> FitResult:
        """Load a saved fit (JSON from :meth:`to_json`) or build one from a preset name.

        A preset result carries the published constants; its intervals come from the preset's standard
        errors where published (``chinchilla-epoch``), else it has none (``message`` says so).

        Raises
        ------
        InputError
            If a ``.json`` path does not exist or is not a readable JSON fit result, or the argument is
            neither an existing file nor a preset name.
        LawError
            If the file's stored law spec does not give a valid law.
        """
        p = Path(path_or_preset)
        if p.suffix == ".json" or p.exists():
            if not p.exists():
                raise InputError(f"fit file {str(p)!r} does not exist")
            try:
                d = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"{p}: not a readable JSON fit result ({exc})") from None
            return cls.from_dict(d)
        try:
            law, preset = get_preset(str(path_or_preset))
        except CatalogError as exc:
            raise InputError(f"{path_or_preset!r} is neither a fit file nor a preset ({exc})") from None
        return cls.from_preset(law, preset)

    @classmethod
    def from_preset(cls, law: Law, preset, level: float = 0.8) -> FitResult:
        """A result holding a preset's published constants (``status == "preset"``, no fitted runs).

        ``law`` and ``preset`` are what :func:`scalinglab.laws.get_preset` returns. Parameter intervals at
        ``level`` come from the preset's standard errors where published; else there are none and
        ``message`` says so.

        Raises
        ------
        LawError
            If the preset gives no value for one of the law's parameters.
        """
        theta = as_theta(law, preset.values)
        stderr = dict(getattr(preset, "stderr", {}) or {})
        ints = {}
        ranges = {k: tuple(map(float, v)) for k, v in dict(getattr(preset, "data_ranges", {}) or {}).items()}
        if stderr:
            draws = parameter_draws(law, theta, stderr=stderr, ranges=ranges)
            ints = {name: interval_from_draws(draws[:, j], level) for j, name in enumerate(law.param_names)
                    if name in stderr}
        return cls(law=law, params=dict(zip(law.param_names, map(float, theta), strict=True)), theta=theta,
                   objective=math.nan, residuals=np.zeros(0), n_points=0, data_ranges=ranges,
                   variables={v: v for v in law.variables}, status="preset",
                   message=(f"published constants of preset {preset.name!r} ({preset.source})"
                            + ("" if stderr else "; no standard errors published: no parameter intervals")),
                   level=level, conventions=dict(preset.conventions), preset=preset.name, stderr=stderr or None,
                   intervals=ints)

    # ------------------------------------------------------------------ notebooks
    def _repr_html_(self) -> str:
        e = html.escape
        rows = []
        for k, v in self.params.items():
            lo, hi = self.intervals.get(k, (math.nan, math.nan))
            rows.append(f"<tr><td>{e(k)}</td><td>{v:.6g}</td><td>[{lo:.4g}, {hi:.4g}]</td></tr>")
        return (f"<div><b>{e(self.law.name)}</b>: <code>{e(self.law.formula)}</code><br>"
                f"status: {e(self.status)} — {e(self.message)}<br>"
                f"n = {self.n_points}, objective = {self.objective:.6g} ({e(str(self.loss.get('name')))})"
                f"<table><tr><th>param</th><th>value</th><th>{self.level:.0%} interval</th></tr>"
                + "".join(rows) + "</table></div>")
