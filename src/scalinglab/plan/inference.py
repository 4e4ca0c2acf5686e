"""Inference-aware sizing (Sardana, Portes, Doubov, Frankle 2024, "Beyond Chinchilla-Optimal", arXiv 2401.00448).

For a lifetime inference demand of ``D_inf`` tokens (prompt + generated, ~2N FLOPs each) and a target
loss ``l``, choose N and training tokens D to

    minimise  6 N D + 2 N D_inf    subject to  L(N, D) = l.

The target defaults to the compute-optimal loss at the training budget, so the comparison is "same
quality as the Chinchilla-optimal model for C, cheapest over its lifetime". The first-order condition is
``eps_N / eps_D = 1 + D_inf / (3 D)`` with ``eps_X = -dL/dlog X`` (Sardana et al.); at ``D_inf = 0`` it is
exactly the compute-optimality condition, so the answer equals the Chinchilla optimum. Solving it:

* Chinchilla form: 1-D in ``log N``; D follows from the constraint in closed form,
  ``D = (B / (l - E - A N^-alpha))^(1/beta)``, and the condition is bracketed and bisected (monotone,
  100 steps, vectorised over all parameter draws);
* other laws with N and D: D solved from the constraint by bisection in ``log D`` on a grid of N, total
  FLOPs minimised on the grid and refined by a parabola (central fit and up to 100 draws).

:func:`inference_demand_for` inverts the question: the demand at which a given (N, D) — e.g. Llama 3 8B on
15T tokens, ~1,900 tokens/param — is the inference-aware optimum for its own loss: ``D_inf = 3 D (r - 1)``
with ``r = eps_N / eps_D`` at (N, D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._errors import PlanError
from ..units import format_quantity
from ._law import DEFAULT_DRAWS, LawSpec, resolve_law
from ._optimum import (
    _compute_for_loss_rows,
    _eval_rows,
    _parabola_min,
    _positive,
    optimum,
    optimum_for_loss_rows,
)

__all__ = ["InferencePlan", "inference_optimal", "inference_demand_for", "DemandResult"]


@dataclass(frozen=True)
class InferencePlan:
    """Inference-aware allocation vs the compute-optimal model of the same loss.

    Units: ``N`` parameters, ``D_train``/``inference_tokens`` tokens, ``*_flops`` FLOPs (6ND training,
    2N per inference token), ``target_loss`` in the law's unit. ``overtraining_factor`` is tokens/param
    divided by the compute-optimal tokens/param at the same loss; ``saving_fraction`` the share of
    lifetime FLOPs saved against the compute-optimal model serving the same demand.
    """

    inference_tokens: float
    target_loss: float
    N: float
    D_train: float
    tokens_per_param: float
    train_flops: float
    inference_flops: float
    total_flops: float
    compute_optimal: dict
    saving_flops: float
    saving_fraction: float
    overtraining_factor: float
    intervals: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    law: str = ""

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``inference_tokens``, ``target_loss``, ``N`` (parameters), ``D_train`` (tokens),
        ``tokens_per_param``, ``train_flops``, ``inference_flops``, ``total_flops``, ``saving_flops`` (FLOPs),
        ``compute_optimal``, ``saving_fraction``, ``overtraining_factor``, ``intervals`` (name -> [lo, hi]),
        ``objective``, ``warnings`` and ``law``.
        """
        return {"inference_tokens": self.inference_tokens, "target_loss": self.target_loss, "N": self.N,
                "D_train": self.D_train, "tokens_per_param": self.tokens_per_param,
                "train_flops": self.train_flops, "inference_flops": self.inference_flops,
                "total_flops": self.total_flops, "compute_optimal": dict(self.compute_optimal),
                "saving_flops": self.saving_flops, "saving_fraction": self.saving_fraction,
                "overtraining_factor": self.overtraining_factor,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "objective": "min 6*N*D_train + 2*N*D_inf s.t. L(N, D_train) = target (Sardana et al. 2024)",
                "warnings": list(self.warnings), "law": self.law}


# --------------------------------------------------------------------------------------------- solvers
def _chinchilla_solve(thetas: np.ndarray, target: np.ndarray, D_inf: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (N, D) solving the first-order condition for the Chinchilla form (NaN where unreachable)."""
    E, A, B, al, be = (thetas[:, j] for j in range(5))
    ok = target > E
    with np.errstate(all="ignore"):
        x_min = np.log(A / (target - E)) / al  # log N where the N-term alone uses up the gap
        lo, hi = x_min + 1e-9, x_min + 60.0

        def g_over_D(x):
            N = np.exp(x)
            gap = target - E - A * N ** -al
            D = (B / gap) ** (1.0 / be)
            r = al * A * N ** -al / (be * gap)
            return 6.0 * (1.0 - r) + 2.0 * D_inf / D

        for _ in range(100):
            mid = 0.5 * (lo + hi)
            pos = g_over_D(mid) > 0
            hi, lo = np.where(pos, mid, hi), np.where(pos, lo, mid)
        N = np.exp(0.5 * (lo + hi))
        D = (B / (target - E - A * N ** -al)) ** (1.0 / be)
    return np.where(ok, N, np.nan), np.where(ok, D, np.nan)


def _tokens_for_loss(law, theta: np.ndarray, N: np.ndarray, target: float) -> np.ndarray:
    """D with L(N, D) = target for each N (inf where unreachable), by bisection in log D."""
    lo, hi = np.zeros_like(N), np.full_like(N, math.log(1e40))
    with np.errstate(all="ignore"):
        f_hi = law.evaluate(theta, {"N": N, "D": np.exp(hi)}) - target
        for _ in range(90):
            mid = 0.5 * (lo + hi)
            pos = law.evaluate(theta, {"N": N, "D": np.exp(mid)}) - target > 0
            lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    return np.where(f_hi < 0, np.exp(0.5 * (lo + hi)), np.inf)


def _generic_solve(spec: LawSpec, thetas: np.ndarray, target: np.ndarray, D_inf: float, N_hint: np.ndarray):
    Ns, Ds = np.full(len(thetas), np.nan), np.full(len(thetas), np.nan)
    for r, th in enumerate(thetas):
        if not (np.isfinite(target[r]) and np.isfinite(N_hint[r])):
            continue
        x = np.linspace(math.log(N_hint[r]) - 5 * math.log(10), math.log(N_hint[r]) + 2 * math.log(10), 701)
        N = np.exp(x)
        D = _tokens_for_loss(spec.law, th, N, float(target[r]))
        with np.errstate(all="ignore"):
            f = np.log(N * (6.0 * D + 2.0 * D_inf))
        xs, _ = _parabola_min(x, np.where(np.isfinite(f), f, np.inf)[None, :])
        if np.isfinite(xs[0]):
            Ns[r] = math.exp(xs[0])
            Ds[r] = _tokens_for_loss(spec.law, th, np.array([Ns[r]]), float(target[r]))[0]
    return Ns, Ds


def _solve(spec: LawSpec, thetas, target, D_inf, N_hint, numeric: bool):
    if spec.is_chinchilla and not numeric:
        return _chinchilla_solve(thetas, target, D_inf)
    return _generic_solve(spec, thetas, target, D_inf, N_hint)


# --------------------------------------------------------------------------------------------- public
def inference_optimal(inference_tokens: float, law=None, *, flops: float | None = None,
                      target_loss: float | None = None, level: float = 0.8, n_draws: int = DEFAULT_DRAWS,
                      seed: int = 0, numeric: bool = False, max_draws: int = 100) -> InferencePlan:
    """Inference-aware (N, D_train) for a lifetime demand of ``inference_tokens`` tokens (see module doc).

    Give ``flops`` (target = the compute-optimal loss at that budget, per parameter draw) or
    ``target_loss``. ``numeric=True`` forces the generic solver (cross-check of the closed form).

    Raises
    ------
    PlanError
        If ``inference_tokens`` is negative, neither ``flops`` nor ``target_loss`` is given, the target is
        not above the law's floor, no optimum is found, or ``law`` cannot be resolved.
    """
    D_inf = float(inference_tokens)
    if not math.isfinite(D_inf) or D_inf < 0:
        raise PlanError(f"inference demand must be a non-negative number of tokens, got {inference_tokens!r}")
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", what="inference-aware sizing")
    if spec.is_chinchilla and not numeric:
        thetas = spec.thetas()
    else:
        thetas = spec.thetas()[: 1 + max_draws]
    sub = LawSpec(law=spec.law, theta=thetas[0], draws=thetas[1:] if len(thetas) > 1 else None, name=spec.name)
    if target_loss is None:
        if flops is None:
            raise PlanError("inference-aware sizing needs a training budget (flops) or a target loss")
        C = _positive(flops, "compute budget (FLOPs)")
        N_hint, D_hint, target = optimum(sub, C)
    else:
        target = np.full(len(thetas), _positive(target_loss, "target loss"))
        if "E" in spec.law.param_names and target[0] <= spec.theta[spec.law.param_names.index("E")]:
            E = spec.theta[spec.law.param_names.index("E")]
            raise PlanError(f"unreachable: target loss {target[0]:g} is not above the law's floor; irreducible "
                            f"loss is {E:.4f} under {spec.name}")
        Cs = _compute_for_loss_rows(sub, float(target[0]))
        N_hint = np.array([optimum(LawSpec(law=spec.law, theta=th, name=spec.name), c)[0][0]
                           if np.isfinite(c) else np.nan for th, c in zip(thetas, Cs, strict=False)])
        if len(Cs) < len(thetas):
            N_hint = np.concatenate([N_hint, np.full(len(thetas) - len(Cs), np.nan)])
    N0, Dc = _solve(spec, thetas, target, 0.0, N_hint, numeric)
    N, D = _solve(spec, thetas, target, D_inf, N_hint, numeric)
    if not (np.isfinite(N[0]) and np.isfinite(D[0])):
        raise PlanError(f"no inference-aware optimum found for target loss {target[0]:g} under {spec.name}")
    train, inf = 6 * N * D, 2 * N * D_inf
    total_c = 6 * N0 * Dc + 2 * N0 * D_inf
    saving = total_c - (train + inf)
    over = (D / N) / (Dc / N0)
    values = {"N": N, "D_train": D, "tokens_per_param": D / N, "train_flops": train, "total_flops": train + inf,
              "saving_fraction": saving / total_c, "overtraining_factor": over}
    intervals = {k: spec.interval(v, level) for k, v in values.items()} if len(N) > 1 else {}
    warnings = []
    tpp = float(D[0] / N[0])
    if tpp > 500 or over[0] > 10:
        warnings.append(f"inference-aware plan trains {tpp:.3g} tokens/param ({over[0]:.3g}× the compute-optimal "
                        "ratio): Sardana et al. found laws fitted at typical ratios over-estimate the gains of "
                        "extreme over-training; treat the loss as optimistic")
    return InferencePlan(
        inference_tokens=D_inf, target_loss=float(target[0]), N=float(N[0]), D_train=float(D[0]),
        tokens_per_param=tpp, train_flops=float(train[0]), inference_flops=float(inf[0]),
        total_flops=float(train[0] + inf[0]),
        compute_optimal={"N": float(N0[0]), "D_train": float(Dc[0]), "tokens_per_param": float(Dc[0] / N0[0]),
                         "train_flops": float(6 * N0[0] * Dc[0]), "total_flops": float(total_c[0])},
        saving_flops=float(saving[0]), saving_fraction=float(saving[0] / total_c[0]),
        overtraining_factor=float(over[0]), intervals=intervals, warnings=tuple(warnings), law=spec.name)


@dataclass(frozen=True)
class DemandResult:
    """The inference demand (tokens) at which (N, D) is the inference-aware optimum for its own loss."""

    N: float
    D: float
    loss: float
    inference_tokens: float
    interval: tuple[float, float] | None
    elasticity_ratio: float
    compute_optimal: dict
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``N`` (parameters), ``D`` (tokens), ``tokens_per_param``, ``loss``,
        ``inference_tokens``, ``interval`` ([lo, hi] or None), ``elasticity_ratio``, ``compute_optimal`` and
        ``note``.
        """
        return {"N": self.N, "D": self.D, "tokens_per_param": self.D / self.N, "loss": self.loss,
                "inference_tokens": self.inference_tokens,
                "interval": list(self.interval) if self.interval else None,
                "elasticity_ratio": self.elasticity_ratio, "compute_optimal": dict(self.compute_optimal),
                "note": self.note}


def _elasticity_ratio(spec: LawSpec, thetas: np.ndarray, N: float, D: float) -> np.ndarray:
    """r = eps_N / eps_D at (N, D) per row (eps_X = -dL/dlog X)."""
    if spec.is_chinchilla:
        E, A, B, al, be = (thetas[:, j] for j in range(5))
        return (al * A * N ** -al) / (be * B * D ** -be)
    h = 1e-4
    n = len(thetas)

    def L(NN, DD):
        return _eval_rows(spec.law, thetas, {"N": np.full(n, NN), "D": np.full(n, DD)})

    eN = -(L(N * math.exp(h), D) - L(N * math.exp(-h), D)) / (2 * h)
    eD = -(L(N, D * math.exp(h)) - L(N, D * math.exp(-h))) / (2 * h)
    with np.errstate(all="ignore"):
        return eN / eD


def inference_demand_for(params: float, tokens: float, law=None, *, level: float = 0.8,
                         n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> DemandResult:
    """Lifetime inference demand (tokens) that makes ``params`` trained on ``tokens`` the inference-aware
    optimum for its own predicted loss: ``D_inf = 3 D (eps_N/eps_D - 1)`` (Sardana et al.'s condition).

    A model with fewer tokens/param than the compute-optimal one for its loss (r < 1) is not optimal for
    any demand; the result is then 0 with a note.

    Raises
    ------
    PlanError
        If ``params`` or ``tokens`` is not a positive number, ``law`` cannot be resolved or lacks N and D, or
        the law has no compute-optimal model of the predicted loss to compare with.
    """
    N, D = _positive(params, "parameters"), _positive(tokens, "tokens")
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", what="the break-even inference demand")
    thetas = spec.thetas()
    r = _elasticity_ratio(spec, thetas, N, D)
    demand = 3.0 * D * (r - 1.0)
    loss = float(_eval_rows(spec.law, thetas[:1], {"N": np.array([N]), "D": np.array([D])})[0])
    C, Nc, Dc = (float(a[0]) for a in optimum_for_loss_rows(LawSpec(law=spec.law, theta=spec.theta, name=spec.name),
                                                             loss))
    if not (math.isfinite(C) and math.isfinite(Nc)):
        raise PlanError(f"law {spec.name!r} has no compute-optimal model of loss {loss:g} to compare with")
    note = ""
    if r[0] <= 1:
        note = (f"{format_quantity(N)} params on {format_quantity(D)} tokens has no more tokens/param than the "
                "compute-optimal model of the same loss: no inference demand makes it optimal")
    return DemandResult(N=N, D=D, loss=loss, inference_tokens=float(max(demand[0], 0.0)),
                        interval=spec.interval(np.maximum(demand, 0.0), level) if len(demand) > 1 else None,
                        elasticity_ratio=float(r[0]),
                        compute_optimal={"N": Nc, "D": Dc, "tokens_per_param": Dc / Nc, "flops": C},
                        note=note)
