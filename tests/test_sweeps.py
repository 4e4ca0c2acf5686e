"""Hyperparameter grids in a run table (several runs of one (N, D) at different learning rates): found
(`RunTable.sweep`), reduced to the best run of each point (`RunTable.best_of`, ``--best-of``), said once by the
fitter (`DataWarning`); and columns that claim one canonical name (``D`` and ``train_tokens``) settled on their
values."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import DataError, DataWarning, InputError
from scalinglab.cli import app
from scalinglab.data import load_runs
from scalinglab.data.sweeps import optima
from scalinglab.fit import backtest_sweep, compare, fit

E, A, B, AL, BE = 1.8, 400.0, 410.0, 0.34, 0.28
OFFSETS = (-2, -1, 0, 1, 2)  # learning rates at lr*(N) x 2^offset
PENALTY = 0.03               # loss x (1 + PENALTY * offset^2): 3 % and 12 % above the tuned run


def law(N, D):
    return E + A * N**-AL + B * D**-BE


def grid(seed: int = 0, noise: float = 0.001) -> pd.DataFrame:
    """6 sizes x 5 token counts, each trained at 5 learning rates around its own optimum lr* = 0.02 N^-0.3
    (so lr takes different values at different sizes), one point also at a second seed; a job name per row and
    the sweep each run was launched in (the highest rate later, in a second sweep)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(2e7, 1e9, 6):
        for D in N * np.geomspace(5, 80, 5):
            for k in OFFSETS:
                lr = 0.02 * N**-0.3 * 2.0**k
                for s in ((1, 2) if (N, D) == (2e7, 1e8) else (1,)):
                    loss = law(N, D) * (1 + PENALTY * k**2) * np.exp(noise * rng.standard_normal())
                    rows.append({"job_name": f"n{N:.3g}_d{D:.3g}_lr{lr:.3g}_s{s}", "N": N, "D": D, "lr": lr,
                                 "seed": s, "sweep": "late" if k == 2 else "first", "val_loss": loss})
    return pd.DataFrame(rows)


@pytest.fixture
def sweep_csv(tmp_path):
    path = tmp_path / "grid.csv"
    grid().to_csv(path, index=False)
    return path


def test_sweep_found_on_the_swept_column_only(sweep_csv):
    rt = load_runs(sweep_csv)
    s = rt.sweep()
    assert s["columns"] == ["lr"]  # not the seed (replicates), not the job name or sweep (labels of runs)
    assert s["points"] == 30 and s["runs"] == 155 == len(rt)
    assert s["point_columns"] == ["params", "tokens"]
    # the loss of a point spans the 12 % penalty of its worst learning rate (noise 0.1 %)
    assert s["spread"] == pytest.approx(4 * PENALTY, abs=0.01)
    assert rt.summary()["sweep"] == s


def test_best_of_keeps_the_lowest_loss_of_each_point(sweep_csv):
    rt = load_runs(sweep_csv)
    best = rt.best_of("lr")
    assert len(best) == 31  # 30 points; the point run at two seeds keeps both seeds of its best lr
    df = rt.df
    want = df.groupby(["params", "tokens"])["loss"].min().sort_index()
    got = best.df.groupby(["params", "tokens"])["loss"].min().sort_index()
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    twice = best.df[np.isclose(best.df["params"], 2e7) & np.isclose(best.df["tokens"], 1e8)]
    assert sorted(twice["seed"]) == [1, 2] and twice["lr"].nunique() == 1  # replicates, not the luckier seed
    # every kept run is at its size's tuned learning rate (noise 0.1 % cannot beat a 3 % penalty)
    np.testing.assert_allclose(best.df["lr"], 0.02 * best.df["params"] ** -0.3, rtol=1e-9)
    # source rows survive: errors about a kept row still name the file's row
    i = int(np.flatnonzero(best.df["loss"].to_numpy() == best.df["loss"].iloc[0])[0])
    assert df["loss"].iloc[best.source_rows[i] - 1] == best.df["loss"].iloc[i]
    assert len(rt.best_of()) == 31  # no columns: the swept ones
    assert rt.best_of().best_of("lr").df.equals(best.df)  # idempotent
    with pytest.raises(InputError, match="--best-of 'momentum': no such column"):
        rt.best_of("momentum")


def test_the_law_of_the_best_runs_is_the_tuned_law_and_every_run_is_not(sweep_csv):
    """Fitted to every run, Huber describes an average over learning rates: its forecast of a 10x larger tuned
    run is several percent high; fitted to the best run of each point it is within noise of the truth."""
    N, D = 1e10, 2e11
    truth = law(N, D)
    rt = load_runs(sweep_csv)
    with pytest.warns(DataWarning):
        every = fit(rt, "chinchilla", loss="huber").predict(N=N, D=D)
    best = fit(rt.best_of("lr"), "chinchilla", loss="huber")
    assert every.value / truth - 1 > 0.02
    assert abs(best.predict(N=N, D=D).value / truth - 1) < 0.005
    assert best.params["E"] == pytest.approx(E, abs=0.05)


def test_the_fitter_says_it_once_per_call(sweep_csv):
    rt = load_runs(sweep_csv)
    for call in (lambda: fit(rt, "chinchilla"), lambda: backtest_sweep(rt, "chinchilla"),
                 lambda: compare(rt, "chinchilla,kaplan-nd")):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            call()
        said = [str(w.message) for w in rec if issubclass(w.category, DataWarning)]
        assert len(said) == 1, said
        assert "lr varies among the runs of 30 points" in said[0] and "--best-of lr" in said[0]
        assert rec[[issubclass(w.category, DataWarning) for w in rec].index(True)].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # the best runs: nothing to say
        fit(rt.best_of("lr"), "chinchilla")


def test_a_schedule_along_one_run_is_not_a_sweep():
    """A per-checkpoint log records the learning rate of each step: it changes along a run, and two runs of
    one size meet at equal token counts with different rates. That is no sweep."""
    rows = []
    for run, (N, total) in enumerate([(5e7, 2e9), (5e7, 4e9), (1e8, 2e9), (1e8, 4e9)]):
        for t in np.linspace(5e8, total, 4 if total == 2e9 else 8):
            rows.append({"run_id": f"r{run}", "params": N, "tokens": t, "lr": 1e-3 * (1 - t / (1.1 * total)),
                         "loss": float(law(N, t))})
    rt = load_runs(pd.DataFrame(rows))
    assert rt.sweep()["columns"] == []
    with pytest.raises(InputError, match="'lr' changes along a run"):
        optima(rt.df, "lr")


def test_cli_best_of_and_validate(sweep_csv):
    runner = CliRunner()
    r = runner.invoke(app, ["validate", str(sweep_csv), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["sweep"]["columns"] == ["lr"] and d["sweep"]["points"] == 30
    r = runner.invoke(app, ["validate", str(sweep_csv)])
    assert "hyperparameter sweep: lr varies among the runs of 30 points" in r.output and "--best-of lr" in r.output
    for flag in ("lr", "auto"):
        r = runner.invoke(app, ["fit", str(sweep_csv), "--law", "chinchilla", "--best-of", flag, "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["n_points"] == 31  # stdout stays JSON; the note goes to stderr
        assert f"--best-of {flag}: 31 of 155 runs kept, the best of each point" in r.stderr
    r = runner.invoke(app, ["backtest", str(sweep_csv), "--law", "chinchilla", "--best-of", "lr", "--json"])
    assert r.exit_code == 0, r.output
    assert max(p["N"] for p in json.loads(r.stdout)["points"]) == pytest.approx(1e9)
    r = runner.invoke(app, ["fit", str(sweep_csv), "--best-of", "momentum"])
    assert r.exit_code == 2 and "--best-of 'momentum': no such column" in r.output


# ---- columns that claim one canonical name ---------------------------------------------------------------
def test_nominal_and_actual_token_counts_are_one_column(tmp_path):
    """``D`` (nominal) and ``train_tokens`` (steps x batch) both mean tokens; within 1 % they are one column:
    ``D`` (earlier in the accepted names) becomes ``tokens`` and ``train_tokens`` stays as it is."""
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8], "D": [2e9, 4e9, 8e9], "train_tokens": [2.0001e9, 4.002e9, 8.0e9],
                       "loss": [3.1, 2.9, 2.7]})
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    rt = load_runs(path)
    np.testing.assert_array_equal(rt.df["tokens"], df["D"])
    np.testing.assert_array_equal(rt.df["train_tokens"], df["train_tokens"])
    assert rt.column_map["D"] == "tokens" and "train_tokens" not in rt.column_map
    df.loc[1, "train_tokens"] = 4.4e9  # 10 % apart: which one is meant cannot be told
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="columns 'D' and 'train_tokens' both mean 'tokens' but differ by more than "
                                        "1% in 1 row") as exc:
        load_runs(path)
    assert (exc.value.problems[0].row, exc.value.problems[0].column) == (2, "train_tokens")
    # the explicit choice still works
    assert load_runs(path, columns={"train_tokens": "tokens", "D": None}).df["tokens"].iloc[1] == 4.4e9


def test_cli_drop_duplicates(sweep_csv, tmp_path):
    """A run logged twice (every column equal) stops a fit with the way out; --drop-duplicates takes it."""
    df = pd.read_csv(sweep_csv)
    path = tmp_path / "twice.csv"
    pd.concat([df, df.iloc[[7]]]).to_csv(path, index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["fit", str(path), "--law", "chinchilla", "--best-of", "lr", "--json"])
    assert r.exit_code == 2 and "exact duplicate of row 8" in r.output and "--drop-duplicates" in r.output
    for cmd in (["fit", "--law", "chinchilla"], ["hparams", "--column", "lr"]):
        r = runner.invoke(app, [cmd[0], str(path), *cmd[1:], "--drop-duplicates", "--json"]
                          + (["--best-of", "lr"] if cmd[0] == "fit" else []))
        assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_points"] == 30  # hparams: every point's optimum inside the grid


def test_cli_report_of_the_tuned_ladder(sweep_csv, tmp_path):
    """``report --best-of`` shows (and fits) the best run of each point, each labelled by its job name; without
    a name column the hover names the file's row, as errors number them."""
    out = tmp_path / "r.html"
    r = CliRunner().invoke(app, ["report", str(sweep_csv), "--best-of", "lr", "--law", "chinchilla", "--bootstrap",
                                 "0", "--no-backtest", "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "31 of 155 runs kept" in r.stderr
    html = out.read_text(encoding="utf-8")
    best = load_runs(sweep_csv).best_of("lr").df
    assert len(best) == 31 and "<tr><td>runs</td><td>31</td></tr>" in html
    # a job name is the run's label (read as its run_id)
    kept, dropped = best["run_id"].iloc[0], set(load_runs(sweep_csv).df["run_id"]) - set(best["run_id"])
    assert kept in html and not any(name in html for name in dropped)
    from scalinglab.report._inputs import as_frame, run_labels

    table = load_runs(sweep_csv, columns={"job_name": None}).where("params>=1e8")
    labels = run_labels(as_frame(table))
    assert labels[0] == f"row {int(table.source_rows[0])}" and table.source_rows[0] > 1


def test_the_optima_of_a_table_with_a_text_column_keep_their_numbers():
    """A `dataset` column made every point column text (np.atleast_1d of a mixed tuple): fit_optimum then failed
    with 'Can only string multiply by an integer' on any table with a dataset column."""
    from scalinglab.data.sweeps import optima

    rows = [{"params": n, "tokens": 20 * n, "dataset": "web", "lr": lr, "loss": 3 + (np.log(lr / 1e-3)) ** 2 / 10}
            for n in (1e7, 1e8) for lr in (3e-4, 1e-3, 3e-3)]
    opt = optima(pd.DataFrame(rows), "lr")
    assert opt["params"].tolist() == [1e7, 1e8] and pd.api.types.is_float_dtype(opt["params"])
    assert opt["dataset"].tolist() == ["web", "web"]
    assert opt["lr"].tolist() == pytest.approx([1e-3, 1e-3], rel=1e-2)  # a parabola in log lr and log loss
