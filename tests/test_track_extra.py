"""Extra tracked metrics are first-class: ``track.log(..., grad_norm=...)`` points and ``track.finish(...,
acc=...)`` evaluations land in the store's ``extra`` JSON, with their exact values; ``runs export`` has one
column per extra final evaluation (fitted by ``fit --law sigmoid --y acc``) and ``runs export --curves`` one
per extra curve metric; ``runs show`` lists them; a
``metrics_regex`` named group outside the standard ones is an extra curve metric; values that are not finite
numbers or short strings (NaN, None, lists, long strings) are skipped with one warning per key."""

from __future__ import annotations

import json
import math
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("sqlalchemy")

from scalinglab.cli import app  # noqa: E402
from scalinglab.runner.executor import run_sweep  # noqa: E402
from scalinglab.runner.spec import load_spec  # noqa: E402
from scalinglab.store import Store  # noqa: E402

PY = json.dumps(sys.executable)

#: a tracked "trainer" that does not train: its numbers are known functions of the step and the FLOPs.
TRACKED = '''
import argparse, math
from scalinglab import track

ap = argparse.ArgumentParser()
ap.add_argument("--flops", type=float)
ap.add_argument("--tokens", type=int)
a = ap.parse_args()
for step in range(1, 11):
    extra = {"grad_norm": 0.5 + step / 64, "phase": "warmup" if step <= 2 else "stable",
             "bad_nan": float("nan"), "bad_list": [1, 2], "bad_long": "x" * 300, "bad_none": None}
    track.log(step=step, tokens=step * a.tokens // 10, loss=4.0 - step / 10,
              val_loss=(4.1 - step / 10) if step % 5 == 0 else None, **extra)
track.log(step=10, tokens=a.tokens, downstream_only=7)  # a point with no loss at a step that has one
acc = 0.25 + 0.5 / (1 + math.exp(-1.5 * (math.log10(a.flops) - 10.0)))  # floor 0.25, ceiling 0.75, x0 = 1e10
track.finish(loss=3.1, acc=acc, note="ok", bad_inf=float("inf"))
'''

SPEC = """
[sweep]
name = "{name}"
[defaults]
seq_len = 32
batch_size = 4
arch = {{ vocab_size = 256 }}
[ladder]
sizes = [ {sizes} ]
tokens_per_param = {mults}
[trainer]
command = [{py}, "{script}", "--flops={{flops}}", "--tokens={{tokens}}"]
"""

SIZES = ("{ n_layer = 1, d_model = 16, n_heads = 2 }, { n_layer = 2, d_model = 32, n_heads = 2 }, "
         "{ n_layer = 3, d_model = 48, n_heads = 3 }, { n_layer = 4, d_model = 64, n_heads = 4 }")


def _acc(flops: float) -> float:
    return 0.25 + 0.5 / (1 + math.exp(-1.5 * (math.log10(flops) - 10.0)))


def _sweep(tmp_path, name="ex", sizes="{ n_layer = 1, d_model = 16, n_heads = 2 }", mults="[2]"):
    script = tmp_path / "tracked.py"
    script.write_text(TRACKED)
    spec = tmp_path / f"{name}.toml"
    spec.write_text(SPEC.format(name=name, sizes=sizes, mults=mults, py=PY, script=script))
    return load_spec(spec)


def test_tracked_extras_are_stored_exported_and_shown(tmp_path):
    sweep = _sweep(tmp_path)
    db = tmp_path / "ex.db"
    res = run_sweep(sweep, db, show_progress=False)
    assert [r.status for r in res] == ["done"], [r.error for r in res]
    st = Store(db)
    cfg = sweep.runs[0]
    rows = st.metrics(cfg.run_id)
    train = {m["step"]: m for m in rows if m["split"] == "train"}
    val = {m["step"]: m for m in rows if m["split"] == "val"}
    # grad_norm is stored exactly, on every point of its step (train and, at steps 5 and 10, val)
    assert sorted(train) == list(range(1, 11)) and sorted(val) == [5, 10]
    for step, m in train.items():
        assert m["extra"]["grad_norm"] == 0.5 + step / 64
        assert m["extra"]["phase"] == ("warmup" if step <= 2 else "stable")
        assert set(m["extra"]) == {"grad_norm", "phase"}  # the bad values and None are not stored
        assert m["loss_nats"] == pytest.approx(4.0 - step / 10)
    assert [val[s]["extra"]["grad_norm"] for s in (5, 10)] == [0.5 + 5 / 64, 0.5 + 10 / 64]
    # the later record without a loss at step 10 does not replace the point already stored (insert-or-ignore)
    assert "downstream_only" not in train[10]["extra"]
    # the final evaluation's extras, and nothing else
    ev = st.evaluations(cfg.run_id)
    flops = cfg.flops_per_token() * cfg.tokens
    assert len(ev) == 1 and ev[0]["extra"] == {"acc": _acc(flops), "note": "ok"}
    # one warning per rejected key (not one per step), naming it
    warnings = [g["message"] for g in st.logs(cfg.run_id) if g["level"] == "warning"]
    for key in ("bad_nan", "bad_list", "bad_long", "bad_none", "bad_inf"):
        assert sum(f"'{key}'" in w for w in warnings) == 1, (key, warnings)
    assert len(warnings) == 5
    # the run table: one column per extra final evaluation
    df = st.to_frame()
    assert list(df.columns[-2:]) == ["acc", "note"]
    assert df["acc"].tolist() == [_acc(flops)] and df["note"].tolist() == ["ok"]
    st.close()

    out = tmp_path / "runs.csv"
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out)["acc"].tolist() == [pytest.approx(_acc(flops), rel=1e-12)]
    curves = tmp_path / "curves.csv"
    r = CliRunner().invoke(app, ["runs", "export", "--store", str(db), "--curves", "-o", str(curves)])
    assert r.exit_code == 0, r.output
    cv = pd.read_csv(curves)
    assert len(cv) == 12 and list(cv.columns[-2:]) == ["grad_norm", "phase"]
    tr = cv[cv["split"] == "train"]
    assert tr["step"].tolist() == list(range(1, 11))
    assert tr["grad_norm"].tolist() == [0.5 + s / 64 for s in range(1, 11)]
    assert tr["loss"].tolist() == pytest.approx([4.0 - s / 10 for s in range(1, 11)])
    r = CliRunner().invoke(app, ["runs", "show", cfg.run_id, "--store", str(db)])
    assert r.exit_code == 0, r.output
    assert f"acc = {_acc(flops):.4g}" in r.output and "note = ok" in r.output
    assert "grad_norm (12 points, last 0.6562 at step 10)" in r.output
    assert "phase (12 points, last stable at step 10)" in r.output
    r = CliRunner().invoke(app, ["runs", "show", cfg.run_id, "--store", str(db), "--json"])
    doc = json.loads(r.stdout)
    assert doc["extra_curve_keys"] == ["grad_norm", "phase"]
    assert doc["evaluations"][0]["extra"]["acc"] == _acc(flops)


def test_exported_accuracy_is_fitted_by_the_sigmoid_law(tmp_path):
    sweep = _sweep(tmp_path, name="lad", sizes=SIZES, mults="[2, 20, 200]")
    db = tmp_path / "lad.db"
    res = run_sweep(sweep, db, show_progress=False)
    assert [r.status for r in res] == ["done"] * 12, [r.error for r in res]
    out = tmp_path / "runs.csv"
    assert CliRunner().invoke(app, ["runs", "export", "--store", str(db), "-o", str(out)]).exit_code == 0
    df = pd.read_csv(out)
    assert df["acc"].tolist() == pytest.approx([_acc(c) for c in df["flops"]], rel=1e-12)
    assert df["flops"].min() < 1e10 < df["flops"].max()  # the ladder straddles the midpoint
    r = CliRunner().invoke(app, ["fit", str(out), "--law", "sigmoid", "--y", "acc", "--floor", "0.25", "--json"])
    assert r.exit_code == 0, r.output
    params = json.loads(r.stdout)["params"]
    assert params["ceiling"] == pytest.approx(0.75, abs=2e-3)
    assert params["k"] == pytest.approx(1.5, rel=2e-2)
    assert params["x0"] == pytest.approx(10.0, abs=2e-2)


REGEX = (r"'step (?P<step>\d+) loss (?P<loss>[0-9.]+) val (?P<val_loss>[0-9.]+) gnorm (?P<grad_norm>[0-9.]+) "
         r"tag (?P<tag>\w+)'")

PRINTER = '''
for step in (5, 10):
    print(f"step {step} loss {4 - step / 10:.2f} val {4.1 - step / 10:.2f} gnorm {step / 8} tag s{step}", flush=True)
'''


def test_regex_extra_named_groups_are_extra_curve_metrics(tmp_path):
    script = tmp_path / "printer.py"
    script.write_text(PRINTER)
    spec = tmp_path / "rx.toml"
    spec.write_text(f"""
[sweep]
name = "rx"
[defaults]
seq_len = 32
batch_size = 4
arch = {{ vocab_size = 256 }}
[[runs]]
arch = {{ n_layer = 1, d_model = 16, n_heads = 2 }}
tokens = 1280
[trainer]
command = [{PY}, "{script}"]
metrics_regex = {REGEX}
""")
    sweep = load_spec(spec)
    db = tmp_path / "rx.db"
    res = run_sweep(sweep, db, show_progress=False)
    assert [r.status for r in res] == ["done"], [r.error for r in res]
    st = Store(db)
    rows = st.metrics(sweep.runs[0].run_id)
    got = {(m["split"], m["step"]): m["extra"] for m in rows}
    assert got == {(split, s): {"grad_norm": s / 8, "tag": f"s{s}"} for split in ("train", "val") for s in (5, 10)}
    assert isinstance(got[("val", 10)]["grad_norm"], float)  # a numeric capture is stored as a number
    # the per-checkpoint run table carries the extra metrics of its validation points
    df = st.to_frame(per_checkpoint=True)
    ck = df[df["branch"] == "checkpoint"]
    assert ck["step"].tolist() == [5] and ck["grad_norm"].tolist() == [5 / 8] and ck["tag"].tolist() == ["s5"]
    st.close()
