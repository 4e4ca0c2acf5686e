"""Every worked example in ``examples/`` runs in fast mode and its headline numbers match values computed
here independently (from the published constants and formulas), so an example that drifts fails CI."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# Published constants (see /work/shared/reference/published-laws.md), restated here on purpose.
HOFFMANN = {"A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
UNROUNDED = {"A": math.exp(6.0073404), "B": math.exp(6.0179186), "alpha": 0.33917084, "beta": 0.2849083}
EPOCH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def load(name: str):
    """Import ``examples/<name>.py`` as a module (its ``_common`` helper lives beside it)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, tmp_path: Path) -> dict:
    result = load(name).main(fast=True, out=tmp_path)
    fig = Path(result["figure"])
    assert fig.parent == tmp_path and fig.suffix == ".png"
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 5000
    return result


def chinchilla_tokens_per_param(p: dict, C: float) -> float:
    """Hoffmann et al. eq. 4: N_opt = G (C/6)^a, D_opt = C / (6 N_opt)."""
    s = p["alpha"] + p["beta"]
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / s)
    N = G * (C / 6) ** (p["beta"] / s)
    return C / (6 * N) / N


def chinchilla_loss(p: dict, N, D):
    return p["E"] + p["A"] / np.asarray(N) ** p["alpha"] + p["B"] / np.asarray(D) ** p["beta"]


def test_every_example_is_tested():
    names = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    tested = {n.removeprefix("test_") for n in globals() if n.startswith("test_")}
    assert names <= tested, f"examples without a headline test: {sorted(names - tested)}"


def test_kaplan_vs_chinchilla(tmp_path):
    r = run_example("kaplan_vs_chinchilla", tmp_path)
    assert r["kaplan_params_x10"] == pytest.approx(10 ** 0.73, rel=1e-9)      # ~5.4x
    assert r["kaplan_tokens_x10"] == pytest.approx(10 ** 0.27, rel=1e-9)      # ~1.9x
    assert r["chinchilla_params_x10"] == pytest.approx(math.sqrt(10), rel=1e-9)  # ~3.16x
    assert r["chinchilla_tokens_x10"] == pytest.approx(math.sqrt(10), rel=1e-9)
    a = EPOCH["beta"] / (EPOCH["alpha"] + EPOCH["beta"])
    assert r["epoch_params_x10"] == pytest.approx(10 ** a, rel=1e-6)
    assert r["epoch_tokens_x10"] == pytest.approx(10 ** (1 - a), rel=1e-6)
    assert r["kaplan_loss_N_1p5B"] == pytest.approx((8.8e13 / 1.5e9) ** 0.076, rel=1e-9)
    assert r["kaplan_loss_D_23B"] == pytest.approx((5.4e13 / 23e9) ** 0.095, rel=1e-9)
    assert r["kaplan_loss_Cmin_1e3_pfdays"] == pytest.approx((3.1e8 / 1e3) ** 0.050, rel=1e-9)
    assert r["kaplan_N_at_1e23"] == pytest.approx(1.3e9 * (1e23 / 8.64e19) ** 0.73, rel=1e-9)
    assert r["chinchilla_N_at_1e23"] == pytest.approx(math.sqrt(1e23 / 120), rel=1e-9)


def test_chinchilla_vs_gopher(tmp_path):
    r = run_example("chinchilla_vs_gopher", tmp_path)
    C = 5.76e23
    # The headline discrepancy: printed constants ~93 tokens/param, unrounded ~59, Epoch's refit ~18.
    assert r["tokens_per_param_hoffmann"] == pytest.approx(chinchilla_tokens_per_param(HOFFMANN, C), rel=1e-3)
    assert round(r["tokens_per_param_hoffmann"]) == 93
    assert r["tokens_per_param_hoffmann_unrounded"] == pytest.approx(chinchilla_tokens_per_param(UNROUNDED, C),
                                                                     rel=1e-3)
    assert r["tokens_per_param_epoch"] == pytest.approx(chinchilla_tokens_per_param(EPOCH, C), rel=1e-3)
    assert round(r["tokens_per_param_epoch"], 1) == 18.4
    # Losses under the Epoch refit, and Chinchilla beating Gopher and GPT-3.
    L = chinchilla_loss(EPOCH, [70e9, 280e9, 175e9], [1.4e12, 300e9, 300e9])
    assert r["chinchilla_loss"] == pytest.approx(L[0], rel=1e-9)
    assert r["gopher_loss"] == pytest.approx(L[1], rel=1e-9)
    assert r["gpt3_loss"] == pytest.approx(L[2], rel=1e-9)
    assert r["gopher_minus_chinchilla"] == pytest.approx(L[1] - L[0], rel=1e-9) and L[1] - L[0] > 0.02
    assert r["gopher_minus_chinchilla_p_positive"] > 0.95 and r["gpt3_minus_chinchilla_p_positive"] > 0.95
    assert r["chinchilla_flops_6nd"] == 6 * 70e9 * 1.4e12
    assert r["chinchilla_tokens_per_param"] == pytest.approx(20.0)


def test_gpt3_compute_cost(tmp_path):
    r = run_example("gpt3_compute_cost", tmp_path)
    C = 6 * 175e9 * 300e9
    assert r["flops_6nd"] == C                                   # 3.15e23
    assert f"{r['flops_arch_6n']:.2e}" == "3.14e+23"             # the paper's figure (exact parameter count)
    assert r["flops_arch_chinchilla"] > r["flops_arch_6n"]
    # GPU-hours = FLOPs / (dense peak x MFU) / 3600, MFU 0.5 (low end) and 0.3 (high end); 1024 GPUs.
    for gpu, peak in (("v100", 125e12), ("a100", 312e12), ("h100", 989.4e12)):
        lo, hi = r[f"{gpu}_gpu_hours"]
        assert lo == pytest.approx(C / (peak * 0.5) / 3600, rel=1e-9)
        assert hi == pytest.approx(C / (peak * 0.3) / 3600, rel=1e-9)
        assert r[f"{gpu}_days"][0] == pytest.approx(lo / 1024 / 24, rel=1e-9)
        assert r[f"{gpu}_usd"][0] < r[f"{gpu}_usd"][1]
    lo, hi = r["h100_flops_range"]
    assert lo < hi and hi > C          # the same dollars buy more than GPT-3's compute on H100s
    assert r["h100_plan_N"][0] < r["h100_plan_N"][1]


def test_llama3_overtraining(tmp_path):
    r = run_example("llama3_overtraining", tmp_path)
    N, D = r["params"], r["tokens"]
    assert D == 15e12 and N == pytest.approx(8.03e9, rel=1e-3)
    assert r["tokens_per_param"] == pytest.approx(D / N)
    p = EPOCH
    ratio = (p["alpha"] * p["A"] * N ** -p["alpha"]) / (p["beta"] * p["B"] * D ** -p["beta"])
    assert r["elasticity_ratio"] == pytest.approx(ratio, rel=1e-9)
    assert r["breakeven_inference_tokens"] == pytest.approx(3 * D * (ratio - 1), rel=1e-9)   # ~1.9e14
    lo, hi = r["breakeven_interval"]
    assert lo < r["breakeven_inference_tokens"] < hi
    assert r["loss"] == pytest.approx(float(chinchilla_loss(p, N, D)), rel=1e-9)
    # The forward problem at that demand recovers the model itself.
    assert r["inference_optimal_N"] == pytest.approx(N, rel=1e-3)
    assert r["inference_optimal_D"] == pytest.approx(D, rel=1e-3)
    assert 0 < r["saving_fraction"] < 1
    assert float(chinchilla_loss(p, r["compute_optimal_N"], r["compute_optimal_D"])) == pytest.approx(r["loss"],
                                                                                                     rel=1e-6)


def test_emergence_mirage(tmp_path):
    r = run_example("emergence_mirage", tmp_path)
    N = np.array(r["sizes"])
    ce = 0.035 * (N / 1e11) ** -0.6                            # the generating per-token loss, nats/token
    # Measured on 1,000 questions x 10 tokens per model: binomial noise around p and p^10.
    np.testing.assert_allclose(r["token_accuracy_measured"], np.exp(-ce), atol=0.02)
    np.testing.assert_allclose(r["exact_match_measured"], np.exp(-10 * ce), atol=0.05)
    assert max(r["exact_match_measured"][:4]) < 0.02          # looks like nothing happens up to 1e9 params
    assert "exact_match" in r["sharp"]
    assert {"token_accuracy", "logprob", "edit_distance"} <= set(r["smooth"])
    assert 1e9 < r["knee_exact_match"] < 1e10
    assert r["true_exact_match_largest"] == pytest.approx(math.exp(-10 * 0.035), rel=1e-9)
    lo, hi = r["predicted_exact_match_interval"]
    assert lo <= r["true_exact_match_largest"] <= hi
    assert abs(r["predicted_exact_match_largest"] - r["true_exact_match_largest"]) < 0.05
    assert r["fitted_alpha"] == pytest.approx(0.6, abs=0.05)


def test_script_entry_point_prints_headline(tmp_path):
    """``python examples/NAME.py --fast --out DIR`` ends with one machine-readable ``headline:`` line."""
    proc = subprocess.run([sys.executable, str(EXAMPLES / "kaplan_vs_chinchilla.py"), "--fast", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120, check=True)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("headline: ")
    data = json.loads(last.removeprefix("headline: "))
    assert data["kaplan_params_x10"] == pytest.approx(10 ** 0.73)
    assert (tmp_path / "kaplan_vs_chinchilla.png").exists()


def test_repeated_sampling(tmp_path):
    r = run_example("repeated_sampling", tmp_path)
    # Chen et al.'s estimator, computed here with exact integer binomials.
    n, c, k = r["example_n_c_k"]
    assert r["example_pass_at_k"] == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), rel=1e-12)
    # Equal inference FLOPs: 2N FLOPs per token x 500 tokens per sample.
    assert r["flops_per_sample"] == {"small": 2 * 8e9 * 500, "large": 2 * 70e9 * 500}
    assert r["n_samples"] == {"small": 10_000, "large": int(10_000 * 8 / 70)}
    for m in ("small", "large"):
        assert r["coverage_at_n"][m] == pytest.approx(r["true_coverage_at_n"][m], abs=0.02)
    assert r["pass_at_1"]["small"] < r["pass_at_1"]["large"] < r["coverage_at_n"]["small"]
    assert -5 < r["fit_a"] < 0 and -1 < r["fit_b"] < 0
    assert abs(r["predicted_coverage_10k"] - r["true_coverage_at_n"]["small"]) < 0.08


def test_data_wall(tmp_path):
    r = run_example("data_wall", tmp_path)
    g = math.sqrt(4.0 * 5.0) ** 0.5          # D ∝ C^0.5, compute x4-5/year (geometric middle)
    assert r["wall_growth_compute"] == pytest.approx(g)
    assert r["wall_year_compute"] == pytest.approx(2024 + math.log(300 / 15) / math.log(g), abs=1e-9)  # ~2028
    assert r["wall_year_historical"] == pytest.approx(2024 + math.log(300 / 15) / math.log(3.3), abs=1e-9)
    lo, hi = r["wall_range_compute"]
    assert 2026 < lo < r["wall_year_compute"] < hi < 2031
    R = 15.387756
    assert r["four_epochs_worth"] == pytest.approx((1 + R * (1 - math.exp(-3 / R))) / 4, rel=1e-9)  # ~93%
    U = 1e11
    assert 6 * r["U100B_N_opt"] * r["U100B_D_opt"] == pytest.approx(1e23, rel=1e-9)
    assert r["U100B_epochs"] == pytest.approx(r["U100B_D_opt"] / U)
    assert r["U100B_effective_tokens"] == pytest.approx(U + U * R * (1 - math.exp(-(r["U100B_epochs"] - 1) / R)))
    assert 4 < r["U100B_epochs"] < 16 and 0 < r["U100B_loss_penalty"] < 0.05
    pen = np.array(r["penalties"])
    assert np.all(np.diff(pen) <= 1e-12) and pen[0] > 0.05 and pen[-1] < 1e-3   # less data, larger penalty
    # The optimum is a minimum of the law along C = 6ND with U fixed.
    from scalinglab.laws import get_preset

    law, preset = get_preset("muennighoff-2023")
    N = r["U100B_N_opt"] * np.array([0.8, 1.0, 1.25])
    L = law(preset.values, N=N, D=1e23 / (6 * N), U=U)
    assert L[1] < L[0] and L[1] < L[2]


def test_broken_power_law(tmp_path):
    r = run_example("broken_power_law", tmp_path)
    p = r["params"]   # truth: a = 0.2, b = 2.3, c0 = 0.05, c1 = 1.5, d1 = 500, f1 = 0.1 (1 % noise)
    assert p["d1"] == pytest.approx(500, rel=0.1)
    assert p["c0"] == pytest.approx(0.05, abs=0.02)
    assert p["c0"] + p["c1"] == pytest.approx(1.55, abs=0.2)           # slope after the break
    assert p["a"] == pytest.approx(0.2, abs=0.05)
    truth_last = 0.2 + 2.3 * 1e4 ** -0.05 * (1 + (1e4 / 500) ** 10) ** (-1.5 * 0.1)
    assert r["truth_last"] == pytest.approx(truth_last, rel=1e-9)
    assert r["max_rel_error_bnsl"] < 0.1 and r["max_rel_error_power"] > 2 * r["max_rel_error_bnsl"]
    q = r["dd_params"]  # truth: c1 = -0.9 (upward bend) at d1 = 1e4, c2 = 1.2 at d2 = 1e5
    assert q["c1"] < 0 < q["c2"]
    assert q["d1"] == pytest.approx(1e4, rel=0.25) and q["d2"] == pytest.approx(1e5, rel=0.25)
    assert r["dd_max_rel_error"] < 0.1


@pytest.mark.slow
@pytest.mark.torch
def test_own_ladder(tmp_path):
    pytest.importorskip("torch")
    r = load("own_ladder").main(fast=True, out=tmp_path)
    assert r["ladder_points"] >= 5 and r["compute_multiple"] >= 10
    lo, hi = r["interval"]
    assert lo < r["predicted"] < hi
    # The prediction 10x beyond the ladder is checked against the trained target model.
    assert abs(r["measured"] / r["predicted"] - 1) < 0.05
    assert r["relative_error"] == pytest.approx((r["measured"] - r["predicted"]) / r["measured"])
    assert r["true_entropy_floor_nats"] < r["measured"]
    assert r["figure"] is None or Path(r["figure"]).exists()


@pytest.mark.slow
@pytest.mark.torch
def test_toy_emergence(tmp_path):
    pytest.importorskip("torch")
    r = run_example("toy_emergence", tmp_path)
    tok, em = np.array(r["token_accuracy"]), np.array(r["exact_match"])
    assert r["answer_tokens"] == 16 and len(tok) == len(em) == len(r["flops"]) == 10
    np.testing.assert_allclose(r["flops"], 6 * r["params"] * np.array(r["tokens"]), rtol=1e-9)
    assert np.all(np.diff(tok) > -0.02) and tok[0] < 0.35 and tok[-1] > 0.85
    assert max(em[:4]) < 0.01 and em[-1] > 0.05
    np.testing.assert_allclose(em, tok ** 16, atol=0.1)       # exact match ≈ per-token accuracy^L
    assert "exact_match" in r["sharp"] and "logprob" in r["smooth"] and "token_accuracy" in r["smooth"]
    assert r["flops"][-1] / r["flops"][0] > 10 ** 1.5                  # checkpoints span > 1.5 decades
    assert r["flops"][0] < r["knee_exact_match_flops"] < r["flops"][-1]
