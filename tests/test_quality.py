"""Data quality vs quantity: joint fits with shared exponents recover known effective-data multipliers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab import InputError
from scalinglab.cli import app
from scalinglab.quality import fit_quality

TRUTH = {"E": 1.8, "A": 480.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37}


def _runs(mults, seed=0, noise=0.003):
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for name, m in mults.items():
        for N in np.logspace(7.5, 9, 4):
            for D in np.logspace(9, 11, 4):
                L = TRUTH["E"] + TRUTH["A"] / N ** TRUTH["alpha"] + TRUTH["B"] / (m * D) ** TRUTH["beta"]
                rows.append({"dataset": name, "params": N, "tokens": D, "loss": L * np.exp(rng.normal(0, noise))})
    return pd.DataFrame(rows)


def test_recovers_multipliers_with_intervals():
    res = fit_quality(_runs({"web": 1.0, "edu": 3.0, "code": 0.5}), reference="web", bootstrap=40)
    assert res.reference == "web" and res.datasets == ["web", "edu", "code"]
    edu, code = res.multipliers["edu"], res.multipliers["code"]
    assert edu["value"] == pytest.approx(3.0, rel=0.1)
    assert code["value"] == pytest.approx(0.5, rel=0.1)
    assert edu["interval"][0] <= 3.0 <= edu["interval"][1] or abs(edu["value"] - 3.0) < 0.05
    assert res.params["beta"] == pytest.approx(0.37, abs=0.03)
    r, (lo, hi) = res.ratio("edu", "code")          # edu is worth ~6x code tokens
    assert r == pytest.approx(6.0, rel=0.15) and lo < r < hi


def test_data_only_form_and_errors():
    import pandas as pd

    rng = np.random.default_rng(1)
    rows = []
    for name, m in {"a": 1.0, "b": 2.0}.items():
        for D in np.logspace(8, 11, 8):
            rows.append({"dataset": name, "tokens": D,
                         "loss": (2.0 + 300.0 / (m * D) ** 0.3) * np.exp(rng.normal(0, 0.002))})
    res = fit_quality(pd.DataFrame(rows), bootstrap=0)
    assert res.fit.law.form == "data"
    assert res.multipliers["b"]["value"] == pytest.approx(2.0, rel=0.1)
    with pytest.raises(InputError, match="at least 2 datasets"):
        fit_quality(pd.DataFrame(rows[:8]))


def test_cli_quality(tmp_path):
    path = tmp_path / "runs.csv"
    _runs({"web": 1.0, "edu": 2.0}).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["quality", str(path), "--reference", "web", "--bootstrap", "20", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["multipliers"]["edu"]["value"] == pytest.approx(2.0, rel=0.1)
    assert d["multipliers"]["web"]["value"] == 1.0


def test_cli_quality_selects_and_renames_like_fit(tmp_path):
    """A table with its own column names and a dataset to leave out: --column and --where work on quality as on
    fit, and the multiplier is the one the selected, renamed runs give (a third corpus would change it)."""
    df = _runs({"web": 1.0, "edu": 2.0, "code": 0.5}).rename(columns={"params": "params_N", "loss": "c4_val"})
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    r = CliRunner().invoke(app, ["quality", str(path), "--reference", "web", "--bootstrap", "0", "--column",
                                 "params_N=params", "--column", "c4_val=loss", "--where", "dataset=web,edu",
                                 "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d["multipliers"]) == {"web", "edu"}
    assert d["multipliers"]["edu"]["value"] == pytest.approx(2.0, rel=0.1)
    direct = fit_quality(_runs({"web": 1.0, "edu": 2.0, "code": 0.5}).query("dataset != 'code'"), reference="web",
                         bootstrap=0)
    assert d["multipliers"]["edu"]["value"] == pytest.approx(direct.multipliers["edu"]["value"], rel=1e-9)


def test_quality_reads_a_table_as_fit_does(tmp_path):
    """quality read its table without the run-table aliases: with an `N` or `Params (M)` column it dropped the
    model-size term without a word (edu 1.45x where the truth is 2), and its text output then crashed."""
    df = _runs({"web": 1.0, "edu": 2.0})
    ref = fit_quality(df, reference="web", bootstrap=20).multipliers["edu"]["value"]
    odd = df.rename(columns={"params": "Params (M)", "loss": "val_loss", "dataset": "corpus"})
    odd["Params (M)"] = odd["Params (M)"] / 1e6
    path = tmp_path / "q.csv"
    odd.to_csv(path, index=False)
    res = fit_quality(path, reference="web", bootstrap=20)
    assert res.multipliers["edu"]["value"] == pytest.approx(ref, rel=1e-6) and "alpha" in res.params
    r = CliRunner().invoke(app, ["quality", str(path), "--reference", "web", "--bootstrap", "20"])
    assert r.exit_code == 0, r.output
    assert "shared exponents alpha = " in r.stdout and "edu: worth" in r.stdout
    data_only = df[df["params"] == df["params"].iloc[0]].drop(columns="params")
    data_only.to_csv(tmp_path / "d.csv", index=False)
    r = CliRunner().invoke(app, ["quality", str(tmp_path / "d.csv"), "--reference", "web", "--bootstrap", "20"])
    assert r.exit_code == 0 and "shared exponents beta = " in r.stdout  # the data-only form has no alpha
