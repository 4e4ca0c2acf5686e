"""What a team evaluating the runner on PostgreSQL, Ray and its own trainer ran into (the ux15 report): secrets
in ``[trainer] env`` and the store's password in the trainer's environment, a made-up bits/byte for an
external trainer, a resumed run's wall time, a driver that exits 0 while another process still trains its
runs, read-only commands that create tables, exports by extension, checkpoints beside the spec, progress
timeouts without a log path."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from _trainer_spec import checkpoint_trainer, trainer_spec  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from scalinglab.cli import app  # noqa: E402
from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import load_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

#: a trainer that writes the store-related part of its environment to env.json and finishes at once
ENV_TRAINER = """
import json, os
from scalinglab import track
keys = ("SCALINGLAB_STORE", "PGPASSWORD", "WANDB_API_KEY", "FAKE_SLEEP")
json.dump({k: os.environ.get(k) for k in keys}, open("env.json", "w"))
track.log(step=1, tokens=100, loss=3.0, val_loss=3.0)
track.finish(loss=3.0)
"""


_spec = trainer_spec


# ------------------------------------------------------------------------------------------ #6 secrets
def test_secret_env_values_are_masked_in_the_store_and_the_store_stays_out_of_the_trainer(tmp_path, monkeypatch,
                                                                                         caplog):
    db = tmp_path / "runs.db"
    monkeypatch.setenv("SCALINGLAB_STORE", str(db))
    monkeypatch.setenv("PGPASSWORD", "pg-pw")  # a SQLite store: not the store's password, passed on
    spec = _spec(tmp_path, ENV_TRAINER, extra='env = { WANDB_API_KEY = "wandb-SECRET-abc123", FAKE_SLEEP = "0" }')
    cfg = load_spec(spec).runs[0]
    assert [r.status for r in run_sweep(load_spec(spec), db, show_progress=False)] == ["done"]
    got = json.loads((tmp_path / "env.json").read_text())
    assert got == {"SCALINGLAB_STORE": None, "PGPASSWORD": "pg-pw", "WANDB_API_KEY": "wandb-SECRET-abc123",
                   "FAKE_SLEEP": "0"}
    with Store(db) as st:
        (run,) = st.list_runs()
        assert run["id"] == cfg.run_id  # the run id still hashes the real value (unchanged ids)
        assert run["config"]["trainer"]["env"] == {"WANDB_API_KEY": "***", "FAKE_SLEEP": "0"}
    for f in tmp_path.glob("runs.db*"):  # nowhere in the store's files (WAL included)
        assert b"abc123" not in f.read_bytes(), f
    res = CliRunner().invoke(app, ["runs", "show", cfg.run_id, "--store", str(db), "--json"])
    assert res.exit_code == 0 and "abc123" not in res.output and '"WANDB_API_KEY": "***"' in res.output
    # a rotated key is a new run (the id is unchanged for now) and the warning names the masked key
    spec.write_text(spec.read_text().replace("abc123", "rotated999"))
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        run_sweep(load_spec(spec), db, show_progress=False)
    said = [r.getMessage() for r in caplog.records if "names of finished runs" in r.getMessage()]
    assert len(said) == 1 and "changed: trainer.env.WANDB_API_KEY (masked)" in said[0], said


def test_a_postgresql_stores_password_is_not_passed_to_trainers():
    from scalinglab.runner.external import trainer_environ

    env = {"SCALINGLAB_STORE": "postgresql+psycopg://lab@db/x", "PGPASSWORD": "s3cret", "HOME": "/h"}
    assert trainer_environ(env, postgresql=True) == {"HOME": "/h"}
    assert trainer_environ(env) == {"PGPASSWORD": "s3cret", "HOME": "/h"}


@pytest.mark.parametrize("name, secret", [
    ("WANDB_API_KEY", True), ("HF_TOKEN", True), ("hfToken", True), ("PGPASSWORD", True), ("MY_PASSWD", True),
    ("AWS_SECRET_ACCESS_KEY", True), ("GOOGLE_APPLICATION_CREDENTIALS", True), ("OPENAI_API_KEYS", True),
    ("TOKENIZERS_PARALLELISM", False), ("KEYBOARD", False), ("FAKE_SLEEP", False), ("PATH", False)])
def test_secret_looking_env_names(name, secret):
    from scalinglab.runner.spec import secret_name

    assert secret_name(name) is secret


# ------------------------------------------------------------------------------------------ #3 bits/byte
BPB_TRAINER = """
from scalinglab import track
import os
extra = {{"loss_bpb": 1.25}} if os.environ.get("REPORT_BPB") else {{}}
track.log(step=1, tokens=500, loss=3.5, val_loss=3.5)
track.finish(loss=3.0, **extra)
"""


@pytest.mark.parametrize("data, env, bpb", [
    ('data = { path = "corpus.txt" }', "", None),                      # the trainer's own tokenizer: unknown
    ('data = { path = "corpus.txt", bytes_per_token = 4 }', "", 3.0 / (0.6931471805599453 * 4)),  # the spec says
    ('data = { path = "corpus.txt" }', 'env = { REPORT_BPB = "1" }', 1.25)])  # the trainer reports it
def test_an_external_trainers_bits_per_byte_is_only_what_is_known(tmp_path, data, env, bpb):
    import io

    from rich.console import Console

    (tmp_path / "corpus.txt").write_text("some words of a corpus " * 200)
    spec = _spec(tmp_path, BPB_TRAINER.format(), defaults=data, extra=env, vocab=256)
    buf = io.StringIO()
    (res,) = run_sweep(load_spec(spec), tmp_path / "r.db", console=Console(file=buf, width=200))
    assert res.status == "done" and res.final_loss_nats == 3.0
    assert res.final_loss_bpb == (pytest.approx(bpb) if bpb is not None else None)
    with Store(tmp_path / "r.db") as st:
        (ev,) = st.evaluations()
        (run,) = st.list_runs()
        val = [m["loss_bpb"] for m in st.metrics() if m["split"] == "val"]
        df = st.to_frame()
    assert ev["loss_bpb"] == run["final_loss_bpb"] == res.final_loss_bpb
    assert val == [None] if bpb is None or env else len(val) == 1 and val[0] == pytest.approx(3.5 / 3.0 * bpb)
    assert df["loss_bpb"].isna().all() if bpb is None else df["loss_bpb"].tolist() == [pytest.approx(bpb)]
    text = buf.getvalue()
    if bpb is None:
        assert "L1-d16-D1000: done, val 3.0000 nats/token\n" in text and "bits/byte" not in text, text
    else:
        assert f"val 3.0000 nats/token = {bpb:.4f} bits/byte" in text, text


# ------------------------------------------------------------------------------------------ #4 wall time
#: 10 steps of 0.1 s, a checkpoint every 3; exits 1 at step $FAIL_AT (an attempt a driver gave up on)
SLOW_TRAINER = checkpoint_trainer(sleep_s=0.1, log_tokens=True, final="2.5")


def test_a_resumed_external_runs_wall_time_sums_its_attempts(tmp_path, monkeypatch):
    spec = _spec(tmp_path, SLOW_TRAINER)
    db = tmp_path / "r.db"
    monkeypatch.setenv("FAIL_AT", "5")
    assert [r.status for r in run_sweep(load_spec(spec), db, show_progress=False)] == ["failed"]
    monkeypatch.delenv("FAIL_AT")
    (res,) = run_sweep(load_spec(spec), db, show_progress=False)  # another driver: resumes at step 3
    assert res.status == "done" and res.resumed_from_step == 3
    with Store(db) as st:
        (run,) = st.list_runs()
        walls = [m["wall_seconds"] for m in st.metrics() if m["split"] == "val"]
    assert len(walls) == 10 and walls == sorted(walls), walls  # steps 6-10 continue from steps 1-5's time
    assert walls[5] > walls[4] >= 0.5  # attempt 2's first new point, after attempt 1's 5 steps of 0.1 s
    # attempt 1 trained 5 steps, attempt 2 steps 4-10: at least 1.2 s in all (only the last attempt: ~0.7 s)
    assert run["wall_seconds"] == res.wall_seconds >= 1.2
    assert run["tokens_per_second"] == pytest.approx(1000 / run["wall_seconds"])


# ------------------------------------------------------------------------------------------ #10, #24 held runs
FINISH = """
from scalinglab import track
track.log(step=1, tokens=100, loss=3.0, val_loss=3.0)
track.finish(loss=3.0)
"""


def test_run_exits_3_while_another_process_holds_a_run_and_export_names_the_status(tmp_path):
    from scalinglab.runner.train import register
    from scalinglab.store import default_owner

    spec = _spec(tmp_path, FINISH, name="held")
    spec.write_text(spec.read_text().replace("[trainer]", "[[runs]]\narch = { n_layer = 1, d_model = 16, n_heads = 2 }"
                                                          "\ntokens = 2000\n[trainer]"))
    a, b = load_spec(spec).runs
    db = tmp_path / "s.db"
    other = default_owner()  # a live process on this host (this one), as another driver would be
    with Store(db) as st:
        register(st, b)
        assert st.claim_run(b.run_id, other)
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db)])
    text = " ".join(r.output.split())
    assert r.exit_code == 3, r.output
    assert ("sweep 'held': 2 runs — 1 trained now, 0 already done, 0 finished by another process, 0 failed, 1 held "
            "by another process.") in text
    assert "not complete: 1 run of this sweep another process holds (or left unfinished) are not done; exit code 3" \
        in text
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db), "--json"])
    got = json.loads(r.stdout)
    assert r.exit_code == 3 and (got["already_done"], got["done"], got["leased"], got["held"],
                                 got["finished_elsewhere"]) == (1, 0, 1, 1, 0)
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "--sweep", "held", "-o", str(tmp_path / "x.csv")])
    assert r.exit_code == 0 and ("left out: 1 running run (not finished; `scalinglab runs list --status running "
                                 "--sweep held` lists it)") in " ".join(r.output.split()), r.output
    with Store(db) as st:  # the other process finishes its run: the sweep is complete
        assert st.finish_run(b.run_id, other, evaluations=[dict(step=1, params=1000, tokens=2000, flops=1e7,
                                                                loss_nats=3.0)])
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db)])
    assert r.exit_code == 0 and "2 runs — 0 trained now, 2 already done" in " ".join(r.output.split()), r.output


def test_the_sweep_outcome_counts_runs_another_process_finished_meanwhile(tmp_path):
    from scalinglab.runner.executor import sweep_outcome
    from scalinglab.runner.train import RunResult

    with Store(tmp_path / "s.db") as st:
        for rid, status in (("a", "done"), ("b", "running"), ("c", "done")):
            st.register_run(rid, config={})
            if status != "queued":
                st.claim_run(rid, "other:1:x")
            if status == "done":
                st.finish_run(rid, "other:1:x", evaluations=[])
        results = [RunResult("a", status="skipped"), RunResult("b", status="leased"), RunResult("c", status="leased"),
                   RunResult("d", status="done"), RunResult("e", status="failed")]
        got = sweep_outcome([None] * 7, results, st)
    assert got == {"runs": 7, "already_done": 2, "trained": 1, "failed": 1, "interrupted": 0,
                   "finished_elsewhere": 2, "held": 1}


# ------------------------------------------------------------------------------------------ #15 checkpoints
def test_a_url_stores_checkpoints_go_beside_the_spec(tmp_path, monkeypatch):
    from scalinglab.runner.executor import default_workdir

    spec = _spec(tmp_path, FINISH)
    monkeypatch.chdir(tmp_path.parent)
    for url in ("postgresql+psycopg://lab@db/runs", "postgres://lab:pw@db/runs"):
        assert default_workdir(url, spec) == tmp_path / ".scalinglab-checkpoints"
        assert default_workdir(url) == tmp_path.parent / ".scalinglab-checkpoints"  # no spec: the current folder
    assert default_workdir(tmp_path / "sub" / "r.db", spec) == tmp_path / "sub" / ".scalinglab-checkpoints"
    assert default_workdir(f"sqlite:///{tmp_path / 'sub' / 'r.db'}", spec) == tmp_path / "sub" / ".scalinglab-checkpoints"


def test_run_says_where_checkpoints_go(tmp_path, monkeypatch):
    spec = _spec(tmp_path, FINISH)
    (tmp_path / "db").mkdir()
    monkeypatch.chdir(tmp_path / "db")
    r = CliRunner().invoke(app, ["run", str(spec), "--store", "r.db"])
    assert r.exit_code == 0, r.output
    assert f"checkpoints: {tmp_path / 'db' / '.scalinglab-checkpoints'}" in r.output
    r = CliRunner().invoke(app, ["run", str(spec), "--store", "r.db", "--json"])
    assert json.loads(r.stdout)["workdir"] == str(tmp_path / "db" / ".scalinglab-checkpoints")


# ------------------------------------------------------------------------------------------ #27 failure messages
HANG = """
import time
time.sleep(60)
"""
TEN_LINES_BAD_LOSS = """
from scalinglab import track
for i in range(10):
    print(f"output line {i}", flush=True)
track.finish(loss="12.5x")
"""


def test_a_progress_timeout_names_the_attempt_log(tmp_path):
    spec = _spec(tmp_path, HANG, name="hang", extra="progress_timeout_s = 1")
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False)
    log = tmp_path / ".scalinglab-checkpoints" / res.run_id / "attempt-1.log"
    assert res.status == "failed" and log.is_file()
    assert res.error == ("no progress for 1 s (no output, no tracked metric; trainer.progress_timeout_s); killed; "
                         f"full output in {log} (empty: the trainer printed nothing)")


def test_runs_show_prints_a_failed_runs_output_tail_once(tmp_path):
    spec = _spec(tmp_path, TEN_LINES_BAD_LOSS, name="bad")
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False, max_retries=1)
    assert res.status == "failed" and "output line 9" in res.error
    r = CliRunner().invoke(app, ["runs", "show", res.run_id, "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 0, r.output
    assert r.output.count("output line 9") == 1 and r.output.count("(the same last output as above)") == 1, r.output
    log = tmp_path / ".scalinglab-checkpoints" / res.run_id / "attempt-1.log"
    attempt_1 = next(line for line in r.output.splitlines() if line.startswith("  attempt 1: failed"))
    assert attempt_1.endswith(f"is not a number (scalinglab.track.finish(loss=...) takes the validation loss in "
                              f"nats/token); full output in {log})"), attempt_1


# ------------------------------------------------------------------------------------------ #5 epochs
def test_built_in_runs_that_repeat_their_training_split_are_warned_about(tmp_path, caplog):
    (tmp_path / "corpus.txt").write_text(("the river stone light house field winter morning " * 80)[:4000])
    spec = tmp_path / "g.toml"
    spec.write_text("""
[sweep]
name = "small"
[defaults]
data = { path = "corpus.txt" }
seq_len = 16
batch_size = 4
eval_every = 1000
eval_windows = 4
schedule = "cosine"
[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
tokens = 8000
[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
tokens = 1000
""")
    sweep = load_spec(spec)
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        res = run_sweep(sweep, tmp_path / "r.db", show_progress=False)
    assert [r.status for r in res] == ["done", "done"]
    with Store(tmp_path / "r.db") as st:
        unique = st.get_run(sweep.runs[0].run_id)["environment"]["data"]["train_tokens"]
    said = [r.getMessage() for r in caplog.records if "train more tokens than" in r.getMessage()]
    assert said == [f"1 run(s) train more tokens than the training split of {tmp_path / 'corpus.txt'} holds "
                    f"({unique:,} unique tokens), so they repeat it: small/L1-d16-D8000 ({8000 / unique:.1f} "
                    "epochs). A scaling law of N and D reads repeated tokens as new data: give the sweep more data "
                    "or smaller budgets"], said


def test_the_bundled_text_is_finite_too(caplog):
    """README's sample ladder on data = { name = "text" } made ~55 passes over the bundled English without a word
    (only a user's data path was checked)."""
    from scalinglab.runner.executor import _warn_epochs
    from scalinglab.runner.spec import expand_spec

    sweep = expand_spec({"sweep": {"name": "t"}, "defaults": {"data": {"name": "text"}, "seq_len": 32, "batch_size": 4},
                         "ladder": {"sizes": [{"n_layer": 1, "d_model": 16, "n_heads": 2}],
                                    "tokens_per_param": [2, 2000]}})
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        _warn_epochs(sweep.runs, {})
    said = [r.getMessage() for r in caplog.records if "train more tokens than" in r.getMessage()]
    assert len(said) == 1 and "the training split of the bundled text holds" in said[0]
    assert said[0].count("epochs)") == 1  # the small budget fits in one pass
    markov = expand_spec({"sweep": {"name": "m"}, "defaults": {"data": {"name": "markov"}, "seq_len": 32,
                                                                "batch_size": 4},
                          "ladder": {"sizes": [{"n_layer": 1, "d_model": 16, "n_heads": 2}],
                                     "tokens_per_param": [2000]}})
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        _warn_epochs(markov.runs, {})
    assert not [r for r in caplog.records if "train more tokens than" in r.getMessage()]
