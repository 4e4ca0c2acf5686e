"""Calibrated prediction intervals: coverage of held-out larger runs on synthetic families with known truth
(well specified, noisier, and misspecified: a broken power law fitted with Chinchilla's law), JSON round
trip of the calibration, levels, fallback on tiny tables, and the backtest coverage report."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app
from scalinglab.fit import FitResult, fit
from scalinglab.fit._calibrate import CALIBRATION_METHOD

E, A, B, AL, BE = 1.69, 406.4, 410.7, 0.34, 0.28


def chinchilla(N, D):
    return E + A * N ** -AL + B * D ** -BE


def broken(N, D):
    """The N term steepens smoothly past N_b = 3e8 (Caballero et al. 2023 form): Chinchilla's law is wrong."""
    return E + A * N ** -AL * (1 + (N / 3e8) ** 2) ** (-0.06) + B * D ** -BE


def isoflop(fn, seed, noise, budgets=np.geomspace(1e17, 1e20, 8), k=9):
    rng = np.random.default_rng(seed)
    G = (AL * A / (BE * B)) ** (1 / (AL + BE))
    rows = []
    for C in budgets:
        n_opt = G * (C / 6) ** (BE / (AL + BE))
        for N in n_opt * np.geomspace(1 / 5, 5, k) * np.exp(0.1 * rng.standard_normal(k)):
            D = C / (6 * N)
            rows.append((N, D, C, fn(N, D) * np.exp(noise * rng.standard_normal())))
    return pd.DataFrame(rows, columns=["params", "tokens", "budget", "loss"])


FAMILIES = {"chinchilla-0.5%": (chinchilla, 0.005), "chinchilla-2%": (chinchilla, 0.02),
            "broken-0.5%": (broken, 0.005)}


def held_out_hits(fn, noise, seeds, level=0.8) -> list[float]:
    """Per table: fit on all but the two largest budgets, the fraction of the ACTUAL (noisy) runs of those
    two that the nominal-``level`` intervals contain."""
    out = []
    for seed in seeds:
        df = isoflop(fn, seed, noise)
        top = df.budget >= np.sort(df.budget.unique())[-2]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit(df[~top], "chinchilla")
        te = df[top]
        p = res.predict(level=level, N=te.params.to_numpy(), D=te.tokens.to_numpy())
        lo, hi = p.interval
        y = te.loss.to_numpy()
        assert np.all((lo <= p.value) & (p.value <= hi))
        out.append(float(np.mean((lo <= y) & (y <= hi))))
    return out


#: First seed of each family's tables: far from the seeds the calibration's prior weight was tuned on
#: (bench/calibration.py: 0..39 of each family), so no constant of the package was chosen on these tables.
FRESH_SEED = 60_000


def _pooled_coverage(n_seeds: int, first: int = FRESH_SEED) -> tuple[float, dict, int]:
    """Coverage pooled over the three families, each on its OWN seeds (one seed gives alike tables across
    families); returns (pooled, per family, held-out points per family). Each table holds out its two largest
    budgets: 2 × 9 = 18 runs."""
    per = {name: held_out_hits(fn, noise, range(first + 1000 * i, first + 1000 * i + n_seeds))
           for i, (name, (fn, noise)) in enumerate(FAMILIES.items())}
    pooled = float(np.mean([c for v in per.values() for c in v]))
    return pooled, {k: float(np.mean(v)) for k, v in per.items()}, 18 * n_seeds


def test_nominal_80_covers_80_percent_within_sampling_error():
    """36 tables (12 per family) on fresh seeds, 648 held-out runs: pooled coverage within 0.8 ± 3 binomial
    standard errors (0.753..0.847), each family (216 runs) within 0.718..0.882."""
    from _coverage import assert_coverage

    pooled, per, n = _pooled_coverage(12)
    assert_coverage(pooled, 0.8, 3 * n, what=f"pooled {per}")
    for name, c in per.items():
        assert_coverage(c, 0.8, n, what=name)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured 2026-12-06 on seeds 60000+ (120 tables, 2160 held-out runs): pooled "
                                       "coverage 0.837 of nominal 0.80, above 0.8 + 3 s.e. = 0.826 (broken-0.5%: "
                                       "0.874 of 720, above 0.845): the calibrated intervals are too wide")
def test_nominal_80_covers_80_percent_many_seeds():
    """120 tables, 2160 held-out runs: within 0.8 ± 3 binomial s.e. (0.774..0.826); families 0.755..0.845."""
    from _coverage import assert_coverage

    pooled, per, n = _pooled_coverage(40)
    assert_coverage(pooled, 0.8, 3 * n, what=f"pooled {per}")
    for name, c in per.items():
        assert_coverage(c, 0.8, n, what=name)


def test_calibration_learnt_and_stored(tmp_path):
    df = isoflop(broken, 0, 0.005)
    res = fit(df, "chinchilla")
    cal = res.calibration
    assert cal["source"] == "backtest" and cal["n_cuts"] >= 3 and cal["method"] == CALIBRATION_METHOD
    assert set(cal["quantile_lines"]) >= {"0.1", "0.5", "0.9"}
    back = FitResult.load(res.to_json(tmp_path / "fit.json"))
    assert back.calibration == json.loads(json.dumps(cal))
    p1 = res.predict(N=3e10, D=6e11, level=0.8)
    p2 = back.predict(N=3e10, D=6e11, level=0.8)
    assert p1.interval == pytest.approx(p2.interval)
    # wider level -> wider interval, nested
    p95 = back.predict(N=3e10, D=6e11, level=0.95)
    p50 = back.predict(N=3e10, D=6e11, level=0.5)
    assert p95.interval[0] < p2.interval[0] < p50.interval[0] < p50.interval[1] < p2.interval[1] < p95.interval[1]
    # farther extrapolation -> wider interval (relative)
    far = back.predict(N=3e12, D=6e13, level=0.8)
    assert (far.interval[1] - far.interval[0]) / far.value > (p2.interval[1] - p2.interval[0]) / p2.value


def test_misspecification_detected_and_interval_leans():
    """The broken law keeps falling faster than Chinchilla's: the backtests see larger runs land below the
    plain law (the median error line drifts down with distance) and the band contains the truth far out."""
    df = isoflop(broken, 1, 0.003)
    res = fit(df, "chinchilla")
    N, D = 2e10, 4e11
    p = res.predict(N=N, D=D, level=0.8)
    lo, hi = p.interval
    assert lo <= broken(N, D) <= hi
    a, b = res.calibration["quantile_lines"]["0.5"]
    assert b < 0


def test_too_few_runs_fall_back_to_prior():
    rng = np.random.default_rng(0)
    N = 10 ** rng.uniform(8, 9, 8)
    D = 10 ** rng.uniform(9, 10, 8)
    res = fit({"params": N, "tokens": D, "loss": chinchilla(N, D)}, "chinchilla")
    assert res.calibration["source"] == "prior" and "too few" in res.calibration["reason"]
    p = res.predict(N=1e10, D=1e11)
    assert p.interval[0] < p.value < p.interval[1]
    off = fit(isoflop(chinchilla, 0, 0.005), "chinchilla", calibrate=False)
    assert off.calibration.get("source") != "backtest"


def test_run_noise_leaves_out_the_runs_a_robust_fit_passes_through():
    """A least-absolute-deviations-like fit of p parameters interpolates p runs: with their zero residuals the
    plain MAD of 9 residuals at noise 0.01 reads far below it; leaving out the p smallest reads it."""
    from scalinglab.fit._predict import robust_scale

    rng = np.random.default_rng(4)
    reads = []
    for _ in range(400):
        r = np.concatenate([np.zeros(5), 0.01 * rng.standard_normal(4)])
        reads.append((robust_scale(r)[0], robust_scale(r, 5)[0]))
    plain, fair = np.median(reads, axis=0)
    assert plain < 0.002 and 0.007 < fair < 0.013
    r = 0.01 * rng.standard_normal(4000)  # many runs: both read the noise
    assert robust_scale(r)[0] == pytest.approx(0.01, rel=0.05) and robust_scale(r, 5)[0] == pytest.approx(0.01, rel=0.05)
    assert robust_scale(np.zeros(3), 5)[0] == 0.0 and np.isnan(robust_scale(np.array([np.nan]), 5)[0])


def _small_ladder(seed: int, n_budgets: int, per: int, noise: float = 0.01) -> pd.DataFrame:
    """A compute-optimal-ish ladder of ``n_budgets`` x ``per`` runs from 1e17 to 1e19 FLOPs (Chinchilla's law)."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in np.geomspace(1e17, 1e19, n_budgets):
        for k in np.linspace(-0.5, 0.5, per):
            N = np.sqrt(C / 120) * 10 ** k
            D = C / (6 * N)
            rows.append((N, D, chinchilla(N, D) * np.exp(noise * rng.standard_normal())))
    return pd.DataFrame(rows, columns=["params", "tokens", "loss"])


@pytest.mark.parametrize(("n_budgets", "per"), [(3, 3), (4, 4)])
def test_a_small_ladders_band_holds_its_level(n_budgets, per):
    """9 and 16 runs at 1 % noise, predicted at 10x and 100x their largest compute: the 80 % bands cover the
    actual runs at least 75 % of the time over 20 seeds. Before, the prior rule's unit was the plain MAD of the
    fit (0.1 % for 9 runs) and 16 runs were calibrated on 7 held-out predictions: 30 % and 73 %."""
    hits = []
    for seed in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit(_small_ladder(seed, n_budgets, per), "chinchilla")
        assert res.calibration["source"] == "prior"
        C = np.array([1e20, 1e21])
        N = np.sqrt(C / 120)
        D = C / (6 * N)
        y = chinchilla(N, D) * np.exp(0.01 * np.random.default_rng(10_000 + seed).standard_normal(2))
        lo, hi = res.predict(N=N, D=D, level=0.8).interval
        hits += list((lo <= y) & (y <= hi))
    assert np.mean(hits) >= 0.75, np.mean(hits)


def test_the_prior_rules_band_does_not_take_the_sandwich_factor():
    """The parameters' covariance carries the objective's sandwich factor (for honest parameter intervals);
    the prior rule's band, whose constants were learnt without it, does not: a 9-run Huber fit's band equals
    that of the same fit recorded as least squares with the covariance a factor-free estimate would have."""
    import dataclasses

    from scalinglab.fit._objectives import sandwich_factor
    from scalinglab.fit._predict import robust_scale

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(_small_ladder(2, 3, 3), "chinchilla", loss="huber")
    assert res.calibration["source"] == "prior"
    sigma = max(res.noise, robust_scale(np.asarray(res.residuals), 5)[0])
    k = sandwich_factor(res.loss, sigma)
    assert 1.05 < k < 1.26  # Huber at delta 1e-3 with run noise of about 1 %
    plain = dataclasses.replace(res, loss={"name": "ls"}, covariance=res.covariance / k**2)
    C = np.array([1e20, 1e21])
    N = np.sqrt(C / 120)
    band = res.predict(N=N, D=C / (6 * N), warn=False).interval
    assert np.allclose(band, plain.predict(N=N, D=C / (6 * N), warn=False).interval, rtol=1e-12)


def test_too_few_held_out_predictions_fall_back_to_prior():
    """Two backtest cuts with fewer held-out predictions than quantile lines: the prior rule, saying why."""
    from scalinglab.fit._calibrate import MIN_PREDICTIONS, QR_TAUS, calibrate_scores

    cut = {"e": np.zeros(4), "d": np.full(4, 0.3), "sp": np.zeros(4), "noise": 0.01, "n_train": 12, "offset": 1.0}
    df = _small_ladder(0, 4, 4)

    class Data:
        n, frame, X = len(df), df, {"N": df.params.to_numpy(), "D": df.tokens.to_numpy()}

    from scalinglab.laws import get_law

    cal = calibrate_scores([cut, cut], Data, get_law("chinchilla"))
    assert MIN_PREDICTIONS == len(QR_TAUS) + 1 and cal["source"] == "prior"
    assert cal["reason"] == "8 held-out predictions in 2 backtest cuts of 16 runs: too few to draw 9 quantile lines"
    more = calibrate_scores([cut, cut, cut], Data, get_law("chinchilla"))
    assert more["source"] == "backtest" and more["n_predictions"] == 12


def _cli_backtest(tmp_path, seed: int = 7003) -> dict:
    path = tmp_path / "iso.csv"
    isoflop(chinchilla, seed, 0.005).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["backtest", str(path), "--law", "chinchilla", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.xfail(strict=True, reason="measured 2026-12-06 (seed 7003): the pooled backtest's 50% intervals cover "
                                       "0.78 of 90 held-out runs (window 0.34..0.66) and the 80% ones 0.91 "
                                       "(0.67..0.93): intervals too wide at the lower levels")
def test_backtest_cli_coverage_within_sampling_error(tmp_path):
    """Every level's coverage within p ± 3 binomial s.e. of the number of held-out predictions."""
    from _coverage import assert_coverage

    d = _cli_backtest(tmp_path, 7003)
    for level, cov in d["coverage"].items():
        assert_coverage(cov, float(level), d["n_predictions"], what=f"backtest {level}")


def test_backtest_cli_reports_coverage_over_all_cuts(tmp_path):
    d = _cli_backtest(tmp_path, 7003)
    assert set(d["coverage"]) == {"0.5", "0.8", "0.95"}
    assert isinstance(d["cutoff"], list) and len(d["cutoff"]) >= 3  # pooled over cuts
    assert d["n_predictions"] == len(d["points"]) > 72
    assert d["coverage"]["0.5"] <= d["coverage"]["0.8"] <= d["coverage"]["0.95"]  # nested intervals
    assert d["median_rel_error"] < 0.01 and d["max_rel_error"] < 0.05
    bins = d["by_extrapolation"]
    assert sum(b["n_predictions"] for b in bins) == d["n_predictions"]
    assert all({"median_rel_error", "max_rel_error", "coverage"} <= set(b) for b in bins)


def test_fit_law_auto_reports_choice_and_runner_up(tmp_path):
    path = tmp_path / "iso.csv"
    isoflop(chinchilla, 2, 0.005).to_csv(path, index=False)
    r = CliRunner().invoke(app, ["fit", str(path), "--law", "auto", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["law"] == "chinchilla" == d["auto"]["law"]  # the generating law wins the backtest
    auto = d["auto"]
    assert auto["method"] == "lawstack/v1" and auto["objective"] == "huber"  # symmetric noise: not the envelope
    assert {(r["law"], r["objective"]) for r in auto["ranking"]} == {
        ("chinchilla", "huber"), ("chinchilla", "asymmetric"), ("chinchilla-joint", "huber")}
    assert [r["rank"] for r in auto["ranking"]] == [1, 2, 3]
    assert auto["runner_up"] in ("chinchilla", "chinchilla-joint")
    fc = auto["forecast_change"]
    chosen_key = [k for k in fc if k not in ("at", "rel_difference")][0]
    assert fc[chosen_key] == pytest.approx(chinchilla(fc["at"]["N"], fc["at"]["D"]), rel=0.01)
    assert np.isfinite(fc["rel_difference"])
    # cuts won: every member scored on the same cuts; the chosen one won the most
    wins = {(r["law"], r["objective"]): r["wins"] for r in auto["ranking"]}
    assert auto["rule"] == "wins" and auto["win_tolerance"] == pytest.approx(1.05)
    assert all(0 <= w <= auto["n_cuts"] for w in wins.values()) and wins[("chinchilla", "huber")] == max(wins.values())
    text = CliRunner().invoke(app, ["fit", str(path)])
    assert text.exit_code == 0, text.output
    won = f"chinchilla (huber) {wins[('chinchilla', 'huber')]}/{auto['n_cuts']}"
    assert "backtest cuts won (median and max error within 5% of the better bare Chinchilla fit's)" in text.output
    assert won in text.output
    # the gate: the share of cuts on which Chinchilla-Huber's backtest forecasts erred one way
    assert auto["first_member"] == ["chinchilla", "huber"] and auto["min_sign_agreement"] == pytest.approx(0.5)
    assert 0.5 <= auto["sign_agreement"] <= 1.0
    assert auto["min_error_noise_ratio"] == pytest.approx(1.25) and auto["error_noise_ratio"] > 0
    assert (f"chinchilla (huber)'s backtest errors: {auto['error_noise_ratio']:.2g}x its run noise (other members "
            "considered from 1.25x):") in text.output
    assert auto["others_considered"] is (auto["error_noise_ratio"] >= 1.25)
    assert ("the other members were considered" in text.output) is auto["others_considered"]
    assert re.search(r"compute-optimal exponents: a = 0\.\d{4} \[0\.\d{4}, 0\.\d{4}\], b = 0\.\d{4} \[0\.\d{4}, "
                     r"0\.\d{4}\]", text.output)


@pytest.mark.parametrize("tau", [0.1, 0.5, 0.9])
def test_quantile_line_reaches_the_primal_optimum(tau):
    """The dual solve of the weighted quantile regression gives the primal LP's minimum check loss, and a
    noiseless line back exactly."""
    from scipy.optimize import linprog

    from scalinglab.fit._calibrate import quantile_line

    rng = np.random.default_rng(3)
    n = 80
    d = np.r_[np.zeros(20), rng.uniform(0, 1.5, n - 20)]  # many ties at d = 0, as backtests have
    s = 0.3 + 0.8 * d + rng.standard_t(3, n)
    w = rng.uniform(0.2, 1.0, n)

    def check(a, b):
        r = s - a - b * d
        return float(np.sum(w * np.where(r >= 0, tau * r, (tau - 1) * r)))

    c = np.concatenate([[0.0, 0.0], tau * w, (1.0 - tau) * w])
    A_eq = np.hstack([np.ones((n, 1)), d[:, None], np.eye(n), -np.eye(n)])
    primal = linprog(c, A_eq=A_eq, b_eq=s, bounds=[(None, None)] * 2 + [(0, None)] * (2 * n), method="highs")
    a, b = quantile_line(s, d, w, tau)
    assert check(a, b) == pytest.approx(primal.fun, rel=1e-9, abs=1e-12)
    a, b = quantile_line(0.3 + 0.8 * d, d, w, tau)
    assert (a, b) == pytest.approx((0.3, 0.8), abs=1e-9)
