"""CLI: ``scalinglab import mlflow PATH|URI`` and ``scalinglab import wandb FILE.csv`` → a run table file.
Logging runs to MLflow is library-only: :func:`scalinglab.interop.log_to_mlflow`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOpt, app, command, emit_json, err, out

import_app = typer.Typer(name="import", help="Import runs from other trackers (MLflow, W&B exports) into a "
                                             "run table that `scalinglab fit` reads.",
                         no_args_is_help=True, add_completion=False)
app.add_typer(import_app, name="import")


def _import_command(*args, **kwargs):
    """``@command`` on the ``import_app`` sub-app."""
    return command(*args, on=import_app, **kwargs)


OutOpt = Annotated[Path, typer.Option("-o", "--output", help="Run table to write (.csv, .tsv, .parquet, .json, "
                                                         ".jsonl or .xlsx, by extension).")]


def _write(df, output: Path) -> None:
    """Write the imported run table to ``output`` (format by suffix), creating its folder."""
    from ..data import write_frame

    output.parent.mkdir(parents=True, exist_ok=True)
    write_frame(df, output)


@_import_command("mlflow")
def import_mlflow(
    location: Annotated[str, typer.Argument(help="MLflow tracking store: a folder such as ./mlruns, or a "
                                                 "database URI such as sqlite:///mlflow.db.")],
    output: OutOpt = Path("runs.csv"),
    experiment: Annotated[str | None, typer.Option("--experiment", help="Only this experiment (name or id).")] = None,
    params_key: Annotated[str | None, typer.Option("--params-key", help="Run param holding N (parameters); "
                                                                       "default: params, n_params, …")] = None,
    tokens_key: Annotated[str | None, typer.Option("--tokens-key", help="Run param or metric holding D "
                                                                       "(tokens); default: tokens, n_tokens, …")] = None,
    loss_key: Annotated[str | None, typer.Option("--loss-key", help="Metric holding the loss; default: "
                                                                   "val_loss, eval_loss, …, then loss")] = None,
    curves: Annotated[bool, typer.Option("--curves", help="One row per logged step instead of per run.")] = False,
    json_: bool = JsonOpt,
) -> None:
    """Import MLflow runs (N, D, loss and optionally loss curves) into a run table."""
    from ..interop import read_mlflow

    df = read_mlflow(location, experiment=experiment, params_key=params_key, tokens_key=tokens_key,
                     loss_key=loss_key, curves=curves)
    skipped = df.attrs.get("skipped", [])
    if len(df) == 0:  # nothing to write: say what the runs hold instead of an empty table
        from .._errors import InputError

        first = (f"; e.g. run {skipped[0]['name'] or skipped[0]['run_id']} has no {', '.join(skipped[0]['missing'])} "
                 f"(params: {', '.join(skipped[0]['params']) or 'none'}; metrics: "
                 f"{', '.join(skipped[0]['metrics']) or 'none'})" if skipped else "")
        raise InputError(f"no MLflow run in {location} has parameters, tokens and a loss{first}; name them with "
                        "--params-key/--tokens-key/--loss-key")
    _write(df, output)
    for note in df.attrs.get("notes", []):
        err.print(f"[yellow]note:[/] {note}")
    if json_:
        emit_json({"path": str(output), "rows": len(df), "runs": int(df["run_id"].nunique()) if len(df) else 0,
                   "skipped": skipped})
        return
    out.print(f"wrote {len(df)} rows ({df['run_id'].nunique() if len(df) else 0} MLflow runs) to {output}")
    for s in skipped:
        err.print(f"[yellow]skipped[/] run {s['name'] or s['run_id']}: no {', '.join(s['missing'])} "
                  f"(params: {', '.join(s['params']) or 'none'}; see --params-key/--tokens-key/--loss-key)")


@_import_command("wandb")
def import_wandb(
    csv: Annotated[Path, typer.Argument(help="W&B run-history CSV export (Step, '<run> - <metric>', …).")],
    output: OutOpt = Path("runs.csv"),
    runs: Annotated[Path | None, typer.Option("--runs", help="W&B runs-table CSV export with N and D per run "
                                                             "(Name + config columns params/tokens).")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Metric to import (default: the loss).")] = None,
    tokens_per_step: Annotated[float | None, typer.Option("--tokens-per-step", min=0,
                                                          help="Tokens per optimizer step: tokens = Step × this.")] = None,
    final_only: Annotated[bool, typer.Option("--final-only", help="Only each run's last point.")] = False,
    json_: bool = JsonOpt,
) -> None:
    """Import a W&B run-history CSV export into a run table."""
    from ..interop import read_wandb_history

    df = read_wandb_history(csv, metric=metric, runs=runs, tokens_per_step=tokens_per_step, curves=not final_only)
    _write(df, output)
    missing = df.attrs.get("missing_params", [])
    if json_:
        emit_json({"path": str(output), "rows": len(df), "metric": df.attrs.get("metric"),
                   "runs": int(df["run_id"].nunique()) if len(df) else 0, "missing_params": missing})
        return
    out.print(f"wrote {len(df)} rows of {df.attrs.get('metric')!r} "
              f"({df['run_id'].nunique() if len(df) else 0} W&B runs) to {output}")
    if missing:
        how = (f"{runs} has no parameter count for them (a params column such as n_params or model.n_params, "
               "and their names in its Name column)" if runs is not None else
               "pass --runs with a W&B runs-table export (Name, params, tokens)")
        err.print(f"[yellow]warning:[/] no parameter count for {', '.join(missing)}: {how}")
