"""Planning library: published numbers, solver cross-checks, inference-aware and data-constrained optima,
forecasts, audit and errors. All fast (closed forms or small grids)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from scalinglab import CatalogError, PlanError
from scalinglab.plan import (
    LawSpec,
    audit,
    compare_rules,
    compute_optimal,
    data_constrained_optimum,
    data_wall,
    effective_compute,
    effective_tokens,
    inference_demand_for,
    inference_optimal,
    loss_at,
    optimum,
    plan,
    plan_budget,
    plan_for_loss,
    plan_for_params,
    resolve_law,
    scaling_ratios,
)
from scalinglab.plan.data_constrained import R_D_STAR, repetition_check
from scalinglab.plan.rules import RULES
from scalinglab.units import format_quantity

C_GOPHER = 5.76e23


# --------------------------------------------------------------------------------------------- published numbers
def test_hoffmann_printed_constants_frontier():
    p = compute_optimal(C_GOPHER, "chinchilla-hoffmann")
    assert p.N_opt == pytest.approx(3.22e10, rel=0.01)
    assert p.D_opt == pytest.approx(2.98e12, rel=0.01)
    assert p.tokens_per_param == pytest.approx(93, abs=1.0)
    assert 6 * p.N_opt * p.D_opt == pytest.approx(C_GOPHER, rel=1e-12)


def test_epoch_refit_reproduces_chinchilla():
    p = compute_optimal(C_GOPHER, "chinchilla-epoch")
    assert p.N_opt == pytest.approx(7.2e10, rel=0.02)
    assert p.tokens_per_param == pytest.approx(18.4, abs=0.3)
    # the interval contains the point and Chinchilla's own 70B / 20 tokens per param
    lo, hi = p.intervals["N_opt"]
    assert lo < p.N_opt < hi and lo < 70e9 < hi
    lo, hi = p.intervals["tokens_per_param"]
    assert lo < 20 < hi
    assert "parametric" in p.assumptions["interval"]


def test_unrounded_hoffmann_constants():
    p = compute_optimal(C_GOPHER, "chinchilla-hoffmann-unrounded")
    assert p.N_opt == pytest.approx(40e9, rel=0.05)
    assert p.tokens_per_param == pytest.approx(59, rel=0.05)


def test_default_law_is_epoch_and_assumptions_are_stated():
    p = compute_optimal(1e22)
    a = p.assumptions
    assert a["law"] == "chinchilla-epoch"
    assert "6ND" in a["flop_convention"]
    assert a["gpu"] == "H100" and a["n_gpus"] == 1024 and a["mfu"] == [0.3, 0.5]
    assert "Besiroglu" in a["law_source"]
    assert p.cost["usd"][0] < p.cost["usd"][1]


def test_pivoted_draws_match_published_standard_errors():
    spec = resolve_law("chinchilla-epoch", n_draws=2000, seed=1)
    A, B = spec.draws[:, 1], spec.draws[:, 2]
    # published: A = 482 (SE 125), B = 2085 (SE 1293); the pivoted draws imply spreads of that size
    assert 0.5 < np.std(A) / 124.58 < 2.0
    assert 0.5 < np.std(B) / 1293.23 < 2.0
    assert np.median(A) == pytest.approx(482.01, rel=0.15)


def test_a_preset_predicts_the_loss_interval_its_plan_gives():
    """One draw for a preset's published standard errors: `predict` from chinchilla-epoch gave [1.891, 2.118]
    at the plan's own (N*, D*), independent draws, where the plan (pivoted draws) gave [1.937, 2.013]."""
    from scalinglab.fit import FitResult

    p = compute_optimal(5.76e23, "chinchilla-epoch")
    r = FitResult.load("chinchilla-epoch")
    pred = r.predict(N=p.N_opt, D=p.D_opt, warn=False)
    assert pred.value == pytest.approx(p.loss, rel=1e-9)
    np.testing.assert_allclose(pred.interval, p.intervals["loss"], rtol=2e-3)
    assert r.data_ranges == {"N": (7e7, 1.6e10), "D": (5e9, 5e11)}
    assert any("N reaches 4.5" in w and "parameter uncertainty only" in w for w in pred.warnings)


# --------------------------------------------------------------------------------------------- solvers
@pytest.mark.parametrize("flops", [1e19, 5.76e23, 1e27])
def test_closed_form_matches_numeric_solver(flops):
    spec = resolve_law("chinchilla-epoch", n_draws=50)
    N1, D1, L1 = optimum(spec, flops)
    N2, D2, L2 = optimum(spec, flops, numeric=True)
    np.testing.assert_allclose(N2, N1, rtol=2e-4)
    np.testing.assert_allclose(D2, D1, rtol=2e-4)
    np.testing.assert_allclose(L2, L1, rtol=1e-8)


def test_numeric_optimum_of_kaplan_nd_is_a_minimum():
    spec = resolve_law("kaplan-2020-nd")
    C = 1e21
    N, D, L = (float(a[0]) for a in optimum(spec, C))
    Ns = N * np.array([0.8, 0.95, 1.05, 1.25])
    Ls = spec.law.evaluate(spec.theta, {"N": Ns, "D": C / (6 * Ns)})
    assert np.all(Ls > L)
    assert float(spec.law.evaluate(spec.theta, {"N": np.array([N]), "D": np.array([D])})[0]) == pytest.approx(L, rel=1e-7)


def test_inverse_queries_round_trip():
    p = compute_optimal(1e23)
    q = plan_for_loss(p.loss)
    assert q.flops == pytest.approx(1e23, rel=1e-6)
    assert q.N_opt == pytest.approx(p.N_opt, rel=1e-6)
    # best D for a fixed N: the frontier D, i.e. N is compute-optimal at C = 6ND
    r = plan_for_params(p.N_opt)
    assert r.D_opt == pytest.approx(p.D_opt, rel=1e-6)
    # tokens needed for a target loss at fixed N, then the loss there is the target
    s = plan_for_params(7e10, target_loss=1.95)
    assert loss_at(7e10, s.D_opt)[0] == pytest.approx(1.95, abs=1e-9)
    # loss at (N, D) matches the law
    value, (lo, hi) = loss_at(7e10, 1.4e12)
    assert value == pytest.approx(1.8172 + 482.01 / 7e10**0.3478 + 2085.43 / 1.4e12**0.3658, rel=1e-12)
    assert lo < value < hi


def test_generic_inverse_query_matches_closed_form():
    spec = resolve_law("chinchilla-epoch", n_draws=0)
    generic = LawSpec(law=_Generic(spec.law), theta=spec.theta, name="generic")
    assert not generic.is_chinchilla
    a = plan_for_loss(2.0, spec)
    b = plan_for_loss(2.0, generic)
    assert b.flops == pytest.approx(a.flops, rel=1e-3)
    c = plan_for_params(3e10, spec, target_loss=2.05)
    d = plan_for_params(3e10, generic, target_loss=2.05)
    assert d.D_opt == pytest.approx(c.D_opt, rel=1e-6)


class _Generic:
    """The chinchilla law in disguise, to exercise the generic solvers."""

    def __init__(self, law):
        self._law = law
        self.name = "chinchilla-generic"
        self.variables = law.variables
        self.params = law.params
        self.param_names = law.param_names
        self.formula = law.formula

    def evaluate(self, theta, X):
        return self._law.evaluate(theta, X)


def test_fit_with_bootstrap_gives_bootstrap_intervals():
    spec = resolve_law("chinchilla-epoch", n_draws=200, seed=3)
    fake_fit = SimpleNamespace(law=spec.law, params=spec.params, theta=spec.theta, bootstrap=spec.draws,
                               data_ranges={"N": (1e8, 1e10), "D": (1e9, 1e11)})
    p = compute_optimal(C_GOPHER, fake_fit)
    assert "bootstrap" in p.assumptions["interval"]
    assert p.intervals["N_opt"][0] < p.N_opt < p.intervals["N_opt"][1]
    assert p.details["extrapolation"]["N"]["factor_beyond"] == pytest.approx(p.N_opt / 1e10)


def test_a_plan_with_unique_tokens_from_a_fit_keeps_the_fits_prediction_interval():
    """--unique-tokens under a fitted (N, D) law plans at Muennighoff et al.'s effective parameters and data;
    its loss interval is the fit's prediction interval there, at least as wide as the actual run's (run noise and reach
    included), not the parameter draws alone (which were ~3x narrower than the plan without the limit)."""
    import warnings

    from scalinglab.fit import fit

    rng = np.random.default_rng(2)
    N = np.repeat(np.logspace(7.5, 9, 6), 4)
    D = N * np.tile([5, 10, 20, 40], 6)
    L = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit({"params": N, "tokens": D, "loss": L * np.exp(0.01 * rng.standard_normal(L.size))}, "chinchilla")
    free = compute_optimal(1e22, res)
    tight = compute_optimal(1e22, res, unique_tokens=1e10)
    D_eff = effective_tokens(tight.D_opt, 1e10)
    N_eff = tight.to_dict()["data_constrained"]["effective_params"]  # excess parameters decay as well
    assert N_eff < tight.N_opt
    want = res.predict(N=N_eff, D=D_eff, warn=False)
    actual = res.predict(N=tight.N_opt, D=tight.D_opt, warn=False)  # the run itself: its reach, its band
    assert tight.loss == pytest.approx(float(want.value), rel=1e-7)
    lo, hi = tight.intervals["loss"]
    assert lo == pytest.approx(min(want.interval[0], want.value * actual.interval[0] / actual.value), rel=1e-7)
    assert hi == pytest.approx(max(want.interval[1], want.value * actual.interval[1] / actual.value), rel=1e-7)
    width = np.log(tight.intervals["loss"][1] / tight.intervals["loss"][0])
    assert width > 0.5 * np.log(free.intervals["loss"][1] / free.intervals["loss"][0])


# --------------------------------------------------------------------------------------------- rules
def test_scaling_ratios_kaplan_vs_chinchilla():
    r = scaling_ratios(10)
    assert r["kaplan"]["params"] == pytest.approx(10**0.73) and r["kaplan"]["params"] == pytest.approx(5.4, abs=0.05)
    assert r["kaplan"]["tokens"] == pytest.approx(1.9, abs=0.05)
    assert r["chinchilla"]["params"] == pytest.approx(3.16, abs=0.01)
    assert r["chinchilla"]["tokens"] == pytest.approx(3.16, abs=0.01)
    law = r["chinchilla-epoch"]
    assert law["params"] == pytest.approx(3.1, rel=0.06) and law["tokens"] == pytest.approx(3.1, rel=0.06)
    # the law's ratio is what its own plans do
    assert compute_optimal(1e24).N_opt / compute_optimal(1e23).N_opt == pytest.approx(law["params"], rel=1e-9)


def test_llama3_rule_is_tokens_and_reproduces_paper():
    N, D = RULES["llama3"].allocate(3.8e25)
    assert D == pytest.approx(16.55e12, rel=0.03)  # tokens, as in the paper's extrapolation
    assert 6 * N * D == pytest.approx(3.8e25)


def test_compare_rules_scores_each_allocation():
    cmp = compare_rules(C_GOPHER)
    rows = {r["rule"]: r for r in cmp.rows}
    assert set(rows) == {"kaplan", "chinchilla", "llama3", "chinchilla-epoch"}
    assert rows["kaplan"]["N"] > 5 * rows["chinchilla"]["N"]
    assert rows["kaplan"]["loss_gap"] > 0.01 and rows["chinchilla-epoch"]["loss_gap"] == 0


# --------------------------------------------------------------------------------------------- cost
def test_gpt3_compute_and_cost_contains_published_estimates():
    a = audit()
    gpt3 = a.row("GPT-3 175B")
    assert gpt3["flops"] == pytest.approx(3.15e23, rel=1e-12)
    assert gpt3["published_flops"] == pytest.approx(3.14e23)
    # V100s at GPT-3's era MFU (~21% reported): the range covers the published $4.6M-$12M estimates
    p = plan_for_params(175e9, tokens=300e9, gpu="V100", n_gpus=1024, mfu=(0.15, 0.35))
    lo, hi = p.cost["usd"]
    assert lo < 4.6e6 and hi > 12e6
    q = plan_for_params(175e9, tokens=300e9, gpu="A100", n_gpus=1024, mfu=(0.2, 0.5))
    assert q.cost["usd"][0] < 4.6e6 < q.cost["usd"][1]


def test_budget_in_dollars_plans_both_ends():
    b = plan_budget("5M", gpu="H100", n_gpus=1024, mfu="0.3-0.5")
    lo, hi = b.flops_range
    assert lo < hi and b.low.flops == pytest.approx(lo) and b.high.flops == pytest.approx(hi)
    # the low end spends the whole budget at the high price and low MFU
    assert b.low.cost["usd"][1] == pytest.approx(5e6, rel=1e-9)
    assert b.high.cost["usd"][0] == pytest.approx(5e6, rel=1e-9)
    assert b.high.N_opt > b.low.N_opt
    d = b.to_dict()
    assert d["N_opt"] == [b.low.N_opt, b.high.N_opt]


def test_moe_active_vs_total():
    p = compute_optimal(1e23, active_ratio=0.25)
    moe = p.details["moe"]
    assert moe["total_params"] == pytest.approx(4 * p.N_opt)
    assert moe["weights_memory_gb_bf16"] == pytest.approx(4 * p.N_opt * 2 / 1e9)
    with pytest.raises(PlanError):
        compute_optimal(1e23, active_ratio=1.5)


# --------------------------------------------------------------------------------------------- inference-aware
def test_inference_zero_demand_equals_chinchilla():
    p = compute_optimal(C_GOPHER)
    inf = inference_optimal(0.0, flops=C_GOPHER)
    assert inf.N == pytest.approx(p.N_opt, rel=1e-9)
    assert inf.D_train == pytest.approx(p.D_opt, rel=1e-9)
    assert inf.overtraining_factor == pytest.approx(1.0, rel=1e-9)
    assert inf.saving_flops == pytest.approx(0.0, abs=1e-6 * C_GOPHER)


def test_inference_demand_moves_monotonically_to_more_tokens_per_param():
    demands = [0, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
    plans = [inference_optimal(d, flops=C_GOPHER) for d in demands]
    tpp = [p.tokens_per_param for p in plans]
    N = [p.N for p in plans]
    saving = [p.saving_fraction for p in plans]
    assert all(b > a for a, b in zip(tpp, tpp[1:], strict=False))
    assert all(b < a for a, b in zip(N, N[1:], strict=False))
    assert all(b >= a for a, b in zip(saving, saving[1:], strict=False))
    for p in plans:  # same loss as the Chinchilla-optimal model
        assert loss_at(p.N, p.D_train)[0] == pytest.approx(p.target_loss, abs=1e-9)


def test_inference_numeric_solver_agrees_with_closed_form():
    a = inference_optimal(2e12, flops=C_GOPHER, n_draws=0)
    b = inference_optimal(2e12, flops=C_GOPHER, n_draws=0, numeric=True)
    assert b.N == pytest.approx(a.N, rel=2e-3)
    assert b.tokens_per_param == pytest.approx(a.tokens_per_param, rel=5e-3)


def test_llama3_8b_breakeven_inference_demand():
    r = inference_demand_for(8.03e9, 15e12)
    assert 1e12 < r.inference_tokens < 1e15
    assert r.D / r.N == pytest.approx(1868, rel=0.01)
    # at that demand, 8B on 15T is exactly the inference-aware optimum for its loss
    p = inference_optimal(r.inference_tokens, target_loss=r.loss)
    assert p.N == pytest.approx(8.03e9, rel=1e-4)
    assert p.D_train == pytest.approx(15e12, rel=1e-4)
    assert p.overtraining_factor > 50
    # an under-trained model is optimal for no demand
    assert inference_demand_for(175e9, 300e9).inference_tokens == 0.0


# --------------------------------------------------------------------------------------------- data-constrained
def test_effective_tokens_formula():
    U = 1e11
    assert effective_tokens(5e10, U) == pytest.approx(5e10)
    assert effective_tokens(2 * U, U) == pytest.approx(U + U * R_D_STAR * (1 - math.exp(-1 / R_D_STAR)))
    assert effective_tokens(1e6 * U, U) == pytest.approx(U * (1 + R_D_STAR), rel=1e-9)


def test_data_constrained_optimum():
    free = data_constrained_optimum(1e22, 1e14)
    assert free.loss_penalty == pytest.approx(0.0, abs=1e-9) and free.epochs < 1
    scarce = data_constrained_optimum(1e22, 1e10)
    assert scarce.epochs > 16 and scarce.loss_penalty > 0.01
    assert scarce.N_opt < free.N_opt  # fewer params, more epochs
    assert any("epochs" in w and "R_D*" in w for w in scarce.warnings)
    with pytest.raises(PlanError):
        data_constrained_optimum(1e22, 1e10, law="chinchilla-epoch")  # no U variable


def test_unique_tokens_on_the_chinchilla_route():
    spec = resolve_law("chinchilla-epoch", n_draws=0)
    section, warnings = repetition_check(spec, 7e10, 1.4e12, 2e11)
    assert section["epochs"] == pytest.approx(7.0)
    assert section["loss_with_repetition"] > loss_at(7e10, 1.4e12)[0]
    assert any("beyond ~4 epochs" in w for w in warnings)
    _, warnings = repetition_check(spec, 7e10, 1.4e12, 5e10)
    assert any("R_D* + 1" in w for w in warnings)
    p = compute_optimal(C_GOPHER, unique_tokens="4T")
    assert p.details["data_constrained"]["epochs"] < 1 and not any("epochs" in w for w in p.warnings)


# --------------------------------------------------------------------------------------------- forecasts
def test_data_wall_defaults_in_published_range():
    f = data_wall()
    assert 2026 <= f.year <= 2032
    assert 2025 <= f.year_range[0] < f.year < f.year_range[1] <= 2033
    # exactly log(stock/current)/log(growth) years after 2024
    assert f.year == pytest.approx(2024 + math.log(3e14 / 15e12) / math.log(f.growth))
    assert data_wall(stock=5.1e14).year > f.year
    assert data_wall(method="historical").year < f.year
    with pytest.raises(PlanError):
        data_wall(growth=0.9)


def test_effective_compute_forecast():
    f = effective_compute(years=range(2024, 2029))
    rows = f.rows
    assert rows[0]["physical_flops"] == pytest.approx(3.8e25) and rows[0]["algorithmic_multiplier"] == 1
    g = f.growth
    assert g["effective_per_year"][0] == pytest.approx(2 ** (1 / 2.07) * 2.4 * 2 ** 1.5)
    assert rows[4]["effective_flops"] == pytest.approx(3.8e25 * g["effective_per_year"][0] ** 4)
    losses = [r["loss"] for r in rows]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert 0 < g["algorithmic_share_of_effective_growth"] < 1


# --------------------------------------------------------------------------------------------- audit
def test_audit_classifies_landmark_models():
    a = audit()
    assert a.row("GPT-3 175B")["verdict"] == "under-trained"
    assert a.row("Chinchilla 70B")["verdict"] == "near compute-optimal"
    llama = a.row("Llama 3 8B")
    assert llama["verdict"] == "over-trained" and llama["tokens_per_param"] == pytest.approx(1868, rel=0.01)
    assert llama["loss"] > llama["optimal_loss"]


# --------------------------------------------------------------------------------------------- errors & result
@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), "abc"])
def test_bad_compute(bad):
    with pytest.raises((PlanError, ValueError)):
        compute_optimal(bad)


def test_errors_are_clear():
    with pytest.raises(CatalogError):
        compute_optimal(1e23, gpu="NOPE-9000")
    with pytest.raises(PlanError, match="needs a law of N and D"):
        compute_optimal(1e23, "kaplan-2020-n")
    with pytest.raises(PlanError, match="unreachable: .*irreducible loss is 1.8172"):
        plan_for_loss(1.8)
    with pytest.raises(PlanError, match="unreachable"):
        plan_for_params(1e6, target_loss=2.0)
    with pytest.raises(PlanError, match="exactly one"):
        plan(1e23, budget_usd=1e6)
    with pytest.raises(PlanError):
        resolve_law("chinchilla")  # a form without constants


def test_plan_to_dict_and_html():
    p = compute_optimal(C_GOPHER, inference_tokens="2T")
    d = p.to_dict()
    for key in ("N_opt", "D_opt", "tokens_per_param", "loss", "intervals", "cost", "warnings", "assumptions"):
        assert key in d
    assert set(d["intervals"]) == {"flops", "N_opt", "D_opt", "tokens_per_param", "loss"}  # training FLOPs vary
    # the headline is the inference-aware plan; the compute-optimal one (72.2B params) is nested
    assert d["tokens_per_param"] == d["inference"]["tokens_per_param"] > d["compute_optimal"]["tokens_per_param"]
    assert f"{d['compute_optimal']['N_opt'] / 1e9:.1f}" == "72.2"
    html = p._repr_html_()
    assert format_quantity(p.N_opt) in html and "<table>" in html
    with pytest.raises(AttributeError):
        p.N_opt = 1.0  # frozen


def test_muennighoff_route_through_compute_optimal():
    p = compute_optimal(1e22, "muennighoff-2023", unique_tokens="10B")
    dc = data_constrained_optimum(1e22, 1e10)
    assert p.N_opt == pytest.approx(dc.N_opt, rel=1e-9)
    assert p.details["unconstrained"]["loss_penalty"] == pytest.approx(dc.loss_penalty, rel=1e-6)
    assert p.details["data_constrained"]["epochs"] == pytest.approx(dc.epochs, rel=1e-9)
    with pytest.raises(PlanError, match="unique"):
        compute_optimal(1e22, "muennighoff-2023")


def test_plan_from_a_real_fit_file(tmp_path):
    from scalinglab.fit import FitResult, fit

    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(3e9), 60))
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 60))
    L = (1.8172 + 482.01 / N**0.3478 + 2085.43 / D**0.3658) * np.exp(rng.normal(0, 0.005, 60))
    path = tmp_path / "fit.json"
    fit({"params": N, "tokens": D, "loss": L}, "chinchilla", bootstrap=30).to_json(path)
    p = compute_optimal(C_GOPHER, str(path))
    assert "bootstrap: 30" in p.assumptions["interval"]
    lo, hi = p.intervals["N_opt"]
    assert lo < p.N_opt < hi
    assert p.N_opt == pytest.approx(7.2e10, rel=0.4)  # truth's optimum, recovered from 60 small runs
    assert any("extrapolation" in w for w in p.warnings)
    # a preset loaded as a FitResult plans like the preset itself
    assert compute_optimal(C_GOPHER, FitResult.load("chinchilla-epoch")).intervals == \
        compute_optimal(C_GOPHER).intervals


def test_plan_from_a_fit_gives_an_actual_runs_loss_interval():
    """A plan's loss from a fit is the fit's calibrated prediction for an actual run at (N*, D*): wider than
    the spread of the law's mean over parameter draws, and the same number `predict` and `loss_at` give."""
    from dataclasses import replace

    from scalinglab.fit import fit

    rng = np.random.default_rng(1)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 50))
    D = np.exp(rng.uniform(np.log(1e9), np.log(3e10), 50))
    truth = lambda n, d: 1.8172 + 482.01 / n**0.3478 + 2085.43 / d**0.3658  # noqa: E731
    res = fit({"params": N, "tokens": D, "loss": truth(N, D) * np.exp(rng.normal(0, 0.01, 50))}, "chinchilla")
    p = compute_optimal(1e22, res)
    run = res.predict(N=p.N_opt, D=p.D_opt)
    assert p.intervals["loss"] == pytest.approx(run.interval, rel=1e-12)
    assert p.details["loss_prediction"]["interval"] == pytest.approx(list(run.interval), rel=1e-12)
    assert p.loss == pytest.approx(float(run.value), rel=1e-9)
    assert "prediction interval for an actual run" in p.assumptions["interval"]
    mean_only = compute_optimal(1e22, replace(resolve_law(res), predictor=None))
    assert mean_only.N_opt == p.N_opt and mean_only.intervals["N_opt"] == p.intervals["N_opt"]
    lo, hi = p.intervals["loss"]
    mlo, mhi = mean_only.intervals["loss"]
    assert lo < p.loss < hi and hi - lo > 1.5 * (mhi - mlo)  # run noise and reach on top of the mean's spread
    assert loss_at(p.N_opt, p.D_opt, res)[1] == pytest.approx(run.interval, rel=1e-12)
    # the compute for a target loss: the actual run's loss at that plan straddles the target
    t = plan_for_loss(2.2, res)
    assert t.intervals["loss"][0] < 2.2 < t.intervals["loss"][1]
    # a preset keeps the spread over its published draws (no runs to calibrate on)
    assert "loss_prediction" not in compute_optimal(1e22).details


# --------------------------------------------------------------------------------------------- the plan asked for
def test_inference_demand_makes_the_headline_the_inference_aware_plan():
    co = compute_optimal(1e23)
    p = compute_optimal(1e23, inference_tokens="1T")
    inf = inference_optimal(1e12, flops=1e23)
    d = p.to_dict()
    assert (p.N_opt, p.D_opt, p.tokens_per_param) == pytest.approx((inf.N, inf.D_train, inf.tokens_per_param))
    assert p.flops == pytest.approx(inf.train_flops) and p.loss == pytest.approx(co.loss)
    assert d["compute_optimal"]["N_opt"] == pytest.approx(co.N_opt)
    assert d["compute_optimal"]["D_opt"] == pytest.approx(co.D_opt)
    assert d["compute_optimal"]["flops"] == 1e23 and d["inference"]["N"] == pytest.approx(p.N_opt)
    assert p.N_opt < co.N_opt and p.tokens_per_param > 2 * co.tokens_per_param  # over-trained, smaller
    lo, hi = d["intervals"]["N_opt"]
    assert lo < p.N_opt < hi and hi < co.N_opt * 1.5
    assert "inference-aware" in d["assumptions"]["objective"]


def test_zero_inference_demand_is_the_compute_optimal_plan():
    co = compute_optimal(1e23)
    p = compute_optimal(1e23, inference_tokens=0)
    assert (p.N_opt, p.D_opt, p.loss) == pytest.approx((co.N_opt, co.D_opt, co.loss), rel=1e-9)
    assert p.to_dict()["inference"]["saving_fraction"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(PlanError, match="non-negative"):
        compute_optimal(1e23, inference_tokens=-1)


def test_target_loss_with_inference_demand_leads_with_the_inference_plan():
    co = plan_for_loss(2.1)
    p = plan_for_loss(2.1, inference_tokens="1T")
    assert p.loss == 2.1 and p.N_opt < co.N_opt and p.flops > co.flops  # more training, cheaper lifetime
    assert p.to_dict()["compute_optimal"]["flops"] == pytest.approx(co.flops)
    assert p.to_dict()["inference"]["saving_fraction"] > 0


def test_unique_tokens_plan_accounts_for_repetition():
    free = compute_optimal(1e23)
    p = compute_optimal(1e23, unique_tokens="100B")  # the free plan would need 566B tokens: 5.7 epochs
    d = p.to_dict()
    assert d["unconstrained"]["N_opt"] == pytest.approx(free.N_opt, rel=1e-3)
    # repeated tokens and parameters beyond the optimum for the unique data both lose value, parameters faster
    # (R_N* < R_D*): compute goes to epochs, not to a larger model (Muennighoff et al. 2023)
    assert p.D_opt > free.D_opt and p.N_opt < free.N_opt
    assert d["data_constrained"]["effective_params"] < p.N_opt
    assert p.loss > free.loss and p.loss == pytest.approx(d["data_constrained"]["loss_with_repetition"])
    # the headline is the best plan under repetition: a neighbour along C = 6ND is no better
    spec = resolve_law(None, n_draws=0)
    from scalinglab.plan.data_constrained import with_repetition

    law = with_repetition(spec).law
    for f in (0.9, 1.1):
        N = p.N_opt * f
        L = law.evaluate(spec.theta, {"N": np.array([N]), "D": np.array([1e23 / (6 * N)]), "U": np.array([1e11])})
        assert L[0] > p.loss
    # plenty of unique data: the same plan as without the limit
    # (within the grid optimiser's reach at the kink N = N_opt(D) of the effective-parameter decay)
    assert compute_optimal(1e23, unique_tokens="100T").N_opt == pytest.approx(free.N_opt, rel=5e-3)
    # a target loss with too little unique data needs more compute than without the limit
    t = plan_for_loss(2.1, unique_tokens="100B")
    assert t.flops > plan_for_loss(2.1).flops and t.to_dict()["unconstrained"]["flops_penalty"] > 1


def test_unique_tokens_under_muennighoffs_constants_is_muennighoffs_plan():
    """With the Chinchilla form carrying the data-constrained preset's constants, `compute_optimal(...,
    unique_tokens=)` is `data_constrained_optimum`: both halves of Muennighoff et al.'s law (effective data and
    effective parameters). With D' alone, 1e24 FLOPs on 10B unique tokens planned a 449B model where the
    paper's law gives ~55B on ~300 epochs."""
    from scalinglab.laws import get_law, get_preset
    from scalinglab.plan import data_constrained_optimum

    _, pre = get_preset("muennighoff-2023")
    pair = (get_law("chinchilla"), {k: pre.values[k] for k in ("E", "A", "B", "alpha", "beta")})
    for C, U in ((5.76e23, 4e11), (1e24, 1e10)):
        mine = compute_optimal(C, law=pair, unique_tokens=U)
        theirs = data_constrained_optimum(C, U)
        assert mine.N_opt == pytest.approx(theirs.N_opt, rel=1e-3)
        assert mine.D_opt == pytest.approx(theirs.D_opt, rel=1e-3)
        assert mine.loss == pytest.approx(theirs.loss, rel=1e-6)
    assert compute_optimal(1e24, law=pair, unique_tokens=1e10).N_opt < 6e10  # not 449B


def test_budget_plan_headlines_follow_the_same_rule():
    b = plan(budget_usd="5M", inference_tokens="1T").to_dict()
    for end in ("low", "high"):
        assert b[end]["tokens_per_param"] == pytest.approx(b[end]["inference"]["tokens_per_param"])
        assert b[end]["tokens_per_param"] > b[end]["compute_optimal"]["tokens_per_param"]
    assert b["N_opt"] == [b["low"]["N_opt"], b["high"]["N_opt"]]


def test_cli_plan_answers_the_question_asked():
    import json

    from typer.testing import CliRunner

    from scalinglab.cli import app

    cli = CliRunner()
    r = cli.invoke(app, ["plan", "--compute", "1e23", "--inference-tokens", "1T", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    inf = inference_optimal(1e12, flops=1e23)
    assert (d["N_opt"], d["D_opt"], d["tokens_per_param"]) == pytest.approx((inf.N, inf.D_train, inf.tokens_per_param))
    assert d["compute_optimal"]["N_opt"] == pytest.approx(compute_optimal(1e23).N_opt) and "inference" in d
    r = cli.invoke(app, ["plan", "--compute", "1e23", "--inference-tokens", "1T"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("inference-aware plan") and format_quantity(inf.N) in r.output
    assert r.output.index(format_quantity(inf.N)) < r.output.index("compute-optimal (ignoring inference)")
    r = cli.invoke(app, ["plan", "--compute", "1e23", "--inference-tokens", "0", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["N_opt"] == pytest.approx(compute_optimal(1e23).N_opt, rel=1e-9)
    r = cli.invoke(app, ["plan", "--compute", "1e23", "--unique-tokens", "100B"], env={"COLUMNS": "160"})
    assert r.exit_code == 0 and r.output.startswith("data-constrained plan")


# ------------------------------------------------------------------------------- budgets and targets, honestly
def test_a_target_near_the_floor_has_an_unbounded_interval_around_its_point():
    """Draws whose floor E is at or above the target need unbounded compute: they count as +inf (they were left
    out, and at loss 1.82 the point 3.7e33 FLOPs lay above its own '80 % interval' [6e26, 1.8e32])."""
    from scalinglab.laws import get_preset

    E, sd = get_preset("chinchilla-epoch")[1].values["E"], get_preset("chinchilla-epoch")[1].stderr["E"]
    for target in (E + 0.05 * sd, E + 1.1 * sd, E + 1.5 * sd):  # ~48 %, ~14 %, ~7 % of draws never reach
        p = plan_for_loss(target)
        draws = resolve_law(None).thetas()[1:, 0]
        never = float(np.mean(draws >= target))
        lo, hi = p.intervals["flops"]
        assert lo <= p.flops <= hi
        for key, point in (("N_opt", p.N_opt), ("D_opt", p.D_opt), ("tokens_per_param", p.tokens_per_param)):
            assert p.intervals[key][0] <= point <= p.intervals[key][1], key  # tokens/param: draws that reach
        assert (hi == math.inf) == (never > 0.1)          # the 90th percentile is infinite past 10 %
        assert (p.intervals["N_opt"][1] == math.inf) == (p.intervals["D_opt"][1] == math.inf) == (hi == math.inf)
        if never > 0.05:
            assert any(f"{never:.0%} of the parameter draws cannot reach" in w for w in p.warnings)
    assert plan_for_loss(2.0).intervals["flops"][1] < math.inf


def test_a_target_loss_plan_costs_its_flops_interval_too():
    p = plan_for_loss(2.0, mfu=0.4, price_per_hour=2.0)
    lo, hi = p.intervals["flops"]
    c = p.cost
    per_flop = c["usd"][0] / p.flops                      # one MFU, one price: dollars are linear in FLOPs
    assert c["usd"][0] == pytest.approx(c["usd"][1])
    assert c["usd_with_flops_interval"] == pytest.approx([per_flop * lo, per_flop * hi], rel=1e-9)
    assert c["gpu_hours_with_flops_interval"][1] / c["gpu_hours"][1] == pytest.approx(hi / p.flops, rel=1e-9)
    assert "usd_with_flops_interval" not in compute_optimal(1e23).cost  # a fixed budget has no FLOPs interval


def test_a_dollar_budget_with_inference_demand_trains_within_the_budget():
    """Each end's inference-aware plan trains on what that end buys (it trained 4 % more at 2T tokens of demand,
    292 % more at 200T, and said it cost the budget)."""
    for demand in ("2T", "200T"):
        b = plan_budget("5M", mfu=0.4, inference_tokens=demand)
        for end, flops in zip((b.low, b.high), b.flops_range, strict=True):
            assert 6 * end.N_opt * end.D_opt == pytest.approx(flops, rel=1e-6)
            assert max(end.cost["usd"]) == pytest.approx(5e6, rel=1e-6) or min(end.cost["usd"]) == pytest.approx(
                5e6, rel=1e-6)
            co = end.details["compute_optimal"]
            assert end.N_opt < co["N_opt"] and co["flops"] < flops  # smaller, trained longer, same loss
            assert end.loss == pytest.approx(co["loss"], rel=1e-9)
    free = plan_budget("5M", mfu=0.4)
    assert b.high.loss > free.high.loss                      # serving cost bought with some loss


def test_a_price_quote_and_a_gpu_count_are_the_users():
    q = plan_budget("5M", mfu=0.4, price_per_hour=2.5)
    assert q.flops_range[0] == pytest.approx(q.flops_range[1])    # one price, one MFU: one FLOP count
    hours = 5e6 / 2.5
    from scalinglab.hardware import get_gpu

    assert q.flops_range[0] == pytest.approx(hours * 3600 * 0.4 * get_gpu("H100").peak_flops("bf16"), rel=1e-9)
    assert compute_optimal(1e24, price_per_hour=2.0).cost["price_per_hour"] == [2.0, 2.0]
    with pytest.raises(PlanError, match="positive integer, got 0"):
        compute_optimal(1e24, n_gpus=0)                      # it silently became 1,024


def test_a_target_out_of_reach_of_limited_data_names_the_data_limited_floor():
    """Loss 2.2 with 10B unique tokens under Muennighoff et al.'s law: the error said 2.2 'is not above the
    law's floor 1.8691'; the best loss the law reaches there (~2.265 by hand, at 1e26 FLOPs) is what stops it."""
    with pytest.raises(PlanError) as info:
        plan_for_loss(2.2, "muennighoff-2023", unique_tokens="10B")
    msg = str(info.value)
    assert "not above" not in msg and "with 10B unique tokens" in msg
    best = float(msg.split("the best loss it reaches is ")[1][:6])
    at_1e26 = data_constrained_optimum(1e26, 1e10).loss
    assert best == pytest.approx(at_1e26, abs=2e-3) and best > 2.2
    assert plan_for_loss(2.3, "muennighoff-2023", unique_tokens="10B").loss == 2.3


def test_inference_aware_intervals_are_conditioned_as_the_compute_optimal_ones():
    """At a compute budget each draw aims at its own compute-optimal loss (the intervals were taken at one fixed
    loss: --inference-tokens 0, documented as the compute-optimal plan, gave N in [38.5B, 157B] against
    [68.6B, 75.9B]); the inference plan's training FLOPs vary by draw and get an interval."""
    co = compute_optimal(5.76e23)
    zero = compute_optimal(5.76e23, inference_tokens=0)
    for k in ("N_opt", "D_opt", "loss"):
        assert zero.intervals[k] == pytest.approx(co.intervals[k], rel=1e-6)
    inf = compute_optimal(5.76e23, inference_tokens="2T")
    assert inf.intervals["N_opt"][1] < co.N_opt                  # smaller than compute-optimal in every draw
    lo, hi = inf.intervals["flops"]
    assert lo < inf.flops < hi and lo > 5.76e23                  # trains more than the budget, with a spread


def test_inference_aware_sizing_under_limited_unique_tokens_reaches_its_own_loss():
    """--inference-tokens with --unique-tokens solved as if every token were new: its headline loss (1.9758)
    was not what its own repetition check gave (1.9783). It now solves the repeated-data law."""
    p = compute_optimal(5.76e23, inference_tokens="2T", unique_tokens="400B", n_draws=40)
    d = p.to_dict()
    co = d["compute_optimal"]
    assert p.loss == pytest.approx(d["data_constrained"]["loss_with_repetition"], rel=1e-6)
    assert p.loss == pytest.approx(co["loss"], rel=1e-6)          # the same loss, reached by a smaller model
    assert p.N_opt < co["N_opt"] and p.flops > 5.76e23


def test_a_budget_mostly_spent_on_repeats_past_their_value_says_so():
    """Under Muennighoff et al.'s law with 10B unique tokens, 1e24 FLOPs reach 2.2653 and a tenth of it 2.2655
    (hand); the plan spent it all without a word that would make the user question it."""
    p = compute_optimal(1e24, "muennighoff-2023", unique_tokens="10B")
    tenth = compute_optimal(1e23, "muennighoff-2023", unique_tokens="10B")
    w = [x for x in p.warnings if "a tenth of this budget" in x]
    assert len(w) == 1 and f"reaches loss {tenth.loss:.4f}" in w[0] and tenth.loss - p.loss < 1e-3
    assert not any("a tenth of this budget" in x for x in compute_optimal(5.76e23, unique_tokens="400B").warnings)


def test_every_interval_of_a_target_loss_plan_holds_its_point():
    """Near a fitted floor the draws that never reach the target have no tokens/param, and the others (lower
    floors, less compute) all lay below the point: tokens/param 45,159 with an '80 % interval' [530, 41,681]."""
    from scalinglab.fit import fit

    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e9, 8), 3)
    D = N * np.tile([5.0, 20.0, 80.0], 8)
    L = (1.8 + 400 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(0.01 * rng.standard_normal(N.size))
    res = fit({"params": N, "tokens": D, "loss": L}, "chinchilla", warn=False)
    for target in (res.params["E"] + 0.005, res.params["E"] + 0.02):
        p = plan_for_loss(target, res)
        for key, point in (("flops", p.flops), ("N_opt", p.N_opt), ("D_opt", p.D_opt),
                           ("tokens_per_param", p.tokens_per_param)):
            assert p.intervals[key][0] <= point <= p.intervals[key][1], (target, key, point, p.intervals[key])


def test_an_unreachable_target_says_how_sure_the_floor_is():
    from scalinglab._errors import PlanError
    from scalinglab.laws import get_preset

    E, sd = get_preset("chinchilla-epoch")[1].values["E"], get_preset("chinchilla-epoch")[1].stderr["E"]
    draws = resolve_law(None).thetas()[1:, 0]
    target = E - 0.5 * sd
    with pytest.raises(PlanError, match=rf"irreducible loss is {E:.4f} \(80% interval \[{np.quantile(draws, 0.1):.4f}, "
                                        rf"{np.quantile(draws, 0.9):.4f}\] over the parameter draws; "
                                        rf"{np.mean(draws < target):.0%} of them are below the target\)"):
        plan_for_loss(target)


def test_data_wall_range_follows_the_stock_and_must_hold_it():
    from scalinglab._errors import PlanError
    from scalinglab.plan import data_wall

    d = data_wall()
    assert d.stock_range == pytest.approx((1e14, 1e15))  # the published 100T-1000T around 300T
    f = data_wall(stock=30e12)
    assert f.stock_range == pytest.approx((1e13, 1e14))
    assert f.year_range[0] <= f.year <= f.year_range[1]
    assert data_wall(stock=10e12).year == 2024.0         # below the 15T training set of 2024: already reached
    with pytest.raises(PlanError, match=r"stock \(1e\+13 tokens\) lies outside its range \[1e\+15, 2e\+15\]"):
        data_wall(stock=10e12, stock_range=(1e15, 2e15))
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["forecast", "data-wall", "--stock", "10T"])
    assert r.exit_code == 0 and "data wall already reached" in r.output


def test_audit_says_how_far_beyond_the_fit_each_verdict_reaches():
    from scalinglab.plan import audit

    models = [{"name": "inside", "params": 5e8, "tokens": 1e10}, {"name": "far", "params": 7e10, "tokens": 1.4e12}]
    law = _fitted_chinchilla()
    a = audit(law, models)
    hi_N, hi_D = law.data_ranges["N"][1], law.data_ranges["D"][1]
    assert a.row("inside")["reach"] == 1.0
    assert a.row("far")["reach"] == pytest.approx(max(7e10 / hi_N, 1.4e12 / hi_D))
    assert a.warnings and "1 of 2 models lie more than 10x beyond" in a.warnings[0]
    assert "reach" in a.to_dict()["models"][0] and a.to_dict()["warnings"] == list(a.warnings)


def _fitted_chinchilla():
    from scalinglab.fit import fit

    rng = np.random.default_rng(1)
    N = np.repeat(np.geomspace(1e7, 1e9, 8), 3)
    D = N * np.tile([5.0, 20.0, 80.0], 8)
    L = (1.8 + 400 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(0.01 * rng.standard_normal(N.size))
    return fit({"params": N, "tokens": D, "loss": L}, "chinchilla", warn=False)


def test_an_inference_plan_far_past_the_compute_given_warns():
    p = compute_optimal(5.76e23, inference_tokens=1e20)
    ratio = p.flops / 5.76e23
    assert ratio > 100
    assert any(f"trains on {ratio:.3g}x the compute given" in w for w in p.warnings), p.warnings
    assert not any("the compute given (" in w for w in compute_optimal(5.76e23, inference_tokens=1e12).warnings)


def test_a_plan_says_what_the_fits_runs_cannot_decide():
    """A ladder of runs all at 20 tokens/param fitted 'success' and planned N* = 209M against a true 5.0B with no
    word in the plan; a table counting FLOPs as 8ND planned in 6ND silently (N* D* a third too large)."""
    import pandas as pd

    from scalinglab.fit import fit
    from scalinglab.plan import compute_optimal

    rng = np.random.default_rng(0)
    N = np.logspace(7, 9, 10)
    law = lambda n, d: 1.8 + 400 / n ** 0.34 + 410 / d ** 0.28  # noqa: E731
    one = pd.DataFrame({"params": N, "tokens": 20 * N, "loss": law(N, 20 * N) * np.exp(rng.normal(0, 0.01, 10))})
    with pytest.warns(Warning):
        res = fit(one, "chinchilla")
    plan = compute_optimal(1e22, res)
    assert plan.warnings[0].startswith("the fit's runs: every one of the 10 runs was trained on about 20 tokens")
    Ng, Dg = np.repeat(np.logspace(7, 9, 5), 4), np.repeat(np.logspace(7, 9, 5), 4) * np.tile([5, 15, 45, 135], 5)
    grid = pd.DataFrame({"params": Ng, "tokens": Dg, "flops": 8 * Ng * Dg, "loss": law(Ng, Dg)})
    p8 = compute_optimal(1e22, fit(grid, "chinchilla", warn=False))
    assert any("counts FLOPs as C ≈ 8ND" in w and "0.75x" in w for w in p8.warnings)
    p6 = compute_optimal(1e22, fit(grid.assign(flops=6 * Ng * Dg), "chinchilla", warn=False))
    assert not any("counts FLOPs" in w or "the fit's runs" in w for w in p6.warnings)
