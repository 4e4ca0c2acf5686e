"""Run tables: one row per training run or checkpoint, in canonical columns with explicit units.

Canonical columns (after loading, every one of them is a plain number or string, never a unit string):

================= ==========================================================================
``params``        N, model parameters (counted under whatever convention the source used)
``tokens``        D, training tokens seen
``flops``         C, training FLOPs; :attr:`RunTable.flops_convention` says how they were counted
``loss``          loss in nats/token unless the source says otherwise
``step``          optimiser step of a checkpoint (a whole number >= 0)
``unique_tokens`` U, unique tokens in the training data (data-constrained laws); may be empty
``dataset``       name of the training/evaluation data set
``run_id``        identifier of the run a checkpoint belongs to
================= ==========================================================================

Every other column (metrics such as downstream accuracy, tags such as ``seed``) is kept unchanged.

:func:`load_runs` is the one validation gate where runs enter scalinglab. It reads CSV/TSV, Parquet, Feather,
JSON Lines and JSON files, pandas and polars frames, pyarrow tables and dicts of arrays; maps column aliases
(``N``, ``n_params``, ``Model Size`` → ``params``; ``D`` → ``tokens``; ``C``, ``compute``, ``budget`` →
``flops``; ``val_loss`` → ``loss`` ...); parses unit strings (``70B``, ``1.4T``, ``2^20``); derives a
missing ``flops`` (or ``tokens``) column from C = 6·N·D; and checks every cell. All problems are collected
into one :class:`~scalinglab.DataError` whose ``problems`` name file, row and column::

    >>> runs = load_runs({"N": ["70B", "1.3 M"], "D": ["1.4T", "2^20"], "loss": [1.94, 5.1]})
    >>> runs.flops_convention, sorted(runs.derived), runs.df["flops"].iloc[0]
    ('6ND', ['flops'], 5.88e+23)

Loading is columnar: files are read with pyarrow, numeric columns are checked with vectorised numpy, and
unit strings are parsed once per *distinct* string, so a 10M-row Parquet log loads in a few seconds.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import json
import math
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._errors import DataError, InputError, UnitError
from .units import parse_quantity

__all__ = ["RunTable", "load_runs", "write_frame", "identifying_columns", "configuration_columns", "CANONICAL_COLUMNS",
           "COLUMN_ALIASES", "FLOPS_CONVENTIONS"]

#: Canonical column names, in the order a loaded table lists them.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "params", "tokens", "flops", "loss", "step", "unique_tokens", "dataset", "run_id",
)
_COUNTS = ("params", "tokens", "flops", "unique_tokens")  # > 0, unit strings allowed
_NUMERIC = (*_COUNTS, "loss", "step")
_MAY_BE_EMPTY = ("unique_tokens",)

#: Conventions under which a missing flops/tokens/params column can be derived: C = factor · N · D.
FLOPS_CONVENTIONS: dict[str, float] = {"6ND": 6.0}

MAX_PROBLEMS = 1000  # DataError.problems keeps at most this many (the message says how many in all)
MAX_LISTED = 20  # lines listed in the error message

_ALIASES: dict[str, tuple[str, ...]] = {
    "params": ("params", "param", "n", "n_params", "nparams", "num_params", "n_param", "num_parameters",
               "n_parameters", "parameters", "parameter_count", "param_count", "model_size", "model_params",
               "number_of_parameters"),
    "tokens": ("tokens", "d", "n_tokens", "ntokens", "num_tokens", "train_tokens", "training_tokens",
               "tokens_seen", "data", "n_train_tokens"),
    "flops": ("flops", "flop", "c", "compute", "training_flops", "training_flop", "train_flops",
              "total_flops", "budget", "compute_budget", "flops_budget"),
    "loss": ("loss", "val_loss", "eval_loss", "test_loss", "valid_loss", "validation_loss", "loss_nats",
             "final_loss"),
    "step": ("step", "steps", "iter", "iteration", "global_step", "train_step"),
    "unique_tokens": ("unique_tokens", "u", "n_unique_tokens", "unique_data", "u_d"),
    "dataset": ("dataset", "data_set", "corpus"),
    "run_id": ("run_id", "runid", "run", "run_name"),
}
#: Accepted column names (lower-cased, punctuation and spaces collapsed to ``_``) → canonical name.
COLUMN_ALIASES: dict[str, str] = {alias: canon for canon, names in _ALIASES.items() for alias in names}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------

def _where(file: str | None, row: int | None, column: str | None) -> str:
    """``FILE:ROW:COLUMN`` with trailing empty parts left out."""
    parts = [file or "<table>", "" if row is None else str(row), column or ""]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return ":".join(parts)


def _error(reason: str, file: str | None, row: int | None = None, column: str | None = None) -> DataError:
    exc = DataError(reason, file=file, row=row, column=column)
    exc.args = (f"{_where(file, row, column)}: {reason}",)
    return exc


def _collected(problems: list[DataError], file: str | None, total: int | None = None,
               order: Mapping[str, int] | None = None) -> DataError:
    """One DataError holding ``problems`` (sorted by row, then column), its message capped."""
    total = len(problems) if total is None else total
    order = order or {}
    problems = sorted(problems, key=lambda p: (-1 if p.row is None else p.row, order.get(p.column or "", -1)))
    kept = problems[:MAX_PROBLEMS]
    exc = DataError(f"{total} problem(s)", file=file, problems=kept)
    lines = [f"{total} problem{'s' if total != 1 else ''} in {file or 'the run table'}:"]
    lines += [f"{_where(p.file, p.row, p.column)}: {p.reason}" for p in kept[:MAX_LISTED]]
    if total > MAX_LISTED:
        lines.append(f"... and {total - MAX_LISTED} more")
    exc.args = ("\n".join(lines),)
    exc.n_problems = total  # type: ignore[attr-defined]
    return exc


# --------------------------------------------------------------------------------------------------------
# Reading: every source becomes a _Raw (column names as the user wrote them, columnar data, row numbers)
# --------------------------------------------------------------------------------------------------------

@dataclass
class _Raw:
    file: str
    names: list[str]
    columns: list[Any]  # pa.ChunkedArray | pa.Array | pd.Series, one per name
    n_rows: int
    rows: np.ndarray | None = None  # 1-based source row of each table row; None means 1..n_rows
    problems: list[DataError] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    blank_rows: bool = False  # all-empty rows are blank lines to skip (CSV)
    kind: str = "file"

    def row_of(self, i: int) -> int:
        return int(self.rows[i]) if self.rows is not None else i + 1


_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".feather": "feather",
            ".arrow": "feather", ".ipc": "feather"}
_COMPRESSION = {".gz", ".bz2", ".zst", ".lz4"}
_META_KEY = b"scalinglab.run_table"


def _read_any(source: Any, name: str | None) -> _Raw:
    if isinstance(source, str | os.PathLike):
        return _read_path(Path(source), name or os.fspath(source))
    module = type(source).__module__ or ""
    if module.startswith("polars"):
        if not hasattr(source, "to_arrow") and hasattr(source, "collect"):  # LazyFrame
            source = source.collect()
        name = name or "<polars.DataFrame>"
        if any("\x00" in str(c) for c in source.columns):  # polars' Arrow export panics on NUL in names
            return _from_mapping(source.to_dict(as_series=False), name)
        return _from_arrow(source.to_arrow(), name, kind="frame")
    if isinstance(source, pd.DataFrame):
        return _from_pandas(source, name or "<DataFrame>")
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return _from_arrow(source, name or "<pyarrow.Table>", kind="frame")
    if isinstance(source, Mapping):
        return _from_mapping(source, name or "<dict>")
    raise InputError(f"load_runs: cannot read a {type(source).__name__}; give a file path (CSV, TSV, Parquet, "
                     "JSONL, JSON), a pandas or polars DataFrame, a dict of arrays or a RunTable")


def _read_path(path: Path, file: str) -> _Raw:
    if not path.exists():
        raise _error("no such file", file)
    if path.is_dir():
        raise _error("is a directory, not a run table file", file)
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise _error(f"unknown file type {path.suffix or '(no extension)'!r}; use one of "
                     f"{', '.join(sorted(_FORMATS))}", file)
    try:
        if fmt in ("parquet", "feather"):
            return _read_columnar(path, file, fmt)
        with pa.input_stream(str(path), compression="detect") as stream:
            data = stream.read()
    except (pa.ArrowException, OSError) as exc:
        raise _error(f"cannot read the file: {exc}", file) from None
    if fmt in ("csv", "tsv"):
        return _read_csv(data, file, "\t" if fmt == "tsv" else ",")
    if fmt == "jsonl":
        return _read_jsonl(data, file)
    return _read_json(data, file)


def _read_columnar(path: Path, file: str, fmt: str) -> _Raw:
    if path.stat().st_size == 0:
        raise _error("file is empty", file)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(str(path))
        else:
            import pyarrow.feather as feather

            table = feather.read_table(str(path))
    except (pa.ArrowException, OSError) as exc:
        what = "Parquet" if fmt == "parquet" else "Feather/Arrow"
        raise _error(f"not a readable {what} file ({exc})", file) from None
    raw = _from_arrow(table, file, kind="file")
    meta = (table.schema.metadata or {}).get(_META_KEY)
    if meta:
        try:
            raw.meta = json.loads(meta)
        except ValueError:
            raw.meta = {}
    return raw


def _decode_text(data: bytes, file: str) -> bytes:
    """UTF-8 bytes without a byte-order mark (UTF-16 files with a BOM are re-encoded)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            raise _error("starts with a UTF-16 byte-order mark but is not valid UTF-16", file) from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):]
    return data


def _header_names(data: bytes, delimiter: str) -> list[str]:
    first = re.split(rb"\r\n|\r|\n", data, maxsplit=1)[0].decode("utf-8", "replace")
    try:
        return next(csv.reader([first], delimiter=delimiter), [])
    except csv.Error:
        return first.split(delimiter)


def _read_csv(data: bytes, file: str, delimiter: str) -> _Raw:
    import pyarrow.csv as pacsv

    data = _decode_text(data, file)
    if not data.strip():
        raise _error("file is empty", file)
    header = re.split(rb"\r\n|\r|\n", data, maxsplit=1)[0]
    try:
        header.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(f"header line has bytes that are not UTF-8 ({header[exc.start:exc.end]!r}); save the "
                     "file as UTF-8", file) from None
    data, bad_bytes = _replace_bad_utf8(data, file, delimiter)
    forced: dict[str, pa.DataType] = {}
    threads = True
    for _ in range(2 * len(_header_names(data, delimiter)) + 3):
        invalid: list[tuple[int | None, int, int, str]] = []

        def handler(row: Any, invalid: list = invalid) -> str:
            invalid.append((row.number, row.expected_columns, row.actual_columns, row.text))
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(use_threads=threads),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False,
                                                 invalid_row_handler=handler),
                convert_options=pacsv.ConvertOptions(column_types=forced, strings_can_be_null=True),
            )
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            m = re.search(r"In CSV column #(\d+)", msg)
            names = _header_names(data, delimiter)
            if m and "conversion error" in msg and int(m[1]) < len(names):
                col = names[int(m[1])]
                if col not in forced:  # inferred a number from the first block; read it as text
                    forced[col] = pa.string()
                    continue
                if forced[col] == pa.string():  # not even text: undecodable bytes
                    forced[col] = pa.binary()
                    continue
            raise _error(f"cannot parse as {'TSV' if delimiter == chr(9) else 'CSV'}: {msg}", file) from None
        except (pa.ArrowException, UnicodeError, ValueError) as exc:
            raise _error(f"cannot parse as CSV: {exc}", file) from None
        if invalid and any(number is None for number, *_ in invalid):
            threads = False  # row numbers are only known to a single-threaded reader
            continue
        break
    else:  # pragma: no cover - the loop always breaks or raises
        raise _error("cannot parse as CSV", file)

    problems: list[DataError] = list(bad_bytes)
    rows = None
    if invalid:
        skipped = {int(number) - 1 for number, *_ in invalid}
        total = table.num_rows + len(skipped)
        kept = np.ones(total, dtype=bool)
        kept[np.fromiter(skipped, dtype=np.int64, count=len(skipped)) - 1] = False
        rows = np.flatnonzero(kept).astype(np.int64) + 1
        names = [str(n) for n in table.column_names]
        for number, expected, actual, text in invalid:
            column = names[actual] if actual < len(names) else (names[-1] if names else None)
            tail = f"{column!r} is missing" if actual < expected else f"extra field(s) after {column!r}"
            problems.append(_error(f"row has {actual} field{'s' if actual != 1 else ''} but the header has "
                                   f"{expected} ({tail}): {text[:80]!r}", file, row=int(number) - 1,
                                   column=column))
    raw = _from_arrow(table, file, kind="file")
    raw.rows, raw.problems, raw.blank_rows = rows, problems, True
    _decode_binary_columns(raw)
    return raw


def _replace_bad_utf8(data: bytes, file: str, delimiter: str) -> tuple[bytes, list[DataError]]:
    """Report every line with bytes that are not UTF-8 (row and column) and replace those bytes."""
    if data.isascii():
        return data, []
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        pass
    names = _header_names(data, delimiter)
    problems, cleaned = [], []
    for i, line in enumerate(data.splitlines(keepends=True)):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = line.decode("utf-8", "replace")
            try:
                fields = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
            except csv.Error:
                fields = text.split(delimiter)
            column = next((names[k] for k, f in enumerate(fields) if "\ufffd" in f and k < len(names)), None)
            problems.append(_error(f"bytes that are not UTF-8 ({line[exc.start:exc.end]!r}); save the file as "
                                   "UTF-8", file, row=i, column=column))
            line = text.encode("utf-8")
        cleaned.append(line)
    return b"".join(cleaned), problems


def _decode_binary_columns(raw: _Raw) -> None:
    """Columns pyarrow read as bytes hold text that is not UTF-8: report each bad cell, keep the rest."""
    for j, col in enumerate(raw.columns):
        if not isinstance(col, pa.ChunkedArray | pa.Array):
            continue
        if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
            continue
        texts = []
        for i, value in enumerate(col.to_pylist()):
            if value is None:
                texts.append(None)
                continue
            try:
                texts.append(value.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raw.problems.append(_error(f"bytes that are not UTF-8 ({value[exc.start:exc.end]!r} in "
                                           f"{value[:40]!r}); save the file as UTF-8", raw.file,
                                           row=raw.row_of(i), column=raw.names[j]))
                texts.append(value.decode("utf-8", "replace"))
        raw.columns[j] = pa.chunked_array([pa.array(texts, type=pa.string())])


def _read_jsonl(data: bytes, file: str) -> _Raw:
    import pyarrow.json as pajson

    data = _decode_text(data, file)
    if not data.strip():
        raise _error("file is empty", file)
    lines = data.split(b"\n")
    if all(line.strip() for line in lines[:-1]) and lines[0].lstrip().startswith(b"{"):
        try:  # fast path: one JSON object per line, consistent types
            table = pajson.read_json(io.BytesIO(data))
            return _from_arrow(table, file, kind="file")
        except (pa.ArrowException, UnicodeError, ValueError):
            pass
    records, rows, problems = [], [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except UnicodeDecodeError as exc:
            problems.append(_error(f"bytes that are not UTF-8 ({line[exc.start:exc.end]!r})", file, row=lineno))
            continue
        except ValueError as exc:
            problems.append(_error(f"invalid JSON: {exc}", file, row=lineno))
            continue
        if not isinstance(obj, dict):
            problems.append(_error(f"expected a JSON object per line, got {type(obj).__name__}", file,
                                   row=lineno))
            continue
        records.append(obj)
        rows.append(lineno)
    raw = _from_pandas(pd.DataFrame.from_records(records) if records else pd.DataFrame(), file)
    raw.rows, raw.problems, raw.kind = np.asarray(rows, dtype=np.int64), problems, "file"
    return raw


def _read_json(data: bytes, file: str) -> _Raw:
    data = _decode_text(data, file)
    if not data.strip():
        raise _error("file is empty", file)
    try:
        obj = json.loads(data)
    except UnicodeDecodeError as exc:
        raise _error(f"bytes that are not UTF-8 at byte {exc.start}; save the file as UTF-8", file) from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # several objects, one per line: JSON Lines named .json
            return _read_jsonl(data, file)
        raise _error(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file) from None
    if isinstance(obj, dict) and set(obj) >= {"columns", "data"} and isinstance(obj["data"], list):
        try:  # pandas orient="split"
            frame = pd.DataFrame(obj["data"], columns=obj["columns"])
        except (ValueError, TypeError) as exc:
            raise _error(f"cannot read {{'columns', 'data'}} JSON: {exc}", file) from None
        raw = _from_pandas(frame, file)
    elif isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), list) and all(
            isinstance(r, dict) for r in next(iter(obj.values()))):
        obj = next(iter(obj.values()))  # {"runs": [{...}, ...]}
        raw = _records(obj, file)
    elif isinstance(obj, list):
        raw = _records(obj, file)
    elif isinstance(obj, dict):
        raw = _from_mapping(obj, file)
    else:
        raise _error(f"expected a list of records or an object of columns, got {type(obj).__name__}", file)
    raw.kind = "file"
    return raw


def _records(obj: list, file: str) -> _Raw:
    bad = [i for i, r in enumerate(obj) if not isinstance(r, dict)]
    if bad:
        raise _collected([_error(f"expected a JSON object, got {type(obj[i]).__name__}", file, row=i + 1)
                          for i in bad], file)
    return _from_pandas(pd.DataFrame.from_records(obj) if obj else pd.DataFrame(), file)


def _from_pandas(df: pd.DataFrame, file: str) -> _Raw:
    names = [str(c) for c in df.columns]
    cols = [df.iloc[:, j] for j in range(df.shape[1])]
    return _Raw(file, names, cols, len(df), kind="frame")


def _from_arrow(table: pa.Table, file: str, *, kind: str) -> _Raw:
    cols = []
    for col in table.columns:
        if pa.types.is_string_view(col.type):
            col = col.cast(pa.large_string())
        cols.append(col)
    return _Raw(file, [str(n) for n in table.column_names], cols, table.num_rows, kind=kind)


def _from_mapping(data: Mapping, file: str) -> _Raw:
    lengths = {}
    for key, value in data.items():
        if isinstance(value, str | bytes) or np.ndim(value) != 1:
            raise _error(f"column {key!r} is not a one-dimensional array", file, column=str(key))
        lengths[str(key)] = len(value)
    if len(set(lengths.values())) > 1:
        raise _error("columns have different lengths (" + ", ".join(f"{k}: {n}" for k, n in lengths.items())
                     + ")", file)
    frame = pd.DataFrame({str(k): (v.reset_index(drop=True) if isinstance(v, pd.Series) else v)
                          for k, v in data.items()})
    return _from_pandas(frame.reset_index(drop=True), file)


# --------------------------------------------------------------------------------------------------------
# Column conversion and checks
# --------------------------------------------------------------------------------------------------------

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


def _parse_count(text: str) -> float:
    try:
        return parse_quantity(text)
    except UnitError as exc:
        raise ValueError(str(exc).removeprefix("value: ")) from None
    except (ValueError, ArithmeticError):
        raise ValueError(f"cannot parse {text!r} as a number") from None


def _parse_plain(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


@dataclass
class _Floats:
    values: np.ndarray  # float64, NaN where missing or unparsable
    missing: np.ndarray | None  # empty cells (nulls)
    failed: np.ndarray | None  # text that is not a number
    why: Callable[[int], str] = lambda i: "not a number"


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
    reasons: list[str] = [""] * (len(uniques) + 1)
    for k, text in enumerate(uniques):
        try:
            unique_values[k] = parse(text)
        except ValueError as exc:
            unique_failed[k], reasons[k] = True, str(exc)
    codes = encoded.indices.fill_null(len(uniques)).to_numpy(zero_copy_only=False).astype(np.int64)
    failed = unique_failed[codes]
    return _Floats(unique_values[codes], missing, failed if failed.any() else None,
                   lambda i: reasons[codes[i]])


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
        return f"loss must be > 0 for log-space fits (got {v:g}); pass positive_loss=False to allow it"
    return f"{target} must be > 0 (got {v:g})"


def _map_columns(names: list[str], explicit: Mapping[str, str | None] | None, file: str) -> list[str | None]:
    """Target name of every input column (None drops it). Raises on ambiguous or duplicated names."""
    explicit = dict(explicit or {})
    problems = []
    for key in explicit:
        if key not in names:
            problems.append(_error(f"columns= maps {key!r}, which is not a column here (found: "
                                   f"{', '.join(map(repr, names))}); it maps input names to canonical "
                                   "names, e.g. {'my_n': 'params'}", file, column=key))
    claimed = {v for v in explicit.values() if v is not None}
    targets: list[str | None] = []
    for n in names:
        if n in explicit:
            targets.append(explicit[n])
            continue
        alias = COLUMN_ALIASES.get(_norm(n))
        targets.append(alias if alias is not None and alias not in claimed else n)
    first: dict[str, int] = {}
    for j, n in enumerate(names):
        if n in first:
            problems.append(_error(f"duplicate column name {n!r} in the header (columns {first[n] + 1} and "
                                   f"{j + 1})", file, column=n))
        else:
            first[n] = j
    sources: dict[str, list[str]] = defaultdict(list)
    for n, t in zip(names, targets, strict=True):
        if t is not None and n not in sources[t]:
            sources[t].append(n)
    for t, ns in sources.items():
        if len(ns) > 1:
            keep = ns[-1]
            choice = ", ".join([f"{keep!r}: {t!r}"] + [f"{n!r}: None" for n in ns[:-1]])
            problems.append(_error(f"columns {' and '.join(map(repr, ns))} {'both' if len(ns) == 2 else 'all'} mean {t!r}; choose one with "
                                   f"columns={{{choice}}} (None drops a column)", file, column=ns[1]))
    if problems:
        raise _collected(problems, file)
    return targets


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
            else:
                c, uniq = pd.factorize(v, sort=True)
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
    return eq | (np.asarray(pd.isna(a), bool) & np.asarray(pd.isna(b), bool))


def _take(v: Any, idx: np.ndarray) -> Any:
    return v.iloc[idx].reset_index(drop=True) if isinstance(v, pd.Series) else v[idx]


#: Canonical columns that identify a run (rather than measure it), in key order. ``flops`` identifies only
#: when ``params`` or ``tokens`` is absent (otherwise it is a function of them).
_ID_CANONICAL = ("run_id", "dataset", "unique_tokens", "params", "tokens", "flops", "step")
#: Numeric extra columns whose (normalised) name marks them as tags of a run rather than measurements.
_TAG_NAME = re.compile(r"(^|_)(seed|seeds|lr|learning_rate|batch_size|bs|width|depth|layers|n_layers?|num_layers|"
                       r"d_model|hidden_size|heads|n_heads?|epochs?|repeats?|warmup\w*|weight_decay|wd|"
                       r"vocab_size|seq_len|context_length|tag|config|arch|architecture|variant|shape)($|_)")


def identifying_columns(columns: Mapping[str, Any] | pd.DataFrame) -> list[str]:
    """Columns that identify a run or checkpoint rather than measure it, in key order.

    These are the canonical ``run_id``, ``dataset``, ``unique_tokens``, ``params``, ``tokens`` and ``step``
    (``flops`` only when ``params`` or ``tokens`` is missing), then every other column that holds text,
    categories or booleans (tags such as ``optimizer``), and numeric columns named like a tag (``seed``,
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
        if not numeric or _TAG_NAME.search(_norm(c)):
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
    if by_run and "step" in key:  # a run's tokens/flops are set by its step
        key = [c for c in key if c not in ("tokens", "flops")]
    if key:
        code = _key_codes([arrow.get(c, cols[c]) for c in key])
    else:  # no identifying columns: only exact duplicate rows are errors
        code = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy().view(np.int64)
    if bool(np.all(code[1:] > code[:-1])):  # sorted and unique: the common case for logs, O(n)
        return None, [], 0
    dup = pd.Index(code).duplicated(keep="first")
    if not dup.any():
        return None, [], 0
    idx = np.flatnonzero(dup)
    uniq, first_idx = np.unique(code, return_index=True)
    first = first_idx[np.searchsorted(uniq, code[idx])]
    exact = np.ones(len(idx), bool)
    for v in cols.values():
        exact &= _same(_take(v, idx), _take(v, first))
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
            reason = f"exact duplicate of row {rows[f]}; pass drop_duplicates=True to drop such rows"
        elif by_run:
            reason = f"duplicate run: same {key_text} as row {rows[f]}"
        else:
            continue  # same configuration, other values: a replicate run, kept
        count += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(_error(reason, file, row=int(rows[i]), column=where))
    return keep, problems, count


def _canonical_convention(name: str | None) -> str | None:
    if name is None:
        return None
    for known in FLOPS_CONVENTIONS:
        if str(name).strip().upper() == known:
            return known
    return str(name)


def _build(raw: _Raw, *, columns: Mapping[str, str | None] | None, required: Sequence[str],
           flops_convention: str | None, positive_loss: bool, drop_duplicates: bool) -> RunTable:
    file = raw.file
    targets = _map_columns(raw.names, columns, file)
    order = {n: j for j, n in enumerate(raw.names)}
    cols_in = list(raw.columns)
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
            fl = _floats(col, counts=target != "loss")
            bad = _check_numeric(fl, target, positive_loss)
            n_bad = int(np.count_nonzero(bad))
            if n_bad:
                total += n_bad
                for i in np.flatnonzero(bad)[:MAX_PROBLEMS].tolist():
                    problems.append(_error(_reason(fl, i, target), file, row=int(rows[i]), column=name))
            out[target] = fl.values
        else:
            out[target] = _to_pandas(col)
            if target in ("run_id", "dataset"):
                keys_arrow[target] = col

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
    if "flops" not in out:
        convention = None

    for c in required:
        if c not in out:
            accepted = ", ".join(_ALIASES.get(c, (c,))[:6])
            total += 1
            problems.append(_error(f"missing required column {c!r} (found: {', '.join(map(repr, raw.names))}; "
                                   f"accepted names: {accepted}, ...)", file, column=c))
    if not total and n:
        keep, dup_problems, n_dup = _duplicates(out, orig, rows, file, drop_duplicates, keys_arrow)
        problems += dup_problems
        total += n_dup
        if keep is not None:
            out = {k: _take(v, np.flatnonzero(keep)) for k, v in out.items()}
            rows = rows[keep]
    if total:
        raise _collected(problems, file, total, order)

    if "step" in out:
        out["step"] = out["step"].astype(np.int64)
    ordered = [c for c in CANONICAL_COLUMNS if c in out] + [c for c in out if c not in CANONICAL_COLUMNS]
    df = pd.DataFrame({c: out[c] for c in ordered}, copy=False)  # no block consolidation: no copy
    column_map = {orig[c]: c for c in ordered if c in orig and orig[c] != c}
    return RunTable(df, source=file, flops_convention=convention, derived=frozenset(derived),
                    column_map=column_map, source_rows=rows)


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------

def load_runs(source: Any, *, columns: Mapping[str, str | None] | None = None,
              required: Sequence[str] = ("loss",), flops_convention: str = "6ND",
              source_name: str | None = None, positive_loss: bool = True,
              drop_duplicates: bool = False) -> RunTable:
    """Load and validate a run table; the one gate where runs enter scalinglab.

    Parameters
    ----------
    source
        A path (``.csv``, ``.tsv``, ``.parquet``, ``.feather``, ``.jsonl``/``.ndjson``, ``.json``; optionally
        ``.gz``-compressed), a pandas or polars DataFrame, a pyarrow Table, a dict of equal-length arrays,
        or a :class:`RunTable` (returned as it is when it already has the ``required`` columns).
    columns
        Explicit renames ``{input column: canonical name}`` that take precedence over the built-in aliases;
        map a column to ``None`` to drop it (e.g. ``{"val_loss": "loss", "loss": None}``).
    required
        Canonical columns that must be present (after derivation). Default: ``("loss",)``.
    flops_convention
        How the ``flops`` column counts FLOPs. When ``flops`` (or ``tokens``/``params``) is missing it is
        derived as C = 6·N·D, which needs ``"6ND"``. A Parquet file written by :meth:`RunTable.to_parquet`
        records its own convention, which wins over the default.
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

    Raises
    ------
    DataError
        With one entry in ``.problems`` per bad cell (``FILE:ROW:COLUMN: reason``; ROW is the 1-based data
        row, COLUMN the name as in the source), listing every problem found.
    """
    if isinstance(source, RunTable):
        if columns is None and all(c in source.columns for c in required) and not drop_duplicates:
            return source
        again = _build(_from_pandas(source.df, source_name or source.source), columns=columns,
                       required=tuple(required), flops_convention=source.flops_convention or flops_convention,
                       positive_loss=positive_loss, drop_duplicates=drop_duplicates)
        return again._with(derived=source.derived | again.derived,
                           source_rows=source.source_rows[again.source_rows - 1])
    if columns is not None and not isinstance(columns, Mapping):
        raise InputError("columns= must be a mapping {input column: canonical name or None}")
    raw = _read_any(source, source_name)
    return _build(raw, columns=columns, required=tuple(required), flops_convention=flops_convention,
                  positive_loss=positive_loss, drop_duplicates=drop_duplicates)


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
        How ``flops`` counts FLOPs (``"6ND"`` when derived); None when there is no ``flops`` column.
    derived : frozenset[str]
        Columns computed rather than read (``{"flops"}`` when C = 6·N·D was derived).
    column_map : dict[str, str]
        Source column name → canonical name, for the columns that were renamed.
    source_rows : numpy.ndarray
        The 1-based source row of each row (row 1 = first line after the header).
    """

    __slots__ = ("_df", "source", "flops_convention", "derived", "column_map", "source_rows", "_frozen")

    def __init__(self, df: pd.DataFrame, *, source: str = "<table>", flops_convention: str | None = None,
                 derived: frozenset[str] = frozenset(), column_map: Mapping[str, str] | None = None,
                 source_rows: np.ndarray | None = None):
        set_ = object.__setattr__
        set_(self, "_df", df)
        set_(self, "source", source)
        set_(self, "flops_convention", flops_convention)
        set_(self, "derived", frozenset(derived))
        set_(self, "column_map", dict(column_map or {}))
        rows = np.arange(1, len(df) + 1, dtype=np.int64) if source_rows is None else np.asarray(source_rows)
        rows.flags.writeable = False
        set_(self, "source_rows", rows)
        set_(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RunTable is immutable; cannot set {name!r} (use filter/subset to make a new one)")

    def _with(self, **changes: Any) -> RunTable:
        kw = dict(source=self.source, flops_convention=self.flops_convention, derived=self.derived,
                  column_map=self.column_map, source_rows=self.source_rows)
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
        but ``run_id`` equal, see :func:`configuration_columns`), such as several seeds of one (N, D) logged
        without a seed column. They are kept (a fit uses every row, and their spread is a direct estimate of
        the noise).

        Returns ``{"groups": number of such groups, "rows": rows in them, "columns": the configuration
        columns compared}``.
        """
        cfg = configuration_columns({c: self._df[c] for c in self._df.columns})
        if not cfg or len(self) < 2:
            return {"groups": 0, "rows": 0, "columns": cfg}
        sizes = self._df.groupby(cfg, dropna=False, sort=False, observed=True).size()
        many = sizes[sizes > 1]
        return {"groups": int(len(many)), "rows": int(many.sum()), "columns": cfg}

    def summary(self) -> dict[str, Any]:
        """Rows, columns, per-column ranges, derived columns, the FLOP convention and the replicate groups
        (``replicate_groups``, ``replicate_rows``; see :meth:`replicates`), as plain data."""
        rep = self.replicates()
        return {
            "source": self.source,
            "rows": len(self),
            "columns": list(self.columns),
            "ranges": {k: list(v) for k, v in self.ranges().items()},
            "derived": sorted(self.derived),
            "flops_convention": self.flops_convention,
            "column_map": dict(self.column_map),
            "replicate_groups": rep["groups"],
            "replicate_rows": rep["rows"],
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
            else:
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
        """Write the canonical table as CSV (atomically: a temp file beside ``path``, then rename)."""
        return _atomic_write(path, lambda tmp: self._df.to_csv(tmp, index=False))

    def to_parquet(self, path: str | os.PathLike) -> Path:
        """Write the canonical table as Parquet (atomically), recording the FLOP convention and which
        columns were derived so that :func:`load_runs` restores them."""
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self._df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps({"flops_convention": self.flops_convention, "derived": sorted(self.derived),
                                      "source": self.source}).encode()
        table = table.replace_schema_metadata(meta)
        return _atomic_write(path, lambda tmp: pq.write_table(table, tmp))

    def to_polars(self) -> Any:
        """The runs as a polars DataFrame (imports polars)."""
        import polars as pl

        return pl.from_pandas(self._df)


def write_frame(df, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame (one row per run) to ``path`` atomically, in the format its suffix names:
    ``.parquet``, ``.json`` (records, indented), ``.jsonl`` (one record per line), else CSV.

    Raises
    ------
    InputError
        If the directory of ``path`` does not exist.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    if suffix in (".json", ".jsonl"):
        return _atomic_write(path, lambda tmp: df.to_json(tmp, orient="records", lines=suffix == ".jsonl",
                                                          indent=None if suffix == ".jsonl" else 2))
    return _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


def _atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"cannot write {os.fspath(path)!r}: directory {os.fspath(target.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
