"""Sweep specs, run ids, scale-aware hyper-parameters, schedules and data sources (no torch needed)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from scalinglab.flops import Architecture, count_params, flops_per_token
from scalinglab.runner import hparams
from scalinglab.runner.corpus import CORPUS_SHA256, MarkovSource, TextCorpus, make_source
from scalinglab.runner.spec import SpecError, expand_spec, load_spec

LADDER = """
[sweep]
name = "lad"
kind = "ladder"

[defaults]
data = { name = "text" }
seq_len = 32
schedule = "wsd"

[ladder]
sizes = [ { n_layer = 2, d_model = 32 }, { n_layer = 2, d_model = 48, mlp = "swiglu" } ]
tokens_per_param = [5, 10, 20]
"""


def test_ladder_wsd_makes_one_run_per_size_with_branches(tmp_path):
    p = tmp_path / "ladder.toml"
    p.write_text(LADDER)
    sw = load_spec(p)
    assert sw.kind == "ladder" and len(sw.runs) == 2
    for cfg in sw.runs:
        n = count_params(Architecture(**cfg.arch)).total
        assert cfg.budgets == tuple(round(m * n) for m in (5, 10, 20))
        assert cfg.arch["vocab_size"] == 256 and cfg.arch["seq_len"] == 32
        assert cfg.lr > 0 and cfg.batch_size >= 4 and cfg.warmup_steps >= 1


def test_ladder_cosine_makes_one_run_per_budget(tmp_path):
    p = tmp_path / "ladder.toml"
    p.write_text(LADDER.replace('schedule = "wsd"', 'schedule = "cosine"'))
    assert len(load_spec(p).runs) == 6


def test_isoflop_grid_meets_each_budget_under_the_named_convention():
    spec = {"sweep": {"kind": "isoflop"}, "defaults": {"data": {"name": "markov", "alphabet": 32},
                                                       "flops_convention": "chinchilla", "schedule": "cosine"},
            "isoflop": {"budgets": ["1e11", 3e11], "sizes": [{"n_layer": 2, "d_model": 32},
                                                              {"n_layer": 3, "d_model": 64}]}}
    sw = expand_spec(spec)
    assert len(sw.runs) == 4
    for cfg in sw.runs:
        C = flops_per_token(Architecture(**cfg.arch), "chinchilla") * cfg.tokens
        assert min(abs(C / 1e11 - 1), abs(C / 3e11 - 1)) < 1e-4
        assert cfg.flops_convention == "chinchilla"


def test_run_id_is_a_content_hash():
    base = {"defaults": {"data": {"name": "text"}}, "runs": [{"arch": {"n_layer": 1, "d_model": 16}, "tokens": 1000}]}
    a = expand_spec(base).runs[0]
    renamed = expand_spec({**base, "sweep": {"name": "other"}}).runs[0]
    changed = expand_spec({**base, "defaults": {**base["defaults"], "seed": 1}}).runs[0]
    assert a.run_id == renamed.run_id                    # cosmetic: sweep name
    assert a.run_id != changed.run_id                    # the seed changes what is trained
    assert len(a.run_id) == 16 and int(a.run_id, 16) >= 0
    assert a.from_dict(a.to_dict()).run_id == a.run_id


@pytest.mark.parametrize("mutation,key", [
    (('d_model = 32 }', 'd_model = "wide" }'), "ladder.sizes[0].d_model"),
    (("tokens_per_param = [5, 10, 20]", "tokens_per_param = [5, -1]"), "ladder.tokens_per_param[1]"),
    (('schedule = "wsd"', 'schedule = "linear"'), "defaults.schedule"),
    (('seq_len = 32', 'seq_len = 32\nlearning_rat = 1'), "defaults.learning_rat"),
    (('{ n_layer = 2, d_model = 32 }', '{ n_layer = 2, d_model = 32, n_heads = 5 }'), "ladder.sizes[0]"),
    (('{ n_layer = 2, d_model = 32 }', '{ n_layer = 2, d_model = 32, colour = 1 }'), "ladder.sizes[0].colour"),
    (('kind = "ladder"', 'kind = "grid"'), "sweep.kind"),
])
def test_validation_errors_name_file_and_key(tmp_path, mutation, key):
    p = tmp_path / "bad.toml"
    p.write_text(LADDER.replace(*mutation))
    with pytest.raises(SpecError) as exc:
        load_spec(p)
    assert exc.value.file == str(p) and exc.value.key == key, str(exc.value)
    assert str(p) in str(exc.value)


def test_yaml_and_parse_errors(tmp_path):
    y = tmp_path / "s.yaml"
    y.write_text("defaults:\n  data: {name: text}\nruns:\n  - arch: {n_layer: 1, d_model: 16}\n    tokens: 2K\n")
    assert load_spec(y).runs[0].tokens == 2000
    bad = tmp_path / "b.yaml"
    bad.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpecError, match="cannot parse"):
        load_spec(bad)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.toml")


def test_json_specs_are_read_as_json(tmp_path):
    """A .json spec was read as TOML ('iso.json:: cannot parse: Invalid statement')."""
    import json

    spec = {"defaults": {"data": {"name": "text"}}, "runs": [{"arch": {"n_layer": 1, "d_model": 16}, "tokens": "2K"}]}
    j = tmp_path / "s.json"
    j.write_text(json.dumps(spec, indent=2))
    assert [r.tokens for r in load_spec(j).runs] == [2000]
    bad = tmp_path / "b.json"
    bad.write_text('{\n  "defaults": {"data": {"name": "text"}},\n  "runs": [}\n')
    with pytest.raises(SpecError) as ei:
        load_spec(bad)
    assert str(ei.value).startswith(f"{bad}:3: cannot parse JSON: "), str(ei.value)
    assert ei.value.location == f"{bad}:3"


def test_deepseek_rules_and_clamps():
    assert hparams.deepseek_lr(1e17) == pytest.approx(0.3118 * 1e17 ** -0.125)
    assert hparams.deepseek_batch_tokens(1e19) == pytest.approx(0.2920 * 1e19 ** 0.3271)
    s = hparams.suggest(params=1_000_000, tokens=20_000_000, flops=1.2e14, seq_len=64)
    assert s["lr"] == pytest.approx(0.3118 * 1.2e14 ** -0.125)
    assert s["batch_size"] == round(0.2920 * 1.2e14 ** 0.3271 / 64)
    tiny = hparams.suggest(params=1000, tokens=1000, flops=6e6, seq_len=16)
    assert tiny["lr"] == hparams.LR_CLAMP[1] and tiny["batch_size"] == hparams.BATCH_SEQ_CLAMP[0]


def test_schedules():
    kw = {"lr": 1.0, "warmup_steps": 10, "total_steps": 100, "min_lr_ratio": 0.1}
    assert hparams.lr_at(0, schedule="cosine", **kw) == pytest.approx(0.1)
    assert hparams.lr_at(9, schedule="constant", **kw) == pytest.approx(1.0)
    assert hparams.lr_at(99, schedule="cosine", **kw) == pytest.approx(0.1, abs=1e-3)
    assert hparams.lr_at(55, schedule="cosine", **kw) == pytest.approx(0.55)
    wsd = [hparams.lr_at(s, schedule="wsd", decay_steps=20, **kw) for s in range(100)]
    assert wsd[10:80] == [1.0] * 70 and wsd[99] == pytest.approx(0.1) and wsd[90] < wsd[85] < 1.0


def test_text_corpus_is_bundled_verified_and_split_deterministically():
    a, b = TextCorpus.load(), TextCorpus.load()
    assert a.vocab_size == 256 and a.entropy_rate_nats is None
    assert np.array_equal(a.val, b.val) and a.train.size + a.val.size >= 400_000
    assert 0.08 < a.val.size / (a.train.size + a.val.size) < 0.12
    from importlib import resources

    raw = resources.files("scalinglab.runner").joinpath("_corpus/public_domain.txt").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == CORPUS_SHA256
    assert a.bits_per_byte(math.log(2)) == pytest.approx(1.0)


def test_batches_are_a_pure_function_of_seed_and_step():
    src = make_source({"name": "markov", "alphabet": 16, "order": 2, "support": 3, "train_tokens": 50_000})
    x = src.train_batch(7, 4, 16, seed=0)
    assert x.shape == (4, 17) and x.max() < 16
    assert np.array_equal(x, src.train_batch(7, 4, 16, seed=0))
    assert not np.array_equal(x, src.train_batch(8, 4, 16, seed=0))
    m = MarkovSource(alphabet=16, order=2, support=3)
    assert m.to_bytes(np.array([0, 1, 15])) == b"abp"


def test_a_budget_below_one_optimiser_step_is_said(caplog):
    """A designed run of 22 tokens with 4 x 256-token batches trains one step, 1,024 tokens: 46x the budget and
    FLOPs that the dry run and design stated, without a word. The log says so (info) and the dry run shows the
    tokens trained."""
    import logging

    from scalinglab.runner.spec import expand_spec

    with caplog.at_level(logging.INFO, logger="scalinglab.runner.spec"):
        sw = expand_spec({"sweep": {"name": "t", "kind": "list"}, "defaults": {"seq_len": 256, "batch_size": 4},
                          "runs": [{"arch": {"n_layer": 1, "d_model": 16}, "tokens": 22},
                                   {"arch": {"n_layer": 1, "d_model": 16}, "tokens": 4096}]})
    assert sw.runs[0].steps_for(22) * sw.runs[0].batch_tokens == 1024
    said = [r.getMessage() for r in caplog.records if "optimiser step" in r.getMessage()]
    assert len(said) == 1 and "22 below one optimiser step (1024 tokens" in said[0] and "46.5x" in said[0]


def test_the_dry_run_shows_the_tokens_a_tiny_budget_trains(tmp_path):
    import json

    from typer.testing import CliRunner

    from scalinglab.cli import app

    spec = tmp_path / "tiny.toml"
    spec.write_text('[sweep]\nname = "t"\nkind = "list"\n[defaults]\nseq_len = 256\nbatch_size = 4\n'
                    '[[runs]]\narch = { n_layer = 1, d_model = 16 }\ntokens = 22\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.db"), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["runs"][0]["trained_tokens"] == [1024]
    text = CliRunner().invoke(app, ["run", str(spec), "--store", str(tmp_path / "s.db"), "--dry-run"])
    assert "trains D=[1024] (whole optimiser steps)" in text.output
