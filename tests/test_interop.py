"""Interop: MLflow tracking stores (written by the real mlflow package) and W&B run-history CSV exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import DataError, InputError
from scalinglab.cli import app
from scalinglab.interop import read_mlflow, read_wandb_history

RUNS = [("L2-d64", 1_234_567, 20_000_000), ("L4-d128", 9_876_543, 80_000_000), ("L8-d256", 52_000_000, 300_000_000)]


def _loss(n, d, step, last):
    return 1.7 + 400 / n**0.34 + 410 / (d * step / last) ** 0.28


@pytest.fixture
def mlruns(tmp_path, monkeypatch):
    """A real MLflow file store written by mlflow itself: 3 ladder runs + 1 run without N (skipped)."""
    mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'scalinglab[mlflow]')")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this flag
    root = tmp_path / "mlruns"
    mlflow.set_tracking_uri(root.as_uri())
    try:
        mlflow.set_experiment("ladder")
        for name, n, d in RUNS:
            with mlflow.start_run(run_name=name):
                mlflow.log_params({"n_params": n, "tokens": d, "lr": 1e-3})
                mlflow.set_tag("dataset", "markov")
                for step in (100, 200, 300, 400):
                    mlflow.log_metric("val_loss", _loss(n, d, step, 400), step=step)
                    mlflow.log_metric("tokens_seen", d * step / 400, step=step)
        with mlflow.start_run(run_name="no-params"):
            mlflow.log_metric("val_loss", 3.0, step=1)
        mlflow.set_experiment("other")
        with mlflow.start_run(run_name="elsewhere"):
            mlflow.log_params({"n_params": 1, "tokens": 1})
            mlflow.log_metric("loss", 9.0, step=1)
    finally:
        mlflow.set_tracking_uri(None)
    return root


def test_mlflow_file_store_import(mlruns):
    df = read_mlflow(mlruns, experiment="ladder")
    assert sorted(df["name"]) == sorted(r[0] for r in RUNS)
    by = df.set_index("name")
    for name, n, d in RUNS:
        assert by.loc[name, "params"] == n and by.loc[name, "tokens"] == d
        assert by.loc[name, "loss"] == pytest.approx(_loss(n, d, 400, 400), rel=1e-12)
        assert by.loc[name, "step"] == 400 and by.loc[name, "dataset"] == "markov"
    assert [s["name"] for s in df.attrs["skipped"]] == ["no-params"]
    assert df.attrs["skipped"][0]["missing"] == ["params", "tokens"]
    # curves: one row per logged step; tokens from the logged tokens_seen metric
    cur = read_mlflow(mlruns, experiment="ladder", curves=True)
    assert len(cur) == 12
    one = cur[cur["name"] == "L4-d128"].sort_values("step")
    assert one["tokens"].tolist() == [20_000_000, 40_000_000, 60_000_000, 80_000_000]
    assert one["loss"].tolist() == pytest.approx([_loss(9_876_543, 80_000_000, s, 400) for s in (100, 200, 300, 400)])
    # all experiments; explicit keys
    both = read_mlflow(f"file://{mlruns}", loss_key="val_loss")
    assert len(both) == 3  # 'elsewhere' logs 'loss', not 'val_loss'
    assert len(read_mlflow(mlruns)) == 4
    with pytest.raises(InputError, match="no MLflow experiment"):
        read_mlflow(mlruns, experiment="nope")


def test_mlflow_import_feeds_the_run_table_loader(mlruns, tmp_path):
    from scalinglab.data import load_runs

    out = tmp_path / "runs.csv"
    res = CliRunner().invoke(app, ["import", "mlflow", str(mlruns), "--experiment", "ladder", "-o", str(out),
                                   "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["rows"] == 3 and info["runs"] == 3 and info["skipped"][0]["name"] == "no-params"
    rt = load_runs(out)
    assert sorted(rt.df["params"].astype(int)) == sorted(r[1] for r in RUNS)
    assert np.allclose(sorted(rt.df["tokens"]), sorted(r[2] for r in RUNS))


def test_scalinglab_store_to_mlflow_and_back(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'scalinglab[mlflow]')")
    pytest.importorskip("sqlalchemy")
    from scalinglab.interop import log_to_mlflow
    from scalinglab.store import Store

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    st = Store(tmp_path / "runs.db")
    for i, (name, n, d) in enumerate(RUNS):
        rid = f"run{i}"
        st.register_run(rid, config={"arch": {"n_layer": 2 * (i + 1), "d_model": 64}}, name=name, sweep="s",
                        params=n, param_convention="total", flops_convention="6N", flops_per_token=6.0 * n,
                        tokens_planned=d)
        st.claim_run(rid, "me:1:x")
        st.add_metrics(rid, [{"step": s, "split": "val", "tokens": d * s // 40, "loss_nats": _loss(n, d, s, 40)}
                             for s in (10, 20, 30, 40)])
        st.finish_run(rid, "me:1:x", evaluations=[{"step": 40, "params": n, "tokens": d, "flops": 6.0 * n * d,
                                                    "loss_nats": _loss(n, d, 40, 40), "loss_bpb": 1.0}])
    uri = (tmp_path / "mlruns").as_uri()
    created = log_to_mlflow(st, uri, experiment="from-scalinglab")
    assert len(created) == 3
    assert log_to_mlflow(st, uri, experiment="from-scalinglab") == []  # idempotent
    back = read_mlflow(tmp_path / "mlruns", experiment="from-scalinglab").sort_values("params")
    orig = st.to_frame().sort_values("params")
    assert back["params"].tolist() == orig["params"].tolist()
    assert back["tokens"].tolist() == orig["tokens"].tolist()
    assert back["loss"].tolist() == pytest.approx(orig["loss"].tolist(), rel=1e-12)
    assert back["flops"].tolist() == pytest.approx(orig["flops"].tolist())
    curves = read_mlflow(tmp_path / "mlruns", experiment="from-scalinglab", loss_key="val_loss", curves=True)
    assert len(curves) == 12
    st.close()


def test_remote_mlflow_server_is_refused():
    with pytest.raises(InputError, match="remote"):
        read_mlflow("http://mlflow.example.com:5000")


# ---------------------------------------------------------------------------------------------- W&B
def _wandb_export(path, runs=RUNS, steps=(100, 200, 300, 400)):
    """A run-history CSV in the layout the W&B UI exports (runs as column groups, blanks where unlogged)."""
    cols = {"Step": list(steps)}
    for name, n, d in runs:
        vals = [_loss(n, d, s, steps[-1]) for s in steps]
        if name == "L2-d64":
            vals[1] = np.nan  # W&B leaves cells empty where a run logged nothing at that step
        cols[f"{name} - loss"] = vals
        cols[f"{name} - loss__MIN"] = [v - 0.01 for v in vals]
        cols[f"{name} - loss__MAX"] = [v + 0.01 for v in vals]
        cols[f"{name} - lr"] = [1e-3] * len(steps)
    pd.DataFrame(cols).to_csv(path, index=False)
    return path


def _wandb_runs_table(path):
    pd.DataFrame({"Name": [r[0] for r in RUNS], "State": "finished",
                  "params": ["1234567", "9.876543M", "52M"], "tokens": [r[2] for r in RUNS]}).to_csv(path, index=False)
    return path


def test_wandb_history_with_runs_table(tmp_path):
    df = read_wandb_history(_wandb_export(tmp_path / "h.csv"), runs=_wandb_runs_table(tmp_path / "r.csv"))
    assert df.attrs["metric"] == "loss" and df.attrs["missing_params"] == []
    assert len(df) == 11  # 3 runs × 4 steps, minus one blank cell
    by = df[df["name"] == "L8-d256"].sort_values("step")
    assert by["params"].tolist() == [52_000_000] * 4
    assert by["tokens"].tolist() == [75_000_000, 150_000_000, 225_000_000, 300_000_000]
    assert by["loss"].tolist() == pytest.approx([_loss(52_000_000, 300_000_000, s, 400) for s in (100, 200, 300, 400)])
    assert (by["loss_max"] - by["loss_min"]).tolist() == pytest.approx([0.02] * 4)
    assert sorted(df[df["name"] == "L4-d128"]["params"].unique()) == [9_876_543]
    assert df[df["name"] == "L2-d64"]["step"].tolist() == [100, 300, 400]
    last = read_wandb_history(tmp_path / "h.csv", runs=tmp_path / "r.csv", curves=False)
    assert len(last) == 3 and set(last["step"]) == {400}
    lr = read_wandb_history(tmp_path / "h.csv", metric="lr", tokens_per_step=1000, params={"L2-d64": 5.0})
    assert set(lr["loss"]) == {1e-3} and lr["tokens"].max() == 400_000
    assert lr.attrs["missing_params"] == ["L4-d128", "L8-d256"]


def test_two_series_of_one_run_name_are_both_read(tmp_path, caplog):
    """A relaunched run keeps its display name, so the export has two 'L2-d64 - loss' columns: the second was
    renamed by pandas ('L2-d64 - loss.1') and dropped without a word."""
    path = _wandb_export(tmp_path / "h.csv")
    text = path.read_text().splitlines()
    header = text[0] + ",L2-d64 - loss"
    rows = [line + f",{3.0 + i}" for i, line in enumerate(text[1:])]
    path.write_text("\n".join([header, *rows]) + "\n")
    with caplog.at_level("WARNING", logger="scalinglab.interop"):
        df = read_wandb_history(path, runs=_wandb_runs_table(tmp_path / "r.csv"))
    again = df[df["run_id"] == "L2-d64 #2"].sort_values("step")
    assert again["loss"].tolist() == [3.0, 4.0, 5.0, 6.0]
    assert set(again["params"]) == {1_234_567}  # the name's N and D
    assert len(df) == 11 + 4 and "'L2-d64'" in caplog.text and "L2-d64 #2" in caplog.text
    mapped = read_wandb_history(path, params={"L2-d64": 5.0}, tokens_per_step=1000)  # by the run's name too
    assert set(mapped[mapped["run_id"] == "L2-d64 #2"]["params"]) == {5.0}


def test_a_crashed_runs_state_and_planned_length_come_through(tmp_path):
    """A runs table's State and planned steps: a crashed run logged to step 300 of 1000 has tokens D x 300/1000
    (not its full planned D) and its state, so the run table names it as unfinished (both were dropped)."""
    from scalinglab.data import load_runs

    hist = _wandb_export(tmp_path / "h.csv", steps=(100, 200, 300))
    pd.DataFrame({"Name": [r[0] for r in RUNS], "State": ["finished", "finished", "crashed"],
                  "params": [r[1] for r in RUNS], "tokens": [r[2] for r in RUNS],
                  "max_steps": [300, 300, 1000]}).to_csv(tmp_path / "r.csv", index=False)
    df = read_wandb_history(hist, runs=tmp_path / "r.csv", curves=False)
    by = df.set_index("name")
    assert by.loc["L8-d256", "tokens"] == pytest.approx(300_000_000 * 300 / 1000)
    assert by.loc["L4-d128", "tokens"] == pytest.approx(80_000_000)
    assert by.loc["L8-d256", "state"] == "crashed" and by.loc["L8-d256", "total_steps"] == 1000
    df.to_csv(tmp_path / "runs.csv", index=False)
    info = load_runs(tmp_path / "runs.csv").unfinished()
    assert info["rows"] == 1 and info["states"] == {"crashed": 1} and info["finished"] == "finished"


def test_mlflow_keeps_each_runs_status(mlruns):
    """A FAILED run came in as a finished one (the status was dropped), so the unfinished-runs warning never fired."""
    mlflow = pytest.importorskip("mlflow")
    mlflow.set_tracking_uri(mlruns.as_uri())
    try:
        mlflow.set_experiment("ladder")
        with mlflow.start_run(run_name="died"):
            mlflow.log_params({"n_params": 1e9, "tokens": 2e10})
            mlflow.log_metric("val_loss", 3.5, step=10)
            mlflow.end_run(status="FAILED")
    finally:
        mlflow.set_tracking_uri(None)
    df = read_mlflow(mlruns, experiment="ladder")
    by = df.set_index("name")
    assert by.loc["died", "status"] == "FAILED" and set(by.drop(index="died")["status"]) == {"FINISHED"}
    from scalinglab.data import load_runs

    assert load_runs(df).unfinished()["states"] == {"FAILED": 1}


def test_wandb_cli_and_errors(tmp_path):
    from scalinglab.data import load_runs

    h, r, out = _wandb_export(tmp_path / "h.csv"), _wandb_runs_table(tmp_path / "r.csv"), tmp_path / "o.csv"
    res = CliRunner().invoke(app, ["import", "wandb", str(h), "--runs", str(r), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info == {"path": str(out), "rows": 11, "metric": "loss", "runs": 3, "missing_params": []}
    assert len(load_runs(out).df) == 11
    bad = tmp_path / "bad.csv"
    bad.write_text("time,foo\n1,2\n")
    res = CliRunner().invoke(app, ["import", "wandb", str(bad)])
    assert res.exit_code == 2 and "bad.csv" in res.output and "Step" in res.output
    with pytest.raises(InputError, match="not in"):
        read_wandb_history(h, metric="accuracy")
    pd.DataFrame({"Name": ["L2-d64"], "params": ["lots"]}).to_csv(tmp_path / "r2.csv", index=False)
    with pytest.raises(DataError) as ei:
        read_wandb_history(h, runs=tmp_path / "r2.csv")
    assert ei.value.location.startswith(str(tmp_path / "r2.csv"))


def test_a_wandb_runs_table_is_read_as_load_runs_reads_it(tmp_path, caplog):
    """The importer matched only exact names (n_params) while load_runs reads W&B's flattened config paths
    (model.n_params) and unit notes: every row came out without params. Names with ' - ' were split at the
    first dash, and a relaunched run's repeated name silently took the last row."""
    import logging

    runs = [("my-ladder - L2", 1_234_567, 20_000_000), ("my-ladder - L8", 52_000_000, 300_000_000)]
    hist = _wandb_export(tmp_path / "h.csv", runs=runs)
    table = pd.DataFrame({"Name": [r[0] for r in runs] + [runs[0][0]], "State": ["finished", "finished", "crashed"],
                          "model.n_params": [r[1] for r in runs] + [runs[0][1]],
                          "Tokens (M)": [r[2] / 1e6 for r in runs] + [1.0]})
    table.to_csv(tmp_path / "r.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        df = read_wandb_history(hist, runs=tmp_path / "r.csv", curves=False)
    assert df.attrs["missing_params"] == []
    assert sorted(df["run_id"]) == ["my-ladder - L2", "my-ladder - L8"]          # split at the last ' - '
    assert df.set_index("run_id")["params"].to_dict() == {"my-ladder - L2": 1_234_567, "my-ladder - L8": 52_000_000}
    assert df.set_index("run_id").loc["my-ladder - L8", "tokens"] == pytest.approx(300_000_000)  # Tokens (M)
    assert any("run names my-ladder - L2 appear more than once" in r.getMessage() for r in caplog.records)


def test_mlflow_prefers_the_held_out_loss_and_says_so(tmp_path, monkeypatch):
    """The Hugging Face Trainer's MLflow callback logs the training loss as `loss` beside `eval_loss`: the
    importer took `loss`."""
    mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'scalinglab[mlflow]')")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = tmp_path / "mlruns"
    mlflow.set_tracking_uri(root.as_uri())
    try:
        mlflow.set_experiment("hf")
        with mlflow.start_run(run_name="gpt-125m"):
            mlflow.log_params({"model_size": "125M", "max_steps": 10})
            mlflow.log_metric("loss", 3.5, step=10)
            mlflow.log_metric("eval_loss", 3.2, step=10)
            mlflow.log_metric("num_input_tokens_seen", 2.5e9, step=10)
    finally:
        mlflow.set_tracking_uri(None)
    df = read_mlflow(str(root))
    assert df["loss"].tolist() == [3.2] and df["params"].tolist() == [125e6] and df["tokens"].tolist() == [2.5e9]
    assert df.attrs["notes"] and "loss read from 'eval_loss' (also logged: loss)" in df.attrs["notes"][0]
    r = CliRunner().invoke(app, ["import", "mlflow", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 2
    (tmp_path / "empty" / "0").mkdir(parents=True)
    r = CliRunner().invoke(app, ["import", "mlflow", str(tmp_path / "empty"), "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "no MLflow run in" in r.stderr and not (tmp_path / "x.csv").exists()
