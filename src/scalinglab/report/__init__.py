"""Reports and plots: figures (matplotlib for PNG/SVG/PDF, Plotly for interactive), the self-contained HTML
report, Rich tables for the terminal and ``_repr_html_`` helpers for notebooks.

>>> from scalinglab.report import loss_vs_compute, write_report
>>> loss_vs_compute(runs, fit).savefig("frontier.png")            # doctest: +SKIP
>>> write_report(runs, fit=fit, plans=[plan], path="report.html")  # doctest: +SKIP
>>> inputs = prepare(runs, fit=fit)          # computes (fit, predictions, backtest, data hash)  # doctest: +SKIP
>>> html = render_report(inputs)             # draws only                                         # doctest: +SKIP

Importing this package is cheap: matplotlib and plotly load only when a figure is drawn.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY: dict[str, str] = {
    # figures (each takes backend="matplotlib" | "plotly")
    "loss_vs_compute": "figures", "fit_curve": "figures", "isoflop_profiles": "figures",
    "compute_optimal": "figures", "residuals_plot": "figures", "bootstrap_plot": "figures",
    "multistart_plot": "figures", "fit_diagnostics": "figures", "backtest_plot": "figures",
    "law_comparison": "figures", "training_curves": "figures",
    # beyond pre-training loss
    "emergence_plot": "figures_beyond", "coverage_plot": "figures_beyond", "passk_plot": "figures_beyond",
    "tradeoff_plot": "figures_beyond", "downstream_plot": "figures_beyond", "bnsl_plot": "figures_beyond",
    "quality_plot": "figures_beyond",
    # files
    "save_plot": "_save", "plot": "_save",
    "write_report": "html", "build_report": "html", "render_report": "html", "json_for_script": "html",
    # compute before render: what a report shows that must be computed first
    "prepare": "_prepare", "ReportInputs": "_prepare",
    # terminal and notebooks
    "render_fit": "terminal", "render_plan": "terminal", "fit_table": "terminal", "plan_table": "terminal",
    "repr_html": "notebook", "fit_html": "notebook", "plan_html": "notebook", "runtable_html": "notebook",
    # style
    "OKABE_ITO": "_style", "axis_label": "_style", "format_tick": "_style",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
