"""Shared pieces of the downstream predictors: reading a table through `scalinglab.data`, its columns,
Monte Carlo quantiles and the `DownstreamPrediction` every predictor returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._errors import DataError

__all__ = ["DownstreamPrediction", "load_frame"]

LEVELS = (0.5, 0.8, 0.95)
N_MC = 4000


def load_frame(data, where: Sequence[str] = ()):
    """``(DataFrame, source)`` from a path (CSV, TSV, Parquet, JSON, JSONL), DataFrame, RunTable or mapping,
    read by `scalinglab.data.load_runs` (the one table reader: formats, encodings, unit strings such as
    ``7B``; no column is required and values may be zero or negative). Columns keep the names they have
    in the source (benchmark and per-example tables are not run tables: ``n_tokens`` must not become
    ``tokens``) and columns the reader derives (``flops`` = 6 N D) are left out. ``source``: the file (or
    frame) name.

    Raises
    ------
    InputError
        For a missing file or an unsupported object (from `scalinglab.data.load_runs`).
    DataError
        For an unreadable file or bad cells, naming file, row and column.
    """
    from ..data import load_runs

    if hasattr(data, "df") and hasattr(data, "source"):  # a RunTable: its columns as they are
        rt = data.where(*where) if where else data
        return rt.df, getattr(rt, "source", None)
    rt = load_runs(data, required=(), positive_loss=False, canonical=False)
    if where:
        rt = rt.where(*where)
    df = rt.df.drop(columns=[c for c in rt.derived if c in rt.df.columns])
    df.attrs["source_rows"] = np.asarray(rt.source_rows)  # each row's number in the source, for messages
    return df, getattr(rt, "source", None)


def warn_left_out(df, usable: np.ndarray, source, columns: Sequence[str], stacklevel: int = 3) -> None:
    """A `DataWarning` naming the rows of ``df`` that are not ``usable`` (an empty or non-positive scale, an
    empty accuracy or task loss in ``columns``): they are left out of the fit, and a user should know which
    (a table of published models may lack the compute of its largest one)."""
    bad = ~np.asarray(usable, bool)
    if not bad.any():
        return
    import warnings

    from .._errors import DataWarning
    from ..data.problems import rows_text

    rows = np.asarray(df.attrs.get("source_rows", np.arange(1, len(df) + 1)))[bad]
    warnings.warn(f"{source or 'the table'}: {int(bad.sum())} of {len(df)} rows left out, with no usable "
                  f"{' / '.join(columns)} (an empty cell, or a scale that is not positive): rows {rows_text(rows)}",
                  DataWarning, stacklevel=stacklevel)


def column(df, name: str, source, what: str, *, counts: bool = False, scale: float = 1.0) -> np.ndarray:
    """Column ``name`` of ``df`` as floats (``counts``/``scale``: see `scalinglab.data.cells.numeric_column`).

    Raises
    ------
    DataError
        If the column is missing or not numeric (naming file and column).
    """
    if name not in df.columns:
        raise DataError(f"no {what} column {name!r} (columns: {', '.join(map(str, df.columns))})", file=source,
                        column=name)
    from ..data.cells import numeric_column

    v = numeric_column(df[name], file=source, column=name, what=what, counts=counts, scale=scale)
    if what == "accuracy":  # a fraction in [0, 1] (45.2% is 0.452) or points in [0, 100]
        from ..data.cells import percent_cells

        with np.errstate(invalid="ignore"):
            bad = (v < 0) | (v > 100) | (percent_cells(df[name]) & (v > 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            rows = np.asarray(df.attrs.get("source_rows", np.arange(1, len(df) + 1)))
            raise DataError(f"accuracy {df[name].iloc[i]!r} is outside 0-100 %", file=source, row=int(rows[i]),
                            column=name)
    return v


def scale_arrays(df, x: str | Sequence[str], source) -> dict[str, np.ndarray]:
    """Scale columns by name; a canonical name (``flops``, ``params``, ``tokens``) missing from the table is
    read from the column that holds it under an accepted name, in the unit its header names (ObsScaling's
    ``FLOPs (1E21)``, ``Model Size (B)``); ``flops`` is 6 N D (FLOPs) when the table has params and tokens but
    no flops.

    Raises
    ------
    DataError
        If a column is missing or not numeric.
    """
    from ..data.schema import column_holding

    def count(c: str) -> np.ndarray | None:
        found = (c, 1.0) if c in df.columns else column_holding(df.columns, c)
        # parameters, tokens and FLOPs as the loader reads them: 70M, 300B (a header's unit for plain numbers)
        return None if found is None else column(df, found[0], source, "scale", counts=True, scale=found[1])

    cols = [x] if isinstance(x, str) else list(x)
    out = {}
    for c in cols:
        v = count(c)
        if v is None and c == "flops":
            N, D = count("params"), count("tokens")
            v = None if N is None or D is None else 6.0 * N * D
        out[c] = v if v is not None else column(df, c, source, "scale")  # else: the error naming the columns
    return out


def compute_of(X: Mapping[str, np.ndarray]) -> np.ndarray:
    """Training compute (FLOPs) of scale arrays: ``flops``, else 6 N D, else the one scale given."""
    if "flops" in X:
        return np.asarray(X["flops"], float)
    if "params" in X and "tokens" in X:
        return 6.0 * np.asarray(X["params"], float) * np.asarray(X["tokens"], float)
    return np.asarray(next(iter(X.values())), float)


def quantiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of Monte Carlo ``samples`` ``(S, m)``: ``(lo, hi)``, each ``(m,)``."""
    a = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(samples, [a, 1.0 - a], axis=0)
    return lo, hi


_Q_LEVELS = (0.98, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2, 0.02)


def value_samples(res, X: dict[str, np.ndarray], rng, n: int = N_MC) -> np.ndarray:
    """Monte Carlo samples ``(n, m)`` of a fitted law's value for an ACTUAL run at the points ``X``.

    Drawn by inverse-CDF interpolation of the fit's own prediction intervals (``FitResult.predict`` at
    several levels: parameter uncertainty + run noise + extrapolation reach, as the fit module calibrates
    them), so the two-step interval inherits that calibration."""
    qs, vals = [], []
    for lv in _Q_LEVELS:
        p = res.predict(level=lv, warn=False, **X)
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
        from ..fit._result import _jsonable

        d = {"value": self.value, "interval": list(self.interval), "level": self.level,
             "extrapolation": self.extrapolation, "method": self.method, "warnings": list(self.warnings)}
        if self.task_loss is not None:
            d["task_loss"] = self.task_loss
            d["task_loss_interval"] = list(self.task_loss_interval)
        return _jsonable(d)


def squeeze(a):
    """A float for a one-element array, else the array."""
    a = np.asarray(a, float)
    return float(a.ravel()[0]) if a.size == 1 else a


def warn_reach(reach: np.ndarray, span: float | None = None) -> list[str]:
    """A warning line when a prediction extrapolates more than 100x beyond the largest fitted model, and one
    when it lies below the smallest (``span``: largest / smallest fitted compute; ``reach * span < 1``)."""
    reach = np.asarray(reach, float)
    r = float(np.max(reach))
    out = [f"extrapolates {r:.3g}x beyond the largest fitted model in compute"] if r > 100 else []
    if span is not None and np.isfinite(span):
        low = float(np.min(reach)) * span
        if low < 1:
            out.append(f"lies {1 / low:.3g}x below the smallest fitted model in compute: the curve there is "
                       "extrapolated downwards")
    return out


def warn_pooled(df, source, y: str, x: Sequence[str], stacklevel: int = 3) -> None:
    """A `DataWarning` when a text column splits the table into groups whose ``y`` differ at the same scale
    (a long table's ``benchmark`` column): the fitter's own check (`scalinglab.fit._inputs.split_runs`) with
    the scale columns ``x`` as the point; one curve fitted to all of them describes none."""
    from ..fit._inputs import split_runs

    text, _ = split_runs(df, source, y, key=[c for c in x if c in df.columns] or None)
    if text:
        import warnings

        from .._errors import DataWarning

        warnings.warn(text, DataWarning, stacklevel=stacklevel)
