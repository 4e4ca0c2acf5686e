"""Shared plumbing for the CLI: the Typer app, error rendering, JSON output.

Every command is a thin shell: parse options, make ONE library call, render the result. Library modules
are imported inside the command functions so `scalinglab --help` and `scalinglab flops` start fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from .._errors import ScalingLabError
from .._json import to_jsonable

app = typer.Typer(
    name="scalinglab",
    help="A scaling-law laboratory: run tables, laws, robust fits, compute-optimal plans and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON to stdout instead of tables.")
WhereOpt = typer.Option(None, "--where", help="Only the runs where COLUMN=VALUE (repeatable; also a,b for any "
                        "of them, !=, >=, <=, >, <; unit strings: --where dataset=c4 --where params>=100M).")


BestOfOpt = typer.Option(None, "--best-of", help="Keep the best run (lowest loss) of each point among runs that "
                         "differ only in these hyperparameter columns, e.g. --best-of lr,batch_size (auto: the "
                         "swept columns `validate` finds).")


DropDuplicatesOpt = typer.Option(False, "--drop-duplicates", help="Drop exact duplicate rows (every column equal) "
                                 "instead of stopping at them.")


DropMissingLossOpt = typer.Option(False, "--drop-missing-loss", help="Leave out the rows whose loss cell is empty "
                                  "(runs that crashed or were not evaluated yet) instead of stopping at them.")


DropMissingOpt = typer.Option(None, "--drop-missing", metavar="COLUMN", help="Leave out the rows whose COLUMN cell "
                              "is empty instead of stopping at them (repeatable; e.g. --drop-missing tokens for "
                              "published models that do not state their training tokens; --drop-missing loss is "
                              "--drop-missing-loss).")


ColumnOpt = typer.Option(None, "--column", help="Read the table's column SRC as NAME (repeatable): --column "
                         "params_N=params --column final_val_loss=loss; NAME is a canonical column (params, tokens, "
                         "flops, loss, unique_tokens, dataset, step, run_id) or any name; SRC= drops the column.")


LastCheckpointOpt = typer.Option(False, "--last-checkpoint", help="Keep the last checkpoint (largest step) of each "
                                 "run of a per-checkpoint log: the point a law of N and D describes.")


def select_runs(file: str, where: list[str] | None, best_of: str | None = None, drop_duplicates: bool = False,
                last_checkpoint: bool = False, columns: list[str] | None = None, drop_missing_loss: bool = False,
                required: tuple[str, ...] = ("loss",), drop_missing: list[str] | None = None):
    """The run table ``file`` (or run store), or its rows matching ``--where``
    (:meth:`scalinglab.data.RunTable.where`), then the last checkpoint of each run (``--last-checkpoint``:
    :meth:`scalinglab.data.RunTable.final`), then the best run of each point over the ``--best-of`` columns
    (:meth:`scalinglab.data.RunTable.best_of`); a run store is selected by ``--where`` before its runs are
    checked; ``--drop-duplicates`` drops exact duplicate rows (of a file or a store) first, ``--drop-missing-loss`` leaves out its rows with an empty loss (``--drop-missing COLUMN``: with an
    empty COLUMN), and ``--column SRC=NAME`` reads its
    columns under other names (``columns=`` and the like of :func:`scalinglab.data.load_runs`). ``required``:
    the columns the table must have (none for commands that fit the column ``--y`` names and check it
    themselves, as they do when no selection is asked)."""
    from ..report._inputs import is_store, load_any_runs

    if not (where or best_of or drop_duplicates or last_checkpoint or columns or drop_missing_loss or drop_missing
            or is_store(file)):  # a run store (sqlite:///runs.db, runs.db, postgresql://...) is read here
        return file
    from ..data.schema import parse_column_map

    store = is_store(file)  # a store applies --where before checking its runs (a problem elsewhere stops nothing)
    runs = load_any_runs(file, drop_duplicates=drop_duplicates, columns=parse_column_map(columns) or None,
                         drop_missing_loss=drop_missing_loss, required=required, drop_missing=tuple(drop_missing or ()),
                         where=tuple(where or ()) if store else ())
    if where and not store:
        runs = runs.where(*where)
    if last_checkpoint:
        n = len(runs)
        runs = runs.final()  # every row kept exactly when no run has more than one row
        if len(runs) == n:
            err.print(f"--last-checkpoint: all {n} rows kept: no run has more than one row (a run is told by a "
                      "run_id column, e.g. --column job=run_id, or by a planned-length column such as "
                      "total_steps beside step)", highlight=False)
        from ..data.checkpoints import short_of_plan

        short = short_of_plan(runs.df)
        if len(runs) < n or short:
            err.print(f"--last-checkpoint: {len(runs)} of {n} rows kept, the last checkpoint of each run"
                      + (f"; {short} of them stop short of the planned length (crashed or unfinished: part-way "
                         "through the schedule)" if short else ""), highlight=False)
    if best_of:
        cols = [c.strip() for c in best_of.split(",") if c.strip()]
        n = len(runs)
        runs = runs.best_of(*([] if cols == ["auto"] else cols))
        err.print(f"--best-of {best_of}: {len(runs)} of {n} runs kept, the best of each point (every seed of its "
                  "best setting)", highlight=False)
    return runs


def command(*args: Any, on: typer.Typer | None = None, **kwargs: Any) -> Callable:
    """Register a command on ``app`` (or on the sub-app ``on``, e.g. ``runs``) whose `ScalingLabError`s become
    one red line and exit code 2."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except ScalingLabError as exc:
                fail(str(exc))

        return (on or app).command(*args, **kwargs)(wrapper)

    return decorate


def say_error(message: str) -> None:
    """Print ``message`` as an error on stderr: ``error: <first line>``, the other lines as they are (user text
    never read as markup). The one error renderer of the CLI (`fail`, the console script's usage errors)."""
    from rich.markup import escape

    lines = str(message).splitlines() or [""]
    err.print(f"[bold red]error:[/] {escape(lines[0])}")
    for line in lines[1:]:
        err.print(line, markup=False)


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` as an error (`say_error`: no traceback) and exit with ``code``."""
    say_error(message)
    raise typer.Exit(code)


def unusual_unit(unit: str | None) -> str | None:
    """``unit`` when a loss is in a unit worth saying (bits/byte...), None for the default nats/token or none:
    what `fit`, `predict`, `plan` and `validate` add to their lines."""
    from ..data.schema import DEFAULT_LOSS_UNIT  # lazily: the CLI starts without the data area

    return unit if unit not in (None, DEFAULT_LOSS_UNIT) else None


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (one document, nothing else)."""
    sys.stdout.write(json.dumps(to_jsonable(data), indent=2) + "\n")
    sys.stdout.flush()
