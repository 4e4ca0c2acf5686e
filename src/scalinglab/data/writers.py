"""Writers: a table to CSV, Parquet or JSON, always atomically (a temp file beside the target, then rename).
"""

from __future__ import annotations

import os
from pathlib import Path

from .._io import atomic_write as _atomic_write  # the one atomic writer (scalinglab/_io.py)

__all__ = ["write_frame"]


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
