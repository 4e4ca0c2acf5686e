"""Ladder design by simulation: does `scalinglab design`'s ladder keep its interval's promise, and is it
narrower than a log-uniform ladder of the same FLOPs?

For each synthetic family with known truth (Epoch's Chinchilla refit and a law with other constants), the
design for a 7B-parameter / 140B-token target (5.88e21 FLOPs) on a 1e20-FLOP budget is made on seeds 0..,
then the designed ladder and a log-uniform ladder of equal cost (8 sizes over 1.5 decades × 1/3, 1, 3 times
the compute-optimal tokens per parameter) are simulated on fresh seeds (1000..) with 1 % run noise and fitted
with the default `fit`: 80 % interval coverage of a simulated run at the target, median relative width, mean
interval score (Gneiting & Raftery 2007), and the ratio of the design's width to the log-uniform's.

Usage: ``python bench/design.py [seeds]`` (default 40). Ends with ``design_width_ratio: <median over families>``
(< 1: the design is narrower at equal cost).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from scalinglab.laws import get_law
from scalinglab.plan._law import resolve_law
from scalinglab.plan.design import design, log_uniform_ladder, parse_target, simulate

FAMILIES = {
    "chinchilla-epoch": "chinchilla-epoch",
    "steep-data (E=2.2, A=300, B=900, a=0.30, b=0.33)":
        (get_law("chinchilla"), {"E": 2.2, "A": 300.0, "B": 900.0, "alpha": 0.30, "beta": 0.33}),
}


def main(seeds: int = 40) -> None:
    target = parse_target("N=7B,D=140B")
    ratios = []
    print(f"target N=7B, D=140B ({target.flops:.3g} FLOPs), budget 1e20 FLOPs, noise 1 %, 80 % intervals, "
          f"{seeds} fresh seeds")
    print(f"{'family':52s} {'ladder':44s} {'runs':>4s} {'FLOPs':>9s} {'cover':>6s} {'width':>7s} {'score':>7s}")
    for name, law in FAMILIES.items():
        spec = resolve_law(law, n_draws=0)
        t0 = time.perf_counter()
        d = design(target, 1e20, law=spec, noise=0.01, replicates=5, seed=0)
        t_design = time.perf_counter() - t0
        ours = np.array([[r.N, r.D] for r in d.runs])
        base = log_uniform_ladder(d.flops, spec, n_sizes=8, span_decades=1.5)
        rows = []
        for label, runs in ((f"design: {d.shape.label}", ours), ("log-uniform 8 sizes / 1.5 dec x 3", base)):
            s = simulate(runs, target, spec, noise=0.01, replicates=seeds, seed=1000)
            rows.append(s)
            print(f"{name[:52]:52s} {label[:44]:44s} {len(runs):4d} {np.sum(6 * runs[:, 0] * runs[:, 1]):9.3g} "
                  f"{s.coverage:6.2f} {s.median_width:7.3f} {s.interval_score:7.3f}")
        ratio = rows[0].median_width / rows[1].median_width
        ratios.append(ratio)
        print(f"{'':52s} width ratio design / log-uniform: {ratio:.2f}; interval-score ratio "
              f"{rows[0].interval_score / rows[1].interval_score:.2f}; design took {t_design:.1f} s; "
              f"expected width {d.width:.3f}, simulated coverage {d.simulated_coverage:.2f}")
    print(f"design_width_ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
