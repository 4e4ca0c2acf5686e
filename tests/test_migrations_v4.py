"""Schema v3 → v4 (the JSON ``extra`` column of ``metrics`` and ``evaluations``): a store file written by the
v3 code opens upgraded with its data intact and takes extra metrics; the same on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import inspect, text  # noqa: E402

from scalinglab.store import MIGRATIONS, SCHEMA_VERSION, Store  # noqa: E402

V3_DUMP = Path(__file__).parent / "data" / "store_v3_sqlite.sql"
DONE, QUEUED = "0123456789abcdef", "fedcba9876543210"


def _v3_store(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(V3_DUMP.read_text())
    con.close()
    return path


def _columns(store: Store, table: str) -> list[str]:
    return [c["name"] for c in inspect(store.engine).get_columns(table)]


def _use_extras(st: Store) -> None:
    """Finish the queued run with an extra curve metric and an extra final evaluation."""
    assert st.claim_run(QUEUED, "me:1:x")
    st.add_metrics(QUEUED, [{"step": 5, "split": "val", "tokens": 25000, "loss_nats": 3.2,
                             "extra": {"grad_norm": 0.75}},
                            {"step": 5, "split": "train", "tokens": 25000, "loss_nats": 3.3}])
    assert st.finish_run(QUEUED, "me:1:x", evaluations=[
        {"step": 10, "params": 9000, "tokens": 50000, "flops": 54000.0 * 50000, "loss_nats": 3.1,
         "extra": {"acc": 0.25, "note": "ok"}}])


def test_v4_migration_is_registered():
    assert SCHEMA_VERSION == 4 and 3 in MIGRATIONS


def test_v3_store_file_opens_upgraded_with_its_data_and_takes_extras(tmp_path):
    path = _v3_store(tmp_path / "v3.db")
    con = sqlite3.connect(path)
    assert con.execute("select max(version) from schema_version").fetchone()[0] == 3
    assert "extra" not in {r[1] for r in con.execute("pragma table_info(metrics)")}
    con.close()

    st = Store(path)
    assert st.schema_version == SCHEMA_VERSION
    assert _columns(st, "metrics")[-1] == "extra" and _columns(st, "evaluations")[-1] == "extra"
    with st.engine.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("select version from schema_version order by version")] == [3, 4]
    # the v3 data is intact; old rows have no extras
    assert st.counts() == {"runs": 2, "metrics": 3, "evaluations": 1, "logs": 1}
    assert [m["loss_nats"] for m in st.metrics(DONE) if m["split"] == "val"] == [2.5, 2.0]
    assert all(m["extra"] == {} for m in st.metrics(DONE)) and st.evaluations(DONE)[0]["extra"] == {}
    assert [a["outcome"] for a in st.attempts(DONE)] == ["done"]
    df = st.to_frame()
    assert df["run_id"].tolist() == [DONE] and df["loss"].tolist() == [2.5] and df["params"].tolist() == [123456]
    assert list(df.columns)[-1] == "seed"  # no extra columns without extras (the run settings close the table)
    # and the upgraded store takes extra metrics
    _use_extras(st)
    assert {(m["split"], m["step"]): m["extra"] for m in st.metrics(QUEUED)} == {
        ("val", 5): {"grad_norm": 0.75}, ("train", 5): {}}
    df = st.to_frame().set_index("run_id")
    assert df.loc[QUEUED, "acc"] == 0.25 and df.loc[QUEUED, "note"] == "ok"
    assert df["acc"].isna().tolist() == [False, True]  # the v3 run has no acc (rows ordered by params)
    ck = st.to_frame(per_checkpoint=True)
    assert ck.loc[(ck["run_id"] == QUEUED) & (ck["step"] == 5), "grad_norm"].tolist() == [0.75]
    st.close()
    st = Store(path)  # reopening does not migrate again
    with st.engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from schema_version").scalar() == 2
    st.close()


def test_fresh_and_upgraded_v3_stores_have_the_same_shape(tmp_path):
    fresh, upgraded = Store(tmp_path / "new.db"), Store(_v3_store(tmp_path / "v3.db"))
    for table in ("runs", "metrics", "evaluations", "logs", "attempts"):
        cols_f = [(c["name"], str(c["type"])) for c in inspect(fresh.engine).get_columns(table)]
        cols_u = [(c["name"], str(c["type"])) for c in inspect(upgraded.engine).get_columns(table)]
        assert cols_f == cols_u, table
    fresh.close()
    upgraded.close()


# ------------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_v3_schema_is_migrated_on_open_on_postgresql():
    from _pgserver import PgServer, why_unavailable

    if why_unavailable() is not None:
        pytest.skip(str(why_unavailable()))
    server = PgServer().start()
    try:
        url = server.new_database()
        st = Store(url)
        st.register_run(DONE, config={"arch": {"n_layer": 2}}, params=123456, param_convention="total",
                        flops_convention="6N", flops_per_token=740736.0, tokens_planned=100000)
        st.register_run(QUEUED, config={"arch": {"n_layer": 1}}, params=9000, param_convention="total",
                        flops_convention="6N", flops_per_token=54000.0, tokens_planned=50000)
        st.add_metrics(DONE, [{"step": 50, "split": "val", "tokens": 50000, "loss_nats": 2.5}])
        with st.engine.begin() as conn:  # turn it back into a v3 store: no extra columns, version 3
            conn.execute(text("ALTER TABLE metrics DROP COLUMN extra"))
            conn.execute(text("ALTER TABLE evaluations DROP COLUMN extra"))
            conn.execute(text("UPDATE schema_version SET version = 3"))
        st.close()
        st = Store(url)
        assert st.schema_version == SCHEMA_VERSION
        assert _columns(st, "metrics")[-1] == "extra" and _columns(st, "evaluations")[-1] == "extra"
        assert [m["extra"] for m in st.metrics(DONE)] == [{}]
        _use_extras(st)
        assert st.evaluations(QUEUED)[0]["extra"] == {"acc": 0.25, "note": "ok"}
        assert st.to_frame().set_index("run_id").loc[QUEUED, "acc"] == 0.25
        st.close()
    finally:
        server.stop()
