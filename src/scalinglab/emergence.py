"""Emergence analysis: is an apparent jump real, or a property of the metric? (Wei et al. 2022 vs
Schaeffer, Miranda, Koyejo 2023.)

From per-example results of models at several scales, :func:`metrics_by_model` computes one discrete
metric and several continuous ones per model:

* ``exact_match``: fraction of examples with every answer token correct (discrete);
* ``token_accuracy``: fraction of answer tokens correct (continuous);
* ``logprob``: mean log-probability of the correct answer, nats (continuous; needs a ``logprob`` column);
* ``brier``: mean ``(1 - p_correct)**2`` for the exact-match event (continuous; needs ``p_correct`` or
  ``logprob``, with ``p_correct = exp(logprob)``);
* ``edit_distance``: mean token edit distance to the answer (continuous; an ``edit_distance`` column, else
  ``n_tokens - tokens_correct``, the distance for substitution errors).

:func:`analyze_emergence` fits every metric against log10(scale) with a smooth model (a straight line in
log-scale) and a breakpoint model (a broken line: two slopes meeting at a knee, fitted by exhaustive
search over the knee) and calls a metric **sharp** when

1. the broken line beats the straight line by ``min_delta_aicc`` (AICc, Gaussian residuals), and
2. the curve *accelerates* at the knee: the slope after the knee is at least ``min_slope_ratio`` times the
   slope before it, in the direction of improvement (flat-then-rise, Wei's "near chance, then well above"),
   and
3. the knee is interior (at least one model on each side).

A jump that saturates (near chance, a jump, then a plateau: Wei et al.'s step) has no single knee a broken
line can follow; it is also **sharp** when a *clipped ramp* (flat, a straight rise between two knees, flat:
`fit_ramp`) beats the straight line by ``min_delta_aicc``, rises in the direction of improvement from a flat
start (at least one model before the rise) and rises at least ``min_slope_ratio`` times as steeply as the
straight line; its knee is the middle of the rise.

Everything else is **smooth** (including curves that are merely concave — fast early progress that
saturates). The knee (breakpoint scale) gets a bootstrap interval from resampling examples, from the model
that gave the verdict.
:func:`generate_mirage` makes the classic illustration: per-token accuracy ``p(N) = exp(-CE(N))`` with a
power-law cross-entropy (smooth) and exact match on L tokens ``p**L`` (looks sudden).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._errors import DataError, InputError

__all__ = ["metrics_by_model", "analyze_emergence", "EmergenceReport", "MetricAnalysis", "generate_mirage",
           "fit_broken_line", "fit_ramp", "METRIC_DIRECTION"]

#: +1 when larger is better, -1 when smaller is better.
METRIC_DIRECTION = {"exact_match": 1, "token_accuracy": 1, "logprob": 1, "brier": -1, "edit_distance": -1}
#: names of a per-example 0/1 correctness column, in order of preference (lm-evaluation-harness writes ``acc``)
EXACT_COLUMNS = ("exact", "exact_match", "correct", "is_correct", "acc")
#: metrics that score an answer all-or-nothing: sharp in them alone says nothing about the cause of a jump
DISCRETE_METRICS = frozenset({"exact_match"})
_SCALE_COLUMNS = ("params", "flops", "tokens", "N", "C", "scale")


# --------------------------------------------------------------------------------------------- metrics
def _scale_column(df, scale: str | None, source) -> tuple[str, str, float]:
    """``(source column, name to report, unit factor)`` of the scale: ``scale`` as given, else the first of
    `_SCALE_COLUMNS`, else a column holding params, flops or tokens under another accepted name or in the
    unit its header names (``Model Size (B)``: params, x 1e9; `scalinglab.data.schema.canonical_name`)."""
    if scale is not None:
        if scale not in df.columns:
            raise DataError(f"no scale column {scale!r} (columns: {', '.join(map(str, df.columns))})",
                            file=source, column=scale)
        return scale, scale, 1.0
    for c in _SCALE_COLUMNS:
        if c in df.columns:
            return c, c, 1.0
    from .data.schema import column_holding

    for c in ("params", "flops", "tokens"):
        found = column_holding(df.columns, c)
        if found is not None:
            return found[0], c, found[1]
    raise DataError(f"no scale column: expected one of {', '.join(_SCALE_COLUMNS)} (or pass scale=)", file=source)


def _per_example(df, source, scale: str | None, model: str):
    """Validated per-example arrays: model codes, scale per row and the metric inputs."""
    src, sc, factor = _scale_column(df, scale, source)
    if model not in df.columns:
        df = df.assign(**{model: df[src]})
    cols = set(df.columns)
    x = df[src].to_numpy(float) * factor
    bad = np.flatnonzero(~np.isfinite(x) | (x <= 0))
    if bad.size:
        raise DataError(f"scale must be positive, got {x[bad[0]]!r}", file=source, row=int(bad[0]) + 1, column=src)
    out = {"scale": x, "scale_column": sc}
    if "tokens_correct" in cols and "n_tokens" in cols:
        tc, nt = df["tokens_correct"].to_numpy(float), df["n_tokens"].to_numpy(float)
    elif "token_correct" in cols:
        tc = df["token_correct"].to_numpy(float)  # fraction of answer tokens correct
        nt = df["n_tokens"].to_numpy(float) if "n_tokens" in cols else np.ones_like(tc)
        if "n_tokens" in cols:
            tc = tc * nt
    else:
        tc = nt = None
    if tc is not None:
        bad = np.flatnonzero(~np.isfinite(tc) | ~np.isfinite(nt) | (nt <= 0) | (tc < 0) | (tc > nt + 1e-9))
        if bad.size:
            raise DataError("need 0 <= tokens_correct <= n_tokens and n_tokens > 0", file=source,
                            row=int(bad[0]) + 1, column="tokens_correct")
    out["tc"], out["nt"] = tc, nt
    exact = next((c for c in EXACT_COLUMNS if c in cols), None)
    if exact is not None:
        e = pd.to_numeric(df[exact].replace({True: 1, False: 0, "True": 1, "False": 0, "true": 1, "false": 0}),
                          errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isin(e, (0.0, 1.0)))
        if bad.size:
            cell = df[exact].iloc[int(bad[0])]
            raise DataError(f"{'empty cell' if pd.isna(cell) else repr(str(cell))}: an example's {exact} must be 0 or 1 "
                            "(drop examples with no result)", file=source, row=int(bad[0]) + 1, column=exact)
        out["exact"] = e
    elif tc is not None:
        out["exact"] = (tc >= nt - 1e-9).astype(float)
    else:
        raise DataError("per-example table needs tokens_correct + n_tokens, token_correct, or a 0/1 column "
                        f"({', '.join(EXACT_COLUMNS)}); columns found: {', '.join(map(str, df.columns))}",
                        file=source)
    out["logprob"] = df["logprob"].to_numpy(float) if "logprob" in cols else None
    if "p_correct" in cols:
        out["p"] = df["p_correct"].to_numpy(float)
    elif out["logprob"] is not None:
        out["p"] = np.exp(out["logprob"])
    else:
        out["p"] = None
    if "edit_distance" in cols:
        out["ed"] = df["edit_distance"].to_numpy(float)
    elif tc is not None and "n_tokens" in cols:
        out["ed"] = nt - tc
    else:
        out["ed"] = None
    models = df[model].astype(str).to_numpy()
    uniq, codes = np.unique(models, return_inverse=True)
    out["codes"], out["models"] = codes, uniq
    out["example"] = df["example_id"].astype(str).to_numpy() if "example_id" in cols else None
    return out


def _aggregate(pe: dict, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    codes = pe["codes"] if rows is None else pe["codes"][rows]
    K = len(pe["models"])

    def mean(v):
        v = v if rows is None else v[rows]
        s = np.bincount(codes, weights=v, minlength=K)
        c = np.bincount(codes, minlength=K)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / c

    out = {"exact_match": mean(pe["exact"])}
    if pe["tc"] is not None:
        tc = pe["tc"] if rows is None else pe["tc"][rows]
        nt = pe["nt"] if rows is None else pe["nt"][rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["token_accuracy"] = (np.bincount(codes, weights=tc, minlength=K)
                                     / np.bincount(codes, weights=nt, minlength=K))
    if pe["logprob"] is not None:
        out["logprob"] = mean(pe["logprob"])
    if pe["p"] is not None:
        out["brier"] = mean((1.0 - pe["p"]) ** 2)
    if pe["ed"] is not None:
        out["edit_distance"] = mean(pe["ed"])
    return out


def metrics_by_model(data, *, scale: str | None = None, model: str = "model"):
    """Per-model metrics from a per-example table (one row per model x example).

    Columns: ``model`` (name; optional — the scale then identifies the model), a scale column (``params``,
    ``flops``, ... or ``scale=``), and ``tokens_correct`` + ``n_tokens`` (or ``token_correct`` as a
    fraction), optionally ``exact`` (0/1), ``logprob`` (log-probability of the correct answer, nats),
    ``p_correct`` and ``edit_distance``. Returns a DataFrame sorted by scale with one row per model.
    """
    import pandas as pd

    from .downstream import load_frame

    df, source = load_frame(data)
    pe = _per_example(df, source, scale, model)
    agg = _aggregate(pe)
    sc = np.bincount(pe["codes"], weights=pe["scale"]) / np.bincount(pe["codes"])
    n = np.bincount(pe["codes"])
    out = pd.DataFrame({"model": pe["models"], pe["scale_column"]: sc, "n_examples": n, **agg})
    return out.sort_values(pe["scale_column"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------- fits
def _aicc(rss: float, n: int, k: int) -> float:
    rss = max(rss, 1e-300)
    aic = n * math.log(rss / n) + 2 * k
    return aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef, float(np.sum((A @ coef - y) ** 2))


def _broken_fits(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares (y0, s1, s2) and RSS for every knee in ``grid`` at once: ``(G, 3)``, ``(G,)``."""
    d = x[None, :] - grid[:, None]
    A = np.stack([np.ones_like(d), np.minimum(d, 0.0), np.maximum(d, 0.0)], axis=-1)
    AtA = np.einsum("gni,gnj->gij", A, A) + 1e-12 * np.eye(3)
    Aty = np.einsum("gni,n->gi", A, y)
    coef = np.linalg.solve(AtA, Aty[..., None])[..., 0]
    rss = np.sum((np.einsum("gni,gi->gn", A, coef) - y) ** 2, axis=1)
    return coef, rss


def _scales(x, y, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, distinct sorted x)`` as float arrays; `InputError` naming ``what`` under 4 distinct scales."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xs = np.sort(np.unique(x))
    if len(xs) < 4:
        raise InputError(f"{what} needs at least 4 distinct scales, got {len(xs)}")
    return x, y, xs


def fit_broken_line(x: np.ndarray, y: np.ndarray, n_grid: int = 200) -> dict:
    """Least-squares broken line ``y = y0 + s1 min(x - xb, 0) + s2 max(x - xb, 0)``.

    The knee ``xb`` is searched over a grid strictly between the 2nd-smallest and 2nd-largest x (so
    each side has at least two points), refined between neighbours; for each knee the fit is linear
    least squares. Returns ``{"knee", "y0", "slope_before", "slope_after", "rss"}``. Batched over knees.

    Raises
    ------
    InputError
        If ``x`` has fewer than 4 distinct values.
    """
    x, y, xs = _scales(x, y, "a broken line")
    grid = np.linspace(xs[1], xs[-2], n_grid)
    for _ in range(2):  # coarse grid, then two refinements around the best knee
        coef, rss = _broken_fits(x, y, grid)
        i = int(np.argmin(rss))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        grid = np.linspace(lo, hi, 41)
    coef, rss = _broken_fits(x, y, grid)
    i = int(np.argmin(rss))
    return {"knee": float(grid[i]), "y0": float(coef[i, 0]), "slope_before": float(coef[i, 1]),
            "slope_after": float(coef[i, 2]), "rss": float(rss[i])}


def fit_ramp(x: np.ndarray, y: np.ndarray, n_grid: int = 48) -> dict:
    """Least-squares clipped ramp ``y = y0 + slope * (clip(x, k1, k2) - k1)``: flat up to ``k1``, straight up
    to ``k2``, flat after (a jump that saturates). The knees are searched over every pair of a grid spanning
    the x range; for each pair the fit is linear least squares (batched). Returns ``{"k1", "k2", "knee"
    (their middle), "y0", "slope", "rss"}``.

    Raises
    ------
    InputError
        If ``x`` has fewer than 4 distinct values.
    """
    x, y, xs = _scales(x, y, "a ramp")
    g = np.linspace(xs[0], xs[-1], n_grid)
    i, j = np.triu_indices(n_grid, k=1)
    k1, k2 = g[i], g[j]
    z = np.clip(x[None, :], k1[:, None], k2[:, None]) - k1[:, None]  # (P, n)
    zc = z - z.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    var = np.sum(zc ** 2, axis=1)
    slope = np.where(var > 0, zc @ yc / np.maximum(var, 1e-300), 0.0)
    y0 = y.mean() - slope * z.mean(axis=1)
    rss = np.sum((y0[:, None] + slope[:, None] * z - y[None, :]) ** 2, axis=1)
    b = int(np.argmin(rss))
    return {"k1": float(k1[b]), "k2": float(k2[b]), "knee": float(0.5 * (k1[b] + k2[b])), "y0": float(y0[b]),
            "slope": float(slope[b]), "rss": float(rss[b])}


@dataclass(frozen=True)
class MetricAnalysis:
    """One metric's verdict. Scales are log10 of the scale column. ``knee_interval``: bootstrap
    interval of the knee (log10 scale) at ``level``; ``delta_aicc`` = AICc(line) - AICc(broken line)."""

    metric: str
    verdict: str
    values: list
    line: dict
    broken: dict
    delta_aicc: float
    slope_ratio: float
    knee: float
    knee_interval: tuple
    knee_scale: float
    knee_scale_interval: tuple
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (``metric``, ``verdict``, ``values``, ``line``, ``broken``, ``delta_aicc``,
        ``slope_ratio``, ``knee``, ``knee_interval``, ``knee_scale``, ``knee_scale_interval``, ``reason``).
        """
        from .fit._result import _jsonable

        return _jsonable(self.__dict__)


@dataclass(frozen=True)
class EmergenceReport:
    """Per-metric analyses plus the per-model metric table."""

    scale_column: str
    scales: list
    models: list
    metrics: dict
    level: float
    summary: str = ""
    table: object = field(default=None, repr=False)

    @property
    def sharp(self) -> list[str]:
        """Names of the metrics classified as sharp (near-flat, then a jump at the knee)."""
        return [m for m, a in self.metrics.items() if a.verdict == "sharp"]

    @property
    def smooth(self) -> list[str]:
        """Names of the metrics classified as smooth (straight or gently curved in log-scale)."""
        return [m for m, a in self.metrics.items() if a.verdict == "smooth"]

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``scale_column``, ``scales``, ``models``, ``level``, ``summary``, ``sharp``,
        ``smooth`` and ``metrics`` (metric name -> `MetricAnalysis.to_dict`).
        """
        return {"scale_column": self.scale_column, "scales": list(self.scales), "models": list(self.models),
                "level": self.level, "summary": self.summary, "sharp": self.sharp, "smooth": self.smooth,
                "metrics": {k: v.to_dict() for k, v in self.metrics.items()}}


def _classify(x, y, direction, min_delta_aicc, min_slope_ratio):
    n = len(x)
    coef, rss_line = _line(x, y)
    br = fit_broken_line(x, y)
    scale_y = max(float(np.ptp(y)), 1e-12)
    floor = (1e-6 * scale_y) ** 2 * n  # guard AICc against exact fits
    d_aicc = _aicc(rss_line + floor, n, 2) - _aicc(br["rss"] + floor, n, 4)
    s1, s2 = direction * br["slope_before"], direction * br["slope_after"]
    ratio = s2 / max(abs(s1), 1e-9 * scale_y) if s2 > 0 else 0.0
    ramp = fit_ramp(x, y)
    d_ramp = _aicc(rss_line + floor, n, 2) - _aicc(ramp["rss"] + floor, n, 4)
    steep = direction * ramp["slope"] / max(abs(coef[1]), 1e-9 * scale_y)
    flat_start = bool(np.sum(x < ramp["k1"]) >= 1)
    if d_aicc >= min_delta_aicc and ratio >= min_slope_ratio:
        verdict = "sharp"
        reason = (f"a broken line beats a straight line in log-scale (dAICc {d_aicc:.1f}) and the slope "
                  f"improves {ratio:.3g}x at the knee: near-flat, then a jump")
    elif d_ramp >= min_delta_aicc and flat_start and steep >= min_slope_ratio:
        verdict = "sharp"
        reason = (f"flat, a jump between 10^{ramp['k1']:.2f} and 10^{ramp['k2']:.2f}, then flat: a clipped ramp "
                  f"beats a straight line in log-scale (dAICc {d_ramp:.1f}) and rises {steep:.3g}x as steeply")
        d_aicc, ratio = d_ramp, steep
        br = {**br, "knee": ramp["knee"], "ramp": ramp}
    elif d_aicc >= min_delta_aicc:
        verdict = "smooth"
        reason = (f"curved (dAICc {d_aicc:.1f}) but it does not accelerate at the knee (slope ratio "
                  f"{ratio:.2g} < {min_slope_ratio:g}): gradual improvement")
    else:
        verdict = "smooth"
        reason = f"a straight line in log-scale fits as well as a broken line (dAICc {d_aicc:.1f})"
    line = {"intercept": float(coef[0]), "slope_per_decade": float(coef[1]), "rss": rss_line}
    return verdict, reason, line, br, float(d_aicc), float(ratio)


def analyze_emergence(data, *, scale: str | None = None, model: str = "model",
                      metrics: Sequence[str] | None = None, bootstrap: int = 200, level: float = 0.8,
                      min_delta_aicc: float = 6.0, min_slope_ratio: float = 3.0, seed: int = 0) -> EmergenceReport:
    """Classify each metric as sharp or smooth against log10(scale) and locate its knee with a bootstrap
    interval (resampling examples within each model). See the module docstring for the rule.

    Raises
    ------
    InputError
        If ``level`` is not in (0, 1), there are fewer than 5 models (scales), or a requested metric is not
        available; also for a table that cannot be read or lacks the needed columns.
    DataError
        If the table has bad values (raised while loading it, with file, row and column).
    """
    from .downstream import load_frame

    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    df, source = load_frame(data)
    pe = _per_example(df, source, scale, model)
    agg = _aggregate(pe)
    K = len(pe["models"])
    sc = np.bincount(pe["codes"], weights=pe["scale"]) / np.bincount(pe["codes"])
    if K < 5:
        raise InputError(f"emergence analysis needs at least 5 models (scales), got {K}")
    x = np.log10(sc)
    names = [m for m in (metrics or agg) if m in agg]
    unknown = [m for m in (metrics or []) if m not in agg]
    if unknown:
        raise InputError(f"metric(s) {', '.join(unknown)} not available; have {', '.join(agg)}")
    classified = {}
    for m in names:
        y = agg[m]
        ok = np.isfinite(y)
        classified[m] = _classify(x[ok], y[ok], METRIC_DIRECTION.get(m, 1), min_delta_aicc, min_slope_ratio)
    rng = np.random.default_rng(seed)
    # bootstrap: resample rows within each model (stratified); the knee of the model that gave the verdict
    by_model = [np.flatnonzero(pe["codes"] == k) for k in range(K)]
    boot_knees = {m: [] for m in names}
    for _ in range(int(bootstrap)):
        rows = np.concatenate([r[rng.integers(0, len(r), len(r))] for r in by_model])
        a = _aggregate(pe, rows)
        for m in names:
            yb = a[m]
            if np.all(np.isfinite(yb)):
                knee_of = fit_ramp if "ramp" in classified[m][3] else fit_broken_line
                boot_knees[m].append(knee_of(x, yb)["knee"])
    out = {}
    q = (1.0 - level) / 2.0
    for m in names:
        y = agg[m]
        verdict, reason, line, br, d, ratio = classified[m]
        kb = np.asarray(boot_knees[m])
        ki = (float(np.quantile(kb, q)), float(np.quantile(kb, 1 - q))) if kb.size else (math.nan, math.nan)
        if "ramp" in br:  # the jump lies somewhere between the last model before the rise and the first after it
            before, after = x[x <= br["ramp"]["k1"]], x[x >= br["ramp"]["k2"]]
            ki = (min(ki[0], float(before.max())) if before.size else ki[0],
                  max(ki[1], float(after.min())) if after.size else ki[1])
        out[m] = MetricAnalysis(metric=m, verdict=verdict, values=[float(v) for v in y[np.argsort(sc)]], line=line, broken=br,
                                delta_aicc=d, slope_ratio=ratio, knee=br["knee"], knee_interval=ki,
                                knee_scale=float(10 ** br["knee"]),
                                knee_scale_interval=tuple(float(10 ** v) for v in ki), reason=reason)
    sharp = [m for m, a in out.items() if a.verdict == "sharp"]
    smooth = [m for m, a in out.items() if a.verdict == "smooth"]
    if sharp and smooth:
        summary = (f"{', '.join(sharp)} look sharp but {', '.join(smooth)} improve smoothly: the jump is "
                   "consistent with a metric effect (Schaeffer et al. 2023), not a sudden change in the model")
    elif sharp and set(out) <= DISCRETE_METRICS:  # nothing continuous to compare with: no verdict on the cause
        summary = (f"{', '.join(sharp)} looks sharp, but only a discrete metric was given: a jump in exact match "
                   "alone cannot tell emergence from a metric effect (Schaeffer et al. 2023); add per-token "
                   "columns (tokens_correct + n_tokens, or logprob) to tell them apart")
    elif sharp:
        summary = f"all analysed metrics look sharp ({', '.join(sharp)}): consistent with genuine emergence"
    else:
        summary = "no metric shows a sharp jump"
    order = np.argsort(sc)
    return EmergenceReport(scale_column=pe["scale_column"], scales=[float(v) for v in sc[order]],
                           models=[str(v) for v in pe["models"][order]],
                           metrics=out, level=float(level), summary=summary)


# --------------------------------------------------------------------------------------------- generator
def generate_mirage(scales=None, *, n_examples: int = 200, answer_tokens: int = 10, c: float = 3e6,
                    alpha: float = 0.35, seed: int = 0):
    """Per-example results for the Schaeffer et al. 2023 illustration (a pandas DataFrame).

    Per-token cross-entropy falls as a power law, ``CE(N) = (N / c)**(-alpha)`` (nats), so per-token
    accuracy ``p(N) = exp(-CE(N))`` rises smoothly; each of ``answer_tokens`` tokens is correct
    independently with probability p, so exact match has expectation ``p**L`` — flat, then sudden.
    ``scales``: parameter counts (default 12 sizes, 1e7..1e11). Columns: model, params, example_id,
    n_tokens, tokens_correct, exact, logprob (log-probability of the whole correct answer,
    ``L * log p``), p_correct (= p**L), edit_distance.

    Raises
    ------
    InputError
        If a scale is not a positive parameter count, or ``answer_tokens`` or ``n_examples`` is below 1.
    """
    import pandas as pd

    scales = np.logspace(7, 11, 12) if scales is None else np.asarray(scales, float)
    if np.any(scales <= 0):
        raise InputError("scales must be positive parameter counts")
    if answer_tokens < 1 or n_examples < 1:
        raise InputError("answer_tokens and n_examples must be >= 1")
    rng = np.random.default_rng(seed)
    rows = []
    L = int(answer_tokens)
    for N in scales:
        ce = (N / c) ** (-alpha)
        p = math.exp(-ce)
        tc = rng.binomial(L, p, size=n_examples)
        rows.append(pd.DataFrame({
            "model": f"m{N:.3g}", "params": N, "example_id": np.arange(n_examples), "n_tokens": L,
            "tokens_correct": tc, "exact": (tc == L).astype(int), "logprob": -L * ce,
            "p_correct": p ** L, "edit_distance": L - tc}))
    return pd.concat(rows, ignore_index=True)
