"""CLI: ``report`` (one self-contained HTML file). Library modules load inside the command."""

from __future__ import annotations

from typing import Annotated

import typer

from . import _common as selection  # the run selection options `fit` has (--where, --best-of, ...)
from ._common import JsonOpt, command, emit_json, out


@command("report", help="Write ONE self-contained HTML report (interactive plots, fit and plan tables, "
                        "warnings, provenance) that opens offline.")
def report_cmd(
    source: Annotated[str, typer.Argument(help="Run table (CSV, Parquet, JSON...) or run store "
                                          "(sqlite:///runs.db, runs.db, postgresql://...).")],
    output: Annotated[str, typer.Option("-o", "--output", help="HTML file to write.")] = "report.html",
    fit: Annotated[str | None, typer.Option("--fit", help="Fit JSON from `scalinglab fit --out`, or a preset "
                                            "name. Without it the report fits --law itself.")] = None,
    plan: Annotated[list[str] | None, typer.Option("--plan", help="Plan JSON from `scalinglab plan --json` "
                                                   "(repeatable).")] = None,
    law: Annotated[str, typer.Option("--law", help="Law to fit when no --fit is given: auto (default: the "
                                     "forecast stack `scalinglab fit` uses), a catalog name or an expression."
                                     )] = "auto",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for the automatic fit "
                                           "(interval bands).")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the automatic fit's bootstrap.")] = 0,
    no_fit: Annotated[bool, typer.Option("--no-fit", help="Do not fit anything; show the data only.")] = False,
    curves: Annotated[str | None, typer.Option("--curves", help="Step-level metrics (any run-table file: run_id, "
                                               "tokens or step, loss or val_bpb, under their usual aliases) "
                                               "for training-curve plots; read from the store automatically "
                                               "when SOURCE is one.")] = None,
    no_models: Annotated[bool, typer.Option("--no-models", help="Leave the notable models off the "
                                            "allocation plot.")] = False,
    predict: Annotated[list[str] | None, typer.Option("--predict", help="Point to predict with the fit, e.g. "
                                                      "'N=70B,D=1.4T' (repeatable): value, interval, "
                                                      "extrapolation factor and warnings.")] = None,
    backtest: Annotated[bool | None, typer.Option("--backtest/--no-backtest", help="Backtest the fit's law on "
                                                  "the runs (largest 30% by compute held out): coverage and error "
                                                  "by extrapolation factor. Default: only for tables of up to "
                                                  "500 runs.")] = None,
    title: Annotated[str, typer.Option("--title", help="Report title.")] = "Scaling-law report",
    where: list[str] | None = selection.WhereOpt,
    best_of: str | None = selection.BestOfOpt,
    drop_duplicates: bool = selection.DropDuplicatesOpt,
    column: list[str] | None = selection.ColumnOpt,
    drop_missing_loss: bool = selection.DropMissingLossOpt,
    drop_missing: list[str] | None = selection.DropMissingOpt,
    last_checkpoint: bool = selection.LastCheckpointOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Write ONE self-contained HTML report (interactive plots, fit and plan tables, warnings,
    provenance) that opens offline. Exits with code 2 and one error line on bad input.
    """
    import re

    from .._urls import mask_url
    from ..report._inputs import is_store, load_any_runs, store_curves
    from ..report._prepare import prepare
    from ..report.html import write_report

    # compute (read, fit, predict, backtest, hash), then draw; the runs first: an option a store refuses stops
    # the command before the store's curves are read
    runs = selection.select_runs(source, where, best_of, drop_duplicates, last_checkpoint, column,
                                 drop_missing_loss, drop_missing=drop_missing)
    curve_frame = None
    if curves:
        curve_frame = load_any_runs(curves)  # step-level metrics through the one reader (aliases, units)
    elif is_store(source):
        try:
            curve_frame = store_curves(source)
        except ImportError:
            curve_frame = None
    inputs = prepare(runs, fit=fit, plans=tuple(plan or ()), curves=curve_frame, law=law, auto_fit=not no_fit,
                     bootstrap=bootstrap, seed=seed, predictions=tuple(predict or ()),
                     backtest="auto" if backtest is None else backtest)
    chosen = ([f"--where {w}" for w in where or ()] + ([f"--best-of {best_of}"] if best_of else [])
              + ["--drop-missing-loss"] * bool(drop_missing_loss) + ["--drop-duplicates"] * bool(drop_duplicates)
              + ["--last-checkpoint"] * bool(last_checkpoint) + [f"--drop-missing {c}" for c in drop_missing or ()])
    if chosen:  # a reader of the report holds the file: say which of its rows the report is about
        import dataclasses

        n = len(runs) if hasattr(runs, "__len__") else None
        inputs = dataclasses.replace(inputs, notes=(*inputs.notes, (
            f"runs selected from {mask_url(source)} with {' '.join(chosen)}" + (f": {n} rows used" if n is not None else "")
            + "; the data hash is that of the selected rows (the CLI printed what each option left out)")))
    path = write_report(inputs=inputs, title=title, path=output, models=not no_models)
    text = path.read_text(encoding="utf-8")
    m = re.search(r'data-figures="(\d+)"', text)
    n_fig = int(m.group(1)) if m else 0
    n_warn = len(re.findall(r"<li>", text.split('id="warnings"', 1)[1].split("</section>", 1)[0])) \
        if 'id="warnings"' in text else 0
    if json_out:
        emit_json({"path": str(path), "figures": n_fig, "warnings": n_warn, "bytes": len(text.encode())})
    else:
        out.print(f"wrote [bold]{path}[/] ({len(text.encode()) / 1e6:.1f} MB, {n_fig} interactive figures, "
                  f"{n_warn} warning{'' if n_warn == 1 else 's'}); it opens offline", markup=True, highlight=False)
