"""Notable-model audit: where bundled models sit relative to a law's compute-optimal frontier.

For each model with known parameters and training tokens, its compute is ``C = 6 N D`` (N = active
parameters for MoE models; the law's convention — published FLOP counts are reported beside it), the
law's compute-optimal allocation at that C gives the optimal tokens/param, and the model is classified by

    ratio = (tokens/param of the model) / (optimal tokens/param at its compute)

* ``under-trained``        ratio < 1/2   (e.g. GPT-3 175B on 300B tokens, ~1.7 tokens/param)
* ``near compute-optimal`` 1/2 <= ratio <= 2   (e.g. Chinchilla 70B on 1.4T tokens)
* ``over-trained``         ratio > 2     (e.g. Llama 3 8B on 15T tokens, ~1,900 tokens/param)

A factor of 2 either way costs little loss on the Chinchilla frontier (the valley is flat), which is why
it is the "near optimal" band; both thresholds are parameters. Each row also carries the model's predicted
loss L(N, D) and the loss of the optimal allocation at the same compute (the gap is what the allocation
cost, ignoring inference — over-training is deliberate when inference dominates; see
:func:`scalinglab.plan.inference_demand_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import PlanError
from ._law import resolve_law

__all__ = ["Audit", "audit"]

#: reach beyond a law's fitted N or D range past which the audit says its verdicts extrapolate (as plans do)
REACH_WARN = 10.0


@dataclass(frozen=True)
class Audit:
    """One row per model: name, N, D, C, tokens/param, optimum at C, ratio, verdict, losses."""

    law: str
    rows: tuple[dict, ...]
    thresholds: tuple[float, float]
    skipped: tuple[str, ...] = ()
    loss_unit: str = "the law's unit"
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``law``, ``thresholds`` (``under``/``over`` multiples of the optimal tokens per
        parameter), ``flop_convention``, ``loss_unit``, ``models`` (one dict per audited model; ``reach``: how
        many times beyond the law's fitted N or D range the model lies, 1 inside it, None when the law records
        no range), ``skipped`` and ``warnings``.
        """
        return {"law": self.law, "thresholds": {"under": self.thresholds[0], "over": self.thresholds[1]},
                "flop_convention": "C = 6ND (N = active params for MoE)", "loss_unit": self.loss_unit,
                "models": [dict(r) for r in self.rows], "skipped": list(self.skipped),
                "warnings": list(self.warnings)}

    def to_frame(self):
        """The audited models as a pandas DataFrame, one row per model (the dicts of ``rows``)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows))

    def row(self, name: str) -> dict:
        """The audit row of the model ``name`` (case-insensitive).

        Raises
        ------
        PlanError
            If no audited model has that name.
        """
        for r in self.rows:
            if r["name"].lower() == name.lower():
                return r
        raise PlanError(f"no model named {name!r} in the audit")


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def audit(law=None, models=None, *, under: float = 0.5, over: float = 2.0) -> Audit:
    """Classify notable models (``scalinglab.models.notable_models()`` by default, or a DataFrame / list of
    dicts with name, params, tokens and optional active_params, flops) against ``law``'s frontier.

    Raises
    ------
    PlanError
        If the thresholds do not satisfy ``0 < under < 1 < over``, or ``law`` cannot be resolved.
    """
    from .allocation import _extrapolation, optimum

    if not (0 < under < 1 < over):
        raise PlanError(f"thresholds must satisfy 0 < under < 1 < over, got {under}, {over}")
    spec = resolve_law(law, n_draws=0)
    spec.require("N", "D", what="the notable-model audit")
    if models is None:
        from ..models import notable_models

        models = notable_models()
    records = models.to_dict("records") if hasattr(models, "to_dict") else list(models)
    rows, skipped = [], []
    for m in records:
        name = str(m.get("name", "?"))
        total, active, D = _num(m.get("params")), _num(m.get("active_params")), _num(m.get("tokens"))
        N = active if math.isfinite(active) and active > 0 else total
        if not (math.isfinite(N) and math.isfinite(D) and N > 0 and D > 0):
            skipped.append(name)
            continue
        C = 6.0 * N * D
        Nopt, Dopt, Lopt = (float(a[0]) for a in optimum(spec, C))
        with np.errstate(all="ignore"):
            L = float(spec.law.evaluate(spec.theta, {"N": np.array([N]), "D": np.array([D])})[0])
        ext = _extrapolation(spec, N, D)[0]  # how far beyond the fitted N and D the verdict reaches
        reach = max((float(e["factor_beyond"]) for e in ext.values()), default=None)
        ratio = (D / N) / (Dopt / Nopt)
        verdict = "under-trained" if ratio < under else ("over-trained" if ratio > over else "near compute-optimal")
        rows.append({"name": name, "params": total, "active_params": N, "tokens": D, "flops": C,
                     "published_flops": _num(m.get("flops")), "tokens_per_param": D / N,
                     "optimal_params": Nopt, "optimal_tokens": Dopt, "optimal_tokens_per_param": Dopt / Nopt,
                     "ratio": ratio, "verdict": verdict, "loss": L, "optimal_loss": Lopt, "loss_gap": L - Lopt,
                     "year": m.get("year"), "source": m.get("source", ""), "reach": reach})
    far = [r for r in rows if r["reach"] is not None and r["reach"] > REACH_WARN]
    notes = []
    if far:
        top = max(far, key=lambda r: r["reach"])
        notes.append(f"{len(far)} of {len(rows)} models lie more than {REACH_WARN:g}x beyond the sizes or tokens "
                     f"{spec.name} was fitted on (up to {top['reach']:.3g}x, {top['name']}): their optimal "
                     "tokens/param, verdict and losses extrapolate the law's frontier, without an interval")
    unit = (spec.conventions or {}).get("loss", "the law's unit")
    return Audit(law=spec.name, rows=tuple(rows), thresholds=(under, over), skipped=tuple(skipped), loss_unit=unit,
                 warnings=tuple(notes))
