"""Writers: a table to CSV, TSV, Parquet, JSON, JSONL or Excel, always atomically (a temp file beside the
target, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError
from .._io import atomic_write as _atomic_write  # the one atomic writer (scalinglab/_io.py)

__all__ = ["write_frame", "WRITE_FORMATS"]

#: file extension → format `write_frame` writes (what `load_runs` reads back)
WRITE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
                 ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "excel"}


def write_frame(df, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame (one row per run) to ``path`` atomically, in the format its extension names
    (:data:`WRITE_FORMATS`): ``.csv``, ``.tsv`` (tab-separated), ``.parquet``, ``.json`` (records, indented),
    ``.jsonl`` (one record per line) or ``.xlsx`` (one sheet; needs openpyxl).

    Raises
    ------
    InputError
        If the extension is none of those (nothing is written), openpyxl is missing for ``.xlsx``, or the
        directory of ``path`` does not exist.
    """
    suffix = Path(path).suffix.lower()
    fmt = WRITE_FORMATS.get(suffix)
    if fmt is None:
        raise InputError(f"cannot write {os.fspath(path)!r}: unknown file type {suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(WRITE_FORMATS)}")
    if fmt == "parquet":
        return _atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    if fmt in ("json", "jsonl"):
        return _atomic_write(path, lambda tmp: df.to_json(tmp, orient="records", lines=fmt == "jsonl",
                                                          indent=None if fmt == "jsonl" else 2))
    if fmt == "excel":
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise InputError(f"cannot write {os.fspath(path)!r}: writing an Excel workbook needs openpyxl: pip "
                             "install 'scalinglab[excel]' (or write .csv)") from None

        def excel(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: pandas would refuse the temp file's extension
                df.to_excel(f, index=False, engine="openpyxl")

        return _atomic_write(path, excel)
    return _atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, sep="\t" if fmt == "tsv" else ","))
