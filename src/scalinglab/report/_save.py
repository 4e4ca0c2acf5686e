"""``save_plot(obj, path)``: the picture of any scalinglab result, for ``--plot out.png`` on the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._errors import InputError
from .._io import atomic_write

__all__ = ["save_plot", "plot"]

_STATIC = {".png", ".svg", ".pdf", ".jpg", ".jpeg"}


def plot(obj: Any, *, runs: Any = None, backend: str = "matplotlib", **kwargs):
    """The default figure for ``obj``: a fit → loss vs compute (or its curve for one-variable laws; coverage
    vs samples for a coverage fit); a plan → compute-optimal allocation with the plan marked; a backtest →
    predicted vs actual; a comparison → law ranking; a run table → loss vs compute; a step-metrics frame
    (with ``step``) → training curves; an emergence report → metrics vs scale with knees; a trade-off plan →
    its frontier; a two-step / sigmoid downstream result → its steps and predictions; a BNSL selection → the
    curve with its breaks; a data-quality result → the multipliers.

    Raises
    ------
    InputError
        If ``obj`` is of a type there is no figure for (or the figure's own inputs are unusable).
    """
    from . import figures as F
    from . import figures_beyond as B

    if hasattr(obj, "savefig") or hasattr(obj, "write_html"):
        return obj
    if hasattr(obj, "metrics") and hasattr(obj, "scale_column"):             # EmergenceReport
        return B.emergence_plot(obj, backend=backend, **kwargs)
    if hasattr(obj, "frontier") and hasattr(obj, "best"):                    # TradeoffPlan
        return B.tradeoff_plot(obj, backend=backend)
    if hasattr(obj, "breaks") and hasattr(obj, "n_breaks"):                  # BNSLSelection
        return B.bnsl_plot(obj, backend=backend, **kwargs)
    if hasattr(obj, "multipliers") and hasattr(obj, "reference"):            # QualityResult
        return B.quality_plot(obj, backend=backend)
    inner = getattr(obj, "result", obj)                                      # DownstreamSelection
    if (hasattr(inner, "step1") and hasattr(inner, "step2")) or (
            hasattr(inner, "fit") and hasattr(inner, "column") and hasattr(inner, "predict")):
        return B.downstream_plot(obj, backend=backend, **kwargs)
    if hasattr(obj, "law") and hasattr(obj, "params") and tuple(obj.law.variables) == ("k",) and \
            getattr(obj.law, "name", "") == "coverage":                      # fit_coverage
        return B.coverage_plot(obj, backend=backend, **kwargs)
    if hasattr(obj, "law") and hasattr(obj, "params"):                       # FitResult
        variables = tuple(obj.law.variables)
        if {"N", "D"} <= set(variables) or variables == ("C",):
            return F.loss_vs_compute(runs, obj, backend=backend, **kwargs)
        return F.fit_curve(obj, runs, backend=backend, **kwargs)
    if hasattr(obj, "points") and hasattr(obj, "median_rel_error"):          # BacktestResult
        return F.backtest_plot(obj, backend=backend)
    if isinstance(obj, list) and obj and isinstance(obj[0], dict) and "law" in obj[0]:  # compare()
        return F.law_comparison(obj, backend=backend)
    if hasattr(obj, "to_dict") and not hasattr(obj, "columns") and not hasattr(obj, "df"):  # Plan
        return F.compute_optimal(kwargs.pop("fit", None), runs=runs, plans=[obj], backend=backend, **kwargs)
    if isinstance(obj, dict):
        if "N_opt" in obj:
            return F.compute_optimal(kwargs.pop("fit", None), runs=runs, plans=[obj], backend=backend, **kwargs)
        if "points" in obj:
            return F.backtest_plot(obj, backend=backend)
    cols = getattr(getattr(obj, "df", obj), "columns", None)
    if cols is not None:
        if "step" in cols and ("run_id" in cols or "run" in cols) and "params" not in cols:
            return F.training_curves(obj, backend=backend, **kwargs)
        return F.loss_vs_compute(obj, kwargs.pop("fit", None), backend=backend, **kwargs)
    raise InputError(f"don't know how to plot a {type(obj).__name__}")


def save_plot(obj: Any, path: str | Path, *, runs: Any = None, dpi: int = 150, **kwargs) -> Path:
    """Draw ``obj`` (see :func:`plot`) and write it to ``path``: ``.png``/``.svg``/``.pdf`` with matplotlib,
    ``.html`` as a self-contained interactive Plotly page (plotly.js embedded, works offline).

    Raises
    ------
    InputError
        If the file suffix is not .png, .svg, .pdf or .html, or does not suit the backend (Plotly: .html only;
        matplotlib: not .html), or ``obj`` cannot be plotted.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _STATIC | {".html", ".htm"}:
        raise InputError(f"{path}: plot format {suffix or '(none)'} not supported; use .png, .svg, .pdf or .html")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".html", ".htm"):
        fig = plot(obj, runs=runs, backend="plotly", **kwargs)
        if not hasattr(fig, "write_html"):
            raise InputError(f"{path}: this figure is a matplotlib figure; save it as .png, .svg or .pdf")
        return atomic_write(path, lambda tmp: fig.write_html(tmp, include_plotlyjs=True, full_html=True,
                                                             config={"displaylogo": False, "responsive": True}))
    fig = plot(obj, runs=runs, backend="matplotlib", **kwargs)
    if not hasattr(fig, "savefig"):
        raise InputError(f"{path}: a Plotly figure can only be saved as .html here")
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=suffix[1:]))
