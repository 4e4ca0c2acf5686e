"""The forecast stack of ``fit --law auto`` (``scalinglab.fit._lawstack``): laws and objectives chosen by
internal backtests on synthetic ladders with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab.fit._lawstack import LAWSTACK_METHOD, MEMBERS, stack_laws
from scalinglab.laws import get_law

JOINT = get_law("chinchilla-joint")


def ladder(gamma: float, seed: int, budgets=np.geomspace(1e17, 1e20, 8), k: int = 9, noise: float = 0.003):
    rng = np.random.default_rng(seed)
    truth = np.r_[1.8, 300.0, 900.0, 0.32, 0.3, gamma]
    rows = [(N, C / (6 * N), C) for C in budgets for N in np.geomspace(2e7, 3e9, k)]
    df = pd.DataFrame(rows, columns=["params", "tokens", "flops"])
    clean = JOINT.evaluate(truth, {"N": df["params"].to_numpy(), "D": df["tokens"].to_numpy()})
    return df.assign(loss=clean * np.exp(noise * rng.standard_normal(len(df)))), truth


def test_joint_curvature_is_chosen_and_forecasts_the_held_out_budget():
    df, truth = ladder(0.45, seed=5)
    small, big = df[df["flops"] < 5e19], df[df["flops"] >= 5e19]
    res, choice = stack_laws(small, calibrate=False)
    assert choice["method"] == LAWSTACK_METHOD and choice["law"] == "chinchilla-joint" == res.law.name
    assert choice["ranking"][0]["law"] == "chinchilla-joint" and choice["ranking"][0]["rank"] == 1
    X = {"N": big["params"].to_numpy(), "D": big["tokens"].to_numpy()}
    err = np.abs(np.asarray(res.predict(**X).value) / JOINT.evaluate(truth, X) - 1)
    assert np.median(err) < 0.01
    # the Chinchilla member's backtest error is the larger one, as the held-out error
    rows = {(r["law"], r["objective"]): r for r in choice["ranking"]}
    assert rows[("chinchilla", "huber")]["median_rel_error"] > rows[("chinchilla-joint", "huber")]["median_rel_error"]


def test_one_objective_restricts_the_members():
    df, _ = ladder(1.0, seed=6)
    _, choice = stack_laws(df, loss="huber", calibrate=False)
    assert {r["objective"] for r in choice["ranking"]} == {"huber"}
    assert {r["law"] for r in choice["ranking"]} == {"chinchilla", "chinchilla-joint"}
    assert len(MEMBERS) == 3


def test_too_few_runs_keep_the_first_member():
    df, _ = ladder(0.45, seed=7, budgets=np.geomspace(1e17, 1e18, 2), k=6)
    res, choice = stack_laws(df, calibrate=False)
    assert choice["n_cuts"] < 2 and (choice["law"], choice["objective"]) == MEMBERS[0]
    assert "usable backtest cut" in choice["reason"]
    assert res.law.name == "chinchilla"
