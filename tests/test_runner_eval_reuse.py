"""The training loop scores each set of weights once: the final evaluation reuses the last step's validation
eval (same weights) instead of repeating it, while a WSD branch forked at an eval step is scored on its own
cooled-down weights, never on the cached main-trajectory loss."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scalinglab.runner.model import GPT  # noqa: E402
from scalinglab.runner.spec import expand_spec  # noqa: E402
from scalinglab.runner.train import train_run  # noqa: E402
from scalinglab.store import Store  # noqa: E402

DATA = {"name": "markov", "alphabet": 16, "order": 1, "support": 4, "train_tokens": 100_000,
        "val_tokens": 16_384, "chain_len": 64}


def _cfg(schedule, budgets, eval_every):
    spec = {"sweep": {"name": "t"},
            "defaults": {"data": DATA, "seq_len": 16, "schedule": schedule, "batch_size": 8,
                         "eval_every": eval_every, "eval_windows": 16, "checkpoint_every": 100},
            "runs": [{"arch": {"n_layer": 1, "d_model": 16, "n_heads": 2}, "budgets": list(budgets)}]}
    return expand_spec(spec).runs[0]


@pytest.fixture
def eval_forwards(monkeypatch):
    """Counts forward passes run without gradients (evaluation batches)."""
    count = {"n": 0}
    orig = GPT.forward

    def counting(self, *args, **kwargs):
        if not torch.is_grad_enabled():
            count["n"] += 1
        return orig(self, *args, **kwargs)

    monkeypatch.setattr(GPT, "forward", counting)
    return count


def test_final_evaluation_reuses_the_last_steps_eval(tmp_path, eval_forwards):
    cfg = _cfg("cosine", (2048,), eval_every=8)  # 16 steps of 8 × 16 tokens: evals at steps 8 and 16
    st = Store(tmp_path / "r.db")
    res = train_run(cfg, store=st, workdir=tmp_path / "ck")
    assert res.status == "done"
    assert eval_forwards["n"] == 2 * 2  # 2 evals × (16 windows / batch 8); the final eval is not repeated
    val = {m["step"]: m["loss_nats"] for m in st.metrics(cfg.run_id) if m["split"] == "val"}
    assert sorted(val) == [8, 16]
    assert res.final_loss_nats == val[16] and st.evaluations(cfg.run_id)[0]["loss_nats"] == val[16]
    st.close()


def test_wsd_branch_forked_at_an_eval_step_is_scored_on_its_own_weights(tmp_path, eval_forwards):
    # budgets of 16 and 32 steps; the 16-step branch forks at step 13 (decay 0.2 × 16 = 3 steps): an eval step
    cfg = _cfg("wsd", (2048, 4096), eval_every=13)
    st = Store(tmp_path / "w.db")
    res = train_run(cfg, store=st, workdir=tmp_path / "ck")
    assert res.status == "done"
    val = {m["step"]: m["loss_nats"] for m in st.metrics(cfg.run_id) if m["split"] == "val"}
    assert sorted(val) == [13, 26, 32]
    branch = {e["branch"]: e["loss_nats"] for e in st.evaluations(cfg.run_id)}
    assert set(branch) == {"D=2048", "D=4096"}
    assert branch["D=2048"] != val[13]      # the cooled-down branch weights, not the cached step-13 eval
    assert branch["D=4096"] == val[32]      # the final eval reuses the step-32 eval
    assert eval_forwards["n"] == 2 * 4      # evals at 13, 26, 32 and the branch's: 4 × 2 batches
    st.close()
