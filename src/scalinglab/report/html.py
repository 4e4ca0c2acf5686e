"""The self-contained HTML report: one file, interactive Plotly figures (plotly.js embedded once from the
installed package, no CDN), tables of fitted parameters and plans, warnings and provenance. It opens
offline; a Content-Security-Policy forbids the page from loading anything.

Every string that comes from user data (run names, tags, datasets, column names, law names) is escaped with
:func:`html.escape`; figure JSON is embedded in ``<script type="application/json">`` with ``<``, ``>``, ``&``
and the JS line separators escaped as ``\\uXXXX`` so no text can close the script element.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ScalingLabError
from .._io import atomic_write_text
from ..fit._degenerate import parameter_notes
from ..units import format_quantity
from ._inputs import FitView, as_frame, compute_of, fmt_num
from ._prepare import AUTO_BACKTEST_MAX_RUNS, ReportInputs, _point_text, prediction_dict, prepare

__all__ = ["write_report", "build_report", "render_report", "json_for_script", "prediction_dict", "CSP",
           "AUTO_BACKTEST_MAX_RUNS"]

#: No network, no eval: inline scripts/styles and data: images only.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'")

_E = html.escape


def json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script>`` (any type): ``<``, ``>``, ``&``, U+2028 and U+2029 become
    ``\\u`` escapes, which JSON.parse turns back into the same characters."""
    text = obj if isinstance(obj, str) else json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    # defensive: the bundle must not be able to end its own <script> element
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)


def _fig_json(fig) -> str:
    import plotly.io as pio

    return json_for_script(pio.to_json(fig, validate=False, pretty=False, engine="json"))


# --------------------------------------------------------------------------- provenance
def _versions() -> dict[str, str]:
    import platform

    from .. import __version__

    out = {"scalinglab": __version__, "python": platform.python_version(), "numpy": np.__version__}
    try:
        import plotly

        out["plotly"] = plotly.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


# --------------------------------------------------------------------------- small HTML helpers
def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_E(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_E(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _kv(rows: Iterable[tuple[str, Any]]) -> str:
    return _table(["", ""], rows, cls="kv")


def _fmt_value(key: str, v: Any, path: str = "") -> str:
    """A value with its unit, from its key (and the dotted ``path`` it sits under: an ``extrapolation`` entry is
    a ratio, not a quantity)."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int | float):
        f = float(v)
        if not math.isfinite(f):
            return "—"
        k = key.lower()
        if "extrapolation" in path.lower() or k == "reach" or k.endswith(("_ratio", "_factor")):
            return f"{fmt_num(f)}×"
        if "flop" in k and ("per_gpu" in k or "per_second" in k or k.startswith("peak")):
            return f"{f:.3g} FLOP/s"
        if "token" in k and "per_second" in k:
            return f"{fmt_num(f)} tokens/s"
        if "flop" in k and "per_token" in k:
            return f"{f:.3g} FLOPs/token"
        if any(s in k for s in ("flops", "compute")):
            return f"{f:.3g} FLOPs"
        if k in ("n_opt", "params", "n", "active_params") or k.endswith("params"):
            return f"{format_quantity(f)} parameters"
        if k in ("d_opt", "tokens", "d", "unique_tokens") or k.endswith("tokens"):
            return f"{format_quantity(f)} tokens"
        if "usd" in k or k.endswith("dollars"):
            return f"${format_quantity(f)}"
        return fmt_num(f)
    if isinstance(v, list | tuple) and v and all(isinstance(x, int | float) or x is None for x in v):
        return "[" + ", ".join(_fmt_value(key, x, path) for x in v) + "]"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt_value(str(k), x, f'{path}.{k}')}" for k, x in v.items())
    return str(v)


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and len(prefix) < 40:
            rows += _flatten(v, key + ".")
        else:
            rows.append((key, _fmt_value(str(k), v, key)))
    return rows


# --------------------------------------------------------------------------- sections
class _Report:
    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)
        self.figures: list[str] = []                      # figure JSON strings
        self.warnings: list[str] = []
        self.notes: list[str] = []

    def figure(self, fig, caption: str = "") -> str:
        i = len(self.figures)
        self.figures.append(_fig_json(fig))
        cap = f"<figcaption>{_E(caption)}</figcaption>" if caption else ""
        return (f'<figure><div class="plot" id="plot-{i}" data-plot-index="{i}"></div>{cap}'
                f'<script type="application/json" class="plot-spec" data-target="plot-{i}">{self.figures[i]}'
                f"</script></figure>")

    def try_figure(self, label: str, make, caption: str = "") -> str:
        """Draw an optional figure; when its input is missing or unusable, say so instead of failing."""
        try:
            with np.errstate(all="ignore"):  # a figure's grid may run past a law's domain: NaN, not noise
                return self.figure(make(), caption)
        except ScalingLabError as exc:
            self.notes.append(f"{label} not drawn: {exc}")
        except (ValueError, TypeError, KeyError, IndexError, FloatingPointError, np.linalg.LinAlgError) as exc:
            self.warnings.append(f"{label} could not be drawn ({type(exc).__name__}: {exc})")
        return ""

    def add(self, anchor: str, heading: str, body: str) -> None:
        if body:
            self.sections.append((anchor, heading, body))


_STYLE = """
:root{--fg:#1d1d1f;--muted:#5a5a5f;--line:#e3e3e8;--accent:#0072B2;--warn:#9a5b00;--warnbg:#fff6e5}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;color:var(--fg);background:#fff}header{padding:24px 32px 8px;border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:24px}h2{margin:32px 0 10px;font-size:19px;border-bottom:1px solid var(--line);
padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}main{padding:0 32px 48px;max-width:1280px}
nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-size:14px}.muted{color:var(--muted)}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f6f8;font-weight:600}table.kv thead{display:none}table.kv td:first-child{color:var(--muted)}
figure{margin:10px 0 24px}figcaption{color:var(--muted);font-size:13px;margin-top:4px}.plot{width:100%;
min-height:380px}ul.warnings li{background:var(--warnbg);color:var(--warn);margin:4px 0;padding:4px 10px;
border-radius:4px;list-style:none}ul.warnings{padding:0}code{background:#f3f3f5;padding:1px 4px;border-radius:3px}
details summary{cursor:pointer;color:var(--accent)}.scroll{max-height:480px;overflow:auto}
"""

_LOADER = """
(function(){
  var cfg = {responsive: true, displaylogo: false, showLink: false, showSendToCloud: false,
             modeBarButtonsToRemove: ["sendDataToCloud"], toImageButtonOptions: {format: "png", scale: 2}};
  var specs = document.querySelectorAll("script.plot-spec");
  for (var i = 0; i < specs.length; i++) {
    var s = specs[i], fig = JSON.parse(s.textContent);
    Plotly.newPlot(document.getElementById(s.getAttribute("data-target")), fig.data, fig.layout, cfg);
  }
  document.body.setAttribute("data-plots-rendered", String(specs.length));
})();
"""


def _fit_section(rep: _Report, fv: FitView) -> str:
    level = fv.level
    rows = []
    for p in getattr(fv.law, "params", ()):
        name = p.name
        iv = fv.intervals.get(name)
        rows.append((name, fmt_num(fv.params.get(name, math.nan), 5),
                     f"[{fmt_num(iv[0])}, {fmt_num(iv[1])}]" if iv else "—", fv.param_unit(name),
                     p.description or ""))
    src = (fv.diagnostics or {}).get("interval_source")
    # the source says why these may differ from another fit's intervals (`scalinglab fit` without --bootstrap
    # takes the Gauss-Newton covariance; a report fits with 200 bootstrap resamples)
    out = [f"<p>Law <b>{_E(fv.name)}</b>: <code>{_E(fv.formula)}</code></p>",
           _table(["parameter", "value", f"{level:.0%} interval" + (f" ({_E(str(src))})" if src else ""), "unit",
                   "meaning"], rows)]
    meta = [("objective", fmt_num(fv.objective) if fv.objective is not None else "—"),
            ("points fitted", fv.n_points if fv.n_points is not None else "—")]
    obj = fv.obj
    for attr in ("status", "message", "space"):
        v = getattr(obj, attr, None)
        if v:
            meta.append((attr, str(v)))
    loss = getattr(obj, "loss", None)
    if isinstance(loss, dict) and loss:
        meta.append(("objective function", ", ".join(f"{k}={v}" for k, v in loss.items())))
    for var, (lo, hi) in fv.data_ranges.items():
        col = fv.columns.get(var, var)
        if col in ("params", "tokens", "unique_tokens", "active_params") or var in ("N", "D", "U"):
            unit = "tokens" if (col.endswith("tokens") or var in ("D", "U")) else "parameters"
            text = f"{format_quantity(lo)} – {format_quantity(hi)} {unit}"
        elif col == "flops" or var == "C":
            text = f"{lo:.3g} – {hi:.3g} FLOPs"
        else:
            text = f"{fmt_num(lo)} – {fmt_num(hi)}"
        meta.append((f"fitted range of {var} ({col})", text))
    d = fv.diagnostics
    for key in ("n_starts", "n_in_best_basin", "iterations", "grad_norm", "interval_source", "time_total_s"):
        if key in d and not isinstance(d[key], list | dict):
            meta.append((key.replace("_", " "), fmt_num(d[key]) if isinstance(d[key], float) else str(d[key])))
    if fv.bootstrap is not None:
        meta.append(("bootstrap resamples", len(fv.bootstrap)))
    out.append(_kv(meta))
    cal = calibration_of(fv)
    if cal:
        out.append("<h3>Prediction intervals</h3>" + _kv(_calibration_rows(cal)))
    if hasattr(obj, "compute_optimal_exponents") and {"alpha", "beta"} <= set(fv.params):
        try:
            ce = obj.compute_optimal_exponents()

            def fmt_iv(iv):
                return f"[{iv[0]:.3f}, {iv[1]:.3f}]" if iv and all(map(math.isfinite, iv)) else "—"

            out.append("<h3>Compute-optimal exponents (C = 6ND)</h3>" + _table(
                ["quantity", "value", f"{ce.get('level', level):.0%} interval", "published"],
                [("a: N_opt ∝ C^a", f"{ce['a']:.3f}", fmt_iv(ce.get("a_interval")), "Chinchilla 0.46–0.50; Kaplan 0.73"),
                 ("b: D_opt ∝ C^b", f"{ce['b']:.3f}", fmt_iv(ce.get("b_interval")), "Chinchilla 0.50–0.54; Kaplan 0.27")]))
        except (ScalingLabError, ValueError, KeyError, TypeError):
            pass
    return "".join(out)


def calibration_of(fv: FitView) -> dict:
    """``FitResult.summary()["calibration"]`` (method, source backtest/prior, n_cuts, n_predictions, reason),
    or the raw ``calibration`` mapping of a compatible object; {} when the fit records none."""
    obj = fv.obj
    cal = None
    if hasattr(obj, "summary"):
        try:
            cal = obj.summary().get("calibration")
        except (ScalingLabError, TypeError, ValueError, AttributeError, KeyError):
            cal = None
    if not cal:
        raw = getattr(obj, "calibration", None)
        if isinstance(raw, dict):
            cal = {k: raw[k] for k in ("method", "source", "n_cuts", "n_predictions", "reason") if k in raw}
    return dict(cal or {})


_CAL_SOURCE = {
    "backtest": "backtest on these runs (fit on the smaller runs, predict the larger, over several cuts)",
    "prior": "cross-dataset prior rule (not calibrated on these runs)",
}


def _calibration_rows(cal: dict) -> list[tuple[str, str]]:
    rows = []
    if cal.get("method"):
        rows.append(("interval method", str(cal["method"])))
    src = cal.get("source")
    if src:
        rows.append(("calibration source", f"{src}: {_CAL_SOURCE.get(str(src), '')}".rstrip(": ")))
    if cal.get("n_cuts") is not None:
        rows.append(("calibration cuts (n_cuts)", str(cal["n_cuts"])))
    if cal.get("n_predictions") is not None:
        rows.append(("calibration predictions", str(cal["n_predictions"])))
    rows.append(("calibration reason", str(cal.get("reason") or "—")))
    return rows


def _fit_warnings(fv: FitView, df) -> list[str]:
    w = []
    obj = fv.obj
    status = getattr(obj, "status", "success")
    if status not in ("success", "preset", None):
        w.append(f"fit status {status!r}: {getattr(obj, 'message', '')}")
    d = fv.diagnostics
    nb, ns = d.get("n_in_best_basin"), d.get("n_starts")
    if isinstance(nb, int | float) and isinstance(ns, int | float) and ns > 1 and nb < 2:
        w.append(f"only {int(nb)} of {int(ns)} multi-starts reached the best objective: the optimum may be fragile")
    if fv.bootstrap is None and not fv.intervals:
        w.append("the fit has no parameter intervals (fit with bootstrap > 0): predictions carry no "
                 "parameter uncertainty")
    w += parameter_notes(fv.law, fv.params, fv.intervals, fv.level)
    cal = calibration_of(fv)
    if cal.get("source") == "prior" and getattr(obj, "status", None) != "preset":
        w.append("prediction intervals are not calibrated on these runs (prior rule"
                 + (f": {cal['reason']}" if cal.get("reason") else "") + ")")
    quality = getattr(obj, "quality_warnings", None)  # a FitResult's own reading of its residuals
    if quality is not None:
        w.extend(quality)
    elif fv.residuals is not None and fv.residuals.size and getattr(fv.law, "target", "loss") == "loss":
        from ..fit._result import misfit_warning  # a fit-like object without the property: its residuals

        note = misfit_warning(fv.residuals)
        if note:
            w.append(note)
    return w


# --------------------------------------------------------------------------- predictions and reach
def _yes_no(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, list | tuple):
        return "yes" if any(bool(x) for x in v) else "no"
    return "yes" if bool(v) else "no"


def _factor(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(f):
        return "—"
    return f"{f:,.0f}×" if 1e3 <= f < 1e7 else f"{f:.3g}×"


def _reach_rows(d: dict) -> list[tuple[str, str]]:
    """Extrapolation rows of a ``Prediction.to_dict()``: compute factor, reach, warn threshold, hull."""
    ext = d.get("extrapolation") or {}
    rows = []
    if "flops" in ext:
        rows.append(("extrapolation in compute (flops)", _factor(ext["flops"]) + " the largest fitted run"))
    for var, v in ext.items():
        if var not in ("flops", "reach", "warn_factor", "beyond_warn_factor", "outside_hull", "below_range",
                       "flops_convention") and isinstance(v, int | float) and not isinstance(v, bool):
            rows.append((f"extrapolation in {var}", _factor(v)))
    if "reach" in ext:
        rows.append(("reach (largest extrapolation factor)", _factor(ext["reach"])))
    if "beyond_warn_factor" in ext:
        rows.append(("beyond_warn_factor", _yes_no(ext["beyond_warn_factor"])
                     + (f" (threshold {_factor(ext['warn_factor'])})" if "warn_factor" in ext else "")))
    if "outside_hull" in ext:
        rows.append(("outside_hull (of the fitted data)", _yes_no(ext["outside_hull"])))
    if d.get("interval_method"):
        rows.append(("interval method", str(d["interval_method"])))
    return rows


def _predictions_section(preds: list[dict], rep: _Report) -> str:
    rows = []
    for d in preds:
        ext = d.get("extrapolation") or {}
        iv = d.get("interval") or [math.nan, math.nan]
        lvl = d.get("level")
        point = _point_text(d.get("variables", {}))
        rows.append((point, fmt_num(d.get("value")), f"[{fmt_num(iv[0])}, {fmt_num(iv[1])}]"
                     + (f" ({lvl:.0%})" if isinstance(lvl, float) else ""),
                     _factor(ext.get("flops")), _factor(ext.get("reach")),
                     _yes_no(ext.get("beyond_warn_factor")) if "beyond_warn_factor" in ext else "—",
                     _yes_no(ext.get("outside_hull")) if "outside_hull" in ext else "—",
                     str(d.get("interval_method", "—")), "; ".join(map(str, d.get("warnings") or ())) or "—"))
        for w in d.get("warnings") or ():
            rep.warnings.append(f"prediction at {point}: {w}")
    header = ["point", "value", "interval", "compute × (flops)", "reach ×", "beyond warn factor",
              "outside hull", "interval method", "warnings"]
    return ("<p class='muted'>Each prediction is for an actual run at that point; the factors compare it with "
            "the largest fitted run.</p>" + _table(header, rows))


def _plan_section(plans: Sequence[dict], cmax: float | None, rep: _Report,
                  predictions: Sequence[dict | None] = ()) -> str:
    out = []
    for i, d in enumerate(plans, 1):
        title = f"Plan {i}: {d.get('query', 'plan')}"
        main_keys = ["flops", "N_opt", "D_opt", "tokens_per_param", "loss"]
        iv = d.get("intervals") or {}
        rows = []
        for k in main_keys:
            if k in d:
                ivk = iv.get(k)
                rows.append((k, _fmt_value(k, d[k]), _fmt_value(k, list(ivk)) if ivk else "—"))
        lvl = d.get("level")
        out.append(f"<h3>{_E(title)}</h3>" + _table(
            ["quantity", "value", f"{lvl:.0%} interval" if isinstance(lvl, float) else "interval"], rows))
        if d.get("cost"):
            out.append("<p class='muted'>Cost</p>" + _kv(_flatten(d["cost"]) if isinstance(d["cost"], dict)
                                                          else [("cost", str(d["cost"]))]))
        pred = predictions[i - 1] if i <= len(predictions) else None
        if pred is not None:
            out.append("<p class='muted'>Extrapolation (the fit's prediction at N_opt, D_opt)</p>"
                       + _kv(_reach_rows(pred)))
            own = set(d.get("warnings") or ())
            for w in pred.get("warnings") or ():
                if w not in own:
                    rep.warnings.append(f"plan {i}: {w}")
        if d.get("assumptions"):
            a = d["assumptions"]
            out.append("<p class='muted'>Assumptions</p>" + _kv(_flatten(a) if isinstance(a, dict) else
                                                                 [("assumptions", str(a))]))
        extra = {k: v for k, v in d.items() if k not in set(main_keys) | {"intervals", "cost", "assumptions",
                                                                          "warnings", "query", "level", "_compute"}}
        if extra:
            out.append("<details><summary>details</summary>" + _kv(_flatten(extra)) + "</details>")
        for w in d.get("warnings") or ():
            rep.warnings.append(f"plan {i}: {w}")
        c = d.get("flops")
        if pred is None and cmax and isinstance(c, int | float) and math.isfinite(c) and c > cmax:
            rep.warnings.append(f"plan {i} extrapolates {c / cmax:.3g}× beyond the largest compute in the data "
                                f"({cmax:.3g} FLOPs)")
    return "".join(out)


# --------------------------------------------------------------------------- backtests
def _pct(v: Any, digits: int = 2) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:.{digits}%}" if math.isfinite(f) else "—"


def _backtest_section(bt: Any, rep: _Report) -> str:
    """Summary, coverage of the nominal intervals and the error/coverage table by extrapolation factor."""
    d = bt.to_dict() if hasattr(bt, "to_dict") else bt
    if not isinstance(d, dict):
        return ""
    cut = d.get("cutoff")
    cut_s = ", ".join(f"{float(c):.3g}" for c in cut) if isinstance(cut, list) else (
        f"{float(cut):.3g}" if isinstance(cut, int | float) else str(cut))
    rows = [("law", str(d.get("law", "—"))), ("cut by", f"{d.get('by', '—')} at {cut_s}"),
            ("runs fitted (n_train)", str(d.get("n_train", "—"))),
            ("held-out predictions (n_predictions)", str(d.get("n_predictions", "—"))),
            ("median |relative error|", _pct(d.get("median_rel_error"))),
            ("max |relative error|", _pct(d.get("max_rel_error"))),
            ("bias (median relative error)", _pct(d.get("bias"))),
            ("largest extrapolation", _factor(d.get("max_extrapolation")) + " the largest fitted run's compute")]
    out = [_kv(rows)]
    cov = d.get("coverage") or {}
    if isinstance(cov, dict) and cov:
        out.append("<h3>Coverage of the nominal prediction intervals</h3>" + _table(
            ["nominal level", "empirical coverage (held-out runs inside)"],
            [(f"{float(k):.0%}", _pct(v, 0)) for k, v in cov.items()]))
        c80 = cov.get("0.8")
        if isinstance(c80, int | float) and d.get("n_predictions", 0) >= 10 and not 0.65 <= c80 <= 0.95:
            rep.warnings.append(f"backtest: nominal 80% intervals covered {c80:.0%} of {d['n_predictions']} "
                                "held-out runs (outside 65–95%): read the intervals with care")
    by = d.get("by_extrapolation") or []
    if by:
        levels = list((by[0].get("coverage") or {}).keys())
        header = ["compute ratio (prediction / largest fitted run)", "predictions", "median |rel. error|",
                  "max |rel. error|"] + [f"{float(k):.0%} coverage" for k in levels]
        body = []
        for r in by:
            lo, hi = r.get("extrapolation_min") or 0.0, r.get("extrapolation_max")
            hi = math.inf if hi is None else float(hi)  # the open last bucket (JSON has no inf: null)
            span = f"< {hi:g}×" if not lo else (f"≥ {lo:g}×" if not math.isfinite(hi) else f"{lo:g}–{hi:g}×")
            body.append([span, str(r.get("n_predictions", "")), _pct(r.get("median_rel_error")),
                         _pct(r.get("max_rel_error"))] + [_pct((r.get("coverage") or {}).get(k), 0) for k in levels])
        out.append("<h3>Error and coverage by extrapolation factor (by_extrapolation)</h3>"
                   + _table(header, body, cls="by-extrapolation"))
    return "".join(out)


def _runs_section(df, source: str | None, max_rows: int) -> str:
    cols = [c for c in ("run_id", "name", "dataset", "params", "tokens", "flops", "loss") if c in df.columns]
    cols += [c for c in df.columns if c not in cols and not str(c).startswith("_")][: max(0, 12 - len(cols))]
    shown = df[cols].head(max_rows)
    rows = []
    for rec in shown.itertuples(index=False, name=None):
        rows.append([_cell(c, v) for c, v in zip(cols, rec, strict=True)])
    more = f" (first {max_rows} of {len(df)})" if len(df) > max_rows else ""
    return (f"<details><summary>Run table: {len(df)} rows{_E(more)}</summary><div class='scroll'>"
            + _table([str(c) for c in cols], rows) + "</div></details>")


def _cell(col: str, v: Any) -> str:
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            return ""
        if col in ("params", "tokens", "flops", "unique_tokens", "active_params"):
            return f"{float(v):.4g}"
        return f"{float(v):.5g}"
    return "" if v is None else str(v)


def _summary(df, C, conv, column_map=None) -> list[tuple[str, str]]:
    rows = [("runs", str(len(df)))]
    if isinstance(column_map, dict) and column_map:  # the source's own names (aliases, --column)
        rows.append(("columns read as", ", ".join(f"{k} → {v}" for k, v in column_map.items())))
    for col, unit in (("params", "parameters"), ("tokens", "tokens"), ("loss", "")):
        if col in df.columns:
            v = df[col].to_numpy(float, na_value=np.nan)
            if np.isfinite(v).any():
                lo, hi = np.nanmin(v), np.nanmax(v)
                f = (lambda x: format_quantity(x)) if unit else (lambda x: f"{x:.4g}")
                rows.append((f"{col} range", f"{f(lo)} – {f(hi)} {unit}".strip()))
    if C is not None and np.isfinite(C).any():
        rows.append(("compute range", f"{np.nanmin(C):.3g} – {np.nanmax(C):.3g} FLOPs"
                     + (f" (derived as C = {conv})" if conv else "")))
    if "dataset" in df.columns:
        ds = [str(x) for x in df["dataset"].dropna().unique()[:10]]
        rows.append(("datasets", ", ".join(ds)))
    return rows


# --------------------------------------------------------------------------- public API
def render_report(inputs: ReportInputs, *, title: str = "Scaling-law report", models: Any = True,
                  max_table_rows: int = 2000) -> str:
    """The report as one HTML string, drawn from what `prepare` computed (``inputs``): it never fits,
    backtests or reads a file (figures evaluate the given fit's law and prediction band). ``models``:
    notable models overlay (True, False or a DataFrame); ``max_table_rows``: rows of the run table shown."""
    from .figures import (
        backtest_plot,
        bootstrap_plot,
        compute_optimal,
        fit_curve,
        isoflop_profiles,
        law_comparison,
        loss_vs_compute,
        multistart_plot,
        residuals_plot,
        training_curves,
    )

    rep = _Report(title)
    rep.notes += list(inputs.notes)
    rep.warnings += list(inputs.warnings)
    table, fv, source = inputs.runs, inputs.fit, inputs.source
    plan_dicts, backtest, comparison, curves = list(inputs.plans), inputs.backtest, inputs.comparison, inputs.curves
    df = as_frame(table)
    C, conv = compute_of(df)
    if conv is None:  # a DataFrame's attribute would be its `flops_convention` column: keep strings only
        conv = getattr(table, "flops_convention", None)
        conv = conv if isinstance(conv, str) else None
    cmax = None
    if C is not None and np.isfinite(C).any():
        cmax = float(np.nanmax(C))
    if fv is not None and "C" in fv.data_ranges:
        cmax = fv.data_ranges["C"][1]

    # ---- data + main figures
    if df is not None:
        body = _kv(_summary(df, C, conv, getattr(table, "column_map", None)))
        body += rep.try_figure("loss vs compute", lambda: loss_vs_compute(table, fv, plans=plan_dicts,
                                                                            backend="plotly"),
                               "Runs, fitted compute-optimal frontier with its interval band; the shaded "
                               "region is extrapolation beyond the largest compute in the data.")
        if fv is not None and len(fv.variables) == 1 and not fv.has_ND and "C" not in fv.variables:
            body += rep.try_figure("fitted curve", lambda: fit_curve(fv, table, backend="plotly"))
        if {"params", "loss"} <= set(df.columns) and C is not None:
            body += rep.try_figure("IsoFLOP profiles", lambda: isoflop_profiles(table, fv, backend="plotly"),
                                   "Loss vs model size per compute budget, with the fitted optimum of each.")
        body += _runs_section(df, source, max_table_rows)
        rep.add("data", "Data", body)
    elif fv is not None:
        rep.add("data", "Fitted law", rep.try_figure("loss vs compute", lambda: loss_vs_compute(
            None, fv, plans=plan_dicts, backend="plotly")))

    if fv is not None or df is not None or plan_dicts:
        caption = ("Compute-optimal parameters and tokens vs compute: this fit, the Kaplan 2020 and Chinchilla "
                   "rules, and notable models (C = 6ND).")
        alloc = rep.try_figure("compute-optimal allocation", lambda: compute_optimal(
            fv if fv is not None and fv.has_ND else None, runs=table, models=models, plans=plan_dicts,
            backend="plotly"), caption)
        rep.add("allocation", "Compute-optimal allocation", alloc)

    if fv is not None:
        body = _fit_section(rep, fv)
        rep.warnings += _fit_warnings(fv, df)
        diag_runs = table if df is not None else None
        body += rep.try_figure("residuals", lambda: residuals_plot(fv, diag_runs, backend="plotly"),
                               "Residuals of the fit against each variable: structure means the law misses "
                               "something.")
        if fv.bootstrap is not None:
            body += rep.try_figure("bootstrap distributions", lambda: bootstrap_plot(fv, backend="plotly"),
                                   "Bootstrap distribution of each parameter; lines: estimate and interval.")
        if fv.start_objectives() is not None:
            body += rep.try_figure("multi-start spread", lambda: multistart_plot(fv, backend="plotly"),
                                   "Final objective of every start: a flat run at the left is the best basin.")
        rep.add("fit", "Fit", body)

    if plan_dicts:
        rep.add("plans", "Plans", _plan_section(plan_dicts, cmax, rep, inputs.plan_predictions))

    if inputs.predictions:
        rep.add("predictions", "Predictions", _predictions_section(list(inputs.predictions), rep))

    if backtest is not None or comparison is not None:
        body = ""
        if backtest is not None:
            body += _backtest_section(backtest, rep)
            body += rep.try_figure("backtest", lambda: backtest_plot(backtest, backend="plotly"),
                                   "Held-out runs: predicted vs actual loss with prediction intervals.")
        if comparison is not None:
            body += rep.try_figure("law comparison", lambda: law_comparison(comparison, backend="plotly"))
            try:
                from ._inputs import comparison_frame

                cf = comparison_frame(comparison)
                cols = [c for c in ("rank", "law", "median_error", "max_error", "n_predictions", "error")
                        if c in cf.columns]
                body += _table(cols, [[_fmt_value(c, v) if v is not None else "" for c, v in zip(cols, r,
                                       strict=True)] for r in cf[cols].itertuples(index=False, name=None)])
            except ScalingLabError:
                pass
        rep.add("backtest", "Backtest", body)

    if curves is not None:
        rep.add("curves", "Training curves", rep.try_figure(
            "training curves", lambda: training_curves(curves, backend="plotly"),
            "Loss vs tokens per run; dashed lines are branches (e.g. WSD cooldowns)."))

    # ---- provenance
    prov = [("generated", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))]
    prov += [(f"{k} version", v) for k, v in _versions().items()]
    if source:
        prov.append(("data source", source))
    fit_hash = (getattr(fv.obj, "conventions", None) or {}).get("data_hash") if fv is not None else None
    if inputs.data_hash:
        prov.append(("data hash (sha256 of the run table; fit.json's conventions.data_hash)", inputs.data_hash))
        if isinstance(fit_hash, str) and len(fit_hash) == len(inputs.data_hash) and fit_hash != inputs.data_hash:
            rep.warnings.append(f"the fit was made on other runs than these (its data hash {fit_hash[:16]}… "
                                f"differs from this table's {inputs.data_hash[:16]}…)")
    if df is not None:
        prov.append(("FLOP convention", conv or "as given in the data"))
        for attr in ("params_convention", "loss_unit"):
            v = getattr(table, attr, None)
            if v:
                prov.append((attr.replace("_", " "), str(v)))
    if fv is not None:
        for k, v in (getattr(fv.obj, "conventions", None) or {}).items():
            if k == "data_hash" and v == inputs.data_hash:
                continue  # shown above: the fit was made on these runs
            prov.append((f"fit convention: {k}", str(v)))
        if getattr(fv.obj, "preset", None):
            prov.append(("preset", str(fv.obj.preset)))
    prov.append(("frontier convention", "C = 6ND; compute-optimal N* minimises L(N, C/6N)"))
    rep.add("provenance", "Provenance", _kv(prov) + "".join(f"<p class='muted'>{_E(n)}</p>" for n in rep.notes))
    return _assemble(rep)


def _assemble(rep: _Report) -> str:
    nav = "".join(f'<a href="#{a}">{_E(h)}</a>' for a, h, _ in rep.sections)
    if rep.warnings:
        nav = '<a href="#warnings">Warnings</a>' + nav
    warn = ""
    if rep.warnings:
        warn = ('<section id="warnings"><h2>Warnings</h2><ul class="warnings">'
                + "".join(f"<li>{_E(w)}</li>" for w in dict.fromkeys(rep.warnings)) + "</ul></section>")
    sections = "".join(f'<section id="{a}"><h2>{_E(h)}</h2>{b}</section>' for a, h, b in rep.sections)
    plotly_js = f"<script>{_plotly_js()}</script>" if rep.figures else ""
    loader = f"<script>{_LOADER}</script>" if rep.figures else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_E(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="scalinglab">'
        f"<title>{_E(rep.title)}</title><style>{_STYLE}</style>{plotly_js}</head>"
        f'<body data-figures="{len(rep.figures)}"><header><h1>{_E(rep.title)}</h1><nav>{nav}</nav></header>'
        f"<main>{warn}{sections}</main>{loader}</body></html>\n"
    )


def build_report(runs: Any = None, *, fit: Any = None, plans: Sequence[Any] = (), backtest: Any = "auto",
                 comparison: Any = None, curves: Any = None, title: str = "Scaling-law report",
                 law: str | None = "auto", auto_fit: bool = True, bootstrap: int = 200, seed: int = 0,
                 models: Any = True, max_table_rows: int = 2000, predictions: Sequence[Any] = ()) -> str:
    """The report as one HTML string: `prepare` (computes) then `render_report` (draws); see :func:`write_report`.

    Raises
    ------
    InputError
        As `prepare`: unreadable runs, fit, plans or prediction points.
    """
    inputs = prepare(runs, fit=fit, plans=plans, predictions=predictions, backtest=backtest,
                     comparison=comparison, curves=curves, law=law, auto_fit=auto_fit, bootstrap=bootstrap,
                     seed=seed)
    return render_report(inputs, title=title, models=models, max_table_rows=max_table_rows)


def write_report(runs: Any = None, *, fit: Any = None, plans: Sequence[Any] = (), backtest: Any = "auto",
                 comparison: Any = None, curves: Any = None, title: str = "Scaling-law report",
                 path: str | Path = "report.html", law: str | None = "auto", auto_fit: bool = True,
                 bootstrap: int = 200, seed: int = 0, models: Any = True, predictions: Sequence[Any] = (),
                 inputs: ReportInputs | None = None) -> Path:
    """Write ONE self-contained HTML report and return its path.

    ``runs``: a RunTable, DataFrame, file path or store URL. ``fit``: a FitResult, a fit JSON path or a preset
    name; when omitted and the runs have params/tokens/loss, ``law`` is fitted here (default ``"auto"``: the
    forecast stack ``scalinglab fit`` uses; ``auto_fit=False`` to skip). ``plans``: Plan objects, dicts or
    plan JSON paths; each is shown with the fit's prediction at its (N_opt, D_opt): extrapolation factor in compute, reach, whether it passes the warning threshold or leaves
    the fitted data's hull. ``predictions``: Prediction objects, their dicts, or points (``"N=70B,D=1.4T"``)
    predicted with the fit. ``backtest``/``comparison``: results of :func:`scalinglab.fit.backtest` /
    :func:`scalinglab.fit.compare`; ``backtest="auto"`` (default) backtests the fit's law on the runs (the
    largest 30% by compute held out) when there are at most ``AUTO_BACKTEST_MAX_RUNS`` (500) runs, ``True``
    always does, ``None``/``False`` never. The fit section shows how
    its prediction intervals are calibrated (``FitResult.summary()["calibration"]``). ``curves``: step-level metrics
    (``run_id``, ``tokens`` or ``step``, ``loss``; optional ``branch`` / ``parent_run_id``). ``models``: notable
    models overlay (True, False or a DataFrame). Sections whose input is missing are left out.

    Computing and drawing are separate: this is ``render_report(prepare(...))``; pass ``inputs`` (from
    `prepare`) to draw what was computed before, and the other data arguments are then ignored. The file
    is written atomically.

    Raises
    ------
    InputError
        As `prepare`: unreadable runs, fit, plans or prediction points.
    """
    if inputs is None:
        inputs = prepare(runs, fit=fit, plans=plans, predictions=predictions, backtest=backtest,
                         comparison=comparison, curves=curves, law=law, auto_fit=auto_fit, bootstrap=bootstrap,
                         seed=seed)
    text = render_report(inputs, title=title, models=models)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text)
