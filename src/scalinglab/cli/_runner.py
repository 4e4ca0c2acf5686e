"""CLI for the runner and the run store: ``scalinglab run``, ``scalinglab runs list|show|export``, ``scalinglab demo``.

torch is imported only inside ``run`` and ``demo`` (via ``scalinglab.runner``); ``runs ...`` needs only the
store (SQLAlchemy).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ._common import JsonOpt, app, command, emit_json, err, out

DEFAULT_STORE = "scalinglab-runs.db"
StoreOpt = Annotated[str | None, typer.Option(
    "--store", help="Run store: a SQLite file path or an SQLAlchemy URL (postgresql+psycopg://…). "
                    f"Default: $SCALINGLAB_STORE or ./{DEFAULT_STORE}.")]


def _store_location(store: str | None) -> str:
    return store or os.environ.get("SCALINGLAB_STORE") or DEFAULT_STORE


def _open_store(store: str | None, *, must_exist: bool = False):
    """The store ``--store`` (or $SCALINGLAB_STORE, or the default file) names; ``must_exist`` (read-only
    commands): one that exists, never a new file or new tables in a mistyped database."""
    from ..store import Store

    return Store(_store_location(store), create=not must_exist)


runs_app = typer.Typer(name="runs", help="Inspect and export the runs recorded in a store.",
                       no_args_is_help=True, add_completion=False)
app.add_typer(runs_app, name="runs")


def _runs_command(*args, **kwargs):
    """``@command`` on the ``runs_app`` sub-app."""
    return command(*args, on=runs_app, **kwargs)


def _fmt(v, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


def _fmt_extra(v) -> str:
    """An extra metric's value for display: numbers with 4 significant digits, strings as they are."""
    from rich.markup import escape

    return f"{v:.4g}" if isinstance(v, int | float) and not isinstance(v, bool) else escape(str(v))


@command("run", help="Train every run of a sweep spec that is not done yet; resume unfinished runs from "
                     "checkpoints. Exit codes: 0 every run of the sweep is done; 1 some failed (`scalinglab runs "
                     "list --status failed`); 2 bad input (the spec, the data, the store); 3 nothing failed here, "
                     "but runs another process holds (or left unfinished) are not done yet: rerun to finish them; "
                     "130 / 143 interrupted (Ctrl-C / SIGTERM).")
def run_cmd(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (.toml, .yaml/.yml or .json): a ladder, IsoFLOP grid or "
                                                   "run list.")],
    store: StoreOpt = None,
    executor: Annotated[str, typer.Option("--executor", help="Where runs execute: 'local' (this machine) or "
                                                             "'ray' (one Ray task per run).")] = "local",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel runs (local: processes; "
                                                                  "1 = in this process; ray: cap on runs "
                                                                  "in flight, 1 = no cap).")] = 1,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster: 'auto' (the cluster this "
                                                                  "machine joined), 'ray://host:10001', or "
                                                                  "unset for a new local Ray instance.")] = None,
    cpus_per_run: Annotated[float, typer.Option("--cpus-per-run", min=0, help="Ray: CPUs reserved per run.")] = 1.0,
    gpus_per_run: Annotated[float, typer.Option("--gpus-per-run", min=0, help="Ray: GPUs reserved per run.")] = 0.0,
    memory_per_run: Annotated[str | None, typer.Option("--memory-per-run", help="Ray: memory reserved per "
                                                                                "run, e.g. 8GiB.")] = None,
    max_retries: Annotated[int, typer.Option("--max-retries", min=0, help="Re-runs of a failed run: an external "
                                                                           "\\[trainer] that exits non-zero, times "
                                                                           "out or stalls (local and Ray); on "
                                                                           "Ray also a run whose worker died.")] = 3,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Checkpoint folder (default: "
                                                                   ".scalinglab-checkpoints beside a SQLite "
                                                                   "store's file; with a database URL, beside "
                                                                   "the spec).")] = None,
    device: Annotated[str, typer.Option("--device", help="'auto' (CUDA if present), 'cpu' or 'cuda'.")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the runs the spec expands to.")] = False,
    adaptive: Annotated[bool, typer.Option("--adaptive", help="After the spec's runs: suggest → train → refit "
                                                              "until the target's interval is narrower than "
                                                              "--max-width or --budget is spent.")] = False,
    target: Annotated[str | None, typer.Option("--target", help="Adaptive: 'N=…,D=…' (loss of a run there) or "
                                                                "'compute_optimal_N_at=C'.")] = None,
    budget: Annotated[str | None, typer.Option("--budget", help="Adaptive: training FLOPs the new runs may "
                                                                "spend, e.g. 1e13.")] = None,
    max_width: Annotated[float | None, typer.Option("--max-width", help="Adaptive: stop when the interval's "
                                                                        "width / value is at most this, e.g. "
                                                                        "0.02.")] = None,
    max_rounds: Annotated[int, typer.Option("--max-rounds", min=0, help="Adaptive: at most this many new "
                                                                        "runs.")] = 10,
    law: Annotated[str, typer.Option("--law", help="Adaptive: the law to fit.")] = "chinchilla",
    level: Annotated[float, typer.Option("--level", help="Adaptive: interval level.")] = 0.8,
    json_: bool = JsonOpt,
) -> None:
    """Train every run of a sweep spec that is not done yet; resume unfinished runs from checkpoints.

    Exit codes: 0 every run of the sweep is done; 1 some failed (`scalinglab runs list --status failed`); 2 bad
    input (the spec, the data, the store); 3 nothing failed here, but runs another process holds (or left
    unfinished) are not done yet: rerun to finish them; 130/143 interrupted (Ctrl-C/SIGTERM).
    """
    from ..runner.spec import load_spec, render_command

    sweep = load_spec(spec)
    if adaptive:  # scalinglab.runner.adaptive: suggest → train → refit
        from ..runner.adaptive import cli_adaptive
        from ..store import mask_url

        st = _open_store(store)
        res = cli_adaptive(sweep, st, target=target, budget=budget, max_width=max_width, max_rounds=max_rounds,
                           law=law, level=level, workdir=workdir, device=device, json_=json_, console=err, out=out)
        if json_:
            emit_json({**res.to_dict(), "store": mask_url(st.url)})
        return
    if dry_run:
        rows = [{"run_id": c.run_id, "name": c.name, "params": c.n_params(), "budgets_tokens": list(c.budgets),
                 "flops": c.flops_per_token() * c.tokens, "flops_convention": c.flops_convention, "lr": c.lr,
                 "batch_size": c.batch_size, "warmup_steps": c.warmup_steps, "schedule": c.schedule,
                 # what the built-in trainer trains: whole optimiser steps (one at least)
                 **({} if c.trainer else {"trained_tokens": [c.steps_for(b) * c.batch_tokens for b in c.budgets]}),
                 **({"command": render_command(c, run_dir="{run_dir}", resume="{resume}")} if c.trainer else {})}
                for c in sweep.runs]
        if json_:
            emit_json({"sweep": sweep.name, "kind": sweep.kind, "runs": rows})
        else:
            from rich.markup import escape

            for r in rows:
                trained = r.get("trained_tokens")  # a budget under one step trains a whole step: say so
                more = (f"  [yellow]trains D={trained} (whole optimiser steps)[/]"
                        if trained and any(t > 1.5 * b for t, b in zip(trained, r["budgets_tokens"], strict=True))
                        else "")
                out.print(f"{r['run_id']}  {r['name']}  N={r['params']:,}  D={r['budgets_tokens']}  "
                          f"C={r['flops']:.3g} ({r['flops_convention']})  lr={r['lr']:.2g}  batch={r['batch_size']}"
                          + more)
                if "command" in r:  # an external trainer: the exact argv it gets (no shell)
                    import shlex

                    out.print(f"    $ {escape(shlex.join(r['command']))}", soft_wrap=True)
        return
    from ..runner.datasets import default_cache_dir, prepare_sweep_data
    from ..runner.executor import default_workdir, run_sweep

    # tokenize and check user data first: a missing corpus or bad ids leave the store untouched
    workdir = workdir or default_workdir(_store_location(store), spec)  # a database URL: beside the spec
    prepare_sweep_data(sweep.runs, default_cache_dir(workdir))
    if executor == "local":  # a trainer not installed: one error before the store is created
        from ..runner.external import check_trainers_found

        check_trainers_found(sweep.runs, sweep.source)
    st = _open_store(store)
    ex = executor
    if executor == "ray":
        from ..runner.executor import get_executor

        ex = get_executor("ray", workers, address=address, num_cpus=cpus_per_run, num_gpus=gpus_per_run,
                          memory=memory_per_run, max_retries=max_retries)
        if address and st.dialect == "sqlite":
            err.print("[yellow]warning:[/] a SQLite store must be on a file system every Ray node shares; "
                      "prefer --store postgresql+psycopg://…")
    elif address is not None:
        from .._errors import InputError

        raise InputError("--address needs --executor ray")
    from ..runner.executor import Terminated, sigterm_interrupts

    if not json_:
        from rich.markup import escape

        err.print(f"checkpoints: {escape(str(workdir))}", highlight=False)
    try:
        with sigterm_interrupts():  # a scheduler's SIGTERM is handled as Ctrl-C
            results = run_sweep(sweep, st, executor=ex, workers=workers, workdir=workdir, device=device,
                                console=err, show_progress=not json_, max_retries=max_retries)
    except KeyboardInterrupt as exc:  # the runs go back to the queue with their checkpoints: say how to go on
        how = "interrupted (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        err.print(f"{how}: finished runs are kept in {st}; run the same command again to resume the "
                  "others from their last checkpoints")
        raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
    from ..runner.executor import EXIT_HELD, sweep_outcome

    counts = {s: sum(r.status == s for r in results) for s in ("done", "failed", "leased", "skipped")}
    outcome = sweep_outcome(sweep, results, st)  # every run once; held runs asked about again
    if json_:
        from ..store import mask_url

        emit_json({"sweep": sweep.name, "store": mask_url(st.url), "workdir": str(workdir), "runs": len(sweep.runs),
                   "already_done": outcome["already_done"], **counts,
                   "finished_elsewhere": outcome["finished_elsewhere"], "held": outcome["held"],
                   "results": [r.to_dict() for r in results]})
    else:
        out.print(f"sweep {sweep.name!r}: {len(sweep.runs)} runs — {outcome['trained']} trained now, "
                  f"{outcome['already_done']} already done, {outcome['finished_elsewhere']} finished by another "
                  f"process, {outcome['failed']} failed, {outcome['held']} held by another process"
                  + (f", {outcome['interrupted']} interrupted" if outcome["interrupted"] else "") + f". Store: {st}")
        if outcome["held"] and not outcome["failed"]:
            err.print(f"[yellow]not complete:[/] {outcome['held']} run{'s' * (outcome['held'] != 1)} of this "
                      "sweep another process holds (or left unfinished) are not done; exit code "
                      f"{EXIT_HELD}: rerun the same command to wait for them or train them")
    st.close()
    if outcome["failed"]:
        raise typer.Exit(1)
    if outcome["held"]:
        raise typer.Exit(EXIT_HELD)


@_runs_command("list")
def runs_list(
    store: StoreOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this status "
                                                                "(queued, running, done, failed).")] = None,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Only runs of this sweep.")] = None,
    json_: bool = JsonOpt,
) -> None:
    """List the runs in a store (one line each)."""
    st = _open_store(store, must_exist=True)
    rows = st.list_runs(status=status, sweep=sweep)
    keys = ("id", "name", "sweep", "status", "params", "param_convention", "tokens_planned", "flops_planned",
            "flops_convention", "final_loss_nats", "final_loss_bpb", "wall_seconds", "tokens_per_second",
            "attempts", "dataset")
    if json_:
        emit_json([{("run_id" if k == "id" else k): r.get(k) for k in keys} for r in rows])
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} runs in {st}")
    for c in ("run_id", "name", "status", "N", "D planned", "C planned", "loss nats", "bits/byte", "tok/s"):
        # the run id whole, on any terminal width (cut to '07ad4…' it could not be given to `runs show`): the
        # other columns wrap instead
        t.add_column(c, justify="right" if c not in ("run_id", "name", "status") else "left",
                     **({"no_wrap": True, "min_width": 16} if c == "run_id" else {}))
    for r in rows:
        t.add_row(r["id"], r["name"], r["status"], _fmt(r["params"], ","), _fmt(r["tokens_planned"], ","),
                  _fmt(r["flops_planned"], ".3g"), _fmt(r["final_loss_nats"]), _fmt(r["final_loss_bpb"]),
                  _fmt(r["tokens_per_second"], ",.0f"))
    out.print(t)


@_runs_command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix), or run name (sweep/name, or the "
                                               "name alone when unique).")],
    store: StoreOpt = None,
    json_: bool = JsonOpt,
) -> None:
    """Show one run: config, conventions, final evaluations and its loss curve."""
    st = _open_store(store, must_exist=True)
    run = st.find_run(run_id)
    if run is None:
        from .._errors import InputError

        raise InputError(f"no run {run_id!r} in {st}")
    evals = st.evaluations(run["id"])
    points = st.metrics(run["id"])
    curve = [m for m in points if m["split"] == "val"]
    extra_curve: dict[str, dict] = {}  # extra metric → its number of points and last value (by step)
    for m in sorted(points, key=lambda m: m["step"]):
        for k, v in (m.get("extra") or {}).items():
            extra_curve[k] = {"points": extra_curve.get(k, {}).get("points", 0) + 1, "last": v, "step": m["step"]}
    problems = [g for g in st.logs(run["id"]) if g["level"] in ("warning", "error")]
    history = st.attempts(run["id"])
    if json_:
        emit_json({"run": run, "evaluations": evals, "metrics": curve, "logs": problems,
                   "attempt_history": history, "extra_curve_keys": sorted(extra_curve)})
        return
    out.print(f"[bold]{run['id']}[/]  {run['name']}  status={run['status']}  attempts={run['attempts']}")
    from rich.markup import escape

    for h in history:  # who trained it, when, and how each attempt ended (lost: worker died / lease expired)
        out.print(f"  attempt {h['attempt']}: {h['outcome']}  worker {escape(h['worker'])}  {h['started_at']} → "
                  f"{h['ended_at'] or '…'}" + (f"  resumed at step {h['resumed_from_step']}"
                                              if h["resumed_from_step"] else "")
                  # the reason only: the output tail is printed with the attempt's error line below
                  + (f"  ({escape(h['error'].splitlines()[0].removesuffix('; last output:'))})" if h["error"]
                     else ""))

    tails: list[str] = []
    for g in problems:  # failed attempts (external trainers: with the tail of their output, each tail once)
        head, _, tail = g["message"].partition("\n")
        out.print(f"  [red]{g['level']}[/] {g['at']}: {escape(head)}")
        if tail and tail in tails:
            out.print("    (the same last output as above)")
        elif tail:
            tails.append(tail)
            out.print(tail, markup=False, highlight=False)
    if run.get("error") and not any(run["error"] in g["message"] for g in problems):
        out.print(f"  [red]error:[/] {escape(run['error'])}")
    out.print(f"  data: {run['dataset']}")
    out.print(f"  N = {run['params']:,} params ({run['param_convention']}); by convention: "
              f"{run['params_by_convention']}")
    out.print(f"  FLOPs/token = {_fmt(run['flops_per_token'], '.4g')} ({run['flops_convention']}); planned "
              f"D = {_fmt(run['tokens_planned'], ',')} tokens, C = {_fmt(run['flops_planned'], '.3g')} FLOPs")
    cfg = run["config"] if isinstance(run["config"], dict) else {}
    out.print(f"  schedule={cfg.get('schedule')} lr={cfg.get('lr')} batch={cfg.get('batch_size')} seqs "
              f"warmup={cfg.get('warmup_steps')} steps seed={cfg.get('seed')}")
    for e in evals:
        out.print(f"  eval {e['branch'] or 'final'}: D={e['tokens']:,} tokens C={e['flops']:.3g} FLOPs  "
                  f"loss {e['loss_nats']:.4f} nats/token"
                  + (f" = {e['loss_bpb']:.4f} bits/byte" if e["loss_bpb"] is not None else ""))
        if e.get("extra"):  # other final evaluations (track.finish(..., hellaswag_acc=0.31)): run-table columns
            out.print("    also: " + ", ".join(f"{escape(k)} = {_fmt_extra(v)}" for k, v in sorted(e["extra"].items())))
    if curve:
        out.print(f"  loss curve: {len(curve)} validation points, last {curve[-1]['loss_nats']:.4f} nats/token at "
                  f"{curve[-1]['tokens']:,} tokens")
    if extra_curve:  # other metrics logged along the curve (track.log(..., grad_norm=...), metrics_regex groups)
        out.print("  extra curve metrics: " + ", ".join(
            f"{escape(k)} ({c['points']} points, last {_fmt_extra(c['last'])} at step {c['step']:,})"
            for k, c in sorted(extra_curve.items())))
    env = run.get("environment") if isinstance(run.get("environment"), dict) else {}
    if run.get("tokens_per_second"):  # throughput (built-in: MFU on a GPU the hardware catalog knows)
        out.print(f"  throughput: {run['tokens_per_second']:,.0f} tokens/s, {_fmt(run['flops_per_second'], '.3g')} "
                  f"FLOP/s" + (f", MFU {env['mfu']:.1%}" if env.get("mfu") else "")
                  + (f" on {env.get('gpu') or env.get('device')}" if env.get("device") else ""))
    if env.get("trainer") == "external":
        out.print(f"  trainer: {' '.join(env.get('command', []))}; reported by the trainer: {env.get('reported')}")
        for path in env.get("output_logs", []):  # everything each attempt printed (the store keeps a tail)
            out.print(f"  output: {escape(path)}")


@_runs_command("export")
def runs_export(
    store: StoreOpt = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the run table here, in the "
                                                                       "format its extension names (.csv, .tsv, "
                                                                       ".parquet, .json, .jsonl, .xlsx).")] = None,
    per_checkpoint: Annotated[bool, typer.Option("--per-checkpoint", help="Add one row per validation eval "
                                                                          "of finished runs.")] = False,
    curves: Annotated[bool, typer.Option("--curves", help="Export the loss curves instead: one row per logged "
                                                          "point (train and val), with the extra metrics "
                                                          "(grad_norm, ...) as columns.")] = False,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Only runs of this sweep (a store shared by "
                                                              "several sweeps exports them all).")] = None,
    json_: bool = JsonOpt,
) -> None:
    """Export the run table that `scalinglab fit` reads (params, tokens, flops, loss, ..., and one column per
    extra final evaluation such as an accuracy), or with --curves the loss curves."""
    st = _open_store(store, must_exist=True)
    if output is None and not json_:
        output = Path("curves.csv" if curves else "runs.csv")
    df = st.curves_frame(sweep=sweep) if curves else st.to_frame(per_checkpoint=per_checkpoint, sweep=sweep)
    by_status = st.status_counts(sweep=sweep)  # the run table holds finished runs only: say what it left out
    if sweep is not None and len(df) == 0 and not by_status.get("done"):
        from .._errors import InputError

        names = st.sweeps()
        raise InputError(f"no finished run of sweep {sweep!r} in {st} (sweeps: {', '.join(names) or 'none'})")
    if output is not None:
        from ..data import write_frame

        write_frame(df, output)
    # the curves hold every run, finished or not: nothing is left out of them
    left_out = {} if curves else {s: n for s, n in by_status.items() if s != "done" and n}
    if json_:
        emit_json({"path": None if output is None else str(output), "rows": len(df), "left_out": left_out,
                   "runs": df.to_dict(orient="records")})
    else:
        out.print(f"wrote {len(df)} rows to {output} (loss in nats/token; loss_bpb in bits/byte)")
        if left_out:  # how to list each status left out (a running run is not a failed one)
            only = f" --sweep {sweep}" if sweep else ""
            how = " and ".join(f"`scalinglab runs list --status {s}{only}`" for s in left_out)
            out.print("left out: " + ", ".join(f"{n} {s} run{'s' * (n != 1)}" for s, n in left_out.items())
                      + f" (not finished; {how} list{'s' * (len(left_out) == 1)} "
                      + ("it" if sum(left_out.values()) == 1 else "them") + ")")
        sweeps = sorted(df["sweep"].dropna().astype(str).unique()) if "sweep" in df.columns else []
        if sweep is None and len(sweeps) > 1:  # one table of several studies: fit would pool them
            err.print(f"[yellow]warning:[/] the store holds {len(sweeps)} sweeps ({', '.join(sweeps)}), exported "
                      f"together; --sweep {sweeps[0]} keeps one")


@command("demo")
def demo_cmd(
    quick: Annotated[bool, typer.Option("--quick", help="A < 1 minute version (tiny ladder).")] = False,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the store, runs.csv, fit.json, "
                                                        "summary.json and report.html.")] = Path("scalinglab-demo"),
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from an empty store instead of resuming.")] = False,
    data: Annotated[str, typer.Option("--data", help="'markov': synthetic source with a known entropy rate "
                                                     "(default); 'text': the bundled public-domain English "
                                                     "(no known floor; tiny models fit it less well).")] = "markov",
    emergence: Annotated[bool, typer.Option("--emergence", help="Also train the toy emergence ladder (~1 min): "
                                                              "exact match looks sharp, token accuracy and the "
                                                              "answer's log-probability smooth.")] = False,
    json_: bool = JsonOpt,
) -> None:
    """Train a small ladder on a CPU, fit a scaling law, predict a 10x bigger run, train it, compare."""
    from ..runner.demo import run_demo

    if data not in ("markov", "text"):
        from .._errors import InputError

        raise InputError(f"--data must be 'markov' or 'text', got {data!r}")
    summary = run_demo(quick=quick, out=out_dir, fresh=fresh, console=err if json_ else out,
                       show_progress=True, data=data)
    if emergence:
        from ..runner.demo import run_emergence_demo

        summary["emergence"] = run_emergence_demo(out=out_dir, console=err if json_ else out,
                                                  n_examples=300 if quick else None)
    if json_:
        emit_json(summary)
