"""Which run next: the top-ranked candidate, actually added and refitted, shrinks the target's interval more
than a bottom-ranked one (averaged over seeds); CLI contract."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import InputError
from scalinglab.cli import app
from scalinglab.fit import fit, suggest

E, A, B, AL, BE = 1.69, 406.4, 410.7, 0.34, 0.28


def law(N, D):
    return E + A * N ** -AL + B * D ** -BE


def runs(seed, n=40, noise=0.01):
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 8.5, n)
    D = N * 10 ** rng.uniform(0.5, 2, n)
    return pd.DataFrame({"params": N, "tokens": D, "loss": law(N, D) * np.exp(noise * rng.standard_normal(n))})


def nopt_width(df, C=1e23):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(df, "chinchilla", calibrate=False)
    G = lambda p: (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))  # noqa: E731
    d = res.derived(lambda p: math.log(G(p) * (C / 6) ** (p["beta"] / (p["alpha"] + p["beta"]))))
    return d.interval[1] - d.interval[0]


def loss_width(df, N=7e9, D=1.4e11):
    """Relative width of the target loss's interval over parameter draws of the refit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(df, "chinchilla", calibrate=False)
    d = res.derived(lambda p: math.log(law_p(p, N, D)))
    return d.interval[1] - d.interval[0]


def law_p(p, N, D):
    return p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * D ** -p["beta"]


def add_run(df, row, seed):
    y = law(row["N"], row["D"]) * np.exp(0.01 * np.random.default_rng(1000 + seed).standard_normal())
    return pd.concat([df, pd.DataFrame({"params": [row["N"]], "tokens": [row["D"]], "loss": [y]})])


@pytest.mark.parametrize("target,measure", [({"compute_optimal_N_at": 1e23}, nopt_width),
                                            ({"N": 7e9, "D": 1.4e11}, loss_width)], ids=["N_opt", "loss"])
def test_top_ranked_run_shrinks_target_interval_more(target, measure):
    """Candidates of equal cost (1e18 FLOPs, N from 3M to 3B): the ranking is about leverage alone."""
    N = np.geomspace(3e6, 3e9, 9)
    cand = pd.DataFrame({"params": N, "tokens": 1e18 / (6 * N)})
    gain_top, gain_bottom = [], []
    for seed in range(4):
        df = runs(seed, n=25)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = fit(df, "chinchilla", calibrate=False)
            s = suggest(df, target=target, candidates=cand, fit_result=base)
        assert s.candidates[0]["width_reduction"] >= s.candidates[-1]["width_reduction"]
        w0 = measure(df)
        gain_top.append(w0 - measure(add_run(df, s.candidates[0], seed)))
        gain_bottom.append(w0 - measure(add_run(df, s.candidates[-1], seed)))
    assert np.mean(gain_top) > np.mean(gain_bottom)
    assert np.mean(gain_top) > 0


def test_suggest_explicit_candidates_and_budget():
    df = runs(0)
    cand = pd.DataFrame({"params": [3e8, 1e8, 3e7], "tokens": [6e9, 2e9, 6e8]})
    s = suggest(df, target="N=7B,D=140B", candidates=cand, budget=5e18)
    assert [c["rank"] for c in s.candidates] == list(range(1, len(s.candidates) + 1))
    assert all(c["flops"] <= 5e18 for c in s.candidates)
    assert {c["flops"] for c in s.candidates} <= {6 * 3e8 * 6e9, 6 * 1e8 * 2e9, 6 * 3e7 * 6e8}
    assert s.width_before > 0 and s.value == pytest.approx(law(7e9, 1.4e11), rel=0.05)
    with pytest.raises(InputError):
        suggest(df, target="N=7B", candidates=cand)
    with pytest.raises(InputError):
        suggest(df, target={"N": 7e9, "D": 1.4e11}, candidates=cand, budget=1.0)


def test_suggest_cli_json(tmp_path):
    path = tmp_path / "runs.csv"
    runs(1).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["suggest", str(path), "--law", "chinchilla", "--target", "N=7B,D=140B",
                                 "--budget", "1e19", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    c = d["candidates"]
    assert len(c) >= 5 and all(x["flops"] <= 1e19 for x in c)
    red = [x["width_reduction"] for x in c]
    assert red == sorted(red, reverse=True)  # given a budget: what it buys, most first
    assert {"N", "D", "flops", "width_reduction", "width_after"} <= set(c[0])
    r = CliRunner().invoke(app, ["suggest", str(path), "--law", "chinchilla", "--target", "N=7B,D=140B",
                                 "--budget", "1e19", "--rank", "per_flop", "--json"])
    per = [x["reduction_per_eflop"] for x in json.loads(r.stdout)["candidates"]]
    assert per == sorted(per, reverse=True)
    r = CliRunner().invoke(app, ["suggest", str(path), "--target", "N=7B,D=140B", "--budget", "1e19"])
    assert r.exit_code == 0 and "width" in r.output


@pytest.mark.parametrize("skewed", [False, True])
def test_width_before_is_the_width_predict_gives(skewed):
    """The width `suggest` starts from is the one `FitResult.predict` reports at the target (one band:
    `calibrated_band`), also when ``loss="auto"`` chose the envelope fit and the band is drawn around its
    symmetric reference fit; a candidate never widens it, and the largest candidate shrinks it the most."""
    rng = np.random.default_rng(0)
    N = 10 ** rng.uniform(7, 8.5, 60)
    D = N * 10 ** rng.uniform(0.5, 2, 60)
    e = 0.02 * rng.standard_normal(60)
    df = pd.DataFrame({"params": N, "tokens": D, "loss": law(N, D) * np.exp(np.abs(e) if skewed else 0.5 * e)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(df, "chinchilla")
    assert bool(res.calibration.get("reference")) is skewed  # the envelope fit, banded around Huber's
    lo, hi = res.predict(N=7e9, D=1.4e11, level=0.8).interval
    s = suggest(df, target="N=7B,D=140B", fit_result=res, level=0.8)
    assert s.width_before == pytest.approx(hi - lo, rel=1e-9)
    after = np.array([c["width_after"] for c in s.candidates])
    assert np.all(after <= s.width_before * (1 + 1e-12))
    biggest = max(s.candidates, key=lambda c: c["flops"])
    assert biggest["width_after"] == pytest.approx(after.min(), rel=0.05)


def test_law_auto_ranks_for_the_stacks_choice():
    """``suggest(..., "auto")`` (``--law auto``) ranks candidates for the law `scalinglab fit` would choose,
    and says which; its starting width is that fit's prediction interval."""
    from scalinglab.fit import fit_auto

    df = runs(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = suggest(df, "auto", target="N=7B,D=140B")
        res, choice = fit_auto(df)
    lo, hi = res.predict(N=7e9, D=1.4e11).interval
    assert s.to_dict()["law"] == f"{choice['law']} ({choice['objective']})"
    assert s.width_before == pytest.approx(hi - lo, rel=1e-9)


def test_the_frontier_shows_what_each_extra_flop_buys(tmp_path):
    """Ranking per FLOP puts the cheapest runs first even when they barely narrow the interval; the frontier
    lists every candidate that narrows it more than all cheaper ones (the Pareto front), cheapest first, up to
    the largest reduction, whatever `top` keeps; the CLI prints the cheapest run for each fifth of it."""
    s = suggest(runs(2), target="N=7B,D=140B", budget=1e20, top=3, rank="per_flop")
    everything = suggest(runs(2), target="N=7B,D=140B", budget=1e20, rank="per_flop")
    front = s.frontier
    assert len(front) >= 3 and len(s.candidates) == 3
    cost = [r["flops"] for r in front]
    red = [r["width_reduction"] for r in front]
    assert cost == sorted(cost) and all(b > a for a, b in zip(red, red[1:], strict=False))
    assert red[-1] == pytest.approx(max(c["width_reduction"] for c in everything.candidates))
    for c in everything.candidates:  # no candidate beats a frontier run on both cost and reduction
        assert not any(c["flops"] <= f["flops"] and c["width_reduction"] > f["width_reduction"] for f in front)
    assert front[-1]["width_reduction"] > 2 * s.candidates[0]["width_reduction"]  # the ranking's top is cheap
    path = tmp_path / "runs.csv"
    runs(2).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["suggest", str(path), "--target", "N=7B,D=140B", "--budget", "1e20", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["frontier"][-1]["width_reduction"] == pytest.approx(red[-1])
    r = CliRunner().invoke(app, ["suggest", str(path), "--target", "N=7B,D=140B", "--budget", "1e20"])
    assert r.exit_code == 0 and "cheapest run for each reduction" in r.output


def test_with_a_budget_the_first_run_is_the_one_that_narrows_most():
    """Given a budget per run, per FLOP put runs 1,000x cheaper than it first, each narrowing the interval by
    under 4 % (a public ladder), while a run within the budget cut it 45 %. The default now ranks by what
    the budget buys; per FLOP stays available."""
    by_red = suggest(runs(2), target="N=7B,D=140B", budget=1e20)
    per = suggest(runs(2), target="N=7B,D=140B", budget=1e20, rank="per_flop")
    assert by_red.candidates[0]["width_reduction"] == pytest.approx(max(c["width_reduction"]
                                                                          for c in per.candidates))
    assert by_red.candidates[0]["width_reduction"] > 2 * per.candidates[0]["width_reduction"]
    assert all(c["flops"] <= 1e20 for c in by_red.candidates)
    assert (by_red.rank, per.rank) == ("reduction", "per_flop") and by_red.to_dict()["rank"] == "reduction"
    with pytest.raises(InputError, match="rank must be"):
        suggest(runs(2), target="N=7B,D=140B", rank="cheapest")


def test_default_candidates_stay_well_below_the_target():
    """Without a budget the grid reached 10x the largest run, past a near target: its frontier ended at a run
    1.36x the target's own compute (and larger than the target)."""
    df = runs(0)
    target = {"N": 1e9, "D": 2e10}                               # 1.2e20 FLOPs, 10x-ish beyond the ladder
    s = suggest(df, "chinchilla", target=target, top=500)
    assert s.candidates and max(c["flops"] for c in s.candidates) <= 0.1 * 6 * 1e9 * 2e10
    with_budget = suggest(df, "chinchilla", target=target, top=500, budget=6e19)  # a budget is the user's word
    assert max(c["flops"] for c in with_budget.candidates) > 0.1 * 6 * 1e9 * 2e10
