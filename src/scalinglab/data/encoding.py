"""Text encoding repair for run-table files: byte-order marks, UTF-16, and bytes that are not UTF-8
(each reported with its row and column, the rest of the file kept).
"""

from __future__ import annotations

import codecs
import csv
import re
from typing import TYPE_CHECKING

import pyarrow as pa

from .._errors import DataError
from .problems import _error

if TYPE_CHECKING:
    from .readers import _Raw


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
