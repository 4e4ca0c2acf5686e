"""CLI contract of `plan`, `forecast` and `audit` (CliRunner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalinglab.cli import app

runner = CliRunner()


def run_json(*args: str) -> dict:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def run_error(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    return lines[0]


def test_contract_hoffmann():
    out = run_json("plan", "--compute", "5.76e23", "--law", "chinchilla-hoffmann")
    assert out["N_opt"] == pytest.approx(3.219e10, rel=0.02)
    assert out["D_opt"] == pytest.approx(2.982e12, rel=0.02)
    assert out["tokens_per_param"] == pytest.approx(93, abs=1)
    for key in ("N_opt", "D_opt", "tokens_per_param", "loss", "intervals", "cost", "warnings", "assumptions"):
        assert key in out
    assert out["cost"]["gpu"].startswith("H100") and out["cost"]["n_gpus"] == 1024
    assert len(out["cost"]["usd"]) == 2 and out["cost"]["usd"][0] < out["cost"]["usd"][1]


def test_default_law_has_intervals_and_assumptions():
    out = run_json("plan", "--compute", "5.76e23", "--gpu", "A100", "--gpus", "512", "--mfu", "0.4")
    assert set(out["intervals"]) == {"N_opt", "D_opt", "tokens_per_param", "loss"}
    lo, hi = out["intervals"]["N_opt"]
    assert lo < out["N_opt"] < hi and out["N_opt"] == pytest.approx(7.2e10, rel=0.02)
    a = out["assumptions"]
    assert a["law"] == "chinchilla-epoch" and "6ND" in a["flop_convention"] and a["mfu"] == [0.4, 0.4]
    assert out["cost"]["n_gpus"] == 512 and out["cost"]["gpu"].startswith("A100")


def test_budget_and_target_loss():
    out = run_json("plan", "--budget-usd", "5M")
    assert out["query"] == "budget-usd" and out["flops"][0] < out["flops"][1]
    assert out["N_opt"][0] < out["N_opt"][1]
    out = run_json("plan", "--target-loss", "2.0")
    assert out["loss"] == pytest.approx(2.0) and out["flops"] > 0 and "flops" in out["intervals"]


def test_inference_unique_tokens_and_rules():
    out = run_json("plan", "--compute", "5.76e23", "--inference-tokens", "2T", "--unique-tokens", "4T",
                   "--compare-rules", "--active-ratio", "0.5")
    assert out["inference"]["inference_tokens"] == 2e12
    # the headline is the inference-aware plan asked for; the compute-optimal one is nested (issue 17.3)
    assert out["tokens_per_param"] == out["inference"]["tokens_per_param"] > out["compute_optimal"]["tokens_per_param"]
    assert out["data_constrained"]["unique_tokens"] == 4e12
    assert out["moe"]["total_params"] == pytest.approx(2 * out["N_opt"])
    rules = {r["rule"]: r for r in out["rules"]}
    assert rules["kaplan"]["ratio_params"] == pytest.approx(10**0.73)


def test_the_text_says_what_an_inference_aware_plan_and_a_budgets_ends_spend():
    """An inference-aware plan trains on more FLOPs than the compute given (the compute-optimal model's loss
    with a smaller model): the text says how much more and why; a budget plan's cost range spans every price
    and MFU, and the text says that each end costs the budget at its own."""
    res = runner.invoke(app, ["plan", "--compute", "1e23", "--inference-tokens", "2T"])
    assert res.exit_code == 0, res.output
    d = run_json("plan", "--compute", "1e23", "--inference-tokens", "2T")
    more = d["flops"] / d["compute_optimal"]["flops"] - 1
    assert more > 0.05
    assert (f"it trains on {more:.0%} more FLOPs than the compute given, to reach the loss of that compute's "
            "optimal model with a smaller one, cheaper to serve") in " ".join(res.output.split())
    res = runner.invoke(app, ["plan", "--budget-usd", "5M"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert text.count("(over every catalog price and MFU; at this end's own price and MFU it costs the $5M "
                      "budget)") == 2


def test_params_and_tokens():
    out = run_json("plan", "--params", "70B", "--tokens", "1.4T")
    assert out["flops"] == pytest.approx(6 * 70e9 * 1.4e12)
    assert out["compute_optimal"]["tokens_per_param_ratio"] == pytest.approx(20 / 18.4, rel=0.02)


@pytest.mark.parametrize("args, match", [
    (("plan", "--compute", "-1"), "positive"),
    (("plan", "--compute", "1e23", "--gpu", "NOPE-9000"), "NOPE-9000"),
    (("plan", "--compute", "1e23", "--law", "kaplan-2020-n"), "N and D"),
    (("plan", "--target-loss", "1.5"), "unreachable: "),
    (("plan", "--compute", "1e23", "--law", "no-such-law"), "no-such-law"),
    (("plan",), "exactly one"),
    (("plan", "--compute", "1e23", "--mfu", "1.5"), "mfu"),
])
def test_bad_input_exits_2_with_one_line(args, match):
    line = run_error(*args)
    assert match in line


def test_human_output():
    res = runner.invoke(app, ["plan", "--compute", "1e23", "--compare-rules"])
    assert res.exit_code == 0, res.output
    assert "parameters N" in res.stdout and "kaplan" in res.stdout and "GPU-hours" in res.stdout


def test_forecast_and_audit():
    wall = run_json("forecast", "data-wall")
    assert 2026 <= wall["year"] <= 2032 and wall["published_range"] == [2026, 2032]
    later = run_json("forecast", "data-wall", "--stock", "1000T")
    assert later["year"] > wall["year"]
    eff = run_json("forecast", "effective-compute", "--until", "2027")
    assert [r["year"] for r in eff["rows"]] == [2024, 2025, 2026, 2027]
    audit = run_json("audit")
    verdicts = {m["name"]: m["verdict"] for m in audit["models"]}
    assert verdicts["GPT-3 175B"] == "under-trained" and verdicts["Llama 3 8B"] == "over-trained"
    res = runner.invoke(app, ["forecast", "effective-compute", "--until", "2020"])
    assert res.exit_code == 2
    for cmd in (["forecast", "data-wall"], ["forecast", "effective-compute"], ["audit"]):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 0, res.output


def test_plan_plot_writes_a_png(tmp_path):
    import json

    from typer.testing import CliRunner

    from scalinglab.cli import app

    path = tmp_path / "plan.png"
    r = CliRunner().invoke(app, ["plan", "--compute", "1e23", "--plot", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["plot"] == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_plan_takes_a_price_quote_and_refuses_zero_gpus():
    d = run_json("plan", "--compute", "1e24", "--price", "2", "--mfu", "0.4")
    assert d["cost"]["usd"][0] == pytest.approx(d["cost"]["usd"][1]) and d["cost"]["price_per_hour"] == [2.0, 2.0]
    b = run_json("plan", "--budget-usd", "5M", "--price", "2.5", "--mfu", "0.4")
    assert b["flops"][0] == pytest.approx(b["flops"][1])
    assert "positive integer, got 0" in run_error("plan", "--compute", "1e24", "--gpus", "0")
    t = runner.invoke(app, ["plan", "--target-loss", "1.85"])
    assert t.exit_code == 0 and "– ∞" in t.output and "over the 80% FLOPs interval as well" in t.output


def test_a_kaplan_plan_says_how_far_it_reaches_and_what_n_counts():
    """Kaplan et al. fitted 768 .. 1.5e9 non-embedding parameters on 22e6 .. 23e9 tokens: a 1e22-FLOP plan
    (23.4B on 71B tokens by hand) is 15.6x beyond in N and 3.1x in D; it said neither, nor that N is
    non-embedding."""
    d = run_json("plan", "--compute", "1e22", "--law", "kaplan-2020-nd")
    ext = d["extrapolation"]
    assert ext["N"]["factor_beyond"] == pytest.approx(d["N_opt"] / 1.5e9)
    assert d["N_opt"] == pytest.approx(23.44e9, rel=2e-3)
    assert ext["D"]["factor_beyond"] == pytest.approx(d["D_opt"] / 2.3e10)
    text = runner.invoke(app, ["plan", "--compute", "1e22", "--law", "kaplan-2020-nd"]).output
    assert "N = non-embedding parameters" in text and "15.6× beyond" in text


def test_a_plan_asked_two_questions_names_the_flags():
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["plan", "--compute", "1e22", "--target-loss", "2"])
    assert r.exit_code == 2
    assert "give exactly one of compute (--compute, FLOPs), budget_usd (--budget-usd, US dollars) or target_loss " \
           "(--target-loss); got compute, target_loss" in r.stderr
