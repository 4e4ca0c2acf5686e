"""Downstream accuracy forecasts on many tables x many compute cuts x every benchmark: the route vs the plain
sigmoid (issue 19 item 3; the accuracy-vs-compute part of the extrapolation harness).

Tables:

* synthetic families with known truth (accuracy vs training compute C in FLOPs, 40 models between 1e20 and
  1e25 FLOPs, four model families whose effective compute differs by a random offset, binomial noise from
  the benchmark's number of questions): ``base`` (two seeds), ``late`` (two seeds; late-rising, GSM8K-like
  tasks whose midpoint lies beyond most models), ``twostep`` (three seeds; accuracy a sigmoid of a task loss
  that follows a power law in compute: not a sigmoid in log C, steeper than one at the start of the rise),
  ``noisy`` (200 questions per benchmark) and ``families`` (two seeds; large family offsets, 0.4 decades). Benchmarks per table: ``mmlu`` (chance 0.25), ``hellaswag`` (0.25,
  saturates early), ``arc`` (0.25, slow), ``gsm8k`` (chance 0, late-rising) and ``winogrande`` (0.5, nearly
  flat);
* any public table given on the command line or in ``SCALINGLAB_DOWNSTREAM_TABLE`` (read by
  ``bench/downstream_public.py``'s loader: models with compute and benchmark accuracies, e.g. the
  Observational Scaling Laws repository's ``base_llm_benchmark_eval.csv``, not bundled); skipped when absent.

Cuts: every table is cut at the 50, 65 and 80 % quantiles of log compute (at least 8 models below and 3
above); each method is fitted on the models below the cut and predicts every model above it. Methods:

* ``plain``: ``chance + (1 - chance) sigmoid(k (log10 C - x0))`` by least squares (the baseline);
* ``route``: ``scalinglab.downstream.select_downstream(table, BENCH, floor=CHANCE)`` — the library's
  downstream default (``scalinglab downstream``): the plain-form sigmoid (floor fixed at chance, ceiling 1,
  a weak one-sided slope prior) kept unless a fitted-ceiling sigmoid (or, with a task-loss column, the
  two-step form) beats it in the internal backtests at every cut and by a margin; an admitted challenger is
  stacked with the plain form, weighted by inverse squared backtest error (`stack_weights`);
* optional ``cli`` (``fit --law sigmoid --floor CHANCE``), ``sigmoid`` (`SigmoidPredictor`, ceiling
  fitted) and ``bounded[:SD]`` (the plain form with a slope prior of sd SD).

A cell is (table, cut, benchmark); its score is the mean absolute error over the held-out models. Printed:
per-table MAE of each method (accuracy points), the route/plain ratio per cell, and the share of cells where
the route is within 5 % of the plain sigmoid or better. The route's constants chosen on this harness — the
baseline's slope prior sd (``ROUTE_SLOPE_PRIOR_SD``: 1, 2, 4), the admission margin (``ROUTE_MARGIN``:
0.1, 0.2, 0.3) and the stack (``STACK_POWER``: weights by backtest error ** -1, ** -2, or a switch) — are
chosen leave-one-table-out with ``--lodo``: every cell's candidates (the plain form at each slope prior and
the fitted-ceiling sigmoid) are fitted once with their internal backtests, each variant of the rule is
applied to them by the library's own `stack_weights`, and for each table the variant with the largest share
of cells within 5 % on the OTHER tables (then the smallest worst ratio, then the lowest geometric-mean
ratio) scores that table; the out-of-sample share and MAE are printed.

Usage: ``python bench/extrapolation_downstream.py [TABLE.csv] [--methods plain,route,cli] [--lodo]
[--dump rows.json]``; ends with ``downstream_within_5pct_fraction: <x>`` (goal 1.0; with ``--lodo`` the
leave-one-table-out share).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

Z80 = 1.2815515655446004
TOLERANCE = 1.05
CUT_QUANTILES = (0.5, 0.65, 0.8)
#: route variants compared leave-one-table-out: (baseline slope prior sd, margin, stack power; None = switch)
LODO_VARIANTS = tuple((sd, m, pw) for sd in (1.0, 2.0, 4.0) for m in (0.1, 0.2, 0.3) for pw in (None, 1.0, 2.0))
#: benchmark -> (chance, ceiling, steepness per decade, midpoint log10 C, questions)
BENCHMARKS = {"mmlu": (0.25, 0.9, 1.2, 23.3, 1000), "hellaswag": (0.25, 0.95, 1.0, 21.3, 1000),
              "arc": (0.25, 0.85, 0.7, 22.8, 1000), "gsm8k": (0.0, 0.9, 1.6, 24.2, 1319),
              "winogrande": (0.5, 0.6, 0.8, 23.0, 1267)}


def _public():
    spec = importlib.util.spec_from_file_location("downstream_public", Path(__file__).with_name("downstream_public.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_table(kind: str, seed: int):
    """``(DataFrame with flops and one accuracy column per benchmark, {benchmark: chance})`` of a family."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = 40
    lc = np.sort(rng.uniform(20.0, 25.0, n))
    fam = rng.integers(0, 4, n)
    spread = 0.4 if kind == "families" else 0.15
    offset = rng.normal(0.0, spread, 4)[fam]           # effective compute differs by family (decades)
    out = {"flops": 10 ** lc}
    chance = {}
    for b, (lo, ce, k, x0, q) in BENCHMARKS.items():
        k = k * rng.uniform(0.8, 1.25)
        x0 = x0 + rng.uniform(-0.5, 0.5) + (1.0 if kind == "late" and b in ("gsm8k", "mmlu") else 0.0)
        ce = min(ce + rng.uniform(-0.05, 0.04), 0.99)
        z = lc + offset
        if kind == "twostep":  # task loss L = E + A C^-alpha, accuracy a sigmoid in L
            L = 1.0 + 10 ** (0.3 * (x0 - z))
            p = lo + (ce - lo) / (1.0 + np.exp(k * 2.5 * (L - 2.0)))
        else:
            p = lo + (ce - lo) / (1.0 + np.exp(-k * (z - x0)))
        nq = 200 if kind == "noisy" else q
        out[b] = rng.binomial(nq, np.clip(p, 0, 1)) / nq
        chance[b] = lo
    return pd.DataFrame(out), chance


def tables(argv_paths):
    """``{name: (DataFrame, {benchmark: chance})}``: the synthetic families and any readable public table."""
    tabs = {}
    for kind, seeds in (("base", (0, 1)), ("late", (2, 7)), ("twostep", (3, 8, 10)), ("noisy", (4,)),
                        ("families", (5, 9))):
        for s in seeds:
            tabs[f"{kind}-{s}"] = synthetic_table(kind, s)
    paths = list(argv_paths) or [p for p in [os.environ.get("SCALINGLAB_DOWNSTREAM_TABLE")] if p]
    for p in paths:
        if not Path(p).is_file():
            print(f"skipped public table {p}: not found")
            continue
        pub = _public()
        df, benches = pub.load_table(p)
        tabs[Path(p).stem] = (df, {b: pub.CHANCE.get(b.lower(), 0.0) for b in benches})
    return tabs


def predict(method: str, train, test, bench: str, chance: float):
    """Point predictions of ``method`` for the ``test`` models (NaN when it gives no forecast)."""
    from scalinglab import ScalingLabError

    lc_tr, lc_te = np.log10(train["flops"].to_numpy()), np.log10(test["flops"].to_numpy())
    y = train[bench].to_numpy()
    tab = train[["flops", bench]]
    C = test["flops"].to_numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "plain":
                fn, _ = _public().plain_sigmoid(lc_tr, y, chance)
                return fn(lc_te)
            if method == "route":  # the library's downstream default (`scalinglab downstream`)
                from scalinglab.downstream import select_downstream

                return np.atleast_1d(select_downstream(tab, bench, floor=chance, bootstrap=0, calibrate=False)
                                     .predict(flops=C).value)
            if method == "cli":
                from scalinglab.downstream import fit_accuracy_sigmoid

                return np.atleast_1d(fit_accuracy_sigmoid(tab, y=bench, floor=chance, bootstrap=0,
                                                          calibrate=False).predict(flops=C).value)
            if method == "sigmoid":
                from scalinglab.downstream import SigmoidPredictor

                return np.atleast_1d(SigmoidPredictor(bench, floor=chance, bootstrap=0).fit(tab).predict(flops=C).value)
            if method.startswith("bounded"):  # the plain form (ceiling 1, floor = chance) + slope prior
                from scalinglab.downstream import SigmoidPredictor

                sd = method.partition(":")[2]
                kw = {} if not sd else {"slope_prior": None if sd == "none" else float(sd)}
                return np.atleast_1d(SigmoidPredictor(bench, floor=chance, ceiling=1.0, bootstrap=0, **kw).fit(tab)
                                     .predict(flops=C).value)
    except ScalingLabError:
        return np.full(len(test), np.nan)
    raise SystemExit(f"unknown method {method!r}")


def components(train, test, bench: str, chance: float) -> dict:
    """The route's candidates in one cell, fitted once: ``{name: {"pred": held-out predictions, "per_cut":
    internal backtest errors, "cutoffs": their cuts}}`` for the plain form at each slope prior sd of
    `LODO_VARIANTS` (``bounded:SD``) and the fitted-ceiling sigmoid (``sigmoid``)."""
    from scalinglab import ScalingLabError
    from scalinglab.downstream import SigmoidPredictor, backtest_downstream
    from scalinglab.downstream.select import CEILING_SLOPE_PRIOR_SD, ROUTE_CUTOFF_FRACS

    tab = train[["flops", bench]]
    C = test["flops"].to_numpy()
    preds = {f"bounded:{sd:g}": SigmoidPredictor(bench, floor=chance, ceiling=1.0, slope_prior=sd, bootstrap=0)
             for sd in sorted({v[0] for v in LODO_VARIANTS})}
    preds["sigmoid"] = SigmoidPredictor(bench, floor=chance, slope_prior=CEILING_SLOPE_PRIOR_SD, bootstrap=0)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, pr in preds.items():
            try:
                val = np.atleast_1d(pr.fit(tab).predict(flops=C).value)
            except ScalingLabError:
                val = np.full(len(C), np.nan)
            errs, cuts = [], []
            for f in ROUTE_CUTOFF_FRACS:
                try:
                    errs.append(backtest_downstream(tab, pr, cutoff_frac=f)["mean_abs_error"])
                    cuts.append(f)
                except ScalingLabError:
                    continue
            out[name] = {"pred": val, "per_cut": errs, "cutoffs": cuts}
    return out


def variant_mae(row, variant) -> float:
    """MAE of one variant of the route's rule applied to a cell's fitted candidates (`stack_weights`)."""
    from scalinglab.downstream import stack_weights

    sd, margin, power = variant
    comp = row["_components"]
    base = f"bounded:{sd:g}"
    w = stack_weights({n: comp[n] for n in (base, "sigmoid")}, base, margin=margin, power=power)
    pred = sum(wt * comp[n]["pred"] for n, wt in w.items())
    e = np.abs(pred - row["_actual"])
    return float(np.mean(e)) if np.all(np.isfinite(e)) else float("inf")


def evaluate(tabs, methods, min_train=8, min_test=3, lodo=False):
    """One row per (table, cut, benchmark): the MAE of each method (accuracy units); with ``lodo`` also the
    fitted candidates of the route's rule (``_components``)."""
    rows = []
    for name, (df, chance) in tabs.items():
        lc = np.log10(df["flops"].to_numpy())
        for q in CUT_QUANTILES:
            cut = 10 ** np.quantile(lc, q)
            for b, ch in chance.items():
                d = df[np.isfinite(df[b])]
                tr, te = d[d["flops"] < cut], d[d["flops"] >= cut]
                if len(tr) < min_train or len(te) < min_test:
                    continue
                actual = te[b].to_numpy()
                row = {"table": name, "cut": q, "bench": b, "n_train": len(tr), "n_test": len(te)}
                for m in methods:
                    e = np.abs(predict(m, tr, te, b, ch) - actual)
                    row[m] = float(np.mean(e)) if np.all(np.isfinite(e)) else float("inf")
                if lodo:
                    row["_components"] = components(tr, te, b, ch)
                    row["_actual"] = actual
                    for v in LODO_VARIANTS:
                        row[_vname(v)] = variant_mae(row, v)
                rows.append(row)
    return rows


def _vname(v) -> str:
    return f"sd{v[0]:g}/m{v[1]:g}/" + ("switch" if v[2] is None else f"p{v[2]:g}")


def _score(rs, m):
    rat = np.array([r[m] / max(r["plain"], 1e-12) for r in rs])
    return (float(np.mean(rat <= TOLERANCE + 1e-9)), -float(rat.max()),
            -float(np.mean(np.log(np.maximum(rat, 1e-12)))))


def lodo(rows, names) -> float:
    """Leave-one-table-out: each table scored by the variant of the route's rule chosen on the other tables
    (largest share within 5 %, then smallest worst ratio, then lowest geometric-mean ratio); returns the
    held-out share of cells within 5 % of the plain sigmoid."""
    variants = [_vname(v) for v in LODO_VARIANTS]
    ok, ours, base = [], [], []
    print("\nleave one table out (the route's slope prior sd / margin / stack chosen on the other tables):")
    for t in names:
        test = [r for r in rows if r["table"] == t]
        if not test:
            continue
        best = max(variants, key=lambda m: _score([r for r in rows if r["table"] != t], m))
        rat = np.array([r[best] / max(r["plain"], 1e-12) for r in test])
        ok += list(rat <= TOLERANCE + 1e-9)
        ours += [r[best] for r in test]
        base += [r["plain"] for r in test]
        print(f"  {t:<24} chosen {best:<16} held-out within 5 %: {np.mean(rat <= TOLERANCE + 1e-9):.2f}, "
              f"mean ratio {rat.mean():.3f}, worst {rat.max():.3f}")
    print(f"  out of sample: within 5 % in {np.mean(ok):.3f} of {len(ok)} cells; MAE {100 * np.mean(ours):.2f} vs "
          f"plain {100 * np.mean(base):.2f} points (ratio {np.mean(ours) / np.mean(base):.3f})")
    return float(np.mean(ok))


def main(argv):
    methods = ["plain", "route"]
    paths = []
    dump = None
    do_lodo = False
    it = iter(argv)
    for a in it:
        if a == "--methods":
            methods = next(it).split(",")
        elif a == "--dump":
            dump = next(it)
        elif a == "--lodo":
            do_lodo = True
        else:
            paths.append(a)
    if "plain" not in methods:
        methods.insert(0, "plain")
    tabs = tables(paths)
    t0 = time.perf_counter()
    rows = evaluate(tabs, methods, lodo=do_lodo)
    if dump:
        import json

        Path(dump).write_text(json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]))
    print(f"{len(rows)} cells (table x cut x benchmark) over {len(tabs)} tables in {time.perf_counter() - t0:.0f} s; "
          f"cuts at the {', '.join(f'{q:.0%}' for q in CUT_QUANTILES)} quantiles of log compute\n")
    print(f"{'table':<12}{'bench':<12}" + "".join(f"{m:>10}" for m in methods) + f"{'route/plain by cut':>30}")
    for name in tabs:
        for b in tabs[name][1]:
            rs = [r for r in rows if r["table"] == name and r["bench"] == b]
            if not rs:
                continue
            mae = "".join(f"{100 * np.mean([r[m] for r in rs]):10.2f}" for m in methods)
            ratios = " ".join(f"{r['route'] / max(r['plain'], 1e-12):5.2f}" for r in rs) if "route" in methods else ""
            print(f"{name:<12}{b:<12}{mae}{ratios:>30}")
    for m in methods[1:]:
        r_m = np.array([r[m] / max(r["plain"], 1e-12) for r in rows])
        print(f"{m:<10} within 5 % of plain in {np.mean(r_m <= TOLERANCE + 1e-9):.2f} of cells; ratio median "
              f"{np.median(r_m):.3f}, worst {r_m.max():.2f}; MAE {100 * np.mean([r[m] for r in rows]):.2f} vs plain "
              f"{100 * np.mean([r['plain'] for r in rows]):.2f} points")
    if "route" not in methods:
        print("downstream_within_5pct_fraction: nan")
        return 0
    ok = [r["route"] <= TOLERANCE * r["plain"] + 1e-9 for r in rows]
    ratio = np.array([r["route"] / max(r["plain"], 1e-12) for r in rows])
    print("\nMAE over all cells (points): " + ", ".join(f"{m} {100 * np.mean([r[m] for r in rows]):.2f}"
                                                    for m in methods))
    print(f"route/plain MAE ratio per cell: median {np.median(ratio):.3f}, geometric mean "
          f"{np.exp(np.mean(np.log(np.maximum(ratio, 1e-12)))):.3f}, worst {ratio.max():.3f}")
    for name in tabs:
        sel = [o for o, r in zip(ok, rows, strict=True) if r["table"] == name]
        if sel:
            print(f"  {name:<12} within 5 %: {np.mean(sel):.2f} of {len(sel)} cells")
    worst = sorted(rows, key=lambda r: -r["route"] / max(r["plain"], 1e-12))[:5]
    print("worst cells: " + "; ".join(f"{r['table']}/{r['bench']}@{r['cut']:.0%} {r['route'] / r['plain']:.2f}"
                                      for r in worst))
    if do_lodo:
        from scalinglab.downstream.select import ROUTE_MARGIN, ROUTE_SLOPE_PRIOR_SD, STACK_POWER

        shipped = _vname((ROUTE_SLOPE_PRIOR_SD, ROUTE_MARGIN, STACK_POWER))
        gap = max(abs(r[shipped] - r["route"]) for r in rows)
        print(f"\nshipped rule {shipped} replayed from the fitted candidates vs the route itself: max |MAE "
              f"difference| {100 * gap:.3f} points")
        frac = lodo(rows, list(tabs))
        print(f"downstream_within_5pct_fraction: {frac:.4f}")
        return 0
    print(f"downstream_within_5pct_fraction: {np.mean(ok):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
