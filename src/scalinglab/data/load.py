"""`load_runs`, the one validation gate: read (`readers`), map column names (`schema`), convert and check
every cell (`cells`), derive a missing ``flops``/``tokens``/``params`` (C = 6·N·D), find duplicates
(`duplicates`) and build the `RunTable` (`table`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import InputError
from .cells import (
    _as_arrow,
    _check_numeric,
    _floats,
    _reason,
    _to_pandas,
    decimal_comma,
    empty_cells,
    infinite_cells,
)
from .duplicates import _duplicates, _take
from .problems import _collected, _error, rows_text
from .readers import _from_pandas, _Raw, _read_any
from .reshape import melt_seed_columns, split_spreads
from .schema import (
    _ALIASES,
    _COUNTS,
    _NUMERIC,
    CANONICAL_COLUMNS,
    DEFAULT_LOSS_UNIT,
    FLOPS_CONVENTIONS,
    MAX_PROBLEMS,
    _norm,
    canonical_name,
    choose_column_hint,
    count_scale,
    given_convention,
    is_perplexity,
    is_tokens_per_param,
    loss_unit_of,
    qualified_alias,
)
from .table import RunTable

__all__ = ["load_runs"]

logger = logging.getLogger(__name__)


def _map_columns(names: list[str], explicit: Mapping[str, str | None] | None,
                 file: str) -> tuple[list[str | None], dict[str, list[str]]]:
    """Target name of every input column (None drops it), and the canonical names that several columns claim
    by alias (canonical name -> those columns, most preferred alias first: `_resolve_claims` settles them on
    their values). Raises on unknown ``explicit`` keys and duplicated header names."""
    explicit = dict(explicit or {})
    problems = []
    for key in explicit:
        if key not in names:
            problems.append(_error(f"columns= (--column) maps {key!r}, which is not a column here (found: "
                                   f"{', '.join(map(repr, names))}); it maps input names to canonical "
                                   "names, e.g. {'my_n': 'params'}", file, column=key))
    claimed = {v for v in explicit.values() if v is not None}
    targets: list[str | None] = []
    for n in names:
        if n in explicit:
            targets.append(explicit[n])
            continue
        alias = canonical_name(n)[0]  # also Params (M): params (x 1e6), W&B's model.n_params: params
        targets.append(alias if alias is not None and alias not in claimed else n)
    for canon in _COUNTS + ("loss",):  # params_N, tokens_D, final_val_loss: where nothing else names it
        named = [j for j, n in enumerate(names)
                 if n not in explicit and targets[j] == n and qualified_alias(n) == canon]
        if canon not in targets and len(named) == 1:
            targets[named[0]] = canon
            logger.info("%s: %r is read as %r", file, names[named[0]], canon)
    if "loss" not in targets:  # a loss in bits (val_bpb, bpc) is the loss when no column says loss in nats
        bits = [j for j, n in enumerate(names) if n not in explicit and loss_unit_of(n)]
        if len(bits) == 1:  # of several (one per eval set), which is the loss is the user's choice
            targets[bits[0]] = "loss"
            logger.info("%s: no loss column in nats; %r is used as 'loss' (%s)", file, names[bits[0]],
                        loss_unit_of(names[bits[0]]))
    if "loss" not in targets:  # else a perplexity: the loss is its log (nats/token)
        ppl = [j for j, n in enumerate(names) if n not in explicit and is_perplexity(n)]
        if len(ppl) == 1:
            targets[ppl[0]] = "loss"
            logger.info("%s: no loss column; the loss is ln(%r), in nats/token", file, names[ppl[0]])
    first: dict[str, int] = {}
    for j, n in enumerate(names):
        if n in first:
            problems.append(_error(f"duplicate column name {n!r} in the header (columns {first[n] + 1} and "
                                   f"{j + 1})", file, column=n))
        else:
            first[n] = j
    if problems:
        raise _collected(problems, file)
    sources: dict[str, list[str]] = defaultdict(list)
    for n, t in zip(names, targets, strict=True):
        if t is not None and n not in sources[t]:
            sources[t].append(n)
    rank = {t: {a: i for i, a in enumerate(_ALIASES.get(t, (t,)))} for t in sources}
    claims = {t: sorted(ns, key=lambda n, t=t: (n != t, rank[t].get(_norm(n), len(rank[t]))))
              for t, ns in sources.items() if len(ns) > 1}
    return targets, claims


#: label columns whose claimants need not agree: the preferred one takes the name, the others keep theirs
_LABELS = ("run_id",)

#: columns that claim one canonical name (``D`` and ``train_tokens``) are one column when their values agree
#: within this relative tolerance (a nominal and an actual token count differ by a partial batch)
CLAIM_RTOL = 0.01


def _resolve_claims(names: list[str], targets: list[str | None], claims: dict[str, list[str]],
                    cols: list[Any], rows: np.ndarray, file: str,
                    scales: Mapping[str, float]) -> tuple[list[str | None], dict[str, Any]]:
    """Settle columns that claim one canonical name: when their values agree (numbers within `CLAIM_RTOL`,
    text exactly, empty cells in the same rows), the preferred alias (the canonical name itself, else the
    first in the accepted list) takes it and the others stay under their own names; otherwise the table is
    ambiguous, an error naming the first row where they part. Also returns the parsed numbers of each
    preferred column (input name -> `_floats`), so `_build` does not parse it again."""
    targets = list(targets)
    parsed: dict[str, Any] = {}
    problems = []
    at = {n: j for j, n in enumerate(names)}
    for t, ns in claims.items():
        first, *others = [cols[at[n]] for n in ns]
        if t in _NUMERIC:
            parsed[ns[0]] = _floats(first, counts=t != "loss")
            a = parsed[ns[0]].scaled(scales.get(ns[0], 1.0))
            bad = np.zeros(len(a), bool)
            for n_other, col in zip(ns[1:], others, strict=True):
                b = _floats(col, counts=t != "loss").scaled(scales.get(n_other, 1.0))
                with np.errstate(all="ignore"):
                    rel = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
                bad |= (np.isfinite(a) != np.isfinite(b)) | (np.isfinite(a) & np.isfinite(b) & (rel > CLAIM_RTOL))
            how = f"differ by more than {CLAIM_RTOL:.0%}"
        elif t in _LABELS:  # a run's id beside its display name (MLflow's run_id and name): the first is the id
            bad = np.zeros(len(rows), bool)
            how = "differ"
        else:
            a = _to_pandas(first).astype(str).to_numpy()
            bad = np.zeros(len(a), bool)
            for col in others:
                bad |= _to_pandas(col).astype(str).to_numpy() != a
            how = "differ"
        if not bad.any():
            for n in ns[1:]:
                targets[at[n]] = n
            logger.info("%s: columns %s all mean %r and agree; %r is used as %r, the others keep their names",
                        file, ", ".join(map(repr, ns)), t, ns[0], t)
            continue
        i = int(np.flatnonzero(bad)[0])
        choice = ", ".join([f"{ns[0]!r}: {t!r}"] + [f"{n!r}: None" for n in ns[1:]])
        problems.append(_error(f"columns {' and '.join(map(repr, ns))} {'both' if len(ns) == 2 else 'all'} mean "
                               f"{t!r} but {how} in {int(bad.sum())} row(s), the first here; choose one with "
                               f"columns={{{choice}}} (None drops a column)", file, row=int(rows[i]), column=ns[1]))
    if problems:
        raise _collected(problems, file)
    return targets, parsed


def _canonical_convention(name: str | None) -> str | None:
    if name is None:
        return None
    for known in FLOPS_CONVENTIONS:
        if str(name).strip().upper() == known:
            return known
    return str(name)


def _build(raw: _Raw, *, columns: Mapping[str, str | None] | None, required: Sequence[str],
           flops_convention: str | None, positive_loss: bool, drop_duplicates: bool,
           check_duplicates: bool = True, loss_unit: str | None = None,
           drop_missing_loss: bool = False, drop_missing: Sequence[str] = (), allow_empty: bool = False) -> RunTable:
    file = raw.file
    targets, claims = _map_columns(raw.names, columns, file)
    # a count column whose name carries its unit (Params (M), Tokens [B]): its numbers are that many units
    scales = {n: f for n, t in zip(raw.names, targets, strict=True)
              if t in _COUNTS and (f := count_scale(n, t)) is not None}
    # a perplexity read as the loss (val_ppl, or mapped to it): the loss is its natural log, nats/token
    perplexity = {n for n, t in zip(raw.names, targets, strict=True) if t == "loss" and is_perplexity(n)}
    order = {n: j for j, n in enumerate(raw.names)}
    cols_in = list(raw.columns)
    if raw.meta.get("decimal_comma"):  # a ';' export: its comma is the decimal mark in text cells too (1,4 B)
        cols_in = [decimal_comma(c) if t in _NUMERIC or (t == nm and is_tokens_per_param(nm)) else c
                   for nm, t, c in zip(raw.names, targets, cols_in, strict=True)]
    n = raw.n_rows
    rows = raw.rows if raw.rows is not None else np.arange(1, n + 1, dtype=np.int64)

    if raw.blank_rows and n and cols_in:  # blank lines in a CSV: rows with every cell empty
        blank = None
        for col in cols_in:
            isnull = _as_arrow(col).is_null()
            blank = isnull if blank is None else pc.and_(blank, isnull)
        blank_np = np.asarray(blank.to_numpy(zero_copy_only=False), bool)
        if blank_np.any():
            keep = pa.array(~blank_np)
            cols_in = [_as_arrow(c).filter(keep) for c in cols_in]
            rows, n = rows[~blank_np], int((~blank_np).sum())
    # rows with an empty cell where the user asked to leave them out (a run that logged no loss, a published
    # model that does not state its tokens): left out, logged with their rows
    drop = tuple(dict.fromkeys((*(("loss",) if drop_missing_loss else ()), *drop_missing)))
    for name in drop if n else ():
        held = [c for nm, t, c in zip(raw.names, targets, cols_in, strict=True) if t == name or nm == name]
        if not held:
            if name == "loss" and name not in drop_missing:
                continue  # drop_missing_loss on a table without a loss column: nothing to leave out
            raise InputError(f"{file}: drop_missing names {name!r}, which is no column of the table (its columns: "
                             f"{', '.join(map(str, raw.names))}; give a canonical name such as tokens, or the "
                             "column's name in the file)")
        empty = np.logical_and.reduce([empty_cells(c) for c in held])
        infinite = (np.logical_and.reduce([infinite_cells(c) for c in held]) if name == "loss"
                    else np.zeros_like(empty))  # a diverged run's loss logged as inf: no loss either
        if (empty | infinite).any():
            what = f"no {name}" + (" or an infinite one" if infinite.any() else "")
            empty = empty | infinite
            flag = "drop_missing_loss" if name == "loss" and drop_missing_loss else f"drop_missing {name}"
            logger.warning("%s: %d row%s with %s left out (%s; rows %s)", file, int(empty.sum()),
                           "s" if empty.sum() != 1 else "", what, flag, rows_text(rows[empty]))
            keep = pa.array(~empty)
            cols_in = [_as_arrow(c).filter(keep) for c in cols_in]
            rows, n = rows[~empty], int((~empty).sum())
    parsed: dict[str, Any] = {}
    if claims:
        targets, parsed = _resolve_claims(raw.names, targets, claims, cols_in, rows, file, scales)

    problems = list(raw.problems)
    total = len(problems)
    if n == 0 and not problems:
        if raw.kind == "file":
            raise _error("no data rows (the file has a header only)" if raw.names else "file is empty", file)
        raise _error("the table has no rows", file)

    out: dict[str, Any] = {}
    keys_arrow: dict[str, Any] = {}
    orig: dict[str, str] = {}
    for name, target, col in zip(raw.names, targets, cols_in, strict=True):
        if target is None or target in out:
            continue
        orig[target] = name
        if target in _NUMERIC:
            fl = parsed[name] if name in parsed else _floats(col, counts=target != "loss")
            if name in perplexity:
                with np.errstate(all="ignore"):
                    fl = replace(fl, values=np.where(fl.values > 0, np.log(fl.values), np.nan))
            bad = _check_numeric(fl, target, positive_loss)
            if allow_empty and fl.missing is not None:  # a table that is not a run table: empty is missing
                bad &= ~fl.missing
            n_bad = int(np.count_nonzero(bad))
            if n_bad:
                total += n_bad
                for i in np.flatnonzero(bad)[:MAX_PROBLEMS].tolist():
                    why = _reason(fl, i, target)
                    if name in perplexity and not (fl.missing is not None and fl.missing[i]):
                        why = f"a perplexity must be > 1 (the loss is its log); {why}"
                    if target == "loss" and fl.missing is not None and fl.missing[i]:
                        why += (" (a run that logged no loss? leave such rows out with --drop-missing-loss or "
                                "load_runs(..., drop_missing_loss=True))")
                    elif target == "loss" and np.isinf(fl.values[i]):
                        why += (" (a diverged run? leave such rows out with --drop-missing-loss or "
                                "load_runs(..., drop_missing_loss=True))")
                    elif fl.missing is not None and fl.missing[i]:
                        why += (f" (a run that does not state its {target}? leave such rows out with --drop-missing "
                                f"{target} or load_runs(..., drop_missing=[{target!r}]))")
                    problems.append(_error(why, file, row=int(rows[i]), column=name))
            if fl.marked is not None:  # 2.71*, 3.1†: a paper's footnote may say the number is not a plain one
                at = rows[fl.marked]
                logger.warning("%s: %d cell%s of %r carr%s a footnote mark (rows %s), read as the number%s before "
                               "it: check what the mark means in the source", file, at.size, "s" * (at.size != 1),
                               name, "ies" if at.size == 1 else "y", rows_text(at), "s" * (at.size != 1))
            if name in scales and fl.suffixed is not None:  # Params (M) holding 70M: not 70M x 1e6
                at = rows[fl.suffixed]
                own = "carries its own unit" if at.size == 1 else "carry their own unit"
                logger.warning("%s: %d cell%s of %r %s (rows %s): read as written, not scaled by the header's "
                               "%g", file, at.size, "s" * (at.size != 1), name, own, rows_text(at), scales[name])
            out[target] = fl.scaled(scales.get(name, 1.0))
        else:
            out[target] = _to_pandas(col)
            if target in ("run_id", "dataset"):
                keys_arrow[target] = col

    ratio = next((nm for nm, t in zip(raw.names, targets, strict=True) if t == nm and is_tokens_per_param(nm)), None)
    if ratio is not None and "params" in out and "tokens" not in out and "flops" not in out:
        fl = _floats(cols_in[order[ratio]], counts=True)  # tokens per parameter: tokens = params x it
        bad = _check_numeric(fl, "tokens", True)
        for i in np.flatnonzero(bad)[:MAX_PROBLEMS].tolist():
            problems.append(_error(_reason(fl, i, "tokens per parameter"), file, row=int(rows[i]), column=ratio))
        total += int(np.count_nonzero(bad))
        out["tokens"] = out["params"] * fl.values
        orig["tokens"] = f"{orig['params']} × {ratio}"

    convention = _canonical_convention(flops_convention)
    if raw.meta.get("flops_convention") and convention == "6ND":
        convention = raw.meta["flops_convention"]  # the file records its own convention
    derived = {c for c in raw.meta.get("derived", []) if c in out}
    missing_trio = [c for c in ("params", "tokens", "flops") if c not in out]
    if len(missing_trio) == 1:
        factor = FLOPS_CONVENTIONS.get(convention or "")
        if factor is None:
            raise InputError(f"cannot derive {missing_trio[0]!r} under flops_convention={flops_convention!r}: "
                             f"derivation needs a fixed per-parameter-token factor ({', '.join(FLOPS_CONVENTIONS)}"
                             f"); give the {missing_trio[0]} column explicitly")
        with np.errstate(all="ignore"):
            if "flops" not in out:
                out["flops"] = factor * out["params"] * out["tokens"]
            elif "tokens" not in out:
                out["tokens"] = out["flops"] / (factor * out["params"])
            else:
                out["params"] = out["flops"] / (factor * out["tokens"])
        derived.add(missing_trio[0])
        # counts that are each a float, whose product or quotient is not (6 x 6e83 x 5e223 FLOPs)
        made = missing_trio[0]
        given = [c for c in ("params", "tokens", "flops") if c != made]
        with np.errstate(all="ignore"):
            inputs_ok = np.logical_and.reduce([np.isfinite(out[c]) & (out[c] > 0) for c in given])  # else said
            off = inputs_ok & ~(np.isfinite(out[made]) & (out[made] > 0))
        for i in np.flatnonzero(off)[:MAX_PROBLEMS].tolist():
            problems.append(_error(f"{made} derived under {convention} from {orig[given[0]]} = "
                                   f"{out[given[0]][i]:.4g} and {orig[given[1]]} = {out[given[1]][i]:.4g} is "
                                   f"{out[made][i]:.4g}, outside the range of a float: check their units",
                                   file, row=int(rows[i]), column=orig[given[0]]))
        total += int(np.count_nonzero(off))
    elif not missing_trio and convention == "6ND" and not raw.meta.get("flops_convention"):
        convention = given_convention(out["params"], out["tokens"], out["flops"])
    if "flops" not in out:
        convention = None

    for c in required:
        if c not in out:
            accepted = ", ".join(_ALIASES.get(c, (c,))[:6])
            bits = [n for n in raw.names if loss_unit_of(n)] if c == "loss" else []
            hint = (f"; losses in bits here: {', '.join(map(repr, bits))}: choose one with "
                    f"columns={{{bits[0]!r}: 'loss'}}" if bits else "")
            if not bits:  # one loss per validation set (c4_val...), params_N: which one is the user's to say
                hint = choose_column_hint(c, raw.names)
            total += 1
            problems.append(_error(f"missing required column {c!r} (found: {', '.join(map(repr, raw.names))}; "
                                   f"accepted names: {accepted}, ...){hint}", file, column=c))
    if not total and n and check_duplicates:
        keep, dup_problems, n_dup = _duplicates(out, orig, rows, file, drop_duplicates, keys_arrow)
        problems += dup_problems
        total += n_dup
        if keep is not None:
            out = {k: _take(v, np.flatnonzero(keep)) for k, v in out.items()}
            rows = rows[keep]
    elif n and check_duplicates and all(c in out for c in required) and all(p.row is not None for p in problems):
        # cell errors: the rows free of them are checked for duplicates too, so one pass lists every problem
        clean = np.flatnonzero(~np.isin(rows, [p.row for p in problems]))
        if len(clean) > 1:
            _, dup_problems, n_dup = _duplicates({k: _take(v, clean) for k, v in out.items()}, orig, rows[clean],
                                                 file, drop_duplicates,
                                                 {k: v.take(pa.array(clean)) for k, v in keys_arrow.items()})
            problems += dup_problems
            total += n_dup
    if total:
        raise _collected(problems, file, total, order)

    if "step" in out:
        out["step"] = out["step"].astype(np.int64)
    ordered = [c for c in CANONICAL_COLUMNS if c in out] + [c for c in out if c not in CANONICAL_COLUMNS]
    df = pd.DataFrame({c: out[c] for c in ordered}, copy=False)  # no block consolidation: no copy
    column_map = {orig[c]: c for c in ordered if c in orig and orig[c] != c}
    if "loss" in out:
        loss_unit = loss_unit or raw.meta.get("loss_unit") or loss_unit_of(orig["loss"]) or DEFAULT_LOSS_UNIT
    return RunTable(df, source=file, flops_convention=convention, derived=frozenset(derived),
                    column_map=column_map, source_rows=rows, loss_unit=loss_unit if "loss" in out else None)


def load_runs(source: Any, *, columns: Mapping[str, str | None] | None = None,
              required: Sequence[str] = ("loss",), flops_convention: str = "6ND",
              source_name: str | None = None, positive_loss: bool = True,
              drop_duplicates: bool = False, canonical: bool = True, loss_unit: str | None = None,
              drop_missing_loss: bool = False, drop_missing: Sequence[str] = ()) -> RunTable:
    """Load and validate a run table; the one gate where runs enter scalinglab.

    Parameters
    ----------
    source
        A path (``.csv``, ``.tsv``, ``.parquet``, ``.feather``, ``.jsonl``/``.ndjson``, ``.json``, optionally
        ``.gz``-compressed; ``.xlsx``, its first sheet or ``runs.xlsx#sheet``), a pandas or polars DataFrame, a
        pyarrow Table, a dict of equal-length arrays, or a :class:`RunTable` (returned as it is when it already
        has the ``required`` columns).
    columns
        Explicit renames ``{input column: canonical name}`` that take precedence over the built-in aliases;
        map a column to ``None`` to drop it (e.g. ``{"val_loss": "loss", "loss": None}``).
    required
        Canonical columns that must be present (after derivation). Default: ``("loss",)``.
    flops_convention
        How the ``flops`` column counts FLOPs. When ``flops`` (or ``tokens``/``params``) is missing it is
        derived as C = 6·N·D, which needs ``"6ND"``. A Parquet file written by :meth:`RunTable.to_parquet`
        records its own convention, which wins over the default; a table that gives all three under the
        default is labelled by its own counts (``"as given (C = 6.3ND median)"`` unless within 2 % of 6ND).
    source_name
        Name used for the source in errors and provenance (default: the path, or ``<DataFrame>``).
    positive_loss
        Require loss > 0 (fits work on log-loss). Set False for metrics that may be zero or negative.
    drop_duplicates
        Drop rows that exactly repeat an earlier row instead of reporting them. Rows are keyed on every
        identifying column present (:func:`identifying_columns`: ``run_id``, ``dataset``, ``unique_tokens``,
        ``params``, ``tokens``, ``step``, tags such as ``seed``); rows with the same key that differ in loss
        are replicate runs and are kept (see :meth:`RunTable.replicates`), except within one ``run_id``,
        where they are an error.
    canonical
        False keeps every column under its name in the source (no alias renames) and does not look for
        duplicate runs: for tables that are not run tables, such as benchmark or per-example results
        (``n_tokens`` there is not ``tokens``, and many rows share a model); their empty cells read as
        missing values (NaN), which such a table has (a published model that does not state its compute).
    loss_unit
        The unit of the ``loss`` column (e.g. ``"bits/byte"``), recorded on the table (`RunTable.loss_unit`)
        and on every fit of it. Default: what the column's name says (``val_bpb``, ``bpb``,
        ``bits_per_byte``: bits/byte; ``bpc``: bits/char; ``loss_bits``: bits/token; a table with no loss
        column in nats reads such a column as its ``loss``), a Parquet file's own record, else nats/token.
    drop_missing_loss
        Leave out the rows whose loss cell is empty (runs that crashed or have not been evaluated yet, as a
        tracker's export lists them; a CSV's ``NA``, ``nan`` or ``null`` reads as empty), with a logged warning
        naming how many and which rows; without it such a cell is an error. Other bad cells (a negative or
        infinite loss, an empty ``params``) stay errors.
    drop_missing
        Columns (canonical names such as ``"tokens"``, or names as in the source) whose empty cells leave their
        row out, as ``drop_missing_loss`` does for the loss: a table of published models, some of which do not
        state their training tokens, reads with ``drop_missing=["tokens"]`` (logged, naming the rows). Without
        it an empty count cell is an error that names this option. ``drop_missing=["loss"]`` is
        ``drop_missing_loss=True``.

    Raises
    ------
    DataError
        With one entry in ``.problems`` per bad cell (``FILE:ROW:COLUMN: reason``; ROW is the 1-based data
        row, COLUMN the name as in the source), listing every problem found.
    InputError
        If ``drop_missing`` names a column the table does not have.
    """
    drop_missing = (drop_missing,) if isinstance(drop_missing, str) else tuple(drop_missing)
    if isinstance(source, RunTable):
        if columns is None and all(c in source.columns for c in required) and not (drop_duplicates or drop_missing):
            return source
        again = _build(_from_pandas(source.df, source_name or source.source), columns=columns,
                       required=tuple(required), flops_convention=source.flops_convention or flops_convention,
                       positive_loss=positive_loss, drop_duplicates=drop_duplicates,
                       loss_unit=loss_unit or source.loss_unit, drop_missing_loss=drop_missing_loss,
                       drop_missing=drop_missing)
        return again._with(derived=source.derived | again.derived,
                           source_rows=source.source_rows[again.source_rows - 1])
    if columns is not None and not isinstance(columns, Mapping):
        raise InputError("columns= must be a mapping {input column: canonical name or None}")
    raw = _read_any(source, source_name)
    if not canonical:
        columns = {n: n for n in raw.names}
    else:  # 3.21 ± 0.02 cells, one column per seed: one number per cell, one run per row (reshape.py)
        raw = melt_seed_columns(split_spreads(raw), keep=set(columns or ()))
    return _build(raw, columns=columns, required=tuple(required), flops_convention=flops_convention,
                  positive_loss=positive_loss, drop_duplicates=drop_duplicates, check_duplicates=canonical,
                  loss_unit=loss_unit, drop_missing_loss=drop_missing_loss, drop_missing=drop_missing,
                  allow_empty=not canonical)
