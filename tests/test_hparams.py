"""The best hyperparameter at a target scale from a study's grid (`fit_optimum`, ``scalinglab hparams``): each
point's optimum (`scalinglab.data.sweeps.optima`) and the power law fitted to them, on a joint learning-rate x
batch-size grid generated from known optimum laws."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import FitError, InputError
from scalinglab.cli import app
from scalinglab.data import load_runs
from scalinglab.data.sweeps import optima
from scalinglab.fit import fit_optimum

E, A, B, AL, BE = 1.8, 400.0, 410.0, 0.34, 0.28
PENALTY = 0.02  # loss x (1 + PENALTY * log2(value / best)^2) for each hyperparameter


def lr_star(N, D):
    return 0.5 * N**-0.3 * D**0.05


def bs_star(N, D):
    return 0.004 * D**0.4  # sequences per batch grows with the tokens, not the size


def grid(edge_size: float | None = None, seed: int = 0) -> pd.DataFrame:
    """6 sizes x 4 token counts; each trained on a 5 x 3 grid of learning rate x batch size in powers of 2 around
    its optimum, the grid offset by a random fraction of a step per point. ``edge_size``: that size's learning
    rates all lie above its optimum (the grid misses it)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(3e7, 1e9, 6):
        for D in N * np.geomspace(10, 80, 4):
            u, w = rng.uniform(-0.5, 0.5, 2)
            shift = 3.0 if N == edge_size else 0.0
            for k in (-2, -1, 0, 1, 2):
                for j in (-1, 0, 1):
                    x, z = k + u + shift, j + w
                    loss = (E + A * N**-AL + B * D**-BE) * (1 + PENALTY * x**2) * (1 + PENALTY * z**2)
                    rows.append({"N": N, "D": D, "learning_rate": lr_star(N, D) * 2.0**x,
                                 "batch_size": bs_star(N, D) * 2.0**z, "loss": loss})
    return pd.DataFrame(rows)


def test_optima_recover_each_points_best_values():
    df = load_runs(grid()).df  # canonical columns (N -> params, D -> tokens)
    for col, truth in (("learning_rate", lr_star), ("batch_size", bs_star)):
        pts = optima(df, col)
        assert len(pts) == 24 and set(pts["method"]) == {"parabola"}
        # the vertex of a parabola in log value through three grid points, from a loss that is nearly quadratic
        np.testing.assert_allclose(pts[col], truth(pts["params"], pts["tokens"]), rtol=0.03)
        np.testing.assert_allclose(pts["loss"], df.groupby(["params", "tokens"])["loss"].min().to_numpy(), rtol=1e-12)
    with pytest.raises(InputError, match="no numeric column 'momentum'"):
        optima(df, "momentum")


def test_fit_optimum_recovers_the_scaling_and_predicts_with_an_interval():
    res, pts = fit_optimum(grid(), "learning_rate")
    assert res.params["a"] == pytest.approx(-0.3, abs=0.005) and res.params["b"] == pytest.approx(0.05, abs=0.005)
    N, D = 1e10, 2e11  # 10x the largest size
    p = res.predict(N=N, D=D)
    assert p.value == pytest.approx(lr_star(N, D), rel=0.01)
    assert p.interval[0] < lr_star(N, D) < p.interval[1] and p.extrapolation["N"] == pytest.approx(10.0)
    res_b, _ = fit_optimum(grid(), "batch_size")
    assert res_b.params["a"] == pytest.approx(0.0, abs=0.005) and res_b.params["b"] == pytest.approx(0.4, abs=0.005)
    assert pts["used"].all() and len(pts) == 24


def test_the_fits_warnings_point_at_the_caller(monkeypatch):
    """A warning of the fit of the optima (here one added to its diagnosis) points at the line that called
    `fit_optimum`, as `fit`'s own do, not inside the library."""
    import warnings
    from dataclasses import replace
    from pathlib import Path

    from scalinglab import ConvergenceWarning
    from scalinglab.fit import _api

    real = _api.diagnose

    def noisy(ctx, point):
        diag = real(ctx, point)
        return replace(diag, warnings=(*diag.warnings, "a note from the diagnosis"))

    monkeypatch.setattr(_api, "diagnose", noisy)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        fit_optimum(grid(), "learning_rate")
    mine = [w for w in got if issubclass(w.category, ConvergenceWarning) and "a note from" in str(w.message)]
    assert len(mine) == 1 and Path(mine[0].filename).name == "test_hparams.py"


def test_points_whose_grid_misses_the_optimum_are_left_out():
    res, pts = fit_optimum(grid(edge_size=1e9), "learning_rate")
    big = np.isclose(pts["params"], 1e9)
    assert set(pts.loc[big, "method"]) == {"edge"} and not pts.loc[big, "used"].any()
    assert pts["used"].sum() == 20
    assert res.params["a"] == pytest.approx(-0.3, abs=0.03)  # the edge points do not drag the law
    with pytest.raises(FitError, match="inside the grid tried .*Widen the grid"):
        g = grid()
        fit_optimum(g[g["learning_rate"] > lr_star(g["N"], g["D"])], "learning_rate")  # every best rate: the smallest


def test_cli_hparams(tmp_path):
    path = tmp_path / "grid.csv"
    grid().to_csv(path, index=False)
    r = CliRunner().invoke(app, ["hparams", str(path), "--column", "learning_rate", "--at", "N=10B,D=200B", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["column"] == "learning_rate" and d["law"] == "A * N**a * D**b" and d["n_points"] == 24
    assert d["excluded"] == {} and len(d["points"]) == 24
    pred = d["prediction"]
    assert pred["value"] == pytest.approx(lr_star(1e10, 2e11), rel=0.05) and "loss" not in pred
    assert pred["interval"][0] < pred["value"] < pred["interval"][1]
    r = CliRunner().invoke(app, ["hparams", str(path), "--column", "learning_rate", "--at", "N=10B,D=200B"])
    assert r.exit_code == 0 and "best learning_rate = A * N**a * D**b" in r.output and "80% interval" in r.output
    r = CliRunner().invoke(app, ["hparams", str(path), "--column", "momentum"])
    assert r.exit_code == 2 and "no numeric column 'momentum'" in r.output


def test_a_sweep_at_one_token_ratio_takes_the_readme_target(tmp_path):
    """A sweep whose sizes share one tokens-per-parameter ratio has a law in N alone: `--at N=1B,D=20B` (the
    README's form) was refused with "takes N; got 'D'"."""
    df = grid()
    one = df[np.isclose(df["D"] / df["N"], 10.0)].copy()
    one["dataset"] = "web"                                 # and a text column, as most tables have
    path = tmp_path / "hp.csv"
    one.to_csv(path, index=False)
    r = CliRunner().invoke(app, ["hparams", str(path), "--column", "learning_rate", "--at", "N=1B,D=10B",
                                 "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["law"] == "A * N**a"
    assert any("D is not used" in w and "about 10" in w for w in d["prediction"]["warnings"])
    alone = json.loads(CliRunner().invoke(app, ["hparams", str(path), "--column", "learning_rate", "--at", "N=1B",
                                                "--json"]).stdout)
    assert d["prediction"]["value"] == pytest.approx(alone["prediction"]["value"], rel=1e-12)


def test_one_interior_optimum_says_to_widen_the_grid():
    """Only one point with its best value inside the grid: the error said 'the optima do not vary in params,
    tokens or flops' instead of naming the grid's edges."""
    from scalinglab.fit._hparams import fit_optimum as fo

    df = grid()
    first = (df["N"] == df["N"].min()) & (df["D"] == df.loc[df["N"] == df["N"].min(), "D"].min())
    keep = df[first | (df["learning_rate"] > 1.5 * lr_star(df["N"], df["D"]))]
    with pytest.raises(FitError, match=r"point\(s\) have a best .* inside the grid tried .*Widen the grid"):
        fo(keep, "learning_rate")
