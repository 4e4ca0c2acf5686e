"""Which run next: rank candidate runs by the expected shrinkage of a target's prediction interval per FLOP.

Linearised (Fisher-information) design. At the fitted parameters ``u`` (fit space) the information of the
current runs is ``H = J^T W J / noise^2`` (Gauss-Newton; ``J`` the Jacobian of the residuals). A target
``g(u)`` (log loss at a point, or log N_opt at a compute) has parameter variance ``v0 = g'^T H^-1 g'``;
a candidate run with Jacobian row ``j`` adds ``j j^T / noise^2`` so (Sherman-Morrison)
``v1 = v0 - (g'^T H^-1 j)^2 / (noise^2 + j^T H^-1 j)``. For a loss target the interval is that of an
actual run, so its width also carries run noise and the backtest-calibrated extrapolation band
(``_calibrate.py``), which shrinks when the candidate moves the fitted data's bulk and edge toward the
target; for ranking, the parameter spread is added in quadrature to that band (so that both can shrink).
Candidates are ranked by ``(width_before - width_after) / cost`` with cost in FLOPs (the candidate's
``flops``, else 6 N D). Assumes the law holds near the candidates and the fit is locally linear.
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
    """Ranked candidates (best first) with the target, its current interval width and the fit used."""

    target: dict
    level: float
    width_before: float
    value: float
    candidates: list = field(default_factory=list)
    fit: object = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``target``, ``level``, ``value`` (the target's predicted value), ``width_before``
        (its current interval width) and ``candidates`` (ranked, best first).
        """
        from ._result import _jsonable

        return _jsonable({"target": self.target, "level": self.level, "value": self.value,
                          "width_before": self.width_before, "candidates": self.candidates})


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


def default_candidates(res, budget: float | None, n: int = 12) -> dict:
    """A grid around and beyond the fitted runs: N from the smallest fitted N to 30x the largest, tokens per
    parameter over (and a little beyond) the fitted range, compute from the smallest fitted run's up to
    ``budget`` (cost 6 N D; default budget 10x the largest fitted run).

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
    return {"N": NN[keep], "D": DD[keep], "flops": C[keep]}


def suggest(data, law: Law | str = "chinchilla", *, target, candidates=None, budget: float | None = None,
            level: float = 0.8, top: int | None = None, fit_result=None, **fit_kwargs) -> Suggestion:
    """Rank candidate runs by expected reduction of the target's interval width per FLOP (module docstring).

    ``target``: ``{"N": 7e9, "D": 1.4e11}`` (loss of a run there) or ``{"compute_optimal_N_at": 1e23}``
    (N_opt at that compute, C = 6 N D), or the same as a string ``"N=7B,D=140B"``. ``candidates``: mapping or
    DataFrame with the law's variables (N, D or params, tokens) and optionally ``flops`` (cost, FLOPs);
    default: :func:`default_candidates` under ``budget`` (FLOPs per run). ``fit_result``: reuse a fit.

    Raises
    ------
    InputError
        If ``level`` is not in (0, 1), ``target`` is malformed or lacks the law's variables, the fit has no
        data (a preset), candidates lack a variable column, or no candidate costs at most ``budget``.
    """
    from ._api import fit
    from ._calibrate import PRIOR, calibrated_quantiles, edge_offset
    from ._objectives import LeastSquares
    from ._predict import compute_of
    from ._solvers import Problem

    level = float(level)
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    tgt = _target_spec(target)
    res = fit_result if fit_result is not None else fit(data, law, **fit_kwargs)
    law = res.law
    X = res._fitted_X()
    if X is None:
        raise InputError("suggest needs a fit with its data (not a preset)")
    fs_prob = Problem(law, X, np.asarray(res.data["y"], float), LeastSquares(), res.space)
    u = fs_prob.fitspace.to_fit(res.theta)
    noise = max(float(res.noise), 1e-5)
    from statistics import NormalDist

    z = float(NormalDist().inv_cdf(0.5 + level / 2))

    def jac_at(Xq: dict) -> np.ndarray:
        p = Problem(law, Xq, np.ones(len(next(iter(Xq.values())))), LeastSquares(), res.space)
        _, J = p.residuals_jac(u[None, :])
        return J[0]

    J = jac_at(X)
    w = np.ones(len(J)) if res.data.get("weights") is None else np.asarray(res.data["weights"], float)
    H = J.T @ (J * w[:, None]) / noise ** 2
    Hinv = np.linalg.pinv(H, rcond=1e-12, hermitian=True)

    # target gradient (fit space) and value
    if "compute_optimal_N_at" in tgt:
        if not {"N", "D"} <= set(law.variables):
            raise InputError(f"compute_optimal_N_at needs a law in N and D, not {law.name!r}")
        C_t = tgt["compute_optimal_N_at"]
        eps = 1e-5
        U = np.repeat(u[None, :], len(u) + 1, axis=0)
        U[1:] += eps * np.eye(len(u))
        g_all = _nopt_log(law, fs_prob.fitspace.to_natural(U), C_t)
        grad = (g_all[1:] - g_all[0]) / eps
        value = float(math.exp(g_all[0]))
        loss_target, Xt = False, None
        what = "N_opt (parameters)"
    else:
        Xt = {}
        for v in law.variables:
            col = res.variables.get(v, v)
            key = v if v in tgt else col if col in tgt else None
            if key is None:
                raise InputError(f"target needs {', '.join(law.variables)} for law {law.name!r}, got "
                                 f"{', '.join(tgt)}")
            Xt[v] = np.array([tgt[key]])
        grad = jac_at(Xt)[0]
        with np.errstate(all="ignore"):
            value = float(law.evaluate(res.theta, Xt)[0])
        loss_target = True
        what = "loss" if law.target == "loss" else "value"
    grad = np.where(np.isfinite(grad), grad, 0.0)

    # candidates
    if candidates is None:
        cand = default_candidates(res, budget)
    else:
        from ._inputs import load_table

        df, _, _ = load_table(candidates)
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
    v1 = np.maximum(v0 - a ** 2 / (1.0 + b / noise ** 2) / noise ** 2, 0.0)

    def width(vpar, half_cal=None):
        if half_cal is None:
            sd = np.sqrt(vpar + (noise ** 2 if loss_target else 0.0))
            lo, hi = -z * sd, z * sd
        else:  # parameter spread in quadrature with the calibrated band (so both parts can shrink)
            lo = -np.sqrt(z ** 2 * vpar + np.asarray(half_cal[0]) ** 2)
            hi = np.sqrt(z ** 2 * vpar + np.asarray(half_cal[1]) ** 2)
        if res.space == "log" or not loss_target:
            return value * (np.exp(hi) - np.exp(lo))  # in the target's units
        return hi - lo

    cal_before = cal_after = None
    C_fit = compute_of(law, X)
    C_tgt = compute_of(law, Xt) if Xt is not None else None
    C_cand = compute_of(law, Xc)
    if loss_target and C_fit is not None and C_tgt is not None and C_cand is not None:
        cal = dict(res.calibration or {})
        qa = (1 - level) / 2

        def band(c_max: float, offset: float) -> tuple[float, float]:
            """Calibrated band (residual space, relative to the shifted centre) with the data's edge at
            ``c_max`` and its bulk ``offset`` decades below it."""
            d = math.log10(max(C_tgt[0] / c_max, 1.0))
            if cal.get("quantile_lines"):
                q = calibrated_quantiles({**cal, "offset": offset}, d, [qa, 1 - qa])[:, 0]
            else:
                k = float(cal.get("reach_noise_per_decade", PRIOR["kappa"]))
                q = np.array([-z, z]) * math.sqrt(1 + (k * d) ** 2)
            return noise * q[0], noise * q[1]

        cal_before = band(float(C_fit.max()), edge_offset(C_fit))
        lo1, hi1 = np.empty(m), np.empty(m)
        for i in range(m):
            allc = np.append(C_fit, C_cand[i])
            lo1[i], hi1[i] = band(float(allc.max()), edge_offset(allc))
        # a run never makes the forecast worse: a small run that shifts the bulk down is no loss
        cal_after = (np.maximum(lo1, cal_before[0]), np.minimum(hi1, cal_before[1]))
    w0 = float(np.atleast_1d(width(np.array([v0]), None if cal_before is None else cal_before))[0])
    w1 = width(v1, cal_after)
    red = w0 - w1
    per = red / cost
    order = np.argsort(-per, kind="stable")
    if top is not None:
        order = order[: int(top)]
    rows = []
    for rank, i in enumerate(order, 1):
        row = {"rank": rank, **{v: float(Xc[v][i]) for v in law.variables}, "flops": float(cost[i]),
               "width_after": float(w1[i]), "width_reduction": float(red[i]),
               "width_reduction_frac": float(red[i] / w0) if w0 > 0 else 0.0,
               "reduction_per_eflop": float(per[i] * 1e18)}
        rows.append(row)
    target_out = {**tgt, "quantity": what if loss_target else "N_opt"}
    return Suggestion(target=target_out, level=level, width_before=w0, value=value, candidates=rows, fit=res)
