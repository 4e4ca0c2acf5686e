"""Adapters from the objects other areas produce (RunTable, FitResult, Plan, backtest results) to the plain
frames and arrays the figures draw. Everything is duck-typed so a figure also works from a DataFrame, a dict
or arrays, and so a missing optional area (no fit module yet, no store) only removes a section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._urls import mask_url

#: law variable -> canonical run-table column
_VARCOL = {"N": "params", "D": "tokens", "C": "flops", "U": "unique_tokens", "S": "step"}


# --------------------------------------------------------------------------- runs
def load_any_runs(source: Any, *, drop_duplicates: bool = False, columns: dict | None = None,
                  drop_missing_loss: bool = False, required: tuple[str, ...] = ("loss",),
                  drop_missing: tuple[str, ...] = (), where: tuple[str, ...] = ()):
    """A RunTable (or DataFrame) from a path, a store URL, a RunTable or a DataFrame. A path goes through
    :func:`scalinglab.data.load_runs` (``drop_duplicates``, ``drop_missing_loss``, ``drop_missing``, the renames ``columns`` and
    the ``required`` columns as there); a store is read with its ``where`` selection applied before its runs are
    checked (`scalinglab.store.Store.to_runtable`), and ``drop_duplicates``; a table or frame is returned as it is
    (``where`` is for stores only: a caller selects a table's rows with `RunTable.where`).

    Raises
    ------
    InputError
        If a path does not exist, a run store cannot be opened (the store module is unavailable), or
        ``drop_missing_loss``, ``drop_missing`` or ``columns`` is asked of a store (it holds each run once, in
        canonical columns).
    """
    if source is None:
        return None
    if isinstance(source, str | Path):
        text = str(source)
        if is_store(text):
            shown = mask_url(text)
            if columns or drop_missing_loss or drop_missing:
                flag = "column" if columns else "drop-missing-loss" if drop_missing_loss else "drop-missing"
                raise InputError(f"{shown}: --{flag} applies to a run table file; a run store holds each run once, "
                                 "in canonical columns")
            try:
                from ..store import Store
            except ImportError as exc:  # pragma: no cover - depends on the runner area
                raise InputError(f"{shown}: reading a run store needs scalinglab.store ({exc})") from None
            store = Store(text, create=False)  # read only: never a new store or new tables (a path: SQLite)
            return store.to_runtable(where=where, drop_duplicates=drop_duplicates)
        if not Path(text).exists():
            raise InputError(f"{text}: no such file")
        from ..data import load_runs

        return load_runs(text, drop_duplicates=drop_duplicates, columns=columns, drop_missing_loss=drop_missing_loss,
                         drop_missing=drop_missing, required=required)
    return source


def as_frame(runs: Any):
    """The pandas DataFrame behind ``runs`` (RunTable ``.df``, a DataFrame, a polars frame, a mapping).

    Raises
    ------
    InputError
        If ``runs`` is not a RunTable, DataFrame, polars frame, mapping or path.
    """
    if runs is None:
        return None
    import pandas as pd

    if isinstance(runs, str | Path):
        runs = load_any_runs(runs)
    if hasattr(runs, "df"):
        rows = getattr(runs, "source_rows", None)
        runs = runs.df
        if rows is not None and len(rows) == len(runs):
            runs.attrs["source_rows"] = np.asarray(rows)  # a file's row numbers survive --where / --best-of
    if isinstance(runs, pd.DataFrame):
        return runs
    if hasattr(runs, "to_pandas"):
        return runs.to_pandas()
    if isinstance(runs, Mapping):
        return pd.DataFrame(dict(runs))
    raise InputError(f"expected a run table (RunTable, DataFrame or path), got {type(runs).__name__}")


def compute_of(df) -> tuple[np.ndarray | None, str | None]:
    """Training FLOPs per row: the ``flops`` column, else ``6·params·tokens`` (returns the convention)."""
    if df is None:
        return None, None
    if "flops" in df.columns:
        c = df["flops"].to_numpy(dtype=float, na_value=np.nan)
        if np.isfinite(c).any():
            if {"params", "tokens"} <= set(df.columns):
                derived = 6.0 * df["params"].to_numpy(float, na_value=np.nan) * df["tokens"].to_numpy(
                    float, na_value=np.nan)
                c = np.where(np.isfinite(c), c, derived)
            return c, None
    if {"params", "tokens"} <= set(df.columns):
        n = df["params"].to_numpy(dtype=float, na_value=np.nan)
        d = df["tokens"].to_numpy(dtype=float, na_value=np.nan)
        return 6.0 * n * d, "6ND"
    return None, None


def column(df, name: str) -> np.ndarray | None:
    """Column ``name`` of ``df`` as a float array ``(n_rows,)`` (NaN for missing), or None if absent/not numeric."""
    if df is None or name not in df.columns:
        return None
    try:
        return df[name].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return None


def run_labels(df) -> list[str]:
    """One display label per row (run id / name / job name, else the row of the file it was read from, as
    errors number it); raw text, escape it where it is rendered."""
    for col in ("run_id", "name", "run", "run_name", "job_name", "job", "job_id", "id", "model"):
        if col in df.columns:
            return [str(v) for v in df[col].tolist()]
    rows = df.attrs.get("source_rows")
    if rows is not None and len(rows) == len(df):
        return [f"row {int(r)}" for r in rows]
    return [f"row {i}" for i in range(len(df))]


# --------------------------------------------------------------------------- fits
@dataclass
class FitView:
    """What the report needs from a fit, normalised from a FitResult (or a compatible object)."""

    obj: Any
    law: Any
    params: dict[str, float]
    theta: np.ndarray
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    bootstrap: np.ndarray | None = None
    data_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # law variable -> run-table column
    objective: float | None = None
    n_points: int | None = None
    diagnostics: dict = field(default_factory=dict)
    residuals: np.ndarray | None = None
    level: float = 0.8

    @property
    def variables(self) -> tuple[str, ...]:
        """The law's variable names, e.g. ``("N", "D")``."""
        return tuple(self.law.variables)

    @property
    def name(self) -> str:
        """The law's name (``"law"`` if it has none)."""
        return str(getattr(self.law, "name", "law"))

    @property
    def formula(self) -> str:
        """The law's formula as text (empty if it has none)."""
        return str(getattr(self.law, "formula", ""))

    @property
    def has_ND(self) -> bool:
        """True when the law has both N (parameters) and D (tokens) among its variables."""
        return {"N", "D"} <= set(self.variables)

    def param_unit(self, name: str) -> str:
        """The unit of parameter ``name``: the law's, except that a loss-valued one (E, said in nats/token by the
        catalog) is in the fitted loss's unit (bits/byte for a ``val_bpb`` table); "" when the law names none."""
        try:
            unit = self.law.param(name).unit or ""
        except Exception:  # noqa: BLE001 - a law-like object without parameter records
            return ""
        if unit == "nats/token":
            unit = getattr(self.obj, "loss_unit", None) or unit
        return unit

    def evaluate(self, theta: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """Law values ``(..., n)`` at natural-space ``theta`` ``(..., P)`` and variables ``X`` (name -> ``(n,)``);
        floating-point warnings silenced.
        """
        with np.errstate(all="ignore"):
            return np.asarray(self.law.evaluate(np.asarray(theta, float), X), dtype=float)

    def draws(self, max_draws: int = 200, seed: int = 0) -> np.ndarray | None:
        """Up to ``max_draws`` bootstrap parameter draws (natural space, (B, P)), finite rows only."""
        b = self.bootstrap
        if b is None:
            return None
        b = np.asarray(b, dtype=float)
        if b.ndim != 2 or b.shape[1] != len(self.theta):
            return None
        b = b[np.isfinite(b).all(axis=1)]
        if len(b) < 5:
            return None
        if len(b) > max_draws:
            b = b[np.random.default_rng(seed).choice(len(b), max_draws, replace=False)]
        return b

    def start_objectives(self) -> np.ndarray | None:
        """Final objective of every multi-start, when the fit recorded them."""
        d = self.diagnostics or {}
        for key in ("start_objectives", "per_start_objectives", "objectives", "start_objective",
                    "objective_per_start", "starts_objective"):
            if key in d and d[key] is not None:
                arr = np.asarray(d[key], dtype=float).ravel()
                if arr.size:
                    return arr
        for key, value in d.items():
            if "objective" in str(key) and isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
                arr = np.asarray(value, dtype=float).ravel()
                if arr.size > 1:
                    return arr
        return None


def as_fit(fit: Any) -> FitView | None:
    """Normalise a FitResult, a fit JSON path or preset name (via ``FitResult.load``) into a FitView.

    Raises
    ------
    InputError
        If ``fit`` is neither a fit-like object nor a loadable fit file / preset name.
    """
    if fit is None:
        return None
    if isinstance(fit, FitView):
        return fit
    if isinstance(fit, str | Path):
        from ..fit import FitResult

        fit = FitResult.load(fit)
    law = getattr(fit, "law", None)
    if law is None or not hasattr(law, "evaluate"):
        raise InputError(f"expected a FitResult (with .law and .params), got {type(fit).__name__}")
    params = {str(k): float(v) for k, v in dict(getattr(fit, "params", {}) or {}).items()}
    names = list(getattr(law, "param_names", params.keys()))
    theta = getattr(fit, "theta", None)
    theta = np.asarray(theta, float) if theta is not None else np.array([params[n] for n in names], float)
    intervals = {}
    for k, v in dict(getattr(fit, "intervals", {}) or {}).items():
        try:
            lo, hi = v
            intervals[str(k)] = (float(lo), float(hi))
        except (TypeError, ValueError):
            continue
    columns = {v: _VARCOL.get(v, v) for v in law.variables}
    columns.update({str(k): str(v) for k, v in dict(getattr(fit, "variables", {}) or {}).items()})
    ranges = {}
    for k, v in dict(getattr(fit, "data_ranges", {}) or {}).items():
        try:
            ranges[str(k)] = (float(v[0]), float(v[1]))
        except (TypeError, ValueError, IndexError):
            continue
    diagnostics = getattr(fit, "diagnostics", None) or {}
    if not isinstance(diagnostics, Mapping):
        diagnostics = diagnostics.to_dict() if hasattr(diagnostics, "to_dict") else vars(diagnostics)
    boot = getattr(fit, "bootstrap", None)
    resid = getattr(fit, "residuals", None)
    obj = getattr(fit, "objective", None)
    npts = getattr(fit, "n_points", None)
    return FitView(
        obj=fit, law=law, params=params, theta=theta, intervals=intervals,
        bootstrap=None if boot is None else np.asarray(boot, float), data_ranges=ranges, columns=columns,
        objective=None if obj is None else float(obj), n_points=None if npts is None else int(npts),
        diagnostics=dict(diagnostics), residuals=None if resid is None else np.asarray(resid, float),
        level=float(getattr(fit, "level", 0.8) or 0.8),
    )


# --------------------------------------------------------------------------- plans, backtests
def as_plan_dict(plan: Any) -> dict:
    """A plan as a plain dict (``Plan.to_dict()``, a mapping, or a JSON file path).

    Raises
    ------
    InputError
        If a plan JSON file cannot be read, or ``plan`` is neither a Plan nor a dict.
    """
    if isinstance(plan, str | Path):
        import json

        path = Path(plan)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read plan JSON ({exc})") from None
    if hasattr(plan, "to_dict"):
        return dict(plan.to_dict())
    if isinstance(plan, Mapping):
        return dict(plan)
    raise InputError(f"expected a Plan (with .to_dict()) or a dict, got {type(plan).__name__}")


def _to_dict(obj: Any) -> Any:
    if hasattr(obj, "to_dict") and not hasattr(obj, "columns"):
        return obj.to_dict()
    return obj


def backtest_frame(bt: Any):
    """Per-point backtest rows: columns ``actual``, ``predicted``, ``lo``, ``hi``, ``compute`` (optional),
    ``held_out`` (bool). Accepts a backtest result object, its ``to_dict()`` or a DataFrame.

    Raises
    ------
    InputError
        If the backtest has no per-point predictions, or the points lack actual and predicted values.
    """
    import pandas as pd

    if bt is None:
        return None
    frame = None
    for attr in ("points", "table", "frame", "df"):
        value = getattr(bt, attr, None)
        if value is not None and hasattr(value, "columns"):
            frame = value
            break
    if frame is None:
        d = _to_dict(bt)
        if hasattr(d, "columns"):
            frame = d
        elif isinstance(d, Mapping):
            pts = d.get("points") or d.get("predictions") or d.get("rows")
            if pts is not None:
                frame = pd.DataFrame(pts)
            else:
                cols = {k: v for k, v in d.items() if isinstance(v, Sequence | np.ndarray) and not isinstance(v, str)}
                frame = pd.DataFrame(cols) if cols else None
    if frame is None:
        raise InputError("backtest result has no per-point predictions to draw")
    f = pd.DataFrame(frame).copy()
    ren = {}
    for want, options in {
        "actual": ("actual", "loss", "y", "observed", "y_true"),
        "predicted": ("predicted", "prediction", "pred", "y_pred", "yhat"),
        "compute": ("compute", "flops", "C"),
    }.items():
        for o in options:
            if o in f.columns:
                ren[o] = want
                break
    f = f.rename(columns=ren)
    for lv in ("0.8", "0.9", "0.95", "0.5"):
        col = f"interval_{lv}"
        if col in f.columns and "lo" not in f.columns:
            iv = np.array([list(v) if v is not None else [np.nan, np.nan] for v in f[col]], float)
            f["lo"], f["hi"] = iv[:, 0], iv[:, 1]
            f.attrs["level"] = float(lv)
    if "compute" not in f.columns and {"N", "D"} <= set(f.columns):
        f["compute"] = 6.0 * f["N"].astype(float) * f["D"].astype(float)
    if "interval" in f.columns and "lo" not in f.columns:
        iv = np.array([list(v) if v is not None else [np.nan, np.nan] for v in f["interval"]], float)
        f["lo"], f["hi"] = iv[:, 0], iv[:, 1]
    for lo, hi in (("lower", "upper"), ("interval_lo", "interval_hi"), ("lo_pred", "hi_pred")):
        if lo in f.columns and "lo" not in f.columns:
            f["lo"], f["hi"] = f[lo], f[hi]
    if "held_out" not in f.columns:
        for o in ("test", "is_test", "heldout"):
            if o in f.columns:
                f["held_out"] = f[o].astype(bool)
                break
        else:
            if "train" in f.columns:
                f["held_out"] = ~f["train"].astype(bool)
            else:
                f["held_out"] = True
    if not {"actual", "predicted"} <= set(f.columns):
        raise InputError(f"backtest points need actual and predicted values; got columns {list(f.columns)}")
    return f


def comparison_frame(cmp: Any):
    """Law comparison rows: ``law``, ``median_error``, ``max_error`` (relative), optional ``coverage``.

    Raises
    ------
    InputError
        If the comparison lacks the ``law`` and ``median_error`` columns.
    """
    import pandas as pd

    if cmp is None:
        return None
    d = _to_dict(cmp)
    if hasattr(d, "columns"):
        f = pd.DataFrame(d)
    elif isinstance(d, Mapping):
        rows = d.get("ranking") or d.get("laws") or d.get("results")
        if isinstance(rows, Mapping):
            rows = [{"law": k, **(_to_dict(v) if isinstance(_to_dict(v), Mapping) else {})} for k, v in rows.items()]
        if rows is None:
            rows = [{"law": k, **_to_dict(v)} for k, v in d.items() if isinstance(_to_dict(v), Mapping)]
        f = pd.DataFrame([_to_dict(r) for r in rows])
    else:
        f = pd.DataFrame([_to_dict(r) for r in cmp])
    if "law" not in f.columns:
        for o in ("name", "law_name"):
            if o in f.columns:
                f = f.rename(columns={o: "law"})
                break
    for want, options in {"median_error": ("median_error", "median_rel_error", "median_abs_rel_error", "median"),
                          "max_error": ("max_error", "max_rel_error", "max_abs_rel_error", "max")}.items():
        for o in options:
            if o in f.columns:
                f[want] = f[o]
                break
    if not {"law", "median_error"} <= set(f.columns):
        raise InputError(f"law comparison needs law and median_error; got columns {list(f.columns)}")
    return f


def finite(*arrays: np.ndarray) -> np.ndarray:
    """Mask of rows where every array is finite (and positive where used on log axes by the caller)."""
    mask = np.ones(len(arrays[0]), bool)
    for a in arrays:
        mask &= np.isfinite(a)
    return mask


def fmt_num(value: Any, digits: int = 4) -> str:
    """Compact number for tables: counts with suffixes, others to ``digits`` significant digits."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(v):  # e.g. a parameter interval open to its bound (fit._profile)
        return "∞" if v > 0 else "-∞"
    if not math.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}".replace("e+", "e")
    return f"{v:.{digits}g}"


def store_curves(source: Any):
    """Step-level training curves from a run store (``Store(url).metrics()``) as a DataFrame with
    ``run_id``, ``branch``, ``step``, ``tokens``, ``loss`` (nats/token; validation split when present)."""
    import pandas as pd

    text = str(source)
    from ..store import Store

    rows = Store(text, create=False).metrics()  # a path: SQLite
    df = pd.DataFrame(rows)
    if df.empty:
        return None
    if "split" in df.columns and (df["split"] == "val").any():
        df = df[df["split"] == "val"]
    if "loss" not in df.columns and "loss_nats" in df.columns:
        df = df.rename(columns={"loss_nats": "loss"})
    return df


def is_store(source: Any) -> bool:
    """True when ``source`` names a run store: a database URL (``...://``) or a .db/.sqlite/.sqlite3 file."""
    if not isinstance(source, str | Path):
        return False
    text = str(source)
    return "://" in text or Path(text).suffix.lower() in (".db", ".sqlite", ".sqlite3")
