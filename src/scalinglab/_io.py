"""The one atomic file writer: write to a temp file beside the target, then rename it over the target.

A reader sees either the previous file or the complete new one, never a half-written file; a failed or
interrupted write leaves the previous file intact and removes the temp file. Every writer in scalinglab
(run tables, fit results, reports, sweep specs) goes through `atomic_write`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import InputError

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temp file in the same folder, which then replaces
    ``path`` (keeping its permission bits, else ``0o644``); returns ``path`` as a `Path`.

    Raises
    ------
    InputError
        If the folder of ``path`` does not exist, or ``path`` is a folder (``-o out/`` where a file was meant).
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(f"cannot write {os.fspath(path)!r}: directory {os.fspath(target.parent)!r} does not exist")
    if target.is_dir():
        raise InputError(f"cannot write {os.fspath(path)!r}: it is a folder; give a file name in it (e.g. "
                         f"{os.fspath(target / 'runs.csv')!r})")
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


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write the string ``text`` to ``path`` atomically (see `atomic_write`); returns the path.

    Raises
    ------
    InputError
        If the folder of ``path`` does not exist.
    """
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding=encoding))
