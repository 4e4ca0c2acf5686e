"""Prediction intervals for an actual run at a new point, and how far that point extrapolates.

The interval (rule ``"boot+noise+reach/v1"``; issue 10 calibrates further) is built in the law's residual
space (log space for loss laws) from three independent parts, combined by Monte Carlo with a fixed seed:

1. parameter uncertainty: the spread of the law's prediction over bootstrap draws (or, without a
   bootstrap, draws from the Gauss-Newton covariance of the fit, or from a preset's standard errors);
2. run-to-run noise and misspecification seen in the data: a normal term with the fit's robust residual
   scale ``noise`` (1.4826 x MAD), centred on the median residual (so a lower-envelope fit's interval sits
   above its line, where runs land);
3. reach: a normal term whose standard deviation grows linearly with the decades of compute (or of model
   size or tokens, where the point lies further beyond the fitted runs in those; or of the single variable)
   beyond the largest fitted run, in units of the data's own noise:
   ``sd = REACH_NOISE_PER_DECADE * noise * log10(ratio)`` for ``ratio > 1``. In this rule ``noise`` is the
   scale of the residuals other than the ``P`` the fit passes through (`robust_scale` with the law's
   parameter count: the plain MAD of a 9-run ladder reads a tenth of the run noise), and draws from the
   Gauss-Newton covariance widen by the same factor (`FitResult._prior_noise`). Backtests (fit on the runs
   below a compute cut, predict the rest; cuts holding out 10..50% of runs) on the two public datasets in
   ../shared/data gave the factor for 80% coverage as 5.0 (Chinchilla/Epoch runs) and 5.4 (IsoFLOP
   "misfitting" runs) with the Huber fit, 4.3 and 5.4 with the asymmetric fit, while an absolute
   (noise-free) factor differed 2.4x between the two datasets; hence the noise-relative form and 5.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..laws import Law

__all__ = ["REACH_NOISE_PER_DECADE", "REACH_WARN_FACTOR", "OTHER_REACH_WARN", "extrapolation", "linear_prediction_sd",
           "robust_scale",
           "calibrated_band", "keep_point_inside",
           "interval_from_draws", "other_coordinates", "predictive_quantiles", "calibrated_quantiles"]

#: extra standard deviation per decade of extrapolation, in units of the residual noise (module docstring)
REACH_NOISE_PER_DECADE = 5.0
#: extrapolation factor (in compute, or the single variable) beyond which a prediction warns
REACH_WARN_FACTOR = 100.0
#: factor beyond the fitted range of a coordinate other than N, D, C (unique tokens, epochs) that warns
OTHER_REACH_WARN = 1.5
_N_MC = 4000


def compute_of(law: Law, X: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Training FLOPs of points: the C variable, or 6 N D for laws in N and D; None otherwise."""
    if "C" in X:
        return np.asarray(X["C"], float)
    if "N" in X and "D" in X:
        return 6.0 * np.asarray(X["N"], float) * np.asarray(X["D"], float)
    return None


def _in_hull(points: np.ndarray, query: np.ndarray) -> np.ndarray | None:
    """Whether each query row lies in the convex hull of ``points`` (log space); None if degenerate."""
    try:
        from scipy.spatial import ConvexHull, QhullError
    except ImportError:  # pragma: no cover
        return None
    pts = np.unique(points, axis=0)
    if len(pts) < points.shape[1] + 1:
        return None
    try:
        eq = ConvexHull(pts).equations  # rows (normal, offset): inside iff normal . q + offset <= 0
    except (QhullError, ValueError):
        return None
    scale = np.max(np.abs(pts)) + 1.0
    return np.all(query @ eq[:, :-1].T + eq[:, -1] <= 1e-9 * scale, axis=1)


#: variables whose reach is carried by the compute reach (C = 6 N D) when the law has a compute
SCALE_VARIABLES = ("N", "D", "C")


def other_coordinates(law: Law, X: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The coordinates other than model size, tokens and compute in which a point can lie beyond the fitted
    runs: every other variable of the law (e.g. ``U`` unique tokens) and, for laws in ``D`` and ``U``, the
    epochs ``max(D / U, 1)`` (passes over the unique data)."""
    out = {v: np.asarray(X[v], float) for v in law.variables if v not in SCALE_VARIABLES}
    if "D" in X and "U" in X:
        out["epochs"] = np.maximum(np.asarray(X["D"], float) / np.asarray(X["U"], float), 1.0)
    return out


def extrapolation(law: Law, fitted: Mapping[str, np.ndarray], X: Mapping[str, np.ndarray], *,
                  hull: bool = True) -> dict:
    """Ratios of each new point to the largest fitted value (``"flops"`` and each variable), the largest
    reach over every coordinate as ``"reach"``, and ``"outside_hull"`` (the (log) convex hull of the fitted
    points, for laws in two or more variables).

    ``"reach"`` is the compute ratio, or the model-size (N) or token (D) ratio where that is larger (else the
    largest variable ratio) and, for laws with other coordinates
    (`other_coordinates`: unique tokens, epochs ...), the largest factor by which the point lies beyond the
    fitted range of any of them, on either side (``max(x / max_fit, min_fit / x)``; these are also returned
    per coordinate as ``"reach_<name>"``). The interval widens with ``"reach"``, so a data-constrained law
    fitted on few epochs widens its band for a run repeated many more times, not only for more compute.
    ``hull=False`` skips the convex-hull test (for callers that only need the reach)."""
    out: dict = {}
    C_fit, C_new = compute_of(law, fitted), compute_of(law, X)
    if C_fit is not None and C_new is not None:
        out["flops"] = C_new / np.max(C_fit)
    for v in law.variables:
        out[v] = np.asarray(X[v], float) / np.max(fitted[v])
    if "flops" in out:
        # a point can lie within the fitted compute and far beyond the fitted model sizes or token counts (a
        # large model trained briefly, a small one over-trained): reach is the largest of the three ratios
        reach = out["flops"]
        for v in ("N", "D"):
            if v in law.variables:
                reach = np.fmax(reach, out[v])
    else:
        reach = np.max(np.stack([out[v] for v in law.variables]), axis=0)
    if len(law.variables) >= 2:
        fo, xo = other_coordinates(law, fitted), other_coordinates(law, X)
        for k, x in xo.items():
            f = fo[k][np.isfinite(fo[k]) & (fo[k] > 0)]
            if f.size == 0:
                continue
            with np.errstate(all="ignore"):
                r = np.fmax(x / np.max(f), np.min(f) / x)
            out[f"reach_{k}"] = r
            reach = np.fmax(reach, r)
    out["reach"] = reach
    below = np.zeros_like(np.asarray(reach, float), dtype=bool)
    for v in law.variables:
        below |= np.asarray(X[v], float) < np.min(fitted[v])
    out["below_range"] = below
    if hull and len(law.variables) >= 2:
        P = np.log(np.column_stack([np.asarray(fitted[v], float) for v in law.variables]))
        Q = np.log(np.column_stack([np.asarray(X[v], float) for v in law.variables]))
        inside = _in_hull(P, Q)
        if inside is not None:
            out["outside_hull"] = ~inside
    return out


def linear_prediction_sd(law: Law, theta, covariance, X: Mapping[str, np.ndarray], space: str) -> np.ndarray | None:
    """Delta-method sd ``sqrt(J C J^T)`` of the law's prediction in residual space (log for ``space="log"``)
    at the points ``X`` (law variable -> array, broadcast to one shape), from the fit-space Gauss-Newton
    ``covariance`` C ``(P, P)`` at natural ``theta``; None without C (NaN where C is not finite). The one measure of
    parameter spread at a point: the calibration normalises backtest errors by it and a prediction's band
    scales by it, so the two agree even where the law is far from linear in a weakly identified direction
    (there, draws from C give spreads many times larger that the backtests never saw)."""
    if covariance is None:
        return None
    cov = np.asarray(covariance, float)
    from ._objectives import LeastSquares
    from ._solvers import Problem

    arrays = np.broadcast_arrays(*(np.asarray(X[v], float) for v in law.variables))
    shape = arrays[0].shape
    Xf = {v: a.ravel() for v, a in zip(law.variables, arrays, strict=True)}
    prob = Problem(law, Xf, np.ones(arrays[0].size), LeastSquares(), space)
    with np.errstate(all="ignore"):
        _, J = prob.residuals_jac(prob.fitspace.to_fit(np.asarray(theta, float))[None, :])
        var = np.einsum("ij,jk,ik->i", J[0], cov, J[0])
    return np.sqrt(np.clip(var, 0, None)).reshape(shape)


def predictive_quantiles(center: np.ndarray, draws: np.ndarray | None, *, noise: float, shift: float,
                         reach: np.ndarray, level: float, noise_per_decade: float = REACH_NOISE_PER_DECADE,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper quantiles (residual space) of ``center + param spread + noise + reach``.

    ``center``: (m,) point prediction in residual space; ``draws``: (B, m) predictions over parameter
    draws or None; ``reach``: (m,) extrapolation factors.
    """
    rng = np.random.default_rng(seed)
    m = center.shape[-1]
    if draws is not None and len(draws):
        d = draws - np.nanmedian(draws, axis=0)
        d = d[np.all(np.isfinite(d), axis=1)]
    else:
        d = np.zeros((1, m))
    if len(d) == 0:
        d = np.zeros((1, m))
    reps = max(1, _N_MC // len(d))
    sd_reach = noise_per_decade * noise * np.log10(np.maximum(np.asarray(reach, float), 1.0))
    sd = np.sqrt(noise ** 2 + sd_reach ** 2)  # (m,)
    z = rng.standard_normal((len(d) * reps, m))
    samples = np.repeat(d, reps, axis=0) + z * sd
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(samples, [a, 1 - a], axis=0)
    base = center - shift
    return base + lo, base + hi


def robust_scale(r: np.ndarray, n_params: int = 0) -> tuple[float, float]:
    """``(1.4826 x MAD, median)`` of the finite residuals ``r``; ``(nan, 0)`` when none is finite.

    ``n_params`` > 0 leaves out the ``n_params`` smallest deviations from the median first (at least two are
    kept): a fit with a small Huber threshold, like a least-absolute-deviations fit, passes through about as
    many runs as its law has parameters, and on a small ladder their zero residuals pull the plain MAD far
    below the run noise (Chinchilla's law on 9 runs at 1 % noise: 0.1 %; without them 1.1 %, and 0.95-1.03 %
    from 16 to 120 runs, where the plain MAD reads 0.40-0.99 %)."""
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan, 0.0
    med = float(np.median(r))
    dev = np.sort(np.abs(r - med))
    k = max(0, min(int(n_params), dev.size - 2))
    return float(1.4826 * np.median(dev[k:])), med


def run_noise_of(r: np.ndarray, n_params: int, noise: float) -> float:
    """The run noise of a fit with residuals ``r`` and ``n_params`` parameters: `robust_scale` without the runs
    the fit passes through when there are more residuals than parameters and it reads above ``noise`` (the
    plain robust scale), else ``noise``."""
    r = np.asarray(r, float)
    if r.size <= n_params or not math.isfinite(noise):
        return noise
    fair = robust_scale(r, n_params)[0]
    return fair if math.isfinite(fair) and fair > noise else noise


def interval_from_draws(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval of 1-D draws (NaNs ignored)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(v, [a, 1 - a])
    return float(lo), float(hi)


# ---------------------------------------------------------------- calibrated quantiles (see _calibrate.py)
def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _zt(t: float) -> float:
    """Normal score of quantile ``t``."""
    return 0.0 if t == 0.5 else (_z(2 * t - 1) if t > 0.5 else -_z(1 - 2 * t))


def _prior_q(z: np.ndarray, d: np.ndarray, kappa: float) -> np.ndarray:
    return z[:, None] * np.sqrt(1.0 + (kappa * d[None, :]) ** 2)


def _line_quantiles(lines: dict, d: np.ndarray, dmax: float, z: np.ndarray, kappa0: float) -> np.ndarray:
    """Quantiles ``(len(z), m)`` at distances ``d`` from one set of quantile lines (see `calibrated_quantiles`)."""
    lt = sorted((float(k), v) for k, v in lines.items())
    tl = np.array([t for t, _ in lt])
    zl = np.array([_zt(t) for t in tl])
    dc = np.minimum(d, dmax)
    Q = np.array([a + b * dc for _, (a, b) in lt])  # (T, m) at the calibrated distance
    Q = np.sort(Q, axis=0)  # rearrangement: quantiles never cross
    i_med = int(np.argmin(np.abs(tl - 0.5)))
    med = Q[i_med]
    dev = Q - med[None, :]
    # beyond the calibrated distance: hold the median where the backtests last saw it (a bias trend learnt
    # within d_max decades is not extrapolated: continued, it drove a 24-run ladder's band at 2,000x reach to
    # [0.17, 3.6] around 2.0 with the point at its top), and widen (quadrature) at the prior's rate. Harness,
    # leave-one-dataset-out: default 80 % coverage 78.6 -> 79.0 %, interval score 4.87 -> 4.86 %.
    extra = np.maximum(d - dmax, 0.0)
    if np.any(extra > 0):
        dev = np.sign(dev) * np.sqrt(dev ** 2 + (zl[:, None] * kappa0 * extra[None, :]) ** 2)
    # target taus: interpolate deviations in the normal score; scale beyond the outermost lines
    out = np.empty((len(z), len(d)))
    for i, zt in enumerate(z):
        if zt >= zl[-1]:
            out[i] = med + dev[-1] * (zt / zl[-1])
        elif zt <= zl[0]:
            out[i] = med + dev[0] * (zt / zl[0])
        else:
            j = int(np.searchsorted(zl, zt)) - 1
            f = (zt - zl[j]) / (zl[j + 1] - zl[j])
            out[i] = med + dev[j] * (1 - f) + dev[j + 1] * f
    return out


def calibrated_band(calibration: dict, *, base, noise: float, sp, reach, level: float) -> tuple:
    """Residual-space band ``(lo, hi)`` of an actual run from a backtest calibration (``_calibrate.py``):
    ``base + scale * q``, with ``q`` the calibrated central-``level`` quantiles at ``log10(reach)`` decades and
    ``scale = sqrt(noise^2 + sp^2)`` (the run noise and the linearised parameter sd ``sp`` the backtest errors
    were normalised by; the noise alone for calibrations that were not, or where ``sp`` is unknown).
    `FitResult.predict` and `suggest` (the band before and after a candidate run) both read bands here."""
    a = (1.0 - level) / 2.0
    q = calibrated_quantiles(calibration, np.log10(np.maximum(np.asarray(reach, float), 1.0)), [a, 1.0 - a])
    scale = noise
    if calibration.get("scale") == "noise+param" and sp is not None and np.all(np.isfinite(sp)):
        scale = np.sqrt(noise ** 2 + np.asarray(sp, float) ** 2)
    return base + scale * q[0], base + scale * q[1]


def keep_point_inside(lo, hi, center, noise: float, level: float) -> tuple:
    """The band widened so the point ``center`` lies strictly inside: an actual run scatters around the law's
    value by at least the run noise, so each side reaches ``z(level) * noise`` past the point even when a
    calibrated drift shifts the band to one side of it."""
    margin = _z(level) * (max(float(noise), 1e-5) if math.isfinite(noise) else 1e-5)
    return np.fmin(lo, center - margin), np.fmax(hi, center + margin)


def calibrated_quantiles(calibration: dict, d, taus) -> np.ndarray:
    """Quantiles ``(len(taus), m)`` of the error of an actual run, in units of the run noise, at ``d``
    decades beyond the fitted compute: the backtest quantile lines (rearranged to be monotone; beyond the
    calibrated distance their median held and their spread widened at the prior's rate) mixed with the prior
    rule."""
    d = np.atleast_1d(np.asarray(d, float))
    taus = np.asarray(taus, float)
    z = np.array([_zt(t) for t in taus])
    kappa0 = float(calibration.get("kappa_prior", calibration.get("reach_noise_per_decade",
                                                                  REACH_NOISE_PER_DECADE)))
    prior = _prior_q(z, d, kappa0)
    lines = calibration.get("quantile_lines")
    if not lines:
        return prior
    kind = calibration.get("distance", "edge")
    if kind == "both":
        qc = _line_quantiles(lines, d + float(calibration.get("offset", 0.0)), float(calibration["d_max"]), z,
                             kappa0)
        qe = _line_quantiles(calibration["quantile_lines_edge"], d, float(calibration["d_max_edge"]), z, kappa0)
        out = 0.5 * (qc + qe)
    else:
        if kind == "center":
            d = d + float(calibration.get("offset", 0.0))
        out = _line_quantiles(lines, d, float(calibration.get("d_max", 0.0)), z, kappa0)
    lam = float(calibration.get("prior_weight", 0.0))
    return (1.0 - lam) * out + lam * prior
