"""Faults a cluster sees, injected for real on this machine (loopback only, bounded in time):

* PostgreSQL stopped mid-sweep and started again: store operations retry with backoff, nothing is lost,
  duplicated or left running; away past the retry limit, the sweep stops with one error and a rerun resumes;
* a full disk while writing a checkpoint or the SQLite store (a small tmpfs when this process may mount one,
  else an injected ENOSPC / SQLITE_FULL): one error naming the path, the previous checkpoint intact, resume
  after space is freed;
* a worker paused with SIGSTOP past its lease, then resumed: it cannot write over the worker that took the
  run over (writes are fenced by owner + attempt number).

(A Ray worker killed mid-run is in tests/test_ray.py.) Each ``*_trial`` helper returns counts — injections,
runs lost / duplicated / wrong (vs. an uninterrupted deterministic run) — and ``bench/reliability.py`` calls
the same helpers ≥ 5 times per fault.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from _pgserver import PgServer, why_unavailable  # noqa: E402

from scalinglab import StoreError  # noqa: E402
from scalinglab.store import LeaseLostError, Store, StoreUnavailableError  # noqa: E402

NO_PG = why_unavailable()

# One run, long enough to be paused or cut off mid-training, short enough for CI (a few seconds of training).
ONE_RUN_SPEC = """\
[sweep]
name = "faults"
kind = "list"
[defaults]
data = { name = "markov", alphabet = 16, order = 1, train_tokens = 100000, val_tokens = 4096 }
seq_len = 16
schedule = "cosine"
eval_every = 3
eval_windows = 8
checkpoint_every = 4
batch_size = 4
[[runs]]
arch = { n_layer = 1, d_model = 16, n_heads = 2 }
tokens = {D}
"""


# ------------------------------------------------------------------------------------------ helpers
def _env(**extra: str) -> dict:
    from test_crash import ENV

    return {**ENV, **extra}


def _poll_store(url: str) -> Store:
    return Store(url, retry_s=0)


def _running_with_metrics(url: str, min_metrics: int, seen: dict | None = None) -> dict | None:
    """A run that is mid-training (status running, at least ``min_metrics`` metric rows, and 2 more than
    ``seen[run_id]`` when given: progress since then), or None. Sets ``r["n_metrics"]``."""
    try:
        st = _poll_store(url)
    except StoreError:
        return None
    try:
        for r in st.list_runs(status="running"):
            n = len(st.metrics(r["id"]))
            if n >= max(min_metrics, (seen or {}).get(r["id"], -2) + 2):
                r["n_metrics"] = n
                return r
    except StoreError:
        return None
    finally:
        st.close()
    return None


def _wait_for(pred, what: str, proc: subprocess.Popen | None = None, timeout: float = 240.0, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            return None  # the process finished before the moment came
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def _sweep(spec: Path, url: str, cwd: Path, env: dict, tag: str) -> tuple[subprocess.Popen, Path, Path]:
    from test_crash import sweep_cmd

    cmd = sweep_cmd(spec, Path("unused"))
    cmd[cmd.index("--store") + 1] = url
    out, err = cwd / f"{tag}.out", cwd / f"{tag}.err"
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out.open("w"), stderr=err.open("w"),
                            start_new_session=True)
    return proc, out, err


def _finish(proc: subprocess.Popen, timeout: float = 300.0) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError("the sweep did not finish in time") from None


def check_store(url: str, ref: dict) -> dict[str, int]:
    """Lost / duplicated / wrong (vs ``ref``), runs left running, runs not finished by exactly one attempt."""
    from test_crash import compare, snapshot

    st = Store(url)
    try:
        out = compare(snapshot(st), ref)
        out["left_running"] = len(st.list_runs(status="running"))
        done = {}
        for a in st.attempts():
            done[a["run_id"]] = done.get(a["run_id"], 0) + (a["outcome"] == "done")
            out["left_running"] += a["outcome"] == "running"
        out["trained_twice"] = sum(n > 1 for n in done.values())
        out["lost"] += sum(done.get(r["id"], 0) == 0 for r in st.list_runs())  # not finished by an attempt
    finally:
        st.close()
    return out


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# ------------------------------------------------------------------------------------------ 1. PostgreSQL
def pg_outage_trial(pg: PgServer, folder: Path, ref: dict, *, outages: int = 1, outage_s: float = 3.0,
                    scale: int = 1, modes: tuple[str, ...] = ("fast", "immediate")) -> dict:
    """Run the crash-test sweep on a fresh PostgreSQL database and stop the server ``outages`` times for
    ``outage_s`` seconds mid-training (alternating shutdown ``modes``). Returns injections (stops that hit a
    live sweep), the sweep's exit code, its 'unreachable' log lines and the store check against ``ref``."""
    from test_crash import write_spec

    folder.mkdir(parents=True, exist_ok=True)
    url = pg.new_database()
    spec = write_spec(folder, scale)
    proc, _, err = _sweep(spec, url, folder, _env(SCALINGLAB_STORE_RETRY_S="120"), "sweep")
    injected, seen = 0, {}
    try:
        for i in range(outages):  # each outage after the sweep wrote again since the last one (distinct faults)
            victim = _wait_for(lambda: _running_with_metrics(url, 2, seen), "a run mid-training", proc)
            if victim is None:
                break
            seen[victim["id"]] = victim["n_metrics"]
            pg.halt(modes[i % len(modes)])
            injected += proc.poll() is None
            time.sleep(outage_s)
            pg.resume()
        rc = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = err.read_text(errors="replace")
    return {"injected": injected, "exit": rc, "retry_lines": text.count("unreachable during"),
            "tracebacks": text.count("Traceback"), **check_store(url, ref)}


def pg_giveup_trial(pg: PgServer, folder: Path, ref: dict, *, retry_s: float = 2.0, scale: int = 1) -> dict:
    """Stop PostgreSQL mid-sweep and keep it away past the sweep's retry limit: the sweep must stop with one
    error line (no traceback); start the server and rerun the same command: it must complete the sweep."""
    from test_crash import write_spec

    folder.mkdir(parents=True, exist_ok=True)
    url = pg.new_database()
    spec = write_spec(folder, scale)
    proc, _, err = _sweep(spec, url, folder, _env(SCALINGLAB_STORE_RETRY_S=str(retry_s)), "sweep")
    halted = False
    try:
        victim = _wait_for(lambda: _running_with_metrics(url, 2), "a run mid-training", proc)
        if victim is not None:
            pg.halt("fast")
            halted = True
        t0 = time.monotonic()
        rc = _finish(proc, timeout=retry_s + 120)
        stopped_after_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if halted:
            pg.resume()
    text = err.read_text(errors="replace")
    rerun, _, _ = _sweep(spec, url, folder, _env(), "rerun")
    rerun_rc = _finish(rerun)
    return {"injected": int(halted and rc != 0), "exit": rc, "stopped_after_s": stopped_after_s if halted else 0.0,
            "error_lines": sum("unreachable for" in line for line in text.splitlines()),
            "tracebacks": text.count("Traceback"), "stderr": text[-2000:], "rerun_exit": rerun_rc,
            **check_store(url, ref)}


# ------------------------------------------------------------------------------------------ 3. disk full
def can_mount() -> bool:
    """True when this process may mount a tmpfs (root with CAP_SYS_ADMIN, Linux), unless disabled by
    ``$SCALINGLAB_TEST_NO_MOUNT=1`` (to test the injected-ENOSPC fallback)."""
    if os.environ.get("SCALINGLAB_TEST_NO_MOUNT") == "1" or sys.platform != "linux" or os.geteuid() != 0:
        return False
    import tempfile

    d = tempfile.mkdtemp(prefix="scalinglab-mnt-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d], capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], capture_output=True)
        return ok
    finally:
        os.rmdir(d)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m"):
    """A tmpfs of ``size`` mounted at ``path`` for the duration of the block."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(folder: Path) -> Path:
    """Write a filler file in ``folder`` until its file system is full; returns the filler's path."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), open(filler, "ab") as f:  # the last few bytes too
        while True:
            f.write(b"\0" * 512)
            f.flush()
    return filler


def tiny_run(tokens: int = 2048):
    """A one-run config (about 30 steps, checkpoint every 4) that trains in about a second."""
    from scalinglab.runner.spec import expand_spec

    spec = {"defaults": {"data": {"name": "markov", "alphabet": 16, "order": 1, "train_tokens": 50000,
                                  "val_tokens": 2048}, "seq_len": 16, "schedule": "cosine", "eval_every": 4,
                         "eval_windows": 4, "checkpoint_every": 4, "batch_size": 4},
            "runs": [{"arch": {"n_layer": 1, "d_model": 8, "n_heads": 1}, "tokens": tokens}]}
    return expand_spec(spec).runs[0]


def tiny_reference(folder: Path) -> dict:
    """The tiny run trained once without interruption: the store snapshot (test_crash.snapshot)."""
    import torch
    from test_crash import snapshot

    from scalinglab.runner.train import train_run

    torch.set_num_threads(1)
    st = Store(folder / "ref.db")
    try:
        assert train_run(tiny_run(), store=st, workdir=folder / "ref-ck", device="cpu").status == "done"
        return snapshot(st)
    finally:
        st.close()


def disk_full_trial(folder: Path, ref: dict, *, target: str, mount: bool | None = None) -> dict:
    """Fill the disk under the checkpoints (``target='checkpoint'``) or under the SQLite store
    (``target='store'``) of a half-trained tiny run, continue the sweep, free the space, rerun.

    With ``mount`` (default: when allowed) the disk is a real 8 MB tmpfs filled to the last byte; otherwise
    ENOSPC is injected at the checkpoint's fsync, or SQLITE_FULL raised by the driver on every write.
    Returns whether the fault was injected and reported with its path, whether the previous checkpoint stayed
    intact, and the store check after the rerun."""
    import hashlib

    import torch

    from scalinglab._errors import DiskFullError
    from scalinglab.runner.executor import run_sweep
    from scalinglab.runner.train import load_checkpoint, train_run

    torch.set_num_threads(1)
    mount = can_mount() if mount is None else mount
    folder.mkdir(parents=True, exist_ok=True)
    cfg = tiny_run()
    disk = folder / "disk"
    with (small_disk(disk) if mount else contextlib.nullcontext(disk)):
        disk.mkdir(parents=True, exist_ok=True)
        db = (disk if target == "store" else folder) / "runs.db"
        workdir = (disk if target == "checkpoint" else folder) / "ck"
        ckpt = workdir / cfg.run_id / "last.pt"
        st = Store(db)
        part = train_run(cfg, store=st, workdir=workdir, device="cpu", stop_after_steps=6)
        assert part.status == "interrupted"
        before = hashlib.sha256(ckpt.read_bytes()).hexdigest()
        error, undo = None, None
        if mount:
            filler = fill_disk(disk)
            undo = filler.unlink
        elif target == "checkpoint":
            real_fsync = os.fsync

            def full_fsync(fd):  # delayed allocation: the write is accepted, fsync finds no space
                if os.readlink(f"/proc/self/fd/{fd}").startswith(str(workdir)):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real_fsync(fd)

            os.fsync = full_fsync

            def undo():
                os.fsync = real_fsync
        else:  # SQLITE_FULL from the driver on every write statement, as SQLite reports a full disk
            from sqlalchemy import event

            def _full(conn, cursor, statement, params, context, executemany):
                if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
                    raise sqlite3.OperationalError("database or disk is full")

            event.listen(st.engine, "before_cursor_execute", _full)

            def undo():
                event.remove(st.engine, "before_cursor_execute", _full)
        try:
            run_sweep([cfg], st, workdir=workdir, device="cpu", show_progress=False)
        except (DiskFullError, StoreError) as exc:
            error = exc
        finally:
            if undo is not None:
                undo()
        status_after_fault = st.status(cfg.run_id)
        prev_intact = (hashlib.sha256(ckpt.read_bytes()).hexdigest() == before
                       and (load_checkpoint(ckpt, cfg.run_id) or {}).get("step") == 6) if target == "checkpoint" \
            else (load_checkpoint(ckpt, cfg.run_id) or {}).get("step", 0) >= 6
        leftovers = [p.name for p in ckpt.parent.glob("*.tmp*")] if ckpt.parent.exists() else []
        named = error is not None and str(ckpt if target == "checkpoint" else db) in str(error)
        res = run_sweep([cfg], st, workdir=workdir, device="cpu", show_progress=False)
        resumed = res[0].resumed_from_step if res else -1
        st.close()
        check = check_store(_sqlite_url(db), ref)
    return {"injected": int(error is not None), "error": str(error) if error else "", "named_path": named,
            "disk_full_error": isinstance(error, DiskFullError) or "disk full" in str(error or ""),
            "previous_intact": prev_intact, "temp_files_left": len(leftovers), "resumed_from_step": resumed,
            "status_after_fault": status_after_fault, "mounted": mount, **check}


# ------------------------------------------------------------------------------------------ 5. lease expiry
def _sqlite_locked(db: Path) -> bool:
    """True when some process holds the SQLite write lock of ``db`` right now."""
    con = sqlite3.connect(db, timeout=0)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.rollback()
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        con.close()


def sigstop_trial(folder: Path, ref: dict, *, spec_text: str, lease_s: float = 2.0) -> dict:
    """Sweep A trains the run; SIGSTOP A (at a moment it holds no store lock) past its lease; sweep B takes
    the run over and finishes it; SIGCONT A. A must stop without writing (its heartbeat, metric writes and
    finish are fenced), and the store must equal the uninterrupted ``ref``."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "spec.toml"
    spec.write_text(spec_text)
    db = folder / "runs.db"
    url = _sqlite_url(db)
    env = _env(SCALINGLAB_LEASE_S=str(lease_s))
    a, a_out, _ = _sweep(spec, url, folder, env, "a")
    stopped = False
    try:
        victim = _wait_for(lambda: _running_with_metrics(url, 2), "sweep A mid-training", a)
        if victim is not None:
            for _ in range(200):  # pause A outside a store transaction (SQLite locks are not fenced)
                os.kill(a.pid, signal.SIGSTOP)
                if not _sqlite_locked(db):
                    stopped = True
                    break
                os.kill(a.pid, signal.SIGCONT)
                time.sleep(0.01)
        if stopped:
            time.sleep(lease_s + 1.0)
        b, b_out, _ = _sweep(spec, url, folder, env, "b")
        b_rc = _finish(b)
    finally:
        if a.poll() is None:
            os.kill(a.pid, signal.SIGCONT)
    a_rc = _finish(a)
    summary_a = json.loads(a_out.read_text() or "{}") if a_rc == 0 else {}
    summary_b = json.loads(b_out.read_text() or "{}") if b_rc == 0 else {}
    st = Store(url)
    try:
        hist = st.attempts()
        logs = [m["message"] for m in st.logs()]
    finally:
        st.close()
    leftovers = list((folder / ".scalinglab-checkpoints").glob("*/*")) if (folder / ".scalinglab-checkpoints").exists() else []
    return {"injected": int(stopped), "a_exit": a_rc, "b_exit": b_rc, "a_leased": summary_a.get("leased", 0),
            "b_done": summary_b.get("done", 0), "attempts": [(h["attempt"], h["pid"], h["outcome"]) for h in hist],
            "a_pid": a.pid, "b_pid": b.pid, "files_left": len(leftovers),
            "done_logs": sum(m.startswith("done:") for m in logs), **check_store(url, ref)}


# ================================================================================== tests: no server needed
def _reg(st: Store, rid: str = "r1") -> None:
    st.register_run(rid, config={"r": rid}, params=1000, param_convention="total", flops_convention="6N",
                    flops_per_token=6000.0, tokens_planned=100)


def _eval(loss: float) -> dict:
    return {"step": 10, "params": 1000, "tokens": 100, "flops": 6e5, "loss_nats": loss}


def test_a_worker_that_lost_its_lease_cannot_write_over_the_new_holder(tmp_path):
    st = Store(tmp_path / "s.db", lease_s=60)
    _reg(st)
    a, b = "hostA:1:aa", "hostB:2:bb"          # other hosts: liveness decided by heartbeat age only
    t = time.time()
    assert st.claim_run("r1", a, now=t - 100) == 1
    # a fenced metric write is also a heartbeat (at the real clock, t)
    assert st.add_metrics("r1", [{"step": 1, "split": "val", "tokens": 10, "loss_nats": 3.0}], owner=a) == 1
    assert st.claim_run("r1", b, now=t + 30) == 0          # fresh lease: refused
    assert st.claim_run("r1", b, now=t + 61) == 2          # a silent for > 60 s: b takes over as attempt 2
    # a wakes up: every write it makes for the run is refused, and nothing of it lands in the store
    assert not st.heartbeat("r1", a)
    with pytest.raises(LeaseLostError):
        st.add_metrics("r1", [{"step": 2, "split": "val", "tokens": 20, "loss_nats": 9.9}], owner=a)
    assert not st.finish_run("r1", a, evaluations=[_eval(9.9)], summary={"final_loss_nats": 9.9})
    st.release_run("r1", a, status="failed", error="a gave up")
    assert st.status("r1") == "running" and st.get_run("r1")["lease_owner"] == b
    assert st.add_metrics("r1", [{"step": 2, "split": "val", "tokens": 20, "loss_nats": 2.5}], owner=b) == 1
    assert st.finish_run("r1", b, evaluations=[_eval(2.0)], summary={"final_loss_nats": 2.0,
                                                                      "resumed_from_step": 1})
    assert [e["loss_nats"] for e in st.evaluations("r1")] == [2.0]
    assert [(m["step"], m["loss_nats"]) for m in st.metrics("r1")] == [(1, 3.0), (2, 2.5)]
    run = st.get_run("r1")
    assert run["final_loss_nats"] == 2.0 and run["attempts"] == 2 and run["error"] is None
    hist = st.attempts("r1")
    assert [(h["attempt"], h["worker"], h["outcome"]) for h in hist] == [(1, a, "lost"), (2, b, "done")]
    assert "lease expired" in hist[0]["error"] and b in hist[0]["error"]
    assert hist[1]["resumed_from_step"] == 1 and hist[1]["ended_at"] is not None
    st.close()


def test_the_same_owner_is_fenced_by_its_attempt_number(tmp_path):
    """Two handles with the same owner string (a worker restarted with a reused id): the older attempt's
    writes are refused once the newer attempt holds the lease — the attempt number is the fencing token."""
    old, new = Store(tmp_path / "s.db"), Store(tmp_path / "s.db")
    _reg(old)
    assert old.claim_run("r1", "w:1:x") == 1
    assert new.claim_run("r1", "w:1:x") == 2
    assert not old.heartbeat("r1", "w:1:x")
    assert not old.finish_run("r1", "w:1:x", evaluations=[_eval(9.9)])
    assert new.finish_run("r1", "w:1:x", evaluations=[_eval(2.0)])
    assert [e["loss_nats"] for e in new.evaluations("r1")] == [2.0]
    assert [h["outcome"] for h in new.attempts("r1")] == ["lost", "done"]
    old.close()
    new.close()


@pytest.mark.skipif(sys.platform != "linux", reason="process states from /proc")
def test_a_stopped_local_holder_loses_its_lease_after_expiry(tmp_path):
    st = Store(tmp_path / "s.db", lease_s=5)
    _reg(st)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        holder = f"{socket.gethostname()}:{proc.pid}:ab"
        assert st.claim_run("r1", holder, now=1000.0) == 1
        late = 1000.0 + 6
        assert st.claim_run("r1", "me:9:x", now=late) == 0     # running local process: keeps its lease
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.2)
        assert st.claim_run("r1", "me:9:x", now=1000.0 + 3) == 0  # stopped but within its lease
        assert st.claim_run("r1", "me:9:x", now=late) == 2         # stopped past its lease: taken over
        assert st.attempts("r1")[0]["outcome"] == "lost"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_finish_whose_commit_acknowledgement_was_lost_is_not_repeated(tmp_path, monkeypatch):
    """The retry of a finish that did commit (connection dropped before the reply) reports success and
    writes nothing twice; a second, deliberate finish still returns False."""
    st = Store(tmp_path / "s.db")
    _reg(st)
    assert st.claim_run("r1", "w:1:x") == 1
    st._finishing.add(("r1", "w:1:x"))                     # as if a first try raised after its commit
    assert st.finish_run("r1", "w:1:x", evaluations=[_eval(2.0)])
    st._finishing.add(("r1", "w:1:x"))
    assert st.finish_run("r1", "w:1:x", evaluations=[_eval(9.9)])  # the retry: True, nothing written
    assert not st.finish_run("r1", "w:1:x", evaluations=[_eval(9.9)])
    assert [e["loss_nats"] for e in st.evaluations("r1")] == [2.0]
    st.close()


def test_sqlite_errors_are_not_retried_and_name_the_store(tmp_path):
    from sqlalchemy.exc import OperationalError

    st = Store(tmp_path / "s.db", retry_s=30)
    exc = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert not st._transient(exc)
    msg = str(st._error("writing metrics", exc))
    assert str(tmp_path / "s.db") in msg and "disk full" in msg and "rerun" in msg
    st.close()


def test_bad_retry_or_lease_settings_are_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALINGLAB_STORE_RETRY_S", "soon")
    with pytest.raises(StoreError, match=r"\$SCALINGLAB_STORE_RETRY_S must be a number of seconds"):
        Store(tmp_path / "s.db")
    monkeypatch.setenv("SCALINGLAB_STORE_RETRY_S", "7.5")
    monkeypatch.setenv("SCALINGLAB_LEASE_S", "8")
    st = Store(tmp_path / "s.db")
    assert (st.retry_s, st.lease_s, st.heartbeat_s) == (7.5, 8.0, 2.0)
    st.close()


# ================================================================================== tests: real faults
pg_only = pytest.mark.skipif(NO_PG is not None, reason=str(NO_PG))


@pytest.fixture(scope="module")
def pg():
    server = PgServer(durable=True).start()  # acknowledged commits survive an immediate shutdown
    yield server
    server.stop()


@pytest.mark.postgres
@pg_only
def test_store_calls_ride_out_a_postgresql_restart_and_give_up_after_the_limit(pg, caplog):
    url = pg.new_database()
    st = Store(url, retry_s=60)
    _reg(st)
    assert st.claim_run("r1", "w:1:x") == 1
    st.add_metrics("r1", [{"step": 0, "split": "val", "tokens": 0, "loss_nats": 3.0}], owner="w:1:x")
    pg.halt("fast")
    result: dict = {}

    def write() -> None:
        t0 = time.monotonic()
        try:
            result["rows"] = st.add_metrics("r1", [{"step": s, "split": "val", "tokens": s, "loss_nats": 3.0}
                                                   for s in (1, 2, 3)], owner="w:1:x")
        except Exception as exc:  # pragma: no cover - reported below
            result["error"] = exc
        result["s"] = time.monotonic() - t0

    with caplog.at_level(logging.INFO, logger="scalinglab.store"):
        th = threading.Thread(target=write)
        th.start()
        time.sleep(3.0)                                       # the write waits while the server is away
        assert th.is_alive()
        pg.resume()
        th.join(60)
    assert "rows" in result and "error" not in result and result["s"] >= 3.0
    mine = [r for r in caplog.records if r.name == "scalinglab.store"]
    warnings = [r for r in mine if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable during writing metrics" in warnings[0].getMessage()
    assert "retrying with backoff" in warnings[0].getMessage()
    assert any("answers again" in r.getMessage() for r in mine if r.levelno == logging.INFO)
    assert st.finish_run("r1", "w:1:x", evaluations=[_eval(2.0)])
    assert len(st.metrics("r1")) == 4 and [h["outcome"] for h in st.attempts("r1")] == ["done"]

    # away past the limit: one StoreUnavailableError, within the limit plus one backoff step
    st.retry_s = 2.0
    pg.halt("immediate")
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=r"unreachable for \d+ s .*rerun the same command"):
            st.register_run("r2", config={})
        assert time.monotonic() - t0 < 2.0 + 12.0
    finally:
        pg.resume()
    assert st.register_run("r2", config={})                  # back: the same handle works again
    st.close()


def test_permanent_postgresql_errors_are_not_retried():
    from sqlalchemy.exc import OperationalError

    st = Store.__new__(Store)
    st.dialect = "postgresql"

    class Orig(Exception):
        sqlstate = None

    def op(msg, code=None):
        o = Orig(msg)
        o.sqlstate = code
        return OperationalError("SELECT 1", {}, o)

    assert st._transient(op("connection failed: Connection refused"))
    assert st._transient(op("terminating connection due to administrator command", "57P01"))
    assert st._transient(op("the database system is starting up", "57P03"))
    assert st._transient(op("could not extend file: No space left on device", "53100"))
    assert not st._transient(op('FATAL: database "x" does not exist'))
    assert not st._transient(op("password authentication failed for user \"lab\"", "28P01"))
    assert not st._transient(op("failed to resolve host 'db.example'"))


@pytest.mark.postgres
@pytest.mark.torch
@pytest.mark.slow
@pg_only
def test_sweep_survives_a_postgresql_restart_and_stops_cleanly_when_it_stays_away(pg, tmp_path):
    pytest.importorskip("torch")
    from test_crash import reference

    ref = reference(tmp_path / "ref")
    got = pg_outage_trial(pg, tmp_path / "restart", ref, outages=2, outage_s=3.0)
    assert got["injected"] >= 1, got
    assert got["exit"] == 0 and got["tracebacks"] == 0, got
    assert got["retry_lines"] >= 1, got                      # one clear log line per outage and worker
    assert (got["lost"], got["duplicated"], got["wrong"], got["trained_twice"], got["left_running"]) == \
        (0, 0, 0, 0, 0), got

    away = pg_giveup_trial(pg, tmp_path / "away", ref, retry_s=2.0)
    assert away["injected"] == 1, away
    assert away["exit"] == 2 and away["error_lines"] == 1 and away["tracebacks"] == 0, away["stderr"]
    assert away["rerun_exit"] == 0, away
    assert (away["lost"], away["duplicated"], away["wrong"], away["trained_twice"], away["left_running"]) == \
        (0, 0, 0, 0, 0), away


@pytest.mark.torch
@pytest.mark.parametrize("target", ["checkpoint", "store"])
def test_disk_full_names_the_path_keeps_the_checkpoint_and_resumes(tmp_path, target):
    pytest.importorskip("torch")
    ref = tiny_reference(tmp_path / "ref")
    got = disk_full_trial(tmp_path / "t", ref, target=target)
    assert got["injected"] == 1 and got["named_path"] and got["disk_full_error"], got
    assert got["previous_intact"] and got["temp_files_left"] == 0, got
    assert got["status_after_fault"] != "done", got  # failed (checkpoint) or as before the write (store)
    assert got["resumed_from_step"] >= 6, got
    assert (got["lost"], got["duplicated"], got["wrong"], got["trained_twice"], got["left_running"]) == \
        (0, 0, 0, 0, 0), got


@pytest.mark.torch
def test_disk_full_fallback_injection_without_mount(tmp_path):
    """The injected-ENOSPC route used where mounting a tmpfs is not allowed (CI containers)."""
    pytest.importorskip("torch")
    ref = tiny_reference(tmp_path / "ref")
    for target in ("checkpoint", "store"):
        got = disk_full_trial(tmp_path / target, ref, target=target, mount=False)
        assert got["injected"] == 1 and got["named_path"] and got["disk_full_error"], got
        assert got["previous_intact"] and got["temp_files_left"] == 0 and got["resumed_from_step"] >= 6, got
        assert (got["lost"], got["duplicated"], got["wrong"], got["left_running"]) == (0, 0, 0, 0), got


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="SIGSTOP and /proc")
def test_a_worker_paused_past_its_lease_cannot_overwrite_the_takeover(tmp_path):
    pytest.importorskip("torch")
    spec_text = ONE_RUN_SPEC.replace("{D}", str(2048 * 4))
    ref = reference_for(tmp_path / "ref", spec_text)
    got = sigstop_trial(tmp_path / "t", ref, spec_text=spec_text, lease_s=2.0)
    assert got["injected"] == 1, got
    assert got["b_exit"] == 0 and got["b_done"] == 1, got
    assert got["a_exit"] == 0 and got["a_leased"] == 1, got     # A stopped itself: "held by another process"
    assert [o for _, _, o in got["attempts"]] == ["lost", "done"], got
    assert got["attempts"][0][1] == got["a_pid"] and got["attempts"][1][1] == got["b_pid"], got
    assert got["done_logs"] == 1 and got["files_left"] == 0, got  # A wrote no result and no checkpoint
    assert (got["lost"], got["duplicated"], got["wrong"], got["trained_twice"], got["left_running"]) == \
        (0, 0, 0, 0, 0), got


def reference_for(folder: Path, spec_text: str) -> dict:
    """An uninterrupted in-process run of ``spec_text``'s sweep: its store snapshot."""
    import torch
    from test_crash import snapshot

    from scalinglab.runner.spec import load_spec
    from scalinglab.runner.train import train_run

    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.toml").write_text(spec_text)
    st = Store(folder / f"ref-{uuid.uuid4().hex[:6]}.db")
    try:
        for cfg in load_spec(folder / "spec.toml").runs:
            assert train_run(cfg, store=st, workdir=folder / "ck", device="cpu").status == "done"
        return snapshot(st)
    finally:
        st.close()
