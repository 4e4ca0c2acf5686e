"""Compute-optimal allocation and its inverse queries, with intervals from the law's draws.

Intervals: N*, D*, tokens/param and FLOPs take the central ``level`` interval over the law's parameter draws
(bootstrap refits, the fit's covariance, or a preset's published standard errors). The loss of a plan made
from a fit takes the fit's calibrated prediction interval for an actual run at (N*, D*) instead
(`FitResult.predict`: run noise, parameter spread and extrapolation reach, calibrated by backtests on the
fit's own runs; ``details["loss_prediction"]``): the draws carry only the uncertainty of the law's mean,
3x narrower than that at 32x the compute of OpenEuroLLM's dense ladder. A preset has no runs to calibrate
on, so its loss interval stays the spread over its draws.

FLOP convention: training compute ``C = 6 N D`` (N parameters, D training tokens; Kaplan et al. 2020,
Hoffmann et al. 2022). Every plan records it in ``assumptions["flop_convention"]``.

* Chinchilla form ``E + A/N^alpha + B/D^beta``: closed form (Hoffmann et al. eq. 4)
  ``G = (alpha A / (beta B))^(1/(alpha+beta))``, ``N* = G (C/6)^(beta/(alpha+beta))``, ``D* = C/(6 N*)``,
  and the optimal loss ``L*(C) = E + (1 + alpha/beta) A N*^-alpha`` (so the compute for a target loss
  is closed form too).
* Any other law with variables N and D (others, such as U, held fixed): bounded 1-D minimisation in
  ``log N`` along ``C = 6 N D`` on a shared grid (1,201 points over ±6 decades around ``sqrt(C/6)``),
  refined by a parabola through the best three points, vectorised over all parameter draws at once.

Queries: :func:`compute_optimal` (budget → N*, D*, loss), :func:`plan_for_loss` (target loss → compute),
:func:`plan_for_params` (fixed N → frontier D, the D that reaches a target loss, or the loss at a given D),
:func:`plan_budget` (US dollars → FLOP range via the hardware catalog → plans at both ends),
:func:`loss_at` (loss at given N, D) and :func:`plan`, which dispatches on what it is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .._errors import PlanError
from ..units import format_quantity
from ._cost import DEFAULT_GPU, DEFAULT_MFU, DEFAULT_N_GPUS, parse_mfu, plan_cost, usd_to_flops
from ._law import DEFAULT_DRAWS, LawSpec, resolve_law
from ._optimum import (
    FLOP_CONVENTION,
    _compute_for_loss_rows,
    _eval_rows,
    _fixed_arrays,
    _frontier_tokens_rows,
    _positive,
    _quantity,
    _tokens_for_loss_rows,
    optimal_loss_curve,
    optimum,
    optimum_for_loss_rows,
)
from ._result import Plan

__all__ = [
    "FLOP_CONVENTION", "optimum", "compute_optimal", "plan_for_loss", "plan_for_params", "plan_budget",
    "loss_at", "plan", "BudgetPlan", "optimal_loss_curve",
]

# --------------------------------------------------------------------------------------------- assembling plans
def _options(gpu, n_gpus, mfu):
    if n_gpus is not None and (isinstance(n_gpus, bool) or not float(n_gpus) >= 1 or not float(n_gpus).is_integer()):
        raise PlanError(f"number of GPUs must be a positive integer, got {n_gpus!r}")  # 0 is not "the default"
    return gpu or DEFAULT_GPU, int(DEFAULT_N_GPUS if n_gpus is None else n_gpus), parse_mfu(
        DEFAULT_MFU if mfu is None else mfu)


def _assumptions(spec: LawSpec, level: float, gpu, n_gpus, mfu, cost: dict | None) -> dict:
    out = {"law": spec.name, "law_source": spec.source, "law_form": getattr(spec.law, "formula", ""),
           "law_params": spec.params, "law_conventions": dict(spec.conventions or {}),
           "flop_convention": FLOP_CONVENTION,
           "params_convention": (spec.conventions or {}).get("params", "as in the law's data"),
           "loss_unit": ((spec.conventions or {}).get("loss_unit") or (spec.conventions or {}).get("loss")
                         or "the law's unit"),
           "interval": f"central {int(round(level * 100))}% of the draws; {spec.interval_method}",
           "gpu": gpu, "n_gpus": n_gpus, "mfu": list(mfu)}
    if cost:
        for key in ("price_per_hour", "peak_flops_per_gpu", "precision"):
            if key in cost:
                out[key] = cost[key]
    return out


def _extrapolation(spec: LawSpec, N: float, D: float) -> tuple[dict, list[str]]:
    ranges = dict(spec.data_ranges or {})
    info, warnings = {}, []
    for var, value in (("N", N), ("D", D)):
        if var not in ranges or not math.isfinite(value):
            continue
        lo, hi = (float(r) for r in ranges[var])
        factor = value / hi if value > hi else (lo / value if value < lo else 1.0)
        info[var] = {"value": value, "data_range": [lo, hi], "factor_beyond": factor,
                     "direction": "above" if value > hi else ("below" if value < lo else "inside")}
        if factor > 10:
            what = "parameters" if var == "N" else "tokens"
            warnings.append(f"extrapolation: {var} = {format_quantity(value)} {what} is {factor:.3g}× "
                            f"{'beyond the largest' if value > hi else 'below the smallest'} value the law was "
                            f"fitted on ({format_quantity(hi if value > hi else lo)})")
    return info, warnings


def _run_prediction(spec: LawSpec, N: float, D: float, fixed, level: float):
    """The fit's prediction for an actual run at ``N`` parameters and ``D`` tokens (other variables from
    ``fixed``), or ``None`` when the plan is not made from a fit of this very law (presets, pairs). Under the
    repeated-data wrapper a fit of an (N, D) law gets from ``unique_tokens``, the fit's prediction at the
    effective parameters and data N', D' (its calibrated band, not the parameter draws alone), widened to the
    band of the actual run at (N, D) and with that run's reach."""
    fit = spec.predictor
    law = getattr(spec.law, "base", spec.law)  # RepeatedDataLaw: the fitted (N, D) law behind it
    if fit is None or law is not getattr(fit, "law", None):
        return None
    if law is not spec.law:
        eff = spec.law.effective(spec.theta, {"N": np.atleast_1d(np.asarray(N, float)),
                                              "D": np.atleast_1d(np.asarray(D, float)), "U": (fixed or {})["U"]})
        at_eff = fit.predict(level=level, warn=False, N=eff["N"].reshape(np.shape(N)),
                             D=eff["D"].reshape(np.shape(D)))
        # the band of the actual run (N, D), as far beyond the fitted runs as it is, around the loss at its
        # effective size: N', D' can lie back inside the fitted range while the run and the repetition
        # constants taken from Muennighoff et al. do not
        actual = fit.predict(level=level, warn=False, N=N, D=D)
        v, va = np.asarray(at_eff.value, float), np.asarray(actual.value, float)
        lo = np.fmin(np.asarray(at_eff.interval[0], float), v * np.asarray(actual.interval[0], float) / va)
        hi = np.fmax(np.asarray(at_eff.interval[1], float), v * np.asarray(actual.interval[1], float) / va)
        scalar = np.ndim(at_eff.value) == 0
        return replace(at_eff, interval=(float(lo), float(hi)) if scalar else (lo, hi),
                       extrapolation=actual.extrapolation)
    point = {"N": N, "D": D, **{k: v for k, v in (fixed or {}).items() if k in spec.variables}}
    return fit.predict(level=level, warn=False, **point)


def _finish(spec: LawSpec, *, query: str, C: np.ndarray, N: np.ndarray, D: np.ndarray, L: np.ndarray,
            level: float, gpu, n_gpus, mfu, warnings: list[str], details: dict | None = None, price_per_hour=None,
            interval_keys=("flops", "N_opt", "D_opt", "tokens_per_param", "loss"),
            unique_tokens=None, active_ratio=None, inference_tokens=None, fixed=None) -> Plan:
    C, N, D, L = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (C, N, D, L))
    warnings[:0] = list(spec.notes)  # what the fit's runs imply for any plan: first
    if not (np.isfinite(N[0]) and np.isfinite(D[0])):
        raise PlanError(f"law {spec.name!r} has no interior compute-optimal allocation at this budget "
                        "(its loss keeps falling towards the edge of the search range)")
    with np.errstate(invalid="ignore", over="ignore"):  # inf / inf: a draw that never reaches a target: no ratio
        values = {"flops": C, "N_opt": N, "D_opt": D, "tokens_per_param": D / N, "loss": L}
    intervals = {}
    if N.size > 1:
        bad = int(np.sum(np.isnan(N[1:])))  # +inf: a draw that never reaches a target (kept)
        if bad:
            warnings.append(f"{bad} of {N.size - 1} parameter draws gave no solution and were left out "
                            "of the intervals")
        for k in interval_keys:
            lo, hi = spec.interval(values[k], level)
            point = float(values[k][0])
            # an interval holds its point: draws that never reach a target loss have no tokens/param, and the
            # rest (lower floors, less compute) can leave the point above them all
            intervals[k] = (min(lo, point), max(hi, point)) if math.isfinite(point) else (lo, hi)
    else:
        warnings.append("no interval: the law has no bootstrap draws or standard errors "
                        "(fit with bootstrap=... to get one)")
    gpu, n_gpus, mfu = _options(gpu, n_gpus, mfu)
    details = dict(details or {})
    head = {"flops": float(C[0]), "N_opt": float(N[0]), "D_opt": float(D[0]), "loss": float(L[0])}
    objective = None
    if inference_tokens is not None:
        from .inference import inference_optimal

        # a compute budget: each draw aims at its own compute-optimal loss there (the intervals then compare
        # with the compute-optimal plan's, and a demand of 0 gives them back); a target loss: that loss
        inf = inference_optimal(_demand(inference_tokens), law=_inference_law(spec, fixed),
                                flops=float(C[0]) if query == "compute" else None,
                                target_loss=None if query == "compute" else float(L[0]), level=level)
        details["inference"] = inf.to_dict()
        warnings.extend(inf.warnings)
        if query in ("compute", "target-loss"):  # the allocation is free: the plan asked for leads
            co_cost = plan_cost(head["flops"], gpu, n_gpus, mfu, price_per_hour)
            details["compute_optimal"] = {**head, "tokens_per_param": head["D_opt"] / head["N_opt"],
                                          "intervals": {k: list(v) for k, v in intervals.items()},
                                          "cost": co_cost, "lifetime_flops": inf.compute_optimal["total_flops"],
                                          "note": "the compute-optimal plan of the same loss, ignoring the "
                                                  "inference demand"}
            if query == "compute" and inf.train_flops > 2.0 * float(C[0]):
                warnings.append(f"the inference-aware plan trains on {inf.train_flops / float(C[0]):.3g}x the compute "
                                f"given ({inf.train_flops:.3g} vs {float(C[0]):.3g} FLOPs): with this demand the "
                                "lifetime is cheapest with a much smaller model trained far longer; give "
                                "--budget-usd or a target loss to cap training instead")
            head = {"flops": inf.train_flops, "N_opt": inf.N, "D_opt": inf.D_train, "loss": inf.target_loss}
            iv = inf.intervals
            intervals = {key: tuple(iv[src]) for key, src in (("N_opt", "N"), ("D_opt", "D_train"),
                                                              ("tokens_per_param", "tokens_per_param"))
                         if src in iv and key in interval_keys}
            if query == "compute" and "train_flops" in iv:  # each draw trains what its own target needs
                intervals["flops"] = tuple(iv["train_flops"])
            if "loss" in interval_keys and "loss" in details["compute_optimal"]["intervals"]:
                intervals["loss"] = tuple(details["compute_optimal"]["intervals"]["loss"])  # same loss per draw
            objective = ("inference-aware: least lifetime FLOPs (6 N D_train + 2 N D_inf) at the compute-optimal "
                         "loss (Sardana et al. 2024)")
    run = _run_prediction(spec, head["N_opt"], head["D_opt"], fixed, level)
    if run is not None:  # an actual run's loss: run noise, parameter spread and reach, calibrated on the fit's runs
        intervals["loss"] = tuple(float(v) for v in run.interval)
        details["loss_prediction"] = {**run.to_dict(), "note": "the loss an actual run of this plan is predicted "
                                      "to reach: the fit's calibrated prediction interval (FitResult.predict)"}
        warnings.extend(run.warnings)
    cost = plan_cost(head["flops"], gpu, n_gpus, mfu, price_per_hour)
    if query == "target-loss" and "flops" in intervals and objective is None:
        cost.update(_cost_over(intervals["flops"], gpu, n_gpus, mfu, price_per_hour))
    ext, w = _extrapolation(spec, head["N_opt"], head["D_opt"])
    warnings.extend(w)
    if ext:
        details["extrapolation"] = ext
    if unique_tokens is not None:
        from .data_constrained import repetition_check

        section, w = repetition_check(_unwrapped(spec), head["N_opt"], head["D_opt"],
                                      _quantity(unique_tokens, "unique tokens"))
        details["data_constrained"] = section
        warnings.extend(w)
    if active_ratio is not None:
        section, w = _moe_section(head["N_opt"], float(active_ratio))
        details["moe"] = section
        warnings.extend(w)
    assumptions = _assumptions(_unwrapped(spec), level, gpu, n_gpus, mfu, cost)
    if run is not None:
        assumptions["interval"] = (f"loss: the fit's {int(round(level * 100))}% prediction interval for an actual "
                                   f"run ({run.method}); the rest: {assumptions['interval']}")
    if objective:
        assumptions["objective"] = objective
    return Plan(query=query, flops=head["flops"], N_opt=head["N_opt"], D_opt=head["D_opt"],
                tokens_per_param=head["D_opt"] / head["N_opt"], loss=head["loss"], intervals=intervals, cost=cost,
                warnings=tuple(dict.fromkeys(warnings)), assumptions=assumptions, details=details, level=level)


def _cost_over(flops_interval, gpu, n_gpus, mfu, price_per_hour) -> dict:
    """GPU-hours, days and dollars over a plan's FLOPs interval as well as the hardware ranges (``*_with_flops_
    interval`` keys, ``[lo, hi]``; the upper ends infinite when the FLOPs interval is)."""
    lo, hi = (float(x) for x in flops_interval)
    if not (math.isfinite(lo) and lo > 0):
        return {}
    a = plan_cost(lo, gpu, n_gpus, mfu, price_per_hour)
    b = plan_cost(hi, gpu, n_gpus, mfu, price_per_hour) if math.isfinite(hi) else None
    return {f"{k}_with_flops_interval": [float(a[k][0]), float(b[k][1]) if b else math.inf]
            for k in ("gpu_hours", "days", "usd")}


def _demand(inference_tokens) -> float:
    """Lifetime inference demand in tokens: a non-negative number (0 = no inference, the compute optimum)."""
    if isinstance(inference_tokens, str):
        from ..units import parse_quantity

        inference_tokens = parse_quantity(inference_tokens, what="inference tokens")
    try:
        v = float(inference_tokens)
    except (TypeError, ValueError):
        raise PlanError(f"inference tokens must be a number, got {inference_tokens!r}") from None
    if not math.isfinite(v) or v < 0:
        raise PlanError(f"inference tokens must be a non-negative finite number, got {inference_tokens!r}")
    return v


def _moe_section(N_active: float, ratio: float) -> tuple[dict, list[str]]:
    if not 0 < ratio <= 1:
        raise PlanError(f"active ratio must be in (0, 1] (active / total parameters), got {ratio!r}")
    total = N_active / ratio
    section = {"active_params": N_active, "total_params": total, "active_ratio": ratio,
               "compute_from": "active parameters (C = 6 N_active D)",
               "memory_from": "total parameters",
               "weights_memory_gb_bf16": total * 2 / 1e9,
               "training_state_memory_gb": total * 16 / 1e9,
               "training_state_note": "mixed-precision Adam: 16 bytes/param (bf16 weights+grads, fp32 master "
                                      "weights and two moments); activations excluded",
               "inference_flops_per_token": 2 * N_active}
    warn = [f"MoE: the law treats N as active parameters ({format_quantity(N_active)}); the model holds "
            f"{format_quantity(total)} in memory. Laws fitted on dense models usually under-predict an MoE's "
            "quality at equal active parameters (not modelled)"]
    return section, warn


# --------------------------------------------------------------------------------------------- public queries
def compute_optimal(flops, law=None, *, level: float = 0.8, gpu: str | None = None, n_gpus: int | None = None,
                    mfu=None, price_per_hour=None, unique_tokens=None, active_ratio=None, inference_tokens=None,
                    fixed: Mapping[str, float] | None = None, n_draws: int = DEFAULT_DRAWS,
                    seed: int = 0) -> Plan:
    """Compute-optimal N*, D*, tokens/param and loss for a budget of ``flops`` training FLOPs (C = 6ND).

    Cost on ``n_gpus`` x ``gpu`` at ``mfu`` (a fraction or a range) and ``price_per_hour`` USD per GPU-hour
    (a quote, a value or a range; default the catalog's indicative range). With ``inference_tokens`` the
    inference-aware plan of the same loss leads (it trains more than ``flops``: Sardana et al. 2024).

    >>> p = compute_optimal(5.76e23, "chinchilla-hoffmann")
    >>> round(p.N_opt / 1e9, 1), round(p.tokens_per_param)
    (32.2, 93)
    """
    C = _quantity(flops, "compute budget (FLOPs)")
    _check_level(level)
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec, fixed = _constrained(spec, fixed, unique_tokens)
    N, D, L = optimum(spec, C, fixed=fixed)
    details = {}
    if fixed and "U" in fixed and "U" in spec.variables:
        central, free = _unlimited(spec, fixed)
        Nu, Du, Lu = (float(a[0]) for a in optimum(central, C, fixed=free))
        details["unconstrained"] = {"N_opt": Nu, "D_opt": Du, "tokens_per_param": Du / Nu, "loss": Lu,
                                    "loss_penalty": float(L[0]) - Lu,
                                    "note": "same law with unlimited unique tokens"}
        warnings = _wasted_compute(spec, central, C, float(L[0]), Lu, fixed, free)
    else:
        warnings = []
    return _finish(spec, query="compute", C=np.full(N.shape, C), N=N, D=D, L=L, level=level, gpu=gpu,
                   n_gpus=n_gpus, mfu=mfu, price_per_hour=price_per_hour, warnings=warnings, details=details,
                   interval_keys=("N_opt", "D_opt", "tokens_per_param", "loss"), unique_tokens=unique_tokens,
                   active_ratio=active_ratio, inference_tokens=inference_tokens, fixed=fixed)


def _with_unique(spec: LawSpec, fixed, unique_tokens):
    """For laws with a unique-tokens variable U, ``unique_tokens`` becomes its fixed value."""
    if unique_tokens is not None and "U" in spec.variables:
        return {**(fixed or {}), "U": _quantity(unique_tokens, "unique tokens")}
    return fixed


def _constrained(spec: LawSpec, fixed, unique_tokens) -> tuple[LawSpec, dict | None]:
    """The law and fixed values a plan with ``unique_tokens`` optimises: the law's own U when it has one,
    else the (N, D) law at Muennighoff et al.'s effective data (:class:`~.data_constrained.RepeatedDataLaw`)."""
    if unique_tokens is not None and "U" not in spec.variables and tuple(spec.variables) == ("N", "D"):
        from .data_constrained import with_repetition

        return with_repetition(spec), {**(fixed or {}), "U": _quantity(unique_tokens, "unique tokens")}
    return spec, _with_unique(spec, fixed, unique_tokens)


#: with limited unique tokens, warn when the last 90 % of a budget buys less than this share of the loss it
#: would buy with unlimited data (it mostly repeats data past its value)
WASTE_SHARE = 0.1


def _wasted_compute(spec: LawSpec, free_law: LawSpec, C: float, L: float, Lu: float, fixed: dict,
                    free: dict | None) -> list[str]:
    """A warning when most of a data-constrained budget buys almost nothing: the loss a tenth of it reaches
    under the same unique tokens, against what the last 90 % would buy with unlimited data."""
    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name)
    L10 = float(optimum(central, C / 10, fixed=fixed)[2][0])
    Lu10 = float(optimum(free_law, C / 10, fixed=free)[2][0])
    gain, free_gain = L10 - L, Lu10 - Lu
    if not (math.isfinite(gain) and math.isfinite(free_gain) and free_gain > 0) or gain >= WASTE_SHARE * free_gain:
        return []
    return [f"data: a tenth of this budget ({C / 10:.3g} FLOPs) reaches loss {L10:.4f} with the same unique "
            f"tokens; the other 90 % buys {gain:.4f} of loss (with unlimited data it would buy {free_gain:.4f}): "
            "most of it repeats data past its value"]


def _unlimited(spec: LawSpec, fixed: dict) -> tuple[LawSpec, dict | None]:
    """The central law and fixed values of the same plan with unlimited unique tokens: the user's own law behind
    a repeated-data wrapper (no U), else the law's U at 1e300 tokens."""
    if getattr(spec.law, "base", None) is not None:
        base = _unwrapped(spec)
        return LawSpec(law=base.law, theta=base.theta, name=base.name), {k: v for k, v in fixed.items()
                                                                          if k != "U"} or None
    return LawSpec(law=spec.law, theta=spec.theta, name=spec.name), {**fixed, "U": 1e300}


def _inference_law(spec: LawSpec, fixed) -> LawSpec:
    """The law of N and D the inference-aware plan solves: the user's own, or under limited unique tokens the
    repeated-data law at those tokens (it solved as if every token were new and missed its own target)."""
    if getattr(spec.law, "base", None) is not None and (fixed or {}).get("U") is not None:
        from .data_constrained import AtUniqueTokens

        return replace(spec, law=AtUniqueTokens(spec.law, float(fixed["U"])), predictor=None)
    return _unwrapped(spec)


def _unwrapped(spec: LawSpec) -> LawSpec:
    """The user's law behind a repeated-data wrapper (itself otherwise)."""
    base = getattr(spec.law, "base", None)
    if base is None:
        return spec
    return replace(spec, law=base)


def _check_level(level: float) -> None:
    if not 0 < float(level) < 1:
        raise PlanError(f"interval level must be in (0, 1), got {level!r}")


def _floor(spec: LawSpec) -> float:
    names = spec.law.param_names
    if "E" in names:
        return float(spec.theta[names.index("E")])
    return math.nan


def _unreachable(spec: LawSpec, target: float, extra: str = "") -> PlanError:
    E = _floor(spec)
    floor = f"irreducible loss is {E:.4f}" if math.isfinite(E) else "the law never reaches it"
    if math.isfinite(E) and spec.draws is not None and len(spec.draws) > 1:
        # how sure the floor is: a target just under the point may be above many draws' floors
        Es = spec.thetas()[1:, spec.law.param_names.index("E")]
        reach = float(np.mean(Es < target))
        floor += (f" (80% interval [{np.quantile(Es, 0.1):.4f}, {np.quantile(Es, 0.9):.4f}] over the parameter "
                  f"draws{f'; {reach:.0%} of them are below the target' if reach > 0 else ''})")
    return PlanError(f"unreachable: target loss {target:g} is not above the law's floor; {floor} "
                     f"under {spec.name}{extra}")


def _out_of_reach(spec: LawSpec, target: float, fixed) -> PlanError:
    """The error for a target above the law's floor E that no budget reaches: the best loss the law reaches
    (with limited unique tokens, repeated data caps the effective data, so the floor is higher than E)."""
    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name)
    best = math.nan
    for c in (1e40, 1e36, 1e32, 1e28):  # the largest budget the optimiser finds an optimum at
        best = float(optimum(central, c, fixed=fixed)[2][0])
        if math.isfinite(best):
            break
    U = (fixed or {}).get("U")
    with_u = f" with {format_quantity(float(U))} unique tokens" if U is not None else ""
    why = (": repeated data is worth less and less (the effective data is capped at a multiple of the unique "
           "tokens); more unique tokens lower it" if U is not None else "")
    reach = f"; the best loss it reaches is {best:.4f}" if math.isfinite(best) else ""
    E = _floor(spec)
    floor = f" (above the irreducible loss {E:.4f})" if math.isfinite(E) else ""
    return PlanError(f"unreachable: no budget up to 1e40 FLOPs reaches loss {target:g}{floor} under {spec.name}"
                     f"{with_u}{reach}{why}")


def plan_for_loss(target_loss: float, law=None, *, level: float = 0.8, gpu=None, n_gpus=None, mfu=None,
                  price_per_hour=None,
                  unique_tokens=None, active_ratio=None, inference_tokens=None, fixed=None,
                  n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> Plan:
    """Least compute that reaches ``target_loss`` (min C s.t. L(N, D) = target, C = 6ND), with N*, D*.

    Raises :class:`PlanError` ("unreachable: irreducible loss is …") when the target is at or below E.
    """
    target = _positive(target_loss, "target loss")
    _check_level(level)
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", what="the compute for a target loss")
    spec, fixed = _constrained(spec, fixed, unique_tokens)
    E = _floor(spec)
    if math.isfinite(E) and target <= E:
        raise _unreachable(spec, target)
    C, N, D = optimum_for_loss_rows(spec, target, fixed=fixed)
    if not np.isfinite(C[0]):
        raise _out_of_reach(spec, target, fixed)
    warnings = []
    never = float(np.mean(np.isinf(C[1:]))) if C.size > 1 else 0.0
    if never > 0.05:
        tail = (" and the upper ends of the FLOPs, N and D intervals are infinite" if never > (1 - level) / 2
                else "; they count as unbounded compute in the intervals")
        warnings.append(f"{never:.0%} of the parameter draws cannot reach loss {target:g} at any budget (their "
                        f"floor is at or above it){tail}")
    details = {}
    if fixed and "U" in fixed and "U" in spec.variables:
        central, free = _unlimited(spec, fixed)
        Cu = float(_compute_for_loss_rows(central, target, fixed=free)[0])
        if math.isfinite(Cu):
            Nu, Du, _ = (float(a[0]) for a in optimum(central, Cu, fixed=free))
            details["unconstrained"] = {"flops": Cu, "N_opt": Nu, "D_opt": Du, "tokens_per_param": Du / Nu,
                                        "flops_penalty": float(C[0]) / Cu,
                                        "note": "same law with unlimited unique tokens"}
    return _finish(spec, query="target-loss", C=C, N=N, D=D, L=np.full(C.shape, target), level=level, gpu=gpu,
                   n_gpus=n_gpus, mfu=mfu, price_per_hour=price_per_hour, warnings=warnings, details=details,
                   interval_keys=("flops", "N_opt", "D_opt", "tokens_per_param"), unique_tokens=unique_tokens,
                   active_ratio=active_ratio, inference_tokens=inference_tokens, fixed=fixed)


def plan_for_params(params, law=None, *, tokens=None, target_loss=None, flops=None, level: float = 0.8,
                    gpu=None, n_gpus=None, mfu=None, price_per_hour=None, unique_tokens=None, active_ratio=None,
                    inference_tokens=None, fixed=None, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> Plan:
    """Plans for a model of ``params`` parameters.

    * ``tokens`` given: the loss at (N, D) (and C = 6ND);
    * ``target_loss`` given: the tokens needed to reach it (error if below the loss floor at this size);
    * ``flops`` given: D = C / (6N) — with N fixed, more data always helps, so the budget sets D;
    * nothing else: the compute-optimal D for this N (the D at which N is the optimum of C = 6ND).

    Raises
    ------
    PlanError
        If more than one of ``tokens``, ``target_loss`` and ``flops`` is given, a number is not positive,
        ``target_loss`` is at or below the loss floor of this size, ``level`` is not in (0, 1), or ``law``
        cannot be resolved.
    """
    N0 = _quantity(params, "parameters")
    _check_level(level)
    given = [k for k, v in (("tokens", tokens), ("target_loss", target_loss), ("flops", flops)) if v is not None]
    if len(given) > 1:
        raise PlanError(f"give at most one of tokens, target loss and compute with a fixed size; got {given}")
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", what="planning a fixed model size")
    fixed = _with_unique(spec, fixed, unique_tokens)
    thetas = spec.thetas()
    warnings: list[str] = []
    if tokens is not None or flops is not None:
        D0 = _quantity(tokens, "tokens") if tokens is not None else _quantity(flops, "compute (FLOPs)") / (6 * N0)
        D = np.full(thetas.shape[0], D0)
        query = "params+tokens" if tokens is not None else "params+compute"
    elif target_loss is not None:
        target = _positive(target_loss, "target loss")
        D = _tokens_for_loss_rows(spec, N0, target, fixed=fixed)
        if not np.isfinite(D[0]):
            E = _floor(spec)
            with np.errstate(all="ignore"):
                floorN = float(spec.law.evaluate(spec.theta, {"N": np.array([N0]), "D": np.array([1e40]),
                                                               **_fixed_arrays(fixed, 1)})[0])
            raise PlanError(f"unreachable: a {format_quantity(N0)}-parameter model cannot reach loss {target:g} "
                            f"under {spec.name}: its loss floor (infinite data) is {floorN:.4f}"
                            + (f"; irreducible loss is {E:.4f}" if math.isfinite(E) else ""))
        query = "params+target-loss"
    else:
        D = _frontier_tokens_rows(spec, N0, fixed=fixed)
        query = "params"
    N = np.full(D.shape, N0)
    L = _eval_rows(spec.law, thetas[: D.size], {"N": N, "D": D, **_fixed_arrays(fixed, D.size)})
    C = 6.0 * N * D
    keys = ("flops", "D_opt", "tokens_per_param", "loss")
    if query in ("params+tokens", "params+compute"):
        keys = ("loss",)
        Nopt, Dopt, Lopt = optimum(resolve_law(spec), float(C[0]), fixed=fixed)
        ratio = (D[0] / N0) / (Dopt[0] / Nopt[0])
        details = {"compute_optimal": {"N_opt": float(Nopt[0]), "D_opt": float(Dopt[0]),
                                       "loss": float(Lopt[0]), "loss_gap": float(L[0] - Lopt[0]),
                                       "tokens_per_param_ratio": float(ratio)}}
    else:
        details = {}
    return _finish(spec, query=query, C=C, N=N, D=D, L=L, level=level, gpu=gpu, n_gpus=n_gpus, mfu=mfu,
                   price_per_hour=price_per_hour, warnings=warnings, details=details, interval_keys=keys,
                   unique_tokens=unique_tokens, active_ratio=active_ratio, inference_tokens=inference_tokens,
                   fixed=fixed)


def loss_at(params, tokens, law=None, *, level: float = 0.8, fixed=None, n_draws: int = DEFAULT_DRAWS,
            seed: int = 0) -> tuple[float, tuple[float, float] | None]:
    """Predicted loss at ``params`` parameters and ``tokens`` training tokens, with its interval: for a fit,
    the calibrated prediction interval of an actual run (`FitResult.predict`); for a preset, the central
    ``level`` interval of the law over its parameter draws (the uncertainty of the published constants)."""
    N0, D0 = _quantity(params, "parameters"), _quantity(tokens, "tokens")
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", what="the loss at (N, D)")
    run = _run_prediction(spec, N0, D0, fixed, level)
    if run is not None:
        return float(run.value), (float(run.interval[0]), float(run.interval[1]))
    th = spec.thetas()
    L = _eval_rows(spec.law, th, {"N": np.full(len(th), N0), "D": np.full(len(th), D0),
                                  **_fixed_arrays(fixed, len(th))})
    return float(L[0]), (spec.interval(L, level) if L.size > 1 else None)


@dataclass(frozen=True)
class BudgetPlan:
    """Plans at both ends of the FLOP range a dollar budget buys (``low``: high price and low MFU)."""

    budget_usd: float
    flops_range: tuple[float, float]
    low: Plan
    high: Plan

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings of the low and high plans, de-duplicated, in order."""
        return tuple(dict.fromkeys(self.low.warnings + self.high.warnings))

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``query`` (``"budget-usd"``), ``budget_usd`` (USD), ``flops`` ([lo, hi] FLOPs),
        ``N_opt`` (parameters), ``D_opt`` (tokens), ``tokens_per_param``, ``loss`` (each [low, high]), ``low`` and
        ``high`` (the two `Plan.to_dict`), ``cost``, ``warnings`` and ``assumptions``.
        """
        lo, hi = self.low.to_dict(), self.high.to_dict()
        return {"query": "budget-usd", "budget_usd": self.budget_usd, "flops": list(self.flops_range),
                "N_opt": [lo["N_opt"], hi["N_opt"]], "D_opt": [lo["D_opt"], hi["D_opt"]],
                "tokens_per_param": [lo["tokens_per_param"], hi["tokens_per_param"]],
                "loss": [lo["loss"], hi["loss"]], "low": lo, "high": hi,
                "cost": {"low": lo["cost"], "high": hi["cost"]}, "warnings": list(self.warnings),
                "assumptions": lo["assumptions"]}

    def _repr_html_(self) -> str:
        return (f"<div><b>Budget ${format_quantity(self.budget_usd)}</b> buys {self.flops_range[0]:.3g}–"
                f"{self.flops_range[1]:.3g} FLOPs{self.low._repr_html_()}{self.high._repr_html_()}</div>")


def plan_budget(usd, law=None, *, gpu=None, n_gpus=None, mfu=None, price_per_hour=None, level: float = 0.8,
                **kwargs) -> BudgetPlan:
    """Convert a dollar budget to a FLOP range (price range x MFU range: the catalog's prices, or
    ``price_per_hour`` USD per GPU-hour) and plan at both ends.

    With ``inference_tokens`` each end's plan is the inference-aware plan whose training spends that end's
    FLOPs (the budget is a limit on training): the loss it aims at is solved for, instead of taking the loss of
    the compute-optimal plan of the budget, whose inference-aware plan trains more than the budget buys."""
    if isinstance(usd, str):  # "$100k", "2e6 USD"
        from ..units import parse_money

        usd = parse_money(usd, what="budget (USD)")
    budget = _quantity(usd, "budget (USD)")
    g, n, m = _options(gpu, n_gpus, mfu)
    lo, hi = usd_to_flops(budget, g, n, m, price_per_hour)
    spec = resolve_law(law, n_draws=kwargs.pop("n_draws", DEFAULT_DRAWS), seed=kwargs.pop("seed", 0))
    hw = {"gpu": g, "n_gpus": n, "mfu": m, "price_per_hour": price_per_hour, "level": level}
    demand = kwargs.get("inference_tokens")
    if demand is not None and _demand(demand) > 0:
        ends = [_inference_within(F, spec, hw, kwargs) for F in (lo, hi)]
    else:
        ends = [compute_optimal(F, spec, **hw, **kwargs) for F in (lo, hi)]
    return BudgetPlan(budget_usd=budget, flops_range=(lo, hi), low=ends[0], high=ends[1])


def _inference_within(flops: float, spec: LawSpec, hw: dict, kwargs: dict) -> Plan:
    """The inference-aware plan that trains on ``flops`` FLOPs: the compute budget ``C0 <= flops`` whose
    compute-optimal loss the inference-aware plan reaches with exactly ``flops`` of training (bisection in
    log C0 on the central law; the training FLOPs grow with C0)."""
    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name, conventions=spec.conventions)

    def trained(log_c0: float) -> float:
        return compute_optimal(math.exp(log_c0), central, **{**hw, "level": 0.8}, **kwargs).flops

    a, b = math.log(flops) - math.log(1e6), math.log(flops)
    if not trained(a) <= flops:
        raise PlanError(f"inference-aware plan within {flops:.3g} training FLOPs not found (the demand needs "
                        "more than a million times the budget's training compute)")
    for _ in range(40):  # six decades to 1e-11 of a decade
        mid = 0.5 * (a + b)
        a, b = (mid, b) if trained(mid) <= flops else (a, mid)
    out = compute_optimal(math.exp(a), spec, **hw, **kwargs)
    note = (f"within the budget: the inference-aware plan whose training spends {flops:.3g} FLOPs (aims at the "
            f"compute-optimal loss of {math.exp(a):.3g} FLOPs)")
    return replace(out, assumptions={**out.assumptions, "budget_rule": note})


def plan(compute=None, law=None, *, budget_usd=None, target_loss=None, params=None, tokens=None, **kwargs):
    """One entry point: dispatches on what is given (exactly one of compute, budget_usd, target_loss,
    or params [with tokens / target_loss / compute]).

    Parameters
    ----------
    compute : float or str, optional
        Training budget in FLOPs (C = 6ND), e.g. ``5.76e23``; dispatches to `compute_optimal`.
    law : optional
        Preset name, `FitResult`, fit file or ``(Law, params)`` pair; default ``chinchilla-epoch``.
    budget_usd : float, optional
        Budget in US dollars; dispatches to `plan_budget` (returns a `BudgetPlan`).
    target_loss : float, optional
        Loss to reach, in the law's unit (nats/token for the presets); dispatches to `plan_for_loss`.
    params, tokens : float, optional
        Model size in parameters (and training tokens); dispatches to `plan_for_params`.
    **kwargs
        Passed on (``level``, ``gpu``, ``n_gpus``, ``mfu``, ``unique_tokens``, ...).

    Raises
    ------
    PlanError
        If ``tokens`` is given without ``params``, not exactly one of ``compute``, ``budget_usd`` and
        ``target_loss`` is given (without ``params``), or the dispatched planner rejects its input.
    """
    if params is not None:
        return plan_for_params(params, law, tokens=tokens, target_loss=target_loss, flops=compute, **kwargs)
    if tokens is not None:
        raise PlanError("tokens are only meaningful with params (the loss at a given N and D)")
    given = [k for k, v in (("compute", compute), ("budget_usd", budget_usd), ("target_loss", target_loss))
             if v is not None]
    if len(given) != 1:
        raise PlanError("give exactly one of compute (--compute, FLOPs), budget_usd (--budget-usd, US dollars) or "
                        "target_loss (--target-loss)" + (f"; got {', '.join(given)}" if given else ""))
    if compute is not None:
        return compute_optimal(compute, law, **kwargs)
    if budget_usd is not None:
        return plan_budget(budget_usd, law, **kwargs)
    return plan_for_loss(target_loss, law, **kwargs)
