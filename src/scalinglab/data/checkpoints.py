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
``run_id`` a ladder that records each run's final ``step`` looks like the log of one run (its runs at one size
share every setting but ``step`` and ``tokens``), so such a table is read as one row per run, unless it also
records each run's planned length (``total_steps``, ``max_steps``, ``num_train_steps``...) and some rows stop
short of it: a row at step 128 of a run planned for 16000 steps is a checkpoint part-way through, whatever else
the table says (the raw table of the "(Mis)fitting" study, Hadash et al. 2025, logs its runs so). A run is then
told by its planned length and its configuration (:func:`scalinglab.data.configuration_columns`: size, tags,
hyperparameters), less the columns that move along a run (``step``, ``tokens``, ``flops``, ``current_epoch``,
``portion_steps_elapsed``...).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .duplicates import configuration_columns
from .schema import _norm, is_seed_name
from .sweeps import _groups

__all__ = ["run_groups", "checkpoints", "describe_checkpoints", "final_rows", "short_of_plan", "unfinished",
           "describe_unfinished", "planned_column", "state_column"]

#: the columns that change along one run (its position), not between runs
_ALONG = ("step", "tokens", "flops")
#: a warmup-stable-decay cooldown branch (the runner's store writes one row per run and branch): a run of its own
_BRANCH = ("branch",)
#: a column holding each run's planned length in optimiser steps (normalised name)
_PLANNED = re.compile(r"^((total|max|num|planned|target|scheduled)_(train_|training_)?(steps|iters|iterations)|"
                      r"(train|training)_(steps|iters)_total|steps_total)$")
#: columns that move along one run (its position in training), so they do not tell runs apart
_POSITION = re.compile(r"(^|_)(current|cur|elapsed|portion|progress|epoch)($|_)")
#: a row is part-way through its run when its step is below this share of the run's planned steps (a final
#: checkpoint logged at step ``total - 1`` under 0-based counting is not part-way)
PART_WAY = 0.99


def run_groups(df: pd.DataFrame) -> tuple[np.ndarray, list[str]] | None:
    """``(group id per row, the columns that identify a run)`` for a per-checkpoint log, else None (one row per
    run: no ``run_id`` and no row short of a planned length, or no run with two rows)."""
    if len(df) < 2:
        return None
    if "run_id" in df.columns:
        key = ["run_id", *[c for c in _BRANCH if c in df.columns],
               *[str(c) for c in df.columns if is_seed_name(str(c))]]  # seeds of one id: replicate runs
    else:
        key = _planned_key(df)
        if key is None:
            return None
    g = _groups(df, key)
    if np.bincount(g).max() < 2:
        return None
    return g, key


def _planned(df: pd.DataFrame) -> tuple[str, np.ndarray] | None:
    """``(the planned-length column, which rows stop short of it)`` when the table has a ``step`` and such a
    column; else None."""
    planned = planned_column(df.columns)
    if planned is None or "step" not in df.columns:
        return None
    step = pd.to_numeric(df["step"], errors="coerce").to_numpy(float)
    total = pd.to_numeric(df[planned], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return planned, step < PART_WAY * total


def planned_column(columns) -> str | None:
    """The first of ``columns`` that holds each run's planned length in optimiser steps (``total_steps``,
    ``max_steps``, ``num_train_steps``...), else None."""
    return next((str(c) for c in columns if _PLANNED.match(_norm(str(c)))), None)


def state_column(columns) -> str | None:
    """The first of ``columns`` that holds a tracker's run state (W&B's ``State``, MLflow's ``status``), else
    None."""
    return next((str(c) for c in columns if _STATE.match(_norm(str(c)))), None)


def short_of_plan(df: pd.DataFrame) -> int:
    """How many rows stop short of their run's planned length (0 when the table records none): after
    `final_rows`, the runs that crashed or have not finished."""
    found = _planned(df)
    return int(found[1].sum()) if found is not None else 0


def _planned_key(df: pd.DataFrame) -> list[str] | None:
    """What tells the runs of a log without a ``run_id`` apart: its planned-length column and configuration,
    when some row's ``step`` stops short of its planned length; else None."""
    found = _planned(df)
    if found is None or not found[1].any():
        return None
    planned = found[0]
    rest = [c for c in configuration_columns(df)
            if c != planned and c not in _ALONG and not _POSITION.search(_norm(c))]
    return [planned, *rest]


def checkpoints(df: pd.DataFrame) -> dict[str, Any]:
    """How a run table logs checkpoints: ``{"runs": runs with more than one row, "rows": their rows,
    "run_columns": what identifies a run, "along": the column that orders a run's rows (step, tokens or
    flops; None when none varies), "short": runs whose last checkpoint stops short of their planned length
    (when the table records one: crashed, stopped or still running, so their last checkpoint is part-way
    through the schedule too)}``; ``runs == 0`` for a table of one row per run."""
    none = {"runs": 0, "rows": 0, "run_columns": [], "along": None, "short": 0}
    found = run_groups(df)
    if found is None:
        return none
    g, key = found
    sizes = np.bincount(g)
    many = sizes[g] > 1
    along = _along(df)
    short = short_of_plan(df.iloc[_last_positions(df, g)])
    return {"runs": int((sizes > 1).sum()), "rows": int(many.sum()), "run_columns": key, "along": along,
            "short": short}


def _along(df: pd.DataFrame) -> str | None:
    for c in _ALONG:
        if c in df.columns and pd.api.types.is_numeric_dtype(df[c]):
            return c
    return None


def describe_checkpoints(info: dict[str, Any]) -> str:
    """One phrase for a `checkpoints` result with several rows per run."""
    by = " and ".join(info["run_columns"])
    text = (f"{info['runs']} run{' is' if info['runs'] == 1 else 's are'} logged at several checkpoints "
            f"({info['rows']} rows; a run told by {by}"
            + (f", its rows by {info['along']})" if info["along"] else ")"))
    if info.get("short"):
        text += (f"; {info['short']} of them stop short of the planned length (crashed or unfinished: the last "
                 "checkpoint is part-way through the schedule too)")
    return text


def final_rows(df: pd.DataFrame) -> np.ndarray:
    """Row positions (table order) of the last checkpoint of each run: its largest ``step`` (else ``tokens``,
    else ``flops``; the later row on a tie). Every row when the table has one row per run."""
    found = run_groups(df)
    if found is None:
        return np.arange(len(df))
    return _last_positions(df, found[0])


def _last_positions(df: pd.DataFrame, g: np.ndarray) -> np.ndarray:
    """Sorted row positions of the last checkpoint of each run ``g`` (group id per row)."""
    along = _along(df)
    pos = np.arange(len(df))
    if along is None:  # nothing orders a run's rows: keep its last row in the table
        last = pd.Series(pos).groupby(g).max().to_numpy()
        return np.sort(last)
    v = pd.to_numeric(df[along], errors="coerce").to_numpy(float)
    frame = pd.DataFrame({"g": g, "v": np.where(np.isfinite(v), v, -np.inf), "pos": pos})
    best = frame.sort_values(["g", "v", "pos"], kind="stable").groupby("g", sort=False)["pos"].last()
    return np.sort(best.to_numpy())


#: a column holding each run's state as a tracker exports it (W&B's ``State``, MLflow's ``status``)
_STATE = re.compile(r"^(state|status|run_state|run_status)$")
#: states of a run that did not reach its end (lower-cased)
UNFINISHED_STATES = frozenset({"crashed", "failed", "killed", "running", "preempted", "cancelled", "canceled",
                               "timeout", "timed_out", "error", "errored", "aborted", "interrupted", "stopped",
                               "pending", "queued", "scheduled", "node_fail", "out_of_memory", "oom"})


def unfinished(df: pd.DataFrame) -> dict[str, Any]:
    """Rows of runs that did not finish, by a tracker's state column (W&B's ``State``: crashed, failed, killed,
    running; MLflow's ``status``: FAILED, KILLED, RUNNING): ``{"column": its name or None, "rows": how many,
    "states": {state: rows}, "finished": the value the finished runs have (for ``--where``) or None}``. Their
    loss is that of a run stopped part-way through its schedule, not a run trained to its tokens."""
    column = state_column(df.columns)
    none = {"column": None, "rows": 0, "states": {}, "finished": None}
    if column is None or pd.api.types.is_numeric_dtype(df[column]):
        return none
    values = df[column].astype(str).str.strip()
    bad = values.str.lower().isin(UNFINISHED_STATES)
    if not bad.any():
        return none
    others = values[~bad].value_counts()
    states = {str(k): int(v) for k, v in values[bad].value_counts().items()}
    runs = None  # a per-checkpoint log repeats a run's state on each of its rows: count the runs too
    if "run_id" in df.columns:
        runs = int(df.loc[bad.to_numpy(), "run_id"].nunique())
    return {"column": column, "rows": int(bad.sum()), "states": states, "runs": runs,
            "finished": str(others.index[0]) if len(others) else None}


def describe_unfinished(info: dict[str, Any]) -> str:
    """One phrase for an `unfinished` result with rows."""
    states = ", ".join(f"{k} {v}" for k, v in info["states"].items())
    rows, runs = info["rows"], info.get("runs")
    who = (f"{runs} run{'s' if runs != 1 else ''} ({rows} rows)" if runs is not None and runs != rows else
           f"{rows} run{'s' if rows != 1 else ''}")
    return (f"{who} did not finish ({info['column']}: {states}{' rows' if runs is not None and runs != rows else ''}):"
            " their loss is that of a run stopped part-way through its schedule")
