"""CLI contracts of `fit`, `predict`, `backtest`, `compare` (typer CliRunner)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab import DataError
from scalinglab.cli import app

runner = CliRunner()
EPOCH = {"E": (1.8172, 0.026), "A": (482.01, 125), "B": (2085.43, 1293), "alpha": (0.3478, 0.015),
         "beta": (0.3658, 0.021)}


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def chinchilla_csv(tmp_path, epoch_chinchilla):
    N, D, L, _ = epoch_chinchilla
    path = tmp_path / "chinchilla.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(path, index=False)
    return path


@pytest.fixture
def synth_csv(tmp_path):
    rng = np.random.default_rng(0)
    N = 10 ** rng.uniform(7.5, 10, 120)
    D = 10 ** rng.uniform(9, 11.5, 120)
    L = (1.69 + 406.4 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(0.005 * rng.standard_normal(120))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(path, index=False)
    return path


def test_fit_json_golden(chinchilla_csv):
    d = _json(runner.invoke(app, ["fit", str(chinchilla_csv), "--law", "chinchilla", "--json"]))
    assert d["law"] == "chinchilla" and d["n_points"] == 240
    for k, (v, se) in EPOCH.items():
        assert abs(d["params"][k] - v) < se
        lo, hi = d["intervals"][k]
        assert lo <= d["params"][k] <= hi
    assert d["objective"] == pytest.approx(0.0010183, rel=1e-3)
    assert d["status"] == "success" and d["diagnostics"]["n_in_best_basin"] >= 1


def test_fit_out_then_predict(tmp_path, synth_csv):
    out = tmp_path / "fit.json"
    d = _json(runner.invoke(app, ["fit", str(synth_csv), "--law", "chinchilla", "--bootstrap", "50", "--seed",
                                  "1", "--out", str(out), "--json"]))
    assert out.exists() and d["n_bootstrap"] == 50
    p = _json(runner.invoke(app, ["predict", str(out), "N=7B", "D=140B", "--level", "0.9", "--json"]))
    truth = 1.69 + 406.4 * 7e9 ** -0.34 + 410.7 * 1.4e11 ** -0.28
    assert p["loss"] == pytest.approx(truth, rel=0.02)
    assert p["value"] == p["loss"] and p["level"] == 0.9
    lo, hi = p["interval"]
    assert lo < truth < hi
    assert set(p["extrapolation"]) >= {"flops", "N", "D"}
    assert isinstance(p["warnings"], list)
    short = tmp_path / "short.json"  # -o, as report and convert spell it
    d2 = _json(runner.invoke(app, ["fit", str(synth_csv), "--law", "chinchilla", "--bootstrap", "50", "--seed",
                                   "1", "-o", str(short), "--json"]))
    saved, saved_short = json.loads(out.read_text()), json.loads(short.read_text())
    assert d2["params"] == d["params"] and saved_short["theta"] == saved["theta"]


def test_predict_preset_contract():
    p = _json(runner.invoke(app, ["predict", "chinchilla-epoch", "N=70B", "D=1.4T", "--json"]))
    assert p["loss"] == pytest.approx(1.9739, abs=0.005)
    assert len(p["interval"]) == 2 and p["interval"][0] < p["loss"] < p["interval"][1]


def test_power_fit_on_examples(tmp_path):
    x = np.geomspace(1e3, 1e7, 30)
    path = tmp_path / "curve.csv"
    pd.DataFrame({"examples": x, "loss": 0.4 + 20 * x ** -0.25}).to_csv(path, index=False)
    out = tmp_path / "fit.json"
    d = _json(runner.invoke(app, ["fit", str(path), "--law", "power", "--x", "examples", "--y", "loss",
                                  "--out", str(out), "--json"]))
    assert d["params"]["alpha"] == pytest.approx(0.25, abs=0.01)
    p = _json(runner.invoke(app, ["predict", str(out), "examples=1e9", "--json"]))
    assert p["loss"] == pytest.approx(0.4 + 20 * 1e9 ** -0.25, rel=0.01)
    assert p["extrapolation"]["examples"] == pytest.approx(100.0)


def test_backtest_json(synth_csv):
    d = _json(runner.invoke(app, ["backtest", str(synth_csv), "--law", "chinchilla", "--cutoff-frac", "0.3",
                                  "--json"]))
    assert d["n_predictions"] == 36
    assert set(d["coverage"]) == {"0.5", "0.8", "0.95"}
    assert d["median_rel_error"] < 0.01 and d["max_rel_error"] < 0.05
    assert len(d["points"]) == 36 and "rel_error" in d["points"][0]


def test_compare_json(synth_csv):
    rows = _json(runner.invoke(app, ["compare", str(synth_csv), "--laws", "chinchilla,kaplan-nd", "--json"]))
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["law"] == "chinchilla"  # the generating law extrapolates best
    assert rows[0]["median_rel_error"] <= rows[1]["median_rel_error"]


def test_cli_errors_are_one_line(tmp_path):
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"params": [1e8, 2e8], "tokens": [1e9, 2e9], "loss": [3.0, 2.9]}).to_csv(path, index=False)
    r = runner.invoke(app, ["fit", str(path), "--law", "chinchilla", "--json"])
    assert r.exit_code == 2 and "cannot determine" in r.output
    r = runner.invoke(app, ["predict", "no-such-thing", "N=1B", "--json"])
    assert r.exit_code == 2


def test_fit_and_backtest_plot_png(tmp_path):
    """--plot writes a real PNG (signature, non-trivial size) and its path joins the JSON."""
    rng = np.random.default_rng(0)
    N = 10 ** rng.uniform(7, 9, 60)
    D = 10 ** rng.uniform(8.5, 10.5, 60)
    L = (1.69 + 406.4 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(0.005 * rng.standard_normal(60))
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"params": N, "tokens": D, "loss": L}).to_csv(csv, index=False)
    for cmd in (["fit", str(csv), "--law", "chinchilla"], ["backtest", str(csv), "--law", "chinchilla",
                                                            "--cutoff-frac", "0.3"]):
        png = tmp_path / f"{cmd[0]}.png"
        r = CliRunner().invoke(app, [*cmd, "--plot", str(png), "--json"])
        assert r.exit_code == 0, r.output
        d = json.loads(r.stdout)
        assert d["plot"] == str(png)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_fit_of_bits_per_byte_says_its_unit_everywhere(tmp_path):
    """A table whose loss is ``val_bpb`` fits as it is (the law's form does not care about the unit) and
    every output says bits/byte: the fit's conventions, its predictions, the CLI's fit, predict and plan."""
    from scalinglab.fit import FitResult, fit

    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 1e9, 6), 4)
    D = np.tile(np.geomspace(1e9, 1e11, 4), 6)
    bpb = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) / np.log(2) / 3.5
    path = tmp_path / "bpb.csv"
    pd.DataFrame({"N": N, "D": D, "val_bpb": bpb * np.exp(rng.normal(0, 0.003, N.size))}).to_csv(path, index=False)
    res = fit(str(path), "chinchilla", loss="huber")
    assert res.conventions["loss_unit"] == "bits/byte" and res.loss_unit == "bits/byte"
    # the exponents do not depend on the unit; E and A, B scale by 1 / (ln 2 * 3.5)
    assert res.params["alpha"] == pytest.approx(0.34, abs=0.03) and res.params["beta"] == pytest.approx(0.28, abs=0.03)
    assert res.params["E"] == pytest.approx(1.69 / np.log(2) / 3.5, rel=0.05)
    p = res.predict(N=7e9, D=1.4e11)
    assert p.unit == "bits/byte" and p.to_dict()["unit"] == "bits/byte"
    assert FitResult.load(res.to_json(tmp_path / "f.json")).loss_unit == "bits/byte"
    # a loss in nats/token says so; a fitted metric that is not a loss has no unit
    both = pd.read_csv(path).assign(val_loss=lambda d: d["val_bpb"] * np.log(2) * 3.5)
    assert fit(both, "chinchilla", loss="huber").loss_unit == "nats/token"
    assert fit(both, "chinchilla", loss="huber", y="val_bpb").loss_unit == "bits/byte"
    assert fit(both.assign(score=both["val_bpb"] * 1.1), "chinchilla", y="score").loss_unit is None
    # the source's name of the column read as the loss still names it
    named = fit(str(path), "chinchilla", loss="huber", y="val_bpb")
    assert named.loss_unit == "bits/byte" and named.params == pytest.approx(res.params)
    with pytest.raises(DataError, match="no column 'c4_bpb' to fit"):  # a name that is not there is not the loss
        fit(both, "chinchilla", y="c4_bpb")
    runner = CliRunner()
    r = runner.invoke(app, ["fit", str(path), "--law", "chinchilla", "--out", str(tmp_path / "g.json")])
    assert r.exit_code == 0, r.output
    assert "loss in bits/byte" in r.output
    r = runner.invoke(app, ["predict", str(tmp_path / "g.json"), "N=7B", "D=140B"])
    assert r.exit_code == 0 and r.output.splitlines()[0].endswith("bits/byte"), r.output
    r = runner.invoke(app, ["predict", "chinchilla-epoch", "N=7B", "D=140B", "--json"])
    assert json.loads(r.stdout)["unit"] == json.loads(r.stdout)["loss_unit"] == "nats/token"
    r = runner.invoke(app, ["plan", "--fit", str(tmp_path / "g.json"), "-C", "1e21"])
    assert r.exit_code == 0 and "predicted loss (bits/byte)" in r.output, r.output
    r = runner.invoke(app, ["validate", str(path)])
    assert "loss in bits/byte" in r.output


def test_compare_fits_accuracy_laws_as_fit_does_and_fails_loudly(tmp_path):
    """`compare` fitted accuracy laws with Huber on log residuals (its --loss default) where `fit` and
    `backtest` use the accuracy route: every sigmoid failed on a benchmark table `backtest` handled, and the
    command still exited 0 with a table of failures."""
    import numpy as np

    rng = np.random.default_rng(0)
    C = np.logspace(19, 24, 12)
    acc = 0.25 + 0.65 / (1 + np.exp(-1.5 * (np.log10(C) - 22.5))) + rng.normal(0, 0.01, C.size)
    path = tmp_path / "bench.csv"
    path.write_text("flops,MMLU\n" + "\n".join(f"{c:.6g},{a:.4f}" for c, a in zip(C, acc, strict=True)) + "\n")
    rows = _json(runner.invoke(app, ["compare", str(path), "--laws", "sigmoid,sigmoid-bounded", "--x", "flops",
                                     "--y", "MMLU", "--json"]))
    assert [r.get("error") for r in rows] == [None, None]
    assert all(r["median_rel_error"] < 0.1 for r in rows)
    flat = tmp_path / "flat.csv"
    flat.write_text("flops,MMLU\n" + "\n".join(f"{c:.6g},{0.25 + 0.001 * (i % 2):.4f}" for i, c in enumerate(C)) + "\n")
    r = runner.invoke(app, ["compare", str(flat), "--laws", "power", "--x", "flops", "--y", "MMLU"])
    assert r.exit_code == 2 and "every law failed on every backtest cut: power:" in r.stderr
    assert "__y__" not in r.stderr


def test_backtest_and_compare_take_a_chance_floor(tmp_path):
    import numpy as np

    from scalinglab.fit import backtest_sweep
    from scalinglab.laws import get_law

    rng = np.random.default_rng(1)
    C = np.logspace(19, 24, 12)
    acc = 0.25 + 0.65 / (1 + np.exp(-1.5 * (np.log10(C) - 22.5))) + rng.normal(0, 0.01, C.size)
    path = tmp_path / "bench.csv"
    path.write_text("flops,MMLU\n" + "\n".join(f"{c:.6g},{a:.4f}" for c, a in zip(C, acc, strict=True)) + "\n")
    got = _json(runner.invoke(app, ["backtest", str(path), "--law", "sigmoid", "--x", "flops", "--y", "MMLU",
                                    "--floor", "0.25", "--json"]))
    ref = backtest_sweep(str(path), get_law("sigmoid", floor=0.25), cutoff_fracs=(0.1, 0.2, 0.3, 0.4, 0.5),
                         x="flops", y="MMLU")
    assert got["median_rel_error"] == pytest.approx(ref.median_rel_error, rel=1e-9)
    err = [abs(p["predicted"] - p["actual"]) for p in got["points"]]  # accuracy points, not relative
    assert got["median_abs_error"] == pytest.approx(float(np.median(err)), rel=1e-12)
    assert got["max_abs_error"] == pytest.approx(max(err), rel=1e-12)
    rows = _json(runner.invoke(app, ["compare", str(path), "--laws", "sigmoid,sigmoid-bounded", "--x", "flops",
                                     "--y", "MMLU", "--floor", "0.25", "--json"]))
    assert len(rows) == 2 and all(r.get("error") is None for r in rows)
    r = runner.invoke(app, ["compare", str(path), "--laws", "power", "--x", "flops", "--y", "MMLU", "--floor", "0.25"])
    assert r.exit_code == 2 and "--floor fixes the chance level of a sigmoid law" in r.stderr


def test_predict_says_n_a_rather_than_a_zero_width_interval():
    r = runner.invoke(app, ["predict", "kaplan-2020-nd", "N=70B", "D=1.4T"])
    assert r.exit_code == 0, r.output
    assert "interval n/a (no parameter uncertainty known)" in r.stdout and "80% interval" not in r.stdout
    r = runner.invoke(app, ["predict", "chinchilla-epoch", "N=70B", "D=1.4T"])
    assert "80% interval [" in r.stdout


def test_fit_json_carries_the_data_warnings_stderr_shows(tmp_path):
    """A script reading `fit --json` missed the warnings that matter most (an lr sweep fitted as one ladder):
    they went to stderr only."""
    import numpy as np

    rows = []
    for n in (1e7, 3e7, 1e8, 3e8):
        for tpp in (10, 20, 40):
            for lr, pen in ((1e-3, 1.0), (3e-3, 1.05)):
                loss = (1.69 + 406.4 / n ** 0.34 + 410.7 / (tpp * n) ** 0.28) * pen
                rows.append(f"{n:g},{tpp * n:g},{lr:g},{loss:.5f}")
    path = tmp_path / "sweep.csv"
    path.write_text("params,tokens,lr,loss\n" + "\n".join(rows) + "\n")
    with pytest.warns(Warning):  # still raised as warnings (the console shows them on stderr)
        d = _json(runner.invoke(app, ["fit", str(path), "--law", "chinchilla", "--json"]))
    assert any("lr varies among the runs" in w and "--best-of lr" in w for w in d["warnings"]), d["warnings"]
    assert len(d["warnings"]) == len(set(d["warnings"]))
    assert np.isfinite(d["params"]["E"])


def test_cli_keys_the_docs_promise(tmp_path, synth_csv):
    """predict took 0.8 whatever level the fit was saved at; compare --json had no by_extrapolation; downstream
    --json no alternates."""
    r = CliRunner().invoke(app, ["fit", str(synth_csv), "--law", "chinchilla", "--level", "0.95",
                                 "--out", str(tmp_path / "f.json")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["predict", str(tmp_path / "f.json"), "N=7B", "D=140B", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["level"] == 0.95
    r = CliRunner().invoke(app, ["predict", str(tmp_path / "f.json"), "N=7B", "D=140B", "--level", "0.5", "--json"])
    assert json.loads(r.stdout)["level"] == 0.5
    r = CliRunner().invoke(app, ["compare", str(synth_csv), "--laws", "chinchilla,kaplan-nd", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    ok = [row for row in rows if row["error"] is None]
    assert ok and all(isinstance(row["by_extrapolation"], list) and row["by_extrapolation"] for row in ok)
    acc = tmp_path / "acc.csv"
    C = np.logspace(18, 21, 12)
    pd.DataFrame({"flops": C, "acc": 0.25 + 0.5 / (1 + np.exp(-1.5 * (np.log10(C) - 20.5)))}).to_csv(acc, index=False)
    r = CliRunner().invoke(app, ["downstream", str(acc), "--y", "acc", "--floor", "0.25", "--at", "1e22", "--json"])
    assert r.exit_code == 0, r.output
    assert isinstance(json.loads(r.stdout)["alternates"], list)
