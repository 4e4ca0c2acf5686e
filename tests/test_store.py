"""The run store: transactions, idempotent metrics, leases, schema versioning, masking, export (no torch)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import text  # noqa: E402

from scalinglab import StoreError  # noqa: E402
from scalinglab.store import SCHEMA_VERSION, Store, default_owner, mask_url  # noqa: E402


def _reg(st: Store, rid: str = "r1", **kw) -> bool:
    return st.register_run(rid, config={"x": rid}, name=f"n-{rid}", sweep="s", params=1000, param_convention="total",
                    params_by_convention={"total": 1000, "non_embedding": 800}, flops_convention="6N",
                    flops_per_token=6000.0, tokens_planned=10_000, **kw)


def _eval(tokens=10_000, loss=2.0, branch=""):
    return {"branch": branch, "step": tokens // 100, "params": 1000, "tokens": tokens, "flops": 6000.0 * tokens,
            "loss_nats": loss, "loss_bpb": loss / 0.6931471805599453}


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "runs.db")
    yield st
    st.close()


def test_sqlite_is_wal_with_busy_timeout_and_versioned(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
    assert store.schema_version == SCHEMA_VERSION


def test_store_from_newer_scalinglab_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    Store(path).close()
    st = Store(path)
    with st.engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_version (version, applied_at) VALUES (:v, 'x')"),
                      {"v": SCHEMA_VERSION + 1})
    st.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_register_is_idempotent_and_records_conventions(store):
    assert _reg(store) is True
    assert store.register_run("r1", config={"x": 1}) is False
    run = store.get_run("r1")
    assert run["status"] == "queued" and run["flops_convention"] == "6N" and run["param_convention"] == "total"
    assert run["params_by_convention"] == {"total": 1000, "non_embedding": 800}
    assert run["flops_planned"] == 6000.0 * 10_000
    assert store.counts()["runs"] == 1


def test_metrics_insert_is_idempotent(store):
    _reg(store)
    rows = [{"step": s, "split": "val", "tokens": 100 * s, "loss_nats": 3.0 - s / 10} for s in range(1, 6)]
    assert store.add_metrics("r1", rows) == 5
    assert store.add_metrics("r1", rows[2:] + [{"step": 6, "split": "val", "tokens": 600, "loss_nats": 2.0}]) == 1
    assert store.counts()["metrics"] == 6
    # same step on another split or branch is a different point
    store.add_metrics("r1", [{"step": 1, "split": "train", "tokens": 100, "loss_nats": 3.1},
                             {"step": 1, "split": "val", "branch": "D=100", "tokens": 100, "loss_nats": 3.1}])
    assert store.counts()["metrics"] == 8


def test_finish_is_one_transaction(store, monkeypatch):
    _reg(store)
    owner = default_owner()
    assert store.claim_run("r1", owner)
    # make the status update fail after the evaluations were inserted: nothing may remain
    from scalinglab import store as store_mod

    real_update = store_mod.update

    def broken_update(table):
        if table is store_mod.runs:
            raise RuntimeError("simulated crash inside the transaction")
        return real_update(table)

    monkeypatch.setattr(store_mod, "update", broken_update)
    with pytest.raises(RuntimeError):
        store.finish_run("r1", owner, evaluations=[_eval()], metrics_rows=[{"step": 1, "split": "val",
                                                                           "tokens": 1, "loss_nats": 1.0}])
    monkeypatch.setattr(store_mod, "update", real_update)
    assert store.status("r1") == "running"
    assert store.counts()["evaluations"] == 0 and store.counts()["metrics"] == 0
    assert len(store.to_frame()) == 0  # an unfinished run never shows up in the run table
    assert store.finish_run("r1", owner, evaluations=[_eval(5000, 2.5, "D=5000"), _eval(10_000, 2.0, "D=10000")],
                            summary={"final_loss_nats": 2.0, "environment": {"torch": "x"}})
    assert store.status("r1") == "done"
    # finishing twice writes nothing more
    assert not store.finish_run("r1", owner, evaluations=[_eval(20_000, 1.0)])
    assert store.counts()["evaluations"] == 2


def test_leases(store):
    _reg(store)
    a, b = "hostA:1:aa", "hostB:2:bb"  # other hosts: liveness decided by heartbeat age only
    assert store.claim_run("r1", a, now=1000.0)
    assert not store.claim_run("r1", b, now=1010.0)          # held and fresh
    assert store.claim_run("r1", a, now=1011.0)              # the holder may re-claim
    assert store.claim_run("r1", b, now=1011.0 + 121.0)      # stale heartbeat → taken over
    assert store.get_run("r1")["attempts"] == 3
    assert not store.heartbeat("r1", a)                      # a lost its lease
    assert store.heartbeat("r1", b)
    assert not store.finish_run("r1", a, evaluations=[_eval()])  # a cannot finish b's run
    assert store.finish_run("r1", b, evaluations=[_eval()])
    assert not store.claim_run("r1", b)                      # done runs are never claimed again


def test_dead_local_owner_is_reclaimed_at_once(store):
    _reg(store)
    proc = mp.get_context("spawn").Process(target=time.sleep, args=(0,))
    proc.start()
    proc.join()
    import socket

    dead = f"{socket.gethostname()}:{proc.pid}:00"
    assert store.claim_run("r1", dead)
    assert store.claim_run("r1", default_owner())            # holder process is gone: no need to wait


def test_password_is_masked():
    url = "postgresql+psycopg://alice:s3cret-pw@db.example:5432/runs"
    assert "s3cret" not in mask_url(url) and "***" in mask_url(url)
    with pytest.raises(StoreError) as exc:
        Store(url)  # the driver may be missing or no server: either way the message must not leak it
    assert "s3cret" not in str(exc.value)


def test_connection_setting_errors_are_not_retried_as_outages():
    from sqlalchemy.exc import OperationalError

    st = Store.__new__(Store)
    st.dialect = "postgresql"

    def op(msg):
        return OperationalError("SELECT 1", {}, Exception(msg))

    for msg in ("server does not support SSL, but SSL was required", 'connection is bad: invalid sslmode value: "bogus"',
                'invalid connection option "sslmod"', 'invalid integer value "x" for connection option "port"',
                "SSL error: certificate verify failed"):
        assert not st._transient(op(msg)), msg
    for msg in ("SSL SYSCALL error: EOF detected", "SSL connection has been closed unexpectedly",
                "connection failed: Connection refused"):  # a broken session or a server away: an outage
        assert st._transient(op(msg)), msg


def test_postgres_scheme_is_an_alias_of_postgresql():
    from scalinglab.store import _to_url

    assert _to_url("postgres://lab:pw@db:5432/runs").drivername == "postgresql"
    assert _to_url("postgres+psycopg://lab@db/runs").drivername == "postgresql+psycopg"
    assert _to_url("postgresql+psycopg://lab@db/runs").drivername == "postgresql+psycopg"


@pytest.mark.parametrize("argv", [["runs", "list", "--store", "{db}"], ["runs", "export", "--store", "{db}"],
                                  ["fit", "{db}"], ["report", "{db}", "-o", "r.html"]])
def test_read_only_commands_never_create_a_sqlite_store(tmp_path, monkeypatch, argv):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    monkeypatch.chdir(tmp_path)
    db = "sub/missing.db"
    res = CliRunner().invoke(app, [a.format(db=db) for a in argv])
    assert res.exit_code == 2 and f"no run store at {db} (run a sweep first, or pass --store)" in res.output, \
        res.output
    assert not list(tmp_path.iterdir())  # neither the file nor its folder
    with pytest.raises(StoreError, match="no run store at"):
        Store(tmp_path / "none.db", create=False)


@pytest.mark.parametrize("name", ["t.xlsx", "t.tsv", "t.csv", "t.parquet", "t.jsonl", "t.json"])
def test_runs_export_writes_the_format_its_extension_names(tmp_path, name):
    from typer.testing import CliRunner

    from scalinglab.cli import app
    from scalinglab.data import load_runs

    db = tmp_path / "s.db"
    with Store(db) as st:
        for i in range(2):
            st.register_run(f"r{i}", config={}, name=f"sw/L{i}", sweep="sw", params=1000 * (i + 1))
            st.claim_run(f"r{i}", "w")
            st.finish_run(f"r{i}", "w", evaluations=[dict(step=1, params=1000 * (i + 1), tokens=100, flops=6e5,
                                                          loss_nats=2.0 + i)])
    out = tmp_path / name
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "-o", str(out)])
    assert r.exit_code == 0 and "wrote 2 rows" in r.output, r.output
    assert load_runs(out).df["loss"].tolist() == [2.0, 3.0]
    if name.endswith(".tsv"):
        assert out.read_text().splitlines()[0].startswith("params\ttokens\tflops\tloss")
    if name.endswith(".xlsx"):
        assert out.read_bytes()[:2] == b"PK"  # a workbook (a zip), not CSV text


def test_runs_export_refuses_an_unknown_extension(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    db = tmp_path / "s.db"
    Store(db).close()
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "-o", str(tmp_path / "x.xyz")])
    assert r.exit_code == 2 and "unknown file type '.xyz'; use one of .csv, .tsv, .tab, .parquet" in r.output, \
        r.output
    assert not (tmp_path / "x.xyz").exists()


def test_to_frame_is_the_run_table(store):
    for i, rid in enumerate(("a", "b")):
        _reg(store, rid)
        owner = default_owner()
        store.claim_run(rid, owner)
        store.add_metrics(rid, [{"step": 10, "split": "val", "tokens": 1000, "loss_nats": 3.0}])
        store.finish_run(rid, owner, evaluations=[_eval(5000, 2.5 - i, "D=5000"), _eval(10_000, 2.0 - i, "D=10000")])
    _reg(store, "c")  # queued: not exported
    df = store.to_frame()
    assert len(df) == 4
    assert {"params", "tokens", "flops", "loss", "loss_bpb", "run_id", "step", "flops_convention"} <= set(df.columns)
    assert sorted(df["tokens"].tolist()) == [5000, 5000, 10_000, 10_000]
    assert df["flops"].tolist() == [6000.0 * t for t in df["tokens"]]
    assert len(store.to_frame(per_checkpoint=True)) == 6
    rt = store.to_runtable(per_checkpoint=True)          # the scalinglab.data RunTable fitting reads
    assert len(rt.df) == 6 and set(rt.df["run_id"]) == {"a", "b"}
    assert rt.source == mask_url(store.url)  # a fit of the store says where its runs came from


def test_export_formats(store, tmp_path):
    _reg(store)
    owner = default_owner()
    store.claim_run("r1", owner)
    store.finish_run("r1", owner, evaluations=[_eval()])
    import pandas as pd

    assert len(pd.read_csv(store.export(tmp_path / "r.csv"))) == 1
    assert len(json.loads((store.export(tmp_path / "r.json")).read_text())) == 1


def _writer(path: str, wid: int, n: int) -> None:
    st = Store(path)
    for i in range(n):
        st.add_metrics("r1", [{"step": wid * 100_000 + i, "split": "val", "tokens": i, "loss_nats": 1.0}])
    st.close()


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "runs.db")
    st = Store(path)
    _reg(st)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 100)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert st.counts()["metrics"] == 300
    st.close()
    assert os.path.exists(path)


def test_a_run_tables_rows_carry_their_training_settings(store):
    """After changing lr, the export had no lr (nor seed, batch, schedule) column: the old and new runs passed
    for replicates and the lr effect for run-to-run noise. The settings come with each row; the run table
    then sees a sweep."""
    owner = default_owner()
    for rid, lr, loss in (("a", 1e-2, 2.00), ("b", 3e-3, 2.04), ("c", 1e-2, 1.80), ("d", 3e-3, 1.83)):
        big = rid in "cd"
        store.register_run(rid, config={"lr": lr, "batch_size": 8, "seed": 0, "schedule": "cosine"}, name=rid,
                           sweep="s", params=2000 if big else 1000, param_convention="total",
                           flops_convention="6N", flops_per_token=12000.0 if big else 6000.0, tokens_planned=10_000)
        store.claim_run(rid, owner)
        store.finish_run(rid, owner, evaluations=[{**_eval(10_000, loss), "params": 2000 if big else 1000}])
    df = store.to_frame()
    assert df.sort_values("run_id")["lr"].tolist() == [1e-2, 3e-3, 1e-2, 3e-3]
    assert set(df["batch_size"]) == {8} and set(df["seed"]) == {0} and set(df["schedule"]) == {"cosine"}
    rt = store.to_runtable()
    assert rt.replicates()["groups"] == 0 and rt.sweep()["columns"] == ["lr"]


def test_runs_list_shows_whole_run_ids_on_a_narrow_terminal(store):
    """On an 80-column pipe the run id was cut to '07ad4…', which `runs show` cannot take."""
    from typer.testing import CliRunner

    from scalinglab.cli import app

    owner = default_owner()
    _reg(store, "0123456789abcdef")
    store.claim_run("0123456789abcdef", owner)
    store.finish_run("0123456789abcdef", owner, evaluations=[_eval()])
    url = str(store.url)
    r = CliRunner().invoke(app, ["runs", "list", "--store", url], env={"COLUMNS": "60"})
    assert r.exit_code == 0, r.output
    assert "0123456789abcdef" in r.output


def test_a_bad_row_of_a_store_is_named_by_its_run(tmp_path):
    """A loss <= 0 kept by an older scalinglab: reading the store names the run, not 'runs.db:2:loss'."""
    from scalinglab._errors import DataError

    st = Store(tmp_path / "runs.db")
    for i, loss in enumerate([2.0, -1.0]):
        st.register_run(f"r{i}", config={}, name=f"sw/L{i}", sweep="sw")
        st.claim_run(f"r{i}", "w")
        st.finish_run(f"r{i}", "w", evaluations=[dict(branch="", step=1, split="val", params=10, tokens=100,
                                                      flops=1e3, loss_nats=loss)], summary={})
    with pytest.raises(DataError) as e:
        st.to_runtable()
    lines = str(e.value).splitlines()
    assert lines[0].startswith("1 problem in sqlite:///") and len(lines) == 2
    assert lines[1].startswith("run r1 (sw/L1) loss: loss must be > 0"), lines
    assert [p.row for p in e.value.problems] == [2]
    st.close()


def test_find_run_takes_an_id_prefix_a_full_name_or_a_unique_short_name(tmp_path):
    st = Store(tmp_path / "runs.db")
    st.register_run("ab12", config={}, name="lad/L1-d32", sweep="lad")
    st.register_run("cd34", config={}, name="lad/L2-d48", sweep="lad")
    st.register_run("ef56", config={}, name="iso/L2-d48", sweep="iso")
    assert st.find_run("ab")["id"] == "ab12"
    assert st.find_run("lad/L2-d48")["id"] == "cd34"
    assert st.find_run("L1-d32")["id"] == "ab12"
    assert st.find_run("L3") is None
    with pytest.raises(StoreError) as e:
        st.find_run("L2-d48")
    assert str(e.value) == ("run name 'L2-d48' is ambiguous: 2 runs (lad/L2-d48 (cd34), iso/L2-d48 (ef56)); give "
                            "the run id or the full sweep/name")
    st.close()


def test_runs_export_keeps_one_sweep_and_warns_when_it_pools_several(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    st = Store(tmp_path / "runs.db")
    for rid, sweep in (("a", "iso"), ("b", "iso"), ("c", "other")):
        st.register_run(rid, config={"x": rid}, name=f"n-{rid}", sweep=sweep, params=1000, param_convention="total",
                        params_by_convention={"total": 1000}, flops_convention="6N", flops_per_token=6000.0,
                        tokens_planned=10_000)
        owner = default_owner()
        st.claim_run(rid, owner)
        st.finish_run(rid, owner, evaluations=[_eval()])
    st.close()
    cli = CliRunner()
    r = cli.invoke(app, ["runs", "export", "--store", str(tmp_path / "runs.db"), "-o", str(tmp_path / "all.csv")])
    assert r.exit_code == 0 and "the store holds 2 sweeps (iso, other), exported together" in r.stderr
    r = cli.invoke(app, ["runs", "export", "--store", str(tmp_path / "runs.db"), "--sweep", "iso", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 2
    r = cli.invoke(app, ["runs", "export", "--store", str(tmp_path / "runs.db"), "--sweep", "nope", "--json"])
    assert r.exit_code == 2 and "no finished run of sweep 'nope'" in r.stderr and "sweeps: iso, other" in r.stderr


def _ladder_store(path) -> Store:
    """A store holding sweep 'b' (a 3 x 3 Chinchilla-shaped ladder) and sweep 'a' with two runs of the same
    values under two run ids (a teammate's rerun of the same ladder from another checkout)."""
    st = Store(path)
    runs = [(f"b{i}{j}", "b", n, d) for i, n in enumerate((1e6, 4e6, 16e6)) for j, d in enumerate((2e7, 8e7, 32e7))]
    runs += [("a0", "a", 2e6, 4e7), ("a1", "a", 2e6, 4e7)]
    for rid, sweep, n, d in runs:
        st.register_run(rid, config={}, name=f"{sweep}/N{n:g}-D{d:g}", sweep=sweep, params=int(n))
        st.claim_run(rid, "w")
        loss = 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28
        st.finish_run(rid, "w", evaluations=[dict(step=1, params=int(n), tokens=int(d), flops=6 * n * d,
                                                  loss_nats=loss)])
    return st


def test_a_store_is_selected_before_its_runs_are_checked_and_takes_drop_duplicates(tmp_path):
    from scalinglab import DataError
    from scalinglab.cli._common import select_runs

    _ladder_store(tmp_path / "s.db").close()
    db = str(tmp_path / "s.db")
    with pytest.raises(DataError, match="the same run as"):  # the whole store: sweep a's rerun stops it
        select_runs(db, None)
    assert sorted(select_runs(db, ["sweep=b"]).df["run_id"]) == [f"b{i}{j}" for i in range(3) for j in range(3)]
    with pytest.raises(DataError, match="the same run as"):  # a selection that holds both still says so
        select_runs(db, ["sweep=a"])
    assert len(select_runs(db, ["sweep=a"], drop_duplicates=True)) == 1
    assert len(select_runs(db, None, drop_duplicates=True)) == 10

    from typer.testing import CliRunner

    from scalinglab.cli import app

    r = CliRunner().invoke(app, ["fit", db, "--where", "sweep=b", "--law", "chinchilla", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_points"] == 9
