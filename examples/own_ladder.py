"""Your own ladder: train tiny GPTs on a CPU, fit a law, predict a 10x bigger run, then train it and check.

This is ``scalinglab demo`` explained. It trains a ladder of small GPTs (:mod:`scalinglab.runner`, the
only part of scalinglab that imports PyTorch) on a synthetic Markov source whose entropy is known
exactly, so the law's irreducible loss E has a true value to compare with. Each model size is trained
with a warmup-stable-decay schedule and several token budgets are read off cooldown branches; every run
lands in a SQLite run store. The ladder is fitted as ``scalinglab fit`` does by default (N = parameters
of the torch model, D = training tokens, loss in nats/token): internal backtests on the ladder choose
Chinchilla ``L(N, D) = E + A/N^alpha + B/D^beta`` (Huber or the asymmetric objective) or
``chinchilla-joint`` ``E + (A/N^alpha + B/D^beta)^gamma``, with bootstrap intervals; the loss of a target model with ≥ 10x the compute of the largest ladder run is
predicted with an 80 % interval, and then the target is trained and its measured loss compared with the
prediction (also in bits per byte). ``--fast`` uses the demo's quick preset (a few CPU-minutes);
without it the full preset (longer). Needs the ``runner`` extra (``pip install -e ".[runner]"``); without
PyTorch the example says so and returns ``{"skipped": ...}``.

Run: ``python examples/own_ladder.py [--fast] [--out DIR]``.
"""

from __future__ import annotations

import importlib.util

from _common import out_dir, run


def main(fast: bool = False, out=None) -> dict:
    if importlib.util.find_spec("torch") is None:
        msg = "PyTorch is not installed: pip install -e '.[runner]' to train the ladder"
        print(f"skipped: {msg}")
        return {"skipped": msg}
    from rich.console import Console

    from scalinglab.runner.demo import run_demo

    folder = out_dir(out) / "own_ladder"
    summary = run_demo(quick=fast, out=folder, console=Console(width=100), show_progress=False, fresh=True)
    pred, meas = summary["prediction"], summary["measured"]
    lo, hi = pred["interval_nats"]
    print(f"\nladder: {summary['ladder_points']} points; target {summary['target']['params']:,} params on "
          f"{summary['target']['tokens']:,} tokens ({summary['compute_multiple']:.1f}x the ladder's compute)")
    print(f"predicted {pred['loss_nats']:.4f} nats/token (80% {lo:.4f}-{hi:.4f}), measured "
          f"{meas['loss_nats']:.4f}: {'inside' if summary['inside_interval'] else 'OUTSIDE'} the interval "
          f"({summary['relative_error']:+.1%})")
    print(f"fitted E = {summary['fit']['E']:.4f} nats/token vs true entropy floor "
          f"{summary['true_entropy_floor_nats']:.4f}")
    figure = None
    try:
        import pandas as pd

        from scalinglab.fit import FitResult
        from scalinglab.report import loss_vs_compute

        runs = pd.read_csv(folder / "runs.csv")
        fig = loss_vs_compute(runs, FitResult.load(folder / "fit.json"))
        figure = folder.parent / "own_ladder.png"
        fig.savefig(figure, dpi=80 if fast else 120)
        print(f"figure: {figure}")
    except Exception as exc:  # noqa: BLE001 - the figure is optional; the numbers above are the result
        print(f"(no figure: {exc})")
    return {**{k: summary[k] for k in ("ladder_points", "compute_multiple", "inside_interval", "relative_error",
                                       "true_entropy_floor_nats")},
            "predicted": pred["loss_nats"], "interval": [lo, hi], "measured": meas["loss_nats"],
            "fitted_E": summary["fit"]["E"], "figure": None if figure is None else str(figure)}


if __name__ == "__main__":
    run(main, __doc__)
