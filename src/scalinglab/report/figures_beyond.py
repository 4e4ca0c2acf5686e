"""Figures for the results beyond pre-training loss, in the shared style and with both backends
(``backend="matplotlib"`` returns a matplotlib ``Figure``, ``backend="plotly"`` a Plotly ``Figure``):

* :func:`emergence_plot` — every metric vs scale (``scalinglab.emergence.analyze_emergence``), the straight
  line and the broken line, the knee with its bootstrap interval, and the sharp/smooth verdict;
* :func:`coverage_plot` — coverage vs samples per problem with the fitted exponentiated power law
  ``c(k) = exp(a·k^b)`` (``scalinglab.testtime.fit_coverage``), its prediction band and the extrapolation region;
* :func:`passk_plot` — unbiased pass@k curves from per-problem sample counts;
* :func:`tradeoff_plot` — the training vs test-time compute frontier (``scalinglab.testtime.plan_tradeoff``);
* :func:`downstream_plot` — two-step downstream prediction (``scalinglab.downstream``): task loss vs compute,
  accuracy vs task loss with its floor and ceiling, and the predicted accuracy vs compute with intervals;
* :func:`bnsl_plot` — a broken neural scaling law (``scalinglab.bnsl.select_bnsl``) with its breaks and their
  intervals, against a plain power law;
* :func:`quality_plot` — effective-data multipliers of datasets (``scalinglab.quality.fit_quality``).

>>> from scalinglab.report import emergence_plot
>>> emergence_plot(analyze_emergence(generate_mirage())).savefig("mirage.png")   # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import InputError, ScalingLabError
from ._compute import quiet_predict
from ._render import FigureSpec, Layer, Panel, render
from ._style import ROLE, SERIES, axis_label, format_tick, sequential_colors, tick_kind

__all__ = ["emergence_plot", "coverage_plot", "passk_plot", "tradeoff_plot", "downstream_plot", "bnsl_plot",
           "quality_plot"]

#: metric -> (axis label with its unit, y scale)
_METRIC_LABELS = {
    "exact_match": ("exact match (fraction of examples)", "linear"),
    "token_accuracy": ("per-token accuracy (fraction of tokens)", "linear"),
    "logprob": ("log-probability of the answer (nats)", "linear"),
    "brier": ("Brier score (exact-match event, lower is better)", "linear"),
    "edit_distance": ("token edit distance (tokens, lower is better)", "linear"),
}
VERDICT_COLOR = {"sharp": ROLE["fit"], "smooth": ROLE["data"]}


def _grid(lo: float, hi: float, n: int = 160, point: float | None = None) -> np.ndarray:
    g = np.logspace(math.log10(lo), math.log10(hi), n)
    if point is not None and lo < point < hi:
        g = np.unique(np.concatenate([g, [point]]))
    return g


def _quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with floating-point warnings off (a grid may leave a law's domain: NaN)."""
    with np.errstate(all="ignore"):
        return fn(*args, **kwargs)


def _predict_band(fit: Any, level: float, **X) -> tuple[np.ndarray, np.ndarray] | None:
    """The fit's own prediction interval (parameters, noise and reach) at the grid points, or None."""
    try:
        p = quiet_predict(fit.predict, level=level, **{k: np.asarray(v, float) for k, v in X.items()})
        lo, hi = (np.ravel(np.asarray(b, float)) for b in p.interval)
    except (ScalingLabError, TypeError, ValueError, AttributeError):
        return None
    n = np.size(next(iter(X.values())))
    if lo.shape != (n,) or not np.isfinite(lo).any() or np.allclose(lo, hi):
        return None
    return lo, hi


def _fit_data(fit: Any) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """The (X, y) a FitResult was fitted on (``fit.data``), or None when it was not recorded."""
    d = getattr(fit, "data", None)
    if not isinstance(d, dict) or "X" not in d or "y" not in d:
        return None
    try:
        X = {k: np.asarray(v, float) for k, v in d["X"].items()}
        return X, np.asarray(d["y"], float)
    except (TypeError, ValueError):
        return None


def _add_curve(panel: Panel, x: np.ndarray, y: np.ndarray, x_end: float, name: str, color: str,
               extrapolated: str = "extrapolated") -> None:
    inside = x <= x_end * (1 + 1e-12)
    outside = x >= x_end * (1 - 1e-12)
    panel.add(Layer("line", x[inside], y[inside], name=name, color=color))
    if outside.sum() > 1:
        panel.add(Layer("line", x[outside], y[outside], name=extrapolated, color=color, dash="dash"))


# =========================================================================== emergence
def emergence_plot(report: Any, *, metrics: list[str] | None = None, backend: str = "matplotlib"):
    """Each metric vs scale (log x), one panel per metric: the models, the straight line in log-scale (the
    smooth model), the broken line (the breakpoint model), the knee as a vertical line with its bootstrap
    interval shaded, and the verdict (SHARP / smooth) with ΔAICc and the slope ratio in the title.

    Raises
    ------
    InputError
        If ``report`` is not an `EmergenceReport` or a requested metric is not in it.
    """
    mets = getattr(report, "metrics", None)
    scales = np.asarray(getattr(report, "scales", []), float)
    if not isinstance(mets, dict) or not mets or scales.size == 0:
        raise InputError("emergence_plot needs an EmergenceReport (scalinglab.emergence.analyze_emergence)")
    names = [m for m in (metrics or mets) if m in mets]
    if not names:
        raise InputError(f"no such metric; have {', '.join(mets)}")
    col = str(getattr(report, "scale_column", "scale"))
    xkind = tick_kind(col) if tick_kind(col) != "plain" else "count"
    level = float(getattr(report, "level", 0.8))
    lx = np.log10(scales)
    xg = np.linspace(lx.min(), lx.max(), 200)
    panels = []
    for m in names:
        a = mets[m]
        y = np.asarray(a.values, float)
        ylabel, yscale = _METRIC_LABELS.get(m, (m, "linear"))
        verdict = str(a.verdict)
        color = VERDICT_COLOR.get(verdict, ROLE["data"])
        p = Panel(title=f"{m}: {verdict.upper() if verdict == 'sharp' else verdict}", xlabel=axis_label(col),
                  ylabel=ylabel, xscale="log", yscale=yscale, xkind=xkind)
        ok = np.isfinite(y)
        models = list(getattr(report, "models", []))
        hover = [f"model: {models[i] if i < len(models) else i}\n{col} = {format_tick(scales[i], xkind)}\n"
                 f"{m} = {y[i]:.4g}" for i in np.flatnonzero(ok)]
        p.add(Layer("scatter", scales[ok], y[ok], name="models", color=color, size=5.5, hover=hover))
        line = a.line
        p.add(Layer("line", 10 ** xg, line["intercept"] + line["slope_per_decade"] * xg,
                    name="smooth: straight line in log-scale", color=ROLE["ideal"], dash="dot", width=1.2))
        br = a.broken
        yb = br["y0"] + np.where(xg < br["knee"], br["slope_before"], br["slope_after"]) * (xg - br["knee"])
        p.add(Layer("line", 10 ** xg, yb, name="breakpoint: broken line", color=color, width=1.6))
        ki = tuple(float(v) for v in a.knee_scale_interval)
        if all(math.isfinite(v) for v in ki) and ki[1] > ki[0]:
            p.add(Layer("region", ki[0], ki[1], name=f"knee {level:.0%} interval", color=color, gid="knee-interval"))
        p.add(Layer("vline", x=float(a.knee_scale), name="knee", color=color, dash="dash", gid="knee",
                    width=1.4))
        p.note = (f"knee {format_tick(a.knee_scale, xkind)} [{format_tick(ki[0], xkind)}, "
                  f"{format_tick(ki[1], xkind)}]; ΔAICc {a.delta_aicc:.1f}; slope ratio {a.slope_ratio:.3g}")
        panels.append(p)
    spec = FigureSpec(title="Emergence: sharp or smooth?", panels=panels, ncols=min(3, len(panels)),
                      panel_size=(4.6, 3.7), note=str(getattr(report, "summary", "")), legend="figure",
                      meta={"knees": {m: float(mets[m].knee_scale) for m in names}})
    return render(spec, backend)


# =========================================================================== test-time
def coverage_plot(fit: Any, *, level: float | None = None, extend: float = 100.0, until: float | None = None,
                  backend: str = "matplotlib"):
    """Coverage (fraction of problems solved by any of k samples) vs samples per problem k: the measured
    points, the fitted exponentiated power law ``c(k) = exp(a·k^b)``, its prediction interval band, and the
    extrapolation region from the largest measured k to ``extend``× beyond it (or ``until``).

    Raises
    ------
    InputError
        If ``fit`` is not a coverage fit (law in k) or records no data range.
    """
    law = getattr(fit, "law", None)
    if law is None or tuple(law.variables) != ("k",):
        raise InputError("coverage_plot needs the FitResult of scalinglab.testtime.fit_coverage (law in k)")
    level = float(level if level is not None else getattr(fit, "level", 0.8))
    data = _fit_data(fit)
    kr = (getattr(fit, "data_ranges", {}) or {}).get("k")
    if kr is None and data is None:
        raise InputError("the coverage fit records no data range: cannot tell where extrapolation starts")
    kmin, kmax = (float(kr[0]), float(kr[1])) if kr is not None else (float(data[0]["k"].min()),
                                                                      float(data[0]["k"].max()))
    kend = max(until or 0.0, kmax * extend)
    grid = _grid(max(kmin / 1.5, 1.0), kend, point=kmax)
    curve = np.ravel(_quiet(law.evaluate, np.asarray(fit.theta, float), {"k": grid}))
    p = Panel(title="Coverage vs samples per problem", xlabel="samples per problem k (samples)",
              ylabel="coverage (fraction of problems solved)", xscale="log", yscale="linear", xkind="count")
    band = _predict_band(fit, level, k=grid)
    if band is not None:
        p.add(Layer("band", grid, band[0], y2=band[1], name=f"{level:.0%} prediction interval", color=ROLE["band"]))
    if data is not None:
        p.add(Layer("scatter", data[0]["k"], data[1], name=f"measured (n={len(data[1])})", color=ROLE["data"]))
    par = getattr(fit, "params", {})
    name = "fit: c(k) = exp(a·k^b)"
    if {"a", "b"} <= set(par):
        name += f", a = {par['a']:.3g}, b = {par['b']:.3g}"
    _add_curve(p, grid, curve, kmax, name, ROLE["fit"], "fit, extrapolated")
    p.add(Layer("region", kmax, float(grid[-1]), name="extrapolation (beyond measured k)",
                color=ROLE["extrapolation"]))
    p.ylim = (0.0, 1.02) if np.nanmax(curve) > 0.5 else None
    return render(FigureSpec(panels=[p], panel_size=(6.4, 4.4), meta={"data_max": kmax}), backend)


def passk_plot(counts: Any, *, ks=None, backend: str = "matplotlib"):
    """Unbiased pass@k (Chen et al. 2021) vs k, averaged over problems: ``counts`` is ``(n, c)`` (per-problem
    sample and correct counts) or a mapping ``name -> (n, c)`` for several models or settings.

    Raises
    ------
    InputError
        If ``counts`` holds no (n, c) per-problem count pairs.
    """
    from ..testtime import coverage_curve

    series = counts if isinstance(counts, dict) else {"pass@k": counts}
    if not series:
        raise InputError("passk_plot needs (n, c) per-problem counts")
    colors = sequential_colors(len(series))
    p = Panel(title="pass@k vs samples", xlabel="samples per problem k (samples)",
              ylabel="pass@k (fraction of problems solved)", xscale="log", yscale="linear", xkind="count")
    for (name, nc), color in zip(series.items(), colors, strict=True):
        try:
            n, c = nc
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected a pair (n, c) of per-problem counts") from None
        kk, cov = coverage_curve(n, c, ks)
        p.add(Layer("line", kk, cov, name=str(name), color=color))
        p.add(Layer("scatter", kk, cov, name=str(name), color=color, size=4, legend=False,
                    hover=[f"{name}\nk = {int(a)}\npass@k = {b:.4f}" for a, b in zip(kk, cov, strict=True)]))
    p.ylim = (0.0, 1.02)
    return render(FigureSpec(panels=[p], panel_size=(6.0, 4.2), meta={"n_series": len(series)}), backend)


def tradeoff_plot(plan: Any, *, backend: str = "matplotlib"):
    """Training vs test-time compute at a fixed total budget: for each number of samples per query k, the
    best accuracy (left) and the model size and training tokens that reach it (right); the optimum starred.

    Raises
    ------
    InputError
        If ``plan`` is not a `TradeoffPlan` with a frontier.
    """
    d = plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)
    rows = d.get("frontier") or []
    if not rows:
        raise InputError("tradeoff_plot needs a TradeoffPlan (scalinglab.testtime.plan_tradeoff) with a frontier")
    k = np.array([r["samples"] for r in rows], float)
    acc = np.array([r["accuracy"] for r in rows], float)
    best = d.get("best") or rows[int(np.nanargmax(acc))]
    total = d.get("total_flops")
    p1 = Panel(title="Best accuracy per samples per query", xlabel="samples per query k (samples)",
               ylabel="accuracy (coverage of k samples, fraction)", xscale="log", xkind="count")
    hover = [f"k = {int(r['samples'])}\nN = {format_tick(r['params'], 'count')} parameters\n"
             f"D = {format_tick(r['tokens'], 'count')} tokens\naccuracy = {r['accuracy']:.4f}\n"
             f"inference share {r.get('inference_share', math.nan):.0%}" for r in rows]
    p1.add(Layer("line", k, acc, name="frontier (best model size per k)", color=ROLE["fit"]))
    p1.add(Layer("scatter", k, acc, name="k", color=ROLE["fit"], size=4, legend=False, hover=hover))
    p1.add(Layer("scatter", [best["samples"]], [best["accuracy"]], name=f"optimum: k = {int(best['samples'])}",
                 color=ROLE["plan"], marker="*", size=11))
    p2 = Panel(title="Model size and training tokens at each k", xlabel="samples per query k (samples)",
               ylabel="parameters N / training tokens D (count)", xscale="log", yscale="log", xkind="count",
               ykind="count")
    p2.add(Layer("line", k, [r["params"] for r in rows], name="parameters N", color=SERIES[0]))
    p2.add(Layer("line", k, [r["tokens"] for r in rows], name="training tokens D", color=SERIES[2], dash="dash"))
    p2.add(Layer("vline", x=float(best["samples"]), name="optimum", color=ROLE["plan"], dash="dot"))
    note = "C = 6ND (training) + 2N per generated token (inference)"
    if isinstance(total, int | float):
        note = f"total compute {format_tick(total, 'flops')} FLOPs; " + note
    spec = FigureSpec(title="Train-time vs test-time compute", panels=[p1, p2], ncols=2, panel_size=(5.2, 4.0),
                      note=note, meta={"best_samples": best["samples"]})
    return render(spec, backend)


# =========================================================================== downstream
def _downstream_parts(result: Any):
    res = getattr(result, "result", result)  # DownstreamSelection -> its fitted predictor
    return res


def downstream_plot(result: Any, *, at=None, level: float = 0.8, extend: float = 30.0, backend: str = "matplotlib"):
    """Downstream prediction. For a two-step result (``TwoStepPredictor(...).fit``): step 1 task loss vs
    compute, step 2 accuracy vs task loss with the floor and ceiling, and the predicted accuracy vs compute
    with its interval band; for a plain sigmoid result: accuracy vs compute. ``at``: scales (FLOPs, or the
    fitted scale column) to mark with their predictions and intervals.

    Raises
    ------
    InputError
        If ``result`` is not a downstream result, or a two-step result has more than one scale column.
    """
    res = _downstream_parts(result)
    at = [] if at is None else list(np.atleast_1d(np.asarray(at, float)))
    if hasattr(res, "step1") and hasattr(res, "step2"):
        return _two_step_plot(res, at, level, extend, backend)
    fit = getattr(res, "fit", None)
    if fit is None or not hasattr(fit, "law"):
        raise InputError("downstream_plot needs a TwoStepResult, SigmoidResult or DownstreamSelection")
    col = str(getattr(res, "column", "flops"))
    var = fit.law.variables[0]
    data = _fit_data(fit)
    xr = (getattr(fit, "data_ranges", {}) or {}).get(var)
    xmin, xmax = (float(xr[0]), float(xr[1])) if xr else (float(np.min(data[0][var])), float(np.max(data[0][var])))
    grid = _grid(xmin / 1.5, max([xmax * extend] + [1.5 * a for a in at]), point=xmax)
    p = Panel(title="Accuracy vs compute (sigmoid)", xlabel=axis_label(col), ylabel="accuracy (fraction)",
              xscale="log", xkind=tick_kind(col) if tick_kind(col) != "plain" else "count")
    pr = quiet_predict(res.predict, level=level, **{col: grid})
    p.add(Layer("band", grid, np.ravel(pr.interval[0]), y2=np.ravel(pr.interval[1]), color=ROLE["band"],
                name=f"{level:.0%} prediction interval"))
    if data is not None and var in data[0]:
        p.add(Layer("scatter", data[0][var], data[1], name="models", color=ROLE["data"]))
    _add_curve(p, grid, np.ravel(pr.value), xmax, f"fit: {fit.law.name}", ROLE["fit"], "fit, extrapolated")
    p.add(Layer("region", xmax, float(grid[-1]), name="extrapolation (beyond data)", color=ROLE["extrapolation"]))
    _mark_predictions(p, res, col, at, level)
    return render(FigureSpec(panels=[p], meta={"data_max": xmax}), backend)


def _mark_predictions(panel: Panel, res: Any, col: str, at: list, level: float, task_loss: bool = False) -> None:
    for a in at:
        pr = quiet_predict(res.predict, level=level, **{col: float(a)})
        if task_loss:
            y, (lo, hi) = pr.task_loss, pr.task_loss_interval
        else:
            y, (lo, hi) = pr.value, pr.interval
        panel.add(Layer("scatter", [a], [y], err_lo=[lo], err_hi=[hi], color=ROLE["plan"], marker="*", size=10,
                        name="prediction", legend=a == at[0],
                        hover=[f"{col} = {format_tick(a, 'flops')}\nprediction {y:.4g}\n"
                               f"{level:.0%} interval [{lo:.4g}, {hi:.4g}]"]))


def _two_step_plot(res: Any, at: list, level: float, extend: float, backend: str):
    s1, s2 = res.step1, res.step2
    cols = tuple(res.scale_columns)
    if len(cols) != 1:
        raise InputError("downstream_plot draws two-step results with one scale column (e.g. flops)")
    col = cols[0]
    var1 = s1.law.variables[0]
    d1, d2 = _fit_data(s1), _fit_data(s2)
    xr = (getattr(s1, "data_ranges", {}) or {}).get(var1)
    xmin, xmax = (float(xr[0]), float(xr[1])) if xr else (float(d1[0][var1].min()), float(d1[0][var1].max()))
    hi = max([xmax * extend] + [1.5 * a for a in at])
    grid = _grid(xmin / 1.5, hi, point=xmax)
    xkind = tick_kind(col) if tick_kind(col) != "plain" else "count"
    loss_label = f"task loss: {res.loss}"
    acc_label = f"accuracy: {res.accuracy}"
    # step 1
    p1 = Panel(title="Step 1: task loss vs compute", xlabel=axis_label(col), ylabel=loss_label, xscale="log",
               yscale="log", xkind=xkind)
    band = _predict_band(s1, level, **{var1: grid})
    if band is not None:
        p1.add(Layer("band", grid, band[0], y2=band[1], name=f"{level:.0%} prediction interval", color=ROLE["band"]))
    if d1 is not None:
        p1.add(Layer("scatter", d1[0][var1], d1[1], name="models", color=ROLE["data"]))
    L1 = np.ravel(_quiet(s1.law.evaluate, s1.theta, {var1: grid}))
    _add_curve(p1, grid, L1, xmax, f"fit: {s1.law.name}", ROLE["fit"], "fit, extrapolated")
    p1.add(Layer("region", xmax, float(grid[-1]), name="extrapolation (beyond data)", color=ROLE["extrapolation"]))
    _mark_predictions(p1, res, col, at, level, task_loss=True)
    # step 2
    p2 = Panel(title="Step 2: accuracy vs task loss", xlabel=loss_label, ylabel=acc_label)
    var2 = s2.law.variables[0]
    Ls = [L1.min(), L1.max()]
    if d2 is not None:
        Ls += [float(np.min(d2[0][var2])), float(np.max(d2[0][var2]))]
    Lg = np.linspace(min(Ls) - 0.05 * np.ptp(Ls), max(Ls) + 0.05 * np.ptp(Ls), 200)
    band2 = _predict_band(s2, level, **{var2: Lg})
    if band2 is not None:
        p2.add(Layer("band", Lg, band2[0], y2=band2[1], name=f"{level:.0%} prediction interval", color=ROLE["band"]))
    if d2 is not None:
        p2.add(Layer("scatter", d2[0][var2], d2[1], name="models", color=ROLE["data"]))
    A2 = np.ravel(_quiet(s2.law.evaluate, s2.theta, {var2: Lg}))
    p2.add(Layer("line", Lg, A2, name=f"fit: {s2.law.name}", color=ROLE["fit"]))
    floor = float(np.ravel(_quiet(s2.law.evaluate, s2.theta, {var2: np.array([1e6])}))[0])
    ceiling = float(np.ravel(_quiet(s2.law.evaluate, s2.theta, {var2: np.array([-1e6])}))[0])
    meta = {"data_max": xmax}
    if math.isfinite(floor):
        p2.add(Layer("hline", y=floor, name=f"floor (chance) {floor:.3g}", color=ROLE["ideal"], dash="dot"))
        meta["floor"] = floor
    if math.isfinite(ceiling):
        p2.add(Layer("hline", y=ceiling, name=f"ceiling {ceiling:.3g}", color=ROLE["chinchilla"], dash="dot"))
        meta["ceiling"] = ceiling
    for a in at:
        pr = quiet_predict(res.predict, level=level, **{col: float(a)})
        p2.add(Layer("scatter", [pr.task_loss], [pr.value], err_lo=[pr.interval[0]], err_hi=[pr.interval[1]],
                     color=ROLE["plan"], marker="*", size=10, name="prediction", legend=a == at[0]))
    # composed
    p3 = Panel(title="Two-step prediction: accuracy vs compute", xlabel=axis_label(col), ylabel=acc_label,
               xscale="log", xkind=xkind)
    gsmall = grid[:: max(1, len(grid) // 60)]
    if gsmall[-1] != grid[-1]:
        gsmall = np.append(gsmall, grid[-1])
    pr = quiet_predict(res.predict, level=level, **{col: gsmall})
    p3.add(Layer("band", gsmall, np.ravel(pr.interval[0]), y2=np.ravel(pr.interval[1]), color=ROLE["band"],
                 name=f"{level:.0%} prediction interval"))
    if d1 is not None and d2 is not None and len(d1[1]) == len(d2[1]):
        p3.add(Layer("scatter", d1[0][var1], d2[1], name="models", color=ROLE["data"]))
    _add_curve(p3, gsmall, np.ravel(pr.value), xmax, "two-step prediction", ROLE["fit"], "fit, extrapolated")
    p3.add(Layer("region", xmax, float(grid[-1]), name="extrapolation (beyond data)", color=ROLE["extrapolation"]))
    _mark_predictions(p3, res, col, at, level)
    spec = FigureSpec(title="Downstream: two-step prediction", panels=[p1, p2, p3], ncols=3,
                      panel_size=(4.6, 3.8), legend="figure", meta=meta)
    return render(spec, backend)


# =========================================================================== BNSL and data quality
def bnsl_plot(selection: Any, *, xlabel: str = "scale x", ylabel: str = "metric y", extend: float = 3.0,
              backend: str = "matplotlib"):
    """A broken neural scaling law: the points, the chosen BNSL, a plain power law for contrast, each break
    as a vertical line with its bootstrap interval shaded, and the extrapolation region (log-log).

    Raises
    ------
    InputError
        If ``selection`` is not a `BNSLSelection`.
    """
    fit = getattr(selection, "fit", None)
    breaks = getattr(selection, "breaks", None)
    if fit is None or breaks is None:
        raise InputError("bnsl_plot needs a BNSLSelection (scalinglab.bnsl.select_bnsl)")
    data = _fit_data(fit)
    xr = (getattr(fit, "data_ranges", {}) or {}).get("x")
    xmin, xmax = (float(xr[0]), float(xr[1])) if xr else (float(data[0]["x"].min()), float(data[0]["x"].max()))
    grid = _grid(xmin / 1.3, xmax * extend, 240, point=xmax)
    level = float(getattr(selection, "level", 0.8))
    n = int(getattr(selection, "n_breaks", len(breaks)))
    p = Panel(title=f"Broken power law: {n} break{'s' if n != 1 else ''}", xlabel=xlabel, ylabel=ylabel,
              xscale="log", yscale="log", xkind=tick_kind(xlabel) if tick_kind(xlabel) != "plain" else "count")
    band = _predict_band(fit, level, x=grid)
    if band is not None:
        p.add(Layer("band", grid, band[0], y2=band[1], name=f"{level:.0%} prediction interval", color=ROLE["band"]))
    if data is not None:
        p.add(Layer("scatter", data[0]["x"], data[1], name=f"data (n={len(data[1])})", color=ROLE["data"]))
    yb = np.ravel(_quiet(fit.law.evaluate, fit.theta, {"x": grid}))
    _add_curve(p, grid, yb, xmax, "BNSL fit", ROLE["fit"], "BNSL, extrapolated")
    pw = getattr(selection, "power_fit", None)
    if pw is not None:
        p.add(Layer("line", grid, np.ravel(_quiet(pw.law.evaluate, pw.theta, {"x": grid})),
                    name="plain power law", color=ROLE["ideal"], dash="dot", width=1.2))
    colors = sequential_colors(max(3, len(breaks)))
    for i, b in enumerate(breaks):
        lo, hi = (float(v) for v in b.get("interval", (math.nan, math.nan)))
        c = colors[(i + 2) % len(colors)] if len(breaks) > 1 else ROLE["chinchilla"]
        if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
            p.add(Layer("region", max(lo, grid[0]), min(hi, grid[-1]), name=f"break {i + 1} {level:.0%} interval",
                        color=c, gid=f"break-interval-{i + 1}"))
        p.add(Layer("vline", x=float(b["location"]), name=f"break {i + 1} at {format_tick(b['location'], 'count')}",
                    color=c, dash="dash", gid=f"break-{i + 1}", width=1.4))
    p.add(Layer("region", xmax, float(grid[-1]), name="extrapolation (beyond data)", color=ROLE["extrapolation"]))
    p.note = str(getattr(selection, "reason", ""))
    return render(FigureSpec(panels=[p], panel_size=(6.6, 4.6),
                             meta={"breaks": [float(b["location"]) for b in breaks], "data_max": xmax}), backend)


def quality_plot(result: Any, *, backend: str = "matplotlib"):
    """Effective-data multiplier of each dataset relative to the reference (tokens of the reference one token
    of the dataset is worth), with its interval; the reference is 1 by definition.

    Raises
    ------
    InputError
        If ``result`` is not a `QualityResult`.
    """
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    mult = d.get("multipliers") or {}
    if not mult:
        raise InputError("quality_plot needs a QualityResult (scalinglab.quality.fit_quality)")
    names = list(mult)
    vals = np.array([float(mult[n]["value"]) for n in names])
    ivs = np.array([mult[n].get("interval") or [v, v] for n, v in zip(names, vals, strict=True)], float)
    ref = str(d.get("reference", names[0]))
    level = float(d.get("level", 0.8))
    p = Panel(title=f"Effective data multiplier vs {ref}", xlabel="dataset",
              ylabel=f"tokens of {ref} per token (×)", categories=[str(n) for n in names])
    p.add(Layer("bars", y=vals, err_lo=ivs[:, 0], err_hi=ivs[:, 1], name=f"multiplier ({level:.0%} interval)",
                color=SERIES[0]))
    p.add(Layer("hline", y=1.0, name=f"{ref} (reference) = 1", color=ROLE["ideal"], dash="dash"))
    return render(FigureSpec(panels=[p], panel_size=(max(5.0, 1.1 * len(names) + 2.5), 4.0)), backend)
