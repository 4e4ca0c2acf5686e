"""The :class:`Plan` result: what to train, what it costs, what it will score, and on what assumptions."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .._json import to_jsonable as _jsonable
from ..units import format_quantity

__all__ = ["Plan", "interval", "fmt"]


def interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Central ``level`` interval (e.g. 10th-90th percentile for 0.8) of ``values``, NaN (no answer) left out
    and an infinite value kept as one (a draw that never reaches a target loss needs unbounded compute: when
    more than ``(1 - level) / 2`` of them do, the upper end is infinite)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    q = (1.0 - level) / 2.0
    big = np.finfo(float).max
    lo, hi = np.quantile(np.clip(v, -big, big), [q, 1.0 - q])  # +-inf as the largest float: no inf - inf
    return tuple(float(x) if abs(x) < big / 2 else math.copysign(math.inf, x) for x in (lo, hi))


def fmt(value: float | None, kind: str = "count") -> str:
    """Human formatting: counts with suffixes, FLOPs in scientific notation, losses with 4 decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if kind == "flops":
        return f"{value:.3g}"
    if kind == "loss":
        return f"{value:.4f}"
    if kind == "ratio":
        return f"{value:.3g}"
    return format_quantity(value)


@dataclass(frozen=True)
class Plan:
    """A training plan for one compute budget (or target loss, or fixed model size).

    Units: ``flops`` training FLOPs (under ``assumptions["flop_convention"]``, ``C = 6ND`` by default),
    ``N_opt`` parameters (total; active parameters for MoE plans), ``D_opt`` training tokens, ``loss`` in the
    law's unit (nats/token for the Chinchilla presets). ``intervals`` maps each of those names to a
    ``(lo, hi)`` central interval at ``level``. ``cost`` is the hardware estimate (GPU-hours, days, USD as
    ranges) or ``None``. ``details`` carries optional sections: ``inference``, ``data_constrained``, ``moe``,
    ``extrapolation``, and for plans from a fit ``loss_prediction`` (the calibrated prediction of an actual
    run's loss at N_opt, D_opt, whose interval is ``intervals["loss"]``).
    """

    query: str
    flops: float
    N_opt: float
    D_opt: float
    tokens_per_param: float
    loss: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    cost: Mapping[str, object] | None = None
    warnings: tuple[str, ...] = ()
    assumptions: Mapping[str, object] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)
    level: float = 0.8

    def to_dict(self) -> dict:
        """JSON-able dict with the CLI contract keys (``N_opt``, ``D_opt``, ``tokens_per_param``, ``loss``,
        ``intervals``, ``cost``, ``warnings``, ``assumptions``) plus ``query``, ``flops``, ``level`` and the
        optional sections."""
        out = {
            "query": self.query,
            "flops": self.flops,
            "N_opt": self.N_opt,
            "D_opt": self.D_opt,
            "tokens_per_param": self.tokens_per_param,
            "loss": self.loss,
            "intervals": {k: [float(v[0]), float(v[1])] for k, v in self.intervals.items()},
            "level": self.level,
            "cost": _jsonable(self.cost),
            "warnings": list(self.warnings),
            "assumptions": _jsonable(self.assumptions),
        }
        for key, value in self.details.items():
            out[key] = _jsonable(value)
        return out

    @property
    def loss_unit(self) -> str | None:
        """The unit of ``loss`` (``"nats/token"``, ``"bits/byte"``): the law's, as its fit or preset records it;
        None when unknown."""
        unit = str(self.assumptions.get("loss_unit") or "")
        return unit if unit and unit != "the law's unit" else None

    def rows(self) -> list[tuple[str, str, str]]:
        """(quantity, value, interval) rows for tables."""
        unit = self.loss_unit
        spec = [("training FLOPs", "flops", self.flops, "flops"),
                ("parameters N", "N_opt", self.N_opt, "count"),
                ("tokens D", "D_opt", self.D_opt, "count"),
                ("tokens / param", "tokens_per_param", self.tokens_per_param, "ratio"),
                (f"predicted loss ({unit})" if unit else "predicted loss", "loss", self.loss, "loss")]
        rows = []
        for label, key, value, kind in spec:
            iv = self.intervals.get(key)
            rows.append((label, fmt(value, kind), f"{fmt(iv[0], kind)} – {fmt(iv[1], kind)}" if iv else ""))
        return rows

    def _repr_html_(self) -> str:
        e = html.escape
        head = f"<b>Plan ({e(self.query)})</b> under {e(str(self.assumptions.get('law', '')))}"
        body = "".join(f"<tr><td>{e(a)}</td><td style='text-align:right'>{e(b)}</td><td>{e(c)}</td></tr>"
                       for a, b, c in self.rows())
        table = (f"<table><tr><th>quantity</th><th>value</th><th>{int(round(self.level * 100))}% interval</th>"
                 f"</tr>{body}</table>")
        cost = ""
        if self.cost:
            c = self.cost
            cost = ("<p>Cost: " + e(_cost_line(c)) + "</p>")
        warn = "".join(f"<li>{e(w)}</li>" for w in self.warnings)
        warn = f"<ul style='color:#a60'>{warn}</ul>" if warn else ""
        return f"<div>{head}{table}{cost}{warn}</div>"

    def __repr__(self) -> str:
        return (f"Plan({self.query}: C={self.flops:.3g} FLOPs, N={format_quantity(self.N_opt)} params, "
                f"D={format_quantity(self.D_opt)} tokens, {self.tokens_per_param:.3g} tokens/param, "
                f"loss={self.loss:.4f}" + (f" {self.loss_unit}" if self.loss_unit else "") + ")")


def _cost_line(c: Mapping) -> str:
    def rng(key, f):
        v = c.get(key)
        if not v:
            return "-"
        return f"{f(v[0])}–{f(v[1])}"

    return (f"{rng('gpu_hours', lambda x: format_quantity(x))} GPU-hours, "
            f"{rng('days', lambda x: f'{x:.3g}')} days, ${rng('usd', lambda x: format_quantity(x))} "
            f"on {c.get('n_gpus', '?')}× {c.get('gpu', '?')}")
