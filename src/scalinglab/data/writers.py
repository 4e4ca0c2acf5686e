"""Writers: a table to CSV, Parquet or JSON, always atomically (a temp file beside the target, then rename).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import InputError

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
