"""CLI: ``laws`` (catalog and presets) and ``passk`` (unbiased pass@k).

Library modules are imported inside the commands, so registering them costs nothing at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .._errors import InputError
from ._common import JsonOpt, command, emit_json, out


def _fmt(v: float) -> str:
    return f"{v:.6g}"


@command("laws", help="List the law catalog and the published presets (constants, sources, conventions).")
def laws_cmd(
    name: Annotated[str | None, typer.Argument(help="Show only laws/presets whose name contains this.")] = None,
    json_: bool = JsonOpt,
) -> None:
    """List the law catalog and the published presets (constants, sources, conventions)."""
    from ..laws import list_laws, list_presets

    laws, presets = list_laws(), list_presets()
    if name:
        key = name.lower()
        laws = [d for d in laws if key in d["name"]]
        presets = [p for p in presets if key in p["name"] or key in p["law"]]
        if not laws and not presets:
            raise InputError(f"no law or preset matches {name!r}; run 'scalinglab laws' for the list")
    if json_:
        emit_json({"laws": laws, "presets": presets})
        return
    from rich.table import Table

    if laws:
        t = Table(title="Laws", show_lines=False, header_style="bold")
        for col in ("name", "variables", "parameters", "formula", "target"):
            t.add_column(col, overflow="fold")
        for d in laws:
            t.add_row(d["name"], ", ".join(d["variables"]), ", ".join(d["parameters"]), d["formula"], d["target"])
        out.print(t)
    if presets:
        t = Table(title="Presets", show_lines=True, header_style="bold")
        for col in ("name", "law", "values", "source / notes"):
            t.add_column(col, overflow="fold")
        for p in presets:
            values = "\n".join(f"{k} = {_fmt(v)}" + (f" ± {_fmt(p['stderr'][k])}" if p["stderr"] and k in
                                                      p["stderr"] else "") for k, v in p["values"].items())
            conv = "; ".join(f"{k}: {v}" for k, v in p["conventions"].items())
            text = p["source"] + (f"\n[dim]{p['notes']}[/]" if p["notes"] else "") + (f"\n[dim]{conv}[/]"
                                                                                          if conv else "")
            t.add_row(p["name"], p["law"], values, text)
        out.print(t)
    out.print("[dim]Use a name with --law, a preset with predict/plan, or a formula such as "
              "\"E + A/N**alpha + B/D**beta\".[/]")


def _int_list(text: str, option: str) -> list[int]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    try:
        values = [int(s) for s in items]
    except ValueError:
        raise InputError(f"{option} expects comma-separated whole numbers, e.g. 1,10,100; got {text!r}") from None
    if not values:
        raise InputError(f"{option} is empty")
    return values


@command("passk", help="Unbiased pass@k (Chen et al. 2021) from n samples with c correct.")
def passk_cmd(
    n: Annotated[int, typer.Option("--n", help="Samples drawn per problem (n >= k).")],
    c: Annotated[int, typer.Option("--c", help="How many of the n samples are correct.")],
    k: Annotated[str, typer.Option("--k", help="Comma-separated k values, e.g. 1,10,100.")] = "1,10,100",
    json_: bool = JsonOpt,
) -> None:
    """Unbiased pass@k (Chen et al. 2021) from n samples with c correct. Exits with code 2 and one error line on bad input."""
    from ..testtime import pass_at_k

    ks = _int_list(k, "--k")
    values = {str(kk): pass_at_k(n, c, kk) for kk in ks}
    if json_:
        emit_json({"n": n, "c": c, "pass_at_k": values,
                   "formatted": {kk: f"{v:.6f}" for kk, v in values.items()}})
        return
    from rich.table import Table

    t = Table(title=f"pass@k with n = {n} samples, c = {c} correct", header_style="bold")
    t.add_column("k", justify="right")
    t.add_column("pass@k", justify="right")
    for kk, v in values.items():
        t.add_row(f"pass@{kk}", f"{v:.6f}")
    out.print(t)
