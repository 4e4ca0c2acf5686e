"""Allocation rules side by side: Kaplan 2020 vs Chinchilla vs Llama 3 vs the law (or fit) in use.

Each rule says how a compute budget C (training FLOPs, C = 6ND) splits into parameters N and tokens D:

* ``kaplan``: Kaplan et al. 2020 eq. 1.7 / Table 6, ``N_opt = 1.3e9 (C_min / PF-day)^0.73`` (N =
  NON-embedding parameters; C_min in PF-days, 1 PF-day = 8.64e19 FLOPs), D = C / (6N) → D ∝ C^0.27.
  Caveat: fitted with a fixed LR schedule length and non-embedding counts, which Porian et al. 2024 and
  Pearce & Song 2024 show is why it over-weights parameters.
* ``chinchilla``: Hoffmann et al. 2022 Approaches 1/2, a = b ≈ 0.50, i.e. ~20 tokens per parameter:
  ``N = sqrt(C / 120)``, ``D = 20 N``.
* ``llama3``: Llama 3 (Grattafiori et al. 2024, Sec. 3.2.1) IsoFLOP law ``D* = 0.299 C^0.537`` — this is
  the optimal number of training TOKENS, not parameters (the paper calls it N*(C)); N = C / (6 D*) ∝ C^0.463.
  The figure-label constants (0.299, 0.537) are used because they reproduce the paper's own extrapolation
  (16.55T tokens at 3.8e25 FLOPs); the rounded (0.29, 0.53) give ~10.5T there.
* the law in use (``law=``): its own compute-optimal allocation, computed by :mod:`.allocation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import PlanError
from ._law import LawSpec, resolve_law

__all__ = ["Rule", "RULES", "scaling_ratios", "compare_rules", "RuleComparison"]

PF_DAY = 8.64e19


@dataclass(frozen=True)
class Rule:
    """A published allocation rule: N ∝ C^a, D ∝ C^b (a + b = 1 under C = 6ND)."""

    name: str
    a: float
    b: float
    source: str
    caveat: str

    def allocate(self, flops: float) -> tuple[float, float]:
        """(N params, D tokens) at ``flops`` training FLOPs.

        Raises
        ------
        PlanError
            If the rule only gives exponents (no absolute allocation).
        """
        C = float(flops)
        if self.name == "kaplan":
            N = 1.3e9 * (C / PF_DAY) ** 0.73
            return N, C / (6 * N)
        if self.name == "chinchilla":
            N = math.sqrt(C / 120.0)
            return N, 20.0 * N
        if self.name == "llama3":
            D = 0.299 * C ** 0.537
            return C / (6 * D), D
        raise PlanError(f"rule {self.name!r} has no absolute allocation")


RULES: dict[str, Rule] = {
    "kaplan": Rule("kaplan", 0.73, 0.27,
                   "Kaplan et al. 2020, arXiv 2001.08361, eq. 1.7 / Table 6: N_opt = 1.3e9 (C_min/PF-day)^0.73",
                   "N is non-embedding parameters and C is C_min; fitted with a fixed LR schedule, which "
                   "over-weights parameters (Porian et al. 2024, Pearce & Song 2024)"),
    "chinchilla": Rule("chinchilla", 0.50, 0.50,
                       "Hoffmann et al. 2022, arXiv 2203.15556, Table 2 Approaches 1/2 (a = b ~ 0.5; "
                       "~20 tokens/param, Table 3)",
                       "N is total parameters; the 20 tokens/param rule is a rounded summary"),
    "llama3": Rule("llama3", 1 - 0.537, 0.537,
                   "Grattafiori et al. 2024 (Llama 3), arXiv 2407.21783, Sec. 3.2.1: D* = 0.299 C^0.537",
                   "the published law gives optimal training TOKENS (not parameters); N = C/(6 D*); fitted on "
                   "6e18-1e22 FLOPs"),
}


def _law_exponents(spec: LawSpec, flops: float, factor: float) -> tuple[float, float]:
    """Local exponents d log N*/d log C and d log D*/d log C of the law between C and factor·C."""
    from .allocation import optimum

    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name)
    if spec.is_chinchilla:
        _, _, _, al, be = spec.theta
        return be / (al + be), al / (al + be)
    N1, D1, _ = optimum(central, flops)
    N2, D2, _ = optimum(central, flops * factor)
    lf = math.log(factor)
    return math.log(N2[0] / N1[0]) / lf, math.log(D2[0] / D1[0]) / lf


def scaling_ratios(factor: float, law=None, *, flops: float = 1e23) -> dict[str, dict]:
    """How N and D grow when compute grows by ``factor`` under each rule and under ``law``.

    >>> r = scaling_ratios(10)
    >>> round(r["kaplan"]["params"], 1), round(r["kaplan"]["tokens"], 1)
    (5.4, 1.9)
    >>> round(r["chinchilla"]["params"], 2), round(r["chinchilla"]["tokens"], 2)
    (3.16, 3.16)

    The law's row (keyed by its name, ``chinchilla-epoch`` by default) uses its exponents
    (``beta/(alpha+beta)`` for the Chinchilla form; a finite difference at ``flops`` otherwise).

    Raises
    ------
    PlanError
        If ``factor`` is not a positive number other than 1, or ``law`` cannot be resolved.
    """
    f = float(factor)
    if not f > 0 or not math.isfinite(f) or f == 1:
        raise PlanError(f"compute factor must be a positive number other than 1, got {factor!r}")
    out = {name: {"params": f ** r.a, "tokens": f ** r.b, "a": r.a, "b": r.b, "source": r.source,
                  "caveat": r.caveat} for name, r in RULES.items()}
    spec = resolve_law(law, n_draws=0)
    spec.require("N", "D", what="allocation exponents")
    a, b = _law_exponents(spec, flops, f)
    a, b = float(a), float(b)
    out[spec.name or "law"] = {"params": f ** a, "tokens": f ** b, "a": a, "b": b, "source": spec.source,
                               "caveat": "exponents of the law in use"}
    return out


@dataclass(frozen=True)
class RuleComparison:
    """Allocations of several rules at one budget, each scored by the law in use."""

    flops: float
    law: str
    rows: tuple[dict, ...]

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``flops`` (training FLOPs), ``law`` and ``rules`` (one dict per rule, the law's own
        optimum last: ``rule``, ``N``, ``D``, ``tokens_per_param``, ``loss``, ``loss_gap``, ``a``, ``b``,
        ``ratio_params``, ``ratio_tokens``, ``source``, ``caveat``).
        """
        return {"flops": self.flops, "law": self.law, "rules": [dict(r) for r in self.rows]}


def compare_rules(flops: float, law=None, *, factor: float = 10.0) -> RuleComparison:
    """N, D, tokens/param and the law's predicted loss for each rule at ``flops`` training FLOPs, plus the
    law's own optimum; ``ratio_params``/``ratio_tokens`` say how each grows for ``factor``× compute."""
    from .allocation import _positive, optimum

    C = _positive(flops, "compute budget (FLOPs)")
    spec = resolve_law(law, n_draws=0)
    spec.require("N", "D", what="comparing allocation rules")
    ratios = scaling_ratios(factor, spec, flops=C)
    Nl, Dl, Ll = optimum(spec, C)
    rows = []
    for name, rule in RULES.items():
        N, D = rule.allocate(C)
        with np.errstate(all="ignore"):
            L = float(spec.law.evaluate(spec.theta, {"N": np.array([N]), "D": np.array([D])})[0])
        rows.append({"rule": name, "N": N, "D": D, "tokens_per_param": D / N, "loss": L,
                     "loss_gap": L - float(Ll[0]), "a": rule.a, "b": rule.b,
                     "ratio_params": ratios[name]["params"], "ratio_tokens": ratios[name]["tokens"],
                     "source": rule.source, "caveat": rule.caveat})
    own = ratios[spec.name or "law"]
    rows.append({"rule": spec.name or "law", "N": float(Nl[0]), "D": float(Dl[0]),
                 "tokens_per_param": float(Dl[0] / Nl[0]), "loss": float(Ll[0]), "loss_gap": 0.0,
                 "a": own["a"], "b": own["b"], "ratio_params": own["params"], "ratio_tokens": own["tokens"],
                 "source": spec.source, "caveat": "compute-optimal under the law in use"})
    return RuleComparison(flops=C, law=spec.name, rows=tuple(rows))
