"""CLI: ``flops``, ``params``, ``cost``, ``models``, ``hardware`` (accounting and catalogs).

Library modules are imported inside the commands; ``flops``/``cost``/``params``/``hardware`` never import
pandas or scipy (``models`` does, for its table).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from ._common import JsonOpt, command, emit_json, out

_CONVENTION_NAMES = {"6N": "6ND"}


def _flops_str(value: float | None) -> str:
    """``3.14e23`` style (no '+', no padding), '—' for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = f"{value:.3g}"
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    return f"{mantissa}e{int(exp)}"


def _qty(value: float | None) -> str:
    from ..units import format_quantity

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format_quantity(value) if abs(value) < 1e18 else _flops_str(value)


def _range(pair: Any, fmt: str = "{:,.0f}") -> str:
    if pair is None:
        return "—"
    lo, hi = pair
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


@command("flops", help="Training FLOPs from N (params) and D (tokens), or from an architecture.")
def flops_cmd(
    tokens: Annotated[str, typer.Option("--tokens", "-D", help="Training tokens D, e.g. 300B, 1.4T.")],
    params: Annotated[str | None, typer.Option("--params", "-N", help="Parameters N, e.g. 175B (6ND only; "
                                              "taken from --arch when omitted).")] = None,
    convention: Annotated[str, typer.Option("--convention", "-c", help="6nd | kaplan | chinchilla | "
                                            "chinchilla-nonemb | palm | deepseek (all but 6nd need --arch).")
                          ] = "6nd",
    arch: Annotated[str | None, typer.Option("--arch", help="Architecture: a name (gpt2, gpt3-175b, "
                                             "llama2-7b, ...) and/or key=value pairs, e.g. n_layer=96,"
                                             "d_model=12288,n_heads=96,vocab=50257,seq=2048.")] = None,
    param_convention: Annotated[str | None, typer.Option("--param-convention", help="Which N the N-based "
                                                         "conventions use: total, non_embedding, with_head, "
                                                         "active, ... (defaults per convention).")] = None,
    json_: bool = JsonOpt,
) -> None:
    """Training FLOPs from N (params) and D (tokens), or from an architecture.

    ``scalinglab flops -N 175B -D 300B`` prints 3.15e23 (6ND); other conventions need ``--arch``.
    Exits with code 2 and one error line on bad input.
    """
    from ..flops import count_params, flops_breakdown, normalize_flop_convention, parse_architecture
    from ..units import parse_quantity

    D = parse_quantity(tokens, what="--tokens")
    if not D > 0:
        raise _input_error(f"--tokens: expected a positive number, got {tokens!r}")
    conv = normalize_flop_convention(convention)
    a = parse_architecture(arch) if arch else None
    N = parse_quantity(params, what="--params") if params is not None else None
    if N is not None and not N > 0:
        raise _input_error(f"--params: expected a positive number, got {params!r}")
    items: dict[str, float] = {}
    n_used = N
    pconv = None
    if conv == "6N" and N is not None:
        per_token = 6.0 * N
        items = {"params": per_token}
    elif a is None:
        if conv == "6N":
            raise _input_error("flops: give --params (or --arch to count them)")
        raise _input_error(f"flops: the {conv!r} convention needs --arch (only 6nd works from N and D alone)")
    else:
        # the FLOPs come from the architecture, so N is the architecture's count (a given --params is echoed)
        fc = flops_breakdown(a, conv, param_convention=param_convention)
        per_token, items, pconv = fc.per_token, dict(fc.items), fc.param_convention
        n_used = fc.n_params if fc.n_params is not None else count_params(a).total
        pconv = pconv or "total"
    result: dict[str, Any] = {
        "flops": per_token * D, "convention": _CONVENTION_NAMES.get(conv, conv), "params": n_used,
        "tokens": D, "flops_per_token": per_token, "param_convention": pconv or "given",
        "items": {k: v * D for k, v in items.items()}, "pf_days": per_token * D / 8.64e19,
    }
    if N is not None and n_used != N:
        result["params_given"] = N
    if a is not None:
        result["architecture"] = a.to_dict()
    if json_:
        emit_json(result)
        return
    from rich.table import Table

    t = Table(title=f"Training FLOPs ({result['convention']})", title_justify="left")
    t.add_column("term")
    t.add_column("FLOPs", justify="right")
    t.add_column("share", justify="right")
    for k, v in result["items"].items():
        t.add_row(k, _flops_str(v), f"{v / result['flops']:.1%}" if result["flops"] else "—")
    t.add_row("[bold]total[/]", f"[bold]{_flops_str(result['flops'])}[/]", "100%")
    out.print(t)
    out.print(f"N = {_qty(n_used)} params, D = {_qty(D)} tokens, {_flops_str(per_token)} FLOPs/token, "
              f"{result['pf_days']:.3g} PF-days")


@command("params", help="Itemised parameter count of an architecture under every convention.")
def params_cmd(
    arch: Annotated[str, typer.Option("--arch", help="A name (gpt2, llama2-7b, ...) and/or key=value pairs, "
                                      "e.g. n_layer=12,d_model=768,n_heads=12,vocab=50257,seq=1024.")],
    json_: bool = JsonOpt,
) -> None:
    """Itemised parameter count of an architecture under every convention.

    ``scalinglab params --arch gpt2``: embedding, position, attention, mlp, norm and head groups, then the
    total, non-embedding, active, ... counts (parameters). Exits with code 2 and one error line on bad input.
    """
    from ..flops import count_params

    pc = count_params(arch)
    if json_:
        emit_json(pc.to_dict())
        return
    from rich.table import Table

    t = Table(title="Parameters", title_justify="left")
    t.add_column("item")
    t.add_column("count", justify="right")
    t.add_column("", justify="right")
    for k, v in pc.items.items():
        if v:
            t.add_row(k, f"{v:,}", _qty(v))
    t.add_row("[bold]total[/]", f"[bold]{pc.total:,}[/]", _qty(pc.total))
    out.print(t)
    c = Table(title="Conventions", title_justify="left")
    c.add_column("convention")
    c.add_column("count", justify="right")
    c.add_column("", justify="right")
    for name, v in pc.to_dict()["conventions"].items():
        c.add_row(name, f"{v:,}", _qty(v))
    out.print(c)


@command("cost", help="GPU-hours, wall-clock days and dollars for a training run, as ranges.")
def cost_cmd(
    gpu: Annotated[str, typer.Option("--gpu", help="Accelerator name or alias (A100, H100, H200, B200, "
                                     "MI300X, 'TPU v5p', ...); see `scalinglab hardware`.")],
    flops: Annotated[str | None, typer.Option("--flops", "-C", help="Training FLOPs, e.g. 3.14e23.")] = None,
    params: Annotated[str | None, typer.Option("--params", "-N", help="Instead of --flops: parameters "
                                               "(with --tokens; C = 6ND).")] = None,
    tokens: Annotated[str | None, typer.Option("--tokens", "-D", help="Instead of --flops: tokens (with "
                                               "--params).")] = None,
    gpus: Annotated[int, typer.Option("--gpus", "-n", help="Number of accelerators.")] = 1,
    mfu: Annotated[str, typer.Option("--mfu", help="Model FLOPs utilisation: a fraction or a range, "
                                     "e.g. 0.3-0.5 or 40%.")] = "0.3-0.5",
    price: Annotated[str | None, typer.Option("--price", help="USD per GPU-hour (a value or a range, "
                                              "e.g. 1.5-4); default: the catalog's indicative range.")] = None,
    precision: Annotated[str, typer.Option("--precision", help="fp32 | tf32 | bf16 | fp16 | fp8 (dense peak "
                                           "used).")] = "bf16",
    json_: bool = JsonOpt,
) -> None:
    """GPU-hours, wall-clock days and dollars for a training run, as ranges.

    ``scalinglab cost --gpu H100 -C 3.14e23 --gpus 1024``: low ends assume the high MFU and low price.
    Exits with code 2 and one error line on bad input.
    """
    from ..hardware import estimate_cost
    from ..units import parse_quantity

    if flops is None:
        if params is None or tokens is None:
            raise _input_error("cost: give --flops, or --params and --tokens")
        C = 6.0 * parse_quantity(params, what="--params") * parse_quantity(tokens, what="--tokens")
    else:
        if params is not None or tokens is not None:
            raise _input_error("cost: give either --flops or --params/--tokens, not both")
        C = flops
    est = estimate_cost(C, gpu, n_gpus=gpus, mfu=mfu, precision=precision, price_per_hour=price)
    if json_:
        emit_json(est.to_dict())
        return
    from rich.table import Table

    t = Table(title=f"{_flops_str(est.flops)} FLOPs on {est.n_gpus:,} × {est.gpu}", title_justify="left")
    t.add_column("")
    t.add_column("low", justify="right")
    t.add_column("high", justify="right")
    t.add_row("GPU-hours", f"{est.gpu_hours[0]:,.0f}", f"{est.gpu_hours[1]:,.0f}")
    t.add_row("wall-clock days", f"{est.days[0]:,.2f}", f"{est.days[1]:,.2f}")
    if est.usd is not None:
        t.add_row("USD", f"${est.usd[0]:,.0f}", f"${est.usd[1]:,.0f}")
    out.print(t)
    for line in est.assumptions:
        out.print(f"[dim]· {line}[/]")


@command("models", help="Notable published models: params, tokens, training FLOPs, tokens per parameter.")
def models_cmd(
    family: Annotated[str | None, typer.Option("--family", help="Only this family (e.g. Llama 2).")] = None,
    json_: bool = JsonOpt,
) -> None:
    """Notable published models: params, tokens, training FLOPs, tokens per parameter."""
    from ..models import notable_models

    df = notable_models(family)
    if json_:
        emit_json(df.to_dict(orient="records"))
        return
    from rich.table import Table

    t = Table(title="Notable models", title_justify="left")
    for col, width in (("model", None), ("params", 6), ("active", 6), ("tokens", 6), ("D/N", 7),
                       ("FLOPs", 7), ("", 4), ("year", 4)):
        t.add_column(col, justify="left" if col in ("model", "") else "right", min_width=width,
                     no_wrap=col != "model")
    for r in df.itertuples(index=False):
        active = _qty(r.active_params) if r.active_params != r.params else ""
        tpp = "—" if not math.isfinite(r.tokens_per_param) else f"{r.tokens_per_param:,.1f}"
        conv = {"published": "pub.", "6ND": "6ND"}.get(r.flops_convention, "") \
            if isinstance(r.flops_convention, str) else ""
        t.add_row(r.name, _qty(r.params), active, _qty(r.tokens), tpp, _flops_str(r.flops), conv, str(r.year))
    out.print(t)
    out.print("[dim]D/N = tokens per parameter; FLOPs: pub. = stated in the paper, 6ND = 6·N_active·D; "
              "sources: --json[/]")


@command("hardware", help="The accelerator catalog: dense peak TFLOP/s, memory, bandwidth, price range.")
def hardware_cmd(json_: bool = JsonOpt) -> None:
    """The accelerator catalog: dense peak TFLOP/s, memory, bandwidth, price range (USD per GPU-hour)."""
    from ..hardware import gpu_catalog

    gpus = gpu_catalog()
    if json_:
        emit_json([g.to_dict() for g in gpus])
        return
    from rich.table import Table

    def tf(v: float | None) -> str:
        return "—" if v is None else f"{v:.4g}"

    t = Table(title="Accelerators (dense peaks, TFLOP/s)", title_justify="left")
    for col in ("name", "fp32", "tf32", "bf16", "fp8", "GB", "TB/s", "$/h"):
        t.add_column(col, justify="left" if col == "name" else "right", no_wrap=True,
                     min_width=14 if col == "name" else None)
    for g in gpus:
        p = g.peak_tflops
        bw = None if g.memory_bw_gbs is None else g.memory_bw_gbs / 1000
        half = tf(p["bf16"]) if p["bf16"] is not None else (tf(p["fp16"]) + "*" if p["fp16"] else "—")
        t.add_row(g.name, tf(p["fp32"]), tf(p["tf32"]), half, tf(p["fp8"]), tf(g.memory_gb), tf(bw),
                  _range(g.price_per_hour, "{:g}"))
    out.print(t)
    out.print("[dim]* fp16 tensor-core peak (Volta has no bf16); fp16 peaks: --json[/]")
    out.print("[dim]Prices are indicative on-demand/market ranges; sources and verification notes: --json[/]")


def _input_error(message: str) -> Exception:
    from .._errors import InputError

    return InputError(message)
