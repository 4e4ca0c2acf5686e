"""Trend forecasts: when the stock of public text runs out (data wall), and effective compute by year.

Every default is a published trend estimate (sources below and in each result's ``sources``); every one
can be overridden. These are extrapolations of exponential trends, not predictions of decisions.

Data wall (Villalobos et al. 2024, "Will we run out of data? Limits of LLM scaling based on
human-generated data", arXiv 2211.04325 v2, ICML 2024):

* stock: effective stock of quality-adjusted public human text ~3e14 tokens (300T; 90% CI 100T-1000T),
  the paper's headline figure. (The raw indexed web is larger — ~510T tokens is a commonly quoted figure
  for it, not re-checked here; pass ``stock=5.1e14`` to use it.)
* largest training set today: ~15T tokens in 2024 (Llama 3, "over 15T tokens").
* growth, two scenarios:
  - ``compute`` (default): datasets grow as compute-optimal scaling implies, D ∝ C^0.5 (Chinchilla), with
    frontier training compute growing 4-5×/year (Epoch AI, "Training compute of frontier AI models grows
    by 4-5x per year", 2024) → datasets ×2.0-2.24/year. This reproduces the paper's median (~2028).
  - ``historical``: the observed growth of language-model training sets, ~3×/year (Epoch AI data insight
    "dataset-size-trend", Rahman & Owen 2024: 3.0×/yr; 3.7×/yr in another version) — earlier exhaustion.
  Published projection: exhausted between 2026 and 2032 (80% CI), median 2028; earlier with over-training.

Effective compute (Ho et al. 2024 "Algorithmic progress in language models", arXiv 2403.05812):

    effective compute(t) = C0 × (hardware FLOP/$ growth × spending growth)^(t - t0) × algorithmic multiplier

* C0: largest training run in 2024, 3.8e25 FLOPs (Llama 3.1 405B, Grattafiori et al. 2024).
* hardware price-performance: FLOP/s per $ of ML GPUs doubles every 2.07 years (95% CI 1.54-3.13;
  Hobbhahn & Besiroglu 2022, Epoch "Trends in GPU price-performance") → ×1.40/yr (1.25-1.57).
* spending: amortised cost of frontier training runs grows 2.4×/yr (90% CI 2.0-2.9; Cottier et al. 2024,
  "The rising costs of training frontier AI models", arXiv 2405.21015).
  Cross-check: the product, ~3.4×/yr, is below Epoch's observed 4-5×/yr for frontier compute.
* algorithmic efficiency: compute to reach a fixed loss halves every ~8 months (95% CI 5-14; Ho et al.
  2024) → ×2.8/yr (1.8-5.3). Ho et al. find compute scaling contributed more to progress than algorithms
  (the brief's "~35% algorithms vs ~65% scale" split is reported with each forecast as implied by these
  rates, not taken as an input).

Loss caveat: the predicted loss feeds *effective* compute (physical compute × algorithmic multiplier
since t0) into the law's compute-optimal frontier L*(C), i.e. it treats algorithmic progress as a
compute multiplier on the law's base-year training recipe. The law's absolute loss is on its own dataset
and tokenizer; read it as a relative trend, far outside the fitted range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._errors import PlanError
from ._law import resolve_law

__all__ = ["DataWallForecast", "data_wall", "EffectiveComputeForecast", "effective_compute",
           "DATA_WALL_SOURCES", "EFFECTIVE_COMPUTE_SOURCES"]

DATA_WALL_SOURCES = {
    "stock": "Villalobos et al. 2024, arXiv 2211.04325 v2: effective stock ~300T tokens (90% CI 100T-1000T)",
    "current": "Llama 3 (Grattafiori et al. 2024, arXiv 2407.21783): over 15T training tokens (2024)",
    "compute_growth": "Epoch AI 2024, 'Training compute of frontier AI models grows by 4-5x per year'",
    "historical_growth": "Epoch AI data insight 'dataset-size-trend' (Rahman & Owen 2024): ~3.0-3.7x/year",
    "published": "Villalobos et al. 2024: stock fully used between 2026 and 2032 (80% CI), median 2028",
}
EFFECTIVE_COMPUTE_SOURCES = {
    "base": "Llama 3.1 405B: 3.8e25 FLOPs (Grattafiori et al. 2024, arXiv 2407.21783)",
    "hardware": "Hobbhahn & Besiroglu 2022 (Epoch), 'Trends in GPU price-performance': ML GPUs' FLOP/s per $ "
                "doubles every 2.07 years (95% CI 1.54-3.13)",
    "spending": "Cottier et al. 2024, arXiv 2405.21015: frontier training cost grows 2.4x/year (90% CI 2.0-2.9)",
    "algorithms": "Ho et al. 2024, arXiv 2403.05812: compute for a fixed loss halves every ~8 months "
                  "(95% CI 5-14)",
    "cross_check": "Epoch AI 2024: frontier training compute grows 4-5x/year",
}


def _pos(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlanError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise PlanError(f"{what} must be positive, got {value!r}")
    return v


def _rng(value, what: str, central: float | None = None) -> tuple[float, float]:
    if value is None:
        return (central, central)  # type: ignore[return-value]
    lo, hi = (_pos(v, what) for v in value)
    return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True)
class DataWallForecast:
    """Year the largest training set reaches the stock of usable text, with a range (years as floats)."""

    year: float
    year_range: tuple[float, float]
    stock_tokens: float
    stock_range: tuple[float, float]
    current_tokens: float
    current_year: int
    growth: float
    growth_range: tuple[float, float]
    method: str
    scenarios: tuple[dict, ...] = ()
    trajectory: tuple[tuple[int, float], ...] = ()
    published_range: tuple[int, int] = (2026, 2032)
    sources: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``year``, ``year_range``, ``stock_tokens``, ``stock_range``, ``current_tokens``
        (tokens), ``current_year``, ``growth_per_year``, ``growth_range``, ``method``, ``scenarios``,
        ``trajectory`` (``year``, ``largest_dataset_tokens``), ``published_range`` and ``sources``.
        """
        return {"year": self.year, "year_range": list(self.year_range), "stock_tokens": self.stock_tokens,
                "stock_range": list(self.stock_range), "current_tokens": self.current_tokens,
                "current_year": self.current_year, "growth_per_year": self.growth,
                "growth_range": list(self.growth_range), "method": self.method,
                "scenarios": [dict(s) for s in self.scenarios],
                "trajectory": [{"year": y, "largest_dataset_tokens": t} for y, t in self.trajectory],
                "published_range": list(self.published_range), "sources": dict(self.sources)}


def _exhaustion(stock: float, current: float, year0: int, growth: float) -> float:
    if growth <= 1:
        return math.inf
    if current >= stock:
        return float(year0)
    return year0 + math.log(stock / current) / math.log(growth)


#: the published stock's 90 % range relative to its median (Villalobos et al. 2024: 100T-1000T around 300T)
STOCK_RANGE_FACTORS = (1 / 3, 10 / 3)


def data_wall(*, stock: float = 3e14, stock_range: tuple[float, float] | None = None,
              current_tokens: float = 15e12, current_year: int = 2024, method: str = "compute",
              growth: float | None = None, growth_range: tuple[float, float] | None = None,
              compute_growth: tuple[float, float] = (4.0, 5.0), data_exponent: float = 0.5,
              historical_growth: float = 3.3, historical_range: tuple[float, float] = (3.0, 3.7),
              horizon: int = 2040) -> DataWallForecast:
    """Forecast the year the largest training set equals the stock of usable text (see module doc).

    ``method="compute"``: datasets grow as ``compute_growth ** data_exponent`` per year (compute-optimal
    scaling); ``"historical"``: ``historical_growth`` per year. ``growth`` (and ``growth_range``) override
    either. The range combines the stock range with the growth range (earliest: small stock, fast growth).
    ``stock_range``: (low, high) tokens around ``stock``; default the published range's spread around its
    median (`STOCK_RANGE_FACTORS`: 100T-1000T for the default 300T) applied to ``stock``. A stock at or below
    ``current_tokens`` is already reached: its year is ``current_year``.

    Raises
    ------
    PlanError
        If ``method`` is unknown, a stock/token/growth number is not positive, the stock lies outside its
        range, the growth is not above 1× per year, or ``current_year`` is more than 1000 years before the
        horizon.
    """
    stock = _pos(stock, "stock of tokens")
    current = _pos(current_tokens, "current largest training set (tokens)")
    if stock_range is None:
        stock_range = (stock * STOCK_RANGE_FACTORS[0], stock * STOCK_RANGE_FACTORS[1])
    s_lo, s_hi = _rng(stock_range, "stock range", stock)
    if not s_lo <= stock <= s_hi:
        raise PlanError(f"the stock ({stock:.3g} tokens) lies outside its range [{s_lo:.3g}, {s_hi:.3g}]; give a "
                        "range around it (or none: the published spread around the stock)")
    cg = _rng(compute_growth, "compute growth per year")
    scen = {
        "compute": (math.sqrt(cg[0] * cg[1]) ** data_exponent, (cg[0] ** data_exponent, cg[1] ** data_exponent),
                    f"compute-optimal datasets: D ∝ C^{data_exponent:g}, compute ×{cg[0]:g}-{cg[1]:g}/year"),
        "historical": (_pos(historical_growth, "historical growth"), _rng(historical_range, "historical range"),
                       "observed growth of LM training sets"),
    }
    if method not in scen:
        raise PlanError(f"unknown data-wall method {method!r}; use 'compute' or 'historical'")
    scenarios = []
    for name, (g, (g_lo, g_hi), what) in scen.items():
        if name == method and growth is not None:
            g = _pos(growth, "dataset growth per year")
            g_lo, g_hi = _rng(growth_range, "growth range", g)
            what = "given growth rate"
        if g <= 1 or g_lo <= 1:
            raise PlanError(f"dataset growth must be above 1×/year for the stock to run out, got {g_lo:g}")
        years = (_exhaustion(stock, current, current_year, g),
                 _exhaustion(s_lo, current, current_year, g_hi), _exhaustion(s_hi, current, current_year, g_lo))
        scenarios.append({"method": name, "description": what, "growth_per_year": g, "growth_range": [g_lo, g_hi],
                          "year": years[0], "year_range": [years[1], years[2]]})
    main = next(s for s in scenarios if s["method"] == method)
    g = main["growth_per_year"]
    if horizon - current_year > 1000:
        raise PlanError(f"current year {current_year} is more than 1000 years before the horizon {horizon}")

    def grown(years: int) -> float:
        try:
            return current * g ** years
        except OverflowError:  # a huge growth rate: the stock is long exhausted
            return math.inf

    traj = tuple((y, grown(y - current_year)) for y in range(current_year, horizon + 1)
                 if grown(y - current_year) <= stock * 10)
    return DataWallForecast(year=main["year"], year_range=tuple(main["year_range"]), stock_tokens=stock,
                            stock_range=(s_lo, s_hi), current_tokens=current, current_year=int(current_year),
                            growth=g, growth_range=tuple(main["growth_range"]), method=method,
                            scenarios=tuple(scenarios), trajectory=traj, sources=dict(DATA_WALL_SOURCES))


@dataclass(frozen=True)
class EffectiveComputeForecast:
    """Largest feasible run by year: physical and effective FLOPs (central, lo, hi) and predicted loss."""

    rows: tuple[dict, ...]
    growth: dict
    law: str
    notes: tuple[str, ...] = ()
    sources: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``rows`` (one per year: ``physical_flops``, ``effective_flops`` in FLOPs with
        ``_range`` [lo, hi], ``algorithmic_multiplier``, ``N_opt``, ``D_opt``, ``loss``, ``loss_range``),
        ``growth`` (per-year factors), ``law``, ``notes`` and ``sources``.
        """
        return {"rows": [dict(r) for r in self.rows], "growth": dict(self.growth), "law": self.law,
                "notes": list(self.notes), "sources": dict(self.sources)}


def effective_compute(*, years=None, base_year: int = 2024, base_flops: float = 3.8e25,
                      hardware_doubling_years: float = 2.07, hardware_range: tuple[float, float] = (1.54, 3.13),
                      spending_growth: float = 2.4, spending_range: tuple[float, float] = (2.0, 2.9),
                      algorithmic_halving_months: float = 8.0, algorithmic_range: tuple[float, float] = (5.0, 14.0),
                      law=None) -> EffectiveComputeForecast:
    """Effective compute of the largest feasible run by year, and its predicted loss under ``law``.

    Growth factors per year: hardware ``2^(1/doubling)``, spending ``spending_growth``, algorithms
    ``2^(12/halving_months)``. Ranges combine the low (high) ends of all three.

    Raises
    ------
    PlanError
        If ``years`` is empty, a growth or FLOP number is not positive, or ``law`` cannot be resolved.
    """
    from .allocation import optimum

    years = list(range(base_year, base_year + 7)) if years is None else [int(y) for y in years]
    if not years:
        raise PlanError("no years to forecast")
    C0 = _pos(base_flops, "base-year training FLOPs")
    hw_c = 2 ** (1 / _pos(hardware_doubling_years, "hardware doubling time (years)"))
    hr = _rng(hardware_range, "hardware doubling range")
    hw = (hw_c, 2 ** (1 / hr[1]), 2 ** (1 / hr[0]))
    sp = (_pos(spending_growth, "spending growth"), *_rng(spending_range, "spending range"))
    al_c = 2 ** (12 / _pos(algorithmic_halving_months, "algorithmic halving time (months)"))
    ar = _rng(algorithmic_range, "algorithmic halving range")
    al = (al_c, 2 ** (12 / ar[1]), 2 ** (12 / ar[0]))
    phys = tuple(h * s for h, s in zip(hw, sp, strict=True))
    eff = tuple(p * a for p, a in zip(phys, al, strict=True))
    spec = resolve_law(law, n_draws=0)
    spec.require("N", "D", what="the effective-compute forecast's loss")
    rows = []
    for y in years:
        dt = y - base_year
        c_phys = [C0 * g ** dt for g in phys]
        mult = [g ** dt for g in al]
        c_eff = [C0 * g ** dt for g in eff]
        N, D, _ = optimum(spec, c_phys[0])
        losses = [float(optimum(spec, c)[2][0]) for c in c_eff]
        rows.append({"year": y, "physical_flops": c_phys[0], "physical_flops_range": [c_phys[1], c_phys[2]],
                     "algorithmic_multiplier": mult[0], "algorithmic_multiplier_range": [mult[1], mult[2]],
                     "effective_flops": c_eff[0], "effective_flops_range": [c_eff[1], c_eff[2]],
                     "N_opt": float(N[0]), "D_opt": float(D[0]),
                     "loss": losses[0], "loss_range": [min(losses[1:]), max(losses[1:])]})
    share = math.log(al[0]) / math.log(eff[0])
    growth = {"hardware_per_year": list(hw), "spending_per_year": list(sp), "physical_per_year": list(phys),
              "algorithmic_per_year": list(al), "effective_per_year": list(eff),
              "algorithmic_share_of_effective_growth": share, "order": "central, low, high"}
    notes = (f"physical compute grows ×{phys[0]:.2f}/year here (hardware ×{hw[0]:.2f} × spending ×{sp[0]:.2f}); "
             "Epoch observes ×4-5/year for frontier runs (bigger clusters and longer runs outpace the spending "
             "trend) — pass spending_growth (--spending-growth) to match it",
             f"algorithms contribute {share:.0%} of effective-compute growth at these rates (Ho et al. 2024 find "
             "scale contributed more than algorithms)",
             "loss = the law's compute-optimal loss at EFFECTIVE compute: algorithmic progress is treated as a "
             "compute multiplier on the law's base-year recipe; absolute values are on the law's own dataset and "
             "tokenizer and far outside its fitted range — read them as a relative trend",
             "N_opt/D_opt: compute-optimal allocation of the PHYSICAL compute under the law")
    return EffectiveComputeForecast(rows=tuple(rows), growth=growth, law=spec.name, notes=notes,
                                    sources=dict(EFFECTIVE_COMPUTE_SOURCES))
