"""Training loop: atomic checksummed checkpoints, exact resume, WSD branches, skip-if-done, conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scalinglab.runner.spec import expand_spec  # noqa: E402
from scalinglab.runner.train import load_checkpoint, save_checkpoint, train_run  # noqa: E402
from scalinglab.store import Store  # noqa: E402

DATA = {"name": "markov", "alphabet": 16, "order": 1, "support": 4, "train_tokens": 100_000,
        "val_tokens": 16_384, "chain_len": 64}


def _cfg(schedule="wsd", budgets=(2048, 4096, 8192), **over):
    spec = {"sweep": {"name": "t"},
            "defaults": {"data": DATA, "seq_len": 16, "schedule": schedule, "batch_size": 8, "eval_every": 8,
                         "eval_windows": 16, "checkpoint_every": 4, "flops_convention": "kaplan", **over},
            "runs": [{"arch": {"n_layer": 1, "d_model": 16, "n_heads": 2}, "budgets": list(budgets)}]}
    return expand_spec(spec).runs[0]


def test_checkpoint_is_atomic_checksummed_and_falls_back(tmp_path):
    path = tmp_path / "run" / "last.pt"
    save_checkpoint(path, {"run_id": "x", "step": 1, "w": torch.ones(3)})
    save_checkpoint(path, {"run_id": "x", "step": 2, "w": torch.ones(3) * 2})
    assert load_checkpoint(path, "x")["step"] == 2
    assert load_checkpoint(path, "other-run") is None
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])               # truncated (power loss): rejected, .prev used
    assert load_checkpoint(path, "x")["step"] == 1
    flipped = bytearray(raw)
    flipped[-5] ^= 0xFF                                  # one flipped byte: checksum mismatch
    path.write_bytes(bytes(flipped))
    assert load_checkpoint(path, "x")["step"] == 1
    path.with_name("last.pt.prev").write_bytes(b"garbage")
    assert load_checkpoint(path, "x") is None
    assert not list(tmp_path.glob("run/*.tmp*"))         # no temp files left behind


def test_wsd_branches_give_one_point_per_budget_and_record_conventions(tmp_path):
    cfg = _cfg()
    st = Store(tmp_path / "r.db")
    res = train_run(cfg, store=st, workdir=tmp_path / "ck")
    assert res.status == "done"
    df = st.to_frame()
    assert df["tokens"].tolist() == [2048, 4096, 8192]
    assert df["params"].nunique() == 1 and df["params"].iloc[0] == cfg.n_params()
    assert (df["flops_convention"] == "kaplan").all()
    assert df["flops"].tolist() == pytest.approx([cfg.flops_per_token() * d for d in (2048, 4096, 8192)])
    assert df["loss_bpb"].tolist() == pytest.approx([v / math.log(2) for v in df["loss"]])
    run = st.get_run(cfg.run_id)
    assert run["flops_convention"] == "kaplan" and run["params_by_convention"]["total"] == cfg.n_params()
    assert run["environment"]["torch"] == torch.__version__
    # more tokens → lower loss on this easy source
    assert df["loss"].iloc[-1] < df["loss"].iloc[0]
    # rerunning skips it; checkpoints were cleaned up
    assert train_run(cfg, store=st, workdir=tmp_path / "ck").status == "skipped"
    assert not list((tmp_path / "ck").glob("**/*.pt"))
    assert st.counts()["evaluations"] == 3


@pytest.mark.parametrize("schedule,stop", [("wsd", 5), ("wsd", 13), ("cosine", 9)])
def test_resume_is_exact(tmp_path, schedule, stop):
    budgets = (2048, 4096, 8192) if schedule == "wsd" else (8192,)
    cfg = _cfg(schedule, budgets)
    ref = Store(tmp_path / "ref.db")
    train_run(cfg, store=ref, workdir=tmp_path / "ck-ref")

    st = Store(tmp_path / "r.db")
    first = train_run(cfg, store=st, workdir=tmp_path / "ck", stop_after_steps=stop)
    assert first.status == "interrupted" and st.status(cfg.run_id) == "queued"
    assert len(st.to_frame()) == 0
    second = train_run(cfg, store=st, workdir=tmp_path / "ck")
    assert second.status == "done" and second.resumed_from_step == stop
    a, b = ref.to_frame(), st.to_frame()
    assert a["tokens"].tolist() == b["tokens"].tolist()
    assert b["loss"].tolist() == pytest.approx(a["loss"].tolist(), rel=1e-5)
    assert st.counts()["metrics"] == ref.counts()["metrics"]
    assert st.counts()["evaluations"] == ref.counts()["evaluations"]
    assert st.get_run(cfg.run_id)["attempts"] == 2


def test_run_held_by_a_live_owner_is_not_trained(tmp_path):
    cfg = _cfg()
    st = Store(tmp_path / "r.db")
    from scalinglab.runner.train import register

    register(st, cfg)
    assert st.claim_run(cfg.run_id, "some-other-host:1:ab")
    assert train_run(cfg, store=st, workdir=tmp_path / "ck").status == "leased"
    assert st.counts()["metrics"] == 0


def test_same_seed_same_result_different_seed_differs(tmp_path):
    a = train_run(_cfg(budgets=(2048,)), workdir=tmp_path / "a")
    b = train_run(_cfg(budgets=(2048,)), workdir=tmp_path / "b")
    c = train_run(_cfg(budgets=(2048,), seed=1), workdir=tmp_path / "c")
    assert a.final_loss_nats == b.final_loss_nats
    assert c.final_loss_nats != a.final_loss_nats


def test_process_pool_executor_matches_in_process(tmp_path):
    from scalinglab.runner.executor import LocalExecutor, run_sweep

    spec = {"defaults": {"data": DATA, "seq_len": 16, "batch_size": 8, "eval_every": 8, "eval_windows": 16},
            "runs": [{"arch": {"n_layer": 1, "d_model": d, "n_heads": 2}, "budgets": [2048]} for d in (8, 16)]}
    sweep = expand_spec(spec)
    a, b = Store(tmp_path / "a.db"), Store(tmp_path / "b.db")
    run_sweep(sweep, a, workdir=tmp_path / "ca", show_progress=False)
    res = run_sweep(sweep, b, executor=LocalExecutor(workers=2), workdir=tmp_path / "cb", show_progress=False)
    assert sorted(r.status for r in res) == ["done", "done"]
    fa, fb = a.to_frame().sort_values("run_id"), b.to_frame().sort_values("run_id")
    assert fb["loss"].tolist() == pytest.approx(fa["loss"].tolist(), rel=1e-5)
    assert a.counts() == b.counts()
    # submit(): the single-run entry point a cluster executor mirrors
    from scalinglab.runner.executor import RunTask

    fut = LocalExecutor().submit(RunTask(sweep.runs[0].to_dict(), str(tmp_path / "a.db"), str(tmp_path / "ca")))
    assert fut.result().status == "skipped"  # already done in store a


def test_a_new_store_sets_aside_a_checkpoint_it_did_not_write(tmp_path):
    """Run ids hash the config, not the store: a new store beside the folder of a deleted one resumed the
    deleted store's checkpoint and recorded that training as its own. Its first attempt now sets the folder aside
    (renamed, nothing deleted) and trains from step 0 to the loss of an uninterrupted run."""
    cfg = _cfg("cosine", (8192,))
    ref = train_run(cfg, store=Store(tmp_path / "ref.db"), workdir=tmp_path / "ck-ref")
    old = Store(tmp_path / "old.db")
    assert train_run(cfg, store=old, workdir=tmp_path / "ck", stop_after_steps=9).status == "interrupted"
    assert load_checkpoint(tmp_path / "ck" / cfg.run_id / "last.pt", cfg.run_id)["step"] == 9
    new = Store(tmp_path / "new.db")
    res = train_run(cfg, store=new, workdir=tmp_path / "ck")
    assert res.status == "done" and res.resumed_from_step == 0
    assert res.final_loss_nats == pytest.approx(ref.final_loss_nats, rel=1e-5)
    aside = list((tmp_path / "ck").glob(f"{cfg.run_id}.stale-*"))
    assert len(aside) == 1 and load_checkpoint(aside[0] / "last.pt", cfg.run_id)["step"] == 9
    assert any("set aside" in g["message"] and g["level"] == "warning" for g in new.logs(cfg.run_id))
    assert [a["resumed_from_step"] for a in new.attempts(cfg.run_id)] == [0]


def test_a_checkpoint_of_other_data_is_not_resumed_and_changed_data_stops_a_sweep(tmp_path):
    """A run interrupted on one corpus resumed on the edited corpus (its curve half one, half the other); a
    sweep whose finished runs were scored on the old corpus skipped them beside new runs scored on the new one.
    Now the checkpoint is set aside (content hash differs) and the sweep refuses, naming the data."""
    from scalinglab import InputError
    from scalinglab.runner.executor import run_sweep

    words = "the river stone light house field winter morning letter garden".split()
    text = " ".join(words[i] for i in np.random.default_rng(0).integers(0, len(words), 12_000))
    (tmp_path / "corpus.txt").write_text(text)
    spec = {"sweep": {"name": "d"}, "defaults": {"data": {"path": str(tmp_path / "corpus.txt")}, "seq_len": 16,
                                                 "batch_size": 8, "eval_every": 8, "eval_windows": 8,
                                                 "checkpoint_every": 4},
            "runs": [{"arch": {"n_layer": 1, "d_model": 16, "n_heads": 2}, "tokens": 2048}]}
    cfg = expand_spec(spec).runs[0]
    st = Store(tmp_path / "r.db")
    assert train_run(cfg, store=st, workdir=tmp_path / "ck", stop_after_steps=6).status == "interrupted"
    (tmp_path / "corpus.txt").write_text(text[::-1])                   # the data changed
    res = train_run(cfg, store=st, workdir=tmp_path / "ck")
    assert res.status == "done" and res.resumed_from_step == 0
    assert len(list((tmp_path / "ck").glob(f"{cfg.run_id}.stale-*"))) == 1
    assert any("other data" in g["message"] for g in st.logs(cfg.run_id))
    st.close()
    (tmp_path / "corpus.txt").write_text(text)
    with pytest.raises(InputError, match=r"corpus.txt changed since 1 finished run"):
        run_sweep(expand_spec(spec), tmp_path / "r.db", workdir=tmp_path / "ck", show_progress=False)
