"""Calibration of prediction intervals for larger, unseen runs.

1. Synthetic families with known truth (well specified at 0.5% and 2% noise; misspecified: a smoothly
   broken power law fitted with Chinchilla's law), IsoFLOP tables of 8 budgets: fit on all but the two
   largest budgets, predict the actual runs of those two; coverage at nominal 50/80/95% over many seeds.
2. The public datasets in ../shared/data: the same protocol (budgets = clusters of compute within 0.04
   decades), coverage and the 80% interval score (Gneiting & Raftery) of the calibrated intervals, of the
   previous fixed rule (calibrate=False) and of the best fixed +-k% band around the same point forecast
   with k chosen in hindsight per dataset (and pooled over datasets).

The calibration constants (prior weight 0.3, ``REACH_NOISE_PER_DECADE``) were set on these same families and
public datasets, so the figures here are in-sample. The out-of-sample figures (every constant and choice set
without the dataset scored) come from ``bench/extrapolation.py``; quote those.

Usage: python bench/calibration.py [n_seeds]      Last line: ``coverage_at_80: <synthetic pooled value>``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

from scalinglab.fit import fit
from scalinglab.fit._calibrate import interval_score

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_calibration import broken, chinchilla  # noqa: E402  (the synthetic truths the tests use)
from test_calibration import isoflop as _isoflop  # noqa: E402

FAMILIES = {"chinchilla 0.5% noise": (chinchilla, 0.005), "chinchilla 2% noise": (chinchilla, 0.02),
            "broken power law (misspecified)": (broken, 0.005)}


def isoflop(fn, seed, noise):
    """The tests' synthetic IsoFLOP table, with the budget as the ``flops`` column."""
    return _isoflop(fn, seed, noise).rename(columns={"budget": "flops"})


def budgets(flops):
    lf = np.log10(flops)
    o = np.argsort(lf)
    g = np.zeros(len(lf), int)
    cur = 0
    for a, b in zip(o[:-1], o[1:], strict=True):
        cur += lf[b] - lf[a] > 0.04
        g[b] = cur
    return g


def holdout(df, **kw):
    """Fit on all but the two largest budgets; (value, {level: (lo, hi)}, actual) for the held-out runs."""
    g = budgets(df["flops"].to_numpy(float))
    top = g >= g.max() - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(df[~top], "chinchilla", **kw)
    te = df[top]
    ivs, value = {}, None
    for lv in (0.5, 0.8, 0.95):
        p = res.predict(level=lv, warn=False, N=te["params"].to_numpy(float), D=te["tokens"].to_numpy(float))
        ivs[lv] = tuple(map(np.asarray, p.interval))
        value = np.asarray(p.value)
    return value, ivs, te["loss"].to_numpy(float)


def coverage(ivs, y):
    return {lv: float(np.mean((lo <= y) & (y <= hi))) for lv, (lo, hi) in ivs.items()}


def main() -> None:
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    t0 = time.perf_counter()
    print(f"== synthetic families ({n_seeds} seeds each; 8 IsoFLOP budgets x 9 runs; hold out the top 2)")
    pooled = {0.5: [], 0.8: [], 0.95: []}
    for name, (fn, noise) in FAMILIES.items():
        hits = {0.5: [], 0.8: [], 0.95: []}
        for seed in range(n_seeds):
            _, ivs, y = holdout(isoflop(fn, 10_000 + seed, noise))
            for lv, (lo, hi) in ivs.items():
                hits[lv] += list((lo <= y) & (y <= hi))
        for lv in hits:
            pooled[lv] += hits[lv]
        print(f"  {name:34s} coverage 50/80/95%: " + " / ".join(f"{np.mean(hits[lv]):.0%}" for lv in hits))
    syn80 = float(np.mean(pooled[0.8]))
    print("  pooled                             coverage 50/80/95%: "
          + " / ".join(f"{np.mean(v):.1%}" for v in pooled.values()))

    print("== public datasets (fit all but the two largest compute budgets, predict those)")
    sets = {}
    if (DATA / "epoch_chinchilla_svg_extracted.csv").exists():
        from scalinglab.data import load_runs

        ep = load_runs(DATA / "epoch_chinchilla_svg_extracted.csv").df.sort_values("loss").iloc[:-5]
        sets["Epoch/Chinchilla"] = ep
        sets["OpenAthena IsoFLOP"] = load_runs(DATA / "openathena_isoflops_misfitting_extract.csv").df
    ks = np.linspace(0.0005, 0.25, 500)
    fixed_pool = np.zeros_like(ks)
    ours_pool, old_pool, n_pool = 0.0, 0.0, 0
    for name, df in sets.items():
        v, ivs, y = holdout(df)
        _, ivs_old, _ = holdout(df, calibrate=False)
        is_ours = interval_score(*ivs[0.8], y, 0.8)
        is_old = interval_score(*ivs_old[0.8], y, 0.8)
        fixed = np.array([interval_score(v * (1 - k), v * (1 + k), y, 0.8).sum() for k in ks])
        fixed_pool += fixed
        ours_pool, old_pool, n_pool = ours_pool + is_ours.sum(), old_pool + is_old.sum(), n_pool + len(y)
        kb = int(np.argmin(fixed))
        cov, cov_old = coverage(ivs, y), coverage(ivs_old, y)
        print(f"  {name:20s} n={len(y):2d}  coverage 50/80/95%: "
              + " / ".join(f"{c:.0%}" for c in cov.values())
              + f"  (fixed rule: {' / '.join(f'{c:.0%}' for c in cov_old.values())})")
        print(f"  {'':20s} interval score @80%: calibrated {is_ours.mean():.4f}, fixed rule {is_old.mean():.4f}, "
              f"best +-k% band in hindsight {fixed[kb] / len(y):.4f} (k = {ks[kb]:.2%}); "
              f"ratio {is_ours.mean() / (fixed[kb] / len(y)):.2f}")
    if n_pool:
        kb = int(np.argmin(fixed_pool))
        print(f"  pooled: interval score calibrated {ours_pool / n_pool:.4f}, fixed rule {old_pool / n_pool:.4f}, "
              f"best single +-k% band {fixed_pool[kb] / n_pool:.4f} (k = {ks[kb]:.2%})")
    print(f"time {time.perf_counter() - t0:.1f} s")
    print(f"coverage_at_80: {syn80:.3f}")


if __name__ == "__main__":
    main()
