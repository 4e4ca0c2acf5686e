"""Hyperparameter sweeps in a run table: several runs of one size (N, D) that differ in a hyperparameter.

Published tables often hold a study's whole grid: every (N, D) trained at several learning rates, batch sizes
or Adam betas (the OpenEuroLLM dense ladders: 13 to 28 runs per point, whose final loss differs by up to 5 %).
A scaling law describes the best-tuned run of each size, which is what the large run will be; a law fitted to
every row describes an average over good and bad settings instead, and its noise estimate is the sweep's
spread rather than run-to-run noise. The studies themselves fit the best run of each point (Hoffmann et al.
2022 and Porian et al. 2024 tune the learning rate per size and keep the best).

A column is a hyperparameter when its name says so (``lr``, ``learning_rate``, ``batch_size``, ``gbsz``,
``warmup_steps``, ``weight_decay``, ``beta2``, ``dropout``, ...: `HYPERPARAMETER_WORDS`); it is swept when it
takes several values among runs of one *point*: equal ``params``, ``tokens`` (``flops`` without them),
``unique_tokens``, ``dataset`` and every other tag column, except seeds, steps, run ids and labels (a text
column with a different value in every row, or one named ``sweep``/``job`` (``_id``, ``_name``): the batch a
run was launched in). In a per-checkpoint log (a ``run_id`` column), a column that changes along one run is
its schedule (the learning rate at each step), not a setting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .duplicates import identifying_columns
from .schema import CANONICAL_COLUMNS, COLUMN_ALIASES, HYPERPARAMETER_WORDS, _norm, is_seed_name

__all__ = ["column_name", "hyperparameter_columns", "point_columns", "sweep", "describe_sweep", "best_of", "optima"]

_HP = re.compile(rf"(^|_)({HYPERPARAMETER_WORDS})($|_)")
#: names of the column that labels a sweep or a job: what `best_of` reduces over, not a property of the point
_LABEL = re.compile(r"^(sweep|sweep_id|sweep_name|job|job_id|job_name)$")


def column_name(df: pd.DataFrame, column: str) -> str | None:
    """The table's column named ``column`` or by an accepted alias of it; None when there is none."""
    name = column if column in df.columns else COLUMN_ALIASES.get(_norm(column), column)
    return name if name in df.columns else None


def hyperparameter_columns(df: pd.DataFrame) -> list[str]:
    """Columns named like a training hyperparameter (`HYPERPARAMETER_WORDS`), canonical columns excepted."""
    return [str(c) for c in df.columns if c not in CANONICAL_COLUMNS and _HP.search(_norm(str(c)))]


def scheduled(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The ``columns`` that change along one run of a per-checkpoint log (a ``run_id`` column): a schedule
    (the learning rate at each step), not a setting of the run."""
    if not columns or "run_id" not in df.columns:
        return []
    within = df.groupby("run_id", dropna=False, sort=False, observed=True)[list(columns)].nunique(dropna=False).max()
    return [c for c in columns if within[c] > 1]


def point_columns(df: pd.DataFrame, over: Sequence[str]) -> list[str]:
    """The columns that define one point of the ladder when the ``over`` columns are swept: the identifying
    columns (`identifying_columns`) but ``over``, seeds, ``step``, ``run_id`` and labels (a job name, a sweep id)."""
    n = len(df)
    out = []
    for c in identifying_columns(df):
        if c in over or c in ("run_id", "step") or is_seed_name(c) or _LABEL.match(_norm(c)):
            continue
        s = df[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if c not in CANONICAL_COLUMNS and not numeric and n > 1 and s.nunique(dropna=False) == n:
            continue  # a label of each row (a job name), not a property of the point
        out.append(c)
    return out


def _groups(df: pd.DataFrame, key: list[str]) -> np.ndarray:
    return df.groupby(key, dropna=False, sort=False, observed=True).ngroup().to_numpy()


def sweep(df: pd.DataFrame) -> dict[str, Any]:
    """How a run table sweeps hyperparameters.

    Returns ``{"columns": the hyperparameter columns that vary among runs of one point (empty: no sweep),
    "points": points with more than one run, "runs": runs in them, "point_columns": the columns that define a
    point, "spread": the median over those points of (worst - best) / best loss, "max_spread": its largest
    value}`` (spreads are relative, dimensionless; None without a positive ``loss`` column).
    """
    none = {"columns": [], "points": 0, "runs": 0, "point_columns": [], "spread": None, "max_spread": None}
    named = hyperparameter_columns(df)
    hp = [c for c in named if c not in scheduled(df, named)]
    if not hp or len(df) < 2:
        return none
    key = point_columns(df, hp)
    if not set(key) & {"params", "tokens", "flops"}:
        return none
    g = _groups(df, key)
    sizes = np.bincount(g)
    many = sizes[g] > 1
    if not many.any():
        return none
    sub = df.loc[many, hp].assign(_point=g[many])
    varying = [c for c in hp if bool((sub.groupby("_point")[c].nunique(dropna=False) > 1).any())]
    if not varying:
        return none
    out = {"columns": varying, "points": int((sizes > 1).sum()), "runs": int(many.sum()), "point_columns": key,
           "spread": None, "max_spread": None}
    if "loss" in df.columns:
        loss = pd.to_numeric(df["loss"], errors="coerce").to_numpy(float)
        ok = many & np.isfinite(loss) & (loss > 0)
        if ok.any():
            frame = pd.DataFrame({"g": g[ok], "loss": loss[ok]}).groupby("g")["loss"].agg(["min", "max"])
            rel = (frame["max"] / frame["min"] - 1.0).to_numpy()
            out["spread"], out["max_spread"] = float(np.median(rel)), float(np.max(rel))
    return out


def describe_sweep(info: dict[str, Any]) -> str:
    """One phrase for a `sweep` result with swept columns: what is swept, where, and how much it matters."""
    cols = ", ".join(info["columns"])
    text = (f"{cols} {'vary' if len(info['columns']) > 1 else 'varies'} among the runs of {info['points']} points "
            f"(equal {', '.join(info['point_columns'])}; {info['runs']} runs in all)")
    if info.get("spread") is not None:
        text += (f", whose loss differs by {100 * info['spread']:.2g} % at the median point (up to "
                 f"{100 * info['max_spread']:.2g} %)")
    return text


def best_of(df: pd.DataFrame, over: Sequence[str], *, y: str = "loss") -> np.ndarray:
    """Row indices (positions, in table order) of the best setting of each point: among runs that differ only
    in the ``over`` columns (and in seeds, steps, run ids and labels, see `point_columns`), the setting of
    ``over`` with the lowest mean ``y``, all of its runs kept (replicate seeds stay replicates: the lowest
    single run of several seeds is the luckiest seed, a loss biased low).

    Raises
    ------
    InputError
        If a column of ``over`` (names or accepted aliases) or ``y`` is not in the table, or ``y`` is not numeric.
    """
    cols = []
    for c in over:
        name = column_name(df, c)
        if name is None:
            raise InputError(f"--best-of {c!r}: no such column (columns: {', '.join(map(str, df.columns))})")
        cols.append(name)
    if y not in df.columns:
        raise InputError(f"--best-of: no column {y!r} to take the best run by (columns: "
                         f"{', '.join(map(str, df.columns))})")
    values = pd.to_numeric(df[y], errors="coerce").to_numpy(float)
    if not np.isfinite(values).any():
        raise InputError(f"--best-of: column {y!r} has no numeric value to take the best run by")
    key = point_columns(df, cols)
    if not key:
        return np.arange(len(df))
    g = _groups(df, key)
    setting = _groups(df, key + cols)  # one setting of the swept columns at one point: its seeds are replicates
    v = pd.Series(np.where(np.isfinite(values), values, np.nan))
    mean = v.groupby(setting).transform("mean").fillna(np.inf).to_numpy()
    order = np.lexsort((setting, mean, g))  # by point, then the best setting first
    first = np.ones(len(order), bool)
    first[1:] = g[order][1:] != g[order][:-1]
    best = setting[order[first]]  # each point's best setting
    return np.flatnonzero(np.isin(setting, best))


def optima(df: pd.DataFrame, column: str, *, y: str = "loss") -> pd.DataFrame:
    """The best value of hyperparameter ``column`` at each point of a sweep (the learning rate that trains each
    (N, D) to the lowest ``y``), one row per point with the point's columns and:

    * ``column``: the optimum. When the point's runs at their best value have a neighbour on each side in
      ``column``, it is the vertex of the parabola through those three, in log ``column`` and log ``y``
      (the loss near the optimum is close to quadratic in the log learning rate); else the best value itself;
    * ``y``: the lowest ``y`` of the point;
    * ``"method"``: ``"parabola"``, ``"edge"`` (the best value is the smallest or largest tried: the optimum
      may lie beyond the grid) or ``"single"`` (one value tried).

    Each value's ``y`` is its best over the point's other settings (the other swept columns, seeds), so a
    joint grid of learning rate x batch size gives the learning rate's optimum at the best batch size.

    Raises
    ------
    InputError
        If ``column`` or ``y`` is not a numeric column of the table, or ``column`` is not positive.
    """
    name = column_name(df, column) or column
    for c in (name, y):
        if c not in df.columns or not pd.api.types.is_numeric_dtype(df[c]):
            raise InputError(f"no numeric column {c!r} in the run table (columns: {', '.join(map(str, df.columns))})")
    if not (df[name] > 0).all():
        raise InputError(f"column {name!r} must be positive (a learning rate, a batch size) to find its optimum")
    if scheduled(df, [name]):
        raise InputError(f"column {name!r} changes along a run (a schedule in a per-checkpoint log): give one row per "
                         f"run with its setting (the peak learning rate) to find the best value")
    key = point_columns(df, [name, *sweep(df)["columns"]])
    rows = []
    for point, g in df.groupby(key, dropna=False, sort=True, observed=True):
        prof = g.groupby(name)[y].min().sort_index()  # best y at each value of the column
        x, v = np.log(prof.index.to_numpy(float)), np.log(prof.to_numpy(float))
        i = int(np.argmin(v))
        best, method = float(prof.index[i]), "single" if len(prof) == 1 else "edge"
        if 0 < i < len(prof) - 1:
            method = "parabola"
            xs, vs = x[i - 1:i + 2], v[i - 1:i + 2]
            c2, c1, _ = np.polyfit(xs, vs, 2)
            if c2 > 0:
                best = float(np.exp(np.clip(-c1 / (2 * c2), xs[0], xs[2])))
        # the point as its own values (np.atleast_1d made a point with a text column all text: params '1e8')
        values = point if isinstance(point, tuple) else (point,)
        rows.append({**dict(zip(key, values, strict=True)), name: best, y: float(prof.min()),
                     "method": method})
    return pd.DataFrame(rows)
