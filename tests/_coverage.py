"""Tolerances for interval-coverage tests, stated from sampling error instead of tuned by hand.

A nominal-``p`` interval evaluated on ``n`` held-out points covers a Binomial(n, p)/n share of them when it is
calibrated. A test accepts the observed coverage when it lies within ``k`` (default 3) standard errors,
``p ± k·sqrt(p (1 - p) / n)``: a calibrated method fails such a test about 0.3 % of the time, and an interval
that is badly off fails it for any n large enough to make the window narrow. Coverage tests run on seeds
that no constant of the package was tuned on (the calibration bench uses seeds 0-39 of each family).
"""

from __future__ import annotations

import math


def coverage_window(p: float, n: int, k: float = 3.0) -> tuple[float, float]:
    """``(lo, hi)`` that the coverage of a nominal ``p`` interval on ``n`` held-out points falls in with
    probability ~99.7 % (k = 3) when the interval is calibrated, clipped to [0, 1]."""
    if n <= 0 or not 0 < p < 1:
        raise ValueError(f"need n > 0 and 0 < p < 1, got n={n}, p={p}")
    half = k * math.sqrt(p * (1.0 - p) / n)
    return max(0.0, p - half), min(1.0, p + half)


def assert_coverage(observed: float, p: float, n: int, k: float = 3.0, what: str = "") -> None:
    """Fail with the numbers when ``observed`` coverage is outside :func:`coverage_window`."""
    lo, hi = coverage_window(p, n, k)
    assert lo <= observed <= hi, (f"{what} coverage {observed:.3f} of nominal {p:.2f} on {n} held-out points is "
                                  f"outside {lo:.3f}..{hi:.3f} (p ± {k:g}·sqrt(p(1-p)/n))")
