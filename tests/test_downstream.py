"""Two-step downstream prediction: recovery of known constants, backtest coverage, selection vs a plain
sigmoid in log-compute, and the generic `fit --law sigmoid` / `predict` CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app
from scalinglab.downstream import (
    SigmoidPredictor,
    TwoStepPredictor,
    backtest_downstream,
    select_downstream,
)
from scalinglab.laws import get_law

TRUE1 = {"E": 0.7, "A": 40.0, "alpha": 0.07}          # task loss (nats) vs FLOPs
TRUE2 = {"ceiling": 0.9, "k": 5.0, "L0": 1.9}         # accuracy vs task loss, chance floor 0.25


def _ladder(n=18, seed=0, lo=19, hi=24.5, noise_l=0.01, noise_a=0.01):
    rng = np.random.default_rng(seed)
    C = np.logspace(lo, hi, n)
    L = (TRUE1["E"] + TRUE1["A"] * C ** -TRUE1["alpha"]) * np.exp(rng.normal(0, noise_l, n))
    acc = get_law("sigmoid-loss", floor=0.25)(TRUE2, L=L) + rng.normal(0, noise_a, n)
    return {"flops": C, "task_bpb": L, "acc": acc}


def _truth(C):
    L = TRUE1["E"] + TRUE1["A"] * C ** -TRUE1["alpha"]
    return float(get_law("sigmoid-loss", floor=0.25)(TRUE2, L=L)[0])


def test_two_step_recovers_constants_and_predicts_with_interval():
    res = TwoStepPredictor(loss="task_bpb", accuracy="acc", floor=0.25, bootstrap=60).fit(_ladder())
    assert res.step1.params["alpha"] == pytest.approx(TRUE1["alpha"], rel=0.15)
    assert res.step2.params["L0"] == pytest.approx(TRUE2["L0"], abs=0.05)
    assert res.step2.params["k"] == pytest.approx(TRUE2["k"], rel=0.25)
    p = res.predict(flops=1e26)
    lo, hi = p.interval
    assert lo < p.value < hi
    assert abs(p.value - _truth(1e26)) < 0.03
    assert lo <= _truth(1e26) <= hi
    assert p.extrapolation == pytest.approx(1e26 / 10 ** 24.5)
    assert p.task_loss_interval[0] < p.task_loss < p.task_loss_interval[1]


def test_two_step_backtest_coverage_over_seeds():
    from _coverage import assert_coverage

    covered, errs = [], []
    for seed in range(7001, 7005):  # seeds no constant was tuned on
        bt = backtest_downstream(_ladder(seed=seed), TwoStepPredictor(loss="task_bpb", accuracy="acc", floor=0.25,
                                                                    bootstrap=40), cutoff_frac=0.3)
        assert bt["n_test"] == 6 and bt["n_train"] == 12
        covered.append(bt["coverage"]["0.95"])
        errs.append(bt["mean_abs_error"])
    assert np.mean(errs) < 0.03
    # 24 held-out larger models: a calibrated 95% interval covers 0.95 ± 3·sqrt(0.95·0.05/24) = 0.82..1
    assert_coverage(float(np.mean(covered)), 0.95, 4 * 6, what="two-step 95%")


def test_selection_prefers_two_step_when_it_extrapolates_better():
    # the accuracy is still in its flat early phase for most small models: a compute-only sigmoid cannot
    # see the midpoint, the task-loss route can
    sel = select_downstream(_ladder(), "acc", loss="task_bpb", floor=0.25, bootstrap=20)
    assert set(sel.scores) == {"sigmoid", "sigmoid-bounded", "two-step"}
    assert sel.method == "two-step"
    assert sel.scores["two-step"]["mean_abs_error"] < sel.scores["sigmoid"]["mean_abs_error"]


def test_selection_keeps_plain_sigmoid_when_accuracy_is_a_sigmoid_in_compute():
    rng = np.random.default_rng(3)
    C = np.logspace(20, 25, 20)
    truth = {"ceiling": 0.85, "k": 1.6, "x0": 22.5}
    acc = get_law("sigmoid", floor=0.25)(truth, C=C) + rng.normal(0, 0.01, 20)
    # a task-loss column that follows compute but is very noisy: two-step must not win by accident
    junk = (0.7 + 40.0 * C ** -0.07) * np.exp(rng.normal(0, 0.08, 20))
    sel = select_downstream({"flops": C, "acc": acc, "bpb": junk}, "acc", loss="bpb", floor=0.25, bootstrap=20)
    assert sel.method in ("sigmoid", "sigmoid-bounded")
    p = sel.predict(flops=1e26)
    true = float(get_law("sigmoid", floor=0.25)(truth, C=1e26)[0])
    assert abs(p.value - true) < 0.03


def test_sigmoid_predictor_backtest_reports_errors():
    bt = backtest_downstream(_ladder(), SigmoidPredictor("acc", floor=0.25, bootstrap=0), cutoff_frac=0.3)
    assert bt["method"] == "sigmoid" and bt["n_test"] == 6
    assert len(bt["points"]) == 6 and all(p["compute"] >= bt["cutoff"] for p in bt["points"])


def test_cli_fit_predict_sigmoid_contract(tmp_path):
    rng = np.random.default_rng(0)
    C = np.logspace(20, 24, 14)
    acc = get_law("sigmoid", floor=0.25)({"ceiling": 0.9, "k": 1.5, "x0": 22.3}, C=C) + rng.normal(0, 0.005, 14)
    csv = tmp_path / "models.csv"
    csv.write_text("model,flops,MMLU\n" + "\n".join(f"m{i},{c:.6g},{a:.6f}" for i, (c, a) in
                                                    enumerate(zip(C, acc, strict=True))))
    out = tmp_path / "fit.json"
    runner = CliRunner()
    r = runner.invoke(app, ["fit", str(csv), "--law", "sigmoid", "--x", "flops", "--y", "MMLU", "--out", str(out),
                            "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["params"]["x0"] == pytest.approx(22.3, abs=0.1)
    r = runner.invoke(app, ["predict", str(out), "flops=1e24", "--json"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    lo, hi = p["interval"]
    assert lo < p["value"] < hi
    assert p["value"] == pytest.approx(0.25 + 0.65 / (1 + np.exp(-1.5 * (24 - 22.3))), abs=0.02)
    # --floor fixes the chance level: it is no longer a fitted parameter
    r = runner.invoke(app, ["fit", str(csv), "--law", "sigmoid", "--x", "flops", "--y", "MMLU", "--floor", "0.25",
                            "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert "floor" not in d["params"] and d["params"]["ceiling"] == pytest.approx(0.9, abs=0.01)
    r = runner.invoke(app, ["predict", str(out), "flops=1e24", "--json"])
    p = json.loads(r.stdout)
    assert p["value"] == pytest.approx(0.25 + 0.65 / (1 + np.exp(-1.5 * (24 - 22.3))), abs=0.01)
    assert p["interval"][0] < p["value"] < p["interval"][1]
    r = runner.invoke(app, ["fit", str(csv), "--law", "power", "--x", "flops", "--y", "MMLU", "--floor", "0.25"])
    assert r.exit_code == 2 and "floor" in r.stderr
    # the table a sigmoid fit prints says what it did, with no multi-start counts it does not have ("None of None")
    r = runner.invoke(app, ["fit", str(csv), "--law", "sigmoid", "--x", "flops", "--y", "MMLU", "--floor", "0.25"])
    assert r.exit_code == 0 and "None" not in r.output and "method accuracy-sigmoid" in r.output


def test_cli_downstream(tmp_path):
    d = _ladder()
    csv = tmp_path / "ladder.csv"
    csv.write_text("flops,task_bpb,acc\n" + "\n".join(f"{c:.6g},{b:.6f},{a:.6f}" for c, b, a in
                                                     zip(d["flops"], d["task_bpb"], d["acc"], strict=True)))
    r = CliRunner().invoke(app, ["downstream", str(csv), "--y", "acc", "--loss", "task_bpb", "--floor", "0.25",
                                 "--at", "1e26", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["method"] in ("sigmoid", "sigmoid-bounded", "two-step")
    p = out["predictions"][0]
    assert p["interval"][0] <= p["value"] <= p["interval"][1]
    assert abs(p["value"] - _truth(1e26)) < 0.05
    r = CliRunner().invoke(app, ["downstream", str(csv), "--y", "nope", "--at", "1e26"])
    assert r.exit_code == 2 and "nope" in r.stderr


def test_a_benchmark_table_with_units_in_its_headers_gives_the_same_forecast(tmp_path):
    """ObsScaling's table gives compute as 'FLOPs (1E21)' (and size as 'Model Size (B)'): the scale is read in
    that unit, so the forecast equals the one from the same table in FLOPs, exactly."""
    d = _ladder()
    plain, noted = tmp_path / "plain.csv", tmp_path / "noted.csv"
    rows = [(float(c), float(a)) for c, a in zip(d["flops"], d["acc"], strict=True)]
    plain.write_text("flops,acc\n" + "\n".join(f"{c!r},{a!r}" for c, a in rows))
    noted.write_text("Model,FLOPs (1E21),acc\n" + "\n".join(f"m{i},{c / 1e21!r},{a!r}" for i, (c, a) in
                                                           enumerate(rows)))
    outs = []
    for path in (plain, noted):
        r = CliRunner().invoke(app, ["downstream", str(path), "--y", "acc", "--floor", "0.25", "--at", "1e26",
                                     "--json"])
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.stdout)["predictions"][0])
    assert outs[1]["value"] == pytest.approx(outs[0]["value"], rel=1e-9)
    assert outs[1]["interval"] == pytest.approx(outs[0]["interval"], rel=1e-9)


def test_sigmoid_parameter_draws_read_the_covariance_in_the_space_it_was_taken_in():
    """A fitted-ceiling sigmoid without bootstrap (Gauss-Newton covariance): its parameter draws map the
    covariance back through the fit space it was computed in, so a ceiling of 0.9 gets an interval near it and
    a prediction inside the data a band as wide as the models' scatter (the covariance was taken in the
    bounded space of the solve and read in the law's own: ceiling [-0.9, 2.5], prediction bands [0, 0.96] on a
    public MMLU table)."""
    from scalinglab.downstream import fit_accuracy_sigmoid

    rng = np.random.default_rng(3)
    C = np.logspace(20, 25, 60)
    truth = {"ceiling": 0.9, "k": 1.8, "x0": 23.5}
    law = get_law("sigmoid", floor=0.25)
    acc = law(truth, C=C) + rng.normal(0, 0.05, C.size)
    r = fit_accuracy_sigmoid({"flops": C, "MMLU": acc}, x="flops", y="MMLU", floor=0.25, bootstrap=0)
    assert r.bootstrap is None and r.covariance is not None
    lo, hi = r.intervals["ceiling"]
    assert 0.7 < lo < 0.9 < hi < 1.15
    p = r.predict(flops=1e23)
    assert p.interval[1] - p.interval[0] < 4 * 1.2816 * 0.05  # run noise 0.05: the 80 % band is ~0.13 wide
    assert p.interval[0] < float(law(truth, C=1e23)[0]) < p.interval[1]


def test_downstream_names_the_models_it_leaves_out(tmp_path):
    """A model without compute or without a score on the benchmark cannot enter the fit; the selection says
    which rows it left out (a DataWarning with their rows) instead of fitting the rest silently, and a
    complete table says nothing."""
    import warnings

    from scalinglab import DataWarning
    from scalinglab.downstream import select_downstream

    rng = np.random.default_rng(4)
    C = np.logspace(20, 24, 16)
    acc = get_law("sigmoid", floor=0.25)({"ceiling": 0.9, "k": 1.5, "x0": 22.3}, C=C) + rng.normal(0, 0.01, 16)
    rows = [f"m{i},{c:.6g},{a:.4f}" for i, (c, a) in enumerate(zip(C, acc, strict=True))]
    rows[2] = "m2,,0.31"   # no compute
    rows[4] = "m4,3e20,"   # no score
    csv = tmp_path / "models.csv"
    csv.write_text("model,flops,MMLU\n" + "\n".join(rows) + "\n")
    with pytest.warns(DataWarning, match=r"2 of 16 rows left out, with no usable flops / MMLU .*: rows 3, 5$"):
        sel = select_downstream(str(csv), "MMLU", floor=0.25, bootstrap=0)
    kept = tmp_path / "kept.csv"  # the same models without those two rows: the same forecast
    kept.write_text("model,flops,MMLU\n" + "\n".join(r for i, r in enumerate(rows) if i not in (2, 4)) + "\n")
    same = select_downstream(str(kept), "MMLU", floor=0.25, bootstrap=0)
    assert sel.predict(flops=1e24).value == pytest.approx(same.predict(flops=1e24).value, rel=1e-9)
    full = tmp_path / "full.csv"
    full.write_text("model,flops,MMLU\n" + "\n".join(f"m{i},{c:.6g},{a:.4f}" for i, (c, a) in
                                                     enumerate(zip(C, acc, strict=True))) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        select_downstream(str(full), "MMLU", floor=0.25, bootstrap=0)


def test_a_floor_outside_the_accuracy_scale_is_refused_and_one_in_the_wrong_unit_is_named(tmp_path):
    """--floor 1.5 (or -0.1) on accuracies in 0..1 was fitted silently (x0 interval [-18, 40], 'success'); a
    fraction floor on a table of percentages was used as 0.25 % (forecast 73.7 where 25 gives 89.6). Now the
    first is an error naming the file, the second one warning line; the text output prints the warnings its
    --json carries (an extrapolation of 7.6e3x said nothing)."""
    from scalinglab import DataWarning, InputError
    from scalinglab.downstream import fit_accuracy_sigmoid

    d = _ladder()
    csv = tmp_path / "ladder.csv"
    csv.write_text("flops,acc\n" + "\n".join(f"{c:.6g},{a:.6f}" for c, a in zip(d["flops"], d["acc"], strict=True)))
    pct = tmp_path / "pct.csv"
    pct.write_text("flops,acc\n" + "\n".join(f"{c:.6g},{100 * a:.4f}" for c, a in zip(d["flops"], d["acc"],
                                                                                    strict=True)))
    for bad in (1.5, -0.1, 1.0):
        with pytest.raises(InputError, match=rf"floor \(--floor\) {bad:g} is outside the accuracy scale of "
                                             r".*ladder.csv \(0 to 1\)"):
            select_downstream(str(csv), "acc", floor=bad)
    with pytest.warns(DataWarning, match=r"percentages, is 0.25 %: chance at 25 % is --floor 25") as rec:
        select_downstream(str(pct), "acc", floor=0.25)
    assert sum("--floor" in str(w.message) for w in rec) == 1  # once, not once per candidate fit
    with pytest.raises(InputError, match="outside the accuracy scale"):
        fit_accuracy_sigmoid(str(csv), y="acc", floor=2.0)
    r = CliRunner().invoke(app, ["downstream", str(csv), "--y", "acc", "--at", "1e28"])
    assert r.exit_code == 0 and "warning: extrapolates" in r.output, r.output


def test_fit_sigmoid_bounded_is_downstreams_bounded_sigmoid(tmp_path):
    """`fit --law sigmoid-bounded` went through the loss pipeline (Huber on log residuals, the asymmetric
    objective considered) with the ceiling fitted (0.78 on a public MMLU table, where downstream's
    sigmoid-bounded fixes it at 1): two models under one name. Now it is the accuracy route with the ceiling at
    the top of the table's scale, and its forecast is downstream's."""
    import pandas as pd

    from scalinglab.downstream import SigmoidPredictor
    from scalinglab.fit import fit

    d = _ladder()
    df = pd.DataFrame({"flops": d["flops"], "acc": d["acc"]})
    r = fit(df, "sigmoid-bounded", x="flops", y="acc")
    assert r.law.ceiling == 1.0 and r.loss["name"] in ("ls", "least_squares") and set(r.params) == {"floor", "k", "x0"}
    ref = SigmoidPredictor("acc", ceiling=1.0, bootstrap=0, calibrate=False).fit(df)
    assert r.predict(flops=1e26).value == pytest.approx(ref.predict(flops=1e26).value, abs=0.02)
    pct = fit(df.assign(acc=100 * df["acc"]), "sigmoid-bounded", x="flops", y="acc")
    assert pct.law.ceiling == 100.0


def test_fit_takes_a_catalog_laws_options_by_keyword():
    """fit(data, "sigmoid", floor=0.25) was a TypeError (the options had to go through get_law); now the same
    fit as with get_law, and a misspelt keyword is a LawError naming it."""
    import pandas as pd

    from scalinglab import LawError
    from scalinglab.fit import fit

    d = _ladder()
    df = pd.DataFrame({"flops": d["flops"], "acc": d["acc"]})
    a = fit(df, "sigmoid", x="flops", y="acc", floor=0.25)
    b = fit(df, get_law("sigmoid", floor=0.25), x="flops", y="acc")
    assert a.law.spec() == b.law.spec() and a.params == pytest.approx(b.params)
    with pytest.raises(LawError, match="bootsrap.*check their spelling"):
        fit(df, "sigmoid", x="flops", y="acc", bootsrap=10)
    with pytest.raises(LawError, match="catalog law given by name"):
        fit(df, get_law("sigmoid"), x="flops", y="acc", floor=0.25)


def test_a_sigmoid_fit_predicts_downstreams_band(tmp_path):
    """`fit(..., "sigmoid")` + `predict` took the loss fits' generic band on covariance draws while
    `SigmoidPredictor` took bootstrap draws + resampled residuals + reach: 80 % bands 5x too wide on
    MMLU-like tasks and covering a third of late-rising ones. One band now, also after a save and load, and
    the row order of the table does not change it."""
    import pandas as pd

    from scalinglab.fit import FitResult, fit

    d = _ladder()
    df = pd.DataFrame({"flops": d["flops"], "acc": d["acc"]})
    r = fit(df, "sigmoid", x="flops", y="acc", floor=0.25)
    assert r.bootstrap is not None and len(r.bootstrap) > 50  # no resamples asked: the downstream route's
    ref = SigmoidPredictor("acc", floor=0.25, calibrate=True).fit(df.iloc[::-1])
    C = np.array([1e24, 1e25, 1e26])
    p, q = r.predict(flops=C), ref.predict(flops=C)
    np.testing.assert_allclose(p.value, q.value, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(p.interval), np.asarray(q.interval), rtol=1e-9)
    assert np.all(np.asarray(p.interval[1]) - np.asarray(p.interval[0]) > 0)
    back = FitResult.load(r.to_json(tmp_path / "sig.json"))
    np.testing.assert_allclose(np.asarray(back.predict(flops=C).interval), np.asarray(p.interval), rtol=1e-9)


def _long_table(tmp_path):
    """A paper-style long table: `Model,Params,Tokens,benchmark,accuracy` (unit strings, percent points)."""
    d = _ladder(n=8)
    N = d["flops"] / (6 * 20)  # 20 tokens per parameter
    rows = []
    for bench, shift in (("MMLU", 0.0), ("GSM8K", -0.2)):
        for i in range(8):
            n = N[i] ** 0.5
            rows.append(f"m{i},{n / 1e6:.6g}M,{20 * n / 1e9:.6g}B,{bench},{100 * max(d['acc'][i] + shift, 0.01):.2f}")
    path = tmp_path / "long.csv"
    path.write_text("Model,Params,Tokens,benchmark,accuracy\n" + "\n".join(rows) + "\n")
    return path


def test_a_long_tables_benchmarks_are_named_not_pooled(tmp_path):
    from scalinglab._errors import DataWarning

    path = _long_table(tmp_path)
    with pytest.warns(DataWarning, match=r"column 'benchmark' splits the runs into 2 groups.*--where benchmark="):
        select_downstream(path, "accuracy")
    one = select_downstream(path, "accuracy", where=["benchmark=MMLU"])
    assert one.result is not None
    res = CliRunner().invoke(app, ["downstream", str(path), "--y", "accuracy", "--at", "1e25", "--where",
                                   "benchmark=MMLU", "--json"])
    assert res.exit_code == 0, res.output
    assert "splits the runs" not in res.stderr
    ref = select_downstream({"flops": _ladder(n=8)["flops"], "accuracy": 100 * _ladder(n=8)["acc"]}, "accuracy")
    got = json.loads(res.stdout)["predictions"][0]
    assert got["value"] == pytest.approx(float(ref.predict(flops=1e25).value), rel=1e-3)  # Params '70M' read


@pytest.mark.parametrize(("cells", "words"), [
    (["25.9%", "30.1%", "128.0%", "40.2%"], r"long\.csv:3:acc: accuracy '128\.0%' is outside 0-100 %"),
    (["25.9%", "30.1", "35.0", "40.2"], r"long\.csv:2:acc: .*mixes percentages \(row 1: '25\.9%'"),
])
def test_impossible_or_two_scale_accuracies_are_refused(tmp_path, cells, words):
    from scalinglab._errors import DataError

    path = tmp_path / "long.csv"
    path.write_text("flops,acc\n" + "\n".join(f"{c:g},{a}" for c, a in zip([1e20, 1e21, 1e22, 1e23], cells,
                                                                          strict=True)) + "\n")
    with pytest.raises(DataError, match=words):
        select_downstream(path, "acc")


def test_fit_sigmoid_names_a_long_tables_benchmark_column(tmp_path):
    from scalinglab._errors import DataWarning
    from scalinglab.fit import fit

    with pytest.warns(DataWarning, match=r"column 'benchmark' splits the runs"):
        fit(_long_table(tmp_path), "sigmoid", x="flops", y="accuracy")


def test_a_prediction_below_the_smallest_model_says_so():
    d = _ladder()
    res = SigmoidPredictor("acc", floor=0.25).fit({"flops": d["flops"], "acc": d["acc"]})
    low = res.predict(flops=d["flops"].min() / 20)
    assert any("lies 20x below the smallest fitted model" in w for w in low.warnings), low.warnings
    assert not any("below" in w for w in res.predict(flops=d["flops"].max()).warnings)
    two = TwoStepPredictor(loss="task_bpb", accuracy="acc", floor=0.25).fit(d)
    assert any("below the smallest fitted model" in w for w in two.predict(flops=d["flops"].min() / 20).warnings)


def test_an_explicit_bootstrap_of_zero_is_kept_for_a_sigmoid():
    """0 means none (intervals from the covariance), as the error message for 1-9 resamples says; only the
    default (None) takes the downstream route's 100 resamples."""
    import pandas as pd

    from scalinglab.fit import fit

    d = _ladder()
    df = pd.DataFrame({"flops": d["flops"], "acc": d["acc"]})
    assert fit(df, "sigmoid", x="flops", y="acc", floor=0.25, bootstrap=0).bootstrap is None
    assert len(fit(df, "sigmoid", x="flops", y="acc", floor=0.25).bootstrap) >= 90
