"""Text columns that split a run table into several ladders (`scalinglab.data.splits`): a table holding every
point twice, once per kind of loss (Open-Athena's Llama 3 extraction), is named by `validate`, warned about by
`fit`, and fits the truth once one group is selected; tags whose groups differ by noise are not."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import DataWarning
from scalinglab.cli import app
from scalinglab.data import load_runs
from scalinglab.data.splits import SPLIT_RATIO, splits
from scalinglab.fit import fit

TRUTH = {"E": 1.8, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


def isoflop_table(seed: int = 0) -> pd.DataFrame:
    """An IsoFLOP ladder (5 budgets x 7 sizes) whose every point appears twice: ``raw_loss`` (the law) and
    ``exp_loss`` (a transformed loss about 2.5x larger), the way the public extraction stacks them."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in np.geomspace(1e17, 1e19, 5):
        for N in np.geomspace(C ** 0.5 / 30, C ** 0.5 / 3, 7):
            D = C / (6 * N)
            L = (TRUTH["E"] + TRUTH["A"] * N ** -TRUTH["alpha"] + TRUTH["B"] * D ** -TRUTH["beta"])
            L *= np.exp(0.005 * rng.standard_normal())
            rows.append({"params": N, "tokens": D, "budget": C, "loss": L, "condition": "raw_loss", "source": "x"})
            rows.append({"params": N, "tokens": D, "budget": C, "loss": np.exp(L) / 2.5, "condition": "exp_loss",
                         "source": "x"})
    return pd.DataFrame(rows)


def test_a_column_holding_two_kinds_of_loss_is_a_split():
    df = isoflop_table()
    found = splits(load_runs(df).df)
    assert [d["column"] for d in found] == ["condition"]
    ratio = np.median(np.exp(df.loss[df.condition == "raw_loss"].to_numpy()) / 2.5
                      / df.loss[df.condition == "raw_loss"].to_numpy())
    assert found[0]["ratio"] == pytest.approx(ratio, rel=1e-9)
    assert found[0]["points"] == 35 and found[0]["lowest"] == "raw_loss"
    assert found[0]["levels"] == {"raw_loss": 35, "exp_loss": 35}
    assert load_runs(df).summary()["splits"] == found


def test_tags_that_differ_by_noise_or_label_each_row_are_not_splits():
    df = isoflop_table()
    df = df[df.condition == "raw_loss"].reset_index(drop=True)
    rng = np.random.default_rng(1)
    twice = pd.concat([df.assign(cluster="a"), df.assign(cluster="b", loss=df.loss * np.exp(
        0.02 * rng.standard_normal(len(df))))], ignore_index=True)  # replicate runs on two clusters: 2 % noise
    twice["job"] = [f"job-{i}" for i in range(len(twice))]  # a label of each row
    assert splits(load_runs(twice).df) == []
    # the same table with a systematic gap just above the threshold is one
    gap = twice.assign(loss=np.where(twice.cluster == "b", twice.loss * SPLIT_RATIO * 1.05, twice.loss))
    assert [d["column"] for d in splits(load_runs(gap).df)] == ["cluster"]
    # the 'dataset' column has its own warning (pooled datasets), not a second one
    ds = gap.rename(columns={"cluster": "dataset"})
    assert splits(load_runs(ds).df) == []


def test_validate_names_the_split_and_fit_warns_until_one_group_is_selected(tmp_path):
    path = tmp_path / "isoflops.csv"
    isoflop_table().to_csv(path, index=False)
    runner = CliRunner()
    text = runner.invoke(app, ["validate", str(path)]).output
    assert "column 'condition' splits the runs into 2 groups" in text and "--where condition=raw_loss" in text
    js = json.loads(runner.invoke(app, ["validate", str(path), "--json"]).output)
    assert js["splits"][0]["column"] == "condition"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        pooled = fit(path, "chinchilla", calibrate=False, throw=False)
    assert pooled.status == "no_trend"  # pooled, the two kinds of loss leave no trend to fit
    assert any(issubclass(w.category, DataWarning) and "column 'condition' splits the runs" in str(w.message)
               and "--where condition=raw_loss" in str(w.message) for w in said)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the selected group: no split left to warn about
        res = fit(load_runs(path).where("condition=raw_loss"), "chinchilla", calibrate=False)
    assert res.params["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.03)
    assert res.params["beta"] == pytest.approx(TRUTH["beta"], abs=0.03)
