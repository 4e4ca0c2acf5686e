"""CLI: ``fit``, ``predict``, ``backtest``, ``compare`` (thin shells over ``scalinglab.fit``).

Library modules (numpy, scipy, pandas) are imported inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Annotated

import typer

from .._errors import InputError
from ._common import (
    BestOfOpt,
    ColumnOpt,
    DropDuplicatesOpt,
    DropMissingLossOpt,
    DropMissingOpt,
    JsonOpt,
    LastCheckpointOpt,
    WhereOpt,
    command,
    emit_json,
    out,
    select_runs,
    unusual_unit,
)

_LOSS_HELP = ("Objective: huber (on log-loss residuals, summed), ls (least squares), asymmetric (lower envelope) "
              "or auto (huber or asymmetric, whichever predicts the largest runs better in internal backtests).")


_FLOOR_HELP = "Fix the chance level of a sigmoid law (e.g. 0.25 for 4-way multiple choice)."


@contextlib.contextmanager
def _told():
    """The texts of the scalinglab warnings raised inside (a list, filled on exit), each still shown as the
    console script shows warnings: a JSON reader gets what a person reads on stderr. No filter is set."""
    from .._errors import ScalingLabWarning

    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        yield texts
    for w in caught:  # raised again where they were raised: the console (or a test's pytest.warns) sees them
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if issubclass(w.category, ScalingLabWarning):
            texts.append(str(w.message))


def _with_floor(law: str, floor: float | None):
    """``law`` with its chance level fixed at ``floor`` (a sigmoid law), or ``law`` as given without one.

    Raises
    ------
    InputError
        For ``--floor`` with the automatic law choice (it has no chance level).
    """
    if floor is None:
        return law
    from ..laws import get_law

    if law == "auto":
        raise InputError("--floor fixes the chance level of a sigmoid law: pass --law sigmoid (or another "
                         "accuracy law) with it")
    return get_law(law, floor=floor)


def _fmt(v) -> str:
    if isinstance(v, float) and math.isinf(v):  # an interval open to a parameter's bound (profile refits)
        return "∞" if v > 0 else "-∞"
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


_PLOT_HELP = "Also draw the result to this file (.png, .svg, .pdf or .html)."


def _save_plot(obj, path: str, file) -> str:
    """Draw ``obj`` with the report module, with the run table when it loads; returns the path written."""
    from .._errors import ScalingLabError
    from ..report import save_plot

    try:
        from ..data import load_runs

        runs = load_runs(file)
    except ScalingLabError:
        runs = None
    return str(save_plot(obj, path, runs=runs))


@command("fit", help="Fit a law to a run table: robust multi-start fit, optional bootstrap intervals.")
def fit_cmd(
    file: Annotated[str, typer.Argument(help="Run table (CSV, Parquet, JSON...): params, tokens, flops, loss.")],
    law: Annotated[str, typer.Option("--law", help="auto (default: for params + tokens tables the forecast stack "
                                     "-- Chinchilla with Huber or the asymmetric objective, or chinchilla-joint, "
                                     "chosen by internal backtests; else laws ranked by `compare`), a catalog name "
                                     "(chinchilla, power, ...), a preset (starts from its constants) or an "
                                     "expression such as 'E + A/N**alpha + B/D**beta'.")
                   ] = "auto",
    x: Annotated[str | None, typer.Option("--x", help="Column for the variable of a one-variable law "
                                          "(e.g. examples).")] = None,
    y: Annotated[str, typer.Option("--y", help="Column to fit (default loss, nats/token).")] = "loss",
    loss: Annotated[str, typer.Option("--loss", help=_LOSS_HELP)] = "auto",
    delta: Annotated[float, typer.Option("--delta", help="Huber threshold on log-loss residuals.")] = 1e-3,
    bootstrap: Annotated[int | None, typer.Option("--bootstrap", help="Bootstrap resamples over runs (0 = none; "
                                                  "intervals then come from the Gauss-Newton covariance; default "
                                                  "none, 100 for an accuracy sigmoid).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.")] = 0,
    level: Annotated[float, typer.Option("--level", help="Interval level, e.g. 0.8.")] = 0.8,
    out_path: Annotated[str | None, typer.Option("--out", "-o", help="Write the full fit (JSON) here for "
                                                 "`scalinglab predict`.")] = None,
    floor: Annotated[float | None, typer.Option("--floor", help=_FLOOR_HELP)] = None,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    where: list[str] | None = WhereOpt,
    best_of: str | None = BestOfOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    last_checkpoint: bool = LastCheckpointOpt,
    json_: bool = JsonOpt,
) -> None:
    """Fit a law to a run table: robust multi-start fit, optional bootstrap intervals. Exits with code 2 and one error line on bad input."""
    from ..fit import fit

    file = select_runs(file, where, best_of, drop_duplicates, last_checkpoint, column, drop_missing_loss,
                       required=(), drop_missing=drop_missing)

    law = _with_floor(law, floor)
    choice = None
    with _told() as told:  # the fit's warnings on stderr as always, and in --json's "warnings" too
        if law == "auto":
            from ..fit._auto import fit_auto

            res, choice = fit_auto(file, x=x, y=y, loss=loss, delta=delta, bootstrap=bootstrap or 0, seed=seed,
                                   level=level)
        else:  # --law sigmoid (--loss auto) takes the library's accuracy route inside fit (fit/_accuracy.py)
            res = fit(file, law, x=x, y=y, loss=loss, delta=delta, bootstrap=bootstrap, seed=seed, level=level)
    if out_path:
        res.to_json(out_path)
    summary = res.summary()
    summary["warnings"] = list(dict.fromkeys(told + list(summary.get("warnings") or [])))
    if choice is not None:
        summary["auto"] = choice
    if out_path:
        summary["out"] = str(out_path)
    if plot:
        summary["plot"] = _save_plot(res, plot, file)
    if json_:
        emit_json(summary)
        return
    from rich.table import Table

    unit = unusual_unit(res.loss_unit)
    t = Table(title=f"{res.law.name}: {res.law.formula}  ({res.n_points} runs, {res.loss.get('name')}"
              + (f"; loss in {unit}" if unit else "") + ")")
    t.add_column("param")
    t.add_column("value", justify="right")
    t.add_column(f"{res.level:.0%} interval", justify="right")
    for k, v in res.params.items():
        lo, hi = res.intervals.get(k, (math.nan, math.nan))
        t.add_row(k, _fmt(v), f"[{_fmt(lo)}, {_fmt(hi)}]")
    out.print(t)
    d = res.diagnostics
    starts = (f"{d.get('n_in_best_basin')} of {d.get('n_polished')} polished starts in the best basin "
              f"({d.get('method')}, {d.get('n_starts')} candidates)" if d.get("n_polished") is not None
              else f"method {d.get('method')}")
    out.print(f"objective {res.objective:.8g}; {starts}; noise (robust residual sd) {res.noise:.3g}; "
              f"status: {res.status}")
    for w in res.quality_warnings:
        if w not in told:  # said on stderr already where the fit raised it
            out.print(f"[yellow]warning:[/] {w}", highlight=False)
    cal = res.calibration or {}
    if cal.get("source") == "backtest":
        out.print(f"prediction intervals calibrated on these runs: {cal.get('n_cuts')} backtest cuts, "
                  f"{cal.get('n_predictions')} held-out predictions")
    elif cal.get("reason"):
        out.print(f"prediction intervals use the prior rule, set on other datasets, not calibrated on these runs "
                  f"({cal['reason']})")
    if "compute_optimal" in summary:
        co = summary["compute_optimal"]
        iv = {k: "[" + ", ".join("nan" if v is None else f"{float(v):.4f}" for v in co[f"{k}_interval"]) + "]"
              for k in ("a", "b")}
        out.print(f"compute-optimal exponents: a = {co['a']:.4f} {iv['a']}, b = {co['b']:.4f} {iv['b']}")
    oc = summary.get("objective_choice")
    if oc:
        sc = ", ".join(f"{k} {v:.3%}" for k, v in oc["scores"].items() if v is not None)
        if sc:
            out.print(f"objective: {oc['chosen']} (--loss auto, backtest score {sc}: {oc['criterion']})")
        else:  # no backtest cuts were scored (too few runs, or a weak trend)
            out.print(f"objective: {oc['chosen']} (--loss auto; no backtest cuts scored: "
                      f"{oc.get('reason') or 'too few runs'})")
        if oc.get("error_noise_ratio") is not None and oc.get("min_error_noise_ratio"):
            out.print(f"huber's backtest errors: {oc['error_noise_ratio']:.2g}x its run noise (asymmetric "
                      f"considered from {oc['min_error_noise_ratio']:g}x)")
    if choice is not None:
        obj = f" ({choice['objective']})" if choice.get("objective") else ""
        run_obj = f" ({choice['runner_up_objective']})" if choice.get("runner_up_objective") else ""
        out.print(f"--law auto chose {choice['law']}{obj} by backtest error (runner-up: "
                  f"{choice['runner_up']}{run_obj})")
        won = [r for r in choice.get("ranking", []) if r.get("wins") is not None]
        if won and choice.get("n_cuts") and choice.get("win_tolerance"):
            out.print(f"backtest cuts won (median and max error within {choice['win_tolerance'] - 1:.0%} of the "
                      "better bare Chinchilla fit's): "
                      + ", ".join(f"{r['law']} ({r['objective']}) {r['wins']}/{choice['n_cuts']}"
                                  + (f" ({r['error']})" if r.get("error") else "") for r in won))
        agree, need, first = choice.get("sign_agreement"), choice.get("min_sign_agreement"), choice.get("first_member")
        ratio, need_ratio = choice.get("error_noise_ratio"), choice.get("min_error_noise_ratio")
        if None not in (agree, need, ratio, need_ratio) and first and len(choice.get("ranking", [])) > 1:
            if choice.get("others_considered"):
                verdict = "the other members were considered"
            elif ratio >= need_ratio and (agree >= need or need <= 0.5):  # the gate opened, yet none was weighed
                verdict = f"the other members were not considered ({choice.get('reason') or 'too few cuts'})"
            else:
                verdict = "no sign of a misspecified law: the other members were not considered"
            signs = (f", erred the same way on {agree:.0%} of the cuts (from {need:.0%})" if need > 0.5 else "")
            out.print(f"{first[0]} ({first[1]})'s backtest errors: {ratio:.2g}x its run noise (other members "
                      f"considered from {need_ratio:g}x){signs}: {verdict}")
        fc = choice.get("forecast_change") or {}
        if "rel_difference" in fc:
            at = ", ".join(f"{k}={float(v):.3g}" for k, v in fc["at"].items())
            out.print(f"at {at}: the runner-up's forecast differs by {fc['rel_difference']:+.2%}")
    if out_path:
        out.print(f"wrote {out_path}")
    if plot:
        out.print(f"plot: {summary['plot']}")


@command("predict", help="Predict from a saved fit or a preset: N=70B D=1.4T (unit strings accepted).")
def predict_cmd(
    fit_or_preset: Annotated[str, typer.Argument(help="A fit JSON (from `fit --out`) or a preset name "
                                                 "(e.g. chinchilla-epoch).")],
    assignments: Annotated[list[str] | None, typer.Argument(help="VAR=VALUE pairs, e.g. N=70B D=1.4T or "
                                                            "examples=1e9.")] = None,
    level: Annotated[float | None, typer.Option("--level", help="Prediction-interval level (default: the "
                                                "fit's own, 0.8 unless it was fitted with another).")] = None,
    warn_factor: Annotated[float, typer.Option("--warn-factor", help="Warn when the point extrapolates more "
                                               "than this many times the largest fitted run's compute.")
                           ] = 100.0,
    json_: bool = JsonOpt,
) -> None:
    """Predict from a saved fit or a preset: N=70B D=1.4T (unit strings accepted). Exits with code 2 and one error line on bad input."""
    from ..fit import FitResult
    from ..units import parse_assignments

    res = FitResult.load(fit_or_preset)
    point = parse_assignments(" ".join(assignments or []), what="prediction point", example="N=70B D=1.4T")
    p = res.predict(level=level, warn_factor=warn_factor, warn=False, **point)
    d = p.to_dict()
    if json_:
        emit_json(d)
        return
    lo, hi = p.interval
    what = "loss" if p.loss is not None else "value"
    # no uncertainty known (a preset without standard errors): a band of zero width is no interval
    unit = f" {p.unit}" if p.unit else ""
    if f"{lo:.4f}" == f"{hi:.4f}":
        out.print(f"{what} = {p.value:.4f}{unit}   interval n/a (no parameter uncertainty known)", highlight=False)
    elif not (math.isfinite(lo) and math.isfinite(hi)) or (p.loss is not None and lo <= 0):
        out.print(f"{what} = {p.value:.4f}{unit}   interval n/a (see the warnings)", highlight=False)
    else:
        out.print(f"{what} = {p.value:.4f}   {p.level:.0%} interval [{lo:.4f}, {hi:.4f}]{unit}", highlight=False)
    ext = {k: v for k, v in d["extrapolation"].items() if isinstance(v, int | float) and not isinstance(v, bool)
           and k != "warn_factor"}
    if ext:
        out.print("extrapolation (x largest fitted): " + ", ".join(f"{k} {v:.3g}x" for k, v in ext.items()))
    for w in p.warnings:
        out.print(f"[yellow]warning:[/] {w}")


@command("backtest", help="Fit on the smaller runs, predict the largest: errors and interval coverage.")
def backtest_cmd(
    file: Annotated[str, typer.Argument(help="Run table.")],
    law: Annotated[str, typer.Option("--law", help="Catalog name, preset or expression; auto (the default): "
                                     "the forecast stack `scalinglab fit` uses by default, rechosen on each "
                                     "cut's smaller runs.")] = "auto",
    cutoff_frac: Annotated[float | None, typer.Option("--cutoff-frac", help="Fraction of the LARGEST runs held "
                                                      "out (ties kept together); one cut. Without it (and "
                                                      "without --cutoff-flops) the report pools the cuts "
                                                      "0.1..0.5.")] = None,
    cutoff_flops: Annotated[float | None, typer.Option("--cutoff-flops", help="Hold out runs at or above this "
                                                       "compute instead (FLOPs).")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Pool backtests over cutoffs 0.1..0.5 (the default "
                                        "without --cutoff-frac/--cutoff-flops).")] = False,
    by: Annotated[str, typer.Option("--by", help="Order runs by flops (default), a variable or a column.")
                  ] = "flops",
    x: Annotated[str | None, typer.Option("--x", help="Variable column of a one-variable law.")] = None,
    y: Annotated[str, typer.Option("--y", help="Column to predict.")] = "loss",
    loss: Annotated[str, typer.Option("--loss", help=_LOSS_HELP + " Default auto: the backtest measures "
                                      "what `scalinglab fit` does.")] = "auto",
    delta: Annotated[float, typer.Option("--delta", help="Huber threshold.")] = 1e-3,
    floor: Annotated[float | None, typer.Option("--floor", help=_FLOOR_HELP)] = None,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP)] = None,
    where: list[str] | None = WhereOpt,
    best_of: str | None = BestOfOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    last_checkpoint: bool = LastCheckpointOpt,
    json_: bool = JsonOpt,
) -> None:
    """Fit on the smaller runs, predict the largest: errors and interval coverage. Exits with code 2 and one error line on bad input."""
    from ..fit import backtest, backtest_sweep

    file = select_runs(file, where, best_of, drop_duplicates, last_checkpoint, column, drop_missing_loss,
                       required=(), drop_missing=drop_missing)
    law = _with_floor(law, floor)

    if sweep or (cutoff_frac is None and cutoff_flops is None):
        bt = backtest_sweep(file, law, cutoff_fracs=(0.1, 0.2, 0.3, 0.4, 0.5), by=by, x=x, y=y, loss=loss,
                            delta=delta)
    else:
        bt = backtest(file, law, cutoff_frac=cutoff_frac, cutoff_flops=cutoff_flops, by=by, x=x, y=y, loss=loss,
                      delta=delta)
    d = bt.to_dict()
    if plot:
        d["plot"] = _save_plot(bt, plot, file)
    if json_:
        emit_json(d)
        return
    if plot:
        out.print(f"plot: {d['plot']}")
    cut = f"{bt.cutoff:.4g}" if not isinstance(bt.cutoff, list) else ", ".join(f"{c:.3g}" for c in bt.cutoff)
    out.print(f"{bt.law}: fitted {bt.n_train} runs, predicted {bt.n_predictions} (cut by {bt.by} at "
              f"{cut}), extrapolating up to {bt.max_extrapolation:.3g}x")
    if bt.law == "auto":  # which member the stack chose on each cut's smaller runs
        from collections import Counter

        chosen = {(p.get("cutoff"), p["law"]) for p in bt.points if "law" in p}  # one law per cut
        tally = Counter(law_name for _, law_name in chosen)
        out.print("chosen on the cuts: " + ", ".join(f"{k} {v}/{len(chosen)}" for k, v in tally.most_common()))
    out.print(f"median |rel error| {bt.median_rel_error:.2%}, max {bt.max_rel_error:.2%}, bias (median signed error) "
              f"{bt.bias:+.2%}")
    from ..fit._accuracy import ACCURACY_LAWS

    if bt.law.split(" ")[0] in ACCURACY_LAWS:  # an accuracy near chance: its relative error means little
        out.print(f"median |error| {bt.median_abs_error:.4g}, max {bt.max_abs_error:.4g} (in the accuracy's own "
                  f"unit, {y})")
    out.print("coverage of nominal intervals: " + ", ".join(f"{float(k):.0%}: {v:.0%}"
                                                           for k, v in bt.coverage.items()))
    if "0.8" in bt.misses:  # which side the misses fall on, and what the coverage costs in width
        m = bt.misses["0.8"]
        out.print(f"80% intervals: median width {bt.interval_width['0.8']:.2%} of the prediction, interval score "
                  f"{bt.interval_score['0.8']:.2%}; actual above the interval {m['above']:.0%}, below "
                  f"{m['below']:.0%}")
    from rich.table import Table

    t = Table(title="error by extrapolation factor (compute / largest fitted run)")
    for c in ("factor", "n", "median |rel err|", "max |rel err|", "80% coverage"):
        t.add_column(c, justify="right")
    for r in bt.by_extrapolation:
        t.add_row(f"{r['extrapolation_min']:g}-{r['extrapolation_max']:g}x", str(r["n_predictions"]),
                  f"{r['median_rel_error']:.2%}", f"{r['max_rel_error']:.2%}", f"{r['coverage']['0.8']:.0%}")
    out.print(t)


@command("compare", help="Rank laws by backtest error on a run table (automatic law selection).")
def compare_cmd(
    file: Annotated[str, typer.Argument(help="Run table.")],
    laws: Annotated[str, typer.Option("--laws", help="Comma-separated laws, e.g. chinchilla,kaplan-nd,bnsl; auto "
                                      "is the forecast stack `scalinglab fit` uses by default.")
                    ] = "chinchilla,kaplan-nd",
    x: Annotated[str | None, typer.Option("--x", help="Variable column of one-variable laws.")] = None,
    y: Annotated[str, typer.Option("--y", help="Column to predict.")] = "loss",
    loss: Annotated[str, typer.Option("--loss", help=_LOSS_HELP + " Default auto, as `scalinglab fit` (an "
                                      "accuracy law gets its own bounded least squares, as in `downstream`).")
                    ] = "auto",
    floor: Annotated[float | None, typer.Option("--floor", help=_FLOOR_HELP + " Applies to the sigmoid laws "
                                                "in --laws.")] = None,
    plot: Annotated[str | None, typer.Option("--plot", help=_PLOT_HELP + " JSON: 'plot' on every row.")] = None,
    where: list[str] | None = WhereOpt,
    best_of: str | None = BestOfOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    last_checkpoint: bool = LastCheckpointOpt,
    json_: bool = JsonOpt,
) -> None:
    """Rank laws by backtest error on a run table (automatic law selection). Exits with code 2 and one error line on bad input."""
    from ..fit import compare

    file = select_runs(file, where, best_of, drop_duplicates, last_checkpoint, column, drop_missing_loss,
                       required=(), drop_missing=drop_missing)
    chosen: str | list = laws
    if floor is not None:  # the chance level of every accuracy law named
        from ..fit._accuracy import ACCURACY_LAWS

        names = [n.strip() for n in laws.split(",") if n.strip()]
        if not any(n in ACCURACY_LAWS for n in names):
            raise InputError(f"--floor fixes the chance level of a sigmoid law: name one in --laws "
                             f"({', '.join(ACCURACY_LAWS)})")
        chosen = [_with_floor(n, floor) if n in ACCURACY_LAWS else n for n in names]
    rows = compare(file, chosen, x=x, y=y, loss=loss)
    if rows and all(r.get("error") for r in rows):  # nothing ranked: an error, not a table of failures
        from .._errors import FitError

        raise FitError("every law failed on every backtest cut: " + "; ".join(f"{r['law']}: {r['error']}"
                                                                             for r in rows))
    if plot:
        from ..report import save_plot

        path = str(save_plot(rows, plot))
        rows = [{**r, "plot": path} for r in rows]
        if not json_:
            out.print(f"plot: {path}")
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    t = Table(title="laws ranked by backtest error (fit small runs, predict large)")
    for c in ("rank", "law", "median |rel err|", "max |rel err|", "80% coverage", "note"):
        t.add_column(c)
    for r in rows:
        if r.get("error"):
            t.add_row("—", r["law"], "—", "—", "—", r["error"][:80])
        else:
            t.add_row(str(r["rank"]), r["law"], f"{r['median_rel_error']:.2%}", f"{r['max_rel_error']:.2%}",
                      f"{r['coverage']['0.8']:.0%}", f"the stack chose {r['chosen']}" if r.get("chosen") else "")
    out.print(t)


@command("suggest", help="Which run next: rank affordable runs by expected shrinkage of a target's interval "
                         "per FLOP.")
def suggest_cmd(
    file: Annotated[str, typer.Argument(help="Run table.")],
    target: Annotated[str, typer.Option("--target", help="'N=7B,D=140B' (loss of a run there) or "
                                        "'compute_optimal_N_at=1e23' (N_opt at that compute, FLOPs).")],
    law: Annotated[str, typer.Option("--law", help="Catalog name, preset or expression; default auto: the "
                                     "forecast stack `scalinglab fit` uses, so the interval is the one `predict` "
                                     "gives from `fit`'s result.")] = "auto",
    budget: Annotated[float | None, typer.Option("--budget", help="Most FLOPs one candidate run may cost "
                                                 "(default 10x the largest run, and under a tenth of the "
                                                 "target's compute).")] = None,
    candidates: Annotated[str | None, typer.Option("--candidates", help="Table of candidate runs (params, "
                                                   "tokens[, flops]); default: a grid around and beyond "
                                                   "the data.")] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level.")] = 0.8,
    top: Annotated[int, typer.Option("--top", help="How many candidates to list.")] = 10,
    rank: Annotated[str, typer.Option("--rank", help="per_flop (cheapest useful runs first), reduction (the "
                                      "most useful run within --budget first) or auto: reduction when --budget "
                                      "is given, else per_flop.")] = "auto",
    loss: Annotated[str, typer.Option("--loss", help=_LOSS_HELP + " Default auto, as `scalinglab fit`: the "
                                      "target's forecast is the fit's.")] = "auto",
    where: list[str] | None = WhereOpt,
    best_of: str | None = BestOfOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    column: list[str] | None = ColumnOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    last_checkpoint: bool = LastCheckpointOpt,
    json_: bool = JsonOpt,
) -> None:
    """Which run next: rank affordable runs by expected shrinkage of a target's interval per FLOP. Exits with code 2 and one error line on bad input."""
    from ..fit import suggest

    file = select_runs(file, where, best_of, drop_duplicates, last_checkpoint, column, drop_missing_loss,
                       required=(), drop_missing=drop_missing)
    s = suggest(file, law, target=target, candidates=candidates, budget=budget, level=level, top=top, loss=loss,
                rank=rank)
    d = s.to_dict()
    if json_:
        emit_json(d)
        return
    from rich.table import Table

    q = s.target.get("quantity", "loss")
    out.print(f"target {q} = {s.value:.4g} under {d.get('law', law)}; {level:.0%} interval width now "
              f"{s.width_before:.4g}")
    t = Table(title="candidate runs ranked by expected interval-width reduction"
                    + (" per FLOP" if s.rank == "per_flop" else
                       f" (at most {budget:.3g} FLOPs each)" if budget is not None else ""))
    for c in ("rank", "N (params)", "D (tokens)", "cost (FLOPs)", "width after", "reduction", "per 1e18 FLOPs"):
        t.add_column(c, justify="right")
    from ..units import format_quantity

    for r in s.candidates:
        t.add_row(str(r["rank"]), format_quantity(r.get("N", math.nan)), format_quantity(r.get("D", math.nan)),
                  f"{r['flops']:.3g}", f"{r['width_after']:.4g}",
                  f"{r['width_reduction']:.3g} ({r['width_reduction_frac']:.1%})", f"{r['reduction_per_eflop']:.3g}")
    out.print(t)
    if s.frontier:  # the cheapest run reaching each fifth of the largest reduction
        top_frac = s.frontier[-1]["width_reduction_frac"]
        shown = list(dict.fromkeys(next(i for i, r in enumerate(s.frontier) if r["width_reduction_frac"]
                                        >= k / 5 * top_frac - 1e-12) for k in range(1, 6)))
        out.print("cheapest run for each reduction (frontier: " + "; ".join(
            f"-{r['width_reduction_frac']:.1%}: N={format_quantity(r.get('N', math.nan))} "
            f"D={format_quantity(r.get('D', math.nan))}, {r['flops']:.3g} FLOPs"
            for r in (s.frontier[i] for i in shown)) + ")")


@command("hparams", help="The best learning rate (or batch size, ...) for a target scale, from a run table that "
                         "sweeps it: each point's optimum, a power law in N and D fitted to them, and its "
                         "prediction with an interval.")
def hparams_cmd(
    file: Annotated[str, typer.Argument(help="Run table that sweeps the hyperparameter (several values per (N, D)).")],
    column: Annotated[str, typer.Option("--column", help="The swept hyperparameter, e.g. lr or batch_size.")] = "lr",
    at: Annotated[str | None, typer.Option("--at", help="Target scale, e.g. 'N=7B,D=140B' (the law's "
                                           "variables; unit strings accepted).")] = None,
    y: Annotated[str, typer.Option("--y", help="What the best value minimises.")] = "loss",
    level: Annotated[float, typer.Option("--level", help="Interval level, e.g. 0.8.")] = 0.8,
    where: list[str] | None = WhereOpt,
    drop_duplicates: bool = DropDuplicatesOpt,
    drop_missing_loss: bool = DropMissingLossOpt,
    drop_missing: list[str] | None = DropMissingOpt,
    last_checkpoint: bool = LastCheckpointOpt,
    json_: bool = JsonOpt,
) -> None:
    """The best learning rate (or batch size, ...) for a target scale, from a run table that sweeps it. Exits with code 2 and one error line on bad input."""
    from ..fit import fit_optimum
    from ..units import parse_assignments

    point = parse_assignments(at, what="--at", example="N=7B,D=140B") if at else None
    runs = select_runs(file, where, drop_duplicates=drop_duplicates, last_checkpoint=last_checkpoint,
                       drop_missing_loss=drop_missing_loss, required=(), drop_missing=drop_missing)
    res, points = fit_optimum(runs, column, y=y, level=level)
    pred = None
    if point:
        from ..fit._hparams import optimum_point

        used, notes = optimum_point(res, points, point)
        pred = res.predict(level=level, warn=False, **used).to_dict()
        pred.pop("loss", None)  # the value is the hyperparameter, not a loss
        pred["warnings"] = notes + list(pred["warnings"])
    excluded = points.loc[~points["used"], "method"].value_counts().to_dict()
    name = res.conventions.get("y", column)
    if json_:
        emit_json({"column": name, "law": res.law.spec().get("expression", res.law.name), "params": res.params,
                   "intervals": res.intervals, "level": level, "n_points": int(points["used"].sum()),
                   "excluded": {k: int(v) for k, v in excluded.items()}, "noise": res.noise,
                   "points": points.to_dict(orient="records"), "prediction": pred})
        return
    law = res.law.spec().get("expression", res.law.name)
    out.print(f"best {name} = {law}: fitted to the optima of {int(points['used'].sum())} points"
              + (f" ({', '.join(f'{v} left out: {k}' for k, v in excluded.items())})" if excluded else ""),
              highlight=False)
    for k, v in res.params.items():
        lo, hi = res.intervals.get(k, (None, None))
        out.print(f"  {k} = {_fmt(v)}" + (f"  [{_fmt(lo)}, {_fmt(hi)}]" if lo is not None else ""), highlight=False)
    if pred:
        lo, hi = pred["interval"]
        out.print(f"at {at}: {name} = {_fmt(pred['value'])}, {level:.0%} interval [{_fmt(lo)}, {_fmt(hi)}]; "
                  f"extrapolation x{pred['extrapolation'].get('reach', float('nan')):.3g}", highlight=False)
        for w in pred["warnings"]:
            out.print(f"[yellow]warning:[/] {w}", highlight=False)
