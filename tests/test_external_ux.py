"""What a new user of ``scalinglab run`` with an external trainer ran into (the ux9 report): two stores beside
one checkpoint folder, impossible or misread losses, SIGTERM, bad values given to ``scalinglab.track``, JSON
specs, names in messages, the trainer's full output, a trainer not on PATH, concurrent drivers."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from _trainer_spec import PY, checkpoint_trainer, trainer_spec  # noqa: E402

from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import load_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

#: a trainer that checkpoints every 3 steps (JSON), resumes from $SCALINGLAB_RESUME, fails at $FAIL_AT and
#: finishes with a loss of 2 + the step it started from (so a test sees where it resumed)
CKPT_TRAINER = checkpoint_trainer()


_spec = trainer_spec


def test_a_store_never_resumes_a_checkpoint_another_store_wrote(tmp_path, monkeypatch, caplog):
    """Store A stops at step 7 (checkpoint at 6); store B beside it trains the same run to the end (setting A's
    folder aside); A's retry must not resume from B's step-9 checkpoint: it starts from step 0, with a warning
    that names the run and --workdir."""
    spec = _spec(tmp_path, CKPT_TRAINER)
    monkeypatch.setenv("FAIL_AT", "7")
    (a,) = run_sweep(load_spec(spec), tmp_path / "A.db", show_progress=False)
    assert a.status == "failed"
    monkeypatch.delenv("FAIL_AT")
    (b,) = run_sweep(load_spec(spec), tmp_path / "B.db", show_progress=False)
    assert (b.status, b.final_loss_nats) == ("done", 2.0)
    with caplog.at_level(logging.WARNING):
        (a2,) = run_sweep(load_spec(spec), tmp_path / "A.db", show_progress=False)
    assert (a2.status, a2.final_loss_nats) == ("done", 2.0)  # trained from step 0, not resumed at 9 or 6
    with Store(tmp_path / "A.db") as st:
        assert [(h["outcome"], h["resumed_from_step"]) for h in st.attempts(a2.run_id)] == \
            [("failed", None), ("done", 0)]
    msgs = [r.getMessage() for r in caplog.records if "written by another store" in r.getMessage()]
    assert len(msgs) == 1 and "one/" in msgs[0] and a2.run_id in msgs[0] and "--workdir" in msgs[0], msgs
    aside = sorted((tmp_path / ".scalinglab-checkpoints").glob(f"{a2.run_id}.stale-*"))
    assert len(aside) == 2  # A's folder (set aside by B) and B's (set aside by A): nothing deleted
    assert sorted(p.name for p in aside[1].glob("ckpt_*")) == ["ckpt_3.json", "ckpt_6.json", "ckpt_9.json"]


def test_the_same_store_still_resumes_its_own_checkpoint(tmp_path, monkeypatch):
    spec = _spec(tmp_path, CKPT_TRAINER)
    monkeypatch.setenv("FAIL_AT", "7")
    run_sweep(load_spec(spec), tmp_path / "A.db", show_progress=False)
    monkeypatch.delenv("FAIL_AT")
    (a2,) = run_sweep(load_spec(spec), tmp_path / "A.db", show_progress=False)
    assert (a2.status, a2.final_loss_nats, a2.resumed_from_step) == ("done", 8.0, 6)


FINISH = """
from scalinglab import track
track.log(step=1, loss=3.0)
track.finish(loss={loss!r})
"""


@pytest.mark.parametrize("loss, needle, attempts", [
    (-1.0, "the trainer reported loss -1.0 as the final loss", 1),   # impossible: not retried
    (0.0, "the trainer reported loss 0.0 as the final loss", 1),
    ("12.5x", "the trainer's final loss '12.5x' is not a number", 2),
])
def test_an_impossible_or_unreadable_final_loss_fails_the_run(tmp_path, caplog, loss, needle, attempts):
    spec = _spec(tmp_path, FINISH.format(loss=loss))
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False, max_retries=1)
    assert res.status == "failed" and res.error.startswith(needle), res.error
    # the console line names the run as the progress bar and `runs list` do, with its id
    failed = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and " failed: " in r.getMessage()]
    assert failed == [f"run one/L1-d16-D1000 ({res.run_id}) failed: {needle}" + failed[0].split(needle, 1)[1]]
    with Store(tmp_path / "s.db") as st:
        run = st.get_run(res.run_id)
        assert (run["status"], run["attempts"], run["final_loss_nats"]) == ("failed", attempts, None)
        assert st.evaluations(res.run_id) == []


PRINTER = """
import sys
last = sys.argv[1]
for step in range(1, 5):
    print(f"step {step} tokens {step * 250} val_loss 3.{step}", flush=True)
print(f"step 5 tokens 1250 val_loss {last}", flush=True)
"""


@pytest.mark.parametrize("regex, last, loss, needle", [
    # the old documented regex stops at the 'e' of 2.073e+01: warned, not silent
    (r"(?P<val_loss>[0-9.]+)", "2.073e+01", 2.073, "metrics_regex read val_loss = '2.073' from a longer value"),
    # a float pattern reads it whole
    (r"(?P<val_loss>[-+0-9.eE]+)", "2.073e+01", 20.73, None),
    # not a number: the point is skipped with a warning; the run ends short of its planned tokens
    (r"(?P<val_loss>[-+0-9.eE]+)", "3.2.1", 3.4, "val_loss '3.2.1' at step 5 is not a number"),
])
def test_a_misread_metric_line_is_warned_about(tmp_path, caplog, regex, last, loss, needle):
    (tmp_path / "p.py").write_text(PRINTER)
    spec = _spec(tmp_path, "", name="rx", tokens=1250, extra=(
        f"metrics_regex = 'step (?P<step>\\d+) tokens (?P<tokens>\\d+) val_loss {regex}'"))
    spec.write_text(spec.read_text().replace('"rx.py"]', f'"p.py", "{last}"]'))
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False)
    assert res.status == "done" and res.final_loss_nats == pytest.approx(loss)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    with Store(tmp_path / "s.db") as st:
        stored = [g["message"] for g in st.logs(res.run_id) if g["level"] == "warning"]
    if needle is None:
        assert warnings == [] and stored == []
        return
    assert any(needle in w and "rx/" in w and res.run_id in w for w in warnings), warnings
    assert any(needle in m for m in stored), stored
    if last == "3.2.1":  # the run stopped at 1,000 of its 1,250 tokens, as the store sees it
        assert any("trained 1,000 tokens, 80% of the 1,250 planned" in w for w in warnings), warnings


BAD_VALUES = """
import os
from scalinglab import track
track.log(step=1, val_loss="abc")
track.log(step=2, val_loss="abd", loss=3.0)
with open(os.path.join(os.environ["SCALINGLAB_RUN_DIR"], "track.jsonl"), "a") as f:
    f.write('{"kind": "log", "step": "three", garbage\\n')
    f.write('not json either\\n')
track.log(step=3, val_loss=2.5)
track.finish(loss=2.5)
"""


def test_bad_values_given_to_track_give_one_warning_each(tmp_path, caplog):
    spec = _spec(tmp_path, BAD_VALUES, name="bad")
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False)
    assert res.status == "done"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len([w for w in warnings if "val_loss 'abc' at step 1 is not a number" in w]) == 1, warnings
    assert not any("'abd'" in w for w in warnings)  # one warning per key
    bad_lines = [w for w in warnings if "track.jsonl line 3 is not a JSON object" in w]
    assert len(bad_lines) == 1 and len([w for w in warnings if "track.jsonl" in w]) == 1, warnings
    with Store(tmp_path / "s.db") as st:
        assert [(m["step"], m["split"]) for m in st.metrics(res.run_id)] == [(2, "train"), (3, "val")]
        assert len([g for g in st.logs(res.run_id) if g["level"] == "warning"]) == 2


SLOW = """
import os, time
from scalinglab import track
track.log(step=1, loss=3.0)
open(os.path.join(os.environ["SCALINGLAB_RUN_DIR"], "started"), "w").close()
time.sleep(120)
track.finish(loss=2.0)
"""


def test_sigterm_stops_a_sweep_as_ctrl_c_does(tmp_path):
    """SIGTERM (a scheduler's preemption) left the attempt 'running', printed nothing and exited 143: now the
    attempt is 'interrupted', the run is queued again and the command says how to resume."""
    import os
    import signal
    import subprocess
    import time

    spec = _spec(tmp_path, SLOW, name="slow")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                                     os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "scalinglab", "run", str(spec), "--store", str(tmp_path / "s.db")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = tmp_path / ".scalinglab-checkpoints" / load_spec(spec).runs[0].run_id / "started"
    deadline = time.time() + 120
    while not started.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert started.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM): finished runs are kept" in err and "run the same command again" in err
    with Store(tmp_path / "s.db") as st:
        (run,) = st.list_runs()
        assert run["status"] == "queued"
        assert [a["outcome"] for a in st.attempts(run["id"])] == ["interrupted"]


def test_sigterm_stops_a_sweep_with_two_workers(tmp_path):
    """SIGTERM with --workers 2: both running attempts end 'interrupted', both runs are queued again, the command
    exits 143 and no trainer outlives it."""
    import os
    import signal
    import subprocess
    import time

    spec = _spec(tmp_path, SLOW, name="slow2")
    text = spec.read_text().replace("tokens = 1000\n", "tokens = 1000\n[[runs]]\narch = { n_layer = 1, d_model = 32, "
                                                        "n_heads = 2 }\ntokens = 2000\n")
    spec.write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                                     os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "scalinglab", "run", str(spec), "--store", str(tmp_path / "s.db"),
                             "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = load_spec(spec).runs
    assert len(runs) == 2
    started = [tmp_path / ".scalinglab-checkpoints" / r.run_id / "started" for r in runs]
    deadline = time.time() + 180
    while not all(p.exists() for p in started) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert all(p.exists() for p in started), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM)" in err and "Traceback" not in err, err
    with Store(tmp_path / "s.db") as st:
        listed = st.list_runs()
        assert sorted(r["status"] for r in listed) == ["queued", "queued"]
        for r in listed:
            assert [a["outcome"] for a in st.attempts(r["id"])] == ["interrupted"]
    time.sleep(1.0)
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "slow2.py")], capture_output=True, text=True).stdout
    left = left or subprocess.run(["pgrep", "-f", "slow2.py"], capture_output=True, text=True).stdout
    assert not left.strip(), f"trainers still running: {left}"


def test_sigterm_handler_is_restored_after_the_sweep():
    import signal

    from scalinglab.runner.executor import Terminated, sigterm_interrupts

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated), sigterm_interrupts():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_runs_show_takes_a_run_name(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    with Store(tmp_path / "s.db") as st:
        for rid, name in (("ab12", "lad/L1-d32"), ("cd34", "lad/L2-d48"), ("ef56", "iso/L2-d48")):
            st.register_run(rid, config={}, name=name, sweep=name.split("/")[0], params=1000)
    r = CliRunner().invoke(app, ["runs", "show", "L1-d32", "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 0 and r.output.startswith("ab12  lad/L1-d32  status=queued"), r.output
    r = CliRunner().invoke(app, ["runs", "show", "L2-d48", "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 2 and "run name 'L2-d48' is ambiguous: 2 runs" in r.output, r.output


CRASH = """
import sys
print("IMPORTANT: data path /x/y missing shard 7", file=sys.stderr, flush=True)
for i in range(300):
    print(f"warning {i}", file=sys.stderr, flush=True)
print("step 1 of 10", flush=True)
raise SystemExit("boom")
"""


def test_each_attempt_keeps_the_trainers_whole_output(tmp_path):
    spec = _spec(tmp_path, CRASH, name="crash")
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False, max_retries=1)
    assert res.status == "failed"
    run_dir = tmp_path / ".scalinglab-checkpoints" / res.run_id
    for n in (1, 2):
        lines = (run_dir / f"attempt-{n}.log").read_text().splitlines()
        errs = [line for line in lines if line != "step 1 of 10"]  # stdout and stderr interleave as they come
        assert len(lines) == 303 and errs[0] == "IMPORTANT: data path /x/y missing shard 7" and errs[-1] == "boom"
    assert f"full output in {run_dir / 'attempt-2.log'}" in res.error.splitlines()[0]
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["runs", "show", res.run_id, "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 0 and f"full output in {run_dir / 'attempt-1.log'}" in r.output, r.output


def test_runs_show_names_the_output_log_of_a_done_run(tmp_path):
    spec = _spec(tmp_path, FINISH.format(loss=2.0).replace("track.log", "print('hello'); track.log"), name="ok")
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", show_progress=False)
    assert res.status == "done"
    log = tmp_path / ".scalinglab-checkpoints" / res.run_id / "attempt-1.log"
    assert log.read_text() == "hello\n"
    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["runs", "show", res.run_id, "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 0 and f"  output: {log}\n" in r.output, r.output


@pytest.mark.parametrize("command, where", [
    ('["my-trainer-not-installed", "--x"]', "on PATH nor in"),
    ('["./bin/train.sh"]', "(looked for"),
])
def test_a_trainer_not_found_is_one_error_before_the_store_exists(tmp_path, command, where):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    spec = _spec(tmp_path, "", name="np")
    spec.write_text(spec.read_text().replace(f'[{PY}, "np.py"]', command))
    db = tmp_path / "np.db"
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(db)])
    assert r.exit_code == 2 and not db.exists(), r.output
    prog = json.loads(command)[0]
    assert " ".join(r.output.split()).startswith(f"error: {spec}:trainer.command: the trainer {prog!r} of run np/L1-d16-D1000 "
                               f"is not found {where}"), r.output
    assert len(r.output.strip().splitlines()) == 1
    with pytest.raises(Exception, match="is not found"):
        run_sweep(load_spec(spec), db, show_progress=False)
    assert not db.exists()


def test_a_run_another_driver_holds_is_an_info_line_with_content(tmp_path, caplog):
    """Concurrent drivers printed 'WARNING run … leased:' with nothing after the colon, and the progress bar
    'leased, val leased'."""
    import io

    from rich.console import Console

    from scalinglab.runner.train import register
    from scalinglab.store import default_owner

    spec = _spec(tmp_path, FINISH.format(loss=2.0), name="held")
    cfg = load_spec(spec).runs[0]
    other = default_owner()  # a live process on this host (this one), as another driver would be
    with Store(tmp_path / "s.db") as st:
        register(st, cfg)
        assert st.claim_run(cfg.run_id, other)
    caplog.set_level(logging.INFO, logger="scalinglab")
    buf = io.StringIO()
    (res,) = run_sweep(load_spec(spec), tmp_path / "s.db", console=Console(file=buf, width=200))
    assert res.status == "leased"
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if cfg.run_id in r.getMessage()]
    assert lines == [("INFO", f"run held/L1-d16-D1000 ({cfg.run_id}): being trained by another process ({other})")]
    text = buf.getvalue()
    assert f"L1-d16-D1000: being trained by another process ({other})" in text and "val leased" not in text, text


def test_runs_list_refuses_an_unknown_status_and_export_counts_what_it_left_out(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    db = tmp_path / "s.db"
    with Store(db) as st:
        for i, status in enumerate(["done", "failed", "failed", "queued"]):
            rid = f"r{i}"
            st.register_run(rid, config={}, name=f"sw/L{i}", sweep="sw", params=1000)
            st.claim_run(rid, "w")
            if status == "done":
                st.finish_run(rid, "w", evaluations=[dict(branch="", step=1, split="val", params=1000, tokens=100,
                                                          flops=1e3, loss_nats=2.0)], summary={})
            else:
                st.release_run(rid, "w", status=status)
        assert st.status_counts() == {"queued": 1, "running": 0, "done": 1, "failed": 2}
    r = CliRunner().invoke(app, ["runs", "list", "--store", str(db), "--status", "faild"])
    assert r.exit_code == 2 and "unknown run status 'faild'; one of: queued, running, done, failed" in r.output
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "-o", str(tmp_path / "r.csv")])
    assert r.exit_code == 0 and "wrote 1 rows" in r.output
    assert "left out: 1 queued run, 2 failed runs (not finished" in " ".join(r.output.split()), r.output


def test_a_run_renamed_by_a_changed_setting_is_warned_about(tmp_path, caplog):
    """Changing any trainer flag re-keys every run (its id hashes the config): the store then held two
    finished runs of one name, and the sweep said '1 trained now' as if nothing had changed."""
    spec = _spec(tmp_path, CKPT_TRAINER)
    st = Store(tmp_path / "runs.db")
    assert [r.status for r in run_sweep(load_spec(spec), st, workdir=tmp_path / "w", show_progress=False)] == ["done"]
    spec.write_text(spec.read_text().replace("[trainer]", "[trainer]\nenv = { EXTRA = \"1\" }"))
    with caplog.at_level(logging.WARNING, logger="scalinglab"):
        run_sweep(load_spec(spec), st, workdir=tmp_path / "w", show_progress=False)
    said = [r.getMessage() for r in caplog.records if "names of finished runs" in r.getMessage()]
    assert len(said) == 1 and "changed: trainer.env" in said[0] and "one/" in said[0]
    assert len(st.list_runs(status="done")) == 2
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scalinglab"):  # the same spec again: nothing to say
        run_sweep(load_spec(spec), st, workdir=tmp_path / "w", show_progress=False)
    assert not [r for r in caplog.records if "names of finished runs" in r.getMessage()]
    st.close()


@pytest.mark.parametrize(("value", "want"), [(5, 5), ("5", 5), (5.0, 5), ("5.0", 5), (5.7, None), ("5.7", None),
                                             (float("inf"), None), ("Infinity", None), ("x", None), (True, None)])
def test_a_logged_step_is_a_whole_number_or_nothing(value, want):
    """A step of 5.7 was read as 5, and a JSON step of Infinity crashed the attempt (OverflowError)."""
    from scalinglab.runner.external import _whole

    assert _whole(value) == want
