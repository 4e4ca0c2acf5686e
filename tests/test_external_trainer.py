"""Your trainer: ``[trainer] command = [...]`` through the stdout-regex route and the ``scalinglab.track``
route lands in the store and exports the run table of built-in runs; a SIGKILLed sweep resumes each run from
its checkpoint and finishes it exactly once; a failing trainer is recorded, retried and its stderr tail shown
by ``runs show``; a hung trainer is killed by the no-progress timeout and retried; hostile placeholder values
never reach a shell."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scalinglab.cli import app  # noqa: E402
from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import SpecError, load_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

TRAINERS = Path(__file__).resolve().parents[1] / "examples" / "trainers"
PY = json.dumps(sys.executable)
REGEX = r"'step (?P<step>\d+) tokens (?P<tokens>\d+) train_loss (?P<loss>[0-9.]+) val_loss (?P<val_loss>[0-9.]+)'"


def _regex_spec(tmp_path, *, extra_args="", trainer_extra="", sizes=None, mults="[4, 12, 40]", name="rx"):
    sizes = sizes or ("{ n_layer = 1, d_model = 16, n_heads = 2 }, { n_layer = 2, d_model = 32, n_heads = 2 }, "
                      "{ n_layer = 3, d_model = 48, n_heads = 3 }, { n_layer = 4, d_model = 64, n_heads = 4 }")
    p = tmp_path / f"{name}.toml"
    p.write_text(f"""
[sweep]
name = "{name}"
[defaults]
seq_len = 32
batch_size = 4
arch = {{ vocab_size = 256 }}
[ladder]
sizes = [ {sizes} ]
tokens_per_param = {mults}
[trainer]
command = [{PY}, "{TRAINERS / 'print_only.py'}", "--params={{params}}", "--tokens={{tokens}}", "--steps=20"{extra_args}]
metrics_regex = {REGEX}
{trainer_extra}
""")
    return p


def _one_run_spec(path, command: str, *, defaults: str = "", tokens: int = 1000):
    """A spec of one tiny external-trainer run; ``command`` as TOML (a list of strings)."""
    path.write_text(f"""
[defaults]
{defaults}arch = {{ vocab_size = 64 }}
[[runs]]
arch = {{ n_layer = 1, d_model = 16, n_heads = 2 }}
tokens = {tokens}
[trainer]
command = {command}
""")
    return path


def _builtin_columns(tmp_path):
    spec = {"defaults": {"data": {"name": "markov", "alphabet": 16, "order": 1, "train_tokens": 20000,
                                  "val_tokens": 4096, "chain_len": 64}, "seq_len": 16, "batch_size": 4,
                         "schedule": "cosine", "eval_every": 5, "eval_windows": 4},
            "runs": [{"arch": {"n_layer": 1, "d_model": 16, "n_heads": 2}, "tokens": 640}]}
    from scalinglab.runner.spec import expand_spec

    st = Store(tmp_path / "builtin.db")
    run_sweep(expand_spec(spec), st, workdir=tmp_path / "ck-b", show_progress=False)
    df = st.to_frame()
    st.close()
    return df


def test_regex_route_ladder_lands_in_store_and_fits_the_truth(tmp_path):
    sys.path.insert(0, str(TRAINERS))
    import print_only  # the fake trainer's law: E + A/N^alpha + B/D^beta

    sweep = load_spec(_regex_spec(tmp_path))
    assert len(sweep.runs) == 12 and all(len(c.budgets) == 1 for c in sweep.runs)  # one run per budget
    db = tmp_path / "rx.db"
    res = run_sweep(sweep, db, show_progress=False)
    assert [r.status for r in res] == ["done"] * 12, [r.error for r in res]
    st = Store(db)
    df = st.to_frame()
    curves = {c.run_id: [m for m in st.metrics(c.run_id) if m["split"] == "val"] for c in sweep.runs}
    st.close()
    assert all(len(v) == 4 for v in curves.values())          # steps 5, 10, 15, 20
    # N from the architecture (the {params} the trainer got), D from the trainer's last line
    for c in sweep.runs:
        row = df[df.run_id == c.run_id].iloc[0]
        assert row["params"] == c.n_params() and row["tokens"] == c.tokens
        assert row["loss"] == pytest.approx(print_only.law(c.n_params(), c.tokens), abs=2e-6)
        assert row["flops"] == pytest.approx(c.flops_per_token() * c.tokens)
    assert list(df.columns) == list(_builtin_columns(tmp_path).columns)
    from scalinglab.fit import fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fr = fit(df, "chinchilla", calibrate=False)
    p = fr.params
    assert p["E"] == pytest.approx(print_only.E, rel=0.02)
    assert p["alpha"] == pytest.approx(print_only.ALPHA, rel=0.05)
    assert p["beta"] == pytest.approx(print_only.BETA, rel=0.05)


TRACK_SPEC = """
[sweep]
name = "trk"
[defaults]
data = {{ path = "corpus.txt" }}
seq_len = 32
batch_size = 4
lr = 0.003
warmup_steps = 2
[ladder]
sizes = [ {{ n_layer = 1, d_model = 16, n_heads = 2 }} ]
tokens_per_param = {mults}
[trainer]
command = [{py}, "{script}", "--data={{data_path}}", "--n_layer={{n_layer}}", "--d_model={{d_model}}",
           "--n_heads={{n_heads}}", "--seq_len={{seq_len}}", "--vocab_size={{vocab_size}}", "--max_tokens={{tokens}}",
           "--batch_size={{batch_size}}", "--lr={{lr}}", "--warmup={{warmup}}", "--seed={{seed}}",
           "--out_dir={{run_dir}}", "--resume={{resume}}", "--eval_every=5", "--ckpt_every=5"{extra}]
"""


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = "the river stone light house field winter morning letter garden".split()
    (tmp_path / "corpus.txt").write_text(" ".join(words[i] for i in rng.integers(0, len(words), 3000)))


def _track_spec(tmp_path, mults="[1]", extra="", name="trk"):
    _corpus(tmp_path)
    p = tmp_path / f"{name}.toml"
    p.write_text(TRACK_SPEC.format(py=PY, script=TRAINERS / "gpt_track.py", mults=mults, extra=extra))
    return p


def test_track_route_streams_curve_and_final_eval(tmp_path):
    sweep = load_spec(_track_spec(tmp_path))
    db = tmp_path / "trk.db"
    res = run_sweep(sweep, db, show_progress=False)
    assert [r.status for r in res] == ["done"], [r.error for r in res]
    st = Store(db)
    cfg = sweep.runs[0]
    run = st.get_run(cfg.run_id)
    val = [m for m in st.metrics(cfg.run_id) if m["split"] == "val"]
    steps = cfg.steps_for(cfg.tokens)
    assert [m["step"] for m in val] == list(range(5, steps + 1, 5)) + ([steps] if steps % 5 else [])
    ev = st.evaluations(cfg.run_id)
    assert len(ev) == 1 and ev[0]["params"] == cfg.n_params()
    # bytes tokenizer on a text file: bits/byte = nats/token / ln 2
    assert ev[0]["loss_bpb"] == pytest.approx(ev[0]["loss_nats"] / math.log(2))
    # the trainer-reported N (its own count: tied embeddings, learned positions) is kept beside the convention's
    reported = run["environment"]["reported"]
    assert reported["params"] == run["params_by_convention"]["trainer"] and reported["params"] != cfg.n_params()
    assert run["environment"]["by_architecture"]["params"] == cfg.n_params()
    assert list(st.to_frame().columns) == list(_builtin_columns(tmp_path).columns)
    st.close()


def _cli(spec, db, *extra):
    return [sys.executable, "-m", "scalinglab", "run", str(spec), "--store", str(db), "--json", *extra]


@pytest.mark.slow
def test_sigkill_sweep_then_rerun_resumes_from_checkpoint_exactly_once(tmp_path):
    spec = _track_spec(tmp_path, extra=', "--step_delay=0.05"', name="kill")
    sweep = load_spec(spec)
    cfg = sweep.runs[0]
    assert cfg.steps_for(cfg.tokens) >= 30
    db = tmp_path / "kill.db"
    proc = subprocess.Popen(_cli(spec, db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    track = tmp_path / ".scalinglab-checkpoints" / cfg.run_id / "track.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, "the sweep finished before it could be killed"
        if track.exists() and sum('"checkpoint"' in line for line in track.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no checkpoint reported in time")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    time.sleep(0.5)
    n_before = len(track.read_text().splitlines())
    time.sleep(1.0)  # the orphaned trainer died with its parent (PR_SET_DEATHSIG): the file stops growing
    assert len(track.read_text().splitlines()) == n_before
    st = Store(db)
    assert st.status(cfg.run_id) == "running" and not st.evaluations(cfg.run_id)
    st.close()

    r = subprocess.run(_cli(spec, db), capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    st = Store(db)
    run = st.get_run(cfg.run_id)
    assert run["status"] == "done" and run["attempts"] == 2
    assert len(st.evaluations(cfg.run_id)) == 1                   # exactly once
    logs = [g["message"] for g in st.logs(cfg.run_id)]
    assert any("resuming from" in m and "ckpt_" in m for m in logs), logs
    assert st.attempts(cfg.run_id)[-1]["resumed_from_step"] >= 10    # the attempt history says so (was NULL)
    resumed_loss = st.evaluations(cfg.run_id)[0]["loss_nats"]
    st.close()
    # the same run uninterrupted gives the same loss (batches are a pure function of (seed, step))
    ref = Store(tmp_path / "ref.db")
    out = run_sweep(load_spec(spec), ref, workdir=tmp_path / "ck-ref", show_progress=False)
    assert out[0].status == "done"
    assert resumed_loss == pytest.approx(ref.evaluations(cfg.run_id)[0]["loss_nats"], rel=1e-5)
    ref.close()


def test_failing_trainer_is_failed_retried_and_shown(tmp_path):
    # fails once (exit 3, an error on stderr), then succeeds on the retry
    spec = _regex_spec(tmp_path, extra_args=', "--fail_at=3", "--fail_marker={run_dir}/failed-once"',
                       sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }", mults="[4]", name="flaky")
    db = tmp_path / "flaky.db"
    res = run_sweep(load_spec(spec), db, show_progress=False, max_retries=2)
    assert res[0].status == "done"
    st = Store(db)
    run = st.get_run(res[0].run_id)
    assert run["attempts"] == 2 and run["error"] is None
    errs = [g["message"] for g in st.logs(run["id"]) if g["level"] == "error"]
    assert len(errs) == 1 and "exit code 3" in errs[0] and "CUDA out of memory at step 3" in errs[0]
    st.close()

    # always fails: failed after 1 + max_retries attempts, stderr tail stored and shown by `runs show`
    spec = _regex_spec(tmp_path, extra_args=', "--fail_at=3"', sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }",
                       mults="[4]", name="broken")
    db = tmp_path / "broken.db"
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db), "--max-retries", "1", "--json"])
    assert r.exit_code == 1
    st = Store(db)
    run = st.list_runs()[0]
    assert run["status"] == "failed" and run["attempts"] == 2
    assert "exit code 3" in run["error"] and "CUDA out of memory at step 3 (simulated)" in run["error"]
    st.close()
    r = CliRunner().invoke(app, ["runs", "show", run["id"], "--store", str(db)])
    assert r.exit_code == 0 and "status=failed" in r.output and "attempts=2" in r.output
    # the stderr tail once: both attempts printed the same, so the second says so (and no attempt line repeats it)
    assert r.output.count("CUDA out of memory at step 3") == 1 and "(the same last output as above)" in r.output
    r = CliRunner().invoke(app, ["runs", "show", run["id"], "--store", str(db), "--json"])
    assert len([g for g in json.loads(r.stdout)["logs"] if g["level"] == "error"]) == 2


def test_hung_trainer_is_killed_by_no_progress_timeout_and_retried(tmp_path):
    spec = _regex_spec(tmp_path, extra_args=', "--hang_at=7", "--hang_marker={run_dir}/hung-once"',
                       trainer_extra="progress_timeout_s = 1.5",
                       sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }", mults="[4]", name="hang")
    db = tmp_path / "hang.db"
    t0 = time.time()
    res = run_sweep(load_spec(spec), db, show_progress=False, max_retries=1)
    assert res[0].status == "done" and time.time() - t0 < 60
    st = Store(db)
    run = st.get_run(res[0].run_id)
    assert run["attempts"] == 2
    errs = [g["message"] for g in st.logs(run["id"]) if g["level"] == "error"]
    assert len(errs) == 1 and "no progress for 1.5 s" in errs[0]
    assert "step 5 tokens" in errs[0]                                  # its last output is kept
    assert len(st.evaluations(run["id"])) == 1
    st.close()

    # a per-run wall-clock limit, no retries left: failed with the reason
    spec = _regex_spec(tmp_path, extra_args=', "--hang_at=7"', trainer_extra="timeout_s = 1.5",
                       sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }", mults="[4]", name="slow")
    res = run_sweep(load_spec(spec), tmp_path / "slow.db", show_progress=False, max_retries=0)
    assert res[0].status == "failed" and "timed out after 1.5 s" in res[0].error


def test_a_diverged_trainer_fails_at_once_on_both_routes(tmp_path, caplog):
    """A trainer whose loss turns NaN: the regex route recorded the run as done with the last finite loss and
    a smaller D (the NaN lines did not match '[0-9.]+'); the track route said 'exited 0 without a final loss'
    and retried from the diverged checkpoint. Now both fail once, saying the run diverged, with no retry."""
    spec = _regex_spec(tmp_path, extra_args=', "--diverge_at=8"', sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }",
                       mults="[4]", name="nan")
    res = run_sweep(load_spec(spec), tmp_path / "nan.db", show_progress=False, max_retries=2)
    assert res[0].status == "failed" and "diverged" in res[0].error and "val_loss nan" in res[0].error
    st = Store(tmp_path / "nan.db")
    assert st.get_run(res[0].run_id)["attempts"] == 1 and not st.evaluations(res[0].run_id)
    st.close()
    (tmp_path / "nan_track.py").write_text("from scalinglab import track\ntrack.log(step=1, tokens=64, val_loss=3.0)"
                                          "\ntrack.log(step=2, tokens=128, val_loss=float('nan'))\n"
                                          "track.finish(loss=float('nan'))\n")
    (tmp_path / "nan_final.py").write_text("from scalinglab import track\ntrack.finish(loss=float('inf'))\n")
    for script, needle in (("nan_track.py", "val_loss = nan at step 2"), ("nan_final.py", "final loss is inf")):
        spec = _one_run_spec(tmp_path / f"{script}.toml", f'[{PY}, "{script}"]')
        with caplog.at_level("WARNING", logger="scalinglab.runner"):
            res = run_sweep(load_spec(spec), tmp_path / f"{script}.db", show_progress=False, max_retries=2)
        assert res[0].status == "failed" and needle in res[0].error and "diverged" in res[0].error, res[0].error
        st = Store(tmp_path / f"{script}.db")
        assert st.get_run(res[0].run_id)["attempts"] == 1
        st.close()
    # the console line names the error, not just "last output:"
    assert any("diverged" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_a_new_store_does_not_reuse_the_run_folder_of_a_deleted_one(tmp_path):
    """The run folder (checkpoints, track.jsonl, the trainer's own files) of a deleted store's run was reused
    by a new store in the same place: its runs 'trained' in 0.1 s from the old final checkpoint. Here a trainer
    that fails once (a marker file in its run folder) fails once again in the new store, as in the first; the
    old folder is kept aside; the log numbers attempts as the store does."""
    spec = _regex_spec(tmp_path, extra_args=', "--fail_at=3", "--fail_marker={run_dir}/failed-once"',
                       sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }", mults="[4]", name="again")
    for db in ("first.db", "second.db"):
        res = run_sweep(load_spec(spec), tmp_path / db, show_progress=False, max_retries=1)
        assert res[0].status == "done"
        st = Store(tmp_path / db)
        assert st.get_run(res[0].run_id)["attempts"] == 2
        logs = [g["message"] for g in st.logs(res[0].run_id)]
        assert any(m.startswith("attempt 2: launching") for m in logs), logs
        assert [a["resumed_from_step"] for a in st.attempts(res[0].run_id)] == [None, 0]
        st.close()
    aside = list((tmp_path / ".scalinglab-checkpoints").glob(f"{res[0].run_id}.stale-*"))
    assert len(aside) == 1 and (aside[0] / "failed-once").exists()
    assert any("set aside" in m for m in logs)


HOSTILE = "x; rm -rf ~; $(touch pwned) `touch pwned2` 'q\" | cat > pwned3 && echo"

ARGV_DUMP = """
import json, os, sys
from scalinglab import track
json.dump(sys.argv[1:], open(os.path.join(os.environ["SCALINGLAB_RUN_DIR"], "argv.json"), "w"))
track.finish(loss=1.25)
"""


def test_hostile_placeholder_values_stay_one_argument(tmp_path):
    (tmp_path / "argv_dump.py").write_text(ARGV_DUMP)
    spec = tmp_path / "h.toml"
    spec.write_text(f"""
[sweep]
name = "hostile"
kind = "list"
[defaults]
seq_len = 16
batch_size = 2
arch = {{ vocab_size = 64 }}
[[runs]]
name = {json.dumps(HOSTILE)}
arch = {{ n_layer = 1, d_model = 16, n_heads = 2 }}
tokens = 1000
[trainer]
command = [{PY}, "argv_dump.py", "--name={{name}}", "{{name}}", "--n={{n_layer}}", "--lr={{lr:.3e}}"]
""")
    sweep = load_spec(spec)
    res = run_sweep(sweep, tmp_path / "h.db", show_progress=False)
    assert res[0].status == "done" and res[0].final_loss_nats == 1.25
    argv = json.loads((tmp_path / ".scalinglab-checkpoints" / res[0].run_id / "argv.json").read_text())
    cfg = sweep.runs[0]
    assert argv == [f"--name={HOSTILE}", HOSTILE, "--n=1", f"--lr={cfg.lr:.3e}"]
    assert not any((tmp_path / f).exists() for f in ("pwned", "pwned2", "pwned3"))
    assert not (Path.home() / "pwned").exists()


@pytest.mark.parametrize("command, needle", [
    ('["python", "t.py", "--x={nonsense}"]', "unknown placeholder {nonsense}"),
    ('["python", "t.py", "--x={name.__class__}"]', "unknown placeholder"),
    ('["python", "t.py", "--x={lr[0]}"]', "unknown placeholder"),
    ('"python t.py --n={n_layer}"', "never passed to a shell"),
    ('["python", "t.py", "--x={"]', "placeholder syntax"),
])
def test_bad_trainer_commands_are_spec_errors_before_anything_starts(tmp_path, command, needle):
    spec = _one_run_spec(tmp_path / "bad.toml", command)
    with pytest.raises(SpecError) as ei:
        load_spec(spec)
    assert needle in str(ei.value) and "trainer.command" in ei.value.location
    db = tmp_path / "r.db"
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db)])
    assert r.exit_code == 2 and not db.exists()


def test_one_gpu_per_run_with_file_locks(tmp_path, monkeypatch):
    from scalinglab.runner.external import one_gpu

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    with one_gpu(tmp_path) as a, one_gpu(tmp_path) as b:
        assert {a, b} == {"3", "5"}
    with one_gpu(tmp_path) as c:
        assert c == "3"                                                  # released: first one free again
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with one_gpu(tmp_path) as d:
        assert d is None                                                 # one GPU: inherit the environment


def test_track_client_writes_flushed_jsonl_and_is_a_noop_standalone(tmp_path, monkeypatch):
    code = ("import sys; from scalinglab import track; track.log(step=1, tokens=64, loss=3.5, val_loss=float('nan'))"
            "; track.checkpoint('c.pt', step=1); track.finish(loss=3.25, params=10);"
            "print('runner' in ' '.join(m for m in sys.modules if m.startswith('scalinglab')), 'torch' in sys.modules)")
    monkeypatch.delenv("SCALINGLAB_RUN_DIR", raising=False)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert r.stdout.split() == ["False", "False"] and not list(tmp_path.iterdir())   # torch-free, runner-free
    env = {**os.environ, "SCALINGLAB_RUN_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, check=True, capture_output=True)
    recs = [json.loads(x) for x in (tmp_path / "track.jsonl").read_text().splitlines()]
    assert [r["event"] for r in recs] == ["log", "checkpoint", "finish"]
    assert recs[0]["val_loss"] == "nan" and recs[0]["loss"] == 3.5 and recs[2]["loss"] == 3.25  # NaN kept, as text
    assert recs[1]["path"] == str(tmp_path / "c.pt")


@pytest.mark.slow
def test_regex_route_on_the_ray_executor(tmp_path):
    pytest.importorskip("ray")
    from scalinglab.runner.ray_executor import RayExecutor

    spec = _regex_spec(tmp_path, extra_args=', "--fail_at=3", "--fail_marker={run_dir}/failed-once"',
                       sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }, { n_layer = 2, d_model = 32, n_heads = 2 }",
                       mults="[4]", name="ray")
    sweep = load_spec(spec)
    ex = RayExecutor(num_cpus=1, max_retries=0, init_kwargs={"num_cpus": 2})
    res = run_sweep(sweep, tmp_path / "ray.db", executor=ex, show_progress=False, max_retries=1)
    assert sorted(r.status for r in res) == ["done", "done"], [r.error for r in res]
    st = Store(tmp_path / "ray.db")
    assert all(r["attempts"] == 2 for r in st.list_runs())           # failed once each, retried
    assert len(st.to_frame()) == 2
    st.close()


def test_an_external_runs_step_and_planned_tokens_are_the_trainers(tmp_path):
    """A trainer that logs steps 1..20 and finishes without a step was exported at step 151 (tokens over the
    spec's batch x seq_len, the runner's count) with 'planned D' rounded up to whole batches (38,656 for the
    38,640 it was given). Now the step is the trainer's last logged one and D planned is {tokens}."""
    (tmp_path / "steps.py").write_text(
        "import sys\nfrom scalinglab import track\ntok = int(sys.argv[1])\n"
        "for s in range(1, 21):\n    track.log(step=s, tokens=tok * s // 20, val_loss=5.0 - 0.1 * s)\n"
        "track.finish(loss=3.0)\n")
    spec = _one_run_spec(tmp_path / "steps.toml", f'[{PY}, "steps.py", "{{tokens}}"]',
                         defaults="seq_len = 16\nbatch_size = 3\n", tokens=38640)
    res = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False)
    assert res[0].status == "done", res[0].error
    st = Store(tmp_path / "s.db")
    assert [e["step"] for e in st.evaluations(res[0].run_id)] == [20]
    assert st.get_run(res[0].run_id)["tokens_planned"] == 38640
    st.close()
