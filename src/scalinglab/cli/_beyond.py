"""CLI: ``coverage`` (repeated-sampling coverage law), ``emergence`` (sharp vs smooth metrics),
``downstream`` (benchmark accuracy at a larger scale, method chosen by backtest), ``bnsl`` (broken power
law with the number of breaks chosen by backtest) and ``quality`` (effective-data multipliers).

Library modules are imported inside the commands so registering them costs nothing at start-up.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from .._errors import InputError
from ._common import (
    ColumnOpt,
    DropDuplicatesOpt,
    DropMissingLossOpt,
    DropMissingOpt,
    JsonOpt,
    WhereOpt,
    command,
    emit_json,
    err,
    out,
    select_runs,
)


def _f(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _floats(text: str, option: str) -> list[float]:
    from ..units import parse_quantity

    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise InputError(f"{option} is empty")
    return [parse_quantity(s, what=option) for s in items]


_PLOT_HELP = "Also draw the result to this file (.png, .svg, .pdf or .html)."


def _plot(obj, path: str, **kwargs) -> str:
    from ..report import save_plot

    return str(save_plot(obj, path, **kwargs))


def _frame(file: str):
    from ..downstream import load_frame

    return load_frame(file)


@command("coverage", help="Fit coverage vs samples (Brown et al. 2024, c(k) = exp(a k^b)) and extrapolate.")
def coverage_cmd(
    file: Annotated[str, typer.Argument(help="Table with one row per k: number of samples and coverage.")],
    k_col: Annotated[str, typer.Option("--k-col", help="Column with the number of samples per problem.")] = "k",
    c_col: Annotated[str, typer.Option("--c-col", help="Column with coverage (fraction solved, 0-1).")
                     ] = "coverage",
    extrapolate: Annotated[str, typer.Option("--extrapolate", help="Comma-separated k values to predict.")
                           ] = "1000,10000",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for intervals.")] = 200,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.8,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    json_: bool = JsonOpt,
) -> None:
    """Fit coverage vs samples (Brown et al. 2024, c(k) = exp(a k^b)) and extrapolate. Exits with code 2 and one error line on bad input."""
    import numpy as np

    from ..downstream import _column
    from ..testtime import COVERAGE_INTERVAL_NOTE, fit_coverage

    df, source = _frame(file)
    k = _column(df, k_col, source, "k")
    c = _column(df, c_col, source, "coverage")
    res = fit_coverage(k, c, bootstrap=bootstrap, level=level)
    targets = _floats(extrapolate, "--extrapolate")
    preds = []
    for kk in targets:
        p = res.predict(level=level, warn=False, k=kk)
        reach = float(kk / np.max(k))
        preds.append({"k": kk, "value": p.value, "interval": list(p.interval), "extrapolation": reach,
                      "warnings": list(p.warnings) + ([COVERAGE_INTERVAL_NOTE] if reach > 1 else [])})
    d = {"law": "coverage", "formula": res.law.formula, "params": res.params,
         "intervals": {n: list(v) for n, v in res.intervals.items()}, "level": level, "n_points": res.n_points,
         "k_range": [float(np.min(k)), float(np.max(k))], "predictions": preds}
    if plot:
        d["plot"] = _plot(res, plot, until=max(targets) * 1.5, level=level)
    if json_:
        emit_json(d)
        return
    out.print(f"coverage c(k) = exp(a * k**b): a = {_f(res.params['a'])} {_iv(res, 'a')}, "
              f"b = {_f(res.params['b'])} {_iv(res, 'b')}  ({res.n_points} points, k {_f(d['k_range'][0])}.."
              f"{_f(d['k_range'][1])})")
    for p in preds:
        out.print(f"  k = {_f(p['k'])}: coverage {p['value']:.4f}  {level:.0%} interval "
                  f"[{p['interval'][0]:.4f}, {p['interval'][1]:.4f}]  ({p['extrapolation']:.3g}x the largest k)")
    if any(p["extrapolation"] > 1 for p in preds):
        from rich.markup import escape

        err.print(f"[yellow]warning:[/] {escape(COVERAGE_INTERVAL_NOTE)}")


def _iv(res, name) -> str:
    lo, hi = res.intervals.get(name, (math.nan, math.nan))
    return f"[{_f(lo)}, {_f(hi)}]"


@command("emergence", help="Sharp or smooth? Metrics vs scale from per-example results (Wei 2022 vs Schaeffer 2023).")
def emergence_cmd(
    file: Annotated[str, typer.Argument(help="Per-example table: model, params (or flops), example_id, "
                                        "tokens_correct + n_tokens (or token_correct), optional exact, logprob, "
                                        "p_correct, edit_distance.")],
    scale: Annotated[str | None, typer.Option("--scale", help="Scale column (default: params, flops, ...).")
                     ] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples of examples for the "
                                           "knee interval.")] = 200,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.8,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    json_: bool = JsonOpt,
) -> None:
    """Sharp or smooth? Metrics vs scale from per-example results (Wei 2022 vs Schaeffer 2023). Exits with code 2 and one error line on bad input."""
    from ..emergence import analyze_emergence

    rep = analyze_emergence(file, scale=scale, bootstrap=bootstrap, level=level)
    plot_path = _plot(rep, plot) if plot else None
    if json_:
        emit_json({**rep.to_dict(), **({"plot": plot_path} if plot_path else {})})
        return
    from rich.table import Table

    t = Table(title=f"emergence vs log10({rep.scale_column}) over {len(rep.models)} models", header_style="bold")
    for c in ("metric", "verdict", "dAICc", "slope ratio", f"knee {rep.scale_column} ({level:.0%} interval)"):
        t.add_column(c)
    for m, a in rep.metrics.items():
        lo, hi = a.knee_scale_interval
        t.add_row(m, a.verdict, f"{a.delta_aicc:.1f}", f"{a.slope_ratio:.3g}",
                  f"{a.knee_scale:.3g} [{lo:.3g}, {hi:.3g}]")
    out.print(t)
    out.print(rep.summary)
    if plot_path:
        out.print(f"plot: {plot_path}")


@command("downstream", help="Predict benchmark accuracy at a larger scale (sigmoid in log-compute or two-step "
                             "via task loss, chosen by backtest).")
def downstream_cmd(
    file: Annotated[str, typer.Argument(help="Model table: a scale column (flops, or params + tokens), the "
                                        "accuracy column and optionally a task-loss column.")],
    y: Annotated[str, typer.Option("--y", help="Accuracy column, e.g. MMLU.")],
    at: Annotated[str, typer.Option("--at", help="Scale(s) to predict, comma-separated, e.g. 1e24,1e25.")],
    x: Annotated[str, typer.Option("--x", help="Scale column (FLOPs by default).")] = "flops",
    loss: Annotated[str | None, typer.Option("--loss", help="Task-loss / bits-per-byte column: enables "
                                             "the two-step predictor.")] = None,
    floor: Annotated[float | None, typer.Option("--floor", help="Chance accuracy, e.g. 0.25.")] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.8,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    where: list[str] | None = WhereOpt,
    json_: bool = JsonOpt,
) -> None:
    """Predict benchmark accuracy at a larger scale (sigmoid in log-compute or two-step via task loss,
    chosen by backtest). Exits with code 2 and one error line on bad input.
    """
    from ..downstream import select_downstream

    sel = select_downstream(file, y, x=x, loss=loss, floor=floor, where=where or ())
    targets = _floats(at, "--at")
    preds = [{x: v, **sel.predict(level=level, **{x: v}).to_dict()} for v in targets]
    d = {k: v for k, v in sel.to_dict().items() if k != "fit"}  # method, reason, scores, alternates
    d["predictions"] = preds
    if plot:
        d["plot"] = _plot(sel, plot, at=targets, level=level)
    if json_:
        emit_json(d)
        return
    out.print(f"method: {sel.method} ({sel.reason})")
    for p in preds:
        lo, hi = p["interval"]
        out.print(f"  {x} = {p[x]:.3g}: {y} {p['value']:.4f}  {level:.0%} interval [{lo:.4f}, {hi:.4f}]  "
                  f"({p['extrapolation']:.3g}x the largest model)")
    for w in dict.fromkeys(w for p in preds for w in p.get("warnings") or ()):  # as --json has them, once each
        out.print(f"[yellow]warning:[/] {w}", highlight=False)


@command("bnsl", help="Broken neural scaling law (Caballero 2023): pick 1..k breaks by backtest, report break "
                      "locations with intervals.")
def bnsl_cmd(
    file: Annotated[str, typer.Argument(help="Table with the scale column and the metric.")],
    x: Annotated[str, typer.Option("--x", help="Scale column.")],
    y: Annotated[str, typer.Option("--y", help="Metric column (positive, e.g. loss).")],
    max_breaks: Annotated[int, typer.Option("--max-breaks", help="Largest number of breaks to try.")] = 3,
    train_col: Annotated[str | None, typer.Option("--train-col", help="0/1 column: fit on rows with 1, "
                                                  "report the error on rows with 0.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Scale(s) to predict with the chosen BNSL, "
                                           "comma-separated, e.g. 1e6,3e6.")] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level of the breaks and predictions.")
                     ] = 0.8,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    json_: bool = JsonOpt,
) -> None:
    """Broken neural scaling law (Caballero 2023): pick 1..k breaks by backtest, report break locations
    with intervals and, with ``--at``, predictions with intervals. Exits with code 2 and one error line on
    bad input.
    """
    import numpy as np

    from ..bnsl import select_bnsl
    from ..downstream import _column

    df, source = _frame(file)
    xv = _column(df, x, source, "scale")
    yv = _column(df, y, source, "metric")
    mask = np.ones(len(xv), bool) if train_col is None else _column(df, train_col, source, "train flag") > 0
    sel = select_bnsl(xv[mask], yv[mask], max_breaks=max_breaks, level=level)
    d = sel.to_dict()
    if train_col is not None and (~mask).any():
        d["heldout"] = sel.evaluate(xv[~mask], yv[~mask])
    if at is not None:
        d["predictions"] = [{x: v, **sel.predict(v, level=level).to_dict()} for v in _floats(at, "--at")]
    if plot:
        d["plot"] = _plot(sel, plot, xlabel=x, ylabel=y)
    if json_:
        emit_json(d)
        return
    out.print(f"chosen: {d['n_breaks']} break(s) ({d['reason']})")
    for b in d["breaks"]:
        out.print(f"  break at {x} = {b['location']:.4g}  interval [{b['interval'][0]:.4g}, {b['interval'][1]:.4g}]")
    if "heldout" in d:
        h = d["heldout"]
        out.print(f"held-out rows: BNSL median |rel err| {h['bnsl_median_rel_error']:.2%}, "
                  f"power law {h['power_median_rel_error']:.2%}")
    for p in d.get("predictions", []):
        lo, hi = p["interval"]
        out.print(f"  {x} = {p[x]:.4g}: {y} {p['value']:.4g}  {level:.0%} interval [{lo:.4g}, {hi:.4g}]  "
                  f"({p['extrapolation']['reach']:.3g}x the largest {x})")
    for w in dict.fromkeys(w for p in d.get("predictions", []) for w in p.get("warnings") or ()):
        out.print(f"[yellow]warning:[/] {w}", highlight=False)


@command("quality", help="Effective-data multipliers of datasets from a joint fit with shared exponents.")
def quality_cmd(
    file: Annotated[str, typer.Argument(help="Run table with params, tokens, loss and a dataset column.")],
    dataset_col: Annotated[str, typer.Option("--dataset-col", help="Column naming the dataset of each run.")
                           ] = "dataset",
    reference: Annotated[str | None, typer.Option("--reference", help="Dataset the multipliers are relative to "
                                                  "(default: the first).")] = None,
    shared_e: Annotated[bool, typer.Option("--shared-e/--per-dataset-e", help="Share the irreducible loss E.")
                        ] = True,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for intervals.")] = 100,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    where: list[str] | None = WhereOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    json_: bool = JsonOpt,
) -> None:
    """Effective-data multipliers of datasets from a joint fit with shared exponents. Exits with code 2 and one error line on bad input."""
    from ..quality import fit_quality

    file = select_runs(file, where, None, drop_duplicates, False, column, drop_missing_loss,
                       drop_missing=drop_missing)
    res = fit_quality(file, dataset_col=dataset_col, reference=reference, shared_E=shared_e, bootstrap=bootstrap)
    d = res.to_dict()
    if plot:
        d["plot"] = _plot(res, plot)
    if json_:
        emit_json(d)
        return
    shared = ", ".join(f"{k} = {res.params[k]:.4g}" for k in ("alpha", "beta") if k in res.params)
    out.print(f"reference dataset: {res.reference}; shared exponents {shared}")
    for name, m in d["multipliers"].items():
        lo, hi = m["interval"]
        out.print(f"  {name}: worth {m['value']:.3g}x the tokens of {res.reference}  "
                  f"{res.level:.0%} interval [{lo:.3g}, {hi:.3g}]")
