"""Problems found in a run table: one `DataError` per bad cell (``FILE:ROW:COLUMN: reason``), collected
into one error whose message lists the first ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._errors import DataError
from .schema import MAX_LISTED, MAX_PROBLEMS


def rows_text(rows, limit: int = 10) -> str:
    """Source row numbers for a message: the first ``limit`` of them, then ``...`` when there are more."""
    rows = [int(r) for r in rows]
    return ", ".join(map(str, rows[:limit])) + (", ..." if len(rows) > limit else "")


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
