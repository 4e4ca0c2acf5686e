"""`RunTable`: a validated, immutable table of runs in canonical columns."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._errors import InputError
from .duplicates import configuration_columns
from .problems import _error
from .schema import _META_KEY, DEFAULT_LOSS_UNIT, is_seed_name
from .writers import _atomic_write

__all__ = ["RunTable", "dataset_counts", "repetition", "describe_repetition", "REPEAT_EPOCHS", "count_slips",
           "allocation", "describe_allocation"]

#: a ``--where`` condition: column, operator, value(s)
_CONDITION = re.compile(r"^\s*([^<>=!]+?)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*$")
_COMPARE = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less}


def dataset_counts(df) -> dict[str, int]:
    """Runs per value of the ``dataset`` column, most runs first (empty without the column; blanks skipped)."""
    if df is None or "dataset" not in getattr(df, "columns", ()):
        return {}
    return {str(k): int(v) for k, v in df["dataset"].dropna().astype(str).value_counts().items()}


#: passes over the unique data (tokens / unique tokens) up to which a repeated token is worth about a new one
#: (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models": up to about 4 epochs)
REPEAT_EPOCHS = 4.0


def repetition(df) -> dict[str, Any]:
    """How the runs repeat their unique data: ``runs`` (rows with positive, finite ``tokens`` and
    ``unique_tokens``), ``repeated`` (those trained for more than ``epochs_threshold`` = `REPEAT_EPOCHS` passes
    over it) and ``max_epochs`` (tokens / unique tokens, None without such rows)."""
    out: dict[str, Any] = {"runs": 0, "repeated": 0, "max_epochs": None, "epochs_threshold": REPEAT_EPOCHS}
    if df is None or not {"tokens", "unique_tokens"} <= set(getattr(df, "columns", ())):
        return out
    with np.errstate(all="ignore"):
        epochs = pd.to_numeric(df["tokens"], errors="coerce").to_numpy(float) / pd.to_numeric(
            df["unique_tokens"], errors="coerce").to_numpy(float)
    epochs = epochs[np.isfinite(epochs) & (epochs > 0)]
    if epochs.size:
        out.update(runs=int(epochs.size), repeated=int(np.sum(epochs > REPEAT_EPOCHS)),
                   max_epochs=float(np.max(epochs)))
    return out


def describe_repetition(info: dict[str, Any]) -> str:
    """One phrase for a `repetition` result with repeated runs."""
    return (f"{info['repeated']} of {info['runs']} runs with unique_tokens repeat their data more than "
            f"{info['epochs_threshold']:g} times (up to {info['max_epochs']:,.0f} epochs)")


#: tokens per parameter that a whole table of real runs lies beyond only by a unit slip: below 0.1 in every
#: run (a checkpoint log's first steps may be, its last ones are not), above 1e5 in every run (the smallest
#: models of over-training studies reach ~1e4)
PLAUSIBLE_TOKENS_PER_PARAM = (0.1, 1e5)
#: every model under this many parameters, or every run under `MIN_TOKENS` tokens: counts written in
#: thousands, millions or billions
MIN_PARAMS = 1e4
MIN_TOKENS = 1e6
#: tokens per parameter spanning less than this factor over the runs: one allocation, N and D moving together
SINGLE_ALLOCATION_SPAN = 1.5


def _positive(df, column: str) -> np.ndarray | None:
    if df is None or column not in getattr(df, "columns", ()):
        return None
    v = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)


def count_slips(df) -> list[str]:
    """Phrases for counts that look written in another unit than their column's (empty when none): tokens per
    parameter beyond `PLAUSIBLE_TOKENS_PER_PARAM` in every run; in a table without both counts, every model
    under `MIN_PARAMS` parameters or every run under `MIN_TOKENS` tokens (with both, a plausible ratio says a
    small ladder is small: a CPU ladder of 8k-34k parameters on 40k-680k tokens). A header that names the
    unit (``Params (M)``, ``Tokens (B)``) reads the numbers in it."""
    out = []
    ratio = allocation(df)  # tokens per parameter over the runs
    # the sizes alone only without a ratio to tell (read here, after `allocation`'s own read of both counts)
    N, D = (None, None) if ratio["runs"] else (_positive(df, "params"), _positive(df, "tokens"))
    if N is not None and np.isfinite(N).any() and np.nanmax(N) < MIN_PARAMS:
        out.append(f"every model has fewer than {MIN_PARAMS:,.0f} parameters (at most {np.nanmax(N):,.4g}): "
                   "parameters in millions or billions? A header such as 'Params (M)' reads its numbers in "
                   "millions")
    if D is not None and np.isfinite(D).any() and np.nanmax(D) < MIN_TOKENS:
        out.append(f"every run saw fewer than {MIN_TOKENS:,.0f} tokens (at most {np.nanmax(D):,.4g}): tokens in "
                   "billions? A header such as 'Tokens (B)' reads its numbers in billions")
    lo, hi = PLAUSIBLE_TOKENS_PER_PARAM
    if ratio["runs"] and ratio["max"] < lo:
        out.append(f"every run saw fewer than {lo:g} tokens per parameter (at most {ratio['max']:.3g}): tokens in "
                   "billions, or parameters in units smaller than the tokens'? A header such as 'Tokens (B)' "
                   "reads its numbers in billions")
    elif ratio["runs"] and ratio["min"] > hi:
        out.append(f"every run saw more than {hi:,.0f} tokens per parameter (at least {ratio['min']:,.4g}): "
                   "parameters in millions? A header such as 'Params (M)' reads its numbers in millions")
    out += _lone_ratios(df)
    return out


#: decades of tokens per parameter between a run and every other run that make it a lone slip (a count in
#: another unit: 350000000 under 'Params (M)', 7 tokens meant as 7B), not the spread of a ladder or a curve
LONE_RATIO_GAP = 2.0


def _lone_ratios(df) -> list[str]:
    """A phrase for each run whose tokens per parameter lies `LONE_RATIO_GAP` decades or more beyond every
    other run's, at either end (at least 5 runs; a loss curve's checkpoints spread evenly and never do)."""
    N, D = _positive(df, "params"), _positive(df, "tokens")
    if N is None or D is None:
        return []
    with np.errstate(all="ignore"):
        lr = np.log10(D / N)
    ok = np.flatnonzero(np.isfinite(lr))
    if ok.size < 5:
        return []
    order = ok[np.argsort(lr[ok])]
    out = []
    for i, j in ((order[0], order[1]), (order[-1], order[-2])):  # the lowest and the highest run
        if abs(lr[i] - lr[j]) >= LONE_RATIO_GAP:
            side = "below" if lr[i] < lr[j] else "above"
            out.append(f"one run (params {N[i]:.4g}, tokens {D[i]:.4g}: {10 ** lr[i]:.3g} tokens per parameter) lies "
                       f"{10 ** abs(lr[i] - lr[j]):,.0f}x {side} every other run's ratio: a count written in another "
                       "unit (a raw count under 'Params (M)', tokens meant in billions)?")
    return out


def allocation(df) -> dict[str, Any]:
    """Tokens per parameter over the runs: ``runs`` (rows with positive, finite ``params`` and ``tokens``),
    ``min``, ``max`` (None without such rows) and ``single`` (at least 4 runs whose ratios span less than
    `SINGLE_ALLOCATION_SPAN`: model size and tokens grew together, so a law in N and D cannot tell their
    effects apart)."""
    N, D = _positive(df, "params"), _positive(df, "tokens")
    out: dict[str, Any] = {"runs": 0, "min": None, "max": None, "single": False}
    if N is None or D is None:
        return out
    with np.errstate(all="ignore"):
        ratio = D / N
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size:
        out.update(runs=int(ratio.size), min=float(ratio.min()), max=float(ratio.max()),
                   single=bool(ratio.size >= 4 and ratio.max() < SINGLE_ALLOCATION_SPAN * ratio.min()))
    return out


def replicates(df) -> dict[str, Any]:
    """`RunTable.replicates` of a canonical DataFrame ``df``."""
    cfg = [c for c in configuration_columns({c: df[c] for c in df.columns}) if not is_seed_name(c)]
    if len(set(cfg) & {"params", "tokens", "flops"}) < 2 or len(df) < 2:  # one count alone does not fix a
        # run: rows of one compute are an IsoFLOP set or seeds, of one size several token budgets
        return {"groups": 0, "rows": 0, "columns": cfg, "log_loss_sd": None, "identical": 0}
    group = df.groupby(cfg, dropna=False, sort=False, observed=True).ngroup().to_numpy()
    sizes = np.bincount(group)
    many = sizes > 1
    sd, identical = None, 0
    if many.any() and "loss" in df.columns:
        loss = df["loss"].to_numpy(dtype=float)
        rep = many[group] & (loss > 0)
        if rep.any():
            g, y = group[rep], np.log(loss[rep])
            k = np.bincount(g, minlength=len(sizes))
            mean = np.bincount(g, weights=y, minlength=len(sizes))[g] / k[g]
            dof = int(rep.sum()) - int(np.count_nonzero(k))
            if dof > 0:
                sd = float(np.sqrt(np.sum((y - mean) ** 2) / dof))
            hi = np.full(len(sizes), -np.inf)
            lo = np.full(len(sizes), np.inf)
            np.maximum.at(hi, g, y)
            np.minimum.at(lo, g, y)
            identical = int(np.sum((k > 1) & (hi - lo <= 1e-12)))
    return {"groups": int(many.sum()), "rows": int(sizes[many].sum()), "columns": cfg, "log_loss_sd": sd,
            "identical": identical}


def describe_allocation(info: dict[str, Any]) -> str:
    """One phrase for an `allocation` result with a single allocation."""
    span = (f"about {info['min']:.3g}" if info["max"] < 1.01 * info["min"] else
            f"{info['min']:.3g}-{info['max']:.3g}")
    return (f"every one of the {info['runs']} runs was trained on {span} tokens per parameter: model size and "
            "tokens grew together, so the runs cannot tell their effects apart")


class RunTable:
    """A validated, immutable table of runs in canonical columns. Build one with :func:`load_runs`.

    Attributes
    ----------
    df : pandas.DataFrame
        A copy-on-write view: canonical columns first (``params``, ``tokens``, ``flops``, ``loss``, ...),
        then the source's other columns.
    source : str
        The file (or ``<DataFrame>``) the runs came from.
    flops_convention : str or None
        How ``flops`` counts FLOPs: ``"6ND"`` when derived or when the table's own FLOPs are 6·N·D (within 2 %),
        ``"as given (C = 6.3ND median)"`` when it gives all three and its FLOPs follow another count; None when
        there is no ``flops`` column.
    derived : frozenset[str]
        Columns computed rather than read (``{"flops"}`` when C = 6·N·D was derived).
    column_map : dict[str, str]
        Source column name → canonical name, for the columns that were renamed.
    source_rows : numpy.ndarray
        The 1-based source row of each row (row 1 = first line after the header).
    loss_unit : str or None
        The unit of ``loss``: ``"nats/token"`` unless the source said otherwise (a ``val_bpb`` column read as
        the loss: ``"bits/byte"``; ``load_runs(..., loss_unit=)``); None when there is no ``loss`` column.
    """

    __slots__ = ("_df", "source", "flops_convention", "derived", "column_map", "source_rows", "loss_unit",
                 "_frozen")

    def __init__(self, df: pd.DataFrame, *, source: str = "<table>", flops_convention: str | None = None,
                 derived: frozenset[str] = frozenset(), column_map: Mapping[str, str] | None = None,
                 source_rows: np.ndarray | None = None, loss_unit: str | None = None):
        set_ = object.__setattr__
        set_(self, "_df", df)
        set_(self, "source", source)
        set_(self, "flops_convention", flops_convention)
        set_(self, "derived", frozenset(derived))
        set_(self, "column_map", dict(column_map or {}))
        rows = np.arange(1, len(df) + 1, dtype=np.int64) if source_rows is None else np.asarray(source_rows)
        rows.flags.writeable = False
        set_(self, "source_rows", rows)
        set_(self, "loss_unit", loss_unit if loss_unit is not None or "loss" not in df.columns
             else DEFAULT_LOSS_UNIT)
        set_(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RunTable is immutable; cannot set {name!r} (use filter/subset to make a new one)")

    def _with(self, **changes: Any) -> RunTable:
        kw = dict(source=self.source, flops_convention=self.flops_convention, derived=self.derived,
                  column_map=self.column_map, source_rows=self.source_rows, loss_unit=self.loss_unit)
        df = changes.pop("df", self._df)
        kw.update(changes)
        kw["derived"] = frozenset(kw["derived"]) & frozenset(df.columns)
        return RunTable(df, **kw)

    # ---- access ------------------------------------------------------------------------------------
    @property
    def df(self) -> pd.DataFrame:
        """The runs as a pandas DataFrame (a cheap copy: changing it does not change the RunTable)."""
        return self._df.copy(deep=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names of the table, canonical ones (``params``, ``tokens``, ``flops``, ``loss``, ...) included."""
        return tuple(str(c) for c in self._df.columns)

    def __len__(self) -> int:
        return len(self._df)

    def __contains__(self, column: object) -> bool:
        return column in self._df.columns

    def arrays(self, *cols: str) -> tuple[np.ndarray, ...]:
        """Read-only numpy arrays of ``cols`` (canonical names, or the source's names for renamed columns).

        >>> N, D, L = runs.arrays("params", "tokens", "loss")  # doctest: +SKIP
        """
        result = []
        for c in cols:
            name = c if c in self._df.columns else self.column_map.get(c, c)
            if name not in self._df.columns:
                raise _error(f"no column {c!r} in the run table (columns: {', '.join(self.columns)})",
                             self.source, column=c)
            arr = self._df[name].to_numpy().view()
            arr.flags.writeable = False  # a read-only view: the table's data cannot be changed through it
            result.append(arr)
        return tuple(result)

    # ---- subsets -----------------------------------------------------------------------------------
    def subset(self, mask: Any) -> RunTable:
        """A new RunTable with the rows where ``mask`` (boolean array of length ``len(self)``) is true.

        Raises
        ------
        InputError
            If ``mask`` is not a boolean array of length ``len(self)``.
        """
        m = np.asarray(mask.to_numpy() if isinstance(mask, pd.Series) else mask)
        if m.dtype != bool or m.shape != (len(self),):
            raise InputError(f"subset: mask must be a boolean array of length {len(self)}, got "
                             f"{m.dtype} with shape {m.shape}")
        idx = np.flatnonzero(m)
        return self._with(df=self._df.iloc[idx].reset_index(drop=True), source_rows=self.source_rows[idx])

    def filter(self, mask: Any = None, /, **conditions: Any) -> RunTable:
        """Rows matching every condition: ``column=value`` (equality), ``column=[a, b]`` (membership),
        ``column=(lo, hi)`` (inclusive range; None leaves a side open), ``column=callable`` (returns a
        boolean mask for the column), plus an optional positional boolean mask.

        >>> runs.filter(dataset="c4", params=(1e8, None))  # doctest: +SKIP

        Raises
        ------
        InputError
            If a condition names a column the table does not have.
        """
        m = np.ones(len(self), bool) if mask is None else np.asarray(mask, dtype=bool)
        for col, cond in conditions.items():
            if col not in self._df.columns:
                raise InputError(f"filter: no column {col!r} (columns: {', '.join(self.columns)})")
            s = self._df[col]
            if callable(cond):
                part = np.asarray(cond(s), dtype=bool)
            elif isinstance(cond, tuple) and len(cond) == 2:
                lo, hi = cond
                part = np.ones(len(s), bool)
                if lo is not None:
                    part &= (s >= lo).to_numpy(bool)
                if hi is not None:
                    part &= (s <= hi).to_numpy(bool)
            elif isinstance(cond, list | set | frozenset | np.ndarray | pd.Series):
                part = s.isin(list(cond)).to_numpy(bool)
            else:
                part = (s == cond).to_numpy(bool)
            m = m & part
        return self.subset(m)

    def where(self, *conditions: str) -> RunTable:
        """Rows matching every condition written as text, as the CLI's ``--where`` takes them:
        ``col=value`` (``col=a,b``: any of them), ``col!=value``, ``col>=value``, ``col<=value``, ``col>value``
        or ``col<value``. Columns are named as in the table or by an accepted alias (``N`` for ``params``);
        values of numeric columns accept unit strings (``params>=100M``, ``tokens<1.4T``).

        >>> runs.where("dataset=c4", "N>=100M")  # doctest: +SKIP

        Raises
        ------
        InputError
            If a condition cannot be parsed, names a column the table does not have, gives a numeric column
            a value that is not a number, or no run matches them all (the message lists the values found).
        """
        out, cols = self, []
        for text in conditions:
            col, test = self._condition(str(text))
            cols.append(col)
            out = out.filter(**{col: test})  # one condition at a time: a column may carry several
        if conditions and len(out) == 0:
            found = []
            for col in dict.fromkeys(cols):
                vals = pd.unique(self._df[col].astype(str))
                found.append(f"{col}: " + ", ".join(map(str, vals[:8])) + (", ..." if len(vals) > 8 else ""))
            raise InputError(f"where {' '.join(map(str, conditions))}: no run in {self.source} matches "
                             f"(values found: {'; '.join(found)})")
        return out

    def _condition(self, text: str) -> tuple[str, Any]:
        """``(column, test)`` of one `where` condition: the canonical column it names and a function of that
        column's Series returning the boolean mask, as `filter` takes it."""
        from ..units import parse_quantity
        from .schema import COLUMN_ALIASES, _norm

        m = _CONDITION.match(text)
        if m is None:
            raise InputError(f"where {text!r}: expected COLUMN=VALUE (or !=, >=, <=, >, <), e.g. dataset=c4 "
                             f"or params>=100M")
        name, op, raw = m.group(1).strip(), m.group(2), m.group(3).strip()
        col = name if name in self._df.columns else COLUMN_ALIASES.get(_norm(name), name)
        if col not in self._df.columns:
            raise InputError(f"where {text!r}: no column {name!r} in {self.source} "
                             f"(columns: {', '.join(self.columns)})")
        s = self._df[col]
        values = [v.strip() for v in raw.split(",")] if op in ("=", "!=") else [raw]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = [parse_quantity(v, what=f"where {text!r}") for v in values]

            def hit(col_values: pd.Series) -> np.ndarray:
                x = col_values.to_numpy(float)
                if op in ("=", "!="):
                    return np.any([np.isclose(x, v, rtol=1e-9, atol=0.0) for v in vals], axis=0)
                return _COMPARE[op](x, vals[0])
        else:
            if op not in ("=", "!="):
                raise InputError(f"where {text!r}: column {col!r} is not numeric; compare it with = or !=")

            def hit(col_values: pd.Series) -> np.ndarray:
                return col_values.astype(str).isin(values).to_numpy(bool)

        return col, (lambda col_values: ~hit(col_values)) if op == "!=" else hit

    # ---- description -------------------------------------------------------------------------------
    def ranges(self) -> dict[str, tuple[float, float]]:
        """(min, max) of every numeric column."""
        out = {}
        for c in self._df.columns:
            s = self._df[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and len(s):
                lo, hi = s.min(), s.max()
                out[str(c)] = (float(lo), float(hi))
        return out

    def replicates(self) -> dict[str, Any]:
        """Replicate runs: groups of two or more rows with the same configuration (every identifying column
        but ``run_id`` and a seed column equal, see :func:`configuration_columns`), such as several seeds of one
        (N, D), with or without a ``seed`` column. They are kept (a fit uses every row, and their spread is a
        direct estimate of the noise).

        A configuration needs two of params, tokens and flops: rows that share one of them alone (a compute
        budget: an IsoFLOP set or seeds, the table cannot tell) are not counted.

        Returns ``{"groups": number of such groups, "rows": rows in them, "columns": the configuration
        columns compared, "log_loss_sd": the pooled within-group standard deviation of ln(loss)`` (the
        relative run-to-run noise, dimensionless; None without replicates or a positive ``loss`` column)``,
        "identical": groups whose losses are all equal}`` (copies, not replicates: a seed that was not applied).
        """
        return replicates(self._df)

    def sweep(self) -> dict[str, Any]:
        """The hyperparameter sweep the table holds, if any: hyperparameter columns (``lr``, ``batch_size``,
        ``gbsz``, ``beta2``, ...) that take several values among runs of one point (N, D). See
        `scalinglab.data.sweeps.sweep` for the keys (``columns`` is empty without a sweep)."""
        from .sweeps import sweep

        return sweep(self._df)

    def best_of(self, *columns: str, y: str = "loss") -> RunTable:
        """The best run (lowest ``y``) of each point among runs that differ only in the hyperparameter
        ``columns`` (and in seeds, steps and row labels): the tuned frontier a scaling law describes, as the
        studies that publish such grids fit it. With no ``columns``, the swept ones :meth:`sweep` finds (the
        table itself when there are none). Source rows are kept, so errors still name the file's rows.

        >>> runs.best_of("lr", "batch_size")  # doctest: +SKIP

        Raises
        ------
        InputError
            If a column is not in the table, or ``y`` is missing or not numeric.
        """
        from .sweeps import best_of

        cols = list(columns) or self.sweep()["columns"]
        if not cols:
            return self
        idx = best_of(self._df, cols, y=y)
        mask = np.zeros(len(self), bool)
        mask[idx] = True
        return self.subset(mask)

    def checkpoints(self) -> dict[str, Any]:
        """Whether the table logs runs at several checkpoints (a tracker's history export): the runs with more
        than one row and how a run is told apart. See `scalinglab.data.checkpoints.checkpoints` for the keys
        (``runs == 0``: one row per run)."""
        from .checkpoints import checkpoints

        return checkpoints(self._df)

    def splits(self) -> list[dict[str, Any]]:
        """Text columns that split the runs into groups whose losses differ at the same size (a ``condition``
        holding two kinds of loss, a ``corpus`` column): several ladders in one table. See
        `scalinglab.data.splits.splits` for the keys; empty when there is none."""
        from .splits import splits

        return splits(self._df)

    def unfinished(self) -> dict[str, Any]:
        """Runs a tracker's state column marks as not finished (crashed, failed, killed, running...): their
        rows, states and the finished runs' value. See `scalinglab.data.checkpoints.unfinished`."""
        from .checkpoints import unfinished

        return unfinished(self._df)

    def repetition(self) -> dict[str, Any]:
        """How the runs repeat their unique data (``unique_tokens``): runs, those beyond `REPEAT_EPOCHS`
        epochs and the most epochs. See `repetition`."""
        return repetition(self._df)

    def final(self) -> RunTable:
        """The last checkpoint of each run (largest ``step``, else ``tokens``): the point a law of parameters
        and tokens describes when the rows before it were taken part-way through one learning-rate schedule
        (`scalinglab.data.checkpoints`). The table itself when it has one row per run; source rows are kept.

        >>> runs.final()  # doctest: +SKIP
        """
        from .checkpoints import final_rows

        idx = final_rows(self._df)
        if len(idx) == len(self):
            return self
        mask = np.zeros(len(self), bool)
        mask[idx] = True
        return self.subset(mask)

    def summary(self) -> dict[str, Any]:
        """Rows, columns, per-column ranges, derived columns, the FLOP convention, the replicate groups
        (``replicate_groups``, ``replicate_rows``, ``replicate_log_loss_sd``, ``replicate_identical``; see
        :meth:`replicates`) and the
        runs per dataset (``datasets``: `dataset_counts`), the hyperparameter sweep (``sweep``: :meth:`sweep`)
        and the checkpoints logged per run (``checkpoints``: :meth:`checkpoints`), the runs that did not
        finish (``unfinished``: :meth:`unfinished`), the columns that split the runs into several ladders
        (``splits``: :meth:`splits`), the runs that repeat their data (``repetition``: :meth:`repetition`),
        their tokens per parameter (``allocation``: `allocation`) and counts that look written in another unit
        (``unit_slips``: `count_slips`), as plain data."""
        rep = self.replicates()
        return {
            "source": self.source,
            "rows": len(self),
            "columns": list(self.columns),
            "ranges": {k: list(v) for k, v in self.ranges().items()},
            "derived": sorted(self.derived),
            "flops_convention": self.flops_convention,
            "loss_unit": self.loss_unit,
            "column_map": dict(self.column_map),
            "replicate_groups": rep["groups"],
            "replicate_rows": rep["rows"],
            "replicate_log_loss_sd": rep["log_loss_sd"],
            "replicate_identical": rep["identical"],
            "datasets": dataset_counts(self._df),
            "sweep": self.sweep(),
            "checkpoints": self.checkpoints(),
            "unfinished": self.unfinished(),
            "splits": self.splits(),
            "repetition": self.repetition(),
            "allocation": allocation(self._df),
            "unit_slips": count_slips(self._df),
        }

    def hash(self) -> str:
        """A stable SHA-256 of the content (column names, kinds, values in row order, FLOP convention)."""
        h = hashlib.sha256()
        h.update(json.dumps({"columns": list(self.columns), "flops_convention": self.flops_convention},
                            sort_keys=True).encode())
        for c in self._df.columns:
            s = self._df[c]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                kind = "i" if pd.api.types.is_integer_dtype(s) else "f"
                arr = s.to_numpy(dtype="<i8" if kind == "i" else "<f8")
                h.update(kind.encode() + np.ascontiguousarray(arr).tobytes())
            else:  # an empty text cell is a missing one (a CSV reads '' back as null: one hash by every route)
                s = s.astype(object).where(~s.astype(str).eq(""), None) if len(s) else s
                hashed = pd.util.hash_pandas_object(s, index=False).to_numpy()  # same for str/object/category
                h.update(b"s" + hashed.astype("<u8").tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        derived = f", derived={sorted(self.derived)}" if self.derived else ""
        return (f"RunTable(source={self.source!r}, rows={len(self)}, columns={list(self.columns)}, "
                f"flops_convention={self.flops_convention!r}{derived})")

    def _repr_html_(self) -> str:
        derived = f"; derived: {', '.join(sorted(self.derived))}" if self.derived else ""
        head = (f"<p><b>RunTable</b> from <code>{html.escape(str(self.source))}</code>: {len(self)} rows × "
                f"{len(self.columns)} columns; FLOP convention: "
                f"{html.escape(str(self.flops_convention))}{html.escape(derived)}</p>")
        return f"<div class=\"scalinglab-runtable\">{head}{self._df.to_html(max_rows=10, escape=True)}</div>"

    # ---- output ------------------------------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the canonical table as CSV (atomically: a temp file beside ``path``, then rename). A loss in
        another unit than nats/token keeps it in its header (``loss (bits/byte)``), which :func:`load_runs`
        reads back: a CSV has no metadata to carry it."""
        df = self._df
        if self.loss_unit and self.loss_unit != "nats/token" and "loss" in df.columns:
            df = df.rename(columns={"loss": f"loss ({self.loss_unit})"})
        return _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))

    def to_parquet(self, path: str | os.PathLike) -> Path:
        """Write the canonical table as Parquet (atomically), recording the FLOP convention, the loss unit and
        which columns were derived so that :func:`load_runs` restores them."""
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self._df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps({"flops_convention": self.flops_convention, "derived": sorted(self.derived),
                                      "source": self.source, "loss_unit": self.loss_unit}).encode()
        table = table.replace_schema_metadata(meta)
        return _atomic_write(path, lambda tmp: pq.write_table(table, tmp))

    def to_polars(self) -> Any:
        """The runs as a polars DataFrame (imports polars)."""
        import polars as pl

        return pl.from_pandas(self._df)
