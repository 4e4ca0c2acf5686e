"""Adaptive experiment design with the runner: suggest → train → refit until the forecast is tight enough.

:func:`run_adaptive` starts from a sweep (the spec's ladder, trained first if it is not done yet), fits a law
to the finished runs, asks :func:`scalinglab.fit.suggest` which affordable run would shrink the target's
interval most per FLOP, trains that run through the normal runner (stored with its content-hash id, so a
rerun resumes instead of retraining), refits and records the target's interval. It stops when the interval's
relative width is at most ``max_width``, when no remaining candidate fits the budget, after ``max_rounds``
rounds, or when no candidate is expected to narrow the interval.

Candidates are *realisable* runs: (n_layer, d_model) shapes of the runner's GPT whose exact parameter count
(``scalinglab.flops.count_params``, under the spec's parameter convention) spans the ladder's sizes up to
30x the largest, times token budgets over the ladder's tokens-per-parameter range (up to twice its top).
A candidate's cost is its real training FLOPs under the spec's FLOP convention (FLOPs per token × the tokens
its whole optimizer steps consume), which is what the budget is charged.

``budget_flops`` covers the adaptive runs only (not the starting ladder, reported as ``ladder_flops``).
Adaptive runs are recorded under the sweep name ``<sweep>-adaptive``; finished ones already in the store
(an earlier, interrupted call) are refitted, counted against the budget and listed first in the history.

The recorded interval is the one a user would act on: for a loss target ``{"N", "D"}`` the fit's
prediction interval for an actual run there (:meth:`FitResult.predict`), for ``{"compute_optimal_N_at": C}``
the percentile interval of N_opt(C) (parameters, C = 6 N D) over the fit's parameter draws. Width is
``(hi - lo) / value`` (relative).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError
from .spec import RunConfig, Sweep, expand_spec, load_spec

__all__ = ["run_adaptive", "AdaptiveResult", "realisable_candidates", "shape_for_params"]


@dataclass
class AdaptiveResult:
    """What :func:`run_adaptive` did. ``history``: one dict per round (round 0 = the starting runs) with
    ``round``, ``run_id``, ``name``, ``params`` (N), ``tokens`` (D), ``flops`` (this run's training FLOPs),
    ``flops_spent`` (cumulative adaptive FLOPs), ``value``, ``interval`` (lo, hi), ``width`` (relative),
    ``expected_width`` (suggest's linearised forecast of the width after the run, relative) and ``n_runs``.
    ``stopped``: ``"width"`` | ``"budget"`` | ``"max_rounds"`` | ``"no_gain"`` | ``"failed"``."""

    target: dict
    law: str
    level: float
    budget_flops: float
    max_width: float | None
    history: list[dict] = field(default_factory=list)
    stopped: str = ""
    ladder_flops: float = 0.0
    sweep: str = ""
    fit: Any = field(default=None, repr=False)

    @property
    def flops_spent(self) -> float:
        """Training FLOPs spent on the adaptive runs so far (cumulative; 0 before any)."""
        return float(self.history[-1]["flops_spent"]) if self.history else 0.0

    @property
    def width(self) -> float:
        """Latest relative interval width of the target (NaN before any round)."""
        return float(self.history[-1]["width"]) if self.history else math.nan

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``target``, ``law``, ``level``, ``budget_flops``, ``max_width``, ``flops_spent``,
        ``ladder_flops`` (FLOPs), ``sweep``, ``stopped`` (why the loop ended), ``rounds``, ``width`` and
        ``history`` (one dict per round, see the class docstring).
        """
        from ..fit._result import _jsonable

        return _jsonable({"target": self.target, "law": self.law, "level": self.level,
                          "budget_flops": self.budget_flops, "max_width": self.max_width,
                          "flops_spent": self.flops_spent, "ladder_flops": self.ladder_flops,
                          "sweep": self.sweep, "stopped": self.stopped, "rounds": len(self.history) - 1,
                          "width": self.width, "history": self.history})


# ------------------------------------------------------------------------------------------ candidates
def _spec_defaults(sweep: Sweep) -> tuple[dict, dict]:
    """(run defaults, base architecture) shared by the sweep's runs, for building new runs like them."""
    c0 = sweep.runs[0]
    keep = ("data", "schedule", "min_lr_ratio", "decay_fraction", "weight_decay", "beta1", "beta2", "grad_clip",
            "eval_every", "eval_windows", "seed", "flops_convention", "param_convention", "checkpoint_every")
    d = c0.to_dict()
    defaults = {k: d[k] for k in keep}
    defaults["seq_len"] = c0.seq_len
    arch = {k: v for k, v in dict(c0.arch).items() if k not in ("n_layer", "d_model", "n_heads", "seq_len")}
    return defaults, arch


def _head_dim(sweep: Sweep) -> int:
    a = dict(sweep.runs[0].arch)
    return max(1, int(a["d_model"]) // int(a.get("n_heads") or 1))


def _shape_grid(sweep: Sweep, max_layers: int | None = None) -> list[dict]:
    hd = _head_dim(sweep)
    top = max(int(c.arch["n_layer"]) for c in sweep.runs)
    layers = range(1, (max_layers or top + 3) + 1)
    shapes = []
    for L in layers:
        for d in range(max(8, 8 * L), 1025, 8):  # no deeper-than-wide toys: d_model >= 8 n_layer
            h = max(1, d // hd)
            if d % h == 0:
                shapes.append({"n_layer": L, "d_model": d, "n_heads": h})
    return shapes


def shape_for_params(n_params: float, sweep: Sweep, *, shapes: list[dict] | None = None) -> tuple[dict, int]:
    """The runner shape whose exact parameter count is nearest ``n_params`` (in log space), preferring, among
    shapes within 3 % of the best, the depth the ladder uses for that size (its deepest run at or below it).
    Returns ``(shape, params)``."""
    from ..flops import Architecture, count_params

    defaults, base = _spec_defaults(sweep)
    pconv = defaults["param_convention"]
    vocab, seq = int(sweep.runs[0].arch["vocab_size"]), defaults["seq_len"]
    shapes = shapes or _shape_grid(sweep)
    counts = np.array([count_params(Architecture(**{**base, **s, "vocab_size": vocab, "seq_len": seq}))
                       .by_convention(pconv) for s in shapes], float)
    err = np.abs(np.log(counts / float(n_params)))
    ladder = sorted((c.n_params(), int(c.arch["n_layer"])) for c in sweep.runs)
    depth = max([L for n, L in ladder if n <= n_params] or [ladder[0][1]])
    near = np.flatnonzero(err <= err.min() + 0.03)
    best = min(near, key=lambda i: (abs(shapes[i]["n_layer"] - depth), err[i]))
    return shapes[best], int(counts[best])


def _config(sweep: Sweep, shape: Mapping[str, Any], tokens: int, name: str) -> RunConfig:
    defaults, base = _spec_defaults(sweep)
    arch = {**base, **dict(shape)}
    spec = {"sweep": {"name": name, "kind": "list"}, "defaults": defaults,
            "runs": [{"arch": arch, "tokens": int(tokens)}]}
    return expand_spec(spec, source=sweep.source).runs[0]


def _trained_tokens(cfg: RunConfig) -> int:
    return int(cfg.steps_for(cfg.tokens) * cfg.batch_tokens)


def _trained_tokens_of(cfg: RunConfig, budget: int) -> int:
    return int(cfg.steps_for(budget) * cfg.batch_tokens)


def _run_cost(cfg: RunConfig) -> float:
    """Training FLOPs the run really spends (all its optimizer steps, WSD cooldown branches included)."""
    budgets = sorted(set(cfg.budgets or (cfg.tokens,)))
    tokens = _trained_tokens(cfg)
    if cfg.schedule == "wsd" and len(budgets) > 1:
        for b in budgets[:-1]:
            s = cfg.steps_for(b)
            tokens += max(1, round(cfg.decay_fraction * s)) * cfg.batch_tokens
    return cfg.flops_per_token() * tokens


def realisable_candidates(sweep: Sweep, *, n_sizes: int = 10, n_ratios: int = 7, max_params_factor: float = 30.0,
                          name: str | None = None) -> list[RunConfig]:
    """Runs the runner can train, spanning the ladder's sizes up to ``max_params_factor`` x its largest and its
    tokens-per-parameter range (doubled at the top), never shorter than the ladder's shortest budget (runs of
    a few optimizer steps are mostly warm-up and fit any law poorly). One budget each; deduplicated by run id."""
    name = name or f"{sweep.name}-adaptive"
    ns = np.array([c.n_params() for c in sweep.runs], float)
    ratios = np.array([b / c.n_params() for c in sweep.runs for b in (c.budgets or (c.tokens,))], float)
    d_min = min(min(c.budgets or (c.tokens,)) for c in sweep.runs)
    shapes = _shape_grid(sweep)
    out: dict[str, RunConfig] = {}
    for n in np.geomspace(ns.min(), ns.max() * max_params_factor, n_sizes):
        shape, n_real = shape_for_params(n, sweep, shapes=shapes)
        for r in np.geomspace(ratios.min(), ratios.max() * 2, n_ratios):
            cfg = _config(sweep, shape, max(d_min, int(round(r * n_real))), name)
            cfg = _renamed(cfg, name)
            out.setdefault(cfg.run_id, cfg)
    return list(out.values())


def _renamed(cfg: RunConfig, sweep_name: str) -> RunConfig:
    from dataclasses import replace

    a = cfg.arch
    return replace(cfg, name=f"{sweep_name}/L{a['n_layer']}-d{a['d_model']}-D{_trained_tokens(cfg)}",
                   sweep=sweep_name)


def _user_candidates(candidates: Any, sweep: Sweep, name: str) -> list[RunConfig]:
    """Candidates given by the user: RunConfigs, mappings with architecture fields and ``tokens``, or a table
    (DataFrame / mapping of arrays) with ``params`` (or N) and ``tokens`` (or D), realised by the nearest
    shape."""
    if isinstance(candidates, Iterable) and not isinstance(candidates, Mapping | str) and \
            not hasattr(candidates, "columns"):
        items = list(candidates)
        if items and all(isinstance(c, RunConfig | Mapping) for c in items):
            out = []
            for i, c in enumerate(items):
                if isinstance(c, RunConfig):
                    out.append(_renamed(c, name))
                    continue
                c = dict(c)
                if "tokens" not in c:
                    raise InputError(f"candidates[{i}]: needs 'tokens' (training tokens) and n_layer, d_model")
                tokens = c.pop("tokens")
                shape = dict(c.pop("arch", {}) or {}) or c
                if not {"n_layer", "d_model"} <= set(shape):
                    raise InputError(f"candidates[{i}]: needs n_layer and d_model (or params in a table)")
                from ..units import parse_quantity

                tokens = parse_quantity(tokens, what="tokens") if isinstance(tokens, str) else float(tokens)
                out.append(_renamed(_config(sweep, shape, int(tokens), name), name))
            return out
    import pandas as pd

    df = candidates if hasattr(candidates, "columns") else pd.DataFrame(dict(candidates))
    ncol = next((c for c in ("params", "N") if c in df.columns), None)
    dcol = next((c for c in ("tokens", "D") if c in df.columns), None)
    if ncol is None or dcol is None:
        raise InputError("candidates table needs columns params (or N) and tokens (or D)")
    out = []
    shapes = _shape_grid(sweep)
    for n, d in zip(df[ncol].to_numpy(float), df[dcol].to_numpy(float), strict=True):
        shape, _ = shape_for_params(n, sweep, shapes=shapes)
        out.append(_renamed(_config(sweep, shape, int(d), name), name))
    return out


# ------------------------------------------------------------------------------------------ target interval
def target_interval(fr, target: Mapping[str, float], level: float) -> tuple[float, float, float]:
    """(value, lo, hi) of the target under fit ``fr`` (see the module docstring)."""
    if "compute_optimal_N_at" in target:
        from ..fit._suggest import _nopt_log

        C = float(target["compute_optimal_N_at"])
        value = float(math.exp(_nopt_log(fr.law, fr.theta, C)[0]))
        draws = fr.parameter_draws()
        if draws is None:
            return value, math.nan, math.nan
        logs = _nopt_log(fr.law, draws, C)
        logs = logs[np.isfinite(logs)]
        q = (1 - level) / 2
        lo, hi = np.exp(np.quantile(logs, [q, 1 - q]))
        return value, float(min(lo, value)), float(max(hi, value))
    point = {k: v for k, v in target.items() if k != "quantity"}
    pred = fr.predict(level=level, warn=False, **point)
    lo, hi = pred.interval
    return float(pred.value), float(lo), float(hi)


def _rel_width(value: float, lo: float, hi: float) -> float:
    return (hi - lo) / abs(value) if value and all(map(math.isfinite, (value, lo, hi))) else math.inf


# ------------------------------------------------------------------------------------------ the loop
def run_adaptive(spec_or_runs: Any, store: Any = "scalinglab-runs.db", *, law: str = "chinchilla",
                 target: Mapping[str, Any] | str, budget_flops: float, max_width: float | None = None,
                 max_rounds: int = 10, candidates: Any = None, level: float = 0.8, bootstrap: int = 100,
                 seed: int = 0, min_gain: float = 0.05, workdir: Any = None, device: str = "auto", console: Any = None,
                 show_progress: bool = False, fit_kwargs: Mapping[str, Any] | None = None) -> AdaptiveResult:
    """Suggest → train → refit until the target's ``level`` interval is at most ``max_width`` wide (relative,
    e.g. 0.02 = 2 % of the value) or ``budget_flops`` (training FLOPs of the adaptive runs) is spent.

    ``spec_or_runs``: a sweep spec (path, dict or :class:`Sweep`) or a list of :class:`RunConfig` — the
    starting runs (trained first where not done) and the data/training defaults of new runs. ``target``:
    ``{"N": 7e9, "D": 1.4e11}`` / ``"N=7B,D=140B"`` (loss of a run there) or ``{"compute_optimal_N_at": C}``.
    ``candidates``: None (a grid of realisable shapes × token budgets, :func:`realisable_candidates`), a list
    of :class:`RunConfig` / ``{"n_layer", "d_model", "tokens"}`` mappings, or a table with params and tokens
    (each realised by the nearest shape); default candidates cost at least the cheapest starting run.
    ``bootstrap``: resamples per refit (parameter draws for the interval).

    Choice per round: the best candidate by expected width reduction per FLOP (suggest's ranking) among those
    expected to cut the current width by at least ``min_gain`` (relative, default 5 %); if none does, the one
    with the largest expected reduction. (Pure per-FLOP ranking keeps picking the tiniest runs, whose
    linearised gain is real but smaller than the refit-to-refit noise of the interval.) Returns an :class:`AdaptiveResult` whose ``history`` has one row per round.

    Raises
    ------
    InputError
        If there is no starting run, ``target`` lacks N and D (or ``compute_optimal_N_at``), ``budget_flops``
        is negative, ``max_width`` not positive, ``max_rounds`` negative, a starting run did not finish, or
        ``candidates`` lacks the needed columns.
    """
    from ..fit import fit, suggest
    from ..fit._suggest import _target_spec
    from ..store import Store
    from .executor import run_sweep

    if isinstance(spec_or_runs, Sweep):
        sweep = spec_or_runs
    elif isinstance(spec_or_runs, list | tuple) and spec_or_runs and all(isinstance(c, RunConfig)
                                                                         for c in spec_or_runs):
        sweep = Sweep(name=spec_or_runs[0].sweep or "runs", kind="list", runs=tuple(spec_or_runs))
    else:
        sweep = load_spec(spec_or_runs)
    if not sweep.runs:
        raise InputError("run_adaptive needs at least one starting run")
    tgt = _target_spec(target)
    if not ("compute_optimal_N_at" in tgt or {"N", "D"} <= set(tgt) or {"params", "tokens"} <= set(tgt)):
        raise InputError(f"target must give N and D (e.g. 'N=7B,D=140B') or compute_optimal_N_at, got {tgt}")
    budget_flops = float(budget_flops)
    if not (budget_flops >= 0 and math.isfinite(budget_flops)):
        raise InputError(f"budget must be a non-negative number of FLOPs, got {budget_flops!r}")
    if max_width is not None and not max_width > 0:
        raise InputError(f"max_width must be a positive relative width (e.g. 0.02), got {max_width!r}")
    if int(max_rounds) < 0:
        raise InputError(f"max_rounds must be >= 0, got {max_rounds}")
    level = float(level)
    fit_kwargs = {"bootstrap": int(bootstrap), "seed": int(seed), **dict(fit_kwargs or {})}

    st = store if isinstance(store, Store) else Store(store)
    say = (console.print if console is not None else (lambda *a, **k: None))
    adaptive_name = f"{sweep.name}-adaptive"
    if workdir is None:  # one folder for the ladder and the new runs (beside the spec for a database URL)
        from .executor import default_workdir

        workdir = default_workdir(st, sweep.source)

    # 1. the starting runs
    run_sweep(sweep, st, workdir=workdir, device=device, console=console, show_progress=show_progress)
    ladder_ids = {c.run_id for c in sweep.runs}
    not_done = [c.name or c.run_id for c in sweep.runs if st.status(c.run_id) != "done"]
    if not_done:
        raise InputError(f"starting run(s) did not finish: {', '.join(not_done[:3])} (see `scalinglab runs list`)")
    ladder_flops = float(sum(_run_cost(c) for c in sweep.runs))

    # earlier adaptive runs of this sweep (an interrupted call): refit with them and charge them
    earlier = [r for r in st.list_runs(sweep=adaptive_name, status="done")]
    earlier.sort(key=lambda r: (r.get("finished_at") or "", r["id"]))
    adaptive_ids: list[str] = []

    def frame():
        df = st.to_frame()
        return df[df["run_id"].isin(ladder_ids | set(adaptive_ids))].reset_index(drop=True)

    def refit():
        with np.errstate(all="ignore"):  # degenerate bootstrap resamples of tiny ladders: NaN, not noise
            return fit(frame(), law, level=level, **fit_kwargs)

    result = AdaptiveResult(target=dict(tgt), law=str(law), level=level, budget_flops=budget_flops,
                            max_width=max_width, ladder_flops=ladder_flops, sweep=adaptive_name)
    spent = 0.0

    def record(fr, rnd: int, cfg: RunConfig | None, cost: float, expected: float | None, **extra) -> dict:
        value, lo, hi = target_interval(fr, tgt, level)
        row = {"round": rnd, "run_id": cfg.run_id if cfg else None, "name": cfg.name if cfg else sweep.name,
               "params": cfg.n_params() if cfg else None, "tokens": _trained_tokens(cfg) if cfg else None,
               "flops": cost, "flops_spent": spent, "value": value, "interval": [lo, hi],
               "width": _rel_width(value, lo, hi), "expected_width": expected, "n_runs": int(fr.n_points),
               **extra}
        result.history.append(row)
        say(f"round {rnd}: " + (f"+ {row['name'].rsplit('/', 1)[-1]} ({cost:.3g} FLOPs), " if cfg else
                                f"{len(ladder_ids)} starting runs, ") +
            f"target {value:.5g} [{lo:.5g}, {hi:.5g}] ({level:.0%}), width {row['width']:.2%}, "
            f"spent {spent:.3g}/{budget_flops:.3g} FLOPs")
        return row

    fr = refit()
    record(fr, 0, None, 0.0, None)
    for r in earlier:  # resume: replay earlier rounds' runs into the fit
        cfg = RunConfig.from_dict(r["config"] if isinstance(r["config"], dict) else {})
        cfg = _renamed(cfg, adaptive_name)
        adaptive_ids.append(r["id"])  # the stored id: a recorded config masks secret env values (not hashed so)
        cost = _run_cost(cfg)
        spent += cost
        fr = refit()
        record(fr, len(result.history), cfg, cost, None, resumed=True)

    if candidates is None:
        floor = min(c.flops_per_token() * _trained_tokens_of(c, min(c.budgets or (c.tokens,))) for c in sweep.runs)
        pool = [c for c in realisable_candidates(sweep, name=adaptive_name) if _run_cost(c) >= floor]
    else:
        pool = _user_candidates(candidates, sweep, adaptive_name)
    trained = ladder_ids | set(adaptive_ids)
    stopped = ""
    while True:
        width = result.history[-1]["width"]
        if max_width is not None and width <= max_width:
            stopped = "width"
            break
        if len(result.history) - 1 >= int(max_rounds):
            stopped = "max_rounds"
            break
        left = budget_flops - spent
        pool = [c for c in pool if c.run_id not in trained]
        afford = [c for c in pool if _run_cost(c) <= left]
        if not afford:
            stopped = "budget"
            break
        import pandas as pd

        costs = np.array([_run_cost(c) for c in afford])
        cand = pd.DataFrame({"params": [c.n_params() for c in afford],
                             "tokens": [_trained_tokens(c) for c in afford], "flops": costs})
        with np.errstate(all="ignore"):
            s = suggest(frame(), law, target=tgt, candidates=cand, fit_result=fr, level=level)
        good = [c for c in s.candidates if c["width_reduction_frac"] >= min_gain]
        best = good[0] if good else max(s.candidates, key=lambda c: c["width_reduction"])
        if not best["width_reduction"] > 0:
            stopped = "no_gain"
            break
        # suggest's rows carry the candidate's variables; find it back (first match by N, D and cost)
        i = int(np.argmin(np.abs(np.log(cand["params"].to_numpy() / best["N"]))
                          + np.abs(np.log(cand["tokens"].to_numpy() / best["D"]))
                          + np.abs(np.log(costs / best["flops"]))))
        cfg = afford[i]
        res = run_sweep([cfg], st, workdir=workdir, device=device, console=console, show_progress=show_progress)
        trained.add(cfg.run_id)
        if st.status(cfg.run_id) != "done":
            err = res[0].error if res else "not trained"
            say(f"[red]run {cfg.name} did not finish[/]: {err}")
            stopped = "failed"
            break
        adaptive_ids.append(cfg.run_id)
        spent += float(costs[i])
        fr = refit()
        exp_w = best["width_after"] / s.value if s.value else None
        record(fr, len(result.history), cfg, float(costs[i]), exp_w,
               expected_width_reduction=best["width_reduction_frac"])
    result.stopped = stopped
    result.fit = fr
    say(f"stopped ({stopped}): width {result.width:.2%} after {len(result.history) - 1} round(s), "
        f"{spent:.3g} of {budget_flops:.3g} FLOPs spent")
    if store is not st:
        st.close()
    return result


# ------------------------------------------------------------------------------------------ CLI
def cli_adaptive(sweep: Sweep, store, *, target: str | None, budget: str | None, max_width: float | None,
                 max_rounds: int, law: str, level: float, workdir: Any, device: str, json_: bool, console: Any,
                 out: Any) -> AdaptiveResult:
    """``scalinglab run SPEC --adaptive ...``: run the loop and print its history; with ``json_`` print
    nothing (the CLI writes the JSON from the returned result: the runner never imports the CLI).

    Raises
    ------
    InputError
        If ``target`` or ``budget`` is missing (or invalid, see `run_adaptive`).
    """
    from ..units import parse_quantity

    if not target:
        raise InputError("--adaptive needs --target, e.g. --target 'N=1M,D=20M' or 'compute_optimal_N_at=1e15'")
    if budget is None:
        raise InputError("--adaptive needs --budget (training FLOPs for the new runs), e.g. --budget 1e13")
    budget_flops = parse_quantity(budget, what="budget") if isinstance(budget, str) else float(budget)
    res = run_adaptive(sweep, store, law=law, target=target, budget_flops=budget_flops, max_width=max_width,
                       max_rounds=max_rounds, level=level, workdir=workdir, device=device, console=console,
                       show_progress=not json_)
    if not json_:
        from rich.table import Table

        t = Table(title=f"adaptive runs for {res.target} ({res.law}, {res.level:.0%} interval)")
        for col in ("round", "run", "N (params)", "D (tokens)", "FLOPs", "spent FLOPs", "value", "interval",
                    "width"):
            t.add_column(col, justify="left" if col in ("run", "interval") else "right")
        for h in res.history:
            lo, hi = h["interval"]
            t.add_row(str(h["round"]), (h["name"] or "").rsplit("/", 1)[-1] + (" (resumed)" if h.get("resumed")
                                                                                 else ""),
                      "-" if h["params"] is None else f"{h['params']:,}",
                      "-" if h["tokens"] is None else f"{h['tokens']:,}", f"{h['flops']:.3g}",
                      f"{h['flops_spent']:.3g}", f"{h['value']:.5g}", f"[{lo:.5g}, {hi:.5g}]",
                      f"{h['width']:.2%}")
        out.print(t)
        why = {"width": f"the interval is at most {res.max_width:.2%} wide",
               "budget": "no remaining candidate fits the budget", "max_rounds": "--max-rounds reached",
               "no_gain": "no candidate is expected to narrow the interval",
               "failed": "a run failed (see `scalinglab runs list`)"}.get(res.stopped, res.stopped)
        out.print(f"stopped: {why}. Spent {res.flops_spent:.3g} of {res.budget_flops:.3g} FLOPs "
                  f"(starting runs: {res.ladder_flops:.3g}). Store: {store}")
    store.close()
    return res
