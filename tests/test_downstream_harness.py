"""The downstream route (`select_downstream`) against the plain sigmoid on synthetic tables with known truth
(issue 19 item 3; the full harness is bench/extrapolation_downstream.py): a late-rising task and a steep
two-step ('emergent') task stay within 5 % of the plain fit, a saturating task is stacked with the
fitted-ceiling form and beats it, a well-sampled sigmoid is predicted as well as the plain fit; the
selection rule (`stack_weights`) and the stack (`StackedResult`) pinned on exact values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.downstream import SigmoidPredictor, select_downstream


def _table(chance, ceiling, k, x0, seed, n=30, questions=1319, spread=0.0):
    """Models between 1e20 and 1e25 FLOPs; four model families whose effective compute differs by a random
    offset of sd ``spread`` decades; binomial noise from ``questions``."""
    rng = np.random.default_rng(seed)
    lc = np.sort(rng.uniform(20.0, 25.0, n))
    off = rng.normal(0.0, spread, 4)[rng.integers(0, 4, n)] if spread else 0.0
    p = chance + (ceiling - chance) / (1.0 + np.exp(-k * (lc + off - x0)))
    return pd.DataFrame({"flops": 10 ** lc, "acc": rng.binomial(questions, p) / questions}), lc


def _errors(df, lc, chance, q=0.5):
    """Mean absolute error (accuracy units) of the route and of the plain sigmoid (ceiling 1, floor at
    chance, plain least squares) fitted below the q-quantile of log compute, on every model above it."""
    cut = np.quantile(lc, q)
    tr, te = df[lc < cut], df[lc >= cut]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        route = select_downstream(tr, "acc", floor=chance, bootstrap=0, calibrate=False)
        plain = SigmoidPredictor("acc", floor=chance, ceiling=1.0, slope_prior=None, bootstrap=0).fit(tr)
    C = te["flops"].to_numpy()
    y = te["acc"].to_numpy()
    return (float(np.mean(np.abs(np.atleast_1d(route.predict(flops=C).value) - y))),
            float(np.mean(np.abs(np.atleast_1d(plain.predict(flops=C).value) - y))))


def test_late_rising_task_never_worse_and_better_on_average():
    """GSM8K-like: chance 0, midpoint at 10^24.5 FLOPs, model families 0.3 decades apart; fitted below the
    median compute (the training models barely above the floor), predicting every larger model. Over seeds
    11-16 (none used to choose a constant) the route is within 5 % of the plain sigmoid on every seed and
    not worse on average (measured: ratios 0.99-1.01; the weak slope prior, sd 4, chosen leave-one-table-out,
    gives up most of what a strong prior gains here because a strong one loses on steeper tasks)."""
    route, plain = [], []
    for seed in range(11, 17):
        df, lc = _table(0.0, 0.9, 1.6, 24.5, seed, spread=0.3)
        r, p = _errors(df, lc, 0.0)
        assert r <= 1.05 * p, (seed, r, p)
        route.append(r)
        plain.append(p)
    assert np.mean(route) <= 1.001 * np.mean(plain)


def test_well_sampled_sigmoid_matches_the_plain_fit():
    """MMLU-like with the midpoint inside the training range: the route is within 5 % of the plain sigmoid."""
    for seed in (21, 22):
        df, lc = _table(0.25, 0.95, 1.2, 21.8, seed, questions=14042)
        route, plain = _errors(df, lc, 0.25, q=0.65)
        assert route <= 1.05 * plain, (seed, route, plain)


# ------------------------------------------------------------------ the selection rule and the stack
def _scores(base, chal, cuts=(0.3, 0.4)):
    return {"sigmoid-bounded": {"per_cut": list(base), "cutoffs": list(cuts)},
            "sigmoid": {"per_cut": list(chal), "cutoffs": list(cuts)}}


def test_stack_weights_admit_a_challenger_only_when_it_wins_every_cut_by_the_margin():
    from scalinglab.downstream import stack_weights

    # better on average by 40 % but worse at one cut: the plain form is kept
    assert stack_weights(_scores([0.10, 0.02], [0.03, 0.03]), "sigmoid-bounded") == {"sigmoid-bounded": 1.0}
    # much better on average, but by a hair at one cut (one wild baseline backtest carries the mean): kept
    assert stack_weights(_scores([0.559, 0.01036], [0.0058, 0.01034]), "sigmoid-bounded") == {
        "sigmoid-bounded": 1.0}
    # better at every cut but by less than the 10 % margin (0.095 vs 0.1): kept
    assert stack_weights(_scores([0.1, 0.1], [0.095, 0.095]), "sigmoid-bounded", margin=0.1) == {
        "sigmoid-bounded": 1.0}
    # backtested at other cuts (one failed): not comparable, kept
    assert stack_weights({"sigmoid-bounded": {"per_cut": [0.1, 0.1], "cutoffs": [0.3, 0.4]},
                          "sigmoid": {"per_cut": [0.01], "cutoffs": [0.3]}}, "sigmoid-bounded") == {
        "sigmoid-bounded": 1.0}
    # admitted: mean errors 0.04 and 0.02 -> weights 0.04^-2 : 0.02^-2 = 1 : 4
    w = stack_weights(_scores([0.05, 0.03], [0.025, 0.015]), "sigmoid-bounded", power=2.0)
    assert w["sigmoid"] == pytest.approx(0.8, abs=1e-12) and w["sigmoid-bounded"] == pytest.approx(0.2, abs=1e-12)
    w = stack_weights(_scores([0.05, 0.03], [0.025, 0.015]), "sigmoid-bounded", power=1.0)
    assert w["sigmoid"] == pytest.approx(2 / 3, abs=1e-12)
    assert stack_weights(_scores([0.05, 0.03], [0.025, 0.015]), "sigmoid-bounded", power=None) == {"sigmoid": 1.0}
    # no backtest of the baseline (too few models): the baseline alone
    assert stack_weights(_scores([], []), "sigmoid-bounded") == {"sigmoid-bounded": 1.0}


def test_stacked_prediction_is_the_weighted_mean_of_its_components():
    from scalinglab.downstream import StackedResult

    df, _ = _table(0.25, 0.9, 1.2, 22.0, seed=41, questions=5000)
    a = SigmoidPredictor("acc", floor=0.25, ceiling=1.0, bootstrap=0).fit(df)
    b = SigmoidPredictor("acc", floor=0.25, bootstrap=0).fit(df)
    st = StackedResult(components={"sigmoid-bounded": a, "sigmoid": b}, weights={"sigmoid-bounded": 0.25,
                                                                                  "sigmoid": 0.75})
    C = np.array([1e24, 1e26])
    pa, pb, ps = a.predict(flops=C), b.predict(flops=C), st.predict(flops=C)
    np.testing.assert_allclose(ps.value, 0.25 * pa.value + 0.75 * pb.value, rtol=1e-12)
    np.testing.assert_allclose(ps.interval[0], 0.25 * pa.interval[0] + 0.75 * pb.interval[0], rtol=1e-12)
    assert np.all(ps.interval[0] <= ps.value) and np.all(ps.value <= ps.interval[1])
    assert st.method == "stack(sigmoid-bounded=0.25,sigmoid=0.75)" and st.column == "flops"
    assert st.fit is b.fit          # plots draw the component with the larger weight
    assert st.to_dict()["weights"] == {"sigmoid-bounded": 0.25, "sigmoid": 0.75}


def _two_step_table(chance, ceiling, k, x0, seed, n=40, questions=1000):
    """Accuracy a sigmoid of a task loss L = 1 + 10 ** (0.3 (x0 - log10 C)) (a power law in compute): not a
    sigmoid in log C, and steeper than one at the start of the rise (an 'emergent' task)."""
    rng = np.random.default_rng(seed)
    lc = np.sort(rng.uniform(20.0, 25.0, n))
    L = 1.0 + 10 ** (0.3 * (x0 - lc))
    p = chance + (ceiling - chance) / (1.0 + np.exp(k * 2.5 * (L - 2.0)))
    return pd.DataFrame({"flops": 10 ** lc, "acc": rng.binomial(questions, p) / questions}), lc


def test_steep_emergent_task_stays_within_five_percent_of_the_plain_sigmoid():
    """A two-step truth (the misspecified family where the former route, slope prior sd 1 with a switch to
    the fitted ceiling, lost up to 1.39x): fitted below the median compute, predicting every larger model.
    Over seeds 31-34 (none used to choose a constant) the route is within 5 % of the plain sigmoid on every
    seed and not worse on average."""
    route, plain = [], []
    for seed in range(31, 35):
        df, lc = _two_step_table(0.25, 0.9, 1.3, 23.2, seed)
        r, p = _errors(df, lc, 0.25)
        assert r <= 1.05 * p, (seed, r, p)
        route.append(r)
        plain.append(p)
    assert np.mean(route) <= np.mean(plain)


def test_saturating_task_is_stacked_with_the_fitted_ceiling_and_beats_the_plain_sigmoid():
    """HellaSwag-like: chance 0.25, ceiling 0.8 (well below 1), midpoint early (10^21 FLOPs), fitted below
    the 65 % quantile of compute. The fitted-ceiling sigmoid beats the plain form by more than the margin at
    every internal cut, is admitted and stacked (measured weight 0.75); the route's error on the larger
    models is a fifth of the plain sigmoid's, which runs on towards 1 (measured 1.6 vs 8.0 points)."""
    df, lc = _table(0.25, 0.8, 1.0, 21.0, seed=52, n=40)
    cut = np.quantile(lc, 0.65)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_downstream(df[lc < cut], "acc", floor=0.25, bootstrap=0, calibrate=False)
    assert sel.method == "sigmoid" and sel.scores["sigmoid"]["weight"] == pytest.approx(0.75, abs=0.05)
    assert sel.scores["sigmoid"]["weight"] + sel.scores["sigmoid-bounded"]["weight"] == pytest.approx(1.0)
    route, plain = _errors(df, lc, 0.25, q=0.65)
    assert route < 0.3 * plain, (route, plain)
