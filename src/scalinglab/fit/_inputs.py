"""The one validation gate of the fitter: turn (runs, law, column choices) into checked arrays.

Runs may be a `RunTable`, a pandas DataFrame, a path (read by ``scalinglab.data.load_runs`` when that
module is present, else pandas) or a mapping of 1-D arrays. Law variables map to run-table columns through
``VARIABLE_COLUMNS`` (N -> params, D -> tokens, C -> flops, ...), or to the column named by ``x`` for
one-variable laws. Inputs are never modified.
"""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .._errors import DataError, DataWarning, FitError, InputError, LawError
from ..laws import VARIABLE_COLUMNS, Law, get_law, get_preset, law_from_spec

logger = logging.getLogger(__name__)

__all__ = ["FitData", "prepare_data", "pooled_datasets", "swept_runs", "repeated_runs", "warn_table", "resolve_law",
           "load_table", "table_hash", "frame_hash"]


@dataclass(frozen=True)
class FitData:
    """Checked arrays for one fit: ``X`` (law variable -> array ``(n_runs,)``), ``y`` ``(n_runs,)`` (the fitted
    column, e.g. loss in nats/token), optional ``weights`` ``(n_runs,)``, ``variables`` (law variable -> column
    used), ``y_column``, ``source`` (file name), ``conventions`` (parameter / FLOP convention of the table) and
    ``frame`` (the DataFrame the arrays came from).
    """
    X: dict[str, np.ndarray]
    y: np.ndarray
    weights: np.ndarray | None
    variables: dict[str, str]         # law variable -> column
    y_column: str
    source: str | None
    conventions: dict = field(default_factory=dict)
    frame: object = None              # the (filtered) DataFrame the arrays came from, for backtests
    table_flops_convention: str | None = None  # the run table's own FLOP convention (for its hash)
    n_copies: int = 0                 # rows identical in every fitted value to an earlier one, counted once

    @property
    def n(self) -> int:
        """Number of runs (rows) in the fit."""
        return len(self.y)

    def data_hash(self) -> str:
        """The run table's content hash, `scalinglab.data.RunTable.hash` (SHA-256 of column names, values in
        row order and FLOP convention; 64 hex digits): the same string as ``scalinglab validate --json``'s
        ``hash`` and the report's data hash for the same table. Over the fitted arrays when no table is
        known."""
        if self.frame is not None:
            return frame_hash(self.frame, self.table_flops_convention)
        h = hashlib.sha256()
        for k in sorted(self.X):
            h.update(k.encode())
            h.update(np.ascontiguousarray(self.X[k], dtype=float).tobytes())
        h.update(np.ascontiguousarray(self.y, dtype=float).tobytes())
        return h.hexdigest()


def load_table(data):
    """The `scalinglab.data.RunTable` of any accepted run input: a RunTable as it is, a path or frame through
    `scalinglab.data.load_runs`, a mapping of numeric arrays as they are (``source`` None).

    Raises
    ------
    InputError
        If a path does not exist, array input has non-numeric columns or columns of different lengths, or
        ``data`` is of an unsupported type.
    DataError
        If the file cannot be parsed as a run table (from `scalinglab.data.load_runs`).
    """
    import pandas as pd

    from ..data import RunTable, load_runs
    from ..data.schema import given_convention

    if isinstance(data, RunTable):
        return data
    if isinstance(data, Mapping):
        try:
            cols = {str(k): np.ravel(np.asarray(v, dtype=float)) for k, v in data.items()}
        except (TypeError, ValueError) as exc:
            raise InputError(f"array input: every column must be numeric ({exc})") from None
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise InputError(f"array input: columns have different lengths {sorted(lengths)}")
        conv = given_convention(cols["params"], cols["tokens"], cols["flops"]) if {
            "params", "tokens", "flops"} <= set(cols) else None  # arrays that give their own FLOPs: their count
        return RunTable(pd.DataFrame(cols), source=None, flops_convention=conv)
    return load_runs(data, required=(), positive_loss=False)


def frame_hash(df, flops_convention: str | None = None) -> str:
    """`scalinglab.data.RunTable.hash` of a DataFrame of runs with FLOP convention ``flops_convention``
    (SHA-256, 64 hex digits): the one data hash of scalinglab."""
    from ..data import RunTable

    return RunTable(df, flops_convention=flops_convention).hash()


def table_hash(data) -> str:
    """The data hash a fit of ``data`` (any input `fit` accepts) records in ``conventions["data_hash"]``:
    the run table read as the fit reads it, hashed by `frame_hash`. The report shows the same string.

    Raises
    ------
    InputError
        If ``data`` cannot be read as runs (see `load_table`); its subclass `DataError` for a file that
        cannot be parsed as a run table.
    """
    rt = load_table(data)
    return frame_hash(rt.df, rt.flops_convention)


#: the law name that stands for the forecast stack ``scalinglab fit`` uses by default (``_lawstack``)
AUTO_LAW = "auto"


def is_auto_law(law) -> bool:
    """True when ``law`` names the forecast stack (``"auto"``) rather than one law."""
    return isinstance(law, str) and law.strip().lower() == AUTO_LAW


def resolve_law(law, x: str | None = None) -> tuple[Law, dict | None]:
    """``(Law, preset_values_or_None)`` from a Law, catalog name, preset name or expression.

    With ``x`` and a one-variable law whose spec has a ``variable`` option, the law is rebuilt on that
    variable name (``--law power --x examples`` fits ``E + A*examples**(-alpha)``).

    Raises
    ------
    InputError
        If ``law`` is not a `Law`, a catalog/preset name or an expression.
    LawError
        If a name or expression does not give a valid law.
    """
    preset_values = None
    if isinstance(law, Law):
        obj = law
    elif isinstance(law, str):
        if is_auto_law(law):  # the CLI's default; in Python it returns the choice beside the fit
            raise LawError("law 'auto' chooses the law by backtests, as `scalinglab fit` does by default: call "
                           "scalinglab.fit.fit_auto(data), which returns (FitResult, choice); fit() takes one law")
        try:
            obj, preset = get_preset(law)
            preset_values = dict(preset.values)
        except (KeyError, LookupError, ValueError):
            obj = get_law(law)
    else:
        raise InputError(f"law must be a Law, a catalog/preset name or an expression, got {type(law).__name__}")
    if x is not None and len(obj.variables) == 1 and obj.variables[0] != x:
        spec = obj.spec()
        if "variable" in spec and x.isidentifier():
            obj = law_from_spec({**spec, "variable": x})
    return obj, preset_values


def _column_for(var: str, columns, x: str | None, law: Law, column_map: Mapping[str, str] | None = None) -> str | None:
    """The column law variable ``var`` is read from: ``x`` for a one-variable law, else the variable's name or
    its canonical column (D -> tokens); a name as the file spells it that the table reads under a canonical
    name (a column ``d`` read as ``tokens``) is found through ``column_map`` (source name -> canonical)."""
    cmap = column_map or {}
    if x is not None and len(law.variables) == 1:
        return x if x in columns else (cmap[x] if cmap.get(x) in columns else None)
    for c in (var, VARIABLE_COLUMNS.get(var)):
        if c is not None and c in columns:
            return c
    return cmap[var] if cmap.get(var) in columns else None


def pooled_datasets(df, source: str | None) -> str | None:
    """The `DataWarning` text when the table's ``dataset`` column holds several datasets (else None): one law
    fitted to runs on different corpora describes none of them (their losses differ by the corpus's entropy
    and quality), and nothing else in the fit says so. It names them and the selection that fits one."""
    from ..data import dataset_counts

    counts = dataset_counts(df)
    if len(counts) < 2:
        return None
    listed = ", ".join(f"{k} ({v} runs)" for k, v in list(counts.items())[:6]) + (", ..." if len(counts) > 6 else "")
    first = next(iter(counts))
    return (f"{source or 'the run table'}: column 'dataset' holds {len(counts)} datasets: {listed}; one law is "
            f"fitted to all of them as if they were one corpus. To fit one: --where dataset={first} (CLI) or "
            f"load_runs(...).where('dataset={first}')")


def split_runs(df, source: str | None, y: str = "loss", key: list[str] | None = None) -> tuple[str | None, list[str]]:
    """The `DataWarning` text when a text column splits the runs into groups whose losses differ at the same
    size (`scalinglab.data.splits`: two kinds of loss, corpora or tokenizers in one table), else None, and
    those columns: one law fitted to all of them describes none. It names the selection that fits one."""
    from ..data.splits import describe_split, split_selection, splits

    found = splits(df, y, key=key)  # key: the columns of a point (default params and tokens)
    if not found:
        return None, []
    keep = split_selection(found)
    return (f"{source or 'the run table'}: {describe_split(found)}; one law is fitted to all of them. To fit one: "
            f"--where {keep} (CLI) or load_runs(...).where({keep!r})"), [d["column"] for d in found]


def swept_runs(df, source: str | None) -> tuple[str | None, list[str]]:
    """The `DataWarning` text when the table holds a hyperparameter sweep (several runs of one (N, D) that
    differ in ``lr``, ``batch_size``, ...: `scalinglab.data.sweeps`), else None, and the swept columns: a law
    fitted to every run describes an average over good and bad settings, not the tuned model the forecast is
    for. It names the columns and the selection that keeps the best run of each point."""
    from ..data.sweeps import describe_sweep, sweep

    info = sweep(df)
    if not info["columns"]:
        return None, []
    cols = info["columns"]
    args = ", ".join(map(repr, cols))
    return (f"{source or 'the run table'}: {describe_sweep(info)}; one law is fitted to every run, an average over "
            f"the settings rather than the best-tuned model of each size. To fit the best run of each point: "
            f"--best-of {','.join(cols)} (CLI) or load_runs(...).best_of({args})"), cols


def logged_checkpoints(df, source: str | None) -> tuple[str | None, list[str]]:
    """A warning text when the table logs runs at several checkpoints (`scalinglab.data.checkpoints`), with the
    columns that make it one (``run_id``, ``step``); ``(None, [])`` for one row per run. A law of N and D fitted
    to checkpoints taken part-way through a learning-rate schedule reads them as runs trained to that many
    tokens, whose loss they overestimate."""
    from ..data.checkpoints import checkpoints, describe_checkpoints

    info = checkpoints(df)
    if not info["runs"]:
        return None, []
    return (f"{source or 'the run table'}: {describe_checkpoints(info)}; one law of parameters and tokens is "
            "fitted to every row, reading a checkpoint taken before the learning-rate schedule has decayed as a "
            "run trained to that many tokens, whose loss it overestimates (unless the checkpoints follow a "
            "cooldown). To fit the last checkpoint of each run: --last-checkpoint (CLI) or "
            "load_runs(...).final()"), [c for c in ("run_id", "step") if c in df.columns]


#: variables that place a row along one run (Kaplan's steps S, the schedule areas S1/S2 of ``lr-annealing``):
#: laws in them are fitted to every checkpoint of a loss curve by design
_ALONG_RUN = frozenset({"S", "S1", "S2"})


def _variables_of(law) -> frozenset[str] | None:
    """The variables of ``law`` (a `Law` or a name); None for None (unknown) or ``"auto"`` (the stack, in N and
    D); empty when the name gives no law (its fit will say why)."""
    if law is None or is_auto_law(law):
        return None
    try:
        return frozenset(law.variables if isinstance(law, Law) else resolve_law(law)[0].variables)
    except (InputError, LawError, KeyError, LookupError, ValueError):
        return frozenset()


def law_of_final_runs(law) -> bool:
    """True when ``law`` (a `Law`, a name, ``"auto"`` or None: unknown) describes runs at their end: a law of
    parameters or tokens (N, D) without a variable along the run (`_ALONG_RUN`)."""
    variables = _variables_of(law)
    return variables is None or (bool(variables & {"N", "D"}) and not variables & _ALONG_RUN)


def unfinished_runs(df, source: str | None) -> tuple[str | None, list[str]]:
    """The `DataWarning` text when a tracker's state column marks runs as not finished (crashed, failed, killed,
    running: `scalinglab.data.checkpoints.unfinished`), else None, and that column. Their loss is read as that
    of a run trained to its tokens, which it overestimates; the text names the selection of finished runs."""
    from ..data.checkpoints import describe_unfinished, unfinished

    info = unfinished(df)
    if not info["rows"]:
        return None, []
    keep = f"{info['column']}={info['finished']}" if info["finished"] else None
    return (f"{source or 'the run table'}: {describe_unfinished(info)}; one law is fitted to them as if they had "
            + (f"finished. To fit the finished runs: --where {keep} (CLI) or load_runs(...).where({keep!r})"
               if keep else "finished; no run here is marked finished")), [info["column"]]


def law_of_new_tokens(law) -> bool:
    """True when ``law`` (a `Law`, a name, ``"auto"`` or None: unknown) counts every training token as new
    data: a law in tokens D or compute C without unique tokens U (Chinchilla, Kaplan's laws, the stack)."""
    variables = _variables_of(law)
    return variables is None or (bool(variables & {"D", "C"}) and "U" not in variables)


def repeated_runs(df, source: str | None) -> str | None:
    """The `DataWarning` text when runs repeat their unique tokens more than ``REPEAT_EPOCHS`` (4) times
    (`scalinglab.data.repetition`), else None: a law without U reads their tokens as new data, which overstates
    what the repeats are worth. It names the law that models repetition."""
    from ..data.table import describe_repetition, repetition

    info = repetition(df)
    if not info["repeated"]:
        return None
    return (f"{source or 'the run table'}: {describe_repetition(info)}; a law without unique tokens U reads every "
            "repeated token as new data, which it is not (Muennighoff et al. 2023: beyond about 4 epochs a repeat "
            "is worth less and less). To model repetition: --law data-constrained (CLI) or "
            "fit(runs, 'data-constrained')")


def law_of_allocation(law) -> bool:
    """True when ``law`` (a `Law`, a name, ``"auto"`` or None: unknown) splits compute into model size N and
    tokens D (both among its variables): its compute-optimal split needs runs at several tokens per
    parameter."""
    variables = _variables_of(law)
    return variables is None or {"N", "D"} <= variables


def law_of_counts(law) -> bool:
    """True when ``law`` (a `Law`, a name, ``"auto"`` or None: unknown) reads model size, tokens or compute
    (N, D, C or U among its variables, or a variable read from such a column: ``--x tokens``; or unknown):
    units of those counts matter to it."""
    variables = _variables_of(law)
    counts = (set(VARIABLE_COLUMNS) - {"S"}) | {"params", "tokens", "flops", "unique_tokens"}
    return variables is None or bool(counts & variables)


def one_allocation(df, source: str | None) -> str | None:
    """The `DataWarning` text when every run has about the same tokens per parameter
    (`scalinglab.data.table.allocation`), else None."""
    from ..data.table import allocation, describe_allocation

    info = allocation(df)
    if not info["single"]:
        return None
    return (f"{source or 'the run table'}: {describe_allocation(info)}; a law in N and D fits them, but its "
            "compute-optimal split (plan, the exponents a and b) comes from the law's form, not from these runs. "
            "Add runs at other tokens per parameter (an IsoFLOP sweep), or fit a law in compute alone: --law "
            "power --x flops (CLI) or fit(runs, 'power', x='flops')")


def unit_slips(df, source: str | None) -> str | None:
    """The `DataWarning` text when the counts look written in another unit than their column's
    (`scalinglab.data.table.count_slips`), else None."""
    from ..data.table import count_slips

    slips = count_slips(df)
    return f"{source or 'the run table'}: " + "; ".join(slips) if slips else None


def warn_table(df, source: str | None, *, warn: bool = True, stacklevel: int = 3, laws=(None,),
               y: str = "loss") -> list[str]:
    """Say what the fit cannot tell from the arrays alone: the table pools several datasets
    (`pooled_datasets`) or several ladders under another text column (`split_runs`), sweeps hyperparameters (`swept_runs`), holds runs that did not finish
    (`unfinished_runs`) or logs runs at several checkpoints (`logged_checkpoints`; these two only when one of
    ``laws`` is `law_of_final_runs`: a loss-curve law such as ``lr-annealing`` is fitted to every checkpoint,
    finished or not, by design), or repeats its data many times (`repeated_runs`, when no law of ``laws``
    models unique tokens), or its counts look written in another unit (`unit_slips`, when a law of ``laws``
    reads counts: `law_of_counts`), or every run has one
    tokens-per-parameter ratio (`one_allocation`, when a law of ``laws`` splits compute into N and D). Each is
    one `DataWarning` (when ``warn``),
    pointing ``stacklevel`` frames up from this function (3, the default: at the caller of the function that
    calls it, e.g. the user's call of `backtest`), as ``_stages.emit_warnings`` counts. Returns the columns
    the warnings were about (``dataset``, the swept ones, ``run_id`` and ``step`` when every law describes runs
    at their end), so a caller that fits the table again can drop them instead of saying it twice."""
    said = []
    for text, about in table_notes(df, source, laws=laws, y=y):
        said += about
        if warn:
            warnings.warn(text, DataWarning, stacklevel=stacklevel)
    return said


def table_notes(df, source: str | None, *, laws=(None,), y: str = "loss") -> list[tuple[str, list[str]]]:
    """The `warn_table` messages for ``df`` fitted by ``laws``, each with the columns it is about, in order (for
    callers that show them, e.g. the report's warnings); ``y``: the fitted column."""
    pooled = pooled_datasets(df, source)
    split, split_cols = split_runs(df, source, y if y in getattr(df, "columns", ()) else "loss")
    swept, cols = swept_runs(df, source)
    final = [law_of_final_runs(law) for law in laws]
    logged, along = logged_checkpoints(df, source) if any(final) else (None, [])
    if not all(final):  # a loss-curve law among them needs the run and step columns: not to be dropped
        along = []
    stopped, state = unfinished_runs(df, source) if any(final) else (None, [])  # a loss curve may be part-way
    repeated = repeated_runs(df, source) if all(law_of_new_tokens(law) for law in laws) else None
    # counts in another unit matter to a law that reads them as counts (not a reward law's d, read as tokens)
    slips = unit_slips(df, source) if any(law_of_counts(law) for law in laws) else None
    single = one_allocation(df, source) if any(law_of_allocation(law) for law in laws) else None
    return [(text, about) for text, about in ((pooled, ["dataset"]), (split, split_cols), (stopped, state),
                                              (swept, cols), (logged, along), (repeated, []), (slips, []),
                                              (single, [])) if text]


def _check_constants_are_not_columns(law: Law, columns: list, rt, where: str, y: str) -> None:
    """A user formula's names that are not variables are fitted constants; one that names a column of the
    table (``B/tokens**beta``) is a variable written as a column, which would silently lose its dependence;
    and ``C`` beside ``N`` and ``D`` is compute (6ND), not the constant it usually means there.

    Raises
    ------
    LawError
        Naming the constant, the column and the variable to write instead.
    """
    from ..laws._parse import ExpressionLaw

    if not isinstance(law, ExpressionLaw):
        return
    if {"N", "D", "C"} <= set(law.variables):  # C = 6ND beside N and D: a constant named C, read as compute
        raise LawError(f"law {law.name!r}: C is the compute variable (FLOPs, C = 6ND), read from the flops column; "
                       "beside N and D it adds nothing, so a constant named C is likely meant: give it another "
                       "name (e.g. K)")
    names = {str(c) for c in columns} | set(rt.column_map)
    for p in law.param_names:
        if p in names and p != y:
            var = next((v for v, c in VARIABLE_COLUMNS.items() if c == (rt.column_map.get(p) or p)), None)
            instead = (f"write it as {var} (the variable read from column {VARIABLE_COLUMNS[var]!r})" if var else
                       "a one-variable law reads a column as x (--x COLUMN / x=)")
            raise LawError(f"law {law.name!r}: {p!r} is a column of {where}, but in a formula a name that is not a "
                           f"variable ({', '.join(VARIABLE_COLUMNS)}, x, ...) is a constant to fit: {instead}")


def prepare_data(data, law: Law, *, x: str | None = None, y: str | None = "loss",
                 weights=None) -> FitData:
    """Checked arrays for fitting ``law``; raises `DataError` / `FitError` with clear messages.

    Raises
    ------
    DataError
        If the y, variable or weight column is missing or not numeric, a value is not finite, or a value
        that must be positive is not (names file, row and column).
    InputError
        If ``weights`` has the wrong length or is negative / not finite / all zero, or ``data`` cannot be
        read.
    FitError
        If there are fewer runs than parameters, a variable has a single distinct value, or all y are equal.
    """
    from ..data.schema import MAX_PROBLEMS, choose_column_hint, loss_unit_of

    rt = load_table(data)
    df, source, flops_conv = rt.df, rt.source, rt.flops_convention
    y = y or "loss"
    columns = list(df.columns)
    where = source or "the run table"
    y_unit = loss_unit_of(y)  # what the name the user gave says, before it is resolved
    if y not in columns and rt.column_map.get(y) in columns:
        y = rt.column_map[y]  # the source's name of a column read under its canonical name (val_bpb -> loss)
    if y not in columns:
        raise DataError(f"no column {y!r} to fit (columns: {', '.join(map(str, columns))})"
                        f"{choose_column_hint(y, columns)}", file=source, column=y)
    _check_constants_are_not_columns(law, columns, rt, where, y)
    variables: dict[str, str] = {}
    derived: dict[str, np.ndarray] = {}
    conventions: dict = {}
    for v in law.variables:
        col = _column_for(v, columns, x, law, rt.column_map)
        if col is None:
            # derive tokens / params / flops under C = 6 N D when one of the three is missing
            cN, cD, cC = (_column_for(k, columns, None, law) or VARIABLE_COLUMNS[k] for k in ("N", "D", "C"))
            have = {k: c for k, c in (("N", cN), ("D", cD), ("C", cC)) if c in columns}
            if v == "D" and {"N", "C"} <= set(have):
                derived[v] = df[have["C"]].to_numpy(float) / (6.0 * df[have["N"]].to_numpy(float))
                variables[v] = f"{have['C']}/(6*{have['N']})"
                conventions["tokens"] = "derived as flops / (6 * params)"
                continue
            if v == "N" and {"D", "C"} <= set(have):
                derived[v] = df[have["C"]].to_numpy(float) / (6.0 * df[have["D"]].to_numpy(float))
                variables[v] = f"{have['C']}/(6*{have['D']})"
                conventions["params"] = "derived as flops / (6 * tokens)"
                continue
            compute = v == "C" or (len(law.variables) == 1 and x == VARIABLE_COLUMNS["C"])  # --law power --x flops
            if compute and {"N", "D"} <= set(have):
                derived[v] = 6.0 * df[have["N"]].to_numpy(float) * df[have["D"]].to_numpy(float)
                variables[v] = f"6*{have['N']}*{have['D']}"
                conventions["flops"] = "6ND"
                continue
            want = x if (x is not None and len(law.variables) == 1) else VARIABLE_COLUMNS.get(v, v)
            raise DataError(f"law {law.name!r} needs variable {v} (column {want!r}) but {where} has "
                            f"columns {', '.join(map(str, columns))}{choose_column_hint(want, columns)}",
                            file=source, column=want)
        variables[v] = col
    # arrays + validation
    from ..data.cells import numeric_column

    X: dict[str, np.ndarray] = {}
    for v, col in variables.items():
        if v in derived:
            X[v] = derived[v]
            continue
        X[v] = numeric_column(df[col], file=source, column=col)
    yv = numeric_column(df[y], file=source, column=y)
    n = len(yv)
    w = None
    if weights is not None:
        if isinstance(weights, str):
            if weights not in columns:
                raise DataError(f"no weight column {weights!r}", file=source, column=weights)
            w = df[weights].to_numpy(dtype=float)
        else:
            w = np.ravel(np.asarray(weights, dtype=float))
        if len(w) != n:
            raise InputError(f"weights has {len(w)} entries for {n} runs")
        if np.any(~np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise InputError("weights must be finite, non-negative and not all zero")
    problems: list[DataError] = []
    for v, arr in list(X.items()) + [(y, yv)]:
        col = variables.get(v, v)
        bad = np.flatnonzero(~np.isfinite(arr))
        for i in bad[:MAX_PROBLEMS]:
            problems.append(DataError(f"missing or non-finite value in {col!r}", file=source, row=int(i) + 1,
                                      column=col))
    if problems:
        raise DataError("non-finite values", file=source, problems=problems)
    positive = law.target == "loss"
    if positive:
        bad = np.flatnonzero(yv <= 0)
        if bad.size:
            raise DataError(f"{y!r} must be positive for a log-space fit of law {law.name!r} "
                            f"({bad.size} value(s) <= 0, first {yv[bad[0]]:g})", file=source,
                            row=int(bad[0]) + 1, column=y,
                            problems=[DataError(f"{y!r} = {yv[i]:g} <= 0", file=source, row=int(i) + 1,
                                                column=y) for i in bad[:MAX_PROBLEMS]] if bad.size > 1 else None)
    for v, arr in X.items():
        col = variables[v]
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise DataError(f"variable {v} ({col!r}) must be positive, got {arr[bad[0]]:g}", file=source,
                            row=int(bad[0]) + 1, column=col)
    if w is not None:  # relative weights: a run of weight 0 is not there (not in the reach, the backtests or the
        keep = w > 0   # band), and scaling every weight by one constant changes nothing (not even the intervals)
        if not keep.all():
            logger.info("%s: %d run(s) of weight 0 left out of the fit", where, int((~keep).sum()))
            X = {v: arr[keep] for v, arr in X.items()}
            yv, w, n = yv[keep], w[keep], int(keep.sum())
            df = df.loc[keep].reset_index(drop=True)
        w = w / np.mean(w)
    copies = 0
    if w is None and n > 1:  # rows identical in every fitted value (copies: a seed not applied) are one run
        stacked = np.column_stack([*X.values(), yv])
        _, first = np.unique(stacked, axis=0, return_index=True)
        copies = n - len(first)
        if copies:
            keep = np.zeros(n, bool)
            keep[first] = True
            logger.info("%s: %d row(s) identical in every fitted value to an earlier one counted once", where,
                        n - len(first))
            X = {v: arr[keep] for v, arr in X.items()}
            yv, n = yv[keep], int(keep.sum())
            df = df.loc[keep].reset_index(drop=True)
    if n < law.n_params:
        raise FitError(f"{n} run(s) cannot determine the {law.n_params} parameters of law {law.name!r} "
                       f"({', '.join(law.param_names)}); need at least {law.n_params}")
    for v, arr in X.items():
        if np.unique(arr).size < 2:
            raise FitError(f"variable {v} ({variables[v]!r}) has a single distinct value ({arr[0]:g}) in "
                           f"{where}: its exponent cannot be fitted; vary it or use a law without {v}")
    if np.ptp(yv) <= 1e-12 * np.max(np.abs(yv)):  # equal up to float rounding
        raise FitError(f"all {n} values of {y!r} are equal ({yv[0]:g}): nothing to fit")
    conventions.setdefault("flops", flops_conv)
    conventions["y"] = y
    conventions["loss_unit"] = rt.loss_unit if y == "loss" else y_unit  # None: a metric, not a loss
    if source:
        conventions["source"] = str(source)
    return FitData(X=X, y=yv, weights=w, variables=variables, y_column=y, source=source,
                   conventions={k: v for k, v in conventions.items() if v is not None}, frame=df,
                   table_flops_convention=flops_conv, n_copies=copies)


def finite_or(value: float, default: float = math.nan) -> float:
    """``float(value)`` when finite, else ``default`` (NaN unless given); None counts as not finite."""
    return float(value) if value is not None and math.isfinite(value) else default
