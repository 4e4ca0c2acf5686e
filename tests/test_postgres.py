"""The run store against a REAL PostgreSQL server started by the test (Debian ``postgresql``; skipped without)."""

from __future__ import annotations

import multiprocessing as mp

import pytest

pytest.importorskip("sqlalchemy")

from _pgserver import PgServer, why_unavailable  # noqa: E402

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))]

from sqlalchemy import inspect, text  # noqa: E402

from scalinglab import StoreError  # noqa: E402
from scalinglab.store import SCHEMA_VERSION, Store, mask_url  # noqa: E402


@pytest.fixture(scope="module")
def pg():
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def url(pg):
    return pg.new_database()


def _fill(st: Store) -> None:
    for i, n in enumerate((70_000_000_000, 1_000_000)):  # 70B params: beyond int32
        rid = f"run{i}"
        assert st.register_run(rid, config={"i": i}, name=f"r{i}", sweep="s", dataset="markov", params=n,
                               param_convention="total", params_by_convention={"total": n},
                               flops_convention="6N", flops_per_token=6.0 * n, tokens_planned=2**41)
        assert st.claim_run(rid, "me:1:x")
        st.add_metrics(rid, [{"step": s, "split": sp, "tokens": s * 2**30, "loss_nats": 3 - s / 100}
                             for s in (10, 20, 30) for sp in ("train", "val")])
        assert st.finish_run(rid, "me:1:x", evaluations=[{"step": 2**33, "params": n, "tokens": 2**41,
                                                          "flops": 6.0 * n * 2**41, "loss_nats": 2.0 + i}],
                             summary={"wall_seconds": 1.5, "environment": {"host": "h"}})
        st.log(rid, "done")


def test_round_trip_matches_sqlite(url, tmp_path):
    pgs, lite = Store(url), Store(tmp_path / "same.db")
    assert pgs.dialect == "postgresql" and pgs.schema_version == SCHEMA_VERSION
    assert "ix_runs_sweep_status" in {ix["name"] for ix in inspect(pgs.engine).get_indexes("runs")}
    for st in (pgs, lite):
        _fill(st)
    assert pgs.counts() == lite.counts() == {"runs": 2, "metrics": 12, "evaluations": 2, "logs": 2}
    a, b = pgs.to_frame(), lite.to_frame()
    assert a.to_dict("records") == b.to_dict("records")
    assert a["params"].tolist() == [1_000_000, 70_000_000_000] and a["tokens"].tolist() == [2**41] * 2
    assert a["step"].tolist() == [2**33] * 2
    assert pgs.get_run("run0")["environment"] == {"host": "h"}
    assert len(pgs.to_frame(per_checkpoint=True)) == len(lite.to_frame(per_checkpoint=True)) == 8
    # idempotent metrics and single-finish semantics hold on PostgreSQL too
    assert pgs.add_metrics("run0", [{"step": 10, "split": "val", "tokens": 1, "loss_nats": 9.0}]) == 0
    assert not pgs.finish_run("run0", "me:1:x", evaluations=[])
    assert not pgs.claim_run("run0", "other:2:y")
    pgs.close()
    lite.close()


def test_password_is_masked_and_bad_server_is_a_store_error(pg):
    masked = mask_url(f"postgresql+psycopg://lab:s3cret@127.0.0.1:{pg.port}/x")
    assert "s3cret" not in masked and "***" in masked
    with pytest.raises(StoreError, match="opening the store") as ei:
        Store(f"postgresql+psycopg://lab:s3cret@127.0.0.1:{pg.port}/no_such_db")
    assert "s3cret" not in str(ei.value)


@pytest.mark.parametrize("option, says", [("sslmode=require", "server does not support SSL"),
                                           ("sslmode=bogus", "invalid sslmode value")])
def test_a_connection_setting_error_fails_at_once(url, option, says):
    import time

    t0 = time.monotonic()
    with pytest.raises(StoreError) as ei:  # this server has no SSL: a setting, not an outage
        Store(f"{url}?{option}", retry_s=60)
    assert time.monotonic() - t0 < 20
    msg = str(ei.value)
    assert says in msg and "retrying cannot fix it" in msg and "unreachable" not in msg, msg


def test_a_postgres_url_opens_the_store(url):
    st = Store(url.replace("postgresql+psycopg://", "postgres://"))
    assert st.dialect == "postgresql" and st.schema_version == SCHEMA_VERSION
    st.close()


@pytest.mark.parametrize("argv", [["runs", "list", "--store", "{url}"], ["runs", "show", "abc", "--store", "{url}"],
                                  ["runs", "export", "--store", "{url}", "-o", "x.csv"], ["fit", "{url}"],
                                  ["report", "{url}", "-o", "r.html"]])
def test_read_only_commands_refuse_a_database_without_the_schema(url, argv, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from scalinglab.cli import app

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, [a.format(url=url) for a in argv])
    text = " ".join(((res.stdout or "") + (res.stderr or "")).split())
    assert res.exit_code == 2, text
    assert text.count("error:") == 1 and "the database has no scalinglab tables" in text, text
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing was created in someone else's database
    finally:
        engine.dispose()
    assert not list(tmp_path.iterdir())
    Store(url).close()  # a sweep's open still creates the schema


@pytest.mark.torch
def test_a_sweep_on_postgresql_keeps_its_checkpoints_beside_the_spec(url, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import json
    import sys

    from typer.testing import CliRunner

    from scalinglab.cli import app

    (tmp_path / "spec").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "spec" / "t.py").write_text("from scalinglab import track\ntrack.log(step=1, tokens=100, loss=3.0)\n"
                                            "track.finish(loss=3.0)\n")
    spec = tmp_path / "spec" / "s.toml"
    spec.write_text(f"""[defaults]
arch = {{ vocab_size = 64 }}
[[runs]]
arch = {{ n_layer = 1, d_model = 16, n_heads = 2 }}
tokens = 1000
[trainer]
command = [{json.dumps(sys.executable)}, "t.py"]
""")
    monkeypatch.chdir(tmp_path / "elsewhere")  # a cron job's folder: not where the checkpoints go
    r = CliRunner().invoke(app, ["run", str(spec), "--store", url])
    assert r.exit_code == 0, r.output
    ckpt = tmp_path / "spec" / ".scalinglab-checkpoints"
    assert f"checkpoints: {ckpt}" in r.output
    assert [p.name for p in ckpt.iterdir()] and not list((tmp_path / "elsewhere").iterdir())


def test_v1_schema_is_migrated_on_open(url):
    st = Store(url)
    _fill(st)
    with st.engine.begin() as conn:  # turn it back into a v1 store: the v2 index absent, version 1
        conn.execute(text("DROP INDEX ix_runs_sweep_status"))
        conn.execute(text("UPDATE schema_version SET version = 1"))
    st.close()
    st = Store(url)
    assert st.schema_version == SCHEMA_VERSION
    assert "ix_runs_sweep_status" in {ix["name"] for ix in inspect(st.engine).get_indexes("runs")}
    assert st.counts()["evaluations"] == 2
    st.close()


# ------------------------------------------------------------------------------------ concurrent writers
N_RUNS, N_STEPS, N_PROCS = 6, 40, 4


def _writer(url: str, wid: int, q) -> None:
    """Every writer registers every run, claims what it can, writes overlapping metrics, logs, finishes."""
    try:
        st = Store(url)  # several processes create/migrate the same fresh database at once
        owner = f"w{wid}:{wid}:x"
        claimed = []
        for r in range(N_RUNS):
            st.register_run(f"run{r}", config={"r": r}, params=1000 + r, param_convention="total",
                            flops_convention="6N", flops_per_token=6000.0, tokens_planned=N_STEPS)
        for r in range(N_RUNS):
            # all writers insert the same points of run0 (overlapping, idempotent inserts)
            st.add_metrics("run0", [{"step": s, "split": "val", "tokens": s, "loss_nats": 1.0}
                                    for s in range(wid, N_STEPS, 2)])
            rid = f"run{(r + wid) % N_RUNS}"
            if st.claim_run(rid, owner):
                claimed.append(rid)
                st.add_metrics(rid, [{"step": s, "split": "train", "tokens": s, "loss_nats": 2.0}
                                     for s in range(N_STEPS)])
                assert st.finish_run(rid, owner, evaluations=[{"step": N_STEPS, "params": 1000, "tokens": N_STEPS,
                                                               "flops": 6000.0 * N_STEPS, "loss_nats": 2.0}])
            st.log(None, f"writer {wid} step {r}")
        st.close()
        q.put(claimed)
    except BaseException as exc:  # pragma: no cover - reported to the parent
        q.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_writer_processes_lose_and_duplicate_nothing(url):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, q)) for w in range(N_PROCS)]
    for p in procs:
        p.start()
    got = [q.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(isinstance(g, list) for g in got), got
    claims = sorted(r for g in got for r in g)
    assert claims == sorted(f"run{r}" for r in range(N_RUNS))       # every run claimed exactly once
    st = Store(url)
    c = st.counts()
    assert c["runs"] == N_RUNS
    assert c["evaluations"] == N_RUNS                                # one final row per run
    # train curves: N_STEPS per run; run0's val points: union of the writers' overlapping steps
    val_steps = {s for w in range(N_PROCS) for s in range(w, N_STEPS, 2)}
    assert c["metrics"] == N_RUNS * N_STEPS + len(val_steps)
    assert c["logs"] == N_PROCS * N_RUNS                             # no lost log lines
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in st.list_runs())
    with st.engine.connect() as conn:
        assert conn.execute(text("select version from schema_version")).scalars().all() == [SCHEMA_VERSION]
        dup = conn.execute(text("select count(*) from (select run_id, step, split, branch from metrics "
                                "group by 1, 2, 3, 4 having count(*) > 1) d")).scalar()
    assert dup == 0
    st.close()


def _open_at_once(url: str, go, q) -> None:
    try:
        go.wait(60)  # a barrier: all processes open the store at the same moment
        st = Store(url)
        q.put(st.schema_version)
        st.close()
    except BaseException as exc:  # pragma: no cover - reported to the parent
        q.put(f"{type(exc).__name__}: {exc}")


def test_simultaneous_first_open_of_a_fresh_database(url):
    """Without the advisory lock, concurrent CREATE TABLEs race ('duplicate key value ... pg_type')."""
    ctx = mp.get_context("spawn")
    q, go = ctx.Queue(), ctx.Barrier(5)
    procs = [ctx.Process(target=_open_at_once, args=(url, go, q)) for _ in range(5)]
    for p in procs:
        p.start()
    got = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert got == [SCHEMA_VERSION] * 5
