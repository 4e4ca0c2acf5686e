"""Cell conversion and checks: columns to float64 (unit strings such as ``70B`` parsed once per distinct
string) and the reason each bad cell is bad.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import UnitError
from ..units import parse_quantity, scale_suffix
from .schema import _MAY_BE_EMPTY


def _as_arrow(col: Any) -> pa.ChunkedArray:
    if isinstance(col, pa.ChunkedArray):
        return col
    if isinstance(col, pa.Array):
        return pa.chunked_array([col])
    series: pd.Series = col
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):  # mixed objects; ints beyond int64
        arr = pa.array([_cell_text(v) for v in series], type=pa.string())
    return pa.chunked_array([arr])


def _cell_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | float | np.number):
        return repr(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _to_pandas(col: Any) -> pd.Series:
    if isinstance(col, pd.Series):
        return col.reset_index(drop=True)
    return _as_arrow(col).to_pandas()


#: a number written with a decimal comma (``1,4 B``, ``3,92``, ``2,5e3``): its one comma, before the fraction
_DECIMAL_COMMA = r"^(\s*[+-]?\d*),(\d+(?:[eE][+-]?\d+)?(?:\s*[^\s,\d][^,]*)?\s*)$"


def decimal_comma(col: Any) -> Any:
    """A text column of a file whose decimal mark is the comma (a ``;``-separated spreadsheet export), with the
    comma of each number read as the point: Arrow reads such a file's plain numbers (``3,92``) that way, and
    cells with a unit (``1,4 B``) or beside text stay text, to be parsed here. Other columns as they are."""
    arr = _as_arrow(col)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return col
    return pc.replace_substring_regex(arr, pattern=_DECIMAL_COMMA, replacement=r"\1.\2")


def _parse_count(text: str) -> float:
    try:
        return parse_quantity(text)
    except UnitError as exc:
        raise ValueError(str(exc).removeprefix("value: ")) from None
    except (ValueError, ArithmeticError):
        raise ValueError(f"cannot parse {text!r} as a number") from None


def _parse_plain(text: str) -> float:
    t = text.strip()
    try:
        if t.endswith("%"):  # 45.2% (an accuracy as a percentage): the fraction it means
            return float(t[:-1].strip()) / 100.0
        return float(t)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def numeric_column(values: Any, *, file: str | None, column: str, what: str = "", counts: bool = False,
                   scale: float = 1.0) -> np.ndarray:
    """A column's values as float64 (NaN for empty cells), text cells read as the loader reads a loss or a
    metric (``45.2%`` is 0.452, a footnote mark is read past); a `DataError` naming the file, the first bad
    row (1-based position) and the column when a cell is not a number. The one reader `fit` and the
    downstream readers take a metric column through. ``counts``: the column holds counts (parameters,
    tokens, FLOPs), read as the loader reads them (``70M``, ``1.4T``); ``scale``: the unit its header names
    (``Params (B)``: 1e9), applied to plain numbers and not to cells with their own suffix.

    Raises
    ------
    DataError
        If a cell is not a number (naming the file, row and column).
    """
    from .._errors import DataError

    arr = _as_arrow(values)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
        return scale * np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                                  dtype=np.float64)
    fl = _floats(arr, counts=counts)
    label = f"{what} column" if what else "column"
    if fl.failed is not None:
        i = int(np.flatnonzero(fl.failed)[0])
        raise DataError(f"{label} {column!r} is not numeric: {fl.why(i)}", file=file, row=i + 1, column=column)
    if not counts:
        pct = percent_cells(arr)
        with np.errstate(invalid="ignore"):
            bare = ~pct & (np.abs(fl.values) > 1)
        if pct.any() and bare.any():  # 25.9% beside 25.1: one column on two scales
            i, j = int(np.flatnonzero(pct)[0]), int(np.flatnonzero(bare)[0])
            raise DataError(f"{label} {column!r} mixes percentages (row {i + 1}: {_cell_text(arr[i].as_py())!r}, "
                            f"read as {fl.values[i]:g}) with bare numbers on a percent scale "
                            f"({_cell_text(arr[j].as_py())!r}); write every cell one way", file=file, row=j + 1,
                            column=column)
    return fl.scaled(scale)


def percent_cells(col: Any) -> np.ndarray:
    """Boolean mask of the text cells written as a percentage (``45.2%``)."""
    arr = _as_arrow(col)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.zeros(len(arr), bool)
    ends = pc.ends_with(pc.utf8_rtrim_whitespace(arr), "%")
    return np.asarray(pc.fill_null(ends, False).to_numpy(zero_copy_only=False), bool)


#: footnote marks papers put after a number (``2.71*``, ``3.1†``, ``2.9[a]``, ``2.9¹``): read past, each such cell
#: reported
_FOOTNOTE = re.compile(r"\s*(?:[*†‡§¶#⁰¹²³⁴⁵⁶⁷⁸⁹ᵃᵇᶜᵈ]+|\[\w{1,2}\])\s*$")


#: what tables write in a cell for "no value" beyond the readers' nulls (empty, NA, N/A, NaN, null): a dash
#: (papers' "not run"), a question mark, None, dots; read as empty cells (so --drop-missing can leave them out)
MISSING_MARKS = frozenset({"", "-", "--", "–", "—", "?", "none", "n.a.", "n/a", "na", "nan", "null", "...", "…"})


def infinite_cells(col: Any) -> np.ndarray:
    """Boolean mask of a column's infinite cells (``inf``, ``-Infinity`` as numbers or text): a diverged run's
    loss as a tracker logs it."""
    fl = _floats(_as_arrow(col), counts=False)
    with np.errstate(invalid="ignore"):
        return np.isinf(fl.values)


def empty_cells(col: Any) -> np.ndarray:
    """Boolean mask of a column's empty cells: nulls, and text cells holding a missing mark (`MISSING_MARKS`:
    ``-``, ``—``, ``?``, ``None`` ...)."""
    arr = _as_arrow(col)
    empty = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        marked = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(arr)), value_set=pa.array(sorted(MISSING_MARKS)))
        empty |= np.asarray(pc.fill_null(marked, False).to_numpy(zero_copy_only=False), bool)
    return empty


@dataclass
class _Floats:
    values: np.ndarray  # float64, NaN where missing or unparsable
    missing: np.ndarray | None  # empty cells (nulls)
    failed: np.ndarray | None  # text that is not a number
    why: Callable[[int], str] = lambda i: "not a number"
    marked: np.ndarray | None = None  # numbers read past a footnote mark (_FOOTNOTE)
    suffixed: np.ndarray | None = None  # counts written with their own scale suffix (70M, 1.4T)

    def scaled(self, scale: float) -> np.ndarray:
        """The values in a column whose header names a unit (``Params (M)``: ``scale`` 1e6): plain numbers
        times ``scale``, cells that carry their own suffix (``70M``) as they are written."""
        if scale == 1.0:
            return self.values
        if self.suffixed is None:
            return self.values * scale
        return np.where(self.suffixed, self.values, self.values * scale)


def _floats(col: Any, counts: bool) -> _Floats:
    """Convert one column to float64: numeric columns directly, text through the unit-string parser, once
    per distinct string."""
    arr = _as_arrow(col)
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    missing = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    if pa.types.is_null(t):
        return _Floats(np.full(len(arr), np.nan), np.ones(len(arr), bool), None)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        values = pc.cast(arr, pa.float64(), safe=False)
        if values.null_count:
            values = pc.fill_null(values, np.nan)
        return _Floats(np.asarray(values.to_numpy(), dtype=np.float64), missing, None)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        try:
            arr = pc.cast(arr, pa.string())
        except pa.ArrowException:
            arr = pa.chunked_array([pa.array([_cell_text(v) for v in arr.to_pylist()], type=pa.string())])
    else:
        try:  # fast path: every string is a plain number
            values = pc.cast(arr, pa.float64())
            if values.null_count:
                values = pc.fill_null(values, np.nan)
            return _Floats(np.asarray(values.to_numpy(), dtype=np.float64), missing, None)
        except pa.ArrowException:
            pass
    encoded = pc.dictionary_encode(arr.combine_chunks())
    uniques = encoded.dictionary.to_pylist()
    parse = _parse_count if counts else _parse_plain
    unique_values = np.full(len(uniques) + 1, np.nan)  # last slot: null cells
    unique_failed = np.zeros(len(uniques) + 1, bool)
    unique_marked = np.zeros(len(uniques) + 1, bool)
    unique_suffixed = np.zeros(len(uniques) + 1, bool)
    unique_missing = np.zeros(len(uniques) + 1, bool)
    reasons: list[str] = [""] * (len(uniques) + 1)
    for k, text in enumerate(uniques):
        if text is None or text.strip().lower() in MISSING_MARKS:
            unique_missing[k] = True
            continue
        try:
            unique_values[k] = parse(text)
            unique_suffixed[k] = counts and scale_suffix(text) is not None
        except ValueError as exc:
            unique_failed[k], reasons[k] = True, str(exc)
            bare = _FOOTNOTE.sub("", text)
            if bare != text and bare.strip():  # 2.71*: the number before a footnote mark
                try:
                    unique_values[k] = parse(bare)
                    unique_failed[k], unique_marked[k] = False, True
                except ValueError:
                    pass
    codes = encoded.indices.fill_null(len(uniques)).to_numpy(zero_copy_only=False).astype(np.int64)
    failed, marked, suffixed = unique_failed[codes], unique_marked[codes], unique_suffixed[codes]
    if unique_missing.any():
        missing = unique_missing[codes] | (missing if missing is not None else False)
    return _Floats(unique_values[codes], missing, failed if failed.any() else None,
                   lambda i: reasons[codes[i]], marked if marked.any() else None,
                   suffixed if suffixed.any() else None)


def _check_numeric(fl: _Floats, target: str, positive_loss: bool) -> np.ndarray:
    """Boolean mask of the bad cells of canonical numeric column ``target``."""
    v = fl.values
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v)
        if target == "loss":
            if positive_loss:
                ok &= v > 0
        elif target == "step":
            ok &= (v >= 0) & (np.floor(v) == v) & (v < 2.0**63)  # stored as int64
        else:
            ok &= v > 0
    if target in _MAY_BE_EMPTY and fl.missing is not None:
        ok |= fl.missing
    return ~ok


def _reason(fl: _Floats, i: int, target: str) -> str:
    if fl.missing is not None and fl.missing[i]:
        return "empty cell; a value is required"
    if fl.failed is not None and fl.failed[i]:
        return fl.why(i)
    v = float(fl.values[i])
    if math.isnan(v):
        return "value is NaN"
    if math.isinf(v):
        return f"value is {'-' if v < 0 else ''}inf; must be finite"
    if target == "step":
        return f"step must be a whole number >= 0 and < 2^63 (got {v:g})"
    if target == "loss":
        return (f"loss must be > 0 for log-space fits (got {v:g}); to read it anyway: load_runs(..., "
                "positive_loss=False) or validate --allow-nonpositive-loss")
    return f"{target} must be > 0 (got {v:g})"
