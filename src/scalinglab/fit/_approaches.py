"""Chinchilla's three approaches to compute-optimal exponents (Hoffmann et al. 2022, Sec. 3).

All three return ``N_opt ~ C^a`` and ``D_opt ~ C^b`` (params and tokens against training FLOPs) with
bootstrap percentile intervals:

1. :func:`approach1_envelope`: the run (or checkpoint) with the lowest loss in each log-spaced FLOP
   bucket, then straight lines in log-log.
2. :func:`approach2_isoflop`: per compute budget, a parabola of loss in log N; its vertex is that budget's
   N_opt (D_opt = C / (6 N_opt)); then straight lines. Known to be biased when the sampled N range is wide or
   off-centre, or when alpha != beta (the parabola is not the true profile); ``corrected`` adds the
   parametric law's optima at the same budgets.
3. :func:`approach3_parametric`: fit ``E + A/N^alpha + B/D^beta``; ``a = beta/(alpha+beta)``,
   ``b = alpha/(alpha+beta)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._errors import FitError
from ._inputs import load_table
from ._predict import interval_from_draws

__all__ = ["ApproachResult", "approach1_envelope", "approach2_isoflop", "approach3_parametric"]


@dataclass(frozen=True)
class ApproachResult:
    """Compute-optimal exponents: ``N_opt = 10**n0 * C**a``, ``D_opt = 10**d0 * C**b`` (C in FLOPs)."""

    approach: str
    a: float
    b: float
    a_interval: tuple
    b_interval: tuple
    level: float
    n0: float = math.nan
    d0: float = math.nan
    points: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``approach``, ``a``, ``a_interval``, ``b``, ``b_interval`` (exponents of
        ``N_opt ∝ C**a``, ``D_opt ∝ C**b``, C in FLOPs), ``level``, ``log10_N_opt_intercept``,
        ``log10_D_opt_intercept``, ``points``, ``warnings`` plus any approach-specific extras.
        """
        from ._result import _jsonable

        return _jsonable({"approach": self.approach, "a": self.a, "a_interval": list(self.a_interval),
                          "b": self.b, "b_interval": list(self.b_interval), "level": self.level,
                          "log10_N_opt_intercept": self.n0, "log10_D_opt_intercept": self.d0,
                          "points": self.points, "warnings": self.warnings, **self.extra})


def _table(data):
    df = load_table(data).df
    need = [c for c in ("params", "tokens", "flops", "loss") if c not in df.columns]
    if "flops" in need and "params" in df.columns and "tokens" in df.columns:
        df = df.assign(flops=6.0 * df["params"].to_numpy(float) * df["tokens"].to_numpy(float))
        need.remove("flops")
    if "tokens" in need and "params" in df.columns and "flops" in df.columns:
        df = df.assign(tokens=df["flops"].to_numpy(float) / (6.0 * df["params"].to_numpy(float)))
        need.remove("tokens")
    if need:
        raise FitError(f"the approaches need columns params, tokens (or flops) and loss; missing {', '.join(need)}")
    return df


def _line(logC: np.ndarray, logY: np.ndarray) -> tuple[float, float]:
    if np.unique(logC).size < 2:
        return math.nan, math.nan
    slope, icpt = np.polyfit(logC, logY, 1)
    return float(slope), float(icpt)


def _envelope(C, N, D, L, n_buckets):
    lc = np.log10(C)
    edges = np.linspace(lc.min(), lc.max() + 1e-12, n_buckets + 1)
    idx = np.clip(np.searchsorted(edges, lc, side="right") - 1, 0, n_buckets - 1)
    pick = []
    for k in range(n_buckets):
        m = np.flatnonzero(idx == k)
        if m.size:
            pick.append(m[np.argmin(L[m])])
    pick = np.array(pick, int)
    return pick


def _boot(fn, n: int, B: int, seed: int, groups: list | None = None, clusters: list | None = None):
    """Bootstrap draws of ``fn(idx)``: rows resampled with replacement, or within each of ``groups``, or
    whole ``clusters`` (lists of row indices, e.g. every checkpoint of one run) resampled with replacement."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(B):
        if clusters is not None:
            pick = rng.integers(0, len(clusters), len(clusters))
            idx = np.concatenate([clusters[k] for k in pick])
        elif groups is None:
            idx = rng.integers(0, n, n)
        else:  # resample within each group
            idx = np.concatenate([rng.choice(g, g.size) for g in groups])
        try:
            out.append(fn(idx))
        except (FitError, np.linalg.LinAlgError, ValueError):
            continue
    return np.array(out, float).reshape(-1, 2)


def approach1_envelope(data, *, n_buckets: int | None = None, bootstrap: int = 200, seed: int = 0,
                       level: float = 0.8) -> ApproachResult:
    """Approach 1: lowest loss per FLOP bucket (rows may be checkpoints of training curves).

    With a ``run_id`` column (checkpoints of training curves), the bootstrap resamples whole runs: the
    checkpoints of one run are not independent draws, and resampling rows would understate the spread.

    Raises
    ------
    FitError
        If the table lacks params, tokens (or flops) or loss, or fewer than 3 FLOP buckets have runs.
    InputError
        If ``data`` cannot be read as a run table.
    """
    df = _table(data)
    C, N, D, L = (df[c].to_numpy(float) for c in ("flops", "params", "tokens", "loss"))
    nb = n_buckets or int(np.clip(len(C) // 4, 4, 40))

    def est(idx):
        pick = idx[_envelope(C[idx], N[idx], D[idx], L[idx], nb)]
        a, _ = _line(np.log10(C[pick]), np.log10(N[pick]))
        b, _ = _line(np.log10(C[pick]), np.log10(D[pick]))
        return a, b

    pick = _envelope(C, N, D, L, nb)
    if pick.size < 3:
        raise FitError(f"approach 1 needs at least 3 FLOP buckets with runs; got {pick.size}")
    a, n0 = _line(np.log10(C[pick]), np.log10(N[pick]))
    b, d0 = _line(np.log10(C[pick]), np.log10(D[pick]))
    clusters = None
    if "run_id" in df.columns:
        _, inv = np.unique(df["run_id"].astype(str).to_numpy(), return_inverse=True)
        clusters = [np.flatnonzero(inv == k) for k in range(int(inv.max()) + 1)]
        if len(clusters) == len(C):  # one row per run: rows are the runs
            clusters = None
    draws = _boot(est, len(C), bootstrap, seed, clusters=clusters) if bootstrap else np.zeros((0, 2))
    pts = [{"flops": float(C[i]), "N_opt": float(N[i]), "D_opt": float(D[i]), "loss": float(L[i])} for i in pick]
    extra = {"bootstrap_unit": "run (run_id)" if clusters is not None else "row",
             "n_runs": len(clusters) if clusters is not None else len(C)}
    return ApproachResult("1: envelope", a, b, interval_from_draws(draws[:, 0], level),
                          interval_from_draws(draws[:, 1], level), level, n0, d0, pts, extra=extra)


def _budget_groups(df) -> tuple[np.ndarray, np.ndarray]:
    """(group id per row, budget per group): a ``budget`` column, else distinct or bucketed FLOPs."""
    if "budget" in df.columns:
        c = df["budget"].to_numpy(float)
    else:
        c = df["flops"].to_numpy(float)
    uniq = np.unique(c)
    if uniq.size > len(c) / 3:  # continuous FLOPs: bucket by 1/20 decade
        key = np.round(np.log10(c) * 20) / 20
        uniq_k, gid = np.unique(key, return_inverse=True)
        budgets = np.array([np.median(c[gid == k]) for k in range(uniq_k.size)])
        return gid, budgets
    uniq, gid = np.unique(c, return_inverse=True)
    return gid, uniq


def approach2_isoflop(data, *, bootstrap: int = 200, seed: int = 0, level: float = 0.8, corrected: bool = True,
                      min_points: int = 3) -> ApproachResult:
    """Approach 2: IsoFLOP parabolas in log N per budget, vertices -> power laws (see module docstring).

    Raises
    ------
    FitError
        If the table lacks params, tokens (or flops) or loss, or fewer than 2 budgets have a valley (a
        convex parabola from ``min_points`` runs with at least 3 distinct N).
    InputError
        If ``data`` cannot be read as a run table.
    """
    df = _table(data)
    N, L = df["params"].to_numpy(float), df["loss"].to_numpy(float)
    gid, budgets = _budget_groups(df)
    groups = [np.flatnonzero(gid == k) for k in range(budgets.size)]

    def vertices(idx_sets):
        rows = []
        for k, m in enumerate(idx_sets):
            if m.size < min_points or np.unique(N[m]).size < 3:
                continue
            x = np.log(N[m])
            p2, p1, _ = np.polyfit(x, L[m], 2)
            if not p2 > 0:
                continue
            xs = -p1 / (2 * p2)
            if not (x.min() - 1.0 <= xs <= x.max() + 1.0):
                continue  # vertex far outside the sampled range: not a valley
            Nopt = math.exp(xs)
            rows.append((budgets[k], Nopt, budgets[k] / (6 * Nopt)))
        return np.array(rows, float).reshape(-1, 3)

    V = vertices(groups)
    if len(V) < 2:
        raise FitError(f"approach 2 needs at least 2 budgets with a valley (>= {min_points} runs with distinct N "
                       f"and an upward parabola); found {len(V)}")
    a, n0 = _line(np.log10(V[:, 0]), np.log10(V[:, 1]))
    b, d0 = _line(np.log10(V[:, 0]), np.log10(V[:, 2]))

    def est(idx):
        pos = {i: j for j, i in enumerate(idx)}  # noqa: F841 - idx is a concatenation of groups
        # rebuild groups from the resampled rows (resampling is within groups)
        sets, start = [], 0
        for g in groups:
            sets.append(idx[start:start + g.size])
            start += g.size
        Vb = vertices(sets)
        if len(Vb) < 2:
            raise FitError("too few valleys")
        return _line(np.log10(Vb[:, 0]), np.log10(Vb[:, 1]))[0], _line(np.log10(Vb[:, 0]), np.log10(Vb[:, 2]))[0]

    draws = _boot(est, len(N), bootstrap, seed, groups=groups) if bootstrap else np.zeros((0, 2))
    warn = ["Approach 2 (IsoFLOP parabolas) is biased when the sampled N range is wide or off-centre or when "
            "alpha != beta; compare with the corrected (parametric) optima"]
    extra = {}
    if corrected:
        from ..laws import chinchilla_optimum
        from ._api import fit

        res = fit({"params": N, "tokens": df["tokens"].to_numpy(float), "loss": L}, "chinchilla",
                  bootstrap=bootstrap, seed=seed, level=level, warn=False)
        if not res.ok:  # its convergence note belongs in this result's warnings, not a process-wide filter
            warn.append(f"corrected optima: the parametric fit's status is {res.status!r} ({res.message})")
        Nc, Dc = chinchilla_optimum(res.params, V[:, 0])
        ac, _ = _line(np.log10(V[:, 0]), np.log10(Nc))
        bc, _ = _line(np.log10(V[:, 0]), np.log10(Dc))
        co = res.compute_optimal_exponents(level)
        extra["corrected"] = {"a": ac, "b": bc, "a_interval": list(co["a_interval"]),
                              "b_interval": list(co["b_interval"]),
                              "N_opt": Nc.tolist(), "D_opt": Dc.tolist(),
                              "method": "parametric (chinchilla) fit, optima read at the IsoFLOP budgets"}
    pts = [{"flops": float(c), "N_opt": float(n), "D_opt": float(d)} for c, n, d in V]
    return ApproachResult("2: isoflop", a, b, interval_from_draws(draws[:, 0], level),
                          interval_from_draws(draws[:, 1], level), level, n0, d0, pts, warn, extra)


def approach3_parametric(data, *, law: str = "chinchilla", bootstrap: int = 1000, seed: int = 0,
                         level: float = 0.8, **fit_kwargs) -> ApproachResult:
    """Approach 3: parametric fit; ``a = beta/(alpha+beta)``, ``b = alpha/(alpha+beta)`` with bootstrap
    intervals."""
    from ._api import fit

    res = fit(data, law, bootstrap=bootstrap, seed=seed, level=level, **fit_kwargs)
    co = res.compute_optimal_exponents(level)
    p = res.params
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    n0 = math.log10(G) - co["a"] * math.log10(6.0)
    d0 = -math.log10(G) - co["b"] * math.log10(6.0)
    return ApproachResult("3: parametric", co["a"], co["b"], tuple(co["a_interval"]), tuple(co["b_interval"]),
                          level, n0, d0, extra={"params": dict(p), "objective": res.objective})
