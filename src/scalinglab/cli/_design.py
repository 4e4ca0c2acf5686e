"""CLI: ``design`` — the ladder (model sizes × token budgets) whose fitted law best predicts a target run for
a FLOP budget (``scalinglab.plan.design``). One library call; this module only parses and renders.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import JsonOpt, command, emit_json, out
from ._plan import _LAW_HELP, _qty, _render_warnings, _table


@command("design", help="Design the ladder that reaches a target: model sizes × token budgets whose fit "
                        "gives the narrowest calibrated interval at --target for the --budget FLOPs (C = 6ND), "
                        "checked by simulating the ladder under a prior law; writes the sweep spec with --out.")
def design_cmd(
    target: Annotated[str, typer.Option("--target", "-t", help="The run to predict: \"N=7B,D=140B\" "
                                        "(parameters, tokens), or one of them with C= (FLOPs).")],
    budget: Annotated[str, typer.Option("--budget", "-B", help="FLOPs the whole ladder may spend (C = 6ND), "
                                        "e.g. 1e20.")],
    max_width: Annotated[float | None, typer.Option("--max-width", help="Wanted relative width of the "
                                                    "interval, (hi - lo) / loss, e.g. 0.02; the answer says "
                                                    "whether it is met and what budget would meet it.")] = None,
    law: Annotated[str | None, typer.Option("--law", help="Prior law to simulate under. " + _LAW_HELP)] = None,
    fit: Annotated[str | None, typer.Option("--fit", help="A saved fit (fit.json) as the prior: its law and "
                                            "its residual noise.")] = None,
    noise: Annotated[float | None, typer.Option("--noise", help="Run-to-run noise of the loss, relative "
                                                "(log-space sd; default: the fit's, else 0.01).")] = None,
    level: Annotated[float, typer.Option("--level", help="Interval level (0.8 = 10th-90th percentile).")] = 0.8,
    gpu: Annotated[str, typer.Option("--gpu", help="Accelerator from the hardware catalog.")] = "H100",
    mfu: Annotated[str, typer.Option("--mfu", help="Model FLOPs utilisation, a value or range: 0.4, 0.3-0.5.")
                   ] = "0.3-0.5",
    replicates: Annotated[int, typer.Option("--replicates", min=1, help="Simulated ladders per candidate "
                                            "shape (the chosen one is scored on twice as many).")] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated noise.")] = 0,
    out_path: Annotated[str | None, typer.Option("--out", "-o", help="Write the runs as a sweep spec (TOML) "
                                                 "for `scalinglab run`.")] = None,
    name: Annotated[str, typer.Option("--name", help="Sweep name written in the spec.")] = "design",
    json_: bool = JsonOpt,
) -> None:
    """Design the ladder that reaches a target. Exits with code 2 and one error line on bad input."""
    from .._errors import PlanError
    from ..plan import design as D

    if law is not None and fit is not None:
        raise PlanError("give --law or --fit, not both")
    d = D.design(target, budget.strip(), law=fit if fit is not None else law, max_width=max_width, noise=noise,
                 level=level, gpu=gpu, mfu=mfu, replicates=replicates, seed=seed)
    data = d.to_dict()
    if out_path is not None:
        data["spec"] = str(D.write_sweep(d, out_path, name=name))
    if json_:
        emit_json(data)
        return
    from rich.table import Table

    t = d.target
    tbl = Table(title=f"{len(d.runs)} runs ({d.shape.label}) for target N={_qty(t.N)}, D={_qty(t.D)} "
                      f"({t.flops:.3g} FLOPs) under {d.law}", title_justify="left")
    for col in ("level", "N", "D", "tok/param", "FLOPs", "n_layer", "d_model"):
        tbl.add_column(col, justify="right")
    for r in d.runs:
        tbl.add_row(str(r.level), _qty(r.N), _qty(r.D), f"{r.D / r.N:.3g}", f"{r.flops:.3g}",
                    str(r.arch.get("n_layer", "")), str(r.arch.get("d_model", "")))
    _table(tbl)
    lo, hi = d.expected_interval
    out.print(f"expected {d.level:.0%} interval at the target: [bold]{lo:.4g} – {hi:.4g}[/] around "
              f"{d.expected_loss:.4g} (width {_share(d.width)} of the loss; {_share(d.width_spread[0])} – "
              f"{_share(d.width_spread[1])} over {d.replicates} simulations, which covered the run "
              f"{d.simulated_coverage:.0%} of the time)")
    dec = d.extrapolation_decades
    out.print(f"extrapolation: {dec:.2g} decades of compute beyond the largest run ({d.top_flops:.3g} FLOPs)"
              if dec >= 0.01 else f"extrapolation: none in compute (the largest run, {d.top_flops:.3g} FLOPs, "
                                  "reaches the target's)")
    c = d.cost
    if c:
        usd = c.get("usd") or [float("nan")] * 2
        out.print(f"cost: {d.flops:.3g} FLOPs · {_span(c['gpu_hours'], _qty)} {c.get('gpu')} GPU-hours · "
                  f"{_span(usd, lambda v: '$' + _qty(v))} at MFU {_span(c['mfu'], lambda v: f'{v:g}')}")
    if d.max_width is not None:
        verdict = "[green]met[/]" if d.meets_max_width else "[red]not met[/]"
        need = d.budget_for_max_width
        out.print(f"max-width {_share(d.max_width)}: {verdict}" + (f"; about {need:.3g} FLOPs would meet it"
                                                                     if need is not None else ""))
    if "spec" in data:
        out.print(f"sweep spec written to {data['spec']} (run it with `scalinglab run {data['spec']}`)")
    out.print(f"[dim]noise {d.noise:g} (relative); candidates ranked by interval score in simulation; "
              "FLOPs C = 6ND, N = total parameters[/]")
    _render_warnings(d.warnings)


def _share(v: float) -> str:
    """A relative width as a percentage: ``0.0213`` → ``2.13%``; past 1000 % in scientific notation."""
    return f"{v:.2%}" if v < 10 else f"{100 * v:.3g}%"


def _span(pair, fmt) -> str:
    """``lo – hi`` with ``fmt``, or one value when both ends are the same."""
    lo, hi = pair[0], pair[1]
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} – {fmt(hi)}"
