"""KILL TEST: SIGKILL a real `scalinglab run` subprocess mid-run, rerun it, compare with an uninterrupted sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import load_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

SPEC = """
[sweep]
name = "kill-test"
kind = "list"

[defaults]
data = { name = "markov", alphabet = 16, order = 1, support = 4, train_tokens = 200000, val_tokens = 16384, chain_len = 64 }
seq_len = 16
schedule = "wsd"
batch_size = 8
eval_every = 10
eval_windows = 16
checkpoint_every = 15

[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
budgets = [12000, 24000]

[[runs]]
arch = { n_layer = 2, d_model = 16, n_heads = 2 }
budgets = [12000, 24000]

[[runs]]
arch = { n_layer = 1, d_model = 24, n_heads = 3 }
budgets = [24000]
"""


def _cmd(spec, db):
    return [sys.executable, "-m", "scalinglab", "run", str(spec), "--store", str(db), "--json"]


def _wait_mid_run(db, proc, timeout=180.0) -> str:
    """Wait until the second run is running and has written some metric rows; return its id."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "the sweep finished before it could be killed"
        if db.exists():
            st = Store(db)
            try:
                runs = st.list_runs()
                done = [r for r in runs if r["status"] == "done"]
                running = [r for r in runs if r["status"] == "running"]
                if done and running and len(st.metrics(running[0]["id"])) >= 4:
                    return running[0]["id"]
            finally:
                st.close()
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the sweep to reach its second run")


def test_sigkill_mid_sweep_then_rerun_finishes_every_run_exactly_once(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    sweep = load_spec(spec)
    assert len(sweep.runs) == 3

    # reference: the same sweep, uninterrupted
    ref = Store(tmp_path / "ref.db")
    run_sweep(sweep, ref, workdir=tmp_path / "ck-ref", show_progress=False)

    db = tmp_path / "runs.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cmd(spec, db), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    try:
        victim = _wait_mid_run(db, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    st = Store(db)
    assert st.status(victim) == "running"                # crashed mid-run: not finished ...
    assert victim not in set(st.to_frame()["run_id"])    # ... and invisible to fitting
    st.close()

    rerun = subprocess.run(_cmd(spec, db), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    st = Store(db)
    runs = st.list_runs()
    assert len(runs) == 3 and all(r["status"] == "done" for r in runs)
    assert {r["id"]: r["attempts"] for r in runs}[victim] == 2
    assert st.counts()["runs"] == ref.counts()["runs"]
    assert st.counts()["metrics"] == ref.counts()["metrics"]
    assert st.counts()["evaluations"] == ref.counts()["evaluations"] == 5
    a = ref.to_frame().sort_values(["run_id", "tokens"])
    b = st.to_frame().sort_values(["run_id", "tokens"])
    assert a["run_id"].tolist() == b["run_id"].tolist() and a["tokens"].tolist() == b["tokens"].tolist()
    assert b["loss"].tolist() == pytest.approx(a["loss"].tolist(), rel=1e-4)  # resumed = uninterrupted
    assert any("resumed" in line["message"] for line in st.logs(victim))
    # a third run does nothing
    again = subprocess.run(_cmd(spec, db), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert again.returncode == 0
    assert st.counts()["metrics"] == ref.counts()["metrics"]
    assert not list((tmp_path / ".scalinglab-checkpoints").glob("**/*.pt"))


POOL_DRIVER = """
import multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor

from scalinglab.runner.executor import _worker_init

def pid():
    return os.getpid()

if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                               initargs=(os.getpid(),))
    print(" ".join(map(str, sorted({pool.submit(pid).result() for _ in range(16)}))), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_pool_workers_die_with_a_killed_sweep(tmp_path):
    """`--workers 2` with the driver SIGKILLed: its two pool workers stayed alive (parent PID 1), one started
    a new run nobody waited for, both idled on until killed by hand. Workers now die with the driver."""
    from scalinglab.runner.executor import LocalExecutor, _worker_init

    script = tmp_path / "driver.py"
    script.write_text(POOL_DRIVER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert pids and all(_alive(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)
    ex = LocalExecutor(workers=2)  # the executor's own pool starts its workers so
    try:
        from scalinglab.runner.executor import RunTask

        ex.submit(RunTask({}, "sqlite:///" + str(tmp_path / "x.db"), str(tmp_path))).exception(60)
        assert ex._pool._initializer is _worker_init and ex._pool._initargs == (os.getpid(),)
    finally:
        ex.shutdown()
