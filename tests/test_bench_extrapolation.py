"""The extrapolation harness's reader (``bench/extrapolation.py``): which ladders it finds in a ``--data``
folder. The harness itself takes ~13 minutes and is not run here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HARNESS = Path(__file__).resolve().parents[1] / "bench" / "extrapolation.py"


@pytest.fixture(scope="module")
def X():
    spec = importlib.util.spec_from_file_location("extrapolation_harness", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_own_run_tables_become_ladders(X, tmp_path, capsys):
    web = X.isoflop(X.chinchilla, 1, 0.01)  # 8 budgets x 9 runs
    code = X.isoflop(X.broken, 2, 0.01)
    users = pd.concat([web.assign(corpus="web"), code.assign(corpus="code")]).rename(
        columns={"params": "N", "tokens": "D", "loss": "val_loss"}).drop(columns="flops")  # aliases, no FLOPs
    users.to_csv(tmp_path / "mylab.csv", index=False)
    web.head(10).to_parquet(tmp_path / "tiny.parquet")  # 10 runs at 2 budgets: too small to cut
    (tmp_path / "notes.md").write_text("not a table")
    pd.DataFrame({"x": [1, 2], "y": [3, 4]}).to_csv(tmp_path / "other.csv", index=False)
    # Open-Athena's IsoFLOP format: one ladder per (source, dataset, experiment, condition)
    web.rename(columns={"flops": "budget"}).assign(source="lab", dataset="c4", experiment="e1").to_csv(
        tmp_path / "isoflops.csv", index=False)

    found = {name: (ds, df) for ds, name, df in X.public([tmp_path, tmp_path / "absent"])}
    assert set(found) == {"mylab:web", "mylab:code", "lab:c4/e1"}
    assert found["mylab:web"][0] == "mylab" == found["mylab:code"][0]  # one file = one dataset left out
    df = found["mylab:code"][1]
    assert len(df) == 72 and list(df.columns) == ["params", "tokens", "flops", "loss"]
    np.testing.assert_allclose(df["flops"], 6 * df["params"] * df["tokens"], rtol=1e-12)  # derived 6ND
    np.testing.assert_allclose(np.sort(df["loss"]), np.sort(code["loss"]), rtol=1e-12)
    np.testing.assert_allclose(found["lab:c4/e1"][1]["flops"], web["flops"], rtol=1e-12)
    out = capsys.readouterr().out
    assert "skip tiny: 10 runs at 2 compute levels" in out and "skip other.csv" in out
    assert X.public([tmp_path / "absent"]) == []


def test_synthetic_families_carry_their_truth(X):
    """Every synthetic family names the law that generated it, so the harness can score the truth itself."""
    for name, (truth, opts) in X.SYNTHETIC.items():
        df = X.isoflop(truth, 0, **opts)
        clean = truth(df["params"].to_numpy(), df["tokens"].to_numpy())
        noise = np.log(df["loss"].to_numpy() / clean)
        assert len(df) == 72 and abs(np.median(noise)) < 0.01, name
        assert np.std(noise) < 3 * opts["noise"], name


def test_a_hyperparameter_grid_becomes_its_tuned_ladder(X, tmp_path, capsys):
    """A study's grid (every run at three learning rates, the worst 5 % and 10 % above the best; one run logged
    twice under another tag) becomes the ladder of its best runs, each run once."""
    web = X.isoflop(X.chinchilla, 3, 0.005)
    grid = pd.concat([web.assign(lr=lr, loss=web["loss"] * f, epochs=1)
                      for lr, f in ((1e-3, 1.05), (2e-3, 1.0), (4e-3, 1.10))])
    grid = pd.concat([grid, grid[grid["lr"] == 2e-3].head(1).assign(epochs=2)])  # the same run, another tag
    grid.to_csv(tmp_path / "grid.csv", index=False)
    [(ds, name, df)] = X.public([tmp_path])
    assert (ds, name) == ("grid", "grid") and len(df) == 72
    np.testing.assert_allclose(np.sort(df["loss"]), np.sort(web["loss"]), rtol=1e-12)  # the best rate everywhere
    out = capsys.readouterr().out
    assert "sweeps lr; the best run of each point kept (73 runs)" in out and "1 runs repeated" in out
