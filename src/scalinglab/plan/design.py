"""Design the ladder that reaches a target: which small runs to train so the fitted law's prediction at a
big target run (``N`` parameters, ``D`` tokens) has the narrowest calibrated interval for a FLOP budget.

Method (checked by simulation; ``tests/test_design.py``):

1. **Candidates.** A few ladder shapes, each scaled so its runs spend the whole FLOP budget (``C = 6ND``):

   * *IsoFLOP grids* (Hoffmann et al. 2022, Approach 2): ``levels`` compute levels spaced ``ratio``× apart,
     ``sizes`` model sizes per level spread ±``spread`` decades around the prior law's compute-optimal N
     of that level; the top level is pushed as high as the budget allows
     (``C_top = budget / (sizes · Σ_k ratio^-k)``), never past the target's own compute;
   * *log-uniform ladders* (the runner's ``[ladder]`` kind): ``n_sizes`` sizes log-uniform over ``span``
     decades, each trained at 1/3×, 1× and 3× the compute-optimal tokens per parameter.

2. **Simulation.** Under a prior law (a preset such as ``chinchilla-epoch`` or a saved fit) and a run noise
   (relative, log-space standard deviation of the loss, nats/token), draw each ladder's losses
   ``L(N, D) · exp(ε)``, fit the same law form with :func:`scalinglab.fit.fit` and read the calibrated
   prediction interval at the target. The search uses the fast Huber objective on ``replicates`` draws
   per shape (the same seeds for every shape); the chosen shape, snapped to real architectures, is then
   scored with the default fit on ``2 × replicates`` fresh draws: its median interval, its relative width
   and how often the interval covered a simulated run at the target.

3. **Choice.** Every candidate spends the same budget, so the one with the lowest mean interval score
   (Gneiting & Raftery 2007: relative width plus ``2/(1-level)`` times the miss of the simulated run at the
   target) wins: the narrowest interval per FLOP among those that keep their promise (a narrow interval that
   misses is penalised). With ``max_width`` the chosen shape is also simulated at ¼×, 4× and 16× the budget and
   ``log width`` is regressed on ``log budget`` to say what budget would meet it.

Architectures: each run's N is snapped to a GPT of the runner (``n_layer``, ``d_model``, head dim 64, or
16 below ``d_model`` 128; aspect ``d_model / n_layer`` near 64) whose total parameter count
(:func:`scalinglab.flops.count_params`, embeddings included — the convention of the Chinchilla presets) is
the run's N; its tokens D keep the run's FLOPs. :func:`sweep_spec_text` writes the runs as a runner sweep
spec (``[[runs]]`` list) that ``scalinglab run`` accepts.

>>> from scalinglab.plan.design import parse_target
>>> t = parse_target("N=7B,D=140B")
>>> t.N, t.D, t.flops
(7000000000.0, 140000000000.0, 5.88e+21)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError, PlanError, ScalingLabError
from ..units import format_quantity, parse_quantity
from ._cost import DEFAULT_GPU, DEFAULT_MFU, parse_mfu, plan_cost
from ._law import DEFAULT_LAW, LawSpec, resolve_law

__all__ = ["Target", "LadderShape", "DesignRun", "Simulation", "Design", "DEFAULT_SHAPES", "DEFAULT_NOISE",
           "parse_target", "ladder_runs", "log_uniform_ladder", "simulate", "design", "snap_architecture",
           "sweep_spec_text", "write_sweep"]

log = logging.getLogger(__name__)

#: run-to-run noise of the loss assumed when the prior is a preset: 1 % (log-space standard deviation,
#: i.e. relative), the order of seed-to-seed spread of small language-model runs
DEFAULT_NOISE = 0.01
#: loss multipliers of the log-uniform ladder's token budgets around the compute-optimal tokens/param
LADDER_TPP_FACTORS = (1 / 3, 1.0, 3.0)
#: budget multiples at which the chosen shape is simulated to find the budget that meets ``max_width``
BUDGET_SCAN = (0.25, 4.0, 16.0)
#: byte tokens of the runner's bundled text corpus (``runner/_corpus/public_domain.txt``), the placeholder
#: data of a written sweep spec
_TEXT_CORPUS_TOKENS = 434_901
#: one-sided binomial p-value below which a design's simulated coverage is called short of its level (5 %:
#: at 80 % over 10 simulated ladders, 5 or fewer covered)
UNDER_COVERAGE_P = 0.05
#: sequence length and vocabulary of the written sweep (the runner's bundled text corpus: bytes, vocab 256)
DEFAULT_SEQ_LEN = 256
DEFAULT_VOCAB = 256


# --------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """The run to predict: ``N`` parameters and ``D`` training tokens (``flops`` = 6ND training FLOPs)."""

    N: float
    D: float

    @property
    def flops(self) -> float:
        """Training FLOPs of the target, ``C = 6 N D``."""
        return 6.0 * self.N * self.D

    def to_dict(self) -> dict:
        """``{"N": params, "D": tokens, "flops": FLOPs}``."""
        return {"N": self.N, "D": self.D, "flops": self.flops}


_TARGET_KEYS = {"n": "N", "params": "N", "parameters": "N", "d": "D", "tokens": "D", "c": "C", "flops": "C",
                "compute": "C"}


def parse_target(text: str | Mapping[str, Any] | Target) -> Target:
    """Parse a target such as ``"N=7B,D=140B"`` (parameters, tokens); ``C=`` (FLOPs) with one of them
    gives the other through ``C = 6ND``. Keys: ``N``/``params``, ``D``/``tokens``, ``C``/``flops``.

    Raises
    ------
    PlanError
        If the text is not comma-separated ``KEY=VALUE`` pairs, names an unknown key, repeats one, gives a
        value that is not a positive quantity, or does not determine both N and D.
    """
    if isinstance(text, Target):
        return text
    example = "write e.g. --target \"N=7B,D=140B\" (parameters, tokens) or \"N=7B,C=5.9e21\" (FLOPs)"
    if isinstance(text, Mapping):
        items = list(text.items())
    else:
        s = str(text).strip()
        if not s:
            raise PlanError(f"target is empty; {example}")
        items = []
        for part in s.split(","):
            if "=" not in part:
                raise PlanError(f"target {s!r}: {part.strip()!r} is not KEY=VALUE; {example}")
            k, v = part.split("=", 1)
            items.append((k, v))
    vals: dict[str, float] = {}
    for k, v in items:
        key = _TARGET_KEYS.get(str(k).strip().lower())
        if key is None:
            raise PlanError(f"target: unknown key {str(k).strip()!r}; expected N (parameters), D (tokens) or "
                            f"C (FLOPs); {example}")
        if key in vals:
            raise PlanError(f"target: {key} given twice; {example}")
        try:
            x = parse_quantity(v.strip() if isinstance(v, str) else v, what=f"target {key}")
        except InputError as exc:
            raise PlanError(f"{exc}; {example}") from None
        if not (math.isfinite(x) and x > 0):
            raise PlanError(f"target {key} must be a positive number, got {v!r}; {example}")
        vals[key] = x
    if len(vals) != 2:
        raise PlanError(f"target needs exactly two of N, D, C, got {', '.join(vals) or 'none'}; {example}")
    if "C" not in vals:
        return Target(N=vals["N"], D=vals["D"])
    if "N" in vals:
        return Target(N=vals["N"], D=vals["C"] / (6.0 * vals["N"]))
    return Target(N=vals["C"] / (6.0 * vals["D"]), D=vals["D"])


# --------------------------------------------------------------------------------------------- ladders
@dataclass(frozen=True)
class LadderShape:
    """A ladder shape, scaled to a budget by :func:`ladder_runs`.

    ``kind="isoflop"``: ``levels`` compute levels ``ratio``× apart, ``sizes`` model sizes per level spread
    ±``spread`` decades (of N) around the compute-optimal N. ``kind="log-uniform"``: ``sizes`` model sizes
    log-uniform over ``spread`` decades, each at 1/3×, 1× and 3× the compute-optimal tokens per parameter.
    """

    kind: str = "isoflop"
    levels: int = 4
    ratio: float = 3.0
    sizes: int = 3
    spread: float = 0.4

    @property
    def label(self) -> str:
        """Short readable name, e.g. ``isoflop 4×3 (3×, ±0.4 dec)``."""
        if self.kind == "isoflop":
            return f"isoflop {self.levels}x{self.sizes} ({self.ratio:g}x apart, ±{self.spread:g} dec)"
        return f"log-uniform {self.sizes} sizes over {self.spread:g} dec x {len(LADDER_TPP_FACTORS)} tokens/param"

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields plus ``label``."""
        return {"kind": self.kind, "levels": self.levels, "ratio": self.ratio, "sizes": self.sizes,
                "spread_decades": self.spread, "label": self.label}


#: the candidate shapes searched by default (small on purpose: each costs ``replicates`` fits)
#: (IsoFLOP levels 2x apart were dropped: under chinchilla-epoch at 1e20 FLOPs their linearised prediction
#: spread at a 7B/140B target is 1.4-1.7x that of levels 4-10x apart, and they simulated wider. Log-uniform
#: ladders over 2 and 2.5 decades: their backtests reach further, so their calibrated bands at a target 2+
#: decades beyond were 0.7x and 0.43x as wide as over 1.5 decades under both test families at 1e20 FLOPs,
#: while the 15-18-run IsoFLOP grids fell to the wider prior rule: too few held-out predictions)
DEFAULT_SHAPES: tuple[LadderShape, ...] = (
    LadderShape("isoflop", 3, 10.0, 5, 0.5),
    LadderShape("isoflop", 3, 6.0, 6, 0.6),
    LadderShape("isoflop", 4, 4.0, 4, 0.5),
    LadderShape("log-uniform", 1, 1.0, 8, 1.5),
    LadderShape("log-uniform", 1, 1.0, 10, 2.0),
    LadderShape("log-uniform", 1, 1.0, 12, 2.5),
)
#: fewest runs per law parameter a candidate ladder may have (fewer leave the interval to the prior rule
#: alone; before the prior's run noise left out the runs the fit passes through, 9- and 12-run ladders of
#: the 5-parameter Chinchilla law covered the target in 0-40 % of simulated draws at nominal 80 %)
MIN_RUNS_PER_PARAM = 3
#: fewest distinct model sizes a candidate ladder may have once snapped to runner architectures (a law of
#: N needs sizes to tell its size term apart from its floor)
MIN_SIZES = 3


def _central(spec: LawSpec) -> LawSpec:
    return LawSpec(law=spec.law, theta=spec.theta, name=spec.name, source=spec.source,
                   conventions=spec.conventions)


def _n_opt(spec: LawSpec, flops: float) -> float:
    from .allocation import optimum

    N = float(optimum(_central(spec), flops)[0][0])
    if not (math.isfinite(N) and N > 0):
        raise PlanError(f"law {spec.name!r} has no compute-optimal model size at {flops:.3g} FLOPs; "
                        "give a law with an interior optimum (e.g. chinchilla-epoch)")
    return N


def ladder_runs(shape: LadderShape, budget: float, spec: LawSpec, *, max_top_flops: float = math.inf) -> np.ndarray:
    """``(n_runs, 2)`` array of (N parameters, D tokens) of ``shape`` spending ``budget`` FLOPs (C = 6ND).

    The top compute level (isoflop) or the largest run (log-uniform) is pushed as high as the budget allows,
    capped at ``max_top_flops`` FLOPs (then the ladder spends less than the budget).

    Raises
    ------
    PlanError
        If ``budget`` is not a positive number, the shape is unknown or degenerate, or the law has no
        compute-optimal size.
    """
    if not (math.isfinite(budget) and budget > 0):
        raise PlanError(f"budget must be a positive number of FLOPs, got {budget!r}")
    if shape.sizes < 1 or (shape.kind == "isoflop" and (shape.levels < 1 or shape.ratio <= 1)):
        raise PlanError(f"degenerate ladder shape {shape}")
    if shape.kind == "isoflop":
        k = np.arange(shape.levels)
        share = shape.sizes * float(np.sum(shape.ratio ** -k))
        top = min(budget / share, max_top_flops)
        rows = []
        offsets = np.linspace(-shape.spread, shape.spread, shape.sizes) if shape.sizes > 1 else np.zeros(1)
        for C in top * shape.ratio ** -k[::-1]:
            n0 = _n_opt(spec, C)
            for o in offsets:
                N = n0 * 10.0 ** o
                rows.append((N, C / (6.0 * N)))
        return np.asarray(rows, float)
    if shape.kind == "log-uniform":
        return log_uniform_ladder(budget, spec, n_sizes=shape.sizes, span_decades=shape.spread,
                                  max_top_flops=max_top_flops)
    raise PlanError(f"unknown ladder kind {shape.kind!r}; expected 'isoflop' or 'log-uniform'")


def log_uniform_ladder(budget: float, spec: LawSpec, *, n_sizes: int = 5, span_decades: float = 1.0,
                       tpp_factors: Sequence[float] = LADDER_TPP_FACTORS,
                       max_top_flops: float = math.inf) -> np.ndarray:
    """The common baseline: ``n_sizes`` model sizes log-uniform over ``span_decades`` decades of N, each
    trained at ``tpp_factors`` × the compute-optimal tokens per parameter, scaled to spend ``budget`` FLOPs.
    Returns ``(n_runs, 2)`` (N parameters, D tokens).

    Raises
    ------
    PlanError
        If ``budget`` is not positive or the law has no compute-optimal size.
    """
    if not (math.isfinite(budget) and budget > 0):
        raise PlanError(f"budget must be a positive number of FLOPs, got {budget!r}")
    rel = 10.0 ** np.linspace(-span_decades, 0.0, n_sizes)            # N_i / N_top
    f = np.asarray(tpp_factors, float)
    # cost = Σ_ij 6 (tpp f_j N_i) N_i = c1 Σ rel² Σ f, with c1 = 6 tpp N_top² the top size's compute at the
    # compute-optimal tokens/param (tpp from the law at c1)
    c1 = min(budget / float(np.sum(rel ** 2) * np.sum(f)), max_top_flops / float(f.max()))
    n_top = _n_opt(spec, c1)
    tpp = c1 / (6.0 * n_top ** 2)
    runs = [(n_top * r, tpp * fi * n_top * r) for r in rel for fi in f]
    return np.asarray(runs, float)


# --------------------------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class Simulation:
    """Prediction intervals at the target over simulated ladders (one entry per replicate).

    ``truth``: the prior law's loss at the target (nats/token for loss laws); ``lo``/``hi``/``value``: each
    replicate's interval and point; ``observed``: the simulated run at the target (truth × noise) that the
    interval should cover; ``width``: relative width ``(hi - lo) / truth`` (inf for a failed fit).
    """

    truth: float
    level: float
    lo: np.ndarray
    hi: np.ndarray
    value: np.ndarray
    observed: np.ndarray
    width: np.ndarray

    @property
    def median_width(self) -> float:
        """Median relative width of the interval (fraction of the target's loss)."""
        return float(np.median(self.width)) if len(self.width) else math.inf

    @property
    def interval_score(self) -> float:
        """Mean interval score (Gneiting & Raftery 2007) relative to the truth: width plus ``2/(1-level)``
        times the miss of the simulated run; a failed fit scores 1 (an interval as wide as the loss)."""
        if not len(self.width):
            return math.inf
        from ..fit._calibrate import interval_score

        with np.errstate(invalid="ignore"):
            s = interval_score(self.lo, self.hi, self.observed, self.level) / self.truth
        return float(np.mean(np.where(np.isfinite(s), s, 1.0)))

    @property
    def coverage(self) -> float:
        """Share of replicates whose interval covered the simulated run at the target."""
        ok = np.isfinite(self.lo) & np.isfinite(self.hi)
        return float(np.mean(ok & (self.lo <= self.observed) & (self.observed <= self.hi))) if len(ok) else math.nan

    @property
    def covered(self) -> np.ndarray:
        """Boolean per replicate: the interval covered the simulated run at the target."""
        return np.isfinite(self.lo) & (self.lo <= self.observed) & (self.observed <= self.hi)

    def expected_interval(self) -> tuple[float, float]:
        """The typical interval: the truth scaled by the median relative lower and upper half-widths."""
        ok = np.isfinite(self.lo) & np.isfinite(self.hi) & np.isfinite(self.value)
        if not ok.any():
            return (math.nan, math.nan)
        lo_rel = np.median((self.value[ok] - self.lo[ok]) / self.value[ok])
        hi_rel = np.median((self.hi[ok] - self.value[ok]) / self.value[ok])
        return (float(self.truth * (1 - lo_rel)), float(self.truth * (1 + hi_rel)))


def _law_loss(spec: LawSpec, N, D) -> np.ndarray:
    X = {"N": np.asarray(N, float), "D": np.asarray(D, float)}
    with np.errstate(all="ignore"):
        return np.asarray(spec.law.evaluate(spec.theta, X), float).reshape(-1)


def simulate(runs: np.ndarray, target: Target | str, law: object = None, *, noise: float = DEFAULT_NOISE,
             replicates: int = 8, seed: int = 0, level: float = 0.8, loss: str | None = None,
             calibrate: bool = True) -> Simulation:
    """Simulate ``replicates`` ladders ``runs`` (``(n, 2)``: N parameters, D tokens) under ``law`` with
    relative noise ``noise`` (log-space sd of the loss), fit each with :func:`scalinglab.fit.fit` (objective
    ``loss``, default the fit's default) and collect the ``level`` prediction interval at ``target``.

    Replicate ``i`` draws its noise from ``numpy.random.default_rng([seed, i])``: the same seeds give the
    same draws for every ladder of equal size (common random numbers).

    Raises
    ------
    PlanError
        If ``runs`` is not an ``(n, 2)`` array of positive numbers with more runs than law parameters,
        ``noise`` is negative, ``replicates`` < 1, or the law lacks N and D.
    """
    from ..fit import DEFAULT_LOSS, fit

    spec = resolve_law(law, n_draws=0)
    spec.require("N", "D", what="a ladder design")
    if set(spec.variables) != {"N", "D"}:
        raise PlanError(f"law {spec.name!r} has variables {spec.variables}; a ladder design needs a law of N "
                        "and D only")
    target = parse_target(target)
    runs = np.asarray(runs, float)
    if runs.ndim != 2 or runs.shape[1] != 2 or not np.all(np.isfinite(runs)) or np.any(runs <= 0):
        raise PlanError(f"runs must be an (n, 2) array of positive (N, D), got shape {runs.shape}")
    if len(runs) <= spec.law.n_params:
        raise PlanError(f"{len(runs)} runs cannot determine {spec.law.n_params} law parameters")
    if not (math.isfinite(noise) and noise >= 0):
        raise PlanError(f"noise must be a non-negative relative standard deviation, got {noise!r}")
    if int(replicates) < 1:
        raise PlanError(f"replicates must be >= 1, got {replicates!r}")
    N, D = runs[:, 0], runs[:, 1]
    # the compute level of each run (3 significant digits), so that the fit's internal backtests hold out
    # whole IsoFLOP levels even when architecture rounding makes 6ND differ slightly inside a level
    budget = np.asarray([float(f"{c:.3g}") for c in 6.0 * N * D])
    L = _law_loss(spec, N, D)
    truth = float(_law_loss(spec, target.N, target.D)[0])
    lo, hi, val, obs = (np.full(int(replicates), np.nan) for _ in range(4))
    for i in range(int(replicates)):
        rng = np.random.default_rng([int(seed), i])
        eps = rng.normal(0.0, noise, len(L) + 1)
        obs[i] = truth * math.exp(eps[-1])
        data = {"params": N, "tokens": D, "flops": 6.0 * N * D, "budget": budget, "loss": L * np.exp(eps[:-1])}
        try:  # simulated fits: their convergence notes are not the user's (warn=False)
            res = fit(data, spec.law, loss=loss or DEFAULT_LOSS, calibrate=calibrate, throw=False,
                      level=level, warn=False)
            if res.status in ("failed", "no_trend"):
                continue
            p = res.predict(level, warn=False, N=target.N, D=target.D)
        except ScalingLabError as exc:
            log.debug("simulated fit %d failed: %s", i, exc)
            continue
        lo[i], hi[i], val[i] = float(p.interval[0]), float(p.interval[1]), float(p.value)
    width = np.where(np.isfinite(lo) & np.isfinite(hi), (hi - lo) / truth, np.inf)
    return Simulation(truth=truth, level=float(level), lo=lo, hi=hi, value=val, observed=obs, width=width)


# --------------------------------------------------------------------------------------------- architectures
def snap_architecture(n_params: float, *, vocab_size: int = DEFAULT_VOCAB, seq_len: int = DEFAULT_SEQ_LEN,
                      aspect: float = 64.0) -> tuple[dict, int]:
    """A runner GPT (``n_layer``, ``d_model``, ``n_heads``) with about ``n_params`` total parameters
    (embeddings included), and its exact count. Head dim 64 (16 below ``d_model`` 128); among shapes within
    5 % of ``n_params`` the one with ``d_model / n_layer`` nearest ``aspect`` wins, else the nearest count.

    Raises
    ------
    PlanError
        If ``n_params`` is not a positive number.
    """
    from ..flops import Architecture, count_params

    if not (math.isfinite(n_params) and n_params > 0):
        raise PlanError(f"n_params must be a positive number, got {n_params!r}")
    best: tuple[float, float, dict, int] | None = None
    for n_layer in range(1, 129):
        # total ≈ 12 L d^2 + (vocab + seq_len) d: solve for d, then round to the head-dim grid
        a, b = 12.0 * n_layer, float(vocab_size + seq_len)
        d = (-b + math.sqrt(b * b + 4 * a * n_params)) / (2 * a)
        step = 64 if d >= 128 else 16
        for dm in {max(step, int(math.floor(d / step)) * step), max(step, int(math.ceil(d / step)) * step)}:
            arch = {"n_layer": n_layer, "d_model": dm, "n_heads": max(1, dm // step)}
            n = int(count_params(Architecture(**arch, vocab_size=vocab_size, seq_len=seq_len)).by_convention("total"))
            err = abs(math.log(n / n_params))
            shape = abs(math.log((dm / n_layer) / aspect))
            key = (0.0 if err <= 0.05 else err, shape)
            if best is None or key < best[:2]:
                best = (key[0], key[1], arch, n)
    assert best is not None
    return best[2], best[3]


@dataclass(frozen=True)
class DesignRun:
    """One run of a designed ladder: ``N`` parameters, ``D`` tokens, ``flops`` = 6ND, the runner
    architecture it was snapped to (``arch``, empty when not snapped), its compute ``level`` index
    (0 = smallest) and that level's nominal compute ``level_flops`` (FLOPs; the runs of one IsoFLOP level
    share it exactly, while their 6ND differ by the rounding of architectures and tokens)."""

    N: float
    D: float
    flops: float
    arch: Mapping[str, int] = field(default_factory=dict)
    level: int | None = None
    level_flops: float | None = None

    def to_dict(self) -> dict:
        """``{"N", "D", "flops", "tokens_per_param", "arch", "level", "level_flops"}`` (parameters, tokens,
        FLOPs)."""
        return {"N": self.N, "D": self.D, "flops": self.flops, "tokens_per_param": self.D / self.N,
                "arch": dict(self.arch), "level": self.level, "level_flops": self.level_flops}


def _distinct(runs: Sequence[DesignRun]) -> list[DesignRun]:
    """``runs`` without repeats: runs snapped to the same architecture and token budget are one run (the
    runner would train it once), e.g. the sizes of a tiny budget that all fall below the smallest GPT."""
    seen: set = set()
    out = []
    for r in runs:
        key = (tuple(sorted(r.arch.items())), r.N, r.D)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _snap(runs: np.ndarray, vocab_size: int, seq_len: int) -> list[DesignRun]:
    out = []
    flops = 6.0 * runs[:, 0] * runs[:, 1]
    levels = np.unique(np.round(np.log10(flops), 6))
    for (N, _D), C in zip(runs, flops, strict=True):
        arch, n = snap_architecture(N, vocab_size=vocab_size, seq_len=seq_len)
        tokens = max(1, int(round(C / (6.0 * n))))
        lvl = int(np.searchsorted(levels, round(math.log10(C), 6)))
        out.append(DesignRun(N=float(n), D=float(tokens), flops=6.0 * n * tokens, arch=arch, level=lvl,
                             level_flops=float(C)))
    return out


# --------------------------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Design:
    """A designed ladder and what it is expected to give at the target (see the module docstring).

    Units: ``flops`` FLOPs (C = 6ND, summed over ``runs``), ``gpu_hours`` and ``usd`` ``[lo, hi]`` over the
    MFU and price ranges, ``expected_interval`` ``[lo, hi]`` in the law's unit (nats/token for Chinchilla
    presets), ``width`` its relative width ``(hi - lo) / loss``.
    """

    target: Target
    runs: tuple[DesignRun, ...]
    shape: LadderShape
    budget: float
    law: str
    noise: float
    level: float
    expected_loss: float
    expected_interval: tuple[float, float]
    width: float
    width_spread: tuple[float, float]
    simulated_coverage: float
    replicates: int
    max_width: float | None
    budget_for_max_width: float | None
    cost: Mapping[str, Any]
    candidates: tuple[dict, ...]
    warnings: tuple[str, ...] = ()
    #: a saved fit as the prior: its own prediction at the target, ``{"value", "interval", "level"}`` (None for
    #: a preset): the designed ladder's forecast may land anywhere in it
    prior_prediction: Mapping[str, Any] | None = None

    @property
    def flops(self) -> float:
        """Training FLOPs of the whole ladder, Σ 6 N D over the runs."""
        return float(sum(r.flops for r in self.runs))

    @property
    def top_flops(self) -> float:
        """FLOPs of the largest run of the ladder."""
        return max(r.flops for r in self.runs)

    @property
    def extrapolation_decades(self) -> float:
        """Decades of compute between the largest run and the target, ``log10(C_target / C_top)``."""
        return math.log10(self.target.flops / self.top_flops)

    @property
    def meets_max_width(self) -> bool | None:
        """Whether the expected width is at most ``max_width`` (None without ``max_width``)."""
        return None if self.max_width is None else bool(self.width <= self.max_width)

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``runs`` (list of :meth:`DesignRun.to_dict`), ``expected_interval``,
        ``expected_loss``, ``flops``, ``gpu_hours``, ``usd``, ``target``, ``width``, ``width_spread``,
        ``max_width``, ``meets_max_width``, ``budget``, ``budget_for_max_width``, ``extrapolation_decades``,
        ``top_flops``, ``simulated_coverage``, ``level``, ``noise``, ``law``, ``shape``, ``candidates``,
        ``cost``, ``replicates``, ``warnings``."""
        return {"target": self.target.to_dict(), "runs": [r.to_dict() for r in self.runs],
                "n_runs": len(self.runs), "shape": self.shape.to_dict(),
                "expected_loss": self.expected_loss, "expected_interval": list(self.expected_interval),
                "level": self.level, "width": self.width, "width_spread": list(self.width_spread),
                "max_width": self.max_width, "meets_max_width": self.meets_max_width,
                "flops": self.flops, "budget": self.budget, "top_flops": self.top_flops,
                "extrapolation_decades": self.extrapolation_decades,
                "gpu_hours": list(self.cost.get("gpu_hours") or []), "usd": self.cost.get("usd"),
                "cost": dict(self.cost), "budget_for_max_width": self.budget_for_max_width,
                "simulated_coverage": self.simulated_coverage, "replicates": self.replicates,
                "noise": self.noise, "law": self.law, "candidates": list(self.candidates),
                "warnings": list(self.warnings),
                "prior_prediction": None if self.prior_prediction is None else dict(self.prior_prediction)}


def _noise_of(law: object, noise: float | None) -> float:
    if noise is not None:
        return float(noise)
    fitted = getattr(law, "noise", None)
    if fitted is None and isinstance(law, str | os.PathLike) and str(law).lower().endswith(".json"):
        try:
            from ..fit import FitResult

            fitted = FitResult.load(law).noise
        except ScalingLabError:
            fitted = None
    if fitted is not None and math.isfinite(float(fitted)) and float(fitted) > 0:
        return float(fitted)
    return DEFAULT_NOISE


def design(target: str | Mapping[str, Any] | Target, budget: float | str, *, law: object = None,
           max_width: float | None = None, noise: float | None = None, level: float = 0.8,
           gpu: str = DEFAULT_GPU, mfu: object = DEFAULT_MFU, replicates: int = 5, seed: int = 0,
           shapes: Sequence[LadderShape] = DEFAULT_SHAPES, search_loss: str = "huber",
           vocab_size: int = DEFAULT_VOCAB, seq_len: int = DEFAULT_SEQ_LEN) -> Design:
    """Propose the ladder (model sizes × token budgets) whose fitted law predicts ``target`` with the
    narrowest calibrated ``level`` interval for ``budget`` training FLOPs (C = 6ND); method in the module
    docstring.

    ``law``: the prior (preset name, saved fit path or `FitResult`; default ``chinchilla-epoch``);
    ``noise``: relative run noise (log-space sd of the loss; default the saved fit's residual noise, else
    1 %); ``max_width``: wanted relative interval width ``(hi - lo) / loss``; ``gpu``/``mfu``: for GPU-hours
    and dollars through the hardware catalog; ``replicates``: simulated ladders per candidate shape (the
    chosen one is scored on ``2 × replicates`` more, with the default fit).

    Raises
    ------
    PlanError
        If the target or budget is invalid, the budget is above the target's own compute, the law is not a
        law of N and D with a compute-optimal size, or ``max_width``/``level``/``replicates`` is out of range.
    """
    tgt = parse_target(target)
    try:
        B = parse_quantity(budget, what="budget (FLOPs)")
    except InputError as exc:
        raise PlanError(str(exc)) from None
    if not (math.isfinite(B) and B > 0):
        raise PlanError(f"budget must be a positive number of FLOPs, got {budget!r}")
    if max_width is not None and not (math.isfinite(max_width) and max_width > 0):
        raise PlanError(f"max_width must be a positive fraction of the loss (0.02 = 2 %), got {max_width!r}")
    if not 0 < float(level) < 1:
        raise PlanError(f"level must be between 0 and 1, got {level!r}")
    if int(replicates) < 1:
        raise PlanError(f"replicates must be >= 1, got {replicates!r}")
    if not shapes:
        raise PlanError("no candidate ladder shapes given")
    spec = resolve_law(law if law is not None else DEFAULT_LAW, n_draws=0)
    spec.require("N", "D", what="a ladder design")
    sigma = _noise_of(law, noise)
    notes: list[str] = []
    if B >= tgt.flops:
        notes.append(f"the budget ({B:.3g} FLOPs) is at least the target's own compute ({tgt.flops:.3g}): "
                     "training the target directly may be cheaper than predicting it")
    cap = tgt.flops

    # 1. search: every shape on the same seeds, fast objective
    cands = []
    min_runs = MIN_RUNS_PER_PARAM * spec.law.n_params
    merged = 0
    snaps: dict[str, list[DesignRun]] = {}  # each shape's runs snapped to architectures, for the chosen one
    for shape in shapes:
        runs = ladder_runs(shape, B, spec, max_top_flops=cap)
        # sizes below the smallest runner GPT snap to the same run: count the runs that stay distinct
        snaps[shape.label] = _snap(runs, vocab_size, seq_len)
        distinct = _distinct(snaps[shape.label])
        n_sizes = len({r.N for r in distinct})
        if len(distinct) < min_runs or n_sizes < MIN_SIZES:
            merged = max(merged, len(runs) - len(distinct))
            log.info("design candidate %s skipped: %d distinct runs (of %d; %d sizes), fewer than %d runs or "
                     "%d sizes", shape.label, len(distinct), len(runs), n_sizes, min_runs, MIN_SIZES)
            continue
        sim = simulate(runs, tgt, spec, noise=sigma, replicates=replicates, seed=seed, level=level,
                       loss=search_loss)
        C = 6.0 * runs[:, 0] * runs[:, 1]
        cands.append({"shape": shape.to_dict(), "n_runs": len(runs), "flops": float(C.sum()),
                      "top_flops": float(C.max()), "width": sim.median_width,
                      "interval_score": sim.interval_score, "coverage": sim.coverage,
                      "width_per_flop": sim.median_width / float(C.sum())})
        log.info("design candidate %s: median width %.4g, interval score %.4g, coverage %.2f over %d "
                 "replicates", shape.label, sim.median_width, sim.interval_score, sim.coverage, replicates)
    # every candidate spends the same budget: the lowest interval score (narrow *and* covering) wins
    if not cands:
        if merged:
            smallest, n = snap_architecture(1.0, vocab_size=vocab_size, seq_len=seq_len)
            raise PlanError(f"the budget ({B:.3g} FLOPs) is too small for a ladder: the model sizes it affords "
                            f"fall below the smallest runner GPT ({format_quantity(n)} parameters, n_layer "
                            f"{smallest['n_layer']}, d_model {smallest['d_model']}), so fewer than {min_runs} "
                            f"distinct runs ({MIN_RUNS_PER_PARAM} per law parameter) or {MIN_SIZES} model sizes "
                            "remain; raise the budget")
        raise PlanError(f"every candidate ladder has fewer than {min_runs} runs ({MIN_RUNS_PER_PARAM} per law "
                        "parameter); give shapes with more runs")
    order = sorted(range(len(cands)), key=lambda i: (cands[i]["interval_score"], cands[i]["flops"]))
    best = next(sh for sh in shapes if sh.to_dict() == cands[order[0]]["shape"])
    for i, c in enumerate(cands):
        c["chosen"] = i == order[0]

    # 2. the chosen shape, snapped to architectures, scored with the default fit on fresh seeds
    snapped = snaps[best.label]
    runs = _distinct(snapped)
    if len(runs) < len(snapped):
        notes.append(f"{len(snapped) - len(runs)} of the shape's {len(snapped)} runs snapped to the same runner "
                     f"architecture and token budget as another and were merged: {len(runs)} distinct runs "
                     "(the budget is small for this spread of model sizes)")
    if sum(r.flops for r in runs) > B * 1.001:  # rounding of architectures: scale tokens back into budget
        scale = B / sum(r.flops for r in runs)
        runs = [DesignRun(N=r.N, D=float(max(1, int(r.D * scale))), flops=6.0 * r.N * max(1, int(r.D * scale)),
                          arch=r.arch, level=r.level, level_flops=r.level_flops) for r in runs]
    arr = np.array([[r.N, r.D] for r in runs])
    final = simulate(arr, tgt, spec, noise=sigma, replicates=2 * int(replicates), seed=seed + 1, level=level)
    width = final.median_width
    finite = final.width[np.isfinite(final.width)]
    spread = (float(np.quantile(finite, 0.1)), float(np.quantile(finite, 0.9))) if len(finite) else (math.inf,) * 2
    if np.mean(np.isfinite(final.width)) < 0.5:
        notes.append("most simulated ladders of this design gave no usable fit: the budget is too small for "
                     "the law to be determined; raise the budget")
    elif _short_of(final, float(level)):
        notes.append(f"in simulation the {float(level):.0%} interval covered the target run in only "
                     f"{final.coverage:.0%} of {len(final.width)} ladders: this design's interval is not to be "
                     "trusted at the target (too few runs or too far a reach); raise the budget")

    # 3. what budget would meet max_width
    need = None
    if max_width is not None:
        need = _budget_for(best, B, width, max_width, tgt, spec, sigma, replicates, seed, level, search_loss,
                           cap, cands, notes)

    flops = float(sum(r.flops for r in runs))
    lo, hi = parse_mfu(mfu)
    cost = plan_cost(flops, gpu=gpu, n_gpus=1, mfu=(lo, hi))
    prior = None
    if spec.predictor is not None:  # a fit as the prior: the truth is uncertain too, not only the new ladder
        try:
            p = spec.predictor.predict(float(level), warn=False, N=tgt.N, D=tgt.D)
            prior = {"value": float(p.value), "interval": [float(v) for v in p.interval], "level": float(level)}
            notes.append(f"the expected interval is where this ladder's interval would lie if {spec.name} were the "
                         f"truth; {spec.name}'s own {float(level):.0%} interval at the target is "
                         f"[{prior['interval'][0]:.4g}, {prior['interval'][1]:.4g}] around {prior['value']:.4g}, and "
                         "the new ladder's forecast may land anywhere in it")
        except ScalingLabError as exc:
            log.debug("prior prediction at the target failed: %s", exc)
    dec = math.log10(tgt.flops / max(r.flops for r in runs))
    if dec > 2:
        notes.append(f"the target lies {dec:.2g} decades of compute beyond the largest run: the interval is "
                     "dominated by extrapolation")
    return Design(target=tgt, runs=tuple(runs), shape=best, budget=B, law=spec.name or str(law), noise=sigma,
                  level=float(level), expected_loss=final.truth, expected_interval=final.expected_interval(),
                  width=width, width_spread=spread, simulated_coverage=final.coverage,
                  replicates=2 * int(replicates), max_width=max_width, budget_for_max_width=need,
                  cost=cost, candidates=tuple(cands), warnings=tuple(notes), prior_prediction=prior)


def _short_of(sim: Simulation, level: float) -> bool:
    """Whether ``sim``'s intervals covered the simulated target run so rarely that a band of this ``level``
    would do so with probability below `UNDER_COVERAGE_P` (one-sided binomial test over its ladders)."""
    from scipy.stats import binom

    n = len(sim.width)
    return n > 0 and float(binom.cdf(int(np.sum(sim.covered)), n, level)) < UNDER_COVERAGE_P


def _budget_for(shape, B, width, max_width, tgt, spec, sigma, replicates, seed, level, search_loss, cap, cands,
                notes) -> float | None:
    """Budget (FLOPs) at which ``shape``'s median width reaches ``max_width``: log-log regression over
    simulated budgets (the chosen search width at ``B`` and ``BUDGET_SCAN`` multiples of it)."""
    chosen = next(c for c in cands if c["chosen"])
    pts = [(B, chosen["width"])]
    for m in BUDGET_SCAN:
        runs = ladder_runs(shape, B * m, spec, max_top_flops=cap)
        sim = simulate(runs, tgt, spec, noise=sigma, replicates=replicates, seed=seed, level=level,
                       loss=search_loss)
        pts.append((float(np.sum(6.0 * runs[:, 0] * runs[:, 1])), sim.median_width))
    chosen["width_vs_budget"] = [{"flops": b, "width": w} for b, w in pts]
    ok = [(b, w) for b, w in pts if math.isfinite(w) and w > 0]
    if len(ok) < 2:
        notes.append("could not estimate the budget that meets max-width (too few usable simulations)")
        return None
    x, y = np.log10([b for b, _ in ok]), np.log10([w for _, w in ok])
    slope, icpt = np.polyfit(x, y, 1)
    if not slope < 0:
        notes.append("in simulation the width does not shrink with budget for this ladder shape: max-width "
                     "cannot be promised by spending more")
        return None
    need = float(10 ** ((math.log10(max_width) - icpt) / slope))
    if width > max_width:
        beyond = (f"; that is more than training the target run itself ({tgt.flops:.3g} FLOPs): no ladder "
                  "this shape predicts it that tightly for less, so accept a wider interval or train the target"
                  if need >= tgt.flops else "")
        notes.append(f"max-width {max_width:g} is not met: expected width {width:.3g}; about {need:.3g} FLOPs "
                     f"({need / B:.3g}x the budget) would meet it (log-log trend over simulated budgets){beyond}")
    return need


# --------------------------------------------------------------------------------------------- sweep spec
def _toml_value(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, int) else f"{v:.10g}"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a JSON string is a valid TOML basic string


def sweep_spec_text(d: Design, *, name: str = "design", data: Mapping[str, Any] | None = None,
                    seq_len: int = DEFAULT_SEQ_LEN, schedule: str = "cosine") -> str:
    """The designed runs as a runner sweep spec (TOML, ``[[runs]]`` list: ``arch`` and ``tokens`` per run).

    ``data`` defaults to the bundled text corpus (bytes, vocabulary 256, which the architectures were counted
    with); ``schedule`` ``cosine`` trains every run to its own budget, as the Chinchilla fits assume.
    """
    stand_in = data is None
    data = dict(data or {"name": "text"})
    t = d.target
    lines = [f"# scalinglab design: {len(d.runs)} runs, {d.flops:.4g} FLOPs (C = 6ND) for target "
             f"N={format_quantity(t.N)}, D={format_quantity(t.D)} ({t.flops:.3g} FLOPs)",
             f"# expected {d.level:.0%} interval at the target: [{d.expected_interval[0]:.4g}, "
             f"{d.expected_interval[1]:.4g}] (width {d.width:.3g}; prior {d.law}, noise {d.noise:g})"]
    if stand_in:  # the design assumed fresh tokens: say what the placeholder corpus gives
        top = max(r.D for r in d.runs)
        lines += ["# data: the bundled text corpus is a placeholder so that this spec runs as written; the design",
                  "# assumed fresh tokens, and the largest run reads "
                  f"{format_quantity(top)} tokens, {top / _TEXT_CORPUS_TOKENS:.3g} passes over its "
                  f"{format_quantity(_TEXT_CORPUS_TOKENS)} byte tokens.",
                  "# For a real study set [defaults] data to your corpus, e.g. data = { path = \"corpus/*.txt\" }"]
    lines += ["", "[sweep]", f"name = {_toml_value(name)}", 'kind = "list"', "", "[defaults]",
             f"data = {_toml_value(data)}", f"seq_len = {int(seq_len)}", f"schedule = {_toml_value(schedule)}",
             'flops_convention = "6N"', 'param_convention = "total"']
    for r in d.runs:
        lines += ["", f"# level {r.level}: {r.flops:.4g} FLOPs, N = {format_quantity(r.N)}, "
                      f"{r.D / r.N:.3g} tokens/param", "[[runs]]", f"arch = {_toml_value(dict(r.arch))}",
                  f"tokens = {int(r.D)}"]
    return "\n".join(lines) + "\n"


def write_sweep(d: Design, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write :func:`sweep_spec_text` to ``path`` atomically; returns the path.

    Raises
    ------
    InputError
        If the directory of ``path`` does not exist.
    """
    from .._io import atomic_write_text

    return atomic_write_text(path, sweep_spec_text(d, **kwargs))
