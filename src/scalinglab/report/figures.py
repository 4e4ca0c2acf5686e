"""Figure functions: each returns a matplotlib ``Figure`` (``backend="matplotlib"``, the default; save it as
PNG/SVG/PDF) or a Plotly ``Figure`` (``backend="plotly"``, interactive), drawn from the same data.

>>> from scalinglab.report import loss_vs_compute
>>> fig = loss_vs_compute(runs, fit)                      # doctest: +SKIP
>>> fig.savefig("frontier.png")                           # doctest: +SKIP

Inputs are the library's own objects (RunTable, FitResult, Plan, backtest results) or plain pandas frames /
dicts with the same columns. FLOPs follow ``C = 6·N·D`` where compute is derived; every figure says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import InputError, ScalingLabError
from ..units import format_quantity
from ._compute import (
    chinchilla_allocation,
    isoflop_groups,
    kaplan_allocation,
    optimal_frontier,
    parabola_optimum,
    quiet_predict,
)
from ._inputs import (
    FitView,
    as_fit,
    as_frame,
    as_plan_dict,
    backtest_frame,
    column,
    comparison_frame,
    compute_of,
    run_labels,
)
from ._render import FigureSpec, Layer, Panel, render
from ._style import ROLE, SERIES, axis_label, format_tick, sequential_colors, tick_kind

__all__ = [
    "loss_vs_compute", "fit_curve", "isoflop_profiles", "compute_optimal", "residuals_plot",
    "bootstrap_plot", "multistart_plot", "fit_diagnostics", "backtest_plot", "law_comparison",
    "training_curves",
]


def _qf(v: float) -> str:
    return format_quantity(v) if math.isfinite(v) else "?"


def _hover_rows(df, C: np.ndarray | None, rows: np.ndarray, loss_col: str = "loss") -> list[str]:
    names = run_labels(df)
    N, D, L = column(df, "params"), column(df, "tokens"), column(df, loss_col)
    out = []
    for i in rows:
        parts = [f"run: {names[i]}"]
        if "dataset" in df.columns:
            parts.append(f"dataset: {df['dataset'].iloc[i]}")
        if N is not None:
            parts.append(f"N = {_qf(N[i])} parameters")
        if D is not None:
            parts.append(f"D = {_qf(D[i])} tokens")
        if C is not None:
            parts.append(f"C = {format_tick(C[i], 'flops')} FLOPs")
        if L is not None:
            parts.append(f"{loss_col} = {L[i]:.4g}")
        out.append("\n".join(parts))
    return out


def _loss_unit(runs: Any, df) -> str | None:
    unit = getattr(runs, "loss_unit", None)
    if isinstance(unit, str) and unit:  # (a DataFrame's attribute would be its column)
        return unit
    if df is not None and "loss_unit" in df.columns and df["loss_unit"].nunique() == 1:
        return str(df["loss_unit"].iloc[0])
    return None


def _band(fv: FitView, compute_fn, level: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Percentile band of ``compute_fn(theta_batch) -> (B, n)`` over the fit's bootstrap draws."""
    draws = fv.draws()
    if draws is None:
        return None
    vals = np.asarray(compute_fn(draws), float)
    q = (1 - level) / 2
    with np.errstate(all="ignore"):
        lo = np.nanquantile(vals, q, axis=0)
        hi = np.nanquantile(vals, 1 - q, axis=0)
    return lo, hi


def _prediction_band(fv: FitView, level: float, **X) -> tuple[np.ndarray, np.ndarray] | None:
    """The fit's own prediction interval (``FitResult.predict``: parameters, noise and extrapolation reach)
    at the given points; None when the fit object cannot predict or has no uncertainty."""
    predict = getattr(fv.obj, "predict", None)
    if predict is None:
        return None
    try:
        pred = quiet_predict(predict, level=level, **{k: np.asarray(v, float) for k, v in X.items()})
        lo, hi = (np.ravel(np.asarray(b, float)) for b in pred.interval)
    except (ScalingLabError, TypeError, ValueError, AttributeError):
        return None
    if lo.shape != np.shape(next(iter(X.values()))) or not np.isfinite(lo).any() or np.allclose(lo, hi):
        return None
    return lo, hi


def _split_at(x: np.ndarray, y: np.ndarray, x_end: float) -> tuple[tuple, tuple]:
    inside = x <= x_end * (1 + 1e-12)
    outside = x >= x_end * (1 - 1e-12)
    return (x[inside], y[inside]), (x[outside], y[outside])


def _grid_with(lo: float, hi: float, point: float | None, n: int = 160) -> np.ndarray:
    g = np.logspace(math.log10(lo), math.log10(hi), n)
    if point is not None and lo < point < hi:
        g = np.unique(np.concatenate([g, [point]]))
    return g


def _scalar(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _plan_points(plans) -> list[dict]:
    """Plans with one scalar compute (budget plans with a FLOP range are left to the tables)."""
    out = []
    for p in plans or ():
        d = as_plan_dict(p)
        c = next((_scalar(d.get(k)) for k in ("flops", "compute", "C") if _scalar(d.get(k)) is not None), None)
        n, t = _scalar(d.get("N_opt")), _scalar(d.get("D_opt"))
        if c is None and n and t:
            c = 6.0 * n * t
        if c is None:
            continue
        d["_compute"] = c
        for k in ("N_opt", "D_opt", "loss"):
            d[k] = _scalar(d.get(k))
        out.append(d)
    return out


def _interval(d: dict, key: str) -> tuple[float, float] | None:
    iv = (d.get("intervals") or {}).get(key)
    try:
        return float(iv[0]), float(iv[1])
    except (TypeError, ValueError, IndexError):
        return None


def _data_max_compute(fv: FitView | None, C: np.ndarray | None) -> float | None:
    if fv is not None and "C" in fv.data_ranges:
        return float(fv.data_ranges["C"][1])
    if C is not None and np.isfinite(C).any():
        return float(np.nanmax(C))
    if fv is not None and {"N", "D"} <= set(fv.data_ranges):
        return 6.0 * fv.data_ranges["N"][1] * fv.data_ranges["D"][1]
    return None


# =========================================================================== loss vs compute
def loss_vs_compute(runs: Any = None, fit: Any = None, *, level: float | None = None, extend: float = 30.0,
                    until: float | None = None, plans=(), backend: str = "matplotlib"):
    """Loss vs training compute (log-log): the runs, the fitted compute-optimal frontier
    ``L*(C) = min_N L(N, C/6N)`` with its bootstrap interval band, and the extrapolation region shaded from
    exactly the largest compute in the data (or the fit's compute range) onward.

    ``extend``: how far past the data to draw (factor on compute); ``until``: an explicit upper compute in
    FLOPs; ``plans``: plans whose predicted loss is placed on the frontier. ``level`` defaults to the fit's.

    Raises
    ------
    InputError
        If neither runs nor a fit is given, or the end of the fitted data cannot be told.
    """
    df = as_frame(runs)
    fv = as_fit(fit)
    if df is None and fv is None:
        raise InputError("loss_vs_compute needs runs, a fit, or both")
    level = level if level is not None else (fv.level if fv else 0.8)
    C, conv = compute_of(df)
    L = column(df, "loss")
    panel = Panel(title="Loss vs compute", xlabel=axis_label("flops"), ylabel=axis_label("loss",
                  loss_unit=_loss_unit(runs, df)), xscale="log", yscale="log", xkind="flops", ykind="plain")
    spec = FigureSpec(panels=[panel])
    notes = []
    if C is not None and L is not None:
        ok = np.isfinite(C) & np.isfinite(L) & (C > 0) & (L > 0)
        rows = np.flatnonzero(ok)
        sd = column(df, "loss_sd")  # a table's 'mean ± sd' losses (data.reshape.split_spreads): error bars
        bars = {}
        if sd is not None and np.any(np.isfinite(sd[ok]) & (sd[ok] > 0)):
            s = np.where(np.isfinite(sd[ok]) & (sd[ok] > 0), sd[ok], 0.0)
            bars = {"err_lo": np.maximum(L[ok] - s, L[ok] * 1e-3), "err_hi": L[ok] + s}
            notes.append("error bars: ± loss_sd, the spread the table gives with each loss")
        panel.add(Layer("scatter", C[ok], L[ok], name=f"runs (n={ok.sum()})", color=ROLE["data"], alpha=0.75,
                        size=4.5, hover=_hover_rows(df, C, rows), **bars))
        if conv:
            notes.append(f"compute derived as C = {conv}")
    elif df is not None:
        notes.append("runs lack compute (flops or params+tokens) or loss: data not drawn")
    cmax = _data_max_compute(fv, C)
    cmin = float(np.nanmin(C)) if C is not None and np.isfinite(C).any() else None
    if fv is not None and fv.data_ranges.get("C"):
        cmin = min(cmin or np.inf, fv.data_ranges["C"][0])
    plan_pts = _plan_points(plans)
    if fv is not None:
        if cmax is None:
            raise InputError("cannot tell where the fitted data ends: give the runs or a fit with data ranges")
        lo = (cmin or cmax / 1e3) / 1.5
        hi = max([cmax * extend, until or 0.0] + [1.5 * p["_compute"] for p in plan_pts])
        grid = _grid_with(lo, hi, cmax)
        curve = band = None
        band_name = f"{level:.0%} prediction interval"
        if fv.has_ND:
            curve, n_opt, d_opt = optimal_frontier(fv.evaluate, fv.theta, grid)
            band = _prediction_band(fv, level, N=n_opt, D=d_opt)
            if band is None:
                band = _band(fv, lambda th: optimal_frontier(fv.evaluate, th, grid)[0], level)
                band_name = f"{level:.0%} interval (bootstrap, parameters only)"
            frontier_name = "fit: compute-optimal frontier"
            notes.append("frontier: min over N of L(N, D = C/6N)")
        elif fv.variables == ("C",) or fv.columns.get(fv.variables[0]) == "flops" and len(fv.variables) == 1:
            var = fv.variables[0]
            curve = fv.evaluate(fv.theta, {var: grid})
            band = _prediction_band(fv, level, **{var: grid})
            if band is None:
                band = _band(fv, lambda th: fv.evaluate(th, {var: grid}), level)
                band_name = f"{level:.0%} interval (bootstrap, parameters only)"
            frontier_name = f"fit: {fv.name}"
        else:
            notes.append(f"law {fv.name!r} has no (N, D) or compute variable: no frontier drawn")
        if curve is not None:
            curve = np.ravel(curve)
            if band is not None:
                panel.add(Layer("band", grid, np.ravel(band[0]), y2=np.ravel(band[1]), color=ROLE["band"],
                                name=band_name))
            else:
                notes.append("no parameter uncertainty: no interval band (fit with bootstrap > 0)")
            (xi, yi), (xo, yo) = _split_at(grid, curve, cmax)
            panel.add(Layer("line", xi, yi, name=frontier_name, color=ROLE["fit"]))
            panel.add(Layer("line", xo, yo, name="fit, extrapolated", color=ROLE["fit"], dash="dash"))
            panel.add(Layer("region", cmax, float(grid[-1]), name="extrapolation (beyond data)",
                            color=ROLE["extrapolation"]))
        for p in plan_pts:
            loss = p.get("loss")
            if loss is None:
                continue
            iv = _interval(p, "loss")
            panel.add(Layer("scatter", [p["_compute"]], [float(loss)], color=ROLE["plan"], marker="*", size=9,
                            name=f"plan at {format_tick(p['_compute'], 'flops')} FLOPs",
                            err_lo=[iv[0]] if iv else None, err_hi=[iv[1]] if iv else None,
                            hover=[f"plan\nC = {format_tick(p['_compute'], 'flops')} FLOPs\nloss = {float(loss):.4g}"
                                   + (f"\ninterval = [{iv[0]:.4g}, {iv[1]:.4g}]" if iv else "")]))
    panel.note = "; ".join(notes)
    spec.meta = {"data_max_compute": cmax, "level": level}
    return render(spec, backend)


def fit_curve(fit: Any, runs: Any = None, *, level: float | None = None, extend: float = 10.0,
              backend: str = "matplotlib"):
    """A single-variable fit (e.g. ``power`` on ``--x examples --y loss``): data, fitted curve, interval band
    and the extrapolation region from the largest fitted x onward.

    Raises
    ------
    InputError
        If the fit's law has more than one variable, or the end of the fitted data cannot be told.
    """
    fv = as_fit(fit)
    if fv is None or len(fv.variables) != 1:
        raise InputError("fit_curve needs a fit of a single-variable law")
    level = level if level is not None else fv.level
    var = fv.variables[0]
    col = fv.columns.get(var, var)
    ycol = str(getattr(fv.obj, "y", None) or getattr(fv.obj, "target_column", None) or "loss")
    df = as_frame(runs)
    x = column(df, col)
    y = column(df, ycol)
    xkind = tick_kind(col)
    panel = Panel(title=f"{ycol} vs {col}", xlabel=axis_label(col), ylabel=axis_label(ycol),
                  xscale="log", yscale="log" if fv.law.target == "loss" else "linear", xkind=xkind)
    if x is not None and y is not None:
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
        panel.add(Layer("scatter", x[ok], y[ok], name=f"data (n={ok.sum()})", color=ROLE["data"], alpha=0.8))
    if var in fv.data_ranges:
        xmin, xmax = fv.data_ranges[var]
    elif x is not None and np.isfinite(x).any():
        xmin, xmax = float(np.nanmin(x[x > 0])), float(np.nanmax(x))
    else:
        raise InputError("cannot tell where the fitted data ends: give the runs or a fit with data ranges")
    grid = _grid_with(xmin / 1.5, xmax * extend, xmax)
    curve = np.ravel(fv.evaluate(fv.theta, {var: grid}))
    band = _band(fv, lambda th: fv.evaluate(th, {var: grid}), level)
    if band is not None:
        panel.add(Layer("band", grid, np.ravel(band[0]), y2=np.ravel(band[1]), color=ROLE["band"],
                        name=f"{level:.0%} interval (bootstrap)"))
    (xi, yi), (xo, yo) = _split_at(grid, curve, xmax)
    panel.add(Layer("line", xi, yi, name=f"fit: {fv.name}", color=ROLE["fit"]))
    panel.add(Layer("line", xo, yo, name="fit, extrapolated", color=ROLE["fit"], dash="dash"))
    panel.add(Layer("region", xmax, float(grid[-1]), name="extrapolation (beyond data)",
                    color=ROLE["extrapolation"]))
    spec = FigureSpec(panels=[panel], meta={"data_max": xmax})
    return render(spec, backend)


# =========================================================================== IsoFLOP
def _budgets(df, C) -> tuple[np.ndarray, list[float]]:
    N = column(df, "params")
    if "budget" in df.columns:
        b = df["budget"].to_numpy(float, na_value=np.nan)
        labels = np.full(len(b), -1)
        values = []
        for v in np.unique(b[np.isfinite(b)]):
            idx = np.flatnonzero(b == v)
            if len(idx) >= 3 and len(np.unique(N[idx])) >= 3:
                labels[idx] = len(values)
                values.append(float(v))
        return labels, values
    labels = isoflop_groups(C, params=N)
    values = [float(np.exp(np.mean(np.log(C[labels == g])))) for g in range(labels.max() + 1)]
    return labels, values


def isoflop_profiles(runs: Any, fit: Any = None, *, backend: str = "matplotlib"):
    """IsoFLOP profiles: loss vs model size N for each compute budget, with the fitted optimum per budget.

    Budgets come from a ``budget`` column or from runs whose compute agrees within ~12% (0.05 dex). With a
    fit of an (N, D) law the curves are the law along ``D = C/6N`` and the optima its minima; without one,
    a parabola in log N per budget (Chinchilla Approach 2) gives curve and optimum.

    Raises
    ------
    InputError
        If the runs lack params and loss or any compute column, or have no IsoFLOP profile (≥ 3 runs of
        different sizes at one budget).
    """
    df = as_frame(runs)
    if df is None or not {"params", "loss"} <= set(df.columns):
        raise InputError("IsoFLOP profiles need runs with params and loss columns")
    fv = as_fit(fit)
    C, conv = compute_of(df)
    if C is None:
        raise InputError("IsoFLOP profiles need compute: a flops column or params and tokens")
    labels, budgets = _budgets(df, C)
    if not budgets:
        raise InputError("no IsoFLOP profiles found: need ≥ 3 runs of different sizes at one compute budget "
                         "(within ~12%) or a budget column")
    N, L = column(df, "params"), column(df, "loss")
    colors = sequential_colors(len(budgets))
    panel = Panel(title="IsoFLOP profiles", xlabel=axis_label("params"),
                  ylabel=axis_label("loss", loss_unit=_loss_unit(runs, df)),
                  xscale="log", yscale="linear", xkind="count", ykind="plain")
    use_law = fv is not None and fv.has_ND
    opt_N, opt_L, opt_txt = [], [], []
    for g, (cb, color) in enumerate(zip(budgets, colors, strict=True)):
        idx = np.flatnonzero((labels == g) & np.isfinite(N) & np.isfinite(L))
        name = f"{format_tick(cb, 'flops')} FLOPs"
        panel.add(Layer("scatter", N[idx], L[idx], name=name, color=color, group=name, size=5,
                        hover=_hover_rows(df, C, idx)))
        grid = np.logspace(np.log10(N[idx].min()) - 0.15, np.log10(N[idx].max()) + 0.15, 80)
        if use_law:
            curve = np.ravel(fv.evaluate(fv.theta, {"N": grid, "D": cb / (6.0 * grid)}))
            Lb, Nb, _ = optimal_frontier(fv.evaluate, fv.theta, np.array([cb]))
            opt = (float(Nb[0]), float(Lb[0]))
        else:
            res = parabola_optimum(N[idx], L[idx])
            if res is None:
                curve, opt = None, None
            else:
                curve, opt = np.polyval(res[2], np.log10(grid)), (res[0], res[1])
        if curve is not None:
            panel.add(Layer("line", grid, curve, color=color, group=name, legend=False, width=1.4, alpha=0.9,
                            name=name + " fit"))
        if opt is not None:
            opt_N.append(opt[0])
            opt_L.append(opt[1])
            opt_txt.append(f"budget {format_tick(cb, 'flops')} FLOPs\nN* = {_qf(opt[0])} parameters\n"
                           f"D* = {_qf(cb / (6 * opt[0]))} tokens\nloss* = {opt[1]:.4g}")
    if opt_N:
        panel.add(Layer("scatter", opt_N, opt_L, name="fitted optimum (law)" if use_law else
                        "fitted optimum (parabola, Approach 2)", color=ROLE["models"], marker="D", size=6,
                        hover=opt_txt))
    note = "curves: law along D = C/6N" if use_law else "curves: parabola in log N per budget (biased; see docs)"
    panel.note = note + (f"; compute derived as C = {conv}" if conv else "")
    spec = FigureSpec(panels=[panel], meta={"budgets": budgets, "optima": list(zip(opt_N, opt_L, strict=True))})
    return render(spec, backend)


# =========================================================================== compute-optimal allocation
def _declutter(x: np.ndarray, y: np.ndarray, labels: list[str], *, chars_per_axis: float = 45.0,
               lines_per_axis: float = 16.0, xspan: float | None = None, yspan: float | None = None,
               xmax: float | None = None) -> list[str]:
    """Keep a label only where its text box (drawn up and to the right of its point) overlaps no already-kept
    box. Boxes are sized in log10 units from the axis spans (``xspan``/``yspan``, default: the points' own
    span, at least 4 decades): a character is ``xspan / chars_per_axis`` wide, a line ``yspan /
    lines_per_axis`` high. The rest stay available on hover."""
    lx, ly = np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float))
    fin = np.isfinite(lx) & np.isfinite(ly)
    if not fin.any():
        return ["" for _ in labels]
    xspan = xspan or max(4.0, float(np.ptp(lx[fin])) * 1.6)
    yspan = yspan or max(4.0, float(np.ptp(ly[fin])) * 1.6)
    cw, lh = xspan / chars_per_axis, yspan / lines_per_axis
    kept: list[tuple[float, float, float, float]] = []
    keep = set()
    for i in np.argsort(-np.where(fin, ly, -np.inf)):  # biggest first
        if not fin[i] or not labels[i]:
            continue
        box = (lx[i], lx[i] + cw * len(labels[i]), ly[i] - 0.2 * lh, ly[i] + lh)
        if xmax is not None and box[1] > math.log10(xmax):  # would run off the right edge of the axes
            continue
        # a label also must not cover another kept point's marker
        if all(box[1] < b[0] or b[1] < box[0] or box[3] < b[2] or b[3] < box[2] for b in kept):
            kept.append(box)
            keep.add(int(i))
    return [t if i in keep else "" for i, t in enumerate(labels)]


def _notable(models: Any):
    if models is None or models is False:
        return None
    if models is True:
        from ..models import notable_models

        return notable_models()
    return as_frame(models)


def compute_optimal(fit: Any = None, *, runs: Any = None, models: Any = True, plans=(),
                    compute: tuple[float, float] | None = None, level: float | None = None,
                    backend: str = "matplotlib"):
    """Compute-optimal model size N*(C) and training tokens D*(C), log-log, with the Kaplan 2020
    (N ∝ C^0.73) and Chinchilla (D = 20·N) reference rules, the fit's own frontier and interval band,
    IsoFLOP optima of the runs, plans, and the notable models (``models=True`` uses
    :func:`scalinglab.models.notable_models`; pass a DataFrame or ``False``). C = 6ND throughout.
    """
    fv = as_fit(fit)
    level = level if level is not None else (fv.level if fv else 0.8)
    df = as_frame(runs)
    Cdata, _ = compute_of(df)
    mdf = _notable(models)
    plan_pts = _plan_points(plans)
    cs = [1e18, 1e26] if compute is None else list(compute)
    if compute is None:
        for arr in (Cdata, compute_of(mdf)[0] if mdf is not None else None):
            if arr is not None and np.isfinite(arr).any():
                cs += [float(np.nanmin(arr[arr > 0])) / 2, float(np.nanmax(arr)) * 2]
        cs += [p["_compute"] * f for p in plan_pts for f in (0.5, 2)]
    grid = np.logspace(math.log10(min(cs)), math.log10(max(cs)), 160)
    cmax = _data_max_compute(fv, Cdata) if (fv is not None or Cdata is not None) else None
    if cmax is not None and grid[0] < cmax < grid[-1]:
        grid = np.unique(np.concatenate([grid, [cmax]]))
    pN = Panel(title="Compute-optimal model size N*(C)", xlabel=axis_label("flops"), ylabel=axis_label("params"),
               xscale="log", yscale="log", xkind="flops", ykind="count")
    pD = Panel(title="Compute-optimal training tokens D*(C)", xlabel=axis_label("flops"),
               ylabel=axis_label("tokens"), xscale="log", yscale="log", xkind="flops", ykind="count")
    kN, kD = kaplan_allocation(grid)
    cN, cD = chinchilla_allocation(grid)
    for p, k, c in ((pN, kN, cN), (pD, kD, cD)):
        p.add(Layer("line", grid, c, name="Chinchilla rule (D = 20N)", color=ROLE["chinchilla"], dash="dash",
                    width=1.4))
        p.add(Layer("line", grid, k, name="Kaplan 2020 (N ∝ C^0.73)", color=ROLE["kaplan"], dash="dot",
                    width=1.6))
    if fv is not None and fv.has_ND:
        _, N_opt, D_opt = optimal_frontier(fv.evaluate, fv.theta, grid)
        draws = fv.draws()
        for p, val, idx in ((pN, N_opt, 1), (pD, D_opt, 2)):
            if draws is not None:
                allv = optimal_frontier(fv.evaluate, draws, grid)[idx]
                q = (1 - level) / 2
                lo, hi = np.nanquantile(allv, q, axis=0), np.nanquantile(allv, 1 - q, axis=0)
                p.add(Layer("band", grid, lo, y2=hi, color=ROLE["band"], name=f"{level:.0%} interval (bootstrap)"))
            if cmax is not None:
                (xi, yi), (xo, yo) = _split_at(grid, val, cmax)
                p.add(Layer("line", xi, yi, name=f"fit: {fv.name}", color=ROLE["fit"]))
                p.add(Layer("line", xo, yo, name="fit, extrapolated", color=ROLE["fit"], dash="dash"))
            else:
                p.add(Layer("line", grid, val, name=f"fit: {fv.name}", color=ROLE["fit"]))
    if cmax is not None:
        for p in (pN, pD):
            p.add(Layer("region", cmax, float(grid[-1]), name="extrapolation (beyond data)",
                        color=ROLE["extrapolation"]))
    if df is not None and Cdata is not None and {"params", "loss"} <= set(df.columns):
        labels, budgets = _budgets(df, Cdata)
        N, L = column(df, "params"), column(df, "loss")
        pts = []
        for g, cb in enumerate(budgets):
            idx = np.flatnonzero(labels == g)
            res = parabola_optimum(N[idx], L[idx])
            if res is not None:
                pts.append((cb, res[0]))
        if pts:
            cb, nb = np.array(pts).T
            pN.add(Layer("scatter", cb, nb, name="IsoFLOP optima of the runs", color=ROLE["data"], marker="s",
                         size=5))
            pD.add(Layer("scatter", cb, cb / (6 * nb), name="IsoFLOP optima of the runs", color=ROLE["data"],
                         marker="s", size=5))
    if mdf is not None and len(mdf):
        mC, _ = compute_of(mdf)
        nm = column(mdf, "active_params") if "active_params" in mdf.columns else None
        n_all = column(mdf, "params")
        nN = np.where(np.isfinite(nm), nm, n_all) if nm is not None else n_all
        nD = column(mdf, "tokens")
        if mC is not None and nN is not None and nD is not None:
            ok = np.isfinite(mC) & np.isfinite(nN) & np.isfinite(nD) & (mC > 0)
            names = [str(v) for v in (mdf["name"] if "name" in mdf.columns else run_labels(mdf))]
            rows = np.flatnonzero(ok)
            hover = [f"{names[i]}\nN = {_qf(nN[i])} parameters" + (
                f" active of {_qf(n_all[i])}" if n_all is not None and nm is not None and np.isfinite(nm[i]) and
                nm[i] != n_all[i] else "") + f"\nD = {_qf(nD[i])} tokens ({nD[i] / nN[i]:.0f} tokens/param)"
                f"\nC = {format_tick(mC[i], 'flops')} FLOPs" for i in rows]
            lab = _declutter(mC[ok], nN[ok], [names[i] for i in rows])
            pN.add(Layer("scatter", mC[ok], nN[ok], name="notable models", color=ROLE["models"], marker="^",
                         size=5.5, hover=hover, labels=lab))
            pD.add(Layer("scatter", mC[ok], nD[ok], name="notable models", color=ROLE["models"], marker="^",
                         size=5.5, hover=hover, labels=_declutter(mC[ok], nD[ok], [names[i] for i in rows])))
    for p in plan_pts:
        for panel, key in ((pN, "N_opt"), (pD, "D_opt")):
            if p.get(key) is None:
                continue
            iv = _interval(p, key)
            panel.add(Layer("scatter", [p["_compute"]], [float(p[key])], name="plan", color=ROLE["plan"],
                            marker="*", size=10, err_lo=[iv[0]] if iv else None, err_hi=[iv[1]] if iv else None,
                            hover=[f"plan\nC = {format_tick(p['_compute'], 'flops')} FLOPs\n{key} = "
                                   f"{_qf(float(p[key]))}" + (f" [{_qf(iv[0])}, {_qf(iv[1])}]" if iv else "")]))
    for panel in (pN, pD):  # label what fits, now that the axis spans are known
        from ._render import _limits

        xl, yl = _limits(panel, "x"), _limits(panel, "y")
        for layer in panel.layers:
            if layer.name == "notable models" and layer.labels and xl and yl:
                layer.labels = _declutter(layer.x, layer.y, [h.split("\n", 1)[0] for h in layer.hover or []],
                                          xspan=math.log10(xl[1] / xl[0]), yspan=math.log10(yl[1] / yl[0]),
                                          xmax=xl[1])
    pN.note = "C = 6ND; MoE models placed by active parameters"
    spec = FigureSpec(panels=[pN, pD], ncols=2, panel_size=(5.6, 4.4), meta={"data_max_compute": cmax},
                      legend="figure")
    return render(spec, backend)


# =========================================================================== diagnostics
def _residual_panels(fv: FitView, runs: Any) -> list[Panel]:
    df = as_frame(runs)
    ycol = str(getattr(fv.obj, "y", None) or getattr(fv.obj, "target_column", None) or "loss")
    is_loss = getattr(fv.law, "target", "loss") == "loss"
    ylabel = "log residual: log y − log ŷ" if is_loss else "residual: y − ŷ"
    data = getattr(fv.obj, "data", None)
    if df is None and isinstance(data, dict) and data.get("X") and data.get("y") is not None:
        import pandas as pd

        cols = {fv.columns.get(v, v): np.asarray(a, float) for v, a in data["X"].items()}
        df = pd.DataFrame({**cols, ycol: np.asarray(data["y"], float)})
    if df is not None and ycol in df.columns and all(fv.columns.get(v, v) in df.columns for v in fv.variables):
        X = {v: column(df, fv.columns.get(v, v)) for v in fv.variables}
        y = column(df, ycol)
        ok = np.isfinite(y) & np.all([np.isfinite(a) for a in X.values()], axis=0)
        X = {v: a[ok] for v, a in X.items()}
        pred = np.ravel(fv.evaluate(fv.theta, X))
        with np.errstate(all="ignore"):
            r = np.log(y[ok]) - np.log(pred) if is_loss else y[ok] - pred
        rows = np.flatnonzero(ok)
        hover = _hover_rows(df, compute_of(df)[0], rows, loss_col=ycol)
        rms = float(np.sqrt(np.nanmean(r**2)))
        panels = []
        axes = [(v, fv.columns.get(v, v), X[v]) for v in fv.variables]
        C, _ = compute_of(df)
        if "C" not in fv.variables and C is not None and len(fv.variables) > 1:
            axes.append(("C", "flops", C[ok]))
        for v, col, xv in axes:
            p = Panel(title=f"Residuals vs {v}", xlabel=axis_label(col), ylabel=ylabel,
                      xscale="log" if np.nanmin(xv) > 0 else "linear", xkind=tick_kind(col))
            p.add(Layer("scatter", xv, r, name="runs", color=ROLE["data"], alpha=0.7, size=4, hover=hover,
                        legend=False))
            p.add(Layer("hline", y=0.0, name="zero", color=ROLE["ideal"], dash="dash", legend=False))
            p.note = f"RMS {rms:.3g}"
            panels.append(p)
        return panels
    if fv.residuals is not None:
        r = np.ravel(fv.residuals)
        p = Panel(title="Residuals", xlabel="point index", ylabel="residual (as stored by the fit)")
        p.add(Layer("scatter", np.arange(len(r)), r, name="residual", color=ROLE["data"], legend=False))
        p.add(Layer("hline", y=0.0, name="zero", color=ROLE["ideal"], dash="dash", legend=False))
        return [p]
    return []


def _bootstrap_panels(fv: FitView) -> list[Panel]:
    if fv.bootstrap is None or np.asarray(fv.bootstrap).ndim != 2:
        return []
    B = np.asarray(fv.bootstrap, float)
    names = list(getattr(fv.law, "param_names", fv.params))
    panels = []
    for j, name in enumerate(names[: B.shape[1]]):
        v = B[:, j][np.isfinite(B[:, j])]
        if v.size < 2:
            continue
        try:
            is_log = bool(fv.law.param(name).log) and (v > 0).all()
        except Exception:  # noqa: BLE001 - a law without Param metadata
            is_log = False
        if is_log and np.ptp(np.log10(v)) > 0:
            edges = np.logspace(np.log10(v.min()), np.log10(v.max()), 31)
        elif np.ptp(v) > 0:
            edges = np.linspace(v.min(), v.max(), 31)
        else:
            edges = np.array([v[0] - 0.5, v[0] + 0.5])
        edges[0], edges[-1] = min(edges[0], v.min()), max(edges[-1], v.max())  # logspace round-off
        counts, _ = np.histogram(v, bins=edges)
        unit = fv.param_unit(name)
        p = Panel(title=f"Bootstrap: {name}", xlabel=f"{name} ({unit})" if unit else name, ylabel="bootstrap draws",
                  xscale="log" if is_log else "linear")
        p.add(Layer("hist", edges, counts, name="draws", color=ROLE["data"], legend=False))
        p.add(Layer("vline", x=fv.params.get(name, np.nan), name="estimate", color=ROLE["fit"], dash="solid",
                    legend=j == 0))
        iv = fv.intervals.get(name)
        if iv:
            for k, b in enumerate(b for b in iv if np.isfinite(b)):  # an open end (profile refits) draws no line
                p.add(Layer("vline", x=b, name="interval", color=ROLE["fit"], dash="dash", legend=(j == 0 and k == 0)))
        p.note = f"n = {v.size}"
        panels.append(p)
    return panels


def _multistart_panel(fv: FitView) -> Panel | None:
    obj = fv.start_objectives()
    if obj is None:
        return None
    obj = np.sort(obj[np.isfinite(obj)])
    if obj.size == 0:
        return None
    best = obj[0]
    tol = 1e-6 * max(abs(best), 1e-12)
    k = int((obj - best <= tol).sum())
    p = Panel(title="Multi-start objectives", xlabel="start (sorted by final objective)",
              ylabel="final objective", yscale="log" if best > 0 else "linear")
    p.add(Layer("scatter", np.arange(1, obj.size + 1), obj, name="starts", color=ROLE["data"], size=3,
                legend=False))
    p.add(Layer("hline", y=best, name="best", color=ROLE["fit"], dash="dash", legend=False))
    p.note = f"{k} of {obj.size} starts within 1e-6 (relative) of the best"
    return p


def residuals_plot(fit: Any, runs: Any = None, *, backend: str = "matplotlib"):
    """Residuals (log y − log ŷ for loss laws) against each law variable (and compute), from the runs.

    Raises
    ------
    InputError
        If there are no residuals to draw (pass the runs the fit was made on).
    """
    fv = as_fit(fit)
    panels = _residual_panels(fv, runs)
    if not panels:
        raise InputError("no residuals to draw: pass the runs the fit was made on")
    return render(FigureSpec(panels=panels, ncols=min(3, len(panels)), panel_size=(4.6, 3.6)), backend)


def bootstrap_plot(fit: Any, *, backend: str = "matplotlib"):
    """Histogram of each parameter's bootstrap draws, with the estimate and the interval bounds.

    Raises
    ------
    InputError
        If the fit has no bootstrap draws.
    """
    panels = _bootstrap_panels(as_fit(fit))
    if not panels:
        raise InputError("the fit has no bootstrap draws (fit with bootstrap > 0)")
    return render(FigureSpec(panels=panels, ncols=min(3, len(panels)), panel_size=(4.2, 3.2)), backend)


def multistart_plot(fit: Any, *, backend: str = "matplotlib"):
    """The final objective of every multi-start, sorted: how many reached the best basin.

    Raises
    ------
    InputError
        If the fit recorded no per-start objectives.
    """
    p = _multistart_panel(as_fit(fit))
    if p is None:
        raise InputError("the fit recorded no per-start objectives")
    return render(FigureSpec(panels=[p], panel_size=(5.6, 3.8)), backend)


def fit_diagnostics(fit: Any, runs: Any = None, *, backend: str = "matplotlib"):
    """All fit diagnostics in one figure: residuals vs each variable, bootstrap distributions and the
    per-start objective spread (each part only when the fit carries what it needs).

    Raises
    ------
    InputError
        If the fit has neither bootstrap draws nor start objectives and no runs are given.
    """
    fv = as_fit(fit)
    panels = _residual_panels(fv, runs) + _bootstrap_panels(fv)
    ms = _multistart_panel(fv)
    if ms is not None:
        panels.append(ms)
    if not panels:
        raise InputError("nothing to diagnose: the fit has no bootstrap draws or start objectives and no runs "
                         "were given")
    return render(FigureSpec(title=f"Fit diagnostics: {fv.name}", panels=panels, ncols=3,
                             panel_size=(4.4, 3.4)), backend)


# =========================================================================== backtests
def backtest_plot(backtest: Any, *, backend: str = "matplotlib"):
    """Backtest: predicted vs actual loss for the held-out runs, with prediction intervals, and the y = x
    line; fitted (training) runs in a second colour when the result includes them."""
    f = backtest_frame(backtest)
    actual, pred = f["actual"].to_numpy(float), f["predicted"].to_numpy(float)
    held = f["held_out"].to_numpy(bool)
    has_iv = {"lo", "hi"} <= set(f.columns)
    d = backtest.to_dict() if hasattr(backtest, "to_dict") and not hasattr(backtest, "columns") else (
        backtest if isinstance(backtest, dict) else {})
    title_bits = []
    if isinstance(d, dict):
        med = d.get("median_rel_error", d.get("median_error"))
        mx = d.get("max_rel_error", d.get("max_error"))
        cov = d.get("coverage")
        lv = f.attrs.get("level", 0.8)
        if isinstance(cov, dict):
            cov = cov.get(f"{lv:g}")
        for lab, v in (("median |rel. error|", med), ("max", mx)):
            if isinstance(v, int | float) and math.isfinite(v):
                title_bits.append(f"{lab} {v:.2%}")
        if isinstance(cov, int | float) and math.isfinite(cov):
            title_bits.append(f"{lv:.0%} coverage {cov:.0%}")
    unit = getattr(backtest, "loss_unit", None) or (d.get("loss_unit") if isinstance(d, dict) else None)
    p = Panel(title="Backtest: predicted vs actual" + (f" ({', '.join(title_bits)})" if title_bits else ""),
              xlabel="actual " + axis_label("loss", loss_unit=unit), ylabel="predicted " + axis_label("loss", loss_unit=unit))
    if (~held).any():
        p.add(Layer("scatter", actual[~held], pred[~held], name="fitted runs", color=ROLE["extrapolation"],
                    size=4, alpha=0.7))
    lo = f["lo"].to_numpy(float)[held] if has_iv else None
    hi = f["hi"].to_numpy(float)[held] if has_iv else None
    hover = []
    names = run_labels(f)
    for i in np.flatnonzero(held):
        line = f"{names[i]}\nactual {actual[i]:.4g}\npredicted {pred[i]:.4g}"
        if has_iv:
            line += f"\ninterval [{f['lo'].iloc[i]:.4g}, {f['hi'].iloc[i]:.4g}]"
        hover.append(line)
    p.add(Layer("scatter", actual[held], pred[held], name="held-out runs", color=ROLE["fit"], size=5,
                err_lo=lo, err_hi=hi, hover=hover))
    both = np.concatenate([actual, pred])
    both = both[np.isfinite(both)]
    lim = (float(both.min()), float(both.max())) if both.size else (0, 1)
    p.add(Layer("line", list(lim), list(lim), name="y = x", color=ROLE["ideal"], dash="dash", width=1))
    return render(FigureSpec(panels=[p], panel_size=(5.4, 4.6)), backend)


def law_comparison(comparison: Any, *, backend: str = "matplotlib"):
    """Laws ranked by backtest error: median and max relative error (%) on held-out runs.

    Raises
    ------
    InputError
        If no law of the comparison could be backtested, or the comparison lacks its columns.
    """
    f = comparison_frame(comparison)
    f = f[np.isfinite(f["median_error"].astype(float))].sort_values("median_error")
    if f.empty:
        raise InputError("no law in the comparison could be backtested")
    cats = [str(v) for v in f["law"]]
    p = Panel(title="Law comparison (backtest)", xlabel="law", ylabel="relative error on held-out runs (%)",
              categories=cats)
    p.add(Layer("bars", y=100 * f["median_error"].to_numpy(float), name="median", color=SERIES[0]))
    if "max_error" in f.columns:
        p.add(Layer("bars", y=100 * f["max_error"].to_numpy(float), name="max", color=SERIES[1]))
    return render(FigureSpec(panels=[p], panel_size=(6.0, 4.0)), backend)


# =========================================================================== training curves
_BRANCH_COLS = ("branch", "branch_name", "phase", "schedule_phase")
_PARENT_COLS = ("parent_run_id", "parent_run", "parent", "branch_of")


def training_curves(curves: Any, *, x: str | None = None, y: str = "loss", run: str | None = None,
                    branch: str | None = None, max_legend: int = 16, backend: str = "matplotlib"):
    """Loss vs training tokens per run, from step-level metrics (the store's curves or any DataFrame).

    WSD / cooldown branches are visible: a branch (a row group with a ``branch`` value other than the main
    one, or a run with a ``parent_run_id``) is drawn dashed in its parent's colour.

    Raises
    ------
    InputError
        If there are no rows, the x/y columns are missing, or no point is positive and finite.
    """
    df = as_frame(curves)
    if df is None or len(df) == 0:
        raise InputError("no training-curve rows to draw")
    x = x or next((c for c in ("tokens", "step") if c in df.columns), None)
    run = run or next((c for c in ("run_id", "run", "name") if c in df.columns), None)
    if x is None or x not in df.columns or y not in df.columns:
        raise InputError(f"training curves need columns {x or 'tokens'} and {y}; got {list(df.columns)}")
    branch = branch or next((c for c in _BRANCH_COLS if c in df.columns), None)
    parent = next((c for c in _PARENT_COLS if c in df.columns), None)
    keys = df[run].astype(str) if run else np.zeros(len(df), dtype=int).astype(str)
    d = df.assign(_run=keys, _branch=df[branch].astype(str) if branch else "")
    d = d.assign(_root=d[parent].where(d[parent].notna(), d["_run"]).astype(str) if parent else d["_run"])
    roots = list(dict.fromkeys(d["_root"]))
    colors = sequential_colors(len(roots))
    color_of = dict(zip(roots, colors, strict=True))
    panel = Panel(title="Training curves", xlabel=axis_label(x), ylabel=axis_label(y, loss_unit=_loss_unit(curves, df)),
                  xscale="log", yscale="log", xkind=tick_kind(x))
    main_values = {"", "main", "none", "nan", "None", "stable", "trunk"}
    n_lines = 0
    for (rid, br), g in d.groupby(["_run", "_branch"], sort=False):
        g = g.sort_values(x)
        xv, yv = g[x].to_numpy(float), g[y].to_numpy(float)
        ok = np.isfinite(xv) & np.isfinite(yv) & (xv > 0) & (yv > 0)
        if not ok.any():
            continue
        root = str(g["_root"].iloc[0])
        is_branch = (br not in main_values) or (root != rid)
        label = f"{rid}" + (f" [{br}]" if br not in main_values else "") + (" (branch)" if root != rid else "")
        panel.add(Layer("line", xv[ok], yv[ok], name=label, color=color_of[root], dash="dash" if is_branch else
                        "solid", width=1.2 if is_branch else 1.6, legend=len(roots) <= max_legend,
                        group=root))
        n_lines += 1
    if n_lines == 0:
        raise InputError(f"no positive, finite ({x}, {y}) points to draw")
    panel.note = "dashed: branches (e.g. WSD cooldowns) in their parent run's colour"
    return render(FigureSpec(panels=[panel], meta={"n_lines": n_lines}), backend)
