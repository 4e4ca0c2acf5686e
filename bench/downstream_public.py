"""Downstream accuracy of larger released models from smaller ones: scalinglab vs a plain sigmoid.

A public table of many released base models (any families) with training compute and benchmark accuracies,
e.g. ``eval_results/base_llm_benchmark_eval.csv`` of the Observational Scaling Laws repository (Ruan et al.
2024, github.com/ryoungj/ObsScaling; not bundled: that repository states no license). For each benchmark
and each compute cutoff, every method is fitted on the models below the cutoff and predicts the accuracy of
every model at or above it:

* ``plain``: the baseline, ``chance + (1 - chance) * sigmoid(k (log10 C - x0))`` fitted by least squares
  (interval: +-z * residual sd);
* ``cli`` / ``cli-nofloor``: what ``scalinglab fit models.csv --law sigmoid --x flops --y BENCH
  [--floor CHANCE]`` then ``scalinglab predict fit.json flops=...`` give
  (``scalinglab.downstream.fit_accuracy_sigmoid``: least squares with weak slope/ceiling priors, predicted
  through ``FitResult.predict``);
* ``generic-fit`` / ``generic-fit-nofloor`` (opt-in, slow): the catalog ``sigmoid`` law through the
  generic ``scalinglab.fit.fit`` (what ``fit --law sigmoid`` did before; a failed fit, e.g. "no
  detectable trend", counts as no forecast);
* ``sigmoid``: ``SigmoidPredictor(BENCH, floor=CHANCE)`` (ceiling fitted);
* ``select``: ``scalinglab.downstream.select_downstream(table, BENCH, floor=CHANCE)`` (the downstream
  module's default route, also ``scalinglab downstream``: the plain-form sigmoid kept unless the
  fitted-ceiling form beats it by 10 % at every internal backtest cut, then the two stacked by inverse
  squared backtest error).

Columns: compute as ``flops`` (FLOPs) or ``FLOPs (1E21)`` (units of 1e21 FLOPs) or ``params`` + ``tokens``
(or ``Model Size (B)`` + ``Pretraining Data Size (T)``, then C = 6 N D); benchmark accuracies as
fractions in [0, 1] (every other numeric column is taken as a benchmark); optional ``family`` /
``Model Family``. Rows without compute are dropped. Chance levels: MMLU, ARC, HellaSwag 0.25, Winogrande
/ XWinograd 0.5, others 0 (override with ``--floor BENCH=VALUE``). A table without compute (e.g. the same
repository's ``base_llm_leaderboard_v2_eval.csv``) must first be joined on ``Model`` with the FLOPs of
``base_llm_benchmark_eval.csv``.

Usage: python bench/downstream_public.py [TABLE.csv] [--floor BENCH=VALUE ...] [--cuts 1e22,3e22,...]
[--methods plain,cli,select] (or the env var SCALINGLAB_DOWNSTREAM_TABLE). Prints errors in accuracy points (x100) per benchmark and
method, the 80% interval coverage, and ends with ``downstream_vs_sigmoid_mae_ratio: <value>`` (the
``select`` route's mean absolute error over all held-out predictions / the plain sigmoid's; lower is
better, <= 1 means at least as good as the plain sigmoid).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

CHANCE = {"mmlu": 0.25, "arc-c": 0.25, "arc_c": 0.25, "arc-e": 0.25, "arc": 0.25, "hellaswag": 0.25,
          "winograd": 0.5, "winogrande": 0.5, "xwinograd": 0.5, "piqa": 0.5, "boolq": 0.5}
META = {"model", "model family", "family", "flops", "flops (1e21)", "params", "tokens", "model size (b)",
        "pretraining data size (t)"}
DEFAULT_CUTS = (1e22, 3e22, 1e23, 3e23)
Z80 = 1.2815515655446004


def load_table(path):
    """``(DataFrame with flops/family/benchmarks, list of benchmark columns)`` from a CSV of models, read by the
    library's table reader and compute columns (`scalinglab.downstream._common`: ``flops``, ``FLOPs (1E21)``,
    params + tokens under any accepted name or unit note, C = 6 N D)."""
    import pandas as pd

    from scalinglab._errors import DataError
    from scalinglab.downstream._common import load_frame, scale_arrays

    df, source = load_frame(path)
    try:
        C = scale_arrays(df, "flops", source)["flops"]
    except DataError:
        raise SystemExit(f"{path}: no compute column (flops, 'FLOPs (1E21)', params+tokens)") from None
    low = {c.lower(): c for c in df.columns}
    fam_col = low.get("family", low.get("model family"))
    out = pd.DataFrame({"flops": C, "family": df[fam_col].astype(str) if fam_col else "?"})
    benches = []
    for c in df.columns:
        if c.lower() in META or not np.issubdtype(df[c].dtype, np.number):
            continue
        v = df[c].to_numpy(float)
        if np.nanmin(v) >= 0 and np.nanmax(v) <= 1:
            out[c] = v
            benches.append(c)
    out = out[np.isfinite(out["flops"]) & (out["flops"] > 0)].reset_index(drop=True)
    return out, benches


def plain_sigmoid(lc, y, floor):
    """Least-squares ``floor + (1 - floor) sigmoid(k (lc - x0))``; returns a predict function and the sd."""
    from scipy.optimize import least_squares

    def f(p, x):
        return floor + (1.0 - floor) / (1.0 + np.exp(-p[0] * (x - p[1])))

    best = None
    for k0 in (0.5, 1.0, 2.0):
        for x0 in np.quantile(lc, [0.2, 0.5, 0.8]).tolist() + [lc.max() + 1.0]:
            s = least_squares(lambda p: f(p, lc) - y, [k0, x0])
            if best is None or s.cost < best.cost:
                best = s
    sd = float(np.sqrt(2 * best.cost / max(len(y) - 2, 1)))
    return (lambda x: f(best.x, x)), sd


def run_methods(train, test, bench, floor, methods):
    """Predictions (value, lo80, hi80) of each method for the test rows."""
    from scalinglab import ScalingLabError
    from scalinglab.downstream import select_downstream
    from scalinglab.fit import fit
    from scalinglab.laws import get_law

    lc_tr, lc_te = np.log10(train["flops"].to_numpy()), np.log10(test["flops"].to_numpy())
    y = train[bench].to_numpy()
    out = {}
    if "plain" in methods:
        fn, sd = plain_sigmoid(lc_tr, y, floor)
        v = fn(lc_te)
        out["plain"] = (v, v - Z80 * sd, v + Z80 * sd)
    tab = train[["flops", bench]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in methods:
            if name in ("generic-fit", "generic-fit-nofloor"):
                law = get_law("sigmoid", floor=floor) if name == "generic-fit" else "sigmoid"
                try:
                    r = fit(tab, law, x="flops", y=bench, loss="auto")
                except ScalingLabError:      # e.g. "no detectable trend": the user gets no forecast
                    nan = np.full(len(test), np.nan)
                    out[name] = (nan, nan, nan)
                    continue
                p = r.predict(level=0.8, flops=test["flops"].to_numpy())
                out[name] = (np.atleast_1d(p.value), *map(np.atleast_1d, p.interval))
            elif name in ("cli", "cli-nofloor"):  # what `fit --law sigmoid` does
                from scalinglab.downstream import fit_accuracy_sigmoid

                r = fit_accuracy_sigmoid(tab, x="flops", y=bench, floor=floor if name == "cli" else None)
                p = r.predict(level=0.8, flops=test["flops"].to_numpy())
                out[name] = (np.atleast_1d(p.value), *map(np.atleast_1d, p.interval))
            elif name == "sigmoid":      # SigmoidPredictor with its ceiling fitted (library default)
                from scalinglab.downstream import SigmoidPredictor

                res = SigmoidPredictor(bench, floor=floor).fit(tab)
                p = res.predict(flops=test["flops"].to_numpy(), level=0.8)
                out[name] = (np.atleast_1d(p.value), *map(np.atleast_1d, p.interval))
            elif name == "select":
                try:
                    sel = select_downstream(tab, bench, floor=floor)
                except ScalingLabError:
                    nan = np.full(len(test), np.nan)
                    out[name] = (nan, nan, nan)
                    continue
                p = sel.predict(flops=test["flops"].to_numpy(), level=0.8)
                out[name] = (np.atleast_1d(p.value), *map(np.atleast_1d, p.interval))
    return out


def evaluate(df, benches, floors, cuts, methods, min_train=8, min_test=3):
    """Per (benchmark, cut): absolute errors and 80% coverage of each method."""
    rows = []
    for b in benches:
        d = df[np.isfinite(df[b])]
        for cut in cuts:
            tr, te = d[d["flops"] < cut], d[d["flops"] >= cut]
            if len(tr) < min_train or len(te) < min_test:
                continue
            preds = run_methods(tr, te, b, floors.get(b, 0.0), methods)
            actual = te[b].to_numpy()
            for m, (v, lo, hi) in preds.items():
                rows.append({"bench": b, "cut": cut, "method": m, "n_train": len(tr), "n_test": len(te),
                             "abs_err": np.abs(v - actual), "covered": (actual >= lo) & (actual <= hi)})
    return rows


def main(argv):
    path = None
    floors_cli, cuts = {}, DEFAULT_CUTS
    methods = ("plain", "cli", "select")
    it = iter(argv)
    for a in it:
        if a == "--floor":
            k, v = next(it).split("=")
            floors_cli[k] = float(v)
        elif a == "--cuts":
            cuts = tuple(float(c) for c in next(it).split(","))
        elif a == "--methods":
            methods = tuple(next(it).split(","))
        else:
            path = a
    path = path or os.environ.get("SCALINGLAB_DOWNSTREAM_TABLE")
    if not path or not Path(path).is_file():
        print(f"skipped: no benchmark table ({path or 'give a CSV path or set SCALINGLAB_DOWNSTREAM_TABLE'}); "
              "see the module docstring for the expected columns")
        print("downstream_vs_sigmoid_mae_ratio: nan")
        return 0
    df, benches = load_table(path)
    floors = {b: floors_cli.get(b, CHANCE.get(b.lower(), 0.0)) for b in benches}
    print(f"{path}: {len(df)} models with compute, {df['family'].nunique()} families; benchmarks "
          f"{', '.join(f'{b} (chance {floors[b]:g})' for b in benches)}; cuts {', '.join(f'{c:.0e}' for c in cuts)}")
    t0 = time.perf_counter()
    rows = evaluate(df, benches, floors, cuts, methods)
    print(f"{len(rows)} fits in {time.perf_counter() - t0:.1f} s\n")
    hdr = "".join(f"{m:>22}" for m in methods)
    print(f"{'benchmark':<12}{'n_pred':>7}{hdr}   (MAE in points / 80% coverage)")
    tot = {m: [] for m in methods}
    cov = {m: [] for m in methods}
    for b in benches:
        rb = [r for r in rows if r["bench"] == b]
        if not rb:
            continue
        cells = []
        n = 0
        for m in methods:
            e = np.concatenate([r["abs_err"] for r in rb if r["method"] == m])
            c = np.concatenate([r["covered"] for r in rb if r["method"] == m])
            tot[m].append(e)
            cov[m].append(c)
            n = len(e)
            ok = np.isfinite(e)
            fail = "" if ok.all() else f" ({np.mean(~ok):.0%} failed)"
            cells.append(f"{100 * np.nanmean(e):6.2f} / {np.mean(c[ok]):4.0%}{fail}".rjust(22 + len(fail)))
        print(f"{b:<12}{n:>7}{''.join(cells)}")
    print()
    for m in methods:
        e, c = np.concatenate(tot[m]), np.concatenate(cov[m])
        ok = np.isfinite(e)
        print(f"{m:<12} MAE {100 * e[ok].mean():6.2f} pts  median {100 * np.median(e[ok]):6.2f}  "
              f"80% coverage {c[ok].mean():.0%}  failed fits: {np.mean(~ok):.0%} of predictions")
    per_cut = {}
    for r in rows:
        per_cut.setdefault((r["cut"], r["method"]), []).append(r["abs_err"])
    print("\nMAE by cut (points): " + "; ".join(
        f"{c:.0e}: " + ", ".join(f"{m} {100 * np.nanmean(np.concatenate(per_cut[(c, m)])):.2f}" for m in methods
                                if (c, m) in per_cut) for c in cuts if (c, methods[0]) in per_cut))
    ours = "select" if "select" in methods else methods[-1]
    ratio = np.concatenate(tot[ours]).mean() / np.concatenate(tot["plain"]).mean()
    print(f"downstream_vs_sigmoid_mae_ratio: {ratio:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
