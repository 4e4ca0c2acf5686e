"""`scalinglab validate` and `scalinglab convert`: check run tables and write them in canonical columns.

Library imports happen inside the commands so that `scalinglab --help` stays fast.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import (
    ColumnOpt,
    DropMissingLossOpt,
    DropMissingOpt,
    JsonOpt,
    command,
    emit_json,
    err,
    out,
    unusual_unit,
)

_COUNT_COLUMNS = ("params", "tokens", "flops", "unique_tokens")
#: a database URL as a path argument shows it (``postgresql+psycopg:/user:pw@host/db``: the path collapsed ``//``)
_URL = re.compile(r"^[A-Za-z][\w+.\-]+:/")


def _where(p: Any) -> str:
    parts = [p.file or "<table>", "" if p.row is None else str(p.row), p.column or ""]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return ":".join(parts)


def _report_problems(exc: Any, file: Path, as_json: bool) -> None:
    """Print every problem of a DataError (JSON on stdout, or one FILE:ROW:COLUMN line each on stderr)."""
    problems = exc.problems or [exc]
    total = getattr(exc, "n_problems", len(problems))
    if as_json:
        emit_json({"ok": False, "file": str(file), "n_errors": total,
                   "errors": [{"file": p.file, "row": p.row, "column": p.column, "reason": p.reason}
                              for p in problems]})
    else:
        for p in problems:
            err.print(f"{_where(p)}: {p.reason}", markup=False, highlight=False)
        if total > len(problems):
            err.print(f"... and {total - len(problems)} more", markup=False, highlight=False)
        rows = any(p.row is not None for p in problems)
        err.print(f"[bold red]error:[/] {total} problem{'s' if total != 1 else ''} in "
                  f"{_escape(str(file))}; nothing was loaded" + (f"; {_row_note(file)}" if rows else ""),
                  highlight=False)
    raise typer.Exit(2)


def _row_note(file) -> str:
    """What ROW counts in FILE:ROW:COLUMN for this kind of file."""
    suffix = Path(str(file).split("#")[0]).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "FILE:ROW:COLUMN gives the sheet's own row number, as the spreadsheet shows it"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "FILE:ROW:COLUMN counts records from 1 (a JSONL record's line)"
    if suffix in (".parquet", ".pq"):
        return "FILE:ROW:COLUMN counts rows from 1"
    return "FILE:ROW:COLUMN counts ROW from the first data row (row 1 is the line after the header)"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _load(file: Path, as_json: bool, column: list[str] | None = None, **kwargs: Any) -> Any:
    from .._errors import DataError, InputError
    from .._urls import mask_url
    from ..data import load_runs
    from ..data.schema import parse_column_map

    shown = mask_url(file)  # never the password of a store URL given here by mistake
    if _URL.match(str(file)):
        raise InputError(f"{shown}: a run store URL; this command reads a run table file (write one with "
                         "`scalinglab runs export --store URL -o runs.csv`, or give the URL to fit or report)")
    columns = parse_column_map(column) or None
    try:
        return load_runs(file, source_name=shown, columns=columns, **kwargs)
    except DataError as exc:
        _report_problems(exc, file, as_json)


def _fmt(column: str, value: float) -> str:
    from ..units import format_quantity

    if column in _COUNT_COLUMNS:
        return format_quantity(value)
    return f"{value:.6g}"


@command("validate", help="Check a run table (CSV, TSV, Parquet, JSONL, JSON, XLSX): exit 0 with a summary, or "
                          "exit 2 with one FILE:ROW:COLUMN: reason line per problem.")
def validate(
    file: Annotated[Path, typer.Argument(help="Run table file to check.", show_default=False)],
    require: Annotated[list[str] | None, typer.Option(
        "--require", help="Canonical column that must be present (repeat; default: loss).")] = None,
    allow_nonpositive_loss: Annotated[bool, typer.Option(
        "--allow-nonpositive-loss", help="Accept loss <= 0 (for metrics that are not log-fitted).")] = False,
    drop_duplicates: Annotated[bool, typer.Option(
        "--drop-duplicates", help="Drop exact duplicate rows instead of reporting them.")] = False,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    json: bool = JsonOpt,
) -> None:
    """Check a run table (CSV, TSV, Parquet, JSONL, JSON, XLSX): exit 0 with a summary, or exit 2 with one
    FILE:ROW:COLUMN: reason line per problem.
    """
    runs = _load(file, json, required=tuple(require) if require else ("loss",),
                 positive_loss=not allow_nonpositive_loss, drop_duplicates=drop_duplicates, column=column,
                 drop_missing_loss=drop_missing_loss, drop_missing=tuple(drop_missing or ()))
    summary = runs.summary()
    if json:
        summary.pop("source", None)
        emit_json({"ok": True, "file": str(file), **summary, "hash": runs.hash()})
        return
    from rich.table import Table

    rev = {v: k for k, v in runs.column_map.items()}
    table = Table(title=None, show_edge=False, header_style="bold")
    for name in ("column", "from", "type", "min", "max"):
        table.add_column(name, justify="right" if name in ("min", "max") else "left")
    ranges = runs.ranges()
    dtypes = runs.df.dtypes
    from ..data.schema import is_perplexity, scale_note

    for c in runs.columns:
        source = f"derived ({runs.flops_convention})" if c in runs.derived else rev.get(c, c)
        if c == "loss" and c not in runs.derived and is_perplexity(source):
            source = f"ln({source})"  # the loss read from a perplexity
        elif c in _COUNT_COLUMNS and c not in runs.derived and (note := scale_note(source)):
            source = f"{source} × {note[1]:g}"  # a count read in the unit its header names
        lo, hi = ranges.get(c, (None, None))
        table.add_row(_escape(c), _escape(source), str(dtypes[c]),
                      "" if lo is None else _fmt(c, lo), "" if hi is None else _fmt(c, hi))
    out.print(f"[bold green]ok[/] {_escape(str(file))}: {len(runs)} rows, {len(runs.columns)} columns; "
              + (f"FLOP convention: {_escape(str(runs.flops_convention))}" if runs.flops_convention else
                 "no FLOPs (neither a flops column nor params and tokens to derive it)")
              + (f"; derived: {', '.join(sorted(runs.derived))}" if runs.derived else "")
              + (f"; loss in {unit}" if (unit := unusual_unit(runs.loss_unit)) else ""),
              highlight=False)
    if summary["replicate_groups"]:
        k = summary["replicate_groups"]
        same = summary.get("replicate_identical") or 0
        out.print(f"{k} replicate group{'s' if k != 1 else ''} kept ({summary['replicate_rows']} rows that share "
                  f"{_escape(', '.join(runs.replicates()['columns']))}"
                  + (": replicate runs, used by the fit as they are)" if same < k else ")")
                  + (f"; run-to-run noise: sd of ln(loss) {summary['replicate_log_loss_sd']:.3g}"
                     if summary.get("replicate_log_loss_sd") is not None and same < k else ""), highlight=False)
        if same:
            out.print(f"[bold yellow]copies[/]: {same} of these group{'s' if k != 1 else ''} hold identical losses: "
                      "copies of one run, not independent seeds (was the seed applied?); a fit without weights counts "
                      "each such run once", highlight=False)
    if len(summary["datasets"]) > 1:
        first = next(iter(summary["datasets"]))
        out.print(f"{len(summary['datasets'])} datasets: " + _escape(", ".join(
            f"{k} ({v} runs)" for k, v in summary["datasets"].items())) + "; a fit pools them into one law unless "
            f"you select one ({_escape(f'--where dataset={first}')})", highlight=False)
    if summary["sweep"]["columns"]:
        from ..data.sweeps import describe_sweep

        flag = "--best-of " + ",".join(summary["sweep"]["columns"])
        out.print(f"hyperparameter sweep: {_escape(describe_sweep(summary['sweep']))}; a fit uses every run unless "
                  f"you keep the best of each point ({_escape(flag)})", highlight=False)
    if summary["unfinished"]["rows"]:
        from ..data.checkpoints import describe_unfinished

        info = summary["unfinished"]
        flag = f"--where {info['column']}={info['finished']}" if info["finished"] else None
        out.print(f"unfinished: {_escape(describe_unfinished(info))}; a fit uses them as if they had finished"
                  + (f" unless you keep the finished ones ({_escape(flag)})" if flag else ""), highlight=False)
    if summary["repetition"]["repeated"]:
        from ..data.table import describe_repetition

        out.print(f"repeated data: {_escape(describe_repetition(summary['repetition']))}; a law without unique "
                  f"tokens reads them as new data ({_escape('--law data-constrained')} models repetition)",
                  highlight=False)
    for slip in summary["unit_slips"]:
        out.print(f"[bold yellow]units[/]: {_escape(slip)}", highlight=False)
    if summary["allocation"]["single"]:
        from ..data.table import describe_allocation

        out.print(f"[bold yellow]one allocation[/]: {_escape(describe_allocation(summary['allocation']))}; a "
                  "law in N and D fitted to them takes its compute-optimal split from its form, not from these "
                  "runs (runs at other tokens per parameter, as an IsoFLOP sweep has, tell them apart)",
                  highlight=False)
    if summary["splits"]:
        from ..data.splits import describe_split, split_selection

        flag = f"--where {split_selection(summary['splits'])}"
        out.print(f"[bold yellow]split[/]: {_escape(describe_split(summary['splits']))}; a fit pools them into one "
                  f"law unless you select one ({_escape(flag)})", highlight=False)
    if summary["checkpoints"]["runs"]:
        from ..data.checkpoints import describe_checkpoints

        out.print(f"checkpoints: {_escape(describe_checkpoints(summary['checkpoints']))}; a fit uses every row "
                  "unless you keep the last checkpoint of each run (--last-checkpoint)", highlight=False)
    out.print(table)


@command("convert", help="Read a run table (CSV, TSV, Parquet, JSONL, JSON, XLSX), validate it and write it with "
                         "canonical columns as CSV or Parquet (chosen by OUT's extension).")
def convert(
    src: Annotated[Path, typer.Argument(metavar="IN", help="Run table to read.", show_default=False)],
    dst: Annotated[Path, typer.Argument(metavar="OUT", help="Output file: .csv or .parquet.",
                                        show_default=False)],
    drop_duplicates: Annotated[bool, typer.Option(
        "--drop-duplicates", help="Drop exact duplicate rows instead of reporting them.")] = False,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    json: bool = JsonOpt,
) -> None:
    """Read a run table (CSV, TSV, Parquet, JSONL, JSON, XLSX), validate it and write it with canonical columns
    as CSV or Parquet (chosen by OUT's extension). Exits with code 2 and one error line on bad input.
    """
    from .._errors import InputError

    suffix = dst.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"OUT must end in .csv or .parquet, got {dst.name!r}")
    runs = _load(src, json, column, drop_duplicates=drop_duplicates, drop_missing_loss=drop_missing_loss,
                 drop_missing=tuple(drop_missing or ()))
    if suffix == ".csv":
        runs.to_csv(dst)
    else:
        runs.to_parquet(dst)
    if json:
        emit_json({"ok": True, "in": str(src), "out": str(dst), "rows": len(runs), "columns": list(runs.columns),
                   "derived": sorted(runs.derived), "flops_convention": runs.flops_convention})
        return
    out.print(f"[bold green]wrote[/] {_escape(str(dst))}: {len(runs)} rows, columns "
              f"{_escape(', '.join(runs.columns))}", highlight=False)
