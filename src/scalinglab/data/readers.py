"""Readers: every source (CSV/TSV, Parquet, Feather, JSON Lines, JSON, Excel, pandas/polars frames, pyarrow
tables, dicts of arrays) becomes a `_Raw`: the column names as the user wrote them, columnar data and source row
numbers. No validation happens here (see `scalinglab.data.load`).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._errors import DataError, InputError
from .encoding import _decode_binary_columns, _decode_text, _header_names, _replace_bad_utf8
from .problems import _collected, _error
from .schema import _META_KEY

logger = logging.getLogger(__name__)


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
            ".arrow": "feather", ".ipc": "feather", ".xlsx": "excel", ".xlsm": "excel"}
#: spreadsheet formats read only once saved as one of _FORMATS
_RESAVE = {".xls": "an Excel 97-2003 workbook", ".ods": "an OpenDocument spreadsheet",
           ".numbers": "a Numbers spreadsheet"}

_COMPRESSION = {".gz", ".bz2", ".zst", ".lz4"}

#: files below this many bytes are read on the calling thread: Arrow's reader threads gain nothing on a run
#: table of a few thousand rows, and a process that exits right after starting them sometimes aborts in
#: Arrow's thread-pool teardown ("terminate called without an active exception", exit 134 instead of the
#: CLI's 2; apache/arrow#34314), measured 3 times in 100 `load_runs` + exit under load, 0 in 100 without
THREADED_READ_BYTES = 32 * 2**20


def _extension(path: Path) -> str:
    """The extension that names a file's format, lower-cased, compression suffixes aside ("" if none)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def readable_file(path: str | os.PathLike) -> bool:
    """Whether ``load_runs`` reads a file of this name (by its extension)."""
    return _extension(Path(path)) in _FORMATS


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
    if isinstance(source, list | tuple) and source and all(isinstance(r, Mapping) for r in source):
        return _from_pandas(pd.DataFrame.from_records(source), name or "<records>")  # one dict per run
    raise InputError(f"load_runs: cannot read a {type(source).__name__}; give a file path (CSV, TSV, Parquet, "
                     "JSONL, JSON), a pandas or polars DataFrame, a dict of arrays, a list of dicts (one per run) "
                     "or a RunTable")


def _read_path(path: Path, file: str) -> _Raw:
    sheet = None
    if not path.exists() and "#" in path.name:  # runs.xlsx#ladder: one sheet of a workbook
        stem, sheet = path.name.rsplit("#", 1)
        if _FORMATS.get(_extension(Path(stem))) == "excel":
            path = path.with_name(stem)
        else:
            sheet = None
    if not path.exists():
        raise _error("no such file", file)
    if path.is_dir():
        raise _error("is a directory, not a run table file", file)
    ext = _extension(path)
    fmt = _FORMATS.get(ext)
    if ext in _RESAVE:
        raise _error(f"{_RESAVE[ext]} is not read directly; save it as .xlsx or CSV", file)
    if fmt is None:
        raise _error(f"unknown file type {path.suffix or '(no extension)'!r}; use one of "
                     f"{', '.join(sorted(_FORMATS))}", file)
    try:
        if fmt in ("parquet", "feather"):
            return _read_columnar(path, file, fmt)
        if fmt == "excel":
            return _read_excel(path, file, sheet)
        with pa.input_stream(str(path), compression="detect") as stream:
            data = stream.read()
    except (pa.ArrowException, OSError) as exc:
        raise _error(f"cannot read the file: {exc}", file) from None
    if fmt == "tsv":
        return _read_csv(data, file, "\t")
    if fmt == "csv":
        return _read_csv(data, file, _csv_delimiter(data))
    if fmt == "jsonl":
        return _read_jsonl(data, file)
    return _read_json(data, file)


def _read_columnar(path: Path, file: str, fmt: str) -> _Raw:
    if path.stat().st_size == 0:
        raise _error("file is empty", file)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(str(path), use_threads=path.stat().st_size >= THREADED_READ_BYTES)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(str(path), use_threads=path.stat().st_size >= THREADED_READ_BYTES)
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


def _read_excel(path: Path, file: str, sheet: str | None) -> _Raw:
    """One sheet of an Excel workbook (``.xlsx``/``.xlsm``; the first sheet, or ``runs.xlsx#sheet``): the header
    is the first row with two or more cells filled (title rows and notes above it are skipped), a row's number
    is the sheet's own (as Excel shows it), and formulas read as the values Excel last saved."""
    try:
        import openpyxl
    except ImportError:
        raise _error("reading an Excel workbook needs openpyxl: pip install 'scalinglab[excel]' (or save the "
                     "sheet as CSV)", file) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for damaged files
        raise _error(f"not a readable Excel workbook ({type(exc).__name__}: {exc})", file) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise _error(f"no sheet {sheet!r} in the workbook (sheets: {', '.join(book.sheetnames)})", file)
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        if sheet is None and len(book.sheetnames) > 1:
            logger.info("%s: reading its first sheet %r (others: %s; pick one as %s#SHEET)", file, ws.title,
                        ", ".join(book.sheetnames[1:]), file)
        cells = [list(r) for r in ws.iter_rows(values_only=True)]
        sheetnames = list(book.sheetnames)
    finally:
        book.close()

    def filled(v: Any) -> bool:
        return v is not None and not (isinstance(v, str) and not v.strip())

    head = next((i for i, r in enumerate(cells) if sum(map(filled, r)) >= 2), None)
    if head is None:
        others = [n for n in sheetnames if n != ws.title]
        raise _error(f"sheet {ws.title!r} has no table (no row with two or more cells filled)"
                     + (f"; the workbook's other sheets: {', '.join(others)} (pick one as {Path(file).name}#SHEET)"
                        if others else ""), file)
    _check_formulas(path, file, ws.title, cells, head)
    width = max(len(r) for r in cells[head:])
    body = [r + [None] * (width - len(r)) for r in cells[head + 1:]]
    header = cells[head] + [None] * (width - len(cells[head]))
    names, columns = [], []
    for j, name in enumerate(header):
        values = [r[j] for r in body]
        if not filled(name):
            if not any(map(filled, values)):
                continue  # an empty column
            name = f"(column {openpyxl.utils.get_column_letter(j + 1)})"
        names.append(str(name).strip())
        columns.append(pd.Series([v if filled(v) else None for v in values], dtype=object))
    raw = _Raw(file, names, columns, len(body), kind="file", blank_rows=True)
    raw.rows = np.arange(head + 2, head + 2 + len(body), dtype=np.int64)
    return raw


def _check_formulas(path: Path, file: str, sheet: str, cells: list[list[Any]], head: int) -> None:
    """Refuse a sheet whose formulas have no saved value (a workbook written by a script and never opened in a
    spreadsheet: openpyxl reads such a cell as empty, which would read as a run that logged no loss). Only
    looked into when the table has empty cells.

    Raises
    ------
    DataError
        Naming the first such cell and its formula.
    """
    if not any(v is None for r in cells[head + 1:] for v in r):
        return
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for i, row in enumerate(book[sheet].iter_rows(min_row=head + 2, values_only=True)):
            for j, v in enumerate(row):
                saved = cells[head + 1 + i][j] if head + 1 + i < len(cells) and j < len(cells[head + 1 + i]) else None
                if saved is None and isinstance(v, str) and v.startswith("="):
                    raise _error(f"cell {openpyxl.utils.get_column_letter(j + 1)}{head + 2 + i} holds a formula ({v}) "
                                 "with no saved value (a workbook written by a script): open and save it in a "
                                 "spreadsheet program, or export the sheet as CSV", file)
    finally:
        book.close()


def _csv_delimiter(data: bytes) -> str:
    """``","``, or ``";"`` when the header line has semicolons and no comma outside quotes: a spreadsheet's CSV
    export where the decimal mark is the comma (Excel in most of Europe), whose numbers then read ``5,1``."""
    header = b""
    for m in re.finditer(rb"[^\r\n]*", data.lstrip(b"\xef\xbb\xbf")):  # line by line, from the top
        header = m.group()
        # the header is the first line that is no comment (`_drop_comments`: '# ...', not a column named '#')
        if header and not re.match(rb"[ \t]*#(?![ \t]*[,;])", header):
            break
    unquoted = re.sub(rb'"[^"]*"', b"", header)
    return ";" if b";" in unquoted and b"," not in unquoted else ","


def _tab_decimal_comma(data: bytes) -> bool:
    """Whether a TSV writes its decimals with a comma (a spreadsheet's tab-delimited export in a locale whose
    decimal mark is the comma): cells such as ``4,6321``, none such as ``4.6321``, and not every comma followed
    by exactly three digits (``1,000`` may be a thousands separator)."""
    cell = rb"(?:^|\t)[ ]*-?\d+%s(\d+)(?:[ ]*[eE][-+]?\d+)?[ ]*[a-zA-Z%%]{0,2}[ ]*(?=\t|\r|\n|$)"
    if re.search(cell % rb"\.", data, re.MULTILINE):
        return False
    return any(len(m.group(1)) != 3 for m in re.finditer(cell % rb",", data, re.MULTILINE))


def _drop_comments(data: bytes, delimiter: str) -> bytes:
    """A CSV without its comment lines (``# ladder from run 2024-05``): those before the header are removed,
    those after it blanked, so rows keep their numbers (row 1 is the line after the header). A ``#`` followed
    by the delimiter is a column named ``#`` (a paper's row index), not a comment."""
    if b"#" not in data:
        return data
    comment = re.compile(rb"^[ \t]*#(?![ \t]*" + re.escape(delimiter.encode()) + rb")")
    lines = data.splitlines(keepends=True)
    start = 0
    while start < len(lines) and comment.match(lines[start]):
        start += 1
    body = [b"\n" if comment.match(ln) else ln for ln in lines[start + 1:]]
    return b"".join(lines[start:start + 1] + body)


def _read_csv(data: bytes, file: str, delimiter: str) -> _Raw:
    """A CSV (or TSV) file's table; ``delimiter=";"`` also reads decimal commas (``5,1``, `_csv_delimiter`), as
    does a TSV whose decimals are all written with one (`_tab_decimal_comma`)."""
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
    data = _drop_comments(data, delimiter)
    data, bad_bytes = _replace_bad_utf8(data, file, delimiter)
    comma = delimiter == ";" or (delimiter == "\t" and _tab_decimal_comma(data))
    forced: dict[str, pa.DataType] = {}
    threads = len(data) >= THREADED_READ_BYTES
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
                convert_options=pacsv.ConvertOptions(column_types=forced, strings_can_be_null=True,
                                                     decimal_point="," if comma else "."),
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
    raw.meta["decimal_comma"] = comma
    _decode_binary_columns(raw)
    return raw


def _read_jsonl(data: bytes, file: str) -> _Raw:
    import pyarrow.json as pajson

    data = _decode_text(data, file)
    if not data.strip():
        raise _error("file is empty", file)
    lines = data.split(b"\n")
    if all(line.strip() for line in lines[:-1]) and lines[0].lstrip().startswith(b"{"):
        try:  # fast path: one JSON object per line, consistent types
            table = pajson.read_json(io.BytesIO(data))
            while any(pa.types.is_struct(f.type) for f in table.schema):  # nested objects: dotted names
                table = table.flatten()
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
    raw = _from_pandas(_frame_of(records), file)
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
    if isinstance(obj, dict) and isinstance(obj.get("log_history"), list) and all(
            isinstance(r, dict) for r in obj["log_history"]):
        raw = _trainer_state(obj["log_history"], file)
    elif isinstance(obj, dict) and set(obj) >= {"columns", "data"} and isinstance(obj["data"], list):
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


def _trainer_state(history: list, file: str) -> _Raw:
    """A Hugging Face Trainer's ``trainer_state.json``: one row per evaluation in its ``log_history`` (the
    ``eval_*`` metrics, ``eval_loss`` the loss), or per training log (``loss``) when it never evaluated; a row's
    number is its position in ``log_history``. Steps (and ``num_input_tokens_seen``, when the Trainer counted
    them) come along; model size and tokens are the user's to add."""
    evals = [i for i, r in enumerate(history) if "eval_loss" in r]
    pick = evals or [i for i, r in enumerate(history) if "loss" in r]
    if not pick:
        raise _error("a Trainer state (log_history) with no 'eval_loss' or 'loss' entry", file)
    records = [{k: v for k, v in history[i].items() if not (evals and k == "loss")} for i in pick]
    raw = _from_pandas(pd.DataFrame.from_records(records), file)
    raw.rows = np.asarray(pick, dtype=np.int64) + 1
    return raw


def _records(obj: list, file: str) -> _Raw:
    bad = [i for i, r in enumerate(obj) if not isinstance(r, dict)]
    if bad:
        raise _collected([_error(f"expected a JSON object, got {type(obj[i]).__name__}", file, row=i + 1)
                          for i in bad], file)
    return _from_pandas(_frame_of(obj), file)


def _frame_of(records: list[dict]) -> pd.DataFrame:
    """One row per record; a nested object becomes dotted columns, as a tracker's API dump holds them
    (``{"config": {"model": {"n_params": ...}}, "summary": {"eval/loss": ...}}`` -> ``config.model.n_params``,
    ``summary.eval/loss``), which the column rules then read by their last part."""
    if not records:
        return pd.DataFrame()
    if any(isinstance(v, dict) for r in records for v in r.values()):
        return pd.json_normalize(records, sep=".")
    return pd.DataFrame.from_records(records)


def _from_pandas(df: pd.DataFrame, file: str) -> _Raw:
    named = [str(n) for n in df.index.names if n is not None]
    if named and not set(named) & {str(c) for c in df.columns}:  # df.set_index("params"): its index is a column
        df = df.reset_index()
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
