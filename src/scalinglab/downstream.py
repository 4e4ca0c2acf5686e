"""Downstream (benchmark accuracy) prediction: two-step ladders, compute-only sigmoids and selection.

Two-step prediction, as the OLMo 2 ladder (Bhagia et al. 2024) and Llama 3 (Sec 3.2.1) do it:

1. scale -> task loss: ``L_task = E + A * C**(-alpha)`` (``step1="power"``, C = training FLOPs or any
   scale column) or ``E + A/N**alpha + B/D**beta`` (``step1="chinchilla"``, N = params, D = tokens).
   Task loss is the normalized NLL of the correct answer (nats) or bits-per-byte, as in the table.
2. task loss -> accuracy: ``acc = floor + (ceiling - floor) / (1 + exp(k (L - L0)))`` (law
   ``sigmoid-loss``; ``floor`` = chance, e.g. 0.25 for 4-way multiple choice).

Prediction intervals propagate both steps: step-1 parameter draws (bootstrap) + its residual noise + the
extrapolation reach term give task-loss samples, each is pushed through a step-2 parameter draw, and the
step-2 residual noise is added. Accuracies are fractions (or percentages, as in the table).

Compute-only alternatives and automatic selection: :func:`select_downstream` backtests (fit on smaller
models, predict the larger ones) a plain sigmoid in log-compute, a sigmoid with a fixed ceiling and, when a
task-loss column exists, the two-step predictor; it keeps the plain sigmoid unless another method is
clearly better on the backtest (two-step does not always win).

>>> from scalinglab.downstream import TwoStepPredictor
>>> res = TwoStepPredictor(loss="arc_bpb", accuracy="arc", floor=0.25).fit("ladder.csv")  # doctest: +SKIP
>>> res.predict(flops=1e24).interval                                                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._errors import DataError, FitError, InputError, ScalingLabError

__all__ = ["TwoStepPredictor", "TwoStepResult", "DownstreamPrediction", "SigmoidPredictor", "SigmoidResult",
           "fit_accuracy_sigmoid",
           "select_downstream", "DownstreamSelection", "backtest_downstream", "load_frame", "fit_observational",
           "ObservationalResult"]

_LEVELS = (0.5, 0.8, 0.95)
_N_MC = 4000


# --------------------------------------------------------------------------------------------- helpers
def load_frame(data):
    """``(DataFrame, source)`` from a path (CSV, TSV, Parquet, JSON, JSONL), DataFrame, RunTable or mapping.

    Columns are kept exactly as named (benchmark and per-example tables are not run tables: ``n_tokens``
    must not become ``tokens``). ``source`` is the file name (None for in-memory data). Raises
    `InputError` for a missing file or an unsupported object, `DataError` for an unreadable file."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, None
    if hasattr(data, "df") and hasattr(data, "source"):
        return data.df, getattr(data, "source", None)
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame({k: np.ravel(np.asarray(v)) for k, v in data.items()}), None
        except ValueError as exc:
            raise InputError(f"array input: {exc}") from None
    from pathlib import Path

    if not isinstance(data, str | Path):
        raise InputError(f"cannot read a table from a {type(data).__name__}; give a path, DataFrame or mapping")
    p = Path(data)
    if not p.is_file():
        raise InputError(f"table {str(p)!r} does not exist")
    name = p.name.lower().removesuffix(".gz")
    try:
        if name.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        elif name.endswith((".jsonl", ".ndjson")):
            df = pd.read_json(p, lines=True)
        elif name.endswith(".json"):
            df = pd.read_json(p)
        elif name.endswith(".tsv"):
            df = pd.read_csv(p, sep="\t")
        else:
            df = pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the table: {exc}", file=p.name) from None
    return df, p.name


def _column(df, name: str, source, what: str) -> np.ndarray:
    if name not in df.columns:
        raise DataError(f"no {what} column {name!r} (columns: {', '.join(map(str, df.columns))})", file=source,
                        column=name)
    try:
        return df[name].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} column {name!r} is not numeric", file=source, column=name) from None


def _scale_arrays(df, x: str | Sequence[str], source) -> dict[str, np.ndarray]:
    cols = [x] if isinstance(x, str) else list(x)
    out = {}
    for c in cols:
        if c == "flops" and "flops" not in df.columns and {"params", "tokens"} <= set(df.columns):
            out[c] = 6.0 * _column(df, "params", source, "params") * _column(df, "tokens", source, "tokens")
        else:
            out[c] = _column(df, c, source, "scale")
    return out


def _compute(X: Mapping[str, np.ndarray]) -> np.ndarray:
    if "flops" in X:
        return np.asarray(X["flops"], float)
    if "params" in X and "tokens" in X:
        return 6.0 * np.asarray(X["params"], float) * np.asarray(X["tokens"], float)
    return np.asarray(next(iter(X.values())), float)


def _parse_point(variables: Mapping[str, object]) -> dict[str, np.ndarray]:
    from .units import parse_quantity

    out = {}
    for k, v in variables.items():
        if isinstance(v, str):
            v = parse_quantity(v, what=k)
        a = np.atleast_1d(np.asarray(v, float)).ravel()
        if np.any(~np.isfinite(a)) or np.any(a <= 0):
            raise InputError(f"{k} must be a positive number, got {v!r}")
        out[k] = a
    if not out:
        raise InputError("predict needs the scale of the model, e.g. flops=1e24")
    arrs = np.broadcast_arrays(*out.values())
    return {k: np.ravel(a) for k, a in zip(out, arrs, strict=True)}


def _quantiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(samples, [a, 1.0 - a], axis=0)
    return lo, hi


_Q_LEVELS = (0.98, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2, 0.02)


def _value_samples(res, X: dict[str, np.ndarray], rng, n: int = _N_MC) -> np.ndarray:
    """Monte Carlo samples ``(n, m)`` of a fitted law's value for an ACTUAL run at the points ``X``.

    Drawn by inverse-CDF interpolation of the fit's own prediction intervals (``FitResult.predict`` at
    several levels: parameter uncertainty + run noise + extrapolation reach, as the fit module calibrates
    them), so the two-step interval inherits that calibration."""
    qs, vals = [], []
    for lv in _Q_LEVELS:
        p = res.predict(level=lv, **X)
        lo, hi = np.atleast_1d(p.interval[0]), np.atleast_1d(p.interval[1])
        a = (1.0 - lv) / 2.0
        qs += [a, 1.0 - a]
        vals += [lo, hi]
    order = np.argsort(qs)
    qs = np.asarray(qs)[order]
    V = np.stack(vals)[order]                      # (Q, m)
    V = np.maximum.accumulate(V, axis=0)           # monotone quantile function
    u = rng.uniform(qs[0], qs[-1], size=n)
    return np.stack([np.interp(u, qs, V[:, j]) for j in range(V.shape[1])], axis=1)


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class DownstreamPrediction:
    """Predicted accuracy at one or more scales with a prediction interval.

    ``value``: accuracy (units of the fitted column); ``interval``: ``(lo, hi)`` at ``level``;
    ``task_loss`` / ``task_loss_interval``: step-1 prediction (two-step only); ``extrapolation``: ratio of
    the point's compute to the largest fitted model; ``method``: which predictor produced it.
    """

    value: float | np.ndarray
    interval: tuple
    level: float
    extrapolation: float | np.ndarray
    method: str
    task_loss: float | np.ndarray | None = None
    task_loss_interval: tuple | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able dict: ``value``, ``interval`` ([lo, hi]), ``level``, ``extrapolation``, ``method``,
        ``warnings`` and, for two-step predictions, ``task_loss`` / ``task_loss_interval``."""
        from .fit._result import _jsonable

        d = {"value": self.value, "interval": list(self.interval), "level": self.level,
             "extrapolation": self.extrapolation, "method": self.method, "warnings": list(self.warnings)}
        if self.task_loss is not None:
            d["task_loss"] = self.task_loss
            d["task_loss_interval"] = list(self.task_loss_interval)
        return _jsonable(d)


def _squeeze(a):
    a = np.asarray(a, float)
    return float(a[0]) if a.size == 1 else a


def _warn_reach(reach: np.ndarray) -> list[str]:
    r = float(np.max(reach))
    return [f"extrapolates {r:.3g}x beyond the largest fitted model in compute"] if r > 100 else []


@dataclass(frozen=True)
class TwoStepResult:
    """Fitted two-step predictor: ``step1`` (scale -> task loss) and ``step2`` (task loss -> accuracy)
    `FitResult` objects, plus the column names used."""

    step1: object
    step2: object
    scale_columns: tuple
    loss: str
    accuracy: str
    bounded: tuple | None  # (lo, hi) the accuracy is clipped to, or None
    seed: int = 0

    @property
    def method(self) -> str:
        """Always ``"two-step"``."""
        return "two-step"

    def _step1_X(self, variables) -> tuple[dict, np.ndarray]:
        pt = _parse_point(variables)
        law = self.step1.law
        col_to_var = {c: v for v, c in self.step1.variables.items()}
        X = {}
        for k, a in pt.items():
            v = k if k in law.variables else col_to_var.get(k)
            if v is None:
                raise InputError(f"two-step predictor takes {', '.join(self.scale_columns)}; got {k!r}")
            X[v] = a
        missing = [v for v in law.variables if v not in X]
        if missing:
            raise InputError(f"predict needs {', '.join(self.step1.variables[m] for m in missing)}")
        arrs = np.broadcast_arrays(*[X[v] for v in law.variables])
        X = {v: np.ravel(a) for v, a in zip(law.variables, arrs, strict=True)}
        fitted = {v: np.asarray(a, float) for v, a in self.step1.data["X"].items()}
        comp = _compute({self.step1.variables[v]: a for v, a in X.items()}) if len(X) > 1 else X[law.variables[0]]
        comp_fit = (_compute({self.step1.variables[v]: a for v, a in fitted.items()}) if len(fitted) > 1
                    else fitted[law.variables[0]])
        return X, comp / np.max(comp_fit)

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Accuracy at a scale, e.g. ``predict(flops=1e24)`` or ``predict(params=7e9, tokens=4e12)``
        (FLOPs, parameters, tokens), with an interval at ``level`` and the extrapolation it needs.

        Raises
        ------
        InputError
            If ``level`` is not in (0, 1) or the scale variables do not match the fit.
        """
        if not 0 < float(level) < 1:
            raise InputError(f"level must be between 0 and 1, got {level}")
        X, reach = self._step1_X(variables)
        rng = np.random.default_rng(self.seed)
        Ls = _value_samples(self.step1, X, rng)                      # (S, m) task-loss samples
        L_center = self.step1.law.evaluate(self.step1.theta, X)
        law2 = self.step2.law
        var2 = law2.variables[0]
        acc_center = law2.evaluate(self.step2.theta, {var2: L_center})
        draws2 = self.step2.parameter_draws()
        if draws2 is None or not len(draws2):
            draws2 = self.step2.theta[None, :]
        S, m = Ls.shape
        j = rng.integers(0, len(draws2), S)
        acc = np.empty_like(Ls)
        with np.errstate(all="ignore"):
            for u in np.unique(j):
                rows = j == u
                acc[rows] = law2.evaluate(draws2[u], {var2: Ls[rows].ravel()}).reshape(rows.sum(), m)
        acc = acc + rng.standard_normal(acc.shape) * float(self.step2.noise)
        if self.bounded is not None:
            acc = np.clip(acc, *self.bounded)
            acc_center = np.clip(acc_center, *self.bounded)
        lo, hi = _quantiles(acc, level)
        llo, lhi = _quantiles(Ls, level)
        return DownstreamPrediction(value=_squeeze(acc_center), interval=(_squeeze(lo), _squeeze(hi)),
                                    level=float(level), extrapolation=_squeeze(reach), method="two-step",
                                    task_loss=_squeeze(L_center), task_loss_interval=(_squeeze(llo), _squeeze(lhi)),
                                    warnings=_warn_reach(reach))

    def to_dict(self) -> dict:
        """JSON-able summary: method, column names and both steps' fit summaries."""
        return {"method": "two-step", "loss": self.loss, "accuracy": self.accuracy,
                "scale_columns": list(self.scale_columns), "step1": self.step1.summary(),
                "step2": self.step2.summary()}


def _bounds_of(acc: np.ndarray) -> tuple | None:
    if np.nanmin(acc) >= 0 and np.nanmax(acc) <= 1:
        return (0.0, 1.0)
    if np.nanmin(acc) >= 0 and np.nanmax(acc) <= 100:
        return (0.0, 100.0)
    return None


@dataclass(frozen=True)
class TwoStepPredictor:
    """Configuration of a two-step downstream predictor (see the module docstring).

    ``loss``: task-loss (or bits-per-byte) column; ``accuracy``: accuracy column; ``x``: scale column(s)
    for step 1 — ``"flops"`` (derived as 6 N D when only params and tokens exist) or any one column with
    ``step1="power"``, or ``("params", "tokens")`` with ``step1="chinchilla"``; ``floor``/``ceiling``:
    fix the step-2 chance level / best accuracy; ``bootstrap``: resamples per step for the intervals;
    ``calibrate``: let step 1 learn its interval widening from internal backtests (``fit(calibrate=True)``;
    slower).
    """

    loss: str
    accuracy: str
    x: str | tuple = "flops"
    step1: str = "power"
    floor: float | None = None
    ceiling: float | None = None
    bootstrap: int = 100
    seed: int = 0
    fit_loss: str = "huber"
    calibrate: bool = False

    def fit(self, data, *, step2_data=None) -> TwoStepResult:
        """Fit both steps on a run table (path, DataFrame, mapping); ``step2_data`` (optional, with the same
        loss/accuracy columns) adds models to step 2 only (Llama 3 fitted step 2 on ladder models plus
        Llama 2 models). Returns a `TwoStepResult`. Raises `InputError` for a bad ``step1``/``x``,
        `DataError` for missing or non-numeric columns, `FitError` when a step cannot be fitted."""
        from .fit import fit
        from .laws import get_law

        df, source = load_frame(data)
        if self.step1 == "chinchilla":
            cols = ("params", "tokens") if isinstance(self.x, str) else tuple(self.x)
        elif self.step1 == "power":
            if not isinstance(self.x, str):
                raise InputError("step1='power' takes one scale column in x (e.g. 'flops')")
            cols = (self.x,)
        else:
            raise InputError(f"step1 must be 'power' or 'chinchilla', got {self.step1!r}")
        Xs = _scale_arrays(df, cols, source)
        Lt = _column(df, self.loss, source, "task-loss")
        acc = _column(df, self.accuracy, source, "accuracy")
        ok1 = np.isfinite(Lt) & np.all([np.isfinite(a) for a in Xs.values()], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.step1 == "power":
                law1 = get_law("power", variable=cols[0] if cols[0].isidentifier() else "x")
                d1 = {law1.variables[0]: Xs[cols[0]][ok1], "__loss__": Lt[ok1]}
            else:
                law1 = get_law("chinchilla")
                d1 = {"params": Xs[cols[0]][ok1], "tokens": Xs[cols[1]][ok1], "__loss__": Lt[ok1]}
            r1 = fit(d1, law1, y="__loss__", loss=self.fit_loss, bootstrap=self.bootstrap, seed=self.seed,
                     calibrate=self.calibrate)
            if self.step1 == "power":
                r1 = dataclasses.replace(r1, variables={law1.variables[0]: cols[0]})
            L2, a2 = Lt, acc
            if step2_data is not None:
                df2, src2 = load_frame(step2_data)
                L2 = np.concatenate([L2, _column(df2, self.loss, src2, "task-loss")])
                a2 = np.concatenate([a2, _column(df2, self.accuracy, src2, "accuracy")])
            ok2 = np.isfinite(L2) & np.isfinite(a2)
            law2 = get_law("sigmoid-loss", floor=self.floor, ceiling=self.ceiling)
            r2 = fit({"L": L2[ok2], "__acc__": a2[ok2]}, law2, y="__acc__", loss=self.fit_loss,
                     bootstrap=self.bootstrap, seed=self.seed + 1, calibrate=False)
        return TwoStepResult(step1=r1, step2=r2, scale_columns=cols, loss=self.loss, accuracy=self.accuracy,
                             bounded=_bounds_of(acc[np.isfinite(acc)]), seed=self.seed)


# --------------------------------------------------------------------------------------------- compute-only
#: steepness k (per decade of compute) above which the one-sided slope prior acts (see `SigmoidPredictor`)
SLOPE_PRIOR_CENTER = 1.0
#: sd of ln k of the one-sided prior above SLOPE_PRIOR_CENTER (k = 2.7/decade is 2 sd out)
SLOPE_PRIOR_SD = 0.5
#: sd of a fitted ceiling's prior around the top of the scale (1 for fractions), as a fraction of the top
CEILING_PRIOR_SD = 0.1


def _sigmoid_bounds(names, y, bounded) -> tuple[np.ndarray, np.ndarray]:
    """Box bounds for a ``sigmoid-bounded`` theta: floor in [0, min(y)], ceiling in (max(y)-ish, top],
    k in [0, 100] per decade, x0 anywhere within 10 decades of the data (set by the caller)."""
    lo_acc, hi_acc = bounded if bounded is not None else (float(np.min(y)) - np.ptp(y), float(np.max(y)) + np.ptp(y))
    lo, hi = [], []
    for n in names:
        if n == "floor":
            lo.append(lo_acc)
            hi.append(max(float(np.min(y)), lo_acc) + 1e-3 * max(hi_acc - lo_acc, 1e-9))
        elif n == "ceiling":
            lo.append(float(np.median(y)))
            hi.append(hi_acc)
        elif n == "k":
            lo.append(1e-4)
            hi.append(100.0)
        else:
            lo.append(-np.inf)
            hi.append(np.inf)
    return np.asarray(lo, float), np.asarray(hi, float)


def _fit_sigmoid_map(law, C: np.ndarray, y: np.ndarray, *, bounded, prior_sd: float | None,
                     prior_center: float, loss: str = "linear", starts=None,
                     ceiling_sd: float | None = None) -> tuple[np.ndarray, float]:
    """Least-squares sigmoid in log10 compute with a one-sided log-normal prior on the steepness ``k``.

    Minimises ``sum (f(C_i) - y_i)^2 + (s max(ln k - ln k0, 0) / prior_sd)^2`` over the law's free
    parameters, where ``s`` is the residual scale of the unpenalised fit (so the prior is a MAP term for
    Gaussian scatter of that size: it decides the slope only where the models do not, e.g. while all fitted
    models sit below the midpoint and least squares would jump to a near-vertical step). One-sided: a flat
    or slowly rising benchmark (k -> 0) is not pushed to rise. A fitted ceiling gets ``(s (ceiling - top) / (ceiling_sd top))^2`` when the
    accuracy scale ``bounded = (0, top)`` is known and ``ceiling_sd`` is given (a ceiling below the top
    only where the models show saturation). ``prior_sd=None`` gives plain least squares. Multi-start from
    a grid of midpoints (within and beyond the data) and steepnesses. Returns ``(theta, residual scale)``.
    """
    from scipy.optimize import least_squares

    names = law.param_names
    lc = np.log10(C)
    lo, hi = _sigmoid_bounds(names, y, bounded)
    ix0 = names.index("x0")
    ik = names.index("k")
    lo[ix0], hi[ix0] = lc.min() - 10.0, lc.max() + 10.0

    def pred(th):
        with np.errstate(all="ignore"):
            return law.evaluate(th, {"C": C})

    if starts is None:
        starts = []
        for k0 in (0.5, 1.0, 2.0):
            for x0 in [*np.quantile(lc, [0.2, 0.5, 0.8]), lc.max() + 1.0, lc.max() + 3.0]:
                th = []
                for n in names:
                    th.append({"floor": float(np.min(y)), "ceiling": float(np.max(y)), "k": k0, "x0": float(x0)}[n])
                starts.append(th)
    width = np.where(np.isfinite(hi - lo), hi - lo, 2.0 + np.abs(np.where(np.isfinite(lo), lo, hi)))
    starts = [np.clip(np.asarray(s, float), lo + 1e-6 * width, hi - 1e-6 * width) for s in starts]

    ic = names.index("ceiling") if "ceiling" in names else None
    top = None if bounded is None or ic is None or not ceiling_sd else float(bounded[1])

    def solve(weight, init):
        def resid(th):
            r = pred(th) - y
            if weight > 0:
                r = np.append(r, weight * max(math.log(max(th[ik], 1e-12)) - math.log(prior_center), 0.0))
                if top is not None:
                    r = np.append(r, weight * prior_sd * (th[ic] - top) / (ceiling_sd * top))
            return np.where(np.isfinite(r), r, 1e3)
        best = None
        for s in init:
            try:
                sol = least_squares(resid, s, bounds=(lo, hi), loss=loss, f_scale=0.05, max_nfev=400)
            except ValueError:
                continue
            if best is None or sol.cost < best.cost:
                best = sol
        if best is None:
            raise FitError("sigmoid fit failed from every start")
        return best.x

    th = solve(0.0, starts)
    scale = max(float(np.sqrt(np.mean((pred(th) - y) ** 2))), 1e-3 * max(float(np.ptp(y)), 1e-3))
    if prior_sd is not None and prior_sd > 0:
        th = solve(scale / float(prior_sd), [th, *starts])
        scale = max(float(np.sqrt(np.mean((pred(th) - y) ** 2))), scale)
    return th, scale


@dataclass(frozen=True)
class SigmoidResult:
    """A fitted compute-only sigmoid (``sigmoid`` or ``sigmoid-bounded``) as a downstream predictor.

    ``fit``: a `scalinglab.fit.FitResult` holding the law (variable ``C``), the fitted ``theta``, the
    fitted models (``fit.data``) and the bootstrap draws; ``column``: the scale column (e.g. ``flops``);
    ``bounded``: ``(lo, hi)`` the accuracy is clipped to (``(0, 1)`` for fractions, ``(0, 100)`` for
    percentages) or None; ``residuals``: in-sample errors (accuracy units) that set the model-to-model
    scatter of the interval; ``reach_sd``: extra interval sd per decade of extrapolation beyond the
    largest fitted model (accuracy units).
    """

    fit: object
    column: str
    name: str
    bounded: tuple | None
    seed: int = 0
    residuals: np.ndarray | None = None
    reach_sd: float = 0.0

    @property
    def method(self) -> str:
        """The predictor's name (``"sigmoid"`` or ``"sigmoid-bounded"``)."""
        return self.name

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Accuracy at a scale, e.g. ``predict(flops=1e24)`` (or ``params=``, ``tokens=`` when the column is
        ``flops``: C = 6 N D). Arrays give arrays. The interval combines the bootstrap spread of the
        curve, the model-to-model scatter (resampled in-sample residuals) and ``reach_sd`` per decade
        beyond the largest fitted model. Raises `InputError` for a wrong variable or a level outside (0, 1).
        """
        if not 0 < float(level) < 1:
            raise InputError(f"level must be between 0 and 1, got {level}")
        pt = _parse_point(variables)
        if self.column in pt:
            xv = pt[self.column]
        elif "flops" in self.column and {"params", "tokens"} <= set(pt):
            xv = 6.0 * pt["params"] * pt["tokens"]
        else:
            raise InputError(f"{self.name} predictor takes {self.column}=...; got {', '.join(pt)}")
        law = self.fit.law
        cmax = float(np.max(self.fit.data["X"]["C"]))
        reach = xv / cmax
        with np.errstate(all="ignore"):
            center = np.atleast_1d(law.evaluate(self.fit.theta, {"C": xv}))
        rng = np.random.default_rng(self.seed)
        draws = self.fit.bootstrap if self.fit.bootstrap is not None and len(self.fit.bootstrap) else \
            self.fit.theta[None, :]
        S = max(_N_MC // 2, len(draws))
        j = rng.integers(0, len(draws), S)
        samples = np.empty((S, len(xv)))
        with np.errstate(all="ignore"):
            for u in np.unique(j):
                rows = j == u
                samples[rows] = law.evaluate(draws[u], {"C": xv})[None, :]
        res = self.residuals if self.residuals is not None and len(self.residuals) else np.zeros(1)
        samples += rng.choice(res, size=(S, 1)) * np.ones((1, len(xv)))
        decades = np.maximum(np.log10(np.maximum(reach, 1e-300)), 0.0)
        samples += rng.standard_normal((S, 1)) * self.reach_sd * decades[None, :]
        if self.bounded is not None:
            samples = np.clip(samples, *self.bounded)
            center = np.clip(center, *self.bounded)
        lo, hi = _quantiles(samples, level)
        lo, hi = np.minimum(lo, center), np.maximum(hi, center)
        return DownstreamPrediction(value=_squeeze(center), interval=(_squeeze(lo), _squeeze(hi)), level=float(level),
                                    extrapolation=_squeeze(reach), method=self.name, warnings=_warn_reach(reach))

    def to_dict(self) -> dict:
        """JSON-able summary: method, scale column, the fit summary (law, params, data ranges) and the
        interval terms."""
        return {"method": self.name, "column": self.column, "fit": self.fit.summary(),
                "reach_sd_per_decade": float(self.reach_sd)}


@dataclass(frozen=True)
class SigmoidPredictor:
    """Accuracy as a sigmoid in log10 of one scale column (default ``flops``, FLOPs):
    ``acc = floor + (ceiling - floor) / (1 + exp(-k (log10 C - x0)))``.

    ``floor``: chance level (fixed when given, e.g. 0.25 for 4-way multiple choice; else fitted within
    [0, min acc]). ``ceiling``: None fits it (``name == "sigmoid"``), a number fixes it
    (``"sigmoid-bounded"``, e.g. 1.0). ``slope_prior``: sd of ln k of a one-sided log-normal prior that
    acts above ``slope_center`` (per decade of compute); fitted by least squares plus that MAP term, so
    the slope is set by the models where they determine it and kept from becoming a near-vertical step
    where they do not (all models below the midpoint: plain least squares then often predicts a jump to
    the ceiling right after the data). Slopes below ``slope_center`` (flat benchmarks) are not penalised.
    None gives plain least squares. ``ceiling_prior``: when the ceiling is fitted and the accuracies are fractions
    (percentages), a Gaussian prior centred on 1 (100) with this sd (fraction of the top); None: none.
    ``fit_loss``: ``"ls"`` (default) or a robust scipy loss (``"soft_l1"``,
    ``"huber"``, ``"cauchy"``; scale 0.05 accuracy). ``bootstrap``: resamples of the models for the
    interval. ``calibrate``: also learn the per-decade extrapolation term of the interval from internal
    backtests (fit on the smaller models, predict the larger); else a fixed 0.01 per decade.
    """

    accuracy: str
    x: str = "flops"
    floor: float | None = None
    ceiling: float | None = None
    bootstrap: int = 100
    seed: int = 0
    fit_loss: str = "ls"
    calibrate: bool = False
    slope_prior: float | None = SLOPE_PRIOR_SD
    slope_center: float = SLOPE_PRIOR_CENTER
    ceiling_prior: float | None = CEILING_PRIOR_SD

    @property
    def name(self) -> str:
        """``"sigmoid"`` (ceiling fitted) or ``"sigmoid-bounded"`` (ceiling fixed)."""
        return "sigmoid" if self.ceiling is None else "sigmoid-bounded"

    def _fit_arrays(self, C: np.ndarray, acc: np.ndarray, bounded, starts=None):
        from .laws import get_law

        law = get_law("sigmoid-bounded", variable="C", floor=self.floor, ceiling=self.ceiling)
        loss = {"ls": "linear", "huber": "huber", "soft_l1": "soft_l1", "cauchy": "cauchy"}.get(self.fit_loss)
        if loss is None:
            raise InputError(f"fit_loss must be ls, huber, soft_l1 or cauchy, got {self.fit_loss!r}")
        th, scale = _fit_sigmoid_map(law, C, acc, bounded=bounded, prior_sd=self.slope_prior,
                                     prior_center=self.slope_center, loss=loss, starts=starts,
                                     ceiling_sd=self.ceiling_prior)
        return law, th, scale

    def fit(self, data) -> SigmoidResult:
        """Fit on a table (path, DataFrame or mapping) with the scale column ``x`` (or params and tokens
        when ``x == "flops"``) and the ``accuracy`` column; rows with a missing value are skipped.
        Returns a `SigmoidResult`. Raises `DataError` for a missing or non-numeric column, `FitError` with
        fewer than 3 usable models or when no start converges."""
        from .fit import FitResult

        df, source = load_frame(data)
        xv = _scale_arrays(df, [self.x], source)[self.x]
        acc = _column(df, self.accuracy, source, "accuracy")
        ok = np.isfinite(xv) & np.isfinite(acc) & (xv > 0)
        if ok.sum() < 3:
            raise FitError(f"sigmoid fit: {int(ok.sum())} usable model(s) in {source or 'the table'}; need at least 3")
        C, y = xv[ok], acc[ok]
        bounded = _bounds_of(y)
        law, th, scale = self._fit_arrays(C, y, bounded)
        with np.errstate(all="ignore"):
            resid = law.evaluate(th, {"C": C}) - y
        rng = np.random.default_rng(self.seed)
        boots = []
        for _ in range(int(self.bootstrap)):
            i = rng.integers(0, len(C), len(C))
            if np.ptp(np.log10(C[i])) <= 0:
                continue
            try:
                boots.append(self._fit_arrays(C[i], y[i], bounded, starts=[th])[1])
            except ScalingLabError:
                continue
        reach_sd = 0.01 * (1.0 if bounded is None else bounded[1])
        if self.calibrate:
            reach_sd = self._calibrate_reach(C, y, bounded, default=reach_sd)
        params = dict(zip(law.param_names, map(float, th), strict=True))
        B = np.asarray(boots) if boots else None
        level = 0.8
        ivs = ({n: tuple(map(float, np.quantile(B[:, i], [0.1, 0.9]))) for i, n in enumerate(law.param_names)}
               if B is not None else {})
        r = FitResult(law=law, params=params, theta=np.asarray(th, float), objective=float(np.sum(resid ** 2)),
                      residuals=resid, n_points=int(len(C)), data_ranges={"C": (float(C.min()), float(C.max()))},
                      variables={"C": self.x}, loss={"name": self.fit_loss, "slope_prior_sd": self.slope_prior,
                                                     "slope_prior_center": self.slope_center},
                      space="linear", status="success",
                      message=f"least squares{' + slope prior' if self.slope_prior else ''} ({source or 'table'})",
                      bootstrap=B, intervals=ivs, level=level, noise=float(scale),
                      data={"X": {"C": C.tolist()}, "y": y.tolist()},
                      calibration={"method": "bootstrap+residuals+reach/v1", "reach_sd_per_decade": reach_sd})
        return SigmoidResult(fit=r, column=self.x, name=self.name, bounded=bounded, seed=self.seed,
                             residuals=resid, reach_sd=float(reach_sd))

    def _calibrate_reach(self, C, y, bounded, default: float) -> float:
        """Per-decade extrapolation sd from internal backtests: refit on the models below the 60/70/80%
        compute quantiles, and attribute the excess of the held-out squared errors over the in-sample
        residual variance to distance beyond the fit (least squares through the origin in decades)."""
        lc = np.log10(C)
        num = den = 0.0
        for q in (0.6, 0.7, 0.8):
            cut = np.quantile(lc, q)
            tr, te = lc < cut, lc >= cut
            if tr.sum() < 6 or te.sum() < 2 or np.ptp(lc[tr]) <= 0:
                continue
            try:
                law, th, scale = self._fit_arrays(C[tr], y[tr], bounded)
            except ScalingLabError:
                continue
            with np.errstate(all="ignore"):
                err2 = (law.evaluate(th, {"C": C[te]}) - y[te]) ** 2
            d = lc[te] - lc[tr].max()
            excess = err2 - scale ** 2
            num += float(np.sum(d ** 2 * excess))
            den += float(np.sum(d ** 4))
        if den <= 0:
            return default
        return float(np.sqrt(max(num / den, 0.0))) if num > 0 else 0.0


def fit_accuracy_sigmoid(data, *, x: str = "flops", y: str, floor: float | None = None,
                         ceiling: float | None = None, bootstrap: int = 100, seed: int = 0,
                         level: float = 0.8, calibrate: bool = True):
    """`SigmoidPredictor` fitted and returned as a `scalinglab.fit.FitResult` of the catalog law
    ``sigmoid`` (ceiling fitted) or ``sigmoid-bounded`` (``ceiling`` fixed), with the law's variable named
    after ``x`` — what ``scalinglab fit models.csv --law sigmoid --x flops --y MMLU [--floor 0.25]`` needs
    so that ``scalinglab predict fit.json flops=1e24`` works from the saved JSON.

    ``data``: table with the scale column ``x`` (FLOPs by default) and accuracy column ``y`` (fractions
    or percentages); ``floor``: chance level (fixed when given). Least squares with the weak slope and
    ceiling priors of `SigmoidPredictor` (never raises "no trend": a flat table gives a flat-ish curve with
    a wide interval). The interval of ``FitResult.predict`` combines the bootstrap draws, the residual
    scatter (``noise``, accuracy units) and a per-decade extrapolation term learned from internal
    backtests (``calibrate``). Raises `DataError` for missing/non-numeric columns, `FitError` with fewer
    than 3 usable models, `InputError` for a bad ``level``.
    """
    from .laws import get_law

    if not 0 < float(level) < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    pred = SigmoidPredictor(y, x=x, floor=floor, ceiling=ceiling, bootstrap=bootstrap, seed=seed, calibrate=calibrate)
    res = pred.fit(data)
    r = res.fit
    var = x if x.isidentifier() else "C"
    law = (get_law("sigmoid", variable=var, floor=floor) if ceiling is None else
           get_law("sigmoid-bounded", variable=var, floor=floor, ceiling=ceiling))
    if law.param_names != r.law.param_names:  # pragma: no cover - the two catalog forms share their order
        raise FitError(f"internal: sigmoid parameter order {law.param_names} != {r.law.param_names}")
    B = r.bootstrap
    ivs = ({n: tuple(map(float, np.quantile(B[:, i], [(1 - level) / 2, (1 + level) / 2])))
            for i, n in enumerate(law.param_names)} if B is not None else {})
    rel_reach = res.reach_sd / max(float(r.noise), 1e-12)
    return dataclasses.replace(
        r, law=law, variables={var: x}, data_ranges={var: r.data_ranges["C"]},
        data={"X": {var: r.data["X"]["C"]}, "y": r.data["y"]}, intervals=ivs, level=float(level),
        calibration={"method": "downstream-sigmoid/v1", "reach_noise_per_decade": rel_reach,
                     "source": "reach-backtest" if calibrate else "fixed"})


# --------------------------------------------------------------------------------------------- backtests
def backtest_downstream(data, predictor, *, cutoff_frac: float = 0.3, x: str | None = None) -> dict:
    """Fit ``predictor`` (a `TwoStepPredictor` or `SigmoidPredictor`) on the smaller models and predict
    the largest ``cutoff_frac`` (by compute). Returns a dict: ``method``, ``n_train``, ``n_test``,
    ``cutoff`` (compute of the cut), ``mean_abs_error`` / ``max_abs_error`` / ``bias`` (accuracy units),
    ``coverage`` (fraction of held-out models inside the 50/80/95% intervals, keyed "0.5"/"0.8"/"0.95")
    and ``points`` (one dict per held-out model). Raises `InputError` for ``cutoff_frac`` outside (0, 1)
    and `FitError` with fewer than 4 models below the cut."""
    df, source = load_frame(data)
    scale = x or (predictor.x if isinstance(predictor.x, str) else "flops")
    comp = _compute(_scale_arrays(df, [scale], source)) if isinstance(scale, str) else None
    acc = _column(df, predictor.accuracy, source, "accuracy")
    ok = np.isfinite(comp) & np.isfinite(acc)
    idx = np.flatnonzero(ok)
    if not 0 < cutoff_frac < 1:
        raise InputError(f"cutoff_frac must be between 0 and 1, got {cutoff_frac}")
    k = max(1, math.ceil(cutoff_frac * len(idx)))
    thr = np.sort(comp[idx])[len(idx) - k]
    test = idx[comp[idx] >= thr]
    train = idx[comp[idx] < thr]
    if len(train) < 4:
        raise FitError(f"backtest: only {len(train)} model(s) below the cut at {thr:.3g}; need at least 4")
    res = predictor.fit(df.iloc[train])
    point = {scale: comp[test]} if scale in df.columns or scale == "flops" else {}
    if isinstance(predictor, TwoStepPredictor) and predictor.step1 == "chinchilla":
        cols = res.scale_columns
        point = {cols[0]: df[cols[0]].to_numpy(float)[test], cols[1]: df[cols[1]].to_numpy(float)[test]}
    preds = {lv: res.predict(level=lv, **point) for lv in _LEVELS}
    p0 = preds[0.8]
    val = np.atleast_1d(p0.value)
    err = val - acc[test]
    cov = {}
    for lv, p in preds.items():
        lo, hi = np.atleast_1d(p.interval[0]), np.atleast_1d(p.interval[1])
        cov[f"{lv:g}"] = float(np.mean((acc[test] >= lo) & (acc[test] <= hi)))
    return {"method": res.method, "n_train": int(len(train)), "n_test": int(len(test)), "cutoff": float(thr),
            "mean_abs_error": float(np.mean(np.abs(err))), "max_abs_error": float(np.max(np.abs(err))),
            "bias": float(np.mean(err)), "coverage": cov,
            "points": [{"row": int(i) + 1, "compute": float(comp[i]), "actual": float(acc[i]),
                        "predicted": float(v), "interval_0.8": [float(a), float(b)]}
                       for i, v, a, b in zip(test, val, np.atleast_1d(p0.interval[0]),
                                             np.atleast_1d(p0.interval[1]), strict=True)]}


@dataclass(frozen=True)
class DownstreamSelection:
    """The chosen predictor (fitted on all rows), the backtest score of every candidate, and why."""

    result: object
    method: str
    scores: dict
    reason: str

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Predict with the chosen predictor, e.g. ``predict(flops=1e24)`` (accuracy units of the table,
        interval at ``level``); raises `InputError` for a wrong variable or level."""
        return self.result.predict(level=level, **variables)

    def to_dict(self) -> dict:
        """JSON-able: chosen method, reason, every candidate's backtest score and the chosen fit."""
        return {"method": self.method, "reason": self.reason, "scores": self.scores,
                "fit": self.result.to_dict()}


def select_downstream(data, accuracy: str, *, x: str = "flops", loss: str | None = None,
                      floor: float | None = None, cutoff_fracs: Sequence[float] = (0.2, 0.3, 0.4),
                      margin: float = 0.1, bootstrap: int = 100, seed: int = 0,
                      calibrate: bool = True) -> DownstreamSelection:
    """Choose a downstream predictor by backtest and fit it on all rows.

    ``data``: table (path, DataFrame, mapping) with the scale column ``x`` (FLOPs by default; params and
    tokens also work for ``flops``), the ``accuracy`` column (fractions or percentages) and optionally a
    task-loss column ``loss``. ``floor``: chance accuracy (fixed when given, else fitted).

    Candidates (all sigmoids in log10 of ``x`` use least squares with the weak slope prior of
    `SigmoidPredictor`): ``sigmoid-bounded`` (ceiling fixed at 1 / 100 for tables of fractions /
    percentages: the plain sigmoid in log-compute, and the baseline), ``sigmoid`` (ceiling fitted; the
    baseline when the accuracy has no known scale) and ``two-step`` (when ``loss`` is given). Each is
    backtested at ``cutoff_fracs`` (that fraction of the models, the largest by compute, held out) and
    scored by the mean absolute error of those predictions. The baseline is kept unless a candidate's
    error is lower at every cut and lower on average by more than ``margin`` (relative), so selection noise
    cannot easily make the result worse than the plain sigmoid. ``calibrate``: learn the interval's per-decade extrapolation term from internal
    backtests (sigmoids; cheap). Returns a `DownstreamSelection`; raises `DataError` for missing columns
    and `FitError` when no candidate can be fitted.
    """
    df, source = load_frame(data)
    acc = _column(df, accuracy, source, "accuracy")
    bounds = _bounds_of(acc[np.isfinite(acc)])
    quick = {"bootstrap": 0, "seed": seed, "calibrate": False}
    cands: dict = {}
    if bounds is not None:
        cands["sigmoid-bounded"] = SigmoidPredictor(accuracy, x=x, floor=floor, ceiling=bounds[1], **quick)
    cands["sigmoid"] = SigmoidPredictor(accuracy, x=x, floor=floor, **quick)
    if loss is not None:
        cands["two-step"] = TwoStepPredictor(loss=loss, accuracy=accuracy, x=x, floor=floor, **quick)
    baseline = next(iter(cands))
    scores: dict = {}
    for name, pred in cands.items():
        errs, cuts = [], []
        for f in cutoff_fracs:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    bt = backtest_downstream(df, pred, cutoff_frac=f, x=x)
            except ScalingLabError:
                continue
            errs.append(bt["mean_abs_error"])
            cuts.append(f)
        scores[name] = {"mean_abs_error": float(np.mean(errs)) if errs else None, "cutoffs": cuts,
                        "per_cut": errs}
    base = scores[baseline]["mean_abs_error"]
    chosen = baseline
    what = "plain sigmoid in log-compute" if baseline == "sigmoid-bounded" else "sigmoid in log-compute"
    if base is not None:
        # a challenger must be backtested at the same cuts, be better at EVERY cut, and better on average by
        # more than the margin: forms that differ mainly beyond the data (a fitted ceiling) can win one
        # lucky cut and then extrapolate badly
        base_cuts = scores[baseline]["per_cut"]
        fair = [(s["mean_abs_error"], n) for n, s in scores.items()
                if n != baseline and s["mean_abs_error"] is not None and s["cutoffs"] == scores[baseline]["cutoffs"]
                and all(e < b for e, b in zip(s["per_cut"], base_cuts, strict=True))]
        best = min(fair) if fair else None
        if best is not None and best[0] < (1.0 - margin) * base:
            chosen = best[1]
            reason = (f"{best[1]} backtest error {best[0]:.4g} beats the {what}'s {base:.4g} by more "
                      f"than {margin:.0%}, and at every cut")
        else:
            reason = (f"no candidate beat the {what}'s backtest error {base:.4g} at every cut and by more than "
                      f"{margin:.0%} on average")
    else:
        reason = f"too few models to backtest; using the {what}"
    final = dataclasses.replace(cands[chosen], bootstrap=bootstrap,
                                calibrate=calibrate if chosen != "two-step" else False)
    return DownstreamSelection(result=final.fit(df), method=chosen, scores=scores, reason=reason)


# --------------------------------------------------------------------------------------------- observational
def _logit(a: np.ndarray, floor: float = 0.0, eps: float = 1e-3) -> np.ndarray:
    p = np.clip((np.asarray(a, float) - floor) / (1.0 - floor), eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True)
class ObservationalResult:
    """Capability-space predictor (Ruan et al. 2024). ``components``: PCA loadings ``(k, B)`` of the
    standardized logit accuracies of the cheap benchmarks; ``weights``/``bias``: the sigmoid link from
    capabilities to the target; ``loo_residuals``: leave-one-out errors (accuracy units) that set the
    interval; ``explained``: fraction of variance each component explains."""

    cheap: tuple
    target: str
    k: int
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    weights: np.ndarray
    bias: float
    floor: float
    ceiling: float
    loo_residuals: np.ndarray
    loo_mae: dict
    explained: np.ndarray
    n_models: int

    def capabilities(self, scores: np.ndarray) -> np.ndarray:
        """Capability coordinates ``(m, k)`` of models with cheap-benchmark accuracies ``(m, B)``."""
        Z = (_logit(scores) - self.mean) / self.scale
        return Z @ self.components.T

    def predict(self, scores, level: float = 0.8) -> DownstreamPrediction:
        """Predict the target for a model from its cheap-benchmark accuracies: a mapping
        benchmark -> accuracy (or a sequence in ``cheap`` order, or an array of rows ``(m, len(cheap))``).

        Raises
        ------
        InputError
            If a cheap benchmark's score is missing or the number of scores does not match ``cheap``.
        """
        if isinstance(scores, Mapping):
            missing = [b for b in self.cheap if b not in scores]
            if missing:
                raise InputError(f"observational predict needs scores for {', '.join(missing)}")
            S = np.array([[float(np.ravel([scores[b]])[0]) for b in self.cheap]])
        else:
            S = np.atleast_2d(np.asarray(scores, float))
        if S.shape[-1] != len(self.cheap):
            raise InputError(f"expected {len(self.cheap)} cheap-benchmark scores ({', '.join(self.cheap)}), "
                             f"got {S.shape[-1]}")
        cap = self.capabilities(S)
        val = self.floor + (self.ceiling - self.floor) / (1.0 + np.exp(-(cap @ self.weights + self.bias)))
        a = (1.0 - level) / 2.0
        qlo, qhi = np.quantile(self.loo_residuals, [a, 1.0 - a])
        lo = np.clip(val + qlo, min(self.floor, 0.0), self.ceiling)
        hi = np.clip(val + qhi, min(self.floor, 0.0), self.ceiling)
        return DownstreamPrediction(value=_squeeze(val), interval=(_squeeze(lo), _squeeze(hi)), level=float(level),
                                    extrapolation=math.nan, method=f"observational-k{self.k}")

    def to_dict(self) -> dict:
        """JSON-able summary: benchmarks, k, explained variance, link weights, floor/ceiling, LOO errors."""
        from .fit._result import _jsonable

        return _jsonable({"method": "observational", "cheap": list(self.cheap), "target": self.target,
                          "k": self.k, "explained_variance": self.explained, "weights": self.weights,
                          "bias": self.bias, "floor": self.floor, "ceiling": self.ceiling,
                          "loo_mae": self.loo_mae, "n_models": self.n_models})


def _fit_link(C: np.ndarray, y: np.ndarray, floor: float, ceiling: float) -> tuple[np.ndarray, float]:
    """Sigmoid link ``y = floor + (ceiling - floor) sigmoid(C w + b)`` by least squares (start: a linear
    fit on the logit scale)."""
    from scipy.optimize import least_squares

    t = _logit((y - floor) / max(ceiling - floor, 1e-9))
    M = np.column_stack([C, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(M, t, rcond=None)

    def resid(p):
        return floor + (ceiling - floor) / (1.0 + np.exp(-(M @ p))) - y

    sol = least_squares(resid, coef, method="lm" if len(y) > len(coef) else "trf")
    return sol.x[:-1], float(sol.x[-1])


def _pca(scores: np.ndarray, k: int):
    L = _logit(scores)
    mean = L.mean(axis=0)
    scale = L.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (L - mean) / scale
    _, s, Vt = np.linalg.svd(Z, full_matrices=False)
    explained = s ** 2 / np.sum(s ** 2)
    return mean, scale, Vt[:k], explained[:k]


def fit_observational(data, cheap: Sequence[str], target: str, *, k: int | str = "auto", floor: float = 0.0,
                      ceiling: float = 1.0, max_k: int = 3) -> ObservationalResult:
    """Observational scaling law (Ruan et al. 2024): predict a hard benchmark from cheap ones.

    A table of many models (any family) with accuracies (fractions) on the ``cheap`` benchmarks and on
    ``target``. The cheap accuracies are logit-transformed, standardized and reduced by PCA to ``k``
    capability dimensions (``k="auto"``: 1..``max_k``, chosen by leave-one-out error); the target is a
    sigmoid of a linear function of the capabilities between ``floor`` (chance) and ``ceiling``. Rows
    with a missing target are used for the PCA only. The prediction interval comes from the
    leave-one-out residuals (the whole pipeline refitted without each model). Returns an
    `ObservationalResult`. Raises `InputError` with fewer than 2 cheap benchmarks, a bad ``k`` or too few
    models with a target score; `DataError` for missing columns or accuracies outside [0, 1].
    """
    df, source = load_frame(data)
    cheap = tuple(cheap)
    if len(cheap) < 2:
        raise InputError("fit_observational: give at least 2 cheap benchmarks")
    S = np.column_stack([_column(df, b, source, "benchmark") for b in cheap])
    y = _column(df, target, source, "target")
    okS = np.all(np.isfinite(S), axis=1)
    if np.any((S[okS] < 0) | (S[okS] > 1)):
        raise DataError("benchmark accuracies must be fractions in [0, 1]", file=source)
    S = S[okS]
    y = y[okS]
    has_y = np.isfinite(y)
    n = int(has_y.sum())
    ks = list(range(1, min(max_k, len(cheap)) + 1)) if k == "auto" else [int(k)]
    if any(kk < 1 or kk > len(cheap) for kk in ks):
        raise InputError(f"k must be 1..{len(cheap)} (the number of cheap benchmarks), got {k}")
    if n < max(ks) + 4:
        raise InputError(f"fit_observational: {n} models with a {target!r} score; need at least {max(ks) + 4}")

    def pipeline(train_rows, kk):
        mean, scale, V, expl = _pca(S[train_rows] if train_rows is not None else S, kk)
        C = ((_logit(S) - mean) / scale) @ V.T
        fit_rows = has_y if train_rows is None else (has_y & train_rows)
        w, b = _fit_link(C[fit_rows], y[fit_rows], floor, ceiling)
        return mean, scale, V, expl, w, b, C

    loo: dict = {}
    idx_y = np.flatnonzero(has_y)
    for kk in ks:
        res = []
        for i in idx_y:
            keep = np.ones(len(y), bool)
            keep[i] = False
            _, _, _, _, w, b, C = pipeline(keep, kk)
            pred = floor + (ceiling - floor) / (1.0 + np.exp(-(C[i] @ w + b)))
            res.append(y[i] - pred)
        loo[kk] = np.asarray(res)
    mae = {str(kk): float(np.mean(np.abs(r))) for kk, r in loo.items()}
    best = min(ks, key=lambda kk: np.mean(np.abs(loo[kk])))
    mean, scale, V, expl, w, b, _ = pipeline(None, best)
    return ObservationalResult(cheap=cheap, target=target, k=best, mean=mean, scale=scale, components=V, weights=w,
                               bias=b, floor=float(floor), ceiling=float(ceiling), loo_residuals=loo[best],
                               loo_mae=mae, explained=expl, n_models=n)
