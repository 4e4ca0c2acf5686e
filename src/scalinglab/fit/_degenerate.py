"""Degenerate fits: is there a trend at all, and are the parameters identified?

Two checks run on the best multi-start point BEFORE its final (expensive) polish, so that a hopeless fit
ends in milliseconds instead of letting the optimiser chase an exponent to its bound and a coefficient to
1e99:

* **Trend test** (the robust drop-in-dispersion test of Ronchetti 1982 / Hampel et al. 1986, Sec. 7.4):
  the law with ``P`` parameters against a constant (one parameter, the median), both scored by the same
  Huber function ``D = sum rho(r / s)`` of the residuals standardised by the law fit's robust scale ``s``
  (1.4826 x MAD, ``k = 1.345``): ``F = 2 (D0 - D1) / (P - 1) / lambda`` with
  ``lambda = [sum psi(t)^2 / (n - P)] / [mean psi'(t)]``, compared to ``F(P - 1, n - P)``. It uses its own symmetric
  robust score, not the fit objective, so the verdict does not depend on ``loss=`` (an asymmetric
  objective scores a flat line very differently from a symmetric one). ``psi`` is bounded, so a few broken
  runs cannot fake (or hide) a trend. With one run more than parameters (one residual degree of freedom) the
  classical F-test on sums of squares is used instead: there the robust scale is a MAD of residuals the fit
  has all but pinned, and the robust test read a clean 13 % trend over 4 runs as flat 7 times in 8 for a
  3-parameter law (the classical test: 2 in 9, the power any test has with one degree of freedom).
* **Pinned / exploding parameters**: a bounded parameter whose transform is saturated (within 1e-4 of the
  bounded range, or of a one-sided bound on its working scale), or a log-scale coefficient beyond 1e±50
  (what an exponent at its bound drags along to keep a vanishing term in range).

``fit`` raises `FitError` ("no detectable trend ... the law does no better than a constant") when the trend
test's p-value exceeds ``NO_TREND_P`` and the data look flat (a constant's robust residual scale is at least
``FLAT_SCALE_RATIO`` times the law's; otherwise the data have structure the law misses: status
``"poor_fit"`` and a warning instead) (or returns a result with status ``"no_trend"`` under ``throw=False``); when the
trend is weak (p above ``WEAK_TREND_P``) AND parameters are pinned or exploding, the result has status
``"degenerate"`` and a `ConvergenceWarning` says which parameters are not determined.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["trend_test", "pinned_parameters", "looks_flat", "NO_TREND_P", "WEAK_TREND_P", "EXPLODE_DECADES",
           "FLAT_SCALE_RATIO"]

#: p-value of the trend test above which a fit has no detectable trend (FitError)
NO_TREND_P = 0.05
#: p-value above which pinned/exploding parameters make the fit "degenerate" (warning)
WEAK_TREND_P = 0.01
#: the data count as flat when a constant's robust residual scale is at least this fraction of the law's
FLAT_SCALE_RATIO = 0.8
#: a log-scale coefficient beyond 10**±EXPLODE_DECADES is "exploding"
EXPLODE_DECADES = 50.0
_HUBER_K = 1.345


def _wmedian(v: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(v)
    cw = np.cumsum(w[o])
    return float(v[o][np.searchsorted(cw, 0.5 * cw[-1])])


def _rho(t: np.ndarray) -> np.ndarray:
    a = np.abs(t)
    return np.where(a <= _HUBER_K, 0.5 * t * t, _HUBER_K * (a - 0.5 * _HUBER_K))


def trend_test(residuals: np.ndarray, y_work: np.ndarray, n_params: int, weights=None) -> dict:
    """Robust F-test of the fitted law (``residuals``, ``n_params`` parameters) against a constant.

    Returns ``{"p_value", "F", "dof", "constant", "scale"}``; ``p_value`` is NaN when there are no
    degrees of freedom left (``n <= n_params``) or the law has a single parameter.
    """
    from scipy.stats import f as f_dist

    r1 = np.asarray(residuals, float)
    yw = np.asarray(y_work, float)
    w = np.ones(len(yw)) if weights is None else np.asarray(weights, float)
    keep = (w > 0) & np.isfinite(r1) & np.isfinite(yw)
    r1, yw, w = r1[keep], yw[keep], w[keep]
    n = len(yw)
    c = _wmedian(yw, w) if n else math.nan
    out = {"p_value": math.nan, "F": math.nan, "dof": [n_params - 1, n - n_params], "constant": c,
           "scale": math.nan}
    q, dof2 = n_params - 1, n - n_params
    if n == 0 or q < 1 or dof2 < 1:
        return out
    r0 = yw - c
    mad = float(np.median(np.abs(r1 - np.median(r1))))
    floor = 1e-13 * (abs(c) + float(np.median(np.abs(r0)))) + 1e-300
    s = max(1.4826 * mad, floor)
    t1, t0 = r1 / s, r0 / s
    wn = w / float(np.mean(w))
    d1, d0 = float(np.sum(wn * _rho(t1))), float(np.sum(wn * _rho(t0)))
    # lambda = E[psi^2] / E[psi']: bounded, so a few wild runs cannot inflate the denominator
    psi = np.clip(t1, -_HUBER_K, _HUBER_K)
    dpsi = float(np.sum(wn * (np.abs(t1) <= _HUBER_K))) / n
    lam = float(np.sum(wn * psi * psi)) / dof2 / max(dpsi, 1.0 / n)
    out["scale"] = s
    out["scale_constant"] = 1.4826 * float(np.median(np.abs(r0 - np.median(r0))))
    if lam <= 0:
        out.update(p_value=0.0 if d0 > d1 else 1.0, F=math.inf if d0 > d1 else 0.0)
        return out
    F = 2.0 * max(d0 - d1, 0.0) / q / lam
    if dof2 == 1:
        # one run more than parameters: the robust scale of the residuals (a MAD of n values a P-parameter fit
        # has all but pinned) and Huber's linear tails leave the test no power (a clean 13 % trend over 4 runs
        # read as flat 7 times in 8 for a 3-parameter law); the classical drop-in-sum-of-squares F-test keeps it
        ss1, ss0 = float(np.sum(wn * r1 * r1)), float(np.sum(wn * r0 * r0))
        F = (max(ss0 - ss1, 0.0) / q) / max(ss1, floor ** 2)
        out["test"] = "classical F (one residual degree of freedom)"
    out.update(F=F, p_value=float(f_dist.sf(F, q, dof2)))
    return out


def looks_flat(trend: dict) -> bool:
    """No detectable trend AND a constant describes the data about as tightly as the law does."""
    s0 = trend.get("scale_constant", math.inf)
    tiny = s0 <= 1e-6 * max(1.0, abs(trend["constant"]))  # spread at the level of rounding / solver tolerance
    return bool(trend["p_value"] > NO_TREND_P and (tiny or s0 >= FLAT_SCALE_RATIO * trend["scale"]))


def pinned_parameters(law, fitspace, theta: np.ndarray) -> tuple[list[str], list[str]]:
    """``(pinned, exploding)`` parameter names at natural ``theta`` (module docstring)."""
    theta = np.asarray(theta, float)
    pinned, exploding = [], []
    with np.errstate(all="ignore"):
        z = fitspace.working(theta)
    for j, p in enumerate(law.params):
        k = fitspace.kind[j]
        lo, hi = fitspace.lo[j], fitspace.hi[j]
        if k == 3:
            frac = (z[j] - lo) / (hi - lo)
            if not 1e-4 < frac < 1 - 1e-4:
                pinned.append(p.name)
        elif k == 1 and z[j] - lo < 1e-4 * max(1.0, abs(lo)):
            pinned.append(p.name)
        elif k == 2 and hi - z[j] < 1e-4 * max(1.0, abs(hi)):
            pinned.append(p.name)
        if p.log and theta[j] > 0 and abs(math.log10(theta[j])) > EXPLODE_DECADES:
            exploding.append(p.name)
    return pinned, exploding


#: an exponent whose interval is wider than this fraction of its value is "poorly determined"
LOOSE_EXPONENT = 0.5


def parameter_notes(law, params: dict, intervals: dict, level: float | None = None) -> list[str]:
    """What a reader of a fit's constants must know before trusting a prediction from them: a parameter that sits
    on a bound of its range (the runs did not determine it; the optimiser stopped at the wall), and an exponent
    (``alpha*``/``beta*``) whose interval is wider than ``LOOSE_EXPONENT`` of its value. ``level`` names the
    intervals' level (0.8 -> "80% interval"). One text for ``predict`` and the report."""
    notes = []
    for p in getattr(law, "params", ()):
        v = params.get(p.name)
        if v is None or not math.isfinite(v):
            continue
        iv = intervals.get(p.name)
        iv = tuple(iv) if iv is not None and len(iv) == 2 and all(map(math.isfinite, iv)) else None
        span = (f"{level:.0%} interval " if level else "interval ") + f"[{iv[0]:.3g}, {iv[1]:.3g}]" if iv else ""
        side = next((f"{s} bound {b:g}" for b, s in ((p.lower, "lower"), (p.upper, "upper"))
                     if math.isfinite(b) and abs(v - b) <= 1e-6 * max(1.0, abs(b)) and not (p.log and b == 0)), None)
        if side:
            notes.append(f"parameter {p.name} = {v:.4g} sits at its {side}" + (f" ({span})" if span else "")
                         + ": the runs do not determine it, and forecasts lean on where the range stops (the law "
                         "may not fit; more runs or another law)")
        elif iv and v != 0 and p.name.lower().startswith(("alpha", "beta")) and (iv[1] - iv[0]) / abs(v) > LOOSE_EXPONENT:
            notes.append(f"exponent {p.name} is poorly determined: {span} around {v:.3g}")
    return notes
