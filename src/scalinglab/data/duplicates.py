"""Duplicate detection: rows keyed on every identifying column present; exact duplicate rows and two values
for one checkpoint of a run are errors, replicate runs of one configuration are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import DataError
from .cells import _as_arrow, _to_pandas
from .problems import _error
from .schema import CANONICAL_COLUMNS, HYPERPARAMETER_WORDS, MAX_PROBLEMS, SEED_WORDS, _norm

__all__ = ["identifying_columns", "configuration_columns"]


def _block_codes(col: Any) -> tuple[np.ndarray, int] | None:
    """Codes for a text column whose equal values sit in contiguous blocks (a log grouped by run), found
    with O(n) neighbour comparisons instead of hashing; None when the values are not so grouped."""
    arr = _as_arrow(col)
    n = len(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if n < 2 or arr.null_count:
        return None
    changed = pc.not_equal(arr.slice(1), arr.slice(0, n - 1))
    changed = np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.concatenate([[0], np.flatnonzero(changed) + 1])
    if len(pc.unique(arr.take(pa.array(starts)))) != len(starts):
        return None
    code = np.zeros(n, dtype=np.int64)
    code[1:] = np.cumsum(changed, dtype=np.int64)
    return code, len(starts)


def _significant(v: np.ndarray, digits: int = 9) -> np.ndarray:
    """``v`` rounded to ``digits`` significant digits (NaN and zeros as they are)."""
    with np.errstate(all="ignore"):
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(v))))
        out = np.round(v * scale) / scale
    return np.where(np.isfinite(out), out, v)


def _key_codes(values: Sequence[Any]) -> np.ndarray:
    """One int64 code per row for the tuple of ``values`` columns; ordered where the columns are sorted."""
    code: np.ndarray | None = None
    size = 1
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind in "fiu" and len(v):
            lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
            integral = v.dtype.kind in "iu" or bool(np.all(np.mod(v, 1) == 0))
            if integral and hi - lo < 4 * len(v) + 16:  # dense integers (steps): the value is the code
                c, k = (v - lo).astype(np.int64, copy=False), int(hi - lo) + 1
            else:  # counts equal to 1e-9 are one value (1e7 and 1e7 x (1 + 1e-12) after a unit round trip)
                c, uniq = pd.factorize(_significant(v) if v.dtype.kind == "f" else v, sort=True)
                c, k = c.astype(np.int64, copy=False) + 1, len(uniq) + 1
        else:
            blocks = _block_codes(v) if isinstance(v, pa.ChunkedArray | pa.Array | pd.Series) else None
            if blocks is not None:
                c, k = blocks
            else:
                c, uniq = pd.factorize(_to_pandas(v) if not isinstance(v, pd.Series) else v, sort=False)
                c, k = c.astype(np.int64, copy=False) + 1, len(uniq) + 1  # -1 (missing) becomes 0
        if code is None:
            code, size = c, k
            continue
        if size * k >= 2**62:
            code, uniq = pd.factorize(code, sort=True)
            size = len(uniq)
        code *= k
        code += c
        size *= k
    assert code is not None
    return code


def _same(a: Any, b: Any) -> np.ndarray:
    a = a.to_numpy() if isinstance(a, pd.Series) else a
    b = b.to_numpy() if isinstance(b, pd.Series) else b
    with np.errstate(invalid="ignore"):
        eq = np.asarray(a == b, dtype=bool)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and isinstance(b, np.ndarray) and b.dtype.kind == "f":
            eq |= np.abs(a - b) <= 1e-9 * np.maximum(np.abs(a), np.abs(b))  # a unit round trip's last digits
    return eq | (np.asarray(pd.isna(a), bool) & np.asarray(pd.isna(b), bool))


def _take(v: Any, idx: np.ndarray) -> Any:
    return v.iloc[idx].reset_index(drop=True) if isinstance(v, pd.Series) else v[idx]


#: Canonical columns that identify a run (rather than measure it), in key order. ``flops`` identifies only
#: when ``params`` or ``tokens`` is absent (otherwise it is a function of them).
_ID_CANONICAL = ("run_id", "dataset", "unique_tokens", "params", "tokens", "flops", "step")

#: Numeric extra columns whose (normalised) name marks them as tags of a run rather than measurements.
_TAG_NAME = re.compile(rf"(^|_)({SEED_WORDS}|{HYPERPARAMETER_WORDS}|width|depth|layers|n_layers?|num_layers|"
                       r"d_model|hidden_size|heads|n_heads?|epochs?|repeats?|vocab_size|seq_len|context_length|"
                       r"tag|config|arch|architecture|variant|shape)($|_)")


#: text columns that record about a row, not what run it is: when it was logged or exported, notes, links (not
#: a path or file name: a run's data file tells runs apart)
_METADATA_NAME = re.compile(r"(^|_)(date|time|timestamp|datetime|created|updated|exported|logged|modified|"
                            r"notes?|comments?|remarks?|description|url|link)($|_)")


def identifying_columns(columns: Mapping[str, Any] | pd.DataFrame) -> list[str]:
    """Columns that identify a run or checkpoint rather than measure it, in key order.

    These are the canonical ``run_id``, ``dataset``, ``unique_tokens``, ``params``, ``tokens`` and ``step``
    (``flops`` only when ``params`` or ``tokens`` is missing), then every other column that holds text,
    categories or booleans (tags such as ``optimizer``; not a date, time, note or link: ``exported_at``,
    ``notes``, which record about a row rather than name a run), and numeric columns named like a tag (``seed``,
    ``lr``, ``batch_size``, ``n_layers``, ``d_model``, ...). Numeric columns with other names (``loss``,
    accuracies, ...) are measurements. ``columns`` maps column name to values (arrays or Series).
    """
    names = [str(c) for c in columns]
    ids = [c for c in _ID_CANONICAL if c in names]
    if "flops" in ids and {"params", "tokens"} <= set(ids):
        ids.remove("flops")
    for c in names:
        if c in CANONICAL_COLUMNS or c == "loss":
            continue
        v = columns[c]
        numeric = (isinstance(v, np.ndarray) and v.dtype.kind in "fiu") or (
            isinstance(v, pd.Series) and pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v))
        if (not numeric and not _METADATA_NAME.search(_norm(c))) or _TAG_NAME.search(_norm(c)):
            ids.append(c)
    return ids


def configuration_columns(columns: Mapping[str, Any] | pd.DataFrame) -> list[str]:
    """The :func:`identifying_columns` that describe a configuration (all but ``run_id``): rows equal on
    these and different in loss are replicate runs. Empty when no scale column (``params``, ``tokens``,
    ``flops``) is present, since equal tags alone do not make two runs replicates."""
    ids = [c for c in identifying_columns(columns) if c != "run_id"]
    return ids if set(ids) & {"params", "tokens", "flops"} else []


def _duplicates(cols: dict[str, Any], orig: Mapping[str, str], rows: np.ndarray, file: str,
                drop: bool, arrow: Mapping[str, Any]) -> tuple[np.ndarray | None, list[DataError], int]:
    """Find duplicate rows. Returns (rows to keep or None, problems, number of problems).

    Rows are keyed on every identifying column present (:func:`identifying_columns`). Rows equal in every
    column are exact duplicates (an error unless ``drop``). With a ``run_id`` column, two rows of one run
    with the same key but different values are an error (a checkpoint logged twice). Without one, rows with
    the same key that differ in loss are replicate runs of one configuration and are kept: they are the best
    noise estimate there is, and the fit uses them.
    """
    n = len(rows)
    if n < 2:
        return None, [], 0
    key = identifying_columns(cols)
    by_run = "run_id" in key
    again = _same_run_twice(cols, rows, file, drop, arrow, key, orig) if by_run else (None, [], 0)
    keep, problems, count = _keyed_duplicates(cols, orig, rows, file, drop, arrow, key, by_run)
    if again[0] is not None:
        keep = again[0] if keep is None else keep & again[0]
    return keep, again[1] + problems, again[2] + count


def _repeats(code: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of the rows whose key ``code`` an earlier row has, and that earlier row's position; None
    when every key is new."""
    if bool(np.all(code[1:] > code[:-1])):  # sorted and unique: the common case for logs, O(n)
        return None
    dup = pd.Index(code).duplicated(keep="first")
    if not dup.any():
        return None
    idx = np.flatnonzero(dup)
    uniq, first_idx = np.unique(code, return_index=True)
    return idx, first_idx[np.searchsorted(uniq, code[idx])]


def _equal_rows(cols: dict[str, Any], idx: np.ndarray, first: np.ndarray, skip: str | None = None) -> np.ndarray:
    """Whether rows ``idx`` equal rows ``first`` in every column but ``skip`` and a date, time, note or link (a
    row exported twice differs only in when: still the same row)."""
    same = np.ones(len(idx), bool)
    for name, v in cols.items():
        if name != skip and not _METADATA_NAME.search(_norm(str(name))):
            same &= _same(_take(v, idx), _take(v, first))
    return same


def _same_run_twice(cols: dict[str, Any], rows: np.ndarray, file: str, drop: bool, arrow: Mapping[str, Any],
                    key: list[str], orig: Mapping[str, str]) -> tuple[np.ndarray | None, list[DataError], int]:
    """Rows equal in every column but their ``run_id`` (and a date or note): one training run recorded under
    two ids (a setting that does not change training, such as how often it evaluates, makes a new id and the
    same losses to the last digit). They counted as replicates with zero noise; they are duplicates."""
    key2 = [c for c in key if c != "run_id"]
    if not key2:
        return None, [], 0
    found = _repeats(_key_codes([arrow.get(c, cols[c]) for c in key2]))
    if found is None:
        return None, [], 0
    idx, first = found
    same = ~_same(_take(cols["run_id"], idx), _take(cols["run_id"], first))  # one id twice: the keyed pass
    same &= _equal_rows(cols, idx, first, skip="run_id")
    if not same.any():
        return None, [], 0
    if drop:
        keep = np.ones(len(rows), bool)
        keep[idx[same]] = False
        return keep, [], 0
    where = orig.get("loss", "loss") if "loss" in cols else None
    problems = [_error(f"the same run as row {rows[f]} under another run_id (every other value equal): drop such "
                       "rows with load_runs(..., drop_duplicates=True) or --drop-duplicates", file, row=int(rows[i]),
                       column=where) for i, f in zip(idx[same].tolist(), first[same].tolist(), strict=True)]
    return None, problems[:MAX_PROBLEMS], int(same.sum())


def _keyed_duplicates(cols: dict[str, Any], orig: Mapping[str, str], rows: np.ndarray, file: str, drop: bool,
                      arrow: Mapping[str, Any], key: list[str], by_run: bool
                      ) -> tuple[np.ndarray | None, list[DataError], int]:
    """The keyed pass of `_duplicates`: exact duplicates, and with a ``run_id`` one run's point twice."""
    n = len(rows)
    if by_run and "step" in key:  # a run's tokens/flops are set by its step
        key = [c for c in key if c not in ("tokens", "flops")]
    if key:
        code = _key_codes([arrow.get(c, cols[c]) for c in key])
    else:  # no identifying columns: only exact duplicate rows are errors
        code = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy().view(np.int64)
    found = _repeats(code)
    if found is None:
        return None, [], 0
    idx, first = found
    exact = _equal_rows(cols, idx, first)
    key_text = ", ".join(key) if key else "all columns"
    anchor = next((c for c in ("step", "tokens") if c in key), key[-1] if key else None)
    where = orig.get(anchor, anchor) if anchor else None
    problems: list[DataError] = []
    keep = None
    if drop and exact.any():
        keep = np.ones(n, bool)
        keep[idx[exact]] = False
    count = 0
    for j, (i, f) in enumerate(zip(idx.tolist(), first.tolist(), strict=True)):
        if exact[j]:
            if drop:
                continue
            reason = (f"exact duplicate of row {rows[f]}; drop such rows with load_runs(..., drop_duplicates=True) "
                      f"or --drop-duplicates on the command line")
        elif by_run:
            reason = f"duplicate run: same {key_text} as row {rows[f]}"
        else:
            continue  # same configuration, other values: a replicate run, kept
        count += 1
        if len(problems) < MAX_PROBLEMS:
            # a whole row repeated names no column (FILE:ROW:); one key repeated names the key's column
            problems.append(_error(reason, file, row=int(rows[i]), column=None if exact[j] else where))
    return keep, problems, count
