"""Backtests, law comparison, interval coverage and Chinchilla's three approaches on known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab import FitError
from scalinglab.fit import (
    approach1_envelope,
    approach2_isoflop,
    approach3_parametric,
    backtest,
    backtest_sweep,
)

ALPHA, BETA = 0.34, 0.28
A_TRUE = BETA / (ALPHA + BETA)  # N_opt ~ C^a


def law(N, D):
    return 1.69 + 406.4 * N ** -ALPHA + 410.7 * D ** -BETA


def isoflop_table(seed=0, noise=0.003, budgets=np.geomspace(1e18, 1e21, 7), k=9):
    rng = np.random.default_rng(seed)
    G = (ALPHA * 406.4 / (BETA * 410.7)) ** (1 / (ALPHA + BETA))
    rows = []
    for C in budgets:
        n_opt = G * (C / 6) ** A_TRUE
        for N in n_opt * np.geomspace(1 / 4, 4, k):
            D = C / (6 * N)
            rows.append((N, D, C, law(N, D) * np.exp(noise * rng.standard_normal())))
    return pd.DataFrame(rows, columns=["params", "tokens", "budget", "loss"])


def test_backtest_cut_is_by_largest_budgets():
    df = isoflop_table()
    bt = backtest(df, "chinchilla", cutoff_frac=0.3)
    # 30% of 63 runs -> 19 runs; ties at a budget stay together -> the 3 largest budgets (27 runs)
    assert bt.by in ("budget", "flops") and bt.n_predictions == 27 and bt.n_train == 36
    assert bt.median_rel_error < 0.005
    assert set(bt.coverage) == {"0.5", "0.8", "0.95"}
    assert all(p["extrapolation"] > 1 for p in bt.points)
    # its repr is the summary a notebook shows, not every held-out point (27 of them here)
    text = repr(bt)
    assert "points=" not in text and "by_extrapolation=" not in text and len(text) < 600
    assert "n_predictions=27" in text and f"median_rel_error={bt.median_rel_error!r}" in text


def test_interval_coverage_on_well_specified_data():
    """Nominal 80% intervals cover 0.8 ± 3 binomial standard errors of the 108 held-out larger runs of four
    tables (seeds no constant was tuned on): 0.685..0.915."""
    from _coverage import assert_coverage

    hits, n = 0.0, 0
    for seed in range(7001, 7005):
        bt = backtest(isoflop_table(seed=seed), "chinchilla", cutoff_frac=0.3)
        hits += bt.coverage["0.8"] * bt.n_predictions
        n += bt.n_predictions
    assert n == 4 * 27
    assert_coverage(hits / n, 0.8, n, what="backtest 80%")


def test_backtest_sweep_pools_cutoffs():
    df = isoflop_table()
    sw = backtest_sweep(df, "chinchilla", cutoff_fracs=(0.1, 0.3, 0.5))
    assert len(sw.cutoff) == 3 and len(sw.fits) == 3
    assert sw.n_predictions == sum(1 for _ in sw.points)
    with pytest.raises(FitError):
        backtest(df.iloc[:6], "chinchilla", cutoff_frac=0.9)


def test_the_default_backtest_is_the_default_fit_also_on_a_compute_only_table():
    """law defaults to auto (fit's default): the stack on a parameter + token table; on a table of compute and
    loss alone (the default used to be chinchilla, which needs N and D) the power law in flops, whose
    forecasts of L = 1.7 + 3 (C/1e15)^-0.15 at 1 % noise land within a few per cent."""
    df = isoflop_table()
    sw = backtest_sweep(df, cutoff_fracs=(0.3,))
    assert sw.law == "auto" and {p["law"] for p in sw.points} <= {"chinchilla (huber)", "chinchilla (asymmetric)",
                                                                  "chinchilla-joint (huber)"}
    rng = np.random.default_rng(0)
    C = np.geomspace(1e17, 1e21, 24)
    only = pd.DataFrame({"flops": C, "loss": (1.7 + 3 * (C / 1e15) ** -0.15) * np.exp(rng.normal(0, 0.01, 24))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(only)
    assert bt.law == "power" and bt.n_train == 16 and bt.n_predictions == 8  # the largest 30 %, rounded up
    assert bt.median_rel_error < 0.03 and bt.fits[0].params["alpha"] == pytest.approx(0.15, abs=0.05)


def test_backtest_errors_on_public_isoflop_data(shared_data):
    """Real IsoFLOP runs: errors stay at the percent level."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(shared_data / "openathena_isoflops_misfitting_extract.csv", "chinchilla", cutoff_frac=0.2)
    assert bt.median_rel_error < 0.04


@pytest.mark.xfail(strict=True, reason="measured 2026-12-06: nominal 95% intervals cover 31 of 41 (0.76) held-out "
                                       "public runs, below 0.95 - 3 binomial s.e. = 0.85: the intervals are too "
                                       "narrow out of sample on this table (open: calibration on real data)")
def test_backtest_coverage_on_public_isoflop_data(shared_data):
    """Real IsoFLOP runs: the 95% interval covers 0.95 ± 3 binomial standard errors of the held-out runs."""
    from _coverage import assert_coverage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = backtest(shared_data / "openathena_isoflops_misfitting_extract.csv", "chinchilla", cutoff_frac=0.2)
    assert_coverage(bt.coverage["0.95"], 0.95, bt.n_predictions, what="public 95%")


def test_three_approaches_recover_exponent():
    df = isoflop_table(noise=0.002)
    a3 = approach3_parametric(df, bootstrap=100)
    assert a3.a == pytest.approx(A_TRUE, abs=0.01)
    assert a3.a_interval[0] - 0.01 <= A_TRUE <= a3.a_interval[1] + 0.01
    a2 = approach2_isoflop(df, bootstrap=30)
    assert a2.a == pytest.approx(A_TRUE, abs=0.04)
    assert a2.extra["corrected"]["a"] == pytest.approx(A_TRUE, abs=0.01)
    assert any("biased" in w for w in a2.warnings)
    assert a2.a + a2.b == pytest.approx(1.0, abs=1e-9)
    a1 = approach1_envelope(df, bootstrap=30)
    assert a1.a == pytest.approx(A_TRUE, abs=0.1)
    for r in (a1, a2, a3):
        lo, hi = r.a_interval
        assert lo <= hi


def test_a_backtest_says_which_side_misses_and_what_the_width_costs():
    """Coverage alone hid a band whose 80 % 'coverage' came from a useless low tail while every miss was a run
    worse than forecast. Per level: the share above and below the interval (with the share inside, all runs),
    the median width relative to the prediction, and the mean interval score relative to the actual."""
    bt = backtest(isoflop_table(seed=3), "chinchilla", cutoff_frac=0.3)
    for lv in ("0.5", "0.8", "0.95"):
        m = bt.misses[lv]
        assert m["above"] + m["below"] + bt.coverage[lv] == pytest.approx(1.0)
        lo, hi = np.array([p[f"interval_{lv}"] for p in bt.points]).T
        y = np.array([p["actual"] for p in bt.points])
        pred = np.array([p["predicted"] for p in bt.points])
        assert m["above"] == pytest.approx(np.mean(y > hi)) and m["below"] == pytest.approx(np.mean(y < lo))
        assert bt.interval_width[lv] == pytest.approx(np.median((hi - lo) / pred))
        a = 1 - float(lv)
        score = ((hi - lo) + 2 / a * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))) / y
        assert bt.interval_score[lv] == pytest.approx(np.mean(score))
    assert bt.interval_width["0.5"] < bt.interval_width["0.8"] < bt.interval_width["0.95"]
    assert set(bt.to_dict()) >= {"misses", "interval_width", "interval_score"}


def test_one_set_of_held_out_runs_is_one_cut():
    """A ladder of 3 budgets whose FLOPs within a budget differ in their last digits (as recorded 6ND of rounded
    sizes do) had its one valid cut counted twice: each held-out run listed twice, the coverage averaged over
    the copies, and the fit's calibration said '2 cuts, 10 held-out predictions' (past the 10-prediction bar)."""
    from scalinglab.fit import fit
    from scalinglab.fit._calibrate import _cuts

    t = isoflop_table(budgets=np.geomspace(1e18, 1e20, 3), k=5)
    t["flops"] = t["budget"] * (1 + 1e-13 * np.arange(len(t)))  # one level, thresholds differing in rounding
    t = t.drop(columns="budget")
    bt = backtest_sweep(t, "chinchilla", cutoff_fracs=(0.2, 0.3, 0.4))
    assert bt.n_predictions == 5 and len(bt.cutoff) == 1
    order = t["flops"].to_numpy()
    masks = _cuts(order, 8, (0.2, 0.3, 0.4))
    assert len(masks) == len({m.tobytes() for m in masks}) == 1
    res = fit(t, "chinchilla", warn=False)
    assert res.calibration.get("n_cuts", 0) <= 1 and res.calibration.get("n_predictions", 0) <= 5
