"""Per-checkpoint logs (`scalinglab.data.checkpoints`): runs logged at many steps are found, the fitter says that a
law of N and D fitted to every checkpoint reads mid-schedule losses as finished runs, and ``final()`` /
``--last-checkpoint`` keep the point each run ends at."""

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
from scalinglab.data.checkpoints import describe_checkpoints, short_of_plan
from scalinglab.fit import fit
from scalinglab.fit._inputs import law_of_final_runs

E, A, B, AL, BE = 1.8, 400.0, 410.0, 0.34, 0.28
STEPS = 8
PENALTY = 0.04  # a checkpoint at fraction f of its schedule is (1 + PENALTY (1 - f)) above a run trained to there


def law(N, D):
    return E + A * N**-AL + B * D**-BE


def log(run_ids: bool = True) -> pd.DataFrame:
    """12 sizes x 3 token budgets (36 runs, each scheduled to its own budget), each logged at 8 steps."""
    rows = []
    for i, N in enumerate(np.geomspace(2e7, 2e9, 12)):
        for j, ratio in enumerate((5.0, 20.0, 80.0)):
            for k in range(1, STEPS + 1):
                f = k / STEPS
                D = ratio * N * f
                rows.append({"run_id": f"n{i}-r{j}", "params": N, "tokens": D, "step": 1000 * k,
                             "loss": law(N, D) * (1 + PENALTY * (1 - f))})
    df = pd.DataFrame(rows)
    return df if run_ids else df.drop(columns="run_id").assign(
        schedule=np.repeat([f"cosine-{r}x" for r in (5, 20, 80)] * 12, STEPS))


def test_runs_and_their_last_checkpoints_are_found():
    rt = load_runs(log())
    info = rt.checkpoints()
    assert info == {"runs": 36, "rows": 36 * STEPS, "run_columns": ["run_id"], "along": "step", "short": 0}
    last = rt.final()
    assert len(last) == 36 and set(last.df["step"]) == {1000 * STEPS}
    # the rows kept are the file's rows of each run's last step (1-based data rows)
    np.testing.assert_array_equal(last.source_rows, np.arange(STEPS, 36 * STEPS + 1, STEPS))
    assert rt.summary()["checkpoints"]["runs"] == 36
    # without run ids the table is one row per run: a ladder that records each run's final step looks the same
    bare = load_runs(log(run_ids=False))
    assert bare.checkpoints()["runs"] == 0 and bare.final() is bare
    # warmup-stable-decay cooldown branches (the runner's store writes one row per run and branch) are runs
    wsd = log().assign(branch=lambda d: [f"cooldown@{s}" for s in d["step"]])
    assert load_runs(wsd).checkpoints()["runs"] == 0
    # one run id trained at two seeds is two runs, each logged at its checkpoints
    seeds = pd.concat([log().assign(seed=1), log().assign(seed=2)], ignore_index=True)
    assert load_runs(seeds).checkpoints()["runs"] == 72 and len(load_runs(seeds).final()) == 72
    # a table of one row per run is left as it is
    one = load_runs(log().groupby("run_id").tail(1).drop(columns=["run_id", "step"]))
    assert one.checkpoints()["runs"] == 0 and one.final() is one


def planned_log() -> pd.DataFrame:
    """`log` as the "(Mis)fitting" study's raw table writes one: no run id, each row with its run's planned
    length (``total_steps``), its step (``current_steps``) and columns that move along a run."""
    df = log(run_ids=False)
    k = df["step"] // 1000
    return pd.DataFrame({"loss": df["loss"], "N": df["params"], "D": df["tokens"], "portion_steps_elapsed": k / STEPS,
                         "model": df["schedule"], "total_steps": 1000 * STEPS, "current_steps": df["step"],
                         "current_epoch": k, "peak_lr": 2e-3})


def test_a_log_without_run_ids_is_told_by_its_planned_length():
    rt = load_runs(planned_log())
    info = rt.checkpoints()
    assert info["runs"] == 36 and info["rows"] == 36 * STEPS and info["along"] == "step"
    assert info["run_columns"] == ["total_steps", "params", "model", "peak_lr"]  # not current_epoch, not D
    last = rt.final()
    assert len(last) == 36 and set(last.df["step"]) == {1000 * STEPS}
    np.testing.assert_array_equal(last.source_rows, np.arange(STEPS, 36 * STEPS + 1, STEPS))
    with pytest.warns(DataWarning, match=r"36 runs are logged at several checkpoints.*told by total_steps"):
        fit(rt, "chinchilla", loss="huber", calibrate=False)
    kept = fit(last, "chinchilla", loss="huber", calibrate=False)
    assert kept.params["alpha"] == pytest.approx(AL, abs=0.005) and kept.params["beta"] == pytest.approx(BE, abs=0.005)
    # the same ladder's final rows (at the planned length, or one short of it under 0-based counting) are runs
    finals = planned_log().groupby(["N", "model"]).tail(1)
    for shift in (0, 1):
        one = load_runs(finals.assign(current_steps=finals["current_steps"] - shift))
        assert one.checkpoints()["runs"] == 0 and one.final() is one
    # two lr values of one model at one length are two runs
    two = pd.concat([planned_log(), planned_log().assign(peak_lr=1e-3)], ignore_index=True)
    assert load_runs(two).checkpoints()["runs"] == 72


def test_runs_that_stop_short_of_their_planned_length_are_counted(tmp_path):
    """Three runs crashed (their last rows lost): their last checkpoint is part-way through the schedule, and
    validate, the fit's warning and --last-checkpoint say how many."""
    df = planned_log()
    crashed = df["model"].eq("cosine-80x") & df["N"].isin(sorted(set(df["N"]))[:3]) & (df["current_steps"] > 5000)
    rt = load_runs(df[~crashed])
    info = rt.checkpoints()
    assert info["runs"] == 36 and info["short"] == 3
    assert "3 of them stop short of the planned length" in describe_checkpoints(info)
    last = rt.final()
    assert short_of_plan(last.df) == 3 and short_of_plan(load_runs(planned_log()).final().df) == 0
    assert set(last.df.loc[last.df["step"] < 1000 * STEPS, "step"]) == {5000}
    path = tmp_path / "log.csv"
    df[~crashed].to_csv(path, index=False)
    r = CliRunner().invoke(app, ["fit", str(path), "--law", "chinchilla", "--loss", "huber", "--last-checkpoint",
                                 "--json"])
    assert r.exit_code == 0, r.output
    assert "36 of 279 rows kept, the last checkpoint of each run; 3 of them stop short of the planned length" \
        in r.stderr
    r = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert json.loads(r.stdout)["checkpoints"]["short"] == 3


def test_fit_of_every_checkpoint_warns_and_the_last_checkpoints_recover_the_law():
    rt = load_runs(log())
    with pytest.warns(DataWarning, match=r"36 runs are logged at several checkpoints.*--last-checkpoint"):
        every = fit(rt, "chinchilla", loss="huber", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # one row per run: nothing to say
        last = fit(rt.final(), "chinchilla", loss="huber", calibrate=False)
    assert last.params["alpha"] == pytest.approx(AL, abs=0.005)
    assert last.params["beta"] == pytest.approx(BE, abs=0.005)
    # mid-schedule checkpoints bias the law: Chinchilla fitted to them misses the exponents
    assert abs(every.params["beta"] - BE) > 10 * abs(last.params["beta"] - BE)


def test_laws_of_a_loss_curve_are_not_warned():
    assert law_of_final_runs("chinchilla") and law_of_final_runs("auto") and law_of_final_runs(None)
    assert law_of_final_runs("data-constrained")
    for name in ("lr-annealing", "kaplan-ns", "kaplan-c", "sigmoid"):
        assert not law_of_final_runs(name), name


def test_cli_validate_and_last_checkpoint(tmp_path):
    path = tmp_path / "history.csv"
    log().to_csv(path, index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["validate", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["checkpoints"]["runs"] == 36
    r = runner.invoke(app, ["validate", str(path)])
    assert "checkpoints: 36 runs are logged at several checkpoints" in r.output and "--last-checkpoint" in r.output
    r = runner.invoke(app, ["fit", str(path), "--law", "chinchilla", "--loss", "huber", "--last-checkpoint", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_points"] == 36 and d["params"]["alpha"] == pytest.approx(AL, abs=0.005)
    assert "--last-checkpoint: 36 of 288 rows kept, the last checkpoint of each run" in r.stderr


def tracker_export() -> pd.DataFrame:
    """A W&B runs export: 24 runs of Chinchilla's law, three of them crashed or still running (their loss 8 %
    above the law: stopped part-way through the schedule)."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(2e7, 2e9, 6), 4)
    D = np.tile(np.geomspace(4e9, 4e11, 4), 6)
    loss = law(N, D) * np.exp(rng.normal(0, 0.002, N.size))
    state = np.array(["finished"] * N.size, dtype=object)
    state[[3, 7]], state[11] = "crashed", "running"
    loss[[3, 7, 11]] *= 1.08
    return pd.DataFrame({"Name": [f"r{i}" for i in range(N.size)], "State": state, "N": N, "D": D, "val/loss": loss})


def test_runs_a_tracker_marks_unfinished_are_named_and_can_be_left_out(tmp_path):
    rt = load_runs(tracker_export())
    assert rt.unfinished() == {"column": "State", "rows": 3, "states": {"crashed": 2, "running": 1}, "runs": 3,
                               "finished": "finished"}
    with pytest.warns(DataWarning, match=r"3 runs did not finish \(State: crashed 2, running 1\).*--where "
                                         r"State=finished"):
        every = fit(rt, "chinchilla", loss="huber", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        kept = fit(rt.where("State=finished"), "chinchilla", loss="huber", calibrate=False)
    assert kept.params["alpha"] == pytest.approx(AL, abs=0.02) and kept.params["beta"] == pytest.approx(BE, abs=0.02)
    assert (every.n_points, kept.n_points) == (24, 21)
    with warnings.catch_warnings():  # a law of compute alone (a loss curve's envelope) takes runs part-way too
        warnings.simplefilter("error", DataWarning)
        fit(rt, "kaplan-c", calibrate=False)
    # MLflow's status column, upper case; a store's or a table's "done"/"finished" runs say nothing
    mlflow = tracker_export().rename(columns={"State": "status"}).replace({"crashed": "FAILED", "running": "RUNNING",
                                                                         "finished": "FINISHED"})
    assert load_runs(mlflow).unfinished()["states"] == {"FAILED": 2, "RUNNING": 1}
    assert load_runs(tracker_export().assign(State="done")).unfinished()["rows"] == 0
    path = tmp_path / "wandb.csv"
    tracker_export().to_csv(path, index=False)
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert "unfinished: 3 runs did not finish (State: crashed 2, running 1)" in r.output
    assert "--where State=finished" in r.output
    r = CliRunner().invoke(app, ["fit", str(path), "--law", "chinchilla", "--loss", "huber", "--where",
                                 "State=finished", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["n_points"] == 21, r.output


def test_last_checkpoint_says_when_no_run_has_two_rows(tmp_path):
    """Without a run column --last-checkpoint kept all 350 rows and said it kept 'the last checkpoint of each
    run': it says nothing was grouped, and how a run is told."""
    import pandas as pd
    from typer.testing import CliRunner

    from scalinglab.cli import app

    N = np.repeat([1e7, 2e7, 4e7], 3)
    D = N * np.tile([5.0, 10.0, 20.0], 3)
    pd.DataFrame({"params": N, "tokens": D, "step": np.tile([1, 2, 3], 3),
                  "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28}).to_csv(tmp_path / "t.csv", index=False)
    r = CliRunner().invoke(app, ["fit", str(tmp_path / "t.csv"), "--law", "chinchilla", "--last-checkpoint"])
    assert r.exit_code == 0, r.output
    assert "all 9 rows kept: no run has more than one row" in r.output and "of each run" not in r.output


def test_unfinished_runs_of_a_checkpoint_log_are_counted_as_runs():
    """A per-checkpoint log repeats a run's state on every row: '10 runs did not finish' for 2 runs."""
    import pandas as pd

    from scalinglab.data.checkpoints import describe_unfinished, unfinished

    df = pd.DataFrame({"run_id": ["a"] * 5 + ["b"] * 5 + ["c"] * 5, "step": list(range(1, 6)) * 3,
                       "status": ["FAILED"] * 5 + ["RUNNING"] * 5 + ["FINISHED"] * 5})
    info = unfinished(df)
    assert info["rows"] == 10 and info["runs"] == 2
    assert describe_unfinished(info).startswith("2 runs (10 rows) did not finish (status: FAILED 5, RUNNING 5 rows)")
    one = unfinished(df.groupby("run_id").tail(1))
    assert describe_unfinished(one).startswith("2 runs did not finish (status: FAILED 1, RUNNING 1)")
