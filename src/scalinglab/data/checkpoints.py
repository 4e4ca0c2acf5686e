"""Per-checkpoint logs: a run table with several rows of one training run, at increasing steps.

A tracker's history export (W&B, MLflow) or a study's per-checkpoint table holds the loss of each run at many
steps. A law of parameters and tokens fitted to every row reads the loss part-way through a run as that of a
run trained to that many tokens, but until its learning-rate schedule has decayed (cosine or linear decay to
the end of the run) the loss is higher than a run scheduled to stop there would reach: Hoffmann et al. (2022)
set the cosine cycle to each run's own length for that reason (a longer cycle overestimated the loss at
intermediate steps). So each run's last checkpoint is the point a law of N and D describes, unless the
checkpoints were taken after a cooldown (warmup-stable-decay branches), which are runs of their own.

A run is a ``run_id``, with its ``branch`` when the table has one (the cooldown branches the runner's store
writes are one row each) and its seed (rows of one run id at several seeds are replicate runs). Without a
``run_id`` column the table is read as one row per run: a ladder that records each run's final ``step`` looks
like the log of one run (its runs at one size share every setting but ``step`` and ``tokens``), and a warning
on every such ladder would be wrong more often than right.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .schema import _norm
from .sweeps import _SEED, _groups

__all__ = ["run_groups", "checkpoints", "describe_checkpoints", "final_rows"]

#: the columns that change along one run (its position), not between runs
_ALONG = ("step", "tokens", "flops")
#: a warmup-stable-decay cooldown branch (the runner's store writes one row per run and branch): a run of its own
_BRANCH = ("branch",)


def run_groups(df: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    """``(group id per row, the columns that identify a run)`` for a per-checkpoint log, else None (no
    ``run_id`` column, or one row per run)."""
    if "run_id" not in df.columns or len(df) < 2:
        return None
    key = ["run_id", *[c for c in _BRANCH if c in df.columns],
           *[str(c) for c in df.columns if _SEED.search(_norm(str(c)))]]  # seeds of one run id: replicate runs
    g = _groups(df, key)
    if np.bincount(g).max() < 2:
        return None
    return g, key


def checkpoints(df: pd.DataFrame) -> dict[str, Any]:
    """How a run table logs checkpoints: ``{"runs": runs with more than one row, "rows": their rows,
    "run_columns": what identifies a run, "along": the column that orders a run's rows (step, tokens or
    flops; None when none varies)}``; ``runs == 0`` for a table of one row per run."""
    none = {"runs": 0, "rows": 0, "run_columns": [], "along": None}
    found = run_groups(df)
    if found is None:
        return none
    g, key = found
    sizes = np.bincount(g)
    many = sizes[g] > 1
    along = _along(df)
    return {"runs": int((sizes > 1).sum()), "rows": int(many.sum()), "run_columns": key, "along": along}


def _along(df: pd.DataFrame) -> str | None:
    for c in _ALONG:
        if c in df.columns and pd.api.types.is_numeric_dtype(df[c]):
            return c
    return None


def describe_checkpoints(info: dict[str, Any]) -> str:
    """One phrase for a `checkpoints` result with several rows per run."""
    by = " and ".join(info["run_columns"])
    return (f"{info['runs']} runs are logged at several checkpoints ({info['rows']} rows; a run told by {by}"
            + (f", its rows by {info['along']})" if info["along"] else ")"))


def final_rows(df: pd.DataFrame) -> np.ndarray:
    """Row positions (table order) of the last checkpoint of each run: its largest ``step`` (else ``tokens``,
    else ``flops``; the later row on a tie). Every row when the table has one row per run."""
    found = run_groups(df)
    if found is None:
        return np.arange(len(df))
    g, _ = found
    along = _along(df)
    pos = np.arange(len(df))
    if along is None:  # nothing orders a run's rows: keep its last row in the table
        last = pd.Series(pos).groupby(g).max().to_numpy()
        return np.sort(last)
    v = pd.to_numeric(df[along], errors="coerce").to_numpy(float)
    frame = pd.DataFrame({"g": g, "v": np.where(np.isfinite(v), v, -np.inf), "pos": pos})
    best = frame.sort_values(["g", "v", "pos"], kind="stable").groupby("g", sort=False)["pos"].last()
    return np.sort(best.to_numpy())
