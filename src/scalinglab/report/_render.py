"""Backend-neutral figure specs and their two renderers (matplotlib and Plotly).

Every figure function builds a :class:`FigureSpec` (panels of layers: scatter, line, band, region, bars,
histogram) from the data once, then renders it with the requested backend. This keeps the two backends in
step: same series, same colours, same labels, same extrapolation region.

Text that comes from user data (run names, datasets, model names) is stored raw in the spec; the Plotly
renderer HTML-escapes every string it hands to plotly.js and the matplotlib renderer escapes ``$`` (mathtext).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._style import (
    BAND_ALPHA,
    REGION_ALPHA,
    format_tick,
    log_ticks,
    mpl_style,
    plotly_layout,
    style_mpl_axes,
)


@dataclass
class Layer:
    """One series. ``kind`` is scatter | line | band | region | bars | hist | hline."""

    kind: str
    x: Any = None
    y: Any = None
    y2: Any = None                 # band: upper edge (``y`` is the lower edge)
    name: str = ""
    color: str = "#000000"
    dash: str = "solid"            # solid | dash | dot
    marker: str = "o"              # o | D | s | ^ | x | *
    size: float = 5.0
    alpha: float = 1.0
    width: float = 1.8
    hover: list[str] | None = None  # one string per point; lines separated by "\n"; raw (unescaped)
    labels: list[str] | None = None  # text drawn next to points (raw)
    err_lo: Any = None             # scatter: absolute lower / upper y of an error bar
    err_hi: Any = None
    legend: bool = True
    group: str | None = None       # legend group (Plotly)
    gid: str | None = None         # matplotlib artist id (regions default to "extrapolation-region")


@dataclass
class Panel:
    """One set of axes: title and axis labels, scales (``linear``/``log``), tick kinds (``plain``, ``flops``,
    ``count``, ...), its `Layer` list, a note under it, optional limits and categorical x labels (bars).
    """
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xscale: str = "linear"
    yscale: str = "linear"
    xkind: str = "plain"
    ykind: str = "plain"
    layers: list[Layer] = field(default_factory=list)
    note: str = ""
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    categories: list[str] | None = None  # categorical x axis (bars)

    def add(self, layer: Layer) -> Layer:
        """Append ``layer`` to the panel and return it (for chaining)."""
        self.layers.append(layer)
        return layer


@dataclass
class FigureSpec:
    """A backend-neutral figure: title, `Panel` list laid out in ``ncols`` columns of ``panel_size`` inches
    (width, height), a note, metadata, and where the legend goes (``"panel"`` or ``"figure"``).
    """
    title: str = ""
    panels: list[Panel] = field(default_factory=list)
    ncols: int = 1
    panel_size: tuple[float, float] = (6.4, 4.4)
    note: str = ""
    meta: dict = field(default_factory=dict)
    legend: str = "panel"          # "panel": a legend in each axes; "figure": one shared legend below


# --------------------------------------------------------------------------- limits
def _vals(layer: Layer, axis: str) -> np.ndarray:
    out = []
    if axis == "x":
        if layer.kind == "region":
            out += [layer.x, layer.y]  # x0, x1 stored in x, y
        elif layer.kind == "hline" or layer.kind == "bars":
            return np.array([])
        else:
            out.append(layer.x)
    else:
        if layer.kind in ("region",):
            return np.array([])
        if layer.kind == "hline":
            out.append([layer.y])
        elif layer.kind == "hist":
            out.append(layer.y)
        else:
            out.append(layer.y)
            if layer.y2 is not None:
                out.append(layer.y2)
            if layer.err_lo is not None:
                out += [layer.err_lo, layer.err_hi]
    arrs = [np.ravel(np.asarray(v, float)) for v in out if v is not None]
    return np.concatenate(arrs) if arrs else np.array([])


def _limits(panel: Panel, axis: str) -> tuple[float, float] | None:
    fixed = panel.xlim if axis == "x" else panel.ylim
    if fixed is not None:
        return fixed
    scale = panel.xscale if axis == "x" else panel.yscale
    vals = np.concatenate([_vals(layer, axis) for layer in panel.layers] or [np.array([])])
    if axis == "y" and scale != "log" and any(layer.kind == "bars" for layer in panel.layers):
        vals = np.append(vals, 0.0)  # bars grow from zero: keep their base in view
    vals = vals[np.isfinite(vals)]
    if scale == "log":
        vals = vals[vals > 0]
    if vals.size == 0:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    if scale == "log":
        llo, lhi = math.log10(lo), math.log10(hi)
        pad = 0.04 * max(lhi - llo, 0.2)
        return 10 ** (llo - pad), 10 ** (lhi + pad)
    pad = 0.05 * ((hi - lo) or abs(hi) or 1.0)
    return lo - pad, hi + pad


# --------------------------------------------------------------------------- matplotlib
_MPL_DASH = {"solid": "-", "dash": "--", "dot": ":"}


def _mtext(s: str) -> str:
    """Make user text literal for matplotlib (no mathtext, no legend-hiding leading underscore)."""
    s = str(s).replace("$", r"\$")
    return "\u200b" + s if s.startswith("_") else s


def render_mpl(spec: FigureSpec):
    """Render a spec as a ``matplotlib.figure.Figure`` (no pyplot state, safe in loops and servers)."""
    from matplotlib.figure import Figure

    n = max(1, len(spec.panels))
    ncols = max(1, min(spec.ncols, n))
    nrows = math.ceil(n / ncols)
    w, h = spec.panel_size
    with mpl_style():
        fig = Figure(figsize=(w * ncols, h * nrows + (0.4 if spec.title else 0)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
        for ax, panel in zip(axes, spec.panels, strict=False):
            _draw_mpl_panel(ax, panel, legend=spec.legend != "figure")
        if spec.legend == "figure":
            seen: dict[str, Any] = {}
            for ax in axes:
                for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                    seen.setdefault(label, handle)
            if seen:
                fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=min(4, len(seen)))
        for ax in axes[len(spec.panels):]:
            ax.set_visible(False)
        if spec.title:
            fig.suptitle(_mtext(spec.title), fontsize=12, x=0.01, ha="left")
        if spec.note:
            fig.text(0.01, -0.01, _mtext(spec.note), fontsize=7.5, color="#555555", ha="left", va="top")
    fig.scalinglab_spec = spec  # type: ignore[attr-defined]  (lets tests and save_plot introspect)
    return fig


def _draw_mpl_panel(ax, panel: Panel, legend: bool = True) -> None:
    xl, yl = _limits(panel, "x"), _limits(panel, "y")
    if panel.categories is not None:
        _draw_mpl_bars(ax, panel)
    for layer in panel.layers:
        lab = _mtext(layer.name) if (layer.legend and layer.name) else "_nolegend_"
        if layer.kind == "scatter":
            x, y = np.asarray(layer.x, float), np.asarray(layer.y, float)
            if layer.err_lo is not None:
                lo, hi = np.asarray(layer.err_lo, float), np.asarray(layer.err_hi, float)
                yerr = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
                ax.errorbar(x, y, yerr=yerr, fmt="none", ecolor=layer.color, alpha=0.6 * layer.alpha,
                            elinewidth=1.0, capsize=2)
            ax.scatter(x, y, s=layer.size**2, c=layer.color, marker=layer.marker, alpha=layer.alpha,
                       label=lab, zorder=3, linewidths=0.4, edgecolors="white" if layer.marker != "x" else None)
            if layer.labels:
                for xi, yi, t in zip(x, y, layer.labels, strict=False):
                    if t and np.isfinite(xi) and np.isfinite(yi):
                        ax.annotate(_mtext(t), (xi, yi), xytext=(3, 3), textcoords="offset points",
                                    fontsize=7, color=layer.color)
        elif layer.kind == "line":
            ax.plot(layer.x, layer.y, color=layer.color, linestyle=_MPL_DASH.get(layer.dash, "-"),
                    linewidth=layer.width, alpha=layer.alpha, label=lab, zorder=2)
        elif layer.kind == "band":
            ax.fill_between(np.asarray(layer.x, float), np.asarray(layer.y, float), np.asarray(layer.y2, float),
                            color=layer.color, alpha=BAND_ALPHA * layer.alpha, linewidth=0, label=lab, zorder=1)
        elif layer.kind == "region":
            patch = ax.axvspan(float(layer.x), float(layer.y), color=layer.color, alpha=REGION_ALPHA, lw=0,
                               label=lab, zorder=0)
            patch.set_gid(layer.gid or "extrapolation-region")
        elif layer.kind == "hline":
            ax.axhline(float(layer.y), color=layer.color, linestyle=_MPL_DASH.get(layer.dash, "--"),
                       linewidth=1.0, label=lab, zorder=1)
        elif layer.kind == "vline":
            line = ax.axvline(float(layer.x), color=layer.color, linestyle=_MPL_DASH.get(layer.dash, "--"),
                              linewidth=layer.width if layer.width != 1.8 else 1.0, label=lab, zorder=1)
            if layer.gid:
                line.set_gid(layer.gid)
        elif layer.kind == "hist":
            edges, counts = np.asarray(layer.x, float), np.asarray(layer.y, float)
            ax.stairs(counts, edges, fill=True, color=layer.color, alpha=0.55, label=lab)
    ax.set_xscale(panel.xscale)
    ax.set_yscale(panel.yscale)
    if panel.categories is not None:  # (set_xscale resets the locators: name the categories after it)
        _category_ticks(ax, panel.categories)
    if xl is not None and panel.categories is None:
        ax.set_xlim(*xl)
    if yl is not None:
        ax.set_ylim(*yl)
    ax.set_xlabel(_mtext(panel.xlabel))
    ax.set_ylabel(_mtext(panel.ylabel))
    if panel.title:
        ax.set_title(_mtext(panel.title), loc="left")
    if panel.categories is None:
        style_mpl_axes(ax, xkind=panel.xkind, ykind=panel.ykind, xscale=panel.xscale, yscale=panel.yscale)
    handles, labels = ax.get_legend_handles_labels()
    if labels and legend:
        ax.legend(loc="best", ncols=1 if len(labels) < 7 else 2)
    if panel.note:
        ax.text(0.01, 0.01, _mtext(panel.note), transform=ax.transAxes, fontsize=7, color="#555555",
                ha="left", va="bottom")


def _draw_mpl_bars(ax, panel: Panel) -> None:
    cats = panel.categories or []
    bars = [lay for lay in panel.layers if lay.kind == "bars"]
    width = 0.8 / max(1, len(bars))
    pos = np.arange(len(cats))
    for i, layer in enumerate(bars):
        y = np.asarray(layer.y, float)
        yerr = None
        if layer.err_lo is not None:
            yerr = np.vstack([np.clip(y - np.asarray(layer.err_lo, float), 0, None),
                              np.clip(np.asarray(layer.err_hi, float) - y, 0, None)])
        ax.bar(pos - 0.4 + width * (i + 0.5), y, width=width, color=layer.color,
               label=_mtext(layer.name), alpha=layer.alpha, yerr=yerr, capsize=4 if yerr is not None else 0,
               error_kw={"elinewidth": 1.2, "ecolor": "#333333"})


def _category_ticks(ax, cats: list[str]) -> None:
    ax.set_xticks(np.arange(len(cats)), [_mtext(c) for c in cats], rotation=20 if len(cats) > 4 else 0,
                  ha="right" if len(cats) > 4 else "center")
    ax.grid(False, axis="x")


# --------------------------------------------------------------------------- plotly
_PLOTLY_SYMBOL = {"o": "circle", "D": "diamond", "s": "square", "^": "triangle-up", "x": "x", "*": "star"}


def _e(s: Any) -> str:
    """Escape text for plotly.js (which renders a subset of HTML in labels): user text stays text."""
    return html.escape(str(s), quote=False)


def _hover(lines: list[str] | None) -> list[str] | None:
    if lines is None:
        return None
    return ["<br>".join(_e(part) for part in str(t).split("\n")) for t in lines]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.3f})"


def _list(a: Any) -> list:
    arr = np.asarray(a, float).ravel()
    return [None if not math.isfinite(v) else float(v) for v in arr]


def render_plotly(spec: FigureSpec):
    """Render a spec as a ``plotly.graph_objects.Figure`` (interactive; hover shows run details)."""
    import plotly.graph_objects as go

    n = max(1, len(spec.panels))
    ncols = max(1, min(spec.ncols, n))
    nrows = math.ceil(n / ncols)
    if n > 1:
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[_e(p.title) for p in spec.panels],
                            horizontal_spacing=0.12 if ncols > 1 else 0.02,
                            vertical_spacing=min(0.18, 0.5 / nrows) if nrows > 1 else 0.1)
    else:
        fig = go.Figure()
    layout = plotly_layout(_e(spec.title) if spec.title else (_e(spec.panels[0].title) if n == 1 and spec.panels
                                                                 else None))
    layout["height"] = int(max(380, 330 * nrows + 70))
    if n > 1:  # room above the subplot titles for the mode bar
        layout["margin"]["t"] = max(layout["margin"]["t"], 70)
    seen_legend: set[str] = set()
    for i, panel in enumerate(spec.panels):
        row, col = i // ncols + 1, i % ncols + 1
        xl, yl = _limits(panel, "x"), _limits(panel, "y")
        for layer in panel.layers:
            for trace in _plotly_traces(layer, panel, xl, yl):
                key = trace.name or ""
                if trace.showlegend and key in seen_legend:
                    trace.showlegend = False
                if trace.showlegend:
                    seen_legend.add(key)
                if n > 1:
                    fig.add_trace(trace, row=row, col=col)
                else:
                    fig.add_trace(trace)
        xaxis = _plotly_axis(panel.xlabel, panel.xscale, panel.xkind, xl, panel.categories)
        yaxis = _plotly_axis(panel.ylabel, panel.yscale, panel.ykind, yl, None)
        if n > 1:
            fig.update_xaxes(**xaxis, row=row, col=col)
            fig.update_yaxes(**yaxis, row=row, col=col)
        else:
            fig.update_xaxes(**xaxis)
            fig.update_yaxes(**yaxis)
    notes = [spec.note] + [p.note for p in spec.panels if p.note]
    notes = list(dict.fromkeys(x for x in notes if x))
    if notes:
        layout["margin"]["b"] = 85
        layout["annotations"] = list(fig.layout.annotations or []) + [{
            "text": _e(" · ".join(notes)), "xref": "paper", "yref": "paper", "x": 0, "y": -0.0,
            "yshift": -62, "showarrow": False, "xanchor": "left", "yanchor": "top",
            "font": {"size": 10, "color": "#555555"}}]
    n_legend = sum(bool(t.showlegend) for t in fig.data)
    layout["height"] = int(max(layout["height"], 21 * n_legend + layout["margin"]["t"] + 40))  # no legend scroll
    fig.update_layout(**layout)
    return fig


def _plotly_axis(label: str, scale: str, kind: str, lim, categories) -> dict:
    ax: dict[str, Any] = {"title": {"text": _e(label)}, "showline": True, "linecolor": "#888", "ticks": "outside"}
    if categories is not None:
        ax["type"] = "category"
        return ax
    if scale == "log":
        ax["type"] = "log"
        if lim is not None:
            ax["range"] = [math.log10(lim[0]), math.log10(lim[1])]
            vals, text = log_ticks(lim[0], lim[1], kind)
            if vals:
                ax["tickvals"], ax["ticktext"] = vals, text
    elif lim is not None:
        ax["range"] = list(lim)
        if kind in ("count", "flops"):
            vals = np.linspace(lim[0], lim[1], 6)
            ax["tickvals"], ax["ticktext"] = [float(v) for v in vals], [format_tick(v, kind) for v in vals]
    return ax


def _plotly_traces(layer: Layer, panel: Panel, xl, yl) -> list:
    import plotly.graph_objects as go

    name = _e(layer.name)
    common = {"name": name, "showlegend": bool(layer.legend and layer.name),
              "legendgroup": _e(layer.group or layer.name)}
    if layer.kind == "scatter":
        kw: dict[str, Any] = {}
        if layer.err_lo is not None:
            y = np.asarray(layer.y, float)
            kw["error_y"] = {"type": "data", "symmetric": False,
                             "array": _list(np.clip(np.asarray(layer.err_hi, float) - y, 0, None)),
                             "arrayminus": _list(np.clip(y - np.asarray(layer.err_lo, float), 0, None)),
                             "color": _rgba(layer.color, 0.6), "thickness": 1, "width": 2}
        mode = "markers+text" if layer.labels else "markers"
        hover = _hover(layer.hover)
        return [go.Scatter(
            x=_list(layer.x), y=_list(layer.y), mode=mode,
            marker={"color": _rgba(layer.color, layer.alpha), "size": layer.size * 1.6,
                    "symbol": _PLOTLY_SYMBOL.get(layer.marker, "circle"),
                    "line": {"width": 0.5, "color": "white"}},
            text=[_e(t) for t in layer.labels] if layer.labels else None,
            textposition="top right", textfont={"size": 9, "color": layer.color},
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>" if hover else None,
            **kw, **common)]
    if layer.kind == "line":
        return [go.Scatter(x=_list(layer.x), y=_list(layer.y), mode="lines",
                           line={"color": layer.color, "dash": layer.dash, "width": layer.width},
                           opacity=layer.alpha, hoverinfo="x+y+name", **common)]
    if layer.kind == "band":
        x = np.asarray(layer.x, float)
        xs = np.concatenate([x, x[::-1]])
        ys = np.concatenate([np.asarray(layer.y2, float), np.asarray(layer.y, float)[::-1]])
        return [go.Scatter(x=_list(xs), y=_list(ys), mode="lines", fill="toself",
                           fillcolor=_rgba(layer.color, BAND_ALPHA * layer.alpha),
                           line={"width": 0, "color": _rgba(layer.color, 0)}, hoverinfo="skip", **common)]
    if layer.kind == "region":
        if yl is None:
            return []
        x0, x1 = float(layer.x), float(layer.y)
        y0, y1 = yl
        return [go.Scatter(x=[x0, x1, x1, x0, x0], y=[y0, y0, y1, y1, y0], mode="lines", fill="toself",
                           fillcolor=_rgba(layer.color, REGION_ALPHA), line={"width": 0},
                           hoverinfo="skip", **common)]
    if layer.kind in ("hline", "vline"):
        if layer.kind == "hline":
            if xl is None:
                return []
            xs, ys = list(xl), [float(layer.y)] * 2
        else:
            if yl is None:
                return []
            xs, ys = [float(layer.x)] * 2, list(yl)
        return [go.Scatter(x=xs, y=ys, mode="lines", line={"color": layer.color, "dash": layer.dash, "width": 1},
                           hoverinfo="name", **common)]
    if layer.kind == "bars":
        kw = {}
        if layer.err_lo is not None:
            y = np.asarray(layer.y, float)
            kw["error_y"] = {"type": "data", "symmetric": False, "color": "#333333", "thickness": 1.2, "width": 4,
                             "array": _list(np.clip(np.asarray(layer.err_hi, float) - y, 0, None)),
                             "arrayminus": _list(np.clip(y - np.asarray(layer.err_lo, float), 0, None))}
        return [go.Bar(x=[_e(c) for c in panel.categories or []], y=_list(layer.y),
                       marker={"color": _rgba(layer.color, layer.alpha)}, **kw, **common)]
    if layer.kind == "hist":
        edges, counts = np.asarray(layer.x, float), np.asarray(layer.y, float)
        centers, widths = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
        return [go.Bar(x=_list(centers), y=_list(counts), width=_list(widths),
                       marker={"color": _rgba(layer.color, 0.55)}, **common)]
    raise ValueError(f"unknown layer kind {layer.kind!r}")


def render(spec: FigureSpec, backend: str):
    """Render with ``backend`` = ``"matplotlib"`` (default) or ``"plotly"``.

    Raises
    ------
    InputError
        If ``backend`` is not ``"matplotlib"`` or ``"plotly"``.
    """
    from .._errors import InputError

    if backend in ("matplotlib", "mpl", None):
        return render_mpl(spec)
    if backend == "plotly":
        return render_plotly(spec)
    raise InputError(f"unknown plotting backend {backend!r}; use 'matplotlib' or 'plotly'")
