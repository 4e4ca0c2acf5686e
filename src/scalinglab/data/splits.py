"""Text columns that split a run table into groups whose losses differ: several ladders in one table.

Published tables stack what a fit must not pool: Open-Athena's extraction of the Llama 3 IsoFLOP curves holds
every point twice, once per ``condition`` (``raw_loss`` about 0.9, ``exp_loss`` about 2.4, a transformed
loss), with one ``dataset``; a study's table may tag its corpora ``corpus`` or ``mix`` rather than
``dataset``, or its two tokenizers ``tokenizer``. Fitted as one ladder, such a table gives a "successful" fit
with 75 % noise and meaningless constants, and nothing said why.

A text column splits the table when runs of equal ``params`` and ``tokens`` (``flops`` without one of them)
but different values of it differ in loss by at least ``SPLIT_RATIO`` at the median such point: seeds differ by
about 1 %, a hyperparameter sweep by a few percent at its median point (`scalinglab.data.sweeps`), so a 10 %
gap is a different quantity, corpus or tokenizer, not noise. Columns the run table already speaks for are
left out: ``dataset`` (its own warning), hyperparameters (a sweep), seeds, run ids, steps, and labels (a
different value in every row). Only columns with 2 to ``MAX_LEVELS`` values are considered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .duplicates import identifying_columns
from .schema import CANONICAL_COLUMNS, _norm, is_seed_name
from .sweeps import _HP, _LABEL

__all__ = ["SPLIT_RATIO", "MAX_LEVELS", "splits", "describe_split", "split_selection"]

#: the median loss ratio between a column's groups at shared points that says they are not one ladder
SPLIT_RATIO = 1.10
#: a column with more values than this is a label or a setting, not a handful of groups
MAX_LEVELS = 20


def _point_key(df: pd.DataFrame) -> list[str] | None:
    for key in (["params", "tokens"], ["params", "flops"], ["tokens", "flops"]):
        if all(c in df.columns for c in key):
            return key + (["unique_tokens"] if "unique_tokens" in df.columns else [])
    return None


def _candidates(df: pd.DataFrame) -> list[str]:
    n = len(df)
    out = []
    for c in identifying_columns(df):
        name = _norm(str(c))
        if c in CANONICAL_COLUMNS or _HP.search(name) or is_seed_name(name) or _LABEL.match(name):
            continue
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        k = s.nunique(dropna=True)
        if 2 <= k <= MAX_LEVELS and k < n:
            out.append(str(c))
    return out


def splits(df: pd.DataFrame, y: str = "loss", key: list[str] | None = None) -> list[dict[str, Any]]:
    """The text columns that split the runs into groups with different losses (module docstring), each as
    ``{"column", "levels": {value: rows}, "points": shared points compared, "ratio": median over them of the
    largest / smallest group's median loss, "lowest": the value with the lowest loss at most points}``,
    strongest split first; empty when there is none (or no positive ``y``). ``y``: the column compared
    (``loss``, or a benchmark's accuracy: a long table's ``benchmark`` column splits it too); ``key``: the
    columns of a point (default ``params`` and ``tokens``, or one of them with ``flops``)."""
    key = _point_key(df) if key is None else list(key)
    if key is None or y not in df.columns or len(df) < 2 or not set(key) <= set(df.columns):
        return []
    loss = pd.to_numeric(df[y], errors="coerce")
    ok = loss.notna().to_numpy() & (loss.to_numpy(float) > 0)
    out = []
    for c in (c for c in _candidates(df) if c not in key and c != y):
        frame = df.loc[ok, key + [c]].assign(_loss=np.log(loss[ok].to_numpy(float))).dropna(subset=[c])
        med = frame.groupby(key + [c], dropna=False, observed=True, sort=False)["_loss"].median().reset_index()
        per = med.groupby(key, dropna=False, observed=True, sort=False)["_loss"]
        span = per.agg(["max", "min", "size"])
        many = (span["size"] > 1).to_numpy()
        n_points = int(many.sum())
        if n_points == 0:
            continue
        ratio = float(np.exp(np.median((span["max"] - span["min"]).to_numpy(float)[many])))
        if ratio < SPLIT_RATIO:
            continue
        shared = per.transform("size").to_numpy() > 1
        best = med[shared].loc[lambda m: m.groupby(key, dropna=False, observed=True)["_loss"].transform("min")
                               == m["_loss"], c]
        out.append({"column": c, "levels": {str(k): int(v) for k, v in df[c].value_counts(dropna=True).items()},
                    "points": n_points, "ratio": ratio,
                    "lowest": str(best.mode().iloc[0]) if len(best) else None})
    return sorted(out, key=lambda d: -d["ratio"])


def describe_split(found: list[dict[str, Any]]) -> str:
    """One phrase for a non-empty `splits` result: the strongest column, its groups, how far apart their
    losses are, and the other columns that split the runs too."""
    info = found[0]
    levels = ", ".join(f"{k} ({v} runs)" for k, v in list(info["levels"].items())[:6])
    more = ", ..." if len(info["levels"]) > 6 else ""
    others = [d["column"] for d in found[1:]]
    return (f"column {info['column']!r} splits the runs into {len(info['levels'])} groups ({levels}{more}) whose "
            f"losses at the same size differ {info['ratio']:.3g}x at the median of {info['points']} shared points: "
            "different quantities, corpora or tokenizers, not one ladder"
            + (f" (so does {', '.join(map(repr, others))})" if others else ""))


def split_selection(found: list[dict[str, Any]]) -> str:
    """``COLUMN=VALUE`` that keeps one group of the strongest split (the lowest-loss one) for ``--where``."""
    info = found[0]
    return f"{info['column']}={info['lowest'] or next(iter(info['levels']))}"
