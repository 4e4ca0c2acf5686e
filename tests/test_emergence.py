"""Emergence analysis: the p^L mirage is flagged sharp under exact match and smooth under continuous
metrics; the knee gets a bootstrap interval; the CLI contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab import InputError
from scalinglab.cli import app
from scalinglab.emergence import analyze_emergence, fit_broken_line, generate_mirage, metrics_by_model


def test_generator_follows_p_to_the_L():
    df = generate_mirage(n_examples=4000, answer_tokens=8, seed=1)
    m = metrics_by_model(df)
    p = np.exp(-(m["params"].to_numpy() / 3e6) ** -0.35)
    assert np.allclose(m["token_accuracy"], p, atol=0.01)
    assert np.allclose(m["exact_match"], p ** 8, atol=0.02)
    assert np.allclose(m["logprob"], 8 * np.log(p), rtol=1e-9)
    assert len(m) == 12 and (m["n_examples"] == 4000).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mirage_exact_match_sharp_token_accuracy_smooth(seed):
    rep = analyze_emergence(generate_mirage(seed=seed), bootstrap=60, seed=seed)
    assert rep.metrics["exact_match"].verdict == "sharp"
    for m in ("token_accuracy", "logprob", "edit_distance"):
        assert rep.metrics[m].verdict == "smooth", (m, rep.metrics[m].reason)
    em = rep.metrics["exact_match"]
    lo, hi = em.knee_interval
    assert lo <= em.knee <= hi and hi - lo < 1.5            # log10 params
    assert 7.3 < em.knee < 9.0                               # exact match leaves the floor around 1e8 params
    assert "exact_match" in rep.summary


def test_linear_metric_is_smooth_and_broken_line_recovers_knee():
    x = np.linspace(0, 4, 13)
    y = np.where(x < 2.5, 0.1, 0.1 + 0.4 * (x - 2.5))
    br = fit_broken_line(x, y)
    assert br["knee"] == pytest.approx(2.5, abs=0.03)
    assert br["slope_before"] == pytest.approx(0.0, abs=1e-6) and br["slope_after"] == pytest.approx(0.4, rel=1e-3)


def test_too_few_models_is_a_clear_error():
    df = generate_mirage(scales=[1e7, 1e8, 1e9, 1e10])
    with pytest.raises(InputError, match="at least 5 models"):
        analyze_emergence(df)


def test_cli_emergence(tmp_path):
    path = tmp_path / "examples.csv"
    generate_mirage(seed=0).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["emergence", str(path), "--bootstrap", "30", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert "exact_match" in d["sharp"] and "token_accuracy" in d["smooth"]
    ks = d["metrics"]["exact_match"]["knee_scale_interval"]
    assert all(math.isfinite(v) and v > 0 for v in ks)
    r = CliRunner().invoke(app, ["emergence", str(path)])
    assert r.exit_code == 0 and "sharp" in r.stdout


def test_a_table_with_its_size_in_billions_reads_in_parameters():
    """Per-example results keyed by 'Model Size (B)' (as papers print it) read the scale in parameters, named
    'params': the same metrics and knee as the table in parameters."""
    df = generate_mirage(n_examples=500, seed=3)
    noted = df.rename(columns={"params": "Model Size (B)"}).assign(**{"Model Size (B)": df["params"] / 1e9})
    a, b = metrics_by_model(df), metrics_by_model(noted)
    assert b["params"].to_numpy() == pytest.approx(a["params"].to_numpy(), rel=1e-12)
    assert b["exact_match"].tolist() == a["exact_match"].tolist()


@pytest.mark.parametrize("n_models", [8, 16])
def test_a_jump_that_saturates_is_sharp_with_its_knee_in_the_gap(n_models):
    """Per-token accuracy 0.30 below 1e9 parameters and 0.97 above (a step, then a plateau): a broken line has
    no single knee for it, and it was called smooth ('no metric shows a sharp jump', dAICc -10) with an 80 %
    knee interval [1.8e8, 2.2e8], 3-5x below the jump. The clipped ramp calls it sharp, its knee lies between
    the models on either side of the jump, and the interval spans that gap."""
    import pandas as pd

    rng = np.random.default_rng(0)
    Ns = np.logspace(7, 10, n_models)
    rows = []
    for i, N in enumerate(Ns):
        t = rng.binomial(10, 0.3 if N < 1e9 else 0.97, 200)
        rows.append(pd.DataFrame({"model": f"m{i}", "params": N, "example_id": np.arange(200), "tokens_correct": t,
                                  "n_tokens": 10, "exact": (t == 10).astype(int)}))
    rep = analyze_emergence(pd.concat(rows), bootstrap=50)
    below, above = Ns[Ns < 1e9].max(), Ns[Ns >= 1e9].min()
    for m in ("token_accuracy", "exact_match"):
        a = rep.metrics[m]
        assert a.verdict == "sharp", a.reason
        assert below <= a.knee_scale <= above
        lo, hi = a.knee_scale_interval
        assert lo <= below * 1.001 and hi >= above * 0.999 and lo > 2.5e8


def test_a_jump_in_exact_match_alone_gets_no_verdict_on_its_cause():
    """Only 0/1 correctness (the usual released per-example file): the jump was called 'consistent with
    genuine emergence', while the same runs with per-token columns read as a metric effect."""
    df = generate_mirage(seed=0)
    full = analyze_emergence(df, bootstrap=40, seed=0)
    assert "metric effect" in full.summary
    cols = [c for c in df.columns if c not in ("tokens_correct", "n_tokens", "logprob", "p_correct", "edit_distance")]
    only = analyze_emergence(df[cols], bootstrap=40, seed=0)
    assert set(only.metrics) == {"exact_match"} and only.metrics["exact_match"].verdict == "sharp"
    assert "only a discrete metric was given" in only.summary and "genuine emergence" not in only.summary


@pytest.mark.parametrize(("value", "words"), [(2, r"'2': an example's exact must be 0 or 1"),
                                              (None, r"empty cell: an example's exact must be 0 or 1")])
def test_a_per_example_cell_that_is_not_0_or_1_is_named(value, words):
    from scalinglab._errors import DataError

    df = generate_mirage(seed=0)[["model", "params", "example_id", "exact"]].astype({"exact": object})
    df.iloc[10, df.columns.get_loc("exact")] = value
    with pytest.raises(DataError, match=rf":11:exact: {words}"):
        analyze_emergence(df, bootstrap=10)


def test_an_lm_eval_acc_column_is_read_as_exact_match():
    df = generate_mirage(seed=0)[["model", "params", "example_id", "exact"]].rename(columns={"exact": "acc"})
    rep = analyze_emergence(df, bootstrap=10, seed=0)
    assert set(rep.metrics) == {"exact_match"}
