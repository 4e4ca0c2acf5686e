"""The exception and warning hierarchy of scalinglab.

Every error a user can cause is a :class:`ScalingLabError`. Subclasses also inherit the builtin they
refine (as scikit-learn's ``NotFittedError(ValueError, AttributeError)`` does), so ``except ValueError``
keeps working for callers who do not know our types.
"""

from __future__ import annotations


class ScalingLabError(Exception):
    """Root of every error scalinglab raises on purpose. The CLI prints its message and exits with 2."""


class InputError(ScalingLabError, ValueError):
    """A value given by the user (argument, option, unit string) is invalid."""


class UnitError(InputError):
    """A quantity string such as ``"70B"`` could not be parsed, or is ambiguous."""


class DataError(InputError):
    """A run table is invalid. ``location`` is ``FILE:ROW:COLUMN`` (parts may be empty).

    Rows are 1-based data rows as a spreadsheet user sees them: for a file with a header line,
    row 1 is the first line after the header.
    """

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, problems: list[DataError] | None = None):
        self.reason = reason
        self.file = file
        self.row = row
        self.column = column
        self.problems = problems or []
        super().__init__(self._format())

    @property
    def location(self) -> str:
        """``FILE:ROW:COLUMN`` of the problem (``<table>`` when there is no file; empty fields when row/column unknown)."""
        return ":".join("" if p is None else str(p) for p in (self.file or "<table>", self.row, self.column))

    def _format(self) -> str:
        if self.problems:
            head = f"{len(self.problems)} problem(s) in {self.file or 'the run table'}:"
            return "\n".join([head] + [f"{p.location}: {p.reason}" for p in self.problems])
        return f"{self.location}: {self.reason}"


class LawError(ScalingLabError, ValueError):
    """A law is unknown, or its definition (parameters, bounds, variables) is invalid."""


class LawParseError(LawError):
    """A user-written law expression was rejected by the safe parser. ``position`` is a 0-based offset."""

    def __init__(self, message: str, *, expression: str = "", position: int | None = None):
        self.expression = expression
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"invalid law expression{where}: {message}")


class FitError(ScalingLabError, RuntimeError):
    """A fit cannot be made from the data given (too few runs, degenerate variables, no convergence)."""


class PlanError(ScalingLabError, ValueError):
    """A planning query is ill-posed (negative budget, law without N and D, unreachable target)."""


class CatalogError(ScalingLabError, KeyError):
    """An unknown entry was asked of a bundled catalog (hardware, notable models, presets)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StoreError(ScalingLabError, RuntimeError):
    """The run store cannot be opened, migrated or written."""


class DiskFullError(ScalingLabError, OSError):
    """A file (a checkpoint, a run table) could not be written because its disk or quota is full.

    The message names the path; the previous version of the file is left intact (writes are atomic)."""


class ScalingLabWarning(UserWarning):
    """Root of scalinglab's warnings."""


class ConvergenceWarning(ScalingLabWarning):
    """A fit finished but did not meet its convergence criteria."""


class ExtrapolationWarning(ScalingLabWarning):
    """A prediction reaches far beyond the fitted data."""


class DataWarning(ScalingLabWarning):
    """A run table is valid but probably not what the fit should see, e.g. several datasets pooled into one
    law. The message says how to select the runs meant (``RunTable.where``, the CLI's ``--where``)."""
