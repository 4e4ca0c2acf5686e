"""Toy tasks (runner/tasks.py): exact data format, disjoint train/val problems, known entropy rate, the spec
hook, and the per-example evaluation checked against models whose answers are known (an oracle, a uniform
model) — no training here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scalinglab import InputError
from scalinglab.runner.tasks import evaluate_task, get_task


def test_addition_examples_are_exact_sums():
    t = get_task("addition", {"digits": 3})
    p = t.sample(500, split="train", seed=1)
    text = t.to_text(t.render(p))
    lines = text.split("\n")[:-1]
    assert len(lines) == 500
    for line, (a, b) in zip(lines, p, strict=True):
        lhs, rhs = line.split("=")
        x, y = lhs.split("+")
        assert (len(x), len(y), len(rhs)) == (3, 3, 4)
        assert int(x) == a and int(y) == b and int(rhs) == a + b
    assert t.vocab_size == 13 and t.example_len == 13
    assert math.isclose(t.entropy_rate_nats, 6 * math.log(10) / 13)


def test_copy_examples_and_split_is_disjoint_and_deterministic():
    t = get_task("copy", {"length": 5, "symbols": 6})
    text = t.to_text(t.render(t.sample(50, split="val", seed=0)))
    for line in text.split("\n")[:-1]:
        a, b = line.split("|")
        assert a == b and len(a) == 5 and set(a) <= set("abcdef")
    a2 = get_task("addition", {"digits": 2})
    tr, va = a2.sample(4000, split="train", seed=0), a2.sample(400, split="val", seed=0)
    assert not ({tuple(r) for r in tr} & {tuple(r) for r in va})
    every = np.array([[i, j] for i in range(100) for j in range(100)])
    assert 0.08 < a2.is_val(every).mean() < 0.12  # one problem in ten is validation-only
    assert np.array_equal(a2.sample(10, split="val", seed=2), a2.sample(10, split="val", seed=2))


def test_spec_and_source_hook():
    from scalinglab.runner.corpus import make_source
    from scalinglab.runner.spec import SpecError, expand_spec

    sw = expand_spec({"defaults": {"data": {"name": "addition", "digits": 2}, "seq_len": 20},
                      "runs": [{"arch": {"n_layer": 1, "d_model": 16}, "tokens": 1000}]})
    assert sw.runs[0].arch["vocab_size"] == 13
    src = make_source({"name": "addition", "digits": 2, "train_tokens": 5000, "val_tokens": 1000})
    assert src.vocab_size == 13 and src.train.max() <= 12
    assert math.isclose(src.entropy_rate_nats, 4 * math.log(10) / 10)
    w = src.train_batch(3, 4, 20, seed=0)
    assert w.shape == (4, 21) and np.array_equal(w, src.train_batch(3, 4, 20, seed=0))
    with pytest.raises(SpecError, match="digits"):
        expand_spec({"defaults": {"data": {"name": "addition", "digits": 12}},
                     "runs": [{"arch": {"n_layer": 1, "d_model": 16}, "tokens": 1000}]})
    with pytest.raises(InputError, match="unknown option"):
        get_task("copy", {"lenght": 3})


class _Oracle(torch.nn.Module):
    """Computes each scored example's sum from its operands and puts (almost) all probability on its digits at
    the positions that predict them; uniform everywhere else (and everywhere if ``uniform``)."""

    def __init__(self, task, seq_len, uniform=False):
        super().__init__()
        from types import SimpleNamespace

        self.arch, self.task, self.uniform = SimpleNamespace(seq_len=seq_len), task, uniform

    def forward(self, x):
        t, k, L = self.task, self.task.size, self.task.example_len
        logits = torch.zeros(*x.shape, t.vocab_size)
        if not self.uniform:
            for i in range(x.shape[0]):
                a, b = t.to_text(x[i, L:L + 2 * k + 1].numpy()).split("+")
                digits = [int(c) for c in f"{int(a) + int(b):0{k + 1}d}"]
                for j, dgt in enumerate(digits):  # position L+2k+1+j predicts answer digit j
                    logits[i, L + 2 * k + 1 + j, dgt] = 30.0
        return logits, None


def test_evaluation_scores_oracle_and_uniform_models():
    t = get_task("addition", {"digits": 2})
    good = evaluate_task(_Oracle(t, 2 * t.example_len), t, n_examples=40)
    assert good["exact"].tolist() == [1] * 40 and good["tokens_correct"].tolist() == [3] * 40
    assert np.allclose(good["logprob"], 3 * -math.log1p(12 * math.exp(-30)))
    uni = evaluate_task(_Oracle(t, 2 * t.example_len, uniform=True), t, n_examples=40)
    assert np.allclose(uni["logprob"], 3 * math.log(1 / 13))
    assert np.allclose(uni["p_correct"], (1 / 13) ** 3)
    with pytest.raises(InputError, match="seq_len"):
        evaluate_task(_Oracle(t, 5), t, n_examples=4)


def test_lookup_task_format_and_entropy():
    t = get_task("lookup", {"pairs": 4, "keys": 20, "values": 4, "zipf": 1.0})
    p = t.sample(300, split="train", seed=0)
    ex = t.render(p)
    assert ex.shape == (300, 9) and t.vocab_size == 25
    assert np.array_equal(ex[:, 0:8:2], p) and np.array_equal(ex[:, 1:8:2], 20 + t.table[p])
    assert (ex[:, -1] == 24).all() and t.answer_positions.tolist() == [1, 3, 5, 7]
    w = np.arange(1, 21) ** -1.0
    w /= w.sum()
    assert math.isclose(t.entropy_rate_nats, 4 * float(-(w * np.log(w)).sum()) / 9)
    counts = np.bincount(t.sample(20000, split="train", seed=1).ravel(), minlength=20) / 80000
    np.testing.assert_allclose(counts, w, atol=0.01)      # Zipf(1) key frequencies
    with pytest.raises(InputError, match="lookup"):
        get_task("lookup", {"values": 40})


@pytest.mark.slow
@pytest.mark.torch
def test_toy_emergence_ladder_exact_match_sharp_logprob_smooth(tmp_path):
    """Trains the real toy ladder (~40-60 s on one CPU core): exact match jumps, per-token accuracy and
    log-probability are smooth."""
    from scalinglab.emergence import analyze_emergence, metrics_by_model
    from scalinglab.runner.tasks import TOY_EMERGENCE, toy_emergence_ladder

    torch.set_num_threads(1)
    runs = toy_emergence_ladder(store=tmp_path / "r.db", workdir=tmp_path / "w", seed=0, n_examples=500)
    n_ck = len(TOY_EMERGENCE["checkpoints"])
    assert len(runs) == n_ck * 500 and runs["model"].nunique() == n_ck
    table = metrics_by_model(runs, scale="flops")
    C, D, N = table["flops"].to_numpy(), np.sort(runs["tokens"].unique()), runs["params"].iloc[0]
    np.testing.assert_allclose(C, 6 * N * D, rtol=1e-9)       # FLOPs = 6 N D (the runs' "6N" convention)
    tok, em = table["token_accuracy"].to_numpy(), table["exact_match"].to_numpy()
    assert np.all(np.diff(tok) > -0.02)                        # per-token accuracy rises with compute
    assert tok[0] < 0.35 and tok[-1] > 0.85                    # from near the value prior to mostly right
    assert em[:4].max() < 0.01 and em[-1] > 0.05               # exact match: nothing, then something
    np.testing.assert_allclose(em, tok ** 16, atol=0.1)        # ≈ per-token accuracy ** answer length
    assert D[-1] / D[0] > 10 ** 1.5                             # checkpoints span > 1.5 decades of tokens
    rep = analyze_emergence(runs, scale="flops", bootstrap=0, metrics=["exact_match", "token_accuracy", "logprob"])
    assert rep.metrics["exact_match"].verdict == "sharp"
    assert rep.metrics["token_accuracy"].verdict == "smooth"
    assert rep.metrics["logprob"].verdict == "smooth"
    # Rerunning on the same store retrains nothing and gives the same table (kept checkpoint weights).
    again = toy_emergence_ladder(store=tmp_path / "r.db", workdir=tmp_path / "w", seed=0, n_examples=500)
    assert np.array_equal(again["tokens_correct"].to_numpy(), runs["tokens_correct"].to_numpy())
