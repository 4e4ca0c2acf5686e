"""``loss="auto"`` (the default): huber or asymmetric chosen per dataset by internal backtests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab._errors import ConvergenceWarning
from scalinglab.fit import DEFAULT_LOSS, fit

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def chinchilla(N, D, p=TRUTH):
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


def table(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, 8), 8)
    D = np.tile(np.logspace(9, 12, 8), 8) * np.exp(rng.normal(0, 0.1, 64))
    L = chinchilla(N, D)
    if kind == "symmetric":
        L = L * np.exp(rng.normal(0, 0.004, L.size))
    else:  # envelope: most runs sit on the law, the rest are badly tuned (1..15% worse, never better)
        bad = rng.random(L.size) < 0.5
        L = L * np.exp(0.0005 * rng.normal(size=L.size)) * np.where(bad, 1 + rng.uniform(0.01, 0.15, L.size), 1)
    return {"params": N, "tokens": D, "loss": L}


def test_default_is_auto():
    assert DEFAULT_LOSS == "auto"


def test_envelope_data_chooses_asymmetric_and_predicts_the_law():
    res = fit(table("envelope"), "chinchilla", calibrate=False)
    oc = res.diagnostics["objective_choice"]
    assert oc["chosen"] == "asymmetric" == res.loss["name"]
    assert oc["scores"]["asymmetric"] < oc["scores"]["huber"]
    assert oc["n_cuts"] >= 2 and len(oc["cuts"]) >= 2
    # the lower envelope IS the law here: the chosen fit predicts it at a 10x larger run
    assert res.predict(N=1e11, D=2e12).value == pytest.approx(chinchilla(1e11, 2e12), rel=0.01)
    huber = fit(table("envelope"), "chinchilla", loss="huber", calibrate=False)
    assert abs(huber.predict(N=1e11, D=2e12).value / chinchilla(1e11, 2e12) - 1) > 0.01


def test_symmetric_noise_keeps_huber():
    res = fit(table("symmetric", seed=1), "chinchilla", calibrate=False)
    oc = res.diagnostics["objective_choice"]
    assert oc["chosen"] == "huber" == res.loss["name"]
    for k, v in TRUTH.items():
        assert res.params[k] == pytest.approx(v, rel=0.1 if k in ("E", "alpha", "beta") else 0.5), k


def test_explicit_loss_skips_the_choice():
    res = fit(table("symmetric"), "chinchilla", loss="huber", calibrate=False)
    assert "objective_choice" not in res.diagnostics
    assert "objective_choice" not in res.summary()


def test_too_few_runs_keep_huber():
    d = {k: v[::8] for k, v in table("envelope").items()}  # 8 runs: no usable cut for 5 parameters
    with pytest.warns(ConvergenceWarning, match="weak trend"):  # 8 runs barely beat a constant: said so
        res = fit(d, "chinchilla", calibrate=False)
    oc = res.diagnostics["objective_choice"]
    assert oc["chosen"] == "huber" and oc["n_cuts"] == 0 and "too few" in oc["reason"]


def test_cli_json_reports_choice_and_scores(tmp_path):
    from scalinglab.cli import app

    d = table("envelope")
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{n},{t},{v}\n" for n, t, v in zip(*d.values(), strict=True)))
    r = CliRunner().invoke(app, ["fit", str(path), "--law", "chinchilla", "--json"])
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    oc = j["objective_choice"]
    assert oc["chosen"] == "asymmetric" and j["loss"]["name"] == "asymmetric"
    assert set(oc["scores"]) == {"huber", "asymmetric"}
    assert all(isinstance(v, float) for v in oc["scores"].values())
    assert oc["error_noise_ratio"] >= oc["min_error_noise_ratio"] > 0  # the gate let the asymmetric fit in
    text = CliRunner().invoke(app, ["fit", str(path), "--law", "chinchilla"]).output
    assert f"huber's backtest errors: {oc['error_noise_ratio']:.2g}x its run noise" in text
    r2 = CliRunner().invoke(app, ["fit", str(path), "--law", "chinchilla", "--loss", "huber", "--json"])
    assert json.loads(r2.stdout)["loss"]["name"] == "huber"


def test_public_datasets(shared_data):
    """Epoch's Chinchilla runs keep huber (the golden fit is unchanged); the OpenAthena IsoFLOP runs choose
    asymmetric. Both by the same rule (see bench/calibration.py-style numbers in the fit area's notes)."""
    import pandas as pd

    df = pd.read_csv(shared_data / "epoch_chinchilla_svg_extracted.csv").sort_values("loss").iloc[:-5]
    N = df["Model Size"].to_numpy(float)
    epoch = {"params": N, "tokens": df["Training FLOP"].to_numpy(float) / (6 * N), "loss": df["loss"].to_numpy(float)}
    res = fit(epoch, "chinchilla", calibrate=False)
    assert res.diagnostics["objective_choice"]["chosen"] == "huber"
    assert res.params["E"] == pytest.approx(1.8172, abs=0.026)
    oa = fit(shared_data / "openathena_isoflops_misfitting_extract.csv", "chinchilla", calibrate=False)
    oc = oa.diagnostics["objective_choice"]
    assert oc["chosen"] == "asymmetric"
    assert oc["mean_median_rel_error"]["asymmetric"] < oc["mean_median_rel_error"]["huber"]


def test_asymmetric_choice_calibrates_on_the_huber_reference(tmp_path):
    """When auto picks the asymmetric objective, the interval comes from the symmetric (Huber) fit's
    calibration: stored with the fit, used by predict, and surviving save/load."""
    from scalinglab.fit import FitResult

    data = table("envelope")
    res = fit(data, "chinchilla")
    assert res.loss["name"] == "asymmetric"
    ref = res.calibration["reference"]
    assert ref["loss"]["name"] == "huber" and len(ref["theta"]) == 5
    huber = fit(data, "chinchilla", loss="huber")
    # the reference is the Huber fit of the same data
    assert np.allclose(ref["theta"], huber.theta, rtol=1e-3)
    assert ref["noise"] == pytest.approx(huber.noise, rel=1e-3)
    p, ph = res.predict(N=1e11, D=2e12), huber.predict(N=1e11, D=2e12)
    lo, hi = p.interval
    assert lo <= p.value <= hi
    # the band is the Huber fit's calibrated band, widened only to take in the asymmetric point
    hlo, hhi = ph.interval
    # (to ~1%: the reference's cut fits are warm-started from the full fit, the bare Huber fit's start cold,
    # and on a cut that holds out half the runs the two land a fraction of a percent apart)
    assert lo == pytest.approx(min(hlo, p.value), rel=0.01) or lo <= hlo
    path = tmp_path / "fit.json"
    res.to_json(path)
    back = FitResult.load(path)
    assert back.calibration["reference"]["theta"] == pytest.approx(ref["theta"])
    assert back.predict(N=1e11, D=2e12).interval == pytest.approx(p.interval)


def test_public_openathena_holdout_interval(shared_data):
    """OpenAthena IsoFLOP runs, two largest budgets held out (the issue's protocol): the default fit picks
    the asymmetric point, and its 80% interval (calibrated on the Huber reference) covers 65..100% of the
    held-out runs with an interval score below the best fixed +-k% band around the same point."""
    from scalinglab.data import load_runs
    from scalinglab.fit._calibrate import interval_score

    df = load_runs(shared_data / "openathena_isoflops_misfitting_extract.csv").df
    lf = np.log10(df["flops"].to_numpy(float))
    budgets = np.unique(np.round(lf, 1))
    top = np.round(lf, 1) >= budgets[-2]
    res = fit(df[~top], "chinchilla")
    assert res.loss["name"] == "asymmetric"
    te = df[top]
    p = res.predict(level=0.8, N=te["params"].to_numpy(float), D=te["tokens"].to_numpy(float))
    v, (lo, hi), y = np.asarray(p.value), map(np.asarray, p.interval), te["loss"].to_numpy(float)
    lo, hi = np.asarray(lo), np.asarray(hi)
    assert 0.65 <= np.mean((lo <= y) & (y <= hi)) <= 1.0
    ours = interval_score(lo, hi, y, 0.8).mean()
    best = min(interval_score(v * (1 - k), v * (1 + k), y, 0.8).mean() for k in np.linspace(5e-4, 0.25, 500))
    assert ours < best


def test_asymmetric_considered_only_when_huber_errs_beyond_its_run_noise(monkeypatch):
    """The gate (``_ensemble.ERROR_NOISE``): the asymmetric fit is weighed only when the Huber fit's backtest
    median |relative error| is at least ERROR_NOISE x its run noise; the reported ratio is that quotient."""
    from scalinglab.fit import _ensemble

    data = table("envelope")
    oc = fit(data, "chinchilla", calibrate=False).diagnostics["objective_choice"]
    huber = fit(data, "chinchilla", loss="huber", calibrate=False)
    ratio = np.mean([c["median_0"] for c in oc["cuts"]]) / huber.noise
    assert oc["error_noise_ratio"] == pytest.approx(ratio, rel=1e-3)
    assert oc["chosen"] == "asymmetric" and ratio >= oc["min_error_noise_ratio"] == _ensemble.ERROR_NOISE
    monkeypatch.setattr(_ensemble, "ERROR_NOISE", 1.01 * ratio)  # the same backtests, a stricter gate
    kept = fit(data, "chinchilla", calibrate=False).diagnostics["objective_choice"]
    assert kept["chosen"] == "huber" and "run noise" in kept["reason"] and "run noise" in kept["criterion"]
    assert kept["scores"]["asymmetric"] < kept["scores"]["huber"]  # it would have won the backtests
    # the parameter-averaging stack (stack_fit / restack) applies the same gate
    st = _ensemble.stack_fit(data, "chinchilla", keep_members=True)
    assert _ensemble.restack(st, shrink=0.0, error_noise=0.0).loss["weight_asymmetric"] == 1.0
    held = _ensemble.restack(st, shrink=0.0, error_noise=1e6)
    assert held.loss["weight_asymmetric"] == 0.0 and held.diagnostics["stack"]["error_noise_ratio"] > 1
