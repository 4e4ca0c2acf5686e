"""The Ray executor on a REAL local Ray cluster: worker killed mid-run, driver killed mid-sweep, PostgreSQL.

Every Ray start costs seconds, so the cluster tests are few, tiny (models of a few thousand parameters) and
marked ``slow``; they skip with a reason when Ray is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sqlalchemy")

from scalinglab import InputError  # noqa: E402
from scalinglab.store import Store  # noqa: E402

try:
    import ray  # noqa: F401

    NO_RAY = None
except ImportError:  # pragma: no cover
    NO_RAY = "ray is not installed (pip install 'scalinglab[ray]')"


SPEC = """
[sweep]
name = "ray-kill"
kind = "list"

[defaults]
data = { name = "markov", alphabet = 16, order = 1, support = 4, train_tokens = 200000, val_tokens = 16384, chain_len = 64 }
seq_len = 16
schedule = "wsd"
batch_size = 8
eval_every = 10
eval_windows = 16
checkpoint_every = 20

[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
budgets = [24000, 48000]

[[runs]]
arch = { n_layer = 2, d_model = 16, n_heads = 2 }
budgets = [24000, 48000]

[[runs]]
arch = { n_layer = 1, d_model = 24, n_heads = 3 }
budgets = [48000]

[[runs]]
arch = { n_layer = 2, d_model = 24, n_heads = 3 }
budgets = [48000]
"""


# ------------------------------------------------------------------------------------ no cluster needed
def test_memory_strings_and_option_checks():
    from scalinglab.runner.ray_executor import RayExecutor, parse_memory

    assert parse_memory("4GiB") == 4 * 2**30
    assert parse_memory("512 MiB") == 512 * 2**20
    assert parse_memory("2GB") == 2_000_000_000
    assert parse_memory(1e9) == 1_000_000_000 and parse_memory(None) is None
    for bad in ("lots", "-1GB", "4 parsecs", 0):
        with pytest.raises(InputError):
            parse_memory(bad)
    with pytest.raises(InputError):
        RayExecutor(num_cpus=-1)
    with pytest.raises(InputError):
        RayExecutor(max_retries=-1)
    ex = RayExecutor(workers=3, num_cpus=2, num_gpus=0.5, memory="1GiB", max_retries=5)
    assert ex.max_in_flight == 3
    assert ex._options() == {"num_cpus": 2.0, "num_gpus": 0.5, "max_retries": 5, "retry_exceptions": False,
                             "memory": 2**30}
    assert RayExecutor()._options()["retry_exceptions"] is False
    assert RayExecutor(retry_failures=True)._options()["retry_exceptions"] != []


def test_get_executor_knows_ray_and_cli_rejects_address_without_it(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app
    from scalinglab.runner.executor import get_executor
    from scalinglab.runner.ray_executor import RayExecutor

    assert isinstance(get_executor("ray", 1, address="auto", num_cpus=1), RayExecutor)
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    res = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "r.db"), "--address", "auto"])
    assert res.exit_code == 2 and "--executor ray" in res.output


# ------------------------------------------------------------------------------------ real clusters
def _cli(spec: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "scalinglab", "run", str(spec), "--store", str(db), "--executor", "ray",
            "--json"]


def _pid(owner: str | None) -> int | None:
    try:
        return int(owner.rsplit(":", 2)[1]) if owner else None
    except (ValueError, IndexError):
        return None


def _wait(pred, what: str, proc: subprocess.Popen | None = None, timeout: float = 240.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver exited ({proc.returncode}) while waiting for {what}: "
                                 f"{proc.stderr.read()[-3000:] if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _snapshot(db: Path) -> list[dict]:
    if not db.exists():
        return []
    st = Store(db)
    try:
        runs = st.list_runs()
        for r in runs:
            r["n_metrics"] = len(st.metrics(r["id"])) if r["status"] == "running" else None
        return runs
    finally:
        st.close()


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop what is left of a killed driver's local Ray instance (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(NO_RAY is not None, reason=str(NO_RAY))
def test_sweep_on_ray_survives_a_killed_worker_and_a_killed_driver(tmp_path):
    from scalinglab.runner.executor import run_sweep
    from scalinglab.runner.spec import load_spec

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    sweep = load_spec(spec)
    ref = Store(tmp_path / "ref.db")  # reference: the same sweep, uninterrupted, in this process
    run_sweep(sweep, ref, workdir=tmp_path / "ck-ref", show_progress=False)
    ref_counts, ref_frame = ref.counts(), ref.to_frame().sort_values(["run_id", "tokens"])
    ref.close()

    db = tmp_path / "runs.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_DEDUP_LOGS": "0"}
    env.pop("RAY_ADDRESS", None)
    driver = subprocess.Popen(_cli(spec, db), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=tmp_path, start_new_session=True)
    killed_workers: list[int] = []
    try:
        # 1. SIGKILL the Ray worker process that is training a run, mid-run (after some metric rows)
        # (≥ 6 metric rows: the step-30 evaluation is written, so the step-20 checkpoint is on disk)
        def training() -> dict | None:
            return next((r for r in _snapshot(db) if r["status"] == "running" and (r["n_metrics"] or 0) >= 6
                         and _pid(r["lease_owner"])), None)

        victim = _wait(training, "a run mid-training on a Ray worker", driver)
        wpid = _pid(victim["lease_owner"])
        assert wpid != driver.pid
        os.kill(wpid, signal.SIGKILL)
        killed_workers.append(wpid)

        # 2. Ray retries the task on a fresh worker, which takes over the dead worker's lease
        def retried() -> bool:
            r = next(r for r in _snapshot(db) if r["id"] == victim["id"])
            return r["attempts"] >= 2

        _wait(retried, "Ray to retry the killed run", driver)
        # 3. SIGKILL the driver while runs are unfinished
        runs = _snapshot(db)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(30)
        assert driver.returncode == -signal.SIGKILL
        for r in runs:  # stop workers orphaned by the driver's death (they would stop by themselves, later)
            pid = _pid(r["lease_owner"])
            if r["status"] == "running" and pid and pid != driver.pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(30)
        _kill_group(driver)

    # 4. rerun the same command: finished runs are skipped, unfinished ones resume; nothing runs twice
    #    (count "done" only now: a run may finish between the snapshot above and the kill)
    done_before_rerun = sum(r["status"] == "done" for r in _snapshot(db))
    rerun = subprocess.run(_cli(spec, db), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=400,
                           start_new_session=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout)
    assert summary["runs"] == 4 and summary["failed"] == 0
    assert summary["already_done"] == done_before_rerun

    st = Store(db)
    runs = st.list_runs()
    assert len(runs) == 4 and all(r["status"] == "done" for r in runs)
    attempts = {r["id"]: r["attempts"] for r in runs}
    assert attempts[victim["id"]] >= 2                  # killed worker → retried
    # the attempt history: the killed worker's attempt is 'lost'; exactly one attempt per run finished it,
    # and the one that finished the victim resumed from a checkpoint (not from step 0) in another process
    hist = st.attempts(victim["id"])
    assert [h["outcome"] for h in hist if h["pid"] == wpid] == ["lost"], hist
    assert "worker died" in next(h["error"] for h in hist if h["pid"] == wpid)
    done = [h for h in hist if h["outcome"] == "done"]
    assert len(done) == 1 and done[0]["pid"] != wpid and done[0]["resumed_from_step"] >= 20, hist
    assert all(sum(h["outcome"] == "done" for h in st.attempts(r["id"])) == 1 for r in runs)
    assert not [h for h in st.attempts() if h["outcome"] == "running"]
    assert st.counts() == {**ref_counts, "logs": st.counts()["logs"]}  # same runs, metric and eval rows
    got = st.to_frame().sort_values(["run_id", "tokens"])
    assert got["run_id"].tolist() == ref_frame["run_id"].tolist()
    assert got["tokens"].tolist() == ref_frame["tokens"].tolist()
    assert got["loss"].tolist() == pytest.approx(ref_frame["loss"].tolist(), rel=1e-4)  # resumed = uninterrupted
    with st.engine.connect() as conn:
        dup = conn.exec_driver_sql("select count(*) from (select run_id, step, split, branch from metrics "
                                   "group by 1, 2, 3, 4 having count(*) > 1)").scalar()
    assert dup == 0
    st.close()


def worker_kill_trial(folder: Path, kills: int = 5, spec_text: str = SPEC, timeout: float = 900.0) -> dict:
    """One Ray sweep (CLI, local Ray instance) in which ``kills`` Ray worker processes are SIGKILLed, each while
    it trains a run (after its step-20 checkpoint); the driver is left alone. Returns the kills, the driver's
    exit code, the attempt history summary and the store check against the same sweep trained uninterrupted
    in this process (bench/reliability.py; the test above does one kill)."""
    from test_faults import check_store, reference_for

    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.toml"
    spec.write_text(spec_text)
    ref = reference_for(folder / "ref", spec_text)
    db = folder / "runs.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_DEDUP_LOGS": "0", "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    cmd = _cli(spec, db) + ["--max-retries", str(kills + 1)]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                              cwd=folder, start_new_session=True)
    killed: list[tuple[str, int]] = []
    try:
        while len(killed) < kills:
            def training() -> dict | None:
                return next((r for r in _snapshot(db) if r["status"] == "running" and (r["n_metrics"] or 0) >= 6
                             and _pid(r["lease_owner"]) not in {p for _, p in killed}
                             and _pid(r["lease_owner"])), None)

            try:
                victim = _wait(training, "a run mid-training", driver, timeout=timeout)
            except AssertionError:
                break  # the sweep finished (or failed) before every kill landed
            os.kill(_pid(victim["lease_owner"]), signal.SIGKILL)
            killed.append((victim["id"], _pid(victim["lease_owner"])))
        rc = driver.wait(timeout=timeout)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(30)
        _kill_group(driver)
    st = Store(db)
    try:
        hist = st.attempts()
    finally:
        st.close()
    by_pid = {(h["run_id"], h["pid"]): h for h in hist}
    return {"killed": len(killed), "exit": rc,
            "killed_attempts_lost": sum(by_pid.get(k, {}).get("outcome") == "lost" for k in killed),
            "resumed_from_checkpoint": sum(1 for h in hist if h["outcome"] == "done" and h["run_id"] in
                                           {r for r, _ in killed} and (h["resumed_from_step"] or 0) > 0),
            "victim_runs": len({r for r, _ in killed}), **check_store(f"sqlite:///{db}", ref)}


def _ray_writer(url: str, wid: int, n_runs: int, n_steps: int) -> list[str]:
    """A Ray task writing to a shared PostgreSQL store: register all runs, claim what it can, write
    overlapping metric points and log lines, finish the runs it claimed."""
    from scalinglab.store import Store

    st = Store(url)
    owner, claimed = f"ray{wid}:{os.getpid()}:{wid}", []
    for r in range(n_runs):
        st.register_run(f"w{r}", config={"r": r}, params=100 + r, param_convention="total", flops_convention="6N",
                        flops_per_token=600.0, tokens_planned=n_steps)
    for r in range(n_runs):
        st.add_metrics("w0", [{"step": s, "split": "val", "tokens": s, "loss_nats": 1.0}
                              for s in range(wid, n_steps, 3)])
        rid = f"w{(r + wid) % n_runs}"
        if st.claim_run(rid, owner):
            claimed.append(rid)
            st.add_metrics(rid, [{"step": s, "split": "train", "tokens": s, "loss_nats": 2.0} for s in range(n_steps)])
            st.finish_run(rid, owner, evaluations=[{"step": n_steps, "params": 100, "tokens": n_steps,
                                                    "flops": 600.0 * n_steps, "loss_nats": 2.0}])
        st.log(None, f"writer {wid} pass {r}")
    st.close()
    return claimed


@pytest.mark.ray
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.skipif(NO_RAY is not None, reason=str(NO_RAY))
def test_ray_tasks_write_concurrently_to_a_real_postgresql_store(tmp_path):
    from _pgserver import PgServer, why_unavailable

    if why_unavailable():
        pytest.skip(why_unavailable())
    import ray
    import ray.cloudpickle

    from scalinglab.runner.executor import run_sweep
    from scalinglab.runner.ray_executor import RayExecutor
    from scalinglab.runner.spec import load_spec

    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.replace("48000", "16000").replace("24000", "8000"))
    sweep = load_spec(spec)
    with PgServer() as pg:
        url_sweep, url_writers = pg.new_database(), pg.new_database()
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
        try:
            ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # tests/ is not importable on workers
            # 1. a sweep through the RayExecutor, its runs writing to PostgreSQL from 2 concurrent Ray tasks
            ex = RayExecutor(num_cpus=1, max_retries=1)
            results = run_sweep(sweep, url_sweep, executor=ex, workdir=tmp_path / "ck", show_progress=False)
            assert sorted(r.status for r in results) == ["done"] * 4
            assert ray.is_initialized()  # the executor did not own (so did not stop) this Ray session
            # 2. raw Ray tasks hammering one store
            n_tasks, n_runs, n_steps = 4, 6, 30
            task = ray.remote(num_cpus=0.5)(_ray_writer)
            claimed = ray.get([task.remote(url_writers, w, n_runs, n_steps) for w in range(n_tasks)], timeout=300)
        finally:
            ray.shutdown()

        lite = Store(tmp_path / "ref.db")
        run_sweep(sweep, lite, workdir=tmp_path / "ck-ref", show_progress=False)
        st = Store(url_sweep)
        assert st.counts() == {**lite.counts(), "logs": st.counts()["logs"]}
        a = st.to_frame().sort_values(["run_id", "tokens"])
        b = lite.to_frame().sort_values(["run_id", "tokens"])
        assert a["run_id"].tolist() == b["run_id"].tolist()
        assert a["loss"].tolist() == pytest.approx(b["loss"].tolist(), rel=1e-4)
        st.close()

        assert sorted(r for c in claimed for r in c) == sorted(f"w{r}" for r in range(n_runs))  # once each
        st = Store(url_writers)
        c = st.counts()
        val_steps = {s for w in range(n_tasks) for s in range(w, n_steps, 3)}
        assert c == {"runs": n_runs, "metrics": n_runs * n_steps + len(val_steps), "evaluations": n_runs,
                     "logs": n_tasks * n_runs}
        assert all(r["status"] == "done" and r["attempts"] == 1 for r in st.list_runs())
        st.close()
