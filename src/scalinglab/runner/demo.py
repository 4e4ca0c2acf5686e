"""``scalinglab demo``: run small experiments on a CPU, predict a bigger one, then check the prediction.

1. Train a WSD ladder of small GPTs on the synthetic known-entropy Markov source (each size yields several
   token budgets through cooldown branches), recorded in a SQLite store.
2. Fit the ladder's (N, D, loss) points as ``scalinglab fit`` does by default (``fit_auto``: the forecast
   stack chooses Chinchilla ``L(N, D) = E + A/N^alpha + B/D^beta`` with Huber or the asymmetric objective,
   or ``chinchilla-joint``, by internal backtests), with bootstrap parameter intervals and the calibrated
   prediction interval. On the full demo's ladder the backtests pick ``chinchilla-joint``: its 80 %
   interval for the target is about 2.4x narrower than Chinchilla-Huber's, whose small backtest cuts
   (10..18 runs for 5 parameters) taught its calibration a drift the 20-run fit does not have.
3. Predict the loss of a target model with at least 10x the compute of the largest ladder run, with an 80 %
   prediction interval and its extrapolation reach.
4. Train that target model and print prediction ± interval vs measured (nats/token and bits/byte), and the
   fitted E vs the source's true entropy floor.
5. Write ``runs.csv``, ``fit.json``, ``summary.json`` and (if ``scalinglab.report`` is available) an HTML
   report into the output folder.

``data="text"`` runs the same recipe on the bundled public-domain English instead (bytes; no known floor).
Models this small, trained for a minute, are far from their text asymptote: expect a wide interval.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

__all__ = ["run_demo", "DEMO_PRESETS"]

#: ladder and target per mode. Sizes are (n_layer, d_model); budgets are training tokens (WSD branches).
DEMO_PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "data": {"name": "markov", "alphabet": 64, "order": 1, "support": 8, "seed": 0},
        "seq_len": 64,
        "sizes": [(1, 16), (2, 16), (2, 24), (2, 32), (3, 40)],
        "budgets": [40_000, 80_000, 160_000, 320_000],
        "target": (4, 64),
        "compute_multiple": 10.0,
        "eval_every": 100,
        "eval_windows": 64,
        "bootstrap": 200,
    },
    "quick": {
        "data": {"name": "markov", "alphabet": 64, "order": 1, "support": 8, "seed": 0,
                 "train_tokens": 1_000_000, "val_tokens": 65_536},
        "seq_len": 32,
        "sizes": [(1, 8), (1, 16), (2, 16)],
        "budgets": [12_000, 24_000, 48_000],
        "target": (2, 32),
        "compute_multiple": 10.0,
        "eval_every": 50,
        "eval_windows": 32,
        "bootstrap": 50,
    },
    "text": {
        "data": {"name": "text"},
        "seq_len": 64,
        "sizes": [(1, 16), (2, 16), (2, 24), (2, 32), (3, 40)],
        "budgets": [20_000, 40_000, 80_000, 160_000],
        "target": (4, 64),
        "compute_multiple": 10.0,
        "eval_every": 100,
        "eval_windows": 128,
        "bootstrap": 200,
    },
}


def _arch(n_layer: int, d_model: int, vocab: int, seq_len: int) -> dict:
    return {"n_layer": n_layer, "d_model": d_model, "n_heads": max(1, d_model // 8), "vocab_size": vocab,
            "seq_len": seq_len}


def _specs(p: dict, mode: str) -> tuple[dict, dict]:
    """(ladder spec, target spec) as sweep-spec dicts."""
    from .spec import expand_spec

    defaults = {"data": p["data"], "seq_len": p["seq_len"], "schedule": "wsd", "eval_every": p["eval_every"],
                "eval_windows": p["eval_windows"], "seed": 0}
    ladder = {"sweep": {"name": f"demo-{mode}-ladder", "kind": "list"}, "defaults": defaults,
              "runs": [{"arch": {"n_layer": L, "d_model": d, "n_heads": max(1, d // 8)}, "budgets": p["budgets"]}
                       for L, d in p["sizes"]]}
    sweep = expand_spec(ladder)
    c_max = max(cfg.flops_per_token() * cfg.steps_for(cfg.tokens) * cfg.batch_tokens for cfg in sweep.runs)
    L, d = p["target"]
    probe = expand_spec({"defaults": defaults, "runs": [{"arch": {"n_layer": L, "d_model": d,
                                                                  "n_heads": max(1, d // 8)}, "tokens": 1000}]})
    fpt = probe.runs[0].flops_per_token()
    tokens = int(math.ceil(p["compute_multiple"] * c_max / fpt))
    target = {"sweep": {"name": f"demo-{mode}-target", "kind": "list"}, "defaults": defaults,
              "runs": [{"arch": {"n_layer": L, "d_model": d, "n_heads": max(1, d // 8)}, "tokens": tokens}]}
    return ladder, target


def run_demo(*, quick: bool = False, out: str | Path = "scalinglab-demo", console: Any = None,
             show_progress: bool = True, fresh: bool = False, data: str = "markov") -> dict:
    """Run the demo end to end; returns the summary dict (also written to ``out/summary.json``)."""
    from rich.console import Console
    from rich.table import Table

    from ..fit import fit_auto
    from ..store import Store
    from .corpus import make_source
    from .executor import run_sweep
    from .spec import expand_spec

    console = console or Console(emoji=False)
    mode = "quick" if quick else ("text" if data == "text" else "full")
    p = DEMO_PRESETS[mode]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "runs.db"
    if fresh:
        for f in out.glob("runs.db*"):
            f.unlink()
    store = Store(db)
    t_start = time.perf_counter()
    src = make_source(p["data"])
    floor = src.min_window_loss(p["seq_len"])
    console.print(f"[bold]scalinglab demo[/] ({mode}): data = {src.description}")
    console.print(f"  store: {db}   (rerun to resume; finished runs are skipped)")

    ladder_spec, target_spec = _specs(p, mode)
    ladder, target = expand_spec(ladder_spec), expand_spec(target_spec)
    console.print(f"[bold]1. ladder[/]: {len(ladder.runs)} sizes × {len(p['budgets'])} token budgets "
                  f"(WSD cooldown branches)")
    run_sweep(ladder, store, console=console, show_progress=show_progress)
    runs = store.to_frame(sweep=ladder.name)
    if len(runs) < 5:
        raise RuntimeError(f"the ladder produced only {len(runs)} finished points")

    # the default fit of `scalinglab fit`: law and objective chosen by internal backtests (fit/_lawstack.py)
    fr, choice = fit_auto(runs, bootstrap=p["bootstrap"], seed=0)
    console.print(f"[bold]2. fit[/]: L(N, D) = {fr.law.formula} ({fr.law.name}, {fr.loss.get('name')}) on "
                  f"{len(runs)} points, {p['bootstrap']} bootstrap resamples; chosen by backtests on the ladder: "
                  f"{choice['reason']}")
    tcfg = target.runs[0]
    N_t = tcfg.n_params()
    D_t = tcfg.steps_for(tcfg.tokens) * tcfg.batch_tokens
    C_t = tcfg.flops_per_token() * D_t
    c_ladder = float(runs["flops"].max())
    pred = fr.predict(N=N_t, D=D_t, level=0.8, warn=False)
    lo, hi = (float(v) for v in pred.interval)
    console.print(f"[bold]3. predict[/]: target N = {N_t:,} params, D = {D_t:,} tokens, C = {C_t:.3g} FLOPs "
                  f"({C_t / c_ladder:.1f}x the largest ladder run): {float(pred.value):.4f} nats/token, "
                  f"80% interval [{lo:.4f}, {hi:.4f}]")
    for w in getattr(pred, "warnings", ()) or ():
        console.print(f"  [yellow]note:[/] {w}")
    console.print("[bold]4. train the target[/] to check")
    res = run_sweep(target, store, console=console, show_progress=show_progress)
    tframe = store.to_frame(sweep=target.name)
    measured = float(tframe["loss"].iloc[-1]) if len(tframe) else (res[0].final_loss_nats if res else math.nan)

    inside = lo <= measured <= hi
    value = float(pred.value)
    E = float(fr.params["E"])
    table = Table(title="Prediction vs measured (validation loss of the target model)")
    for col in ("", "nats/token", "bits/byte"):
        table.add_column(col, justify="right" if col else "left")
    bpb = src.bits_per_byte
    table.add_row("predicted", f"{value:.4f}", f"{bpb(value):.4f}")
    table.add_row("80% interval", f"[{lo:.4f}, {hi:.4f}]", f"[{bpb(lo):.4f}, {bpb(hi):.4f}]")
    table.add_row("measured", f"{measured:.4f}", f"{bpb(measured):.4f}")
    table.add_row("error", f"{measured - value:+.4f} ({(measured - value) / measured:+.1%})", "")
    table.add_row("fitted E", f"{E:.4f}", f"{bpb(E):.4f}")
    if floor is not None:
        table.add_row("true entropy floor", f"{floor:.4f}", f"{bpb(floor):.4f}")
    console.print(table)
    verdict = "[green]inside[/]" if inside else "[red]outside[/]"
    console.print(f"measured loss is {verdict} the 80% prediction interval; extrapolation: "
                  f"{C_t / c_ladder:.1f}x compute, {N_t / float(runs['params'].max()):.1f}x params, "
                  f"{D_t / float(runs['tokens'].max()):.1f}x tokens beyond the ladder")

    summary = {
        "mode": mode, "data": src.description, "store": str(db),
        "law": fr.law.name, "objective": fr.loss.get("name"), "law_choice": choice.get("reason"),
        "fit": {k: float(v) for k, v in fr.params.items()},
        "fit_intervals": {k: [float(a), float(b)] for k, (a, b) in fr.intervals.items()},
        "ladder_points": int(len(runs)), "ladder_max_flops": c_ladder,
        "target": {"params": int(N_t), "tokens": int(D_t), "flops": float(C_t), "run_id": tcfg.run_id},
        "compute_multiple": C_t / c_ladder,
        "prediction": {"loss_nats": value, "interval_nats": [lo, hi], "level": 0.8,
                       "loss_bpb": bpb(value), "interval_bpb": [bpb(lo), bpb(hi)]},
        "measured": {"loss_nats": measured, "loss_bpb": bpb(measured)},
        "prediction_warnings": list(getattr(pred, "warnings", ()) or ()),
        "inside_interval": bool(inside), "relative_error": (measured - value) / measured,
        "true_entropy_floor_nats": floor, "true_entropy_floor_bpb": None if floor is None else bpb(floor),
        "fitted_E_bpb": bpb(E), "seconds": time.perf_counter() - t_start,
    }
    # the run table the fit read (the ladder); the check run, trained after the prediction, in its own file
    runs.to_csv(out / "runs.csv", index=False)
    tframe.to_csv(out / "target.csv", index=False)
    try:
        fr.to_json(out / "fit.json")
    except Exception:  # pragma: no cover - optional artefact
        pass
    report_path = None
    try:
        from ..report import write_report

        curves = [{"run_id": m["run_id"], "tokens": m["tokens"], "step": m["step"], "loss": m["loss_nats"],
                   "branch": m["branch"]} for m in store.metrics() if m["split"] == "val"]
        import pandas as pd

        # the ladder the fit was made on (its cooldown branches one row each, as fitted: not checkpoints), the
        # target as the prediction it was; the measured target is in summary.json and target.csv
        report_path = write_report(runs, fit=fr, curves=pd.DataFrame(curves), path=out / "report.html",
                                   predictions=[f"N={N_t},D={D_t}"],
                                   title="scalinglab demo: small ladder → prediction → check")
        report_path = str(report_path or out / "report.html")
    except Exception as exc:  # the report is optional: never fail the demo because of it
        console.print(f"[yellow]note:[/] HTML report skipped ({type(exc).__name__}: {exc}); "
                      f"summary.json and runs.csv written instead")
    summary["report"] = report_path
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    console.print(f"wrote {out / 'summary.json'}, {out / 'runs.csv'} (the ladder), {out / 'target.csv'} (the check "
                  "run)" + (f", {report_path}" if report_path else "")
                  + f"  ({summary['seconds']:.0f} s)")
    store.close()
    return summary


def run_emergence_demo(*, out: str | Path = "scalinglab-demo", console: Any = None, seed: int = 0,
                       n_examples: int | None = None) -> dict:
    """Train the toy emergence ladder (:func:`scalinglab.runner.tasks.toy_emergence_ladder`, ~40-60 CPU-s)
    into ``out/toy-emergence.db`` and classify its metrics with
    :func:`scalinglab.emergence.analyze_emergence` against training compute (FLOPs, 6N·D).

    Returns a JSON-ready dict: ``params`` (parameters), per-checkpoint ``tokens`` (training tokens),
    ``flops``, ``exact_match`` / ``token_accuracy`` (fractions of 1), ``logprob`` (nats per answer),
    ``logprob_per_token`` (nats per answer token), and
    ``verdicts`` (metric → ``"sharp"`` / ``"smooth"``); also written to ``out/emergence.json``.

    Raises:
        InputError: as :func:`scalinglab.runner.tasks.train_task_ladder` (e.g. ``n_examples`` < 1).
    """
    from rich.console import Console
    from rich.table import Table

    from ..emergence import analyze_emergence, metrics_by_model
    from .tasks import TOY_EMERGENCE, toy_emergence_ladder

    console = console or Console(emoji=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console.print("[bold]toy emergence[/]: a tiny GPT learns a 16-token key→value lookup; "
                  "its checkpoints are scored on held-out examples")
    runs = toy_emergence_ladder(store=out / "toy-emergence.db", workdir=out / "toy-emergence-ckpt", seed=seed,
                                n_examples=n_examples)
    metrics = ["exact_match", "token_accuracy", "logprob"]
    table = metrics_by_model(runs, scale="flops")
    report = analyze_emergence(runs, scale="flops", metrics=metrics, bootstrap=100, seed=seed)
    L = int(TOY_EMERGENCE["task"]["pairs"])
    t = Table("training tokens", "FLOPs", "token accuracy", f"exact match ({L} tokens)",
              "log-prob per answer token (nats)")
    tokens = sorted(int(v) for v in runs["tokens"].unique())
    for d, (_, r) in zip(tokens, table.iterrows(), strict=True):
        t.add_row(f"{d:,}", f"{r['flops']:.3g}", f"{r['token_accuracy']:.3f}", f"{r['exact_match']:.3f}",
                  f"{r['logprob'] / L:.3f}")
    console.print(t)
    verdicts = {m: report.metrics[m].verdict for m in metrics}
    console.print("verdicts: " + ", ".join(f"{m} [bold]{v}[/]" for m, v in verdicts.items())
                  + f" — exact match ≈ token accuracy^{L} jumps, while token accuracy (frequent keys are "
                    "learned first, rare ones later) and the per-token log-probability of the answer improve "
                    "steadily")
    result = {"params": int(runs["params"].iloc[0]), "tokens": tokens,
              "flops": [float(v) for v in table["flops"]],
              **{m: [float(v) for v in table[m]] for m in metrics},
              "logprob_per_token": [float(v) / L for v in table["logprob"]], "answer_tokens": L,
              "verdicts": verdicts,
              "knee_exact_match_flops": report.metrics["exact_match"].knee_scale}
    (out / "emergence.json").write_text(json.dumps(result, indent=2, default=float))
    return result
