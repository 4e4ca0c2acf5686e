"""Which run next: rank candidate runs by the expected shrinkage of a target's prediction interval per FLOP.

Linearised (Fisher-information) design. At the fitted parameters ``u`` (fit space) the information of the
current runs is ``H = J^T W J / noise^2`` (Gauss-Newton; ``J`` the Jacobian of the residuals). A target
``g(u)`` (log loss at a point, or log N_opt at a compute) has parameter variance ``v0 = g'^T H^-1 g'``;
a candidate run with Jacobian row ``j`` adds ``j j^T / noise^2`` so (Sherman-Morrison)
``v1 = v0 - (g'^T H^-1 j)^2 / (noise^2 + j^T H^-1 j)``. For a loss target the interval is that of an
actual run: the band `FitResult.predict` gives (`_predict.calibrated_band`: the backtest-calibrated
quantiles at the target's reach times ``sqrt(noise^2 + v)``), so ``width_before`` is the width of
``predict``'s interval at the target, and a candidate shrinks it both through ``v1`` and by moving the fitted
data's edge (the reach) and bulk toward the target. Fits without a calibration use the prior rule (noise
widened with the decades of compute reach, and the parameter spread).
Candidates are ranked by ``(width_before - width_after) / cost`` with cost in FLOPs (the candidate's
``flops``, else 6 N D), or, given a budget per run, by the reduction itself (``rank``). Per FLOP favours the
cheapest runs, whose reductions can be tiny; the `frontier`
lists the runs that narrow the interval more than every cheaper candidate (the cost-reduction Pareto front),
from the cheapest to the one that narrows it most, so the trade-off is in view. Assumes the law holds near
the candidates and the fit is locally linear.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError
from ..laws import Law

__all__ = ["suggest", "Suggestion", "default_candidates"]


@dataclass(frozen=True)
class Suggestion:
    """Ranked candidates (best first) with the target, its current interval width and the fit used;
    ``frontier``: the candidates that narrow the interval more than every cheaper one, cheapest first."""

    target: dict
    level: float
    width_before: float
    value: float
    candidates: list = field(default_factory=list)
    fit: object = field(default=None, repr=False)
    frontier: list = field(default_factory=list)
    #: how ``candidates`` are ordered: ``"per_flop"`` or ``"reduction"``
    rank: str = "per_flop"

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``target``, ``level``, ``value`` (the target's predicted value), ``width_before``
        (its current interval width), ``candidates`` (ranked, best first), ``rank`` (by ``"per_flop"`` or
        ``"reduction"``), ``frontier`` (the cost-reduction Pareto front, cheapest first, rows as in
        ``candidates``) and ``law`` (the fitted law and its objective).
        """
        from ._result import _jsonable

        out = {"target": self.target, "level": self.level, "value": self.value, "width_before": self.width_before,
               "candidates": self.candidates, "frontier": self.frontier, "rank": self.rank}
        if self.fit is not None:  # the law the ranking is for (the member the stack chose, for law="auto")
            out["law"] = f"{self.fit.law.name} ({(self.fit.loss or {}).get('name')})"
        return _jsonable(out)


def _target_spec(target) -> dict:
    from ..units import parse_quantity

    if isinstance(target, str):
        out = {}
        for part in target.split(","):
            if "=" not in part:
                raise InputError(f"target: expected VAR=VALUE pairs such as 'N=7B,D=140B' or "
                                 f"'compute_optimal_N_at=1e23', got {part!r}")
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
        target = out
    if not isinstance(target, Mapping) or not target:
        raise InputError("target must be a mapping such as {'N': 7e9, 'D': 1.4e11} or "
                         "{'compute_optimal_N_at': 1e23}")
    return {k: (parse_quantity(v, what=k) if isinstance(v, str) else float(v)) for k, v in target.items()}


def _nopt_log(law: Law, theta: np.ndarray, C: float) -> np.ndarray:
    """log N_opt(C) (C = 6 N D) for each parameter row, by a log-grid search refined by a parabola."""
    theta = np.atleast_2d(theta)
    logN = np.linspace(math.log(C / 6) / 2 - 12, math.log(C / 6) / 2 + 12, 481)
    N = np.exp(logN)
    X = {"N": N, "D": C / (6 * N)}
    with np.errstate(all="ignore"):
        L = law.evaluate(theta, X)  # (S, G)
    L = np.where(np.isfinite(L), L, np.inf)
    k = np.clip(np.argmin(L, axis=1), 1, len(logN) - 2)
    r = np.arange(len(theta))
    y0, y1, y2 = L[r, k - 1], L[r, k], L[r, k + 1]
    den = y0 - 2 * y1 + y2
    h = logN[1] - logN[0]
    off = np.where(den > 0, 0.5 * (y0 - y2) / np.where(den > 0, den, 1.0), 0.0)
    return logN[k] + np.clip(off, -1, 1) * h


def default_candidates(res, budget: float | None, n: int = 12, *, below: float | None = None) -> dict:
    """A grid around and beyond the fitted runs: N from the smallest fitted N to 30x the largest, tokens per
    parameter over (and a little beyond) the fitted range, compute from the smallest fitted run's up to
    ``budget`` (cost 6 N D; default budget 10x the largest fitted run) and, with ``below`` (the target run's
    FLOPs), under a tenth of it where the grid has such runs: a run that costs about as much as the target is
    no forecast of it.

    Raises
    ------
    InputError
        If the fit is not in N and D or does not carry its data, or no grid run fits within ``budget``.
    """
    X = res._fitted_X()
    if X is None or not {"N", "D"} <= set(X):
        raise InputError("default candidates need a fit in N and D with its data; pass candidates=")
    N, D = X["N"], X["D"]
    r = D / N
    Ns = np.geomspace(N.min(), 30 * N.max(), n)
    rs = np.geomspace(max(r.min() / 2, 1e-3), r.max() * 2, n)
    NN, RR = np.meshgrid(Ns, rs)
    NN, DD = NN.ravel(), (NN * RR).ravel()
    C = 6 * NN * DD
    Cfit = 6 * N * D
    if budget is None:
        budget = 10 * float(Cfit.max())
    keep = (C <= budget) & (C >= Cfit.min())
    if not keep.any():
        raise InputError(f"no candidate run fits the budget of {budget:.3g} FLOPs (smallest grid run costs "
                         f"{C.min():.3g}); raise --budget or pass candidates")
    if below is not None and (keep & (C <= 0.1 * below)).any():  # else the target is near: keep the budget's runs
        keep &= C <= 0.1 * below
    return {"N": NN[keep], "D": DD[keep], "flops": C[keep]}


def suggest(data, law: Law | str = "auto", *, target, candidates=None, budget: float | None = None,
            level: float = 0.8, top: int | None = None, fit_result=None, rank: str = "auto",
            **fit_kwargs) -> Suggestion:
    """Rank candidate runs by expected reduction of the target's interval width per FLOP (module docstring).

    ``rank``: ``"per_flop"`` (reduction per FLOP: the cheapest useful runs first), ``"reduction"`` (the
    reduction itself: the most useful run that costs at most ``budget`` first) or ``"auto"``: by reduction
    when a ``budget`` is given (the user's question is then what that budget buys; per FLOP its top ranks
    were runs 1,000x cheaper that narrowed the interval by under 4 %), else per FLOP.

    ``target``: ``{"N": 7e9, "D": 1.4e11}`` (loss of a run there) or ``{"compute_optimal_N_at": 1e23}``
    (N_opt at that compute, C = 6 N D), or the same as a string ``"N=7B,D=140B"``. ``candidates``: mapping or
    DataFrame with the law's variables (N, D or params, tokens) and optionally ``flops`` (cost, FLOPs);
    default: :func:`default_candidates` under ``budget`` (FLOPs per run; without one, under a tenth of the
    target run's compute and 10x the largest fitted run). ``fit_result``: reuse a fit.

    Raises
    ------
    InputError
        If ``level`` is not in (0, 1), ``target`` is malformed or lacks the law's variables, the fit has no
        data (a preset), candidates lack a variable column, or no candidate costs at most ``budget``.
    """
    from ._api import fit
    from ._calibrate import PRIOR, edge_offset
    from ._inputs import is_auto_law
    from ._objectives import LeastSquares, objective_from_spec
    from ._predict import calibrated_band, compute_of, extrapolation, keep_point_inside
    from ._solvers import NULL_RCOND, Problem
    from ._stages import parameter_scale, run_noise

    level = float(level)
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    if rank not in ("auto", "per_flop", "reduction"):
        raise InputError(f"rank must be 'auto', 'per_flop' or 'reduction', got {rank!r}")
    by = ("reduction" if budget is not None else "per_flop") if rank == "auto" else rank
    tgt = _target_spec(target)
    if fit_result is not None:
        res = fit_result
    elif is_auto_law(law):  # the forecast stack, as `scalinglab fit`
        from ._auto import fit_auto

        res = fit_auto(data, **fit_kwargs)[0]
    else:
        res = fit(data, law, **fit_kwargs)
    law = res.law
    X = res._fitted_X()
    if X is None:
        raise InputError("suggest needs a fit with its data (not a preset)")
    loss_target = "compute_optimal_N_at" not in tgt
    cal = dict(res.calibration or {})
    calibrated = loss_target and bool(cal.get("quantile_lines"))
    fs_prob = Problem(law, X, np.asarray(res.data["y"], float), LeastSquares(), res.space)
    noise = max(float(res.noise), 1e-5)
    if not calibrated:  # the prior rule's run noise, as `FitResult.predict` reads it
        noise = res._prior_noise(noise)[0]
    Xt = None
    if loss_target:
        Xt = {}
        for v in law.variables:
            col = res.variables.get(v, v)
            key = v if v in tgt else col if col in tgt else None
            if key is None:
                raise InputError(f"target needs {', '.join(law.variables)} for law {law.name!r}, got "
                                 f"{', '.join(tgt)}")
            Xt[v] = np.array([tgt[key]])
    theta_b, base = np.asarray(res.theta, float), 0.0
    if calibrated:  # the fit `predict` draws the band around (the reference fit, when there is one), and where
        with np.errstate(all="ignore"):  # the band's base lies relative to the point, in residual space
            center = (law.log_evaluate if res.space == "log" else law.evaluate)(res.theta, Xt)
        b, noise, theta_b, _ = res._band_fit(Xt, center, noise)
        base = float(np.ravel(b - center)[0])
    u = fs_prob.fitspace.to_fit(theta_b)
    from statistics import NormalDist

    z = float(NormalDist().inv_cdf(0.5 + level / 2))

    def jac_at(Xq: dict) -> np.ndarray:
        p = Problem(law, Xq, np.ones(len(next(iter(Xq.values())))), LeastSquares(), res.space)
        _, J = p.residuals_jac(u[None, :])
        return J[0]

    J = jac_at(X)
    w = np.ones(len(J)) if res.data.get("weights") is None else np.asarray(res.data["weights"], float)
    # the residual scale of the fit's parameter covariance (`_stages.parameter_scale`: the noise without the
    # runs the fit passes through, times its objective's sandwich factor), so v0 is the spread `predict` uses
    # and a candidate run adds what one more run of that objective's fit adds
    ref = cal.get("reference") if calibrated else None
    try:
        objective = objective_from_spec((ref or {}).get("loss") or res.loss)
    except (InputError, KeyError, TypeError):  # a fit with its own loss record (the sigmoid's): plain noise
        objective = LeastSquares()
    scale_of = parameter_scale if calibrated else run_noise  # the prior rule's draws are at the run noise
    s = scale_of(Problem(law, X, np.asarray(res.data["y"], float), objective, res.space), u, noise)
    H = J.T @ (J * w[:, None]) / s ** 2
    Hinv = np.linalg.pinv(H, rcond=NULL_RCOND, hermitian=True)  # as the fit's covariance takes it

    # target gradient (fit space) and value
    if not loss_target:
        if not {"N", "D"} <= set(law.variables):
            raise InputError(f"compute_optimal_N_at needs a law in N and D, not {law.name!r}")
        C_t = tgt["compute_optimal_N_at"]
        eps = 1e-5
        U = np.repeat(u[None, :], len(u) + 1, axis=0)
        U[1:] += eps * np.eye(len(u))
        g_all = _nopt_log(law, fs_prob.fitspace.to_natural(U), C_t)
        grad = (g_all[1:] - g_all[0]) / eps
        value = float(math.exp(g_all[0]))
        what = "N_opt (parameters)"
    else:
        grad = jac_at(Xt)[0]
        with np.errstate(all="ignore"):
            value = float(law.evaluate(res.theta, Xt)[0])
        what = "loss" if law.target == "loss" else "value"
    grad = np.where(np.isfinite(grad), grad, 0.0)

    # candidates
    if candidates is None:
        # without a budget, runs under a tenth of the target's own compute (a larger one is no forecast of it)
        cand = default_candidates(res, budget, below=float(6 * Xt["N"][0] * Xt["D"][0])
                                  if budget is None and Xt is not None and {"N", "D"} <= set(Xt) else None)
    else:
        from ._inputs import load_table

        df = load_table(candidates).df
        cand = {}
        for v in law.variables:
            col = v if v in df.columns else res.variables.get(v, v)
            if col not in df.columns:
                raise InputError(f"candidates need column {v!r} (or {res.variables.get(v, v)!r})")
            cand[v] = df[col].to_numpy(float)
        if "flops" in df.columns:
            cand["flops"] = df["flops"].to_numpy(float)
    Xc = {v: np.asarray(cand[v], float) for v in law.variables}
    m = len(next(iter(Xc.values())))
    cost = np.asarray(cand["flops"], float) if "flops" in cand else compute_of(law, Xc)
    if cost is None:
        cost = np.ones(m)
    if budget is not None and candidates is not None:
        keep = cost <= budget
        if not keep.any():
            raise InputError(f"no candidate costs at most the budget of {budget:.3g} FLOPs")
        Xc = {k: v[keep] for k, v in Xc.items()}
        cost = cost[keep]
        m = len(cost)
    Jc = jac_at(Xc)  # (m, P)
    Jc = np.where(np.isfinite(Jc), Jc, 0.0)
    v0 = float(grad @ Hinv @ grad)
    a = Jc @ Hinv @ grad  # (m,)
    b = np.einsum("ij,jk,ik->i", Jc, Hinv, Jc)
    v1 = np.maximum(v0 - a ** 2 / (1.0 + b / s ** 2) / s ** 2, 0.0)

    def to_width(lo, hi):
        if res.space == "log" or not loss_target:
            return value * (np.exp(hi) - np.exp(lo))  # in the target's units
        return hi - lo

    C_fit = compute_of(law, X)
    if calibrated:
        # the band `FitResult.predict` gives (`calibrated_band`), relative to the point, in residual space:
        # before, and with each candidate added (its parameter sd ``sqrt(v1)``, the target's reach from the
        # data's new edge, and that edge's distance from the data's bulk)
        def band_width(cal_i: dict, vpar: float, reach: float) -> float:
            lo, hi = calibrated_band(cal_i, base=base, noise=noise, sp=math.sqrt(max(vpar, 0.0)), reach=reach,
                                     level=level)
            lo, hi = keep_point_inside(lo, hi, 0.0, noise, level)
            return float(np.ravel(to_width(lo, hi))[0])

        reach0 = float(np.asarray(extrapolation(law, X, Xt, hull=False)["reach"]).ravel()[0])
        w0 = band_width(cal, v0, reach0)
        w1 = np.empty(m)
        off0 = edge_offset(C_fit) if C_fit is not None else 0.0
        for i in range(m):
            Xi = {v: np.append(X[v], Xc[v][i]) for v in law.variables}
            reach = float(np.asarray(extrapolation(law, Xi, Xt, hull=False)["reach"]).ravel()[0])
            cal_i = cal
            if C_fit is not None:
                cal_i = {**cal, "offset": float(cal.get("offset", off0)) + edge_offset(compute_of(law, Xi)) - off0}
            # a run never makes the forecast worse: a small run that shifts the bulk down is no loss
            w1[i] = min(band_width(cal_i, float(v1[i]), reach), band_width(cal, float(v1[i]), reach0))
    else:  # the prior rule: parameter spread and run noise, the noise widened with the reach in compute
        C_tgt = compute_of(law, Xt) if Xt is not None else None
        C_cand = compute_of(law, Xc)
        k = float(cal.get("reach_noise_per_decade", PRIOR["kappa"]))
        has_c = loss_target and C_fit is not None and C_tgt is not None and C_cand is not None

        def sd_width(vpar, c_max):
            if not loss_target:
                sd = np.sqrt(vpar)
            else:
                widen = (np.sqrt(1 + (k * np.log10(np.maximum(float(C_tgt[0]) / c_max, 1.0))) ** 2) if has_c
                         else 1.0)
                sd = np.sqrt(vpar + (noise * widen) ** 2)
            return to_width(-z * sd, z * sd)

        c0 = float(C_fit.max()) if has_c else 1.0
        w0 = float(np.atleast_1d(sd_width(np.array([v0]), c0))[0])
        w1 = sd_width(v1, np.maximum(c0, C_cand) if has_c else c0)
    red = w0 - w1
    per = red / cost
    # by reduction per FLOP; with a budget, by the reduction the budget buys (cheaper first among equals)
    ranked = (np.lexsort((cost, -np.round(red / max(w0, 1e-300), 9))) if by == "reduction" else
              np.argsort(-per, kind="stable"))
    rank_of = np.empty(len(ranked), int)
    rank_of[ranked] = np.arange(1, len(ranked) + 1)

    def row(i: int) -> dict:
        return {"rank": int(rank_of[i]), **{v: float(Xc[v][i]) for v in law.variables}, "flops": float(cost[i]),
                "width_after": float(w1[i]), "width_reduction": float(red[i]),
                "width_reduction_frac": float(red[i] / w0) if w0 > 0 else 0.0,
                "reduction_per_eflop": float(per[i] * 1e18)}

    front, best = [], 0.0  # by cost, each narrowing more than every cheaper one
    for i in np.lexsort((-red, cost)):
        if np.isfinite(red[i]) and red[i] > best:
            front.append(row(int(i)))
            best = float(red[i])
    order = ranked if top is None else ranked[: int(top)]
    target_out = {**tgt, "quantity": what if loss_target else "N_opt"}
    return Suggestion(target=target_out, level=level, width_before=w0, value=value,
                      candidates=[row(int(i)) for i in order], fit=res, frontier=front, rank=by)
