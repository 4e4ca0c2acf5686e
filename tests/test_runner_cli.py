"""CLI contract: `scalinglab run`, `scalinglab runs list|show|export`, `scalinglab demo --quick`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app

SPEC = """
[sweep]
name = "cli"

[defaults]
data = { name = "markov", alphabet = 16, order = 1, support = 4, train_tokens = 60000, val_tokens = 8192, chain_len = 64 }
seq_len = 16
batch_size = 8
eval_every = 10
eval_windows = 8

[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
budgets = [2048, 4096]
"""


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_bad_spec_is_one_red_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(SPEC.replace("batch_size = 8", "batch_size = -8"))
    r = _invoke("run", p, "--store", tmp_path / "r.db", "--dry-run")
    assert r.exit_code == 2
    assert f"{p}:defaults.batch_size" in r.output and "Traceback" not in r.output


def test_runs_commands_need_an_existing_store(tmp_path):
    r = _invoke("runs", "list", "--store", tmp_path / "nothing.db")
    assert r.exit_code == 2 and "no run store" in r.output


def test_dry_run_json(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SPEC)
    r = _invoke("run", p, "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["sweep"] == "cli" and len(d["runs"]) == 1
    assert d["runs"][0]["budgets_tokens"] == [2048, 4096] and d["runs"][0]["flops_convention"] == "6N"


@pytest.mark.torch
def test_run_then_list_show_export(tmp_path):
    pytest.importorskip("torch")
    p = tmp_path / "s.toml"
    p.write_text(SPEC)
    db = tmp_path / "r.db"
    r = _invoke("run", p, "--store", db, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["runs"] == 1 and d["done"] == 1 and d["failed"] == 0
    r = _invoke("run", p, "--store", db, "--json")                    # rerun: nothing to do
    assert json.loads(r.stdout)["already_done"] == 1

    r = _invoke("runs", "list", "--store", db, "--json")
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and rows[0]["status"] == "done" and rows[0]["flops_convention"] == "6N"
    run_id = rows[0]["run_id"]
    assert rows[0]["final_loss_bpb"] > 0

    r = _invoke("runs", "show", run_id[:6], "--store", db, "--json")
    show = json.loads(r.stdout)
    assert show["run"]["id"] == run_id and len(show["evaluations"]) == 2 and show["metrics"]
    r = _invoke("runs", "show", run_id[:6], "--store", db)
    assert r.exit_code == 0 and "bits/byte" in r.output

    out = tmp_path / "runs.csv"
    r = _invoke("runs", "export", "--store", db, "-o", out)
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 2 and {"params", "tokens", "flops", "loss", "run_id"} <= set(df.columns)
    r = _invoke("runs", "export", "--store", db, "--json")
    assert json.loads(r.stdout)["rows"] == 2
    # commands that read a run table read a store as report does (fit said 'sqlite:///r.db: no such file')
    from scalinglab.cli._common import select_runs

    for src in (f"sqlite:///{db}", str(db)):
        assert select_runs(src, None).df["loss"].tolist() == pytest.approx(df["loss"].tolist())
    r = _invoke("fit", f"sqlite:///{db}", "--law", "power", "--x", "tokens")
    assert r.output.startswith("error: 2 run(s) cannot determine the 3 parameters"), r.output  # the runs, read


@pytest.mark.torch
def test_demo_quick_end_to_end(tmp_path):
    pytest.importorskip("torch")
    r = _invoke("demo", "--quick", "--out", tmp_path / "demo")
    assert r.exit_code == 0, r.output
    assert "predicted" in r.output and "measured" in r.output and "bits/byte" in r.output
    s = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert s["compute_multiple"] >= 10
    lo, hi = s["prediction"]["interval_nats"]
    assert lo < s["prediction"]["loss_nats"] < hi  # the point strictly inside its interval
    # the default fit of `scalinglab fit` (law and objective chosen by backtests), and it says why
    assert s["law"] in ("chinchilla", "chinchilla-joint") and s["objective"] in ("huber", "asymmetric")
    assert "backtest" in s["law_choice"] and set(s["fit"]) >= {"E", "A", "B", "alpha", "beta"}
    assert s["measured"]["loss_nats"] > s["true_entropy_floor_nats"]
    # runs.csv is the table the fit read (refitting it does not see the check run); target.csv the check run
    ladder = pd.read_csv(tmp_path / "demo" / "runs.csv")
    target = pd.read_csv(tmp_path / "demo" / "target.csv")
    assert len(ladder) == s["ladder_points"] and len(target) == 1
    assert ladder["flops"].max() * 9 < target["flops"].iloc[0]
    # the report shows the ladder that was fitted (its cooldown branches are runs, not checkpoints) and the
    # target as a prediction: no warning that the fit was made on other runs, none about checkpoints
    html = (tmp_path / "demo" / "report.html").read_text(encoding="utf-8")
    assert "the fit was made on other runs" not in html and "logged at several checkpoints" not in html
    assert 'id="predictions"' in html
    # a second invocation resumes from the store: nothing is retrained, same numbers
    r2 = _invoke("demo", "--quick", "--out", tmp_path / "demo", "--json")
    assert r2.exit_code == 0
    s2 = json.loads(r2.stdout)
    assert s2["measured"]["loss_nats"] == s["measured"]["loss_nats"]


@pytest.mark.torch
@pytest.mark.slow
def test_demo_emergence_flag(tmp_path):
    """`demo --emergence` adds the toy task trained on the runner: exact match flagged sharp, per-token accuracy
    and the answer's log-probability smooth, exact match ~ token accuracy^16, written to emergence.json and the
    JSON summary."""
    pytest.importorskip("torch")
    r = _invoke("demo", "--quick", "--emergence", "--out", tmp_path / "demo", "--json")
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)["emergence"]
    assert e == json.loads((tmp_path / "demo" / "emergence.json").read_text())
    assert e["verdicts"]["exact_match"] == "sharp" and e["verdicts"]["logprob"] == "smooth"
    assert e["verdicts"]["token_accuracy"] == "smooth"
    em, tok = np.array(e["exact_match"]), np.array(e["token_accuracy"])
    assert len(em) == len(e["flops"]) == 10 and np.all(np.diff(e["flops"]) > 0)
    assert e["flops"][-1] / e["flops"][0] > 10 ** 1.5
    assert em[:4].max() < 0.01 < em[-1] and tok[0] < 0.35 < 0.85 < tok[-1]
    assert np.all(np.abs(em - tok ** e["answer_tokens"]) < 0.15)
    assert np.all(np.diff(e["logprob"]) > 0)
    assert e["logprob_per_token"] == pytest.approx([v / e["answer_tokens"] for v in e["logprob"]])


def test_an_interrupted_sweep_says_how_to_resume(tmp_path, monkeypatch):
    """Ctrl-C ended the command with rc 130 and nothing after the progress line: it now says the finished runs
    are kept and the same command resumes the others."""
    import scalinglab.runner.executor as executor

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(executor, "run_sweep", interrupted)
    p = tmp_path / "s.toml"
    p.write_text(SPEC)
    r = _invoke("run", p, "--store", tmp_path / "s.db")
    assert r.exit_code == 130 and "run the same command again to resume" in r.output
