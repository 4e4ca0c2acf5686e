"""Rich tables for the terminal: fits and plans, shared by the ``fit``, ``plan`` and ``report`` commands.

>>> from rich.console import Console
>>> render_fit(result, Console())      # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

from ._inputs import as_fit, as_plan_dict, fmt_num

__all__ = ["render_fit", "render_plan", "fit_table", "plan_table"]


def fit_table(fit: Any):
    """A ``rich.table.Table`` of a fit: parameter, value, interval, unit; caption with law and quality."""
    from rich.table import Table

    fv = as_fit(fit)
    t = Table(title=f"{fv.name}: {fv.formula}", title_justify="left", show_edge=False, header_style="bold")
    t.add_column("parameter")
    t.add_column("value", justify="right")
    t.add_column(f"{fv.level:.0%} interval", justify="right")
    t.add_column("unit", style="dim")
    for p in getattr(fv.law, "params", ()):
        iv = fv.intervals.get(p.name)
        t.add_row(p.name, fmt_num(fv.params.get(p.name, math.nan), 5),
                  f"[{fmt_num(iv[0])}, {fmt_num(iv[1])}]" if iv else "—", p.unit or "")
    cap = []
    if fv.objective is not None and math.isfinite(fv.objective):
        cap.append(f"objective {fmt_num(fv.objective)}")
    if fv.n_points:
        cap.append(f"{fv.n_points} points")
    for var, (lo, hi) in fv.data_ranges.items():
        cap.append(f"{var} ∈ [{fmt_num(lo, 3)}, {fmt_num(hi, 3)}]")
    d = fv.diagnostics
    if "n_in_best_basin" in d and "n_starts" in d:
        cap.append(f"{d['n_in_best_basin']}/{d['n_starts']} starts in the best basin")
    if fv.bootstrap is not None:
        cap.append(f"bootstrap {len(fv.bootstrap)}")
    t.caption = "; ".join(cap)
    t.caption_justify = "left"
    return t


def render_fit(fit: Any, console=None) -> None:
    """Print :func:`fit_table` (and the fit's status message when it is not plain success)."""
    from rich.console import Console

    console = console or Console(emoji=False)
    console.print(fit_table(fit))
    status = getattr(fit, "status", None)
    message = getattr(fit, "message", "")
    if status not in (None, "success") and message:
        console.print(f"[yellow]{status}:[/] {message}", markup=True, highlight=False)


_MAIN = (("training FLOPs", "flops", "flops"), ("parameters N", "N_opt", "count"), ("tokens D", "D_opt", "count"),
         ("tokens / param", "tokens_per_param", "ratio"), ("predicted loss", "loss", "loss"))


def _fmt(v: Any, kind: str) -> str:
    from ..units import format_quantity

    if isinstance(v, list | tuple):
        return " – ".join(_fmt(x, kind) for x in v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—" if v is None else str(v)
    if not math.isfinite(f):
        return "—"
    if kind == "flops":
        return f"{f:.3g}"
    if kind == "count":
        return format_quantity(f)
    if kind == "ratio":
        return f"{f:.3g}"
    return f"{f:.4g}"


def plan_table(plan: Any):
    """A ``rich.table.Table`` of a plan: quantity, value, interval (cost and assumptions as extra rows)."""
    from rich.table import Table

    d = as_plan_dict(plan)
    lvl = d.get("level")
    t = Table(title=f"Plan ({d.get('query', 'compute')})", title_justify="left", show_edge=False,
              header_style="bold")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column(f"{lvl:.0%} interval" if isinstance(lvl, float) else "interval", justify="right")
    iv = d.get("intervals") or {}
    for label, key, kind in _MAIN:
        if key in d:
            t.add_row(label, _fmt(d[key], kind), _fmt(iv[key], kind) if key in iv else "")
    cost = d.get("cost")
    if isinstance(cost, dict):
        for k, v in cost.items():
            if isinstance(v, dict):
                continue
            t.add_row(f"cost: {k}", _fmt(v, "plain") if not isinstance(v, str) else v, "", style="dim")
    a = d.get("assumptions")
    if isinstance(a, dict) and a:
        t.caption = "assumptions: " + "; ".join(f"{k}={v}" for k, v in a.items() if not isinstance(v, dict))
        t.caption_justify = "left"
    return t


def render_plan(plan: Any, console=None) -> None:
    """Print :func:`plan_table` followed by the plan's warnings in yellow."""
    from rich.console import Console

    console = console or Console(emoji=False)
    console.print(plan_table(plan))
    for w in as_plan_dict(plan).get("warnings") or ():
        console.print(f"[yellow]warning:[/] {w}", markup=True, highlight=False)
