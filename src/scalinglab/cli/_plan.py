"""CLI: ``plan`` (compute-optimal sizing, budgets, target losses, inference-aware and data-constrained
plans, allocation rules), ``forecast data-wall|effective-compute`` and ``audit`` (notable models).

Library modules are imported inside the commands, so the CLI starts fast.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from ._common import JsonOpt, app, command, emit_json, out

_LAW_HELP = ("Preset to plan from (default chinchilla-epoch: Besiroglu et al. 2024's refit of Chinchilla, "
             "which reproduces the paper's own ~20 tokens/param and 70B/1.4T at 5.76e23 FLOPs; the printed "
             "Hoffmann constants, chinchilla-hoffmann, give ~93 tokens/param there — a known discrepancy).")


def _q(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    from ..units import parse_quantity

    return parse_quantity(str(text).strip().lstrip("$").replace("USD", "").strip(), what=what)


def _qty(v: Any) -> str:
    from ..units import format_quantity

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format_quantity(v) if abs(v) < 1e18 else f"{v:.3g}"


def _rng(pair, f=_qty) -> str:
    if not pair:
        return "—"
    lo, hi = pair
    if lo is not None and (hi is None or hi == math.inf):  # unbounded above (a target out of reach; JSON null)
        return f"{f(lo)} – ∞"
    return f(lo) if lo == hi else f"{f(lo)} – {f(hi)}"


def _f(fmt: str):
    return lambda v: "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else fmt.format(v)


# --------------------------------------------------------------------------------------------- rendering
def _table(t) -> None:
    """Print a table; when stdout is not a terminal (pipes, CI logs) use a wide fixed width, not 80."""
    if out.is_terminal:
        out.print(t)
        return
    old = out.width
    out.width = max(old, 160)
    try:
        out.print(t)
    finally:
        out.width = old


def _render_plan(d: dict, title: str, cost_note: str = "") -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column(f"{int(round(d.get('level', 0.8) * 100))}% interval", justify="right")
    iv = d.get("intervals", {})
    # the loss unit: the fitted table's, else the law's (nats/token for the presets); said in every plan
    unit = (d.get("loss_prediction") or {}).get("unit") or (d.get("assumptions") or {}).get("loss_unit")
    unit = unit if unit and "/" in str(unit) else None
    spec = [("training FLOPs", "flops", _f("{:.3g}")), ("parameters N", "N_opt", _qty),
            ("tokens D", "D_opt", _qty), ("tokens / param", "tokens_per_param", _f("{:.3g}")),
            ("predicted loss" + (f" ({unit})" if unit else ""), "loss", _f("{:.4f}"))]
    for label, key, f in spec:
        t.add_row(label, f(d[key]), _rng(iv.get(key), f) if key in iv else "")
    _table(t)
    c = d.get("cost")
    if c:
        out.print(f"cost: {_rng(c.get('gpu_hours'))} GPU-hours · {_rng(c.get('days'), _f('{:.3g}'))} days · "
                  f"${_rng(c.get('usd'))} on {c.get('n_gpus')}× {c.get('gpu')} at MFU {_rng(c.get('mfu'), _f('{:g}'))}"
                  + cost_note)
        if c.get("usd_with_flops_interval"):
            out.print(f"  over the {int(round(d.get('level', 0.8) * 100))}% FLOPs interval as well: "
                      f"{_rng(c.get('gpu_hours_with_flops_interval'))} GPU-hours · "
                      f"${_rng(c.get('usd_with_flops_interval'))}")
    inf = d.get("inference")
    co = d.get("compute_optimal")
    if inf and co and "lifetime_flops" in co:  # the headline is the inference-aware plan
        more = d.get("flops", 0.0) / co["flops"] - 1.0 if co.get("flops") else 0.0
        out.print(f"[bold]inference-aware[/] for a demand of {_qty(inf['inference_tokens'])} tokens at loss "
                  f"{inf['target_loss']:.4f}: {inf['overtraining_factor']:.3g}× over-trained; lifetime "
                  f"{inf['total_flops']:.3g} FLOPs vs {co['lifetime_flops']:.3g} — saves {inf['saving_fraction']:.1%}"
                  + ("; it spends the training budget on a smaller model, cheaper to serve, that reaches the loss "
                     f"of the compute-optimal model of {co['flops']:.3g} FLOPs"
                     if "budget_rule" in (d.get("assumptions") or {}) else
                     f"; it trains on {f'{more:.0%} more FLOPs than' if more < 1 else f'{more + 1:.3g}x'} the "
                     "compute given, to reach the loss of that "
                     "compute's optimal model with a smaller one, cheaper to serve" if more > 0.005 else ""))
        out.print(f"compute-optimal (ignoring inference): {_qty(co['N_opt'])} params on {_qty(co['D_opt'])} tokens "
                  f"({co['tokens_per_param']:.3g} tokens/param), {co['flops']:.3g} training FLOPs")
    elif inf:
        ico = inf["compute_optimal"]
        out.print(f"[bold]inference-aware[/] (demand {_qty(inf['inference_tokens'])} tokens, same loss "
                  f"{inf['target_loss']:.4f}): {_qty(inf['N'])} params on {_qty(inf['D_train'])} tokens "
                  f"({inf['tokens_per_param']:.3g} tokens/param, {inf['overtraining_factor']:.3g}× over-trained); "
                  f"lifetime {inf['total_flops']:.3g} FLOPs vs {ico['total_flops']:.3g} for "
                  f"{_qty(ico['N'])}/{_qty(ico['D_train'])} — saves {inf['saving_fraction']:.1%}")
    unc = d.get("unconstrained")
    if unc:
        line = (f"without the data limit: {_qty(unc['N_opt'])} params on {_qty(unc['D_opt'])} tokens "
                f"({unc['tokens_per_param']:.3g} tokens/param)")
        if "loss" in unc:
            line += f", loss {unc['loss']:.4f}"
        if "flops" in unc:
            line += f", {unc['flops']:.3g} FLOPs"
        out.print(line)
    dc = d.get("data_constrained")
    if dc:
        line = (f"data: {_qty(dc['unique_tokens'])} unique tokens → {dc['epochs']:.3g} epochs, effective "
                f"{_qty(dc['effective_tokens'])} tokens")
        if "effective_params" in dc:
            line += f", effective {_qty(dc['effective_params'])} params"
        if "loss_with_repetition" in dc:
            line += f", loss with repetition {dc['loss_with_repetition']:.4f}"
        out.print(line)
    moe = d.get("moe")
    if moe:
        out.print(f"MoE: {_qty(moe['active_params'])} active / {_qty(moe['total_params'])} total params; "
                  f"weights {moe['weights_memory_gb_bf16']:.3g} GB bf16, training state "
                  f"{moe['training_state_memory_gb']:.3g} GB")
    if co and "loss_gap" in co:
        out.print(f"compute-optimal at the same FLOPs: {_qty(co['N_opt'])} params on {_qty(co['D_opt'])} tokens, "
                  f"loss {co['loss']:.4f} (gap {co['loss_gap']:+.4f})")
    a = d.get("assumptions", {})
    pconv = str(a.get("params_convention") or "")
    own = f"N = {pconv} parameters; " if pconv and pconv not in ("total", "as in the law's data") else ""
    out.print(f"[dim]law {a.get('law')} ({a.get('law_source')}); {own}{a.get('flop_convention')}; "
              f"interval: {a.get('interval')}[/]")
    _render_warnings(d.get("warnings", []))


def _headline(d: dict) -> str:
    """What the plan's top-level numbers are: the plan for every constraint the user gave."""
    kinds = []
    if "lifetime_flops" in (d.get("compute_optimal") or {}):
        kinds.append("inference-aware")
    if "unconstrained" in d:
        kinds.append("data-constrained")
    return (" ".join(kinds) + " plan") if kinds else "plan"


def _render_warnings(warnings) -> None:
    for w in warnings:
        out.print(f"[yellow]warning:[/] {w}")


def _render_rules(rows: list[dict], flops: float, factor: float) -> None:
    from rich.table import Table

    t = Table(title=f"allocation rules at C = {flops:.3g} FLOPs (C = 6ND); growth for {factor:g}× compute",
              title_justify="left")
    for col in ("rule", "N", "D", "tok/param", "loss", "Δloss", f"N×{factor:g}", f"D×{factor:g}"):
        t.add_column(col, justify="left" if col == "rule" else "right", no_wrap=True)
    for r in rows:
        t.add_row(r["rule"], _qty(r["N"]), _qty(r["D"]), f"{r['tokens_per_param']:.3g}", f"{r['loss']:.4f}",
                  f"{r['loss_gap']:+.4f}", f"{r['ratio_params']:.2f}", f"{r['ratio_tokens']:.2f}")
    _table(t)
    for r in rows:
        if r["rule"] == "llama3":
            out.print(f"[dim]llama3: {r['caveat']}[/]")
        if r["rule"] == "kaplan":
            out.print(f"[dim]kaplan: {r['caveat']}[/]")


# --------------------------------------------------------------------------------------------- plan
@command("plan", help="Compute-optimal sizing with intervals and cost: give --compute FLOPs, --budget-usd, "
                      "--target-loss, or --params [--tokens]. Convention C = 6ND.")
def plan_cmd(
    compute: Annotated[str | None, typer.Option("--compute", "-C", help="Training budget in FLOPs (C = 6ND), "
                                                "e.g. 5.76e23.")] = None,
    budget_usd: Annotated[str | None, typer.Option("--budget-usd", help="Budget in US dollars, e.g. 5M: "
                                                   "converted to a FLOP range via --gpu/--gpus/--mfu and the "
                                                   "catalog's price range; plans at both ends.")] = None,
    target_loss: Annotated[float | None, typer.Option("--target-loss", help="Least compute that reaches this "
                                                      "loss (the law's unit, nats/token for Chinchilla).")] = None,
    params: Annotated[str | None, typer.Option("--params", "-N", help="Fixed model size (parameters): alone → "
                                               "compute-optimal tokens for it; with --tokens → its loss; with "
                                               "--target-loss → tokens needed.")] = None,
    tokens: Annotated[str | None, typer.Option("--tokens", "-D", help="Training tokens (with --params).")] = None,
    law: Annotated[str | None, typer.Option("--law", help=_LAW_HELP)] = None,
    fit: Annotated[str | None, typer.Option("--fit", help="A saved fit (fit.json from `scalinglab fit`): the "
                                            "loss interval is its calibrated prediction interval for an actual "
                                            "run, the others the spread of its bootstrap (or covariance) "
                                            "draws.")] = None,
    gpu: Annotated[str, typer.Option("--gpu", help="Accelerator from the hardware catalog.")] = "H100",
    gpus: Annotated[int, typer.Option("--gpus", help="Number of accelerators.")] = 1024,
    mfu: Annotated[str, typer.Option("--mfu", help="Model FLOPs utilisation, a value or range: 0.4, 0.3-0.5.")
                   ] = "0.3-0.5",
    price: Annotated[str | None, typer.Option("--price", help="USD per GPU-hour (a quote: a value or a range, "
                                              "e.g. 2.5 or 1.5-4); default: the catalog's indicative range.")
                     ] = None,
    inference_tokens: Annotated[str | None, typer.Option("--inference-tokens", help="Lifetime inference "
                                                         "demand in tokens (e.g. 2T; 0 = none): the plan becomes the "
                                                         "inference-aware optimum (Sardana et al. 2024), the "
                                                         "compute-optimal one is nested under compute_optimal.")] = None,
    unique_tokens: Annotated[str | None, typer.Option("--unique-tokens", help="Unique tokens available (e.g. "
                                                      "4T): the plan accounts for repeated data (Muennighoff et "
                                                      "al. 2023: effective data), with epochs and warnings; the "
                                                      "unlimited-data plan is nested under unconstrained.")] = None,
    active_ratio: Annotated[float | None, typer.Option("--active-ratio", help="MoE: active / total parameters "
                                                       "(compute from active, memory from total).")] = None,
    compare_rules: Annotated[bool, typer.Option("--compare-rules", help="Also show Kaplan vs Chinchilla vs "
                                                "Llama 3 vs the law's allocation.")] = False,
    level: Annotated[float, typer.Option("--level", help="Interval level (0.8 = 10th-90th percentile).")] = 0.8,
    draws: Annotated[int, typer.Option("--draws", help="Parametric draws for presets with standard errors.")
                     ] = 400,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the parametric draws.")] = 0,
    plot: Annotated[str | None, typer.Option("--plot", help="Also draw the plan: .png/.svg/.pdf, or .html "
                                             "for an interactive offline page.")] = None,
    json_: bool = JsonOpt,
) -> None:
    """Compute-optimal sizing with intervals and cost: give --compute FLOPs, --budget-usd, --target-loss,
    or --params [--tokens]. Convention C = 6ND. Exits with code 2 and one error line on bad input.
    """
    from .. import plan as P
    from .._errors import PlanError

    if law is not None and fit is not None:
        raise PlanError("give --law or --fit, not both")
    spec = P.resolve_law(fit if fit is not None else law, n_draws=draws, seed=seed)
    kwargs = dict(gpu=gpu, n_gpus=gpus, mfu=mfu, price_per_hour=price, level=level, inference_tokens=inference_tokens,
                  unique_tokens=unique_tokens, active_ratio=active_ratio)
    C = _q(compute, "--compute")
    result = P.plan(C, spec, budget_usd=_q(budget_usd, "--budget-usd"), target_loss=target_loss,
                    params=_q(params, "--params"), tokens=_q(tokens, "--tokens"), **kwargs)
    data = result.to_dict()
    if plot is not None:
        from ..report import save_plot

        data["plot"] = str(save_plot(result, plot))
    rules = None
    if compare_rules:
        flops = C if C is not None else (data["flops"][1] if isinstance(data["flops"], list) else data["flops"])
        rules = P.compare_rules(flops, spec).to_dict()
        data["rules"] = rules["rules"]
    if json_:
        emit_json(data)
        return
    if isinstance(result, P.BudgetPlan):
        out.print(f"[bold]${_qty(result.budget_usd)}[/] buys {result.flops_range[0]:.3g} – "
                  f"{result.flops_range[1]:.3g} FLOPs on {gpus}× {gpu} (MFU {mfu}, "
                  + (f"${price}/GPU-hour)" if price else "catalog price range)"))
        note = (f" (over every {'' if price else 'catalog '}price and MFU; at this end's own price and MFU it "
                "costs the "
                f"${_qty(result.budget_usd)} budget)")
        _render_plan(data["low"], f"{_headline(data['low'])}: low end (high price, low MFU)", note)
        _render_plan(data["high"], f"{_headline(data['high'])}: high end (low price, high MFU)", note)
    else:
        _render_plan(data, f"{_headline(data)} ({data['query']}) under {spec.name}")
    if rules:
        _render_rules(rules["rules"], rules["flops"], 10.0)


# --------------------------------------------------------------------------------------------- audit
@command("audit", help="Place the notable models on a law's compute-optimal frontier: under-trained, near "
                       "compute-optimal or over-trained (ratio of tokens/param to the optimum; 1/2 and 2).")
def audit_cmd(
    law: Annotated[str | None, typer.Option("--law", help=_LAW_HELP)] = None,
    fit: Annotated[str | None, typer.Option("--fit", help="A saved fit (fit.json).")] = None,
    under: Annotated[float, typer.Option("--under", help="Ratio below which a model is under-trained.")] = 0.5,
    over: Annotated[float, typer.Option("--over", help="Ratio above which a model is over-trained.")] = 2.0,
    json_: bool = JsonOpt,
) -> None:
    """Place the notable models on a law's compute-optimal frontier: under-trained, near compute-optimal or
    over-trained (ratio of tokens/param to the optimum; 1/2 and 2).
    """
    from rich.table import Table

    from ..plan import audit

    a = audit(fit if fit is not None else law, under=under, over=over)
    if json_:
        emit_json(a.to_dict())
        return
    t = Table(title=f"notable models vs the compute-optimal frontier of {a.law} (C = 6ND)", title_justify="left")
    for col in ("model", "N", "D", "C", "tok/param", "optimal tok/param", "ratio", "verdict", "loss",
                "optimal loss", "reach"):
        t.add_column(col, justify="left" if col in ("model", "verdict") else "right")
    colour = {"under-trained": "cyan", "over-trained": "magenta", "near compute-optimal": "green"}
    for r in a.rows:
        t.add_row(r["name"], _qty(r["active_params"]), _qty(r["tokens"]), f"{r['flops']:.3g}",
                  f"{r['tokens_per_param']:.3g}", f"{r['optimal_tokens_per_param']:.3g}", f"{r['ratio']:.3g}",
                  f"[{colour[r['verdict']]}]{r['verdict']}[/]", f"{r['loss']:.4f}", f"{r['optimal_loss']:.4f}",
                  "—" if r["reach"] is None else f"{r['reach']:.3g}x")
    _table(t)
    out.print(f"[dim]loss: the law's prediction at each model's N and D ({a.loss_unit}), not its measured loss; "
              "reach: times beyond the law's fitted N or D range[/]")
    if a.skipped:
        out.print(f"[dim]skipped (no token count): {', '.join(a.skipped)}[/]")
    _render_warnings(a.warnings)


# --------------------------------------------------------------------------------------------- forecast
forecast_app = typer.Typer(help="Trend forecasts: the data wall and effective compute (published trends, "
                                "all overridable).", no_args_is_help=True)
app.add_typer(forecast_app, name="forecast")


def _sub(*args, **kwargs):
    """``@command`` on the ``forecast_app`` sub-app."""
    return command(*args, on=forecast_app, **kwargs)


@_sub("data-wall", help="Year the largest training set reaches the stock of public text (Villalobos et al. "
                        "2024: 2026-2032).")
def data_wall_cmd(
    stock: Annotated[str, typer.Option("--stock", help="Usable stock of text in tokens (default 300T, "
                                       "Villalobos et al. 2024).")] = "300T",
    stock_low: Annotated[str | None, typer.Option("--stock-low", help="Low end of the stock (default: --stock / "
                                                  "3, the published spread: 100T for 300T).")] = None,
    stock_high: Annotated[str | None, typer.Option("--stock-high", help="High end of the stock (default: "
                                                   "--stock × 10/3: 1000T for 300T).")] = None,
    current_tokens: Annotated[str, typer.Option("--current-tokens", help="Largest training set now.")] = "15T",
    current_year: Annotated[int, typer.Option("--current-year", help="Year of --current-tokens.")] = 2024,
    method: Annotated[str, typer.Option("--method", help="compute (datasets ∝ C^0.5, compute ×4-5/yr) or "
                                        "historical (~3-3.7×/yr).")] = "compute",
    growth: Annotated[float | None, typer.Option("--growth", help="Override: dataset growth per year.")] = None,
    json_: bool = JsonOpt,
) -> None:
    """Year the largest training set reaches the stock of public text (tokens), with a range. Exits with code 2 and one error line on bad input."""
    from ..plan import data_wall
    from ..plan.forecast import STOCK_RANGE_FACTORS

    S = _q(stock, "--stock")
    lo = S * STOCK_RANGE_FACTORS[0] if stock_low is None else _q(stock_low, "--stock-low")
    hi = S * STOCK_RANGE_FACTORS[1] if stock_high is None else _q(stock_high, "--stock-high")
    f = data_wall(stock=S, stock_range=(lo, hi),
                  current_tokens=_q(current_tokens, "--current-tokens"), current_year=current_year,
                  method=method, growth=growth)
    if json_:
        emit_json(f.to_dict())
        return
    if f.current_tokens >= f.stock_tokens:
        out.print(f"[bold]data wall already reached[/]: the largest training set ({_qty(f.current_tokens)} tokens "
                  f"in {f.current_year}) is at least the stock given")
    out.print(f"[bold]data wall ≈ {f.year:.1f}[/] (range {f.year_range[0]:.1f} – {f.year_range[1]:.1f}; "
              f"published {f.published_range[0]}–{f.published_range[1]})")
    out.print(f"stock {_qty(f.stock_tokens)} tokens ({_qty(f.stock_range[0])}–{_qty(f.stock_range[1])}); largest "
              f"training set {_qty(f.current_tokens)} in {f.current_year}, growing ×{f.growth:.2f}/year "
              f"({f.growth_range[0]:.2f}–{f.growth_range[1]:.2f})")
    for s in f.scenarios:
        out.print(f"  {s['method']:10s} ×{s['growth_per_year']:.2f}/yr → {s['year']:.1f} "
                  f"({s['year_range'][0]:.1f}–{s['year_range'][1]:.1f}): {s['description']}")
    for k, v in f.sources.items():
        out.print(f"[dim]{k}: {v}[/]")


@_sub("effective-compute", help="Largest feasible run by year: hardware × spending × algorithmic efficiency, "
                                "and its predicted loss under a law.")
def effective_compute_cmd(
    base_flops: Annotated[str, typer.Option("--base-flops", help="Largest run in the base year (FLOPs).")
                          ] = "3.8e25",
    base_year: Annotated[int, typer.Option("--base-year")] = 2024,
    until: Annotated[int, typer.Option("--until", help="Last year to forecast.")] = 2030,
    hardware_doubling: Annotated[float, typer.Option("--hardware-doubling", help="Years for FLOP/$ to double "
                                                     "(2.07, Hobbhahn & Besiroglu 2022).")] = 2.07,
    spending_growth: Annotated[float, typer.Option("--spending-growth", help="Spending growth per year (2.4, "
                                                   "Cottier et al. 2024).")] = 2.4,
    algorithmic_halving: Annotated[float, typer.Option("--algorithmic-halving", help="Months for the compute "
                                                       "of a fixed loss to halve (8, Ho et al. 2024).")] = 8.0,
    law: Annotated[str | None, typer.Option("--law", help=_LAW_HELP)] = None,
    json_: bool = JsonOpt,
) -> None:
    """Largest feasible run by year (FLOPs): hardware × spending × algorithmic efficiency, and its
    predicted loss under a law. Exits with code 2 and one error line on bad input.
    """
    from rich.table import Table

    from .._errors import PlanError
    from ..plan import effective_compute

    if until < base_year:
        raise PlanError(f"--until ({until}) must not be before --base-year ({base_year})")
    f = effective_compute(years=range(base_year, until + 1), base_year=base_year,
                          base_flops=_q(base_flops, "--base-flops"), hardware_doubling_years=hardware_doubling,
                          spending_growth=spending_growth, algorithmic_halving_months=algorithmic_halving, law=law)
    if json_:
        emit_json(f.to_dict())
        return
    t = Table(title=f"effective compute of the largest feasible run (loss under {f.law})", title_justify="left")
    for col in ("year", "physical FLOPs", "algorithmic ×", "effective FLOPs", "N* (physical)", "D* (physical)",
                "loss", "loss range"):
        t.add_column(col, justify="right")
    for r in f.rows:
        t.add_row(str(r["year"]), f"{r['physical_flops']:.3g}", f"{r['algorithmic_multiplier']:.3g}",
                  f"{r['effective_flops']:.3g}", _qty(r["N_opt"]), _qty(r["D_opt"]), f"{r['loss']:.4f}",
                  f"{r['loss_range'][0]:.4f}–{r['loss_range'][1]:.4f}")
    _table(t)
    for n in f.notes:
        out.print(f"[dim]{n}[/]")
