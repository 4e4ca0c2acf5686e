"""Numerical robustness of fits: extreme scales, near-degenerate data, outliers, row order and unit changes.

pytest turns RuntimeWarnings raised from scalinglab into errors (pyproject ``filterwarnings``), so an
overflow inside a fit fails these tests. Every case either converges to the truth that generated the data
(within a stated tolerance) or raises a ScalingLabError that says why.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalinglab import ScalingLabError
from scalinglab._errors import FitError
from scalinglab.fit import fit

TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def chinchilla(N, D, p=TRUTH):
    return p["E"] + p["A"] / N ** p["alpha"] + p["B"] / D ** p["beta"]


def grid(n_lo, n_hi, d_lo, d_hi, k=6, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(n_lo, n_hi, k), k)
    D = np.tile(np.logspace(d_lo, d_hi, k), k)
    L = chinchilla(N, D) * np.exp(rng.normal(0, noise, N.size))
    return N, D, L


@pytest.fixture(autouse=True)
def _overflow_is_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _close(params, truth, rtol):
    for k, v in truth.items():
        assert params[k] == pytest.approx(v, rel=rtol[k] if isinstance(rtol, dict) else rtol), (k, params)


def test_chinchilla_over_ten_decades_of_N():
    """N from 1e3 to 1e13 params, D from 1e4 to 1e14 tokens (C = 6ND up to 6e27 FLOPs)."""
    N, D, L = grid(3, 13, 4, 14)
    assert (6 * N * D).max() > 1e27
    res = fit({"params": N, "tokens": D, "loss": L}, "chinchilla")
    _close(res.params, TRUTH, {"E": 0.01, "A": 0.1, "B": 0.1, "alpha": 0.02, "beta": 0.02})
    pred = res.predict(N=7e10, D=1.4e12)
    assert pred.value == pytest.approx(chinchilla(7e10, 1.4e12), rel=0.01)
    lo, hi = pred.interval
    assert np.isfinite(lo) and np.isfinite(hi) and lo <= pred.value <= hi


def test_power_law_in_compute_up_to_1e27():
    C = np.logspace(15, 27, 13)
    L = 1.5 + 30.0 * C ** -0.05
    res = fit({"flops": C, "loss": L}, "power", x="flops")
    _close(res.params, {"E": 1.5, "A": 30.0, "alpha": 0.05}, 1e-3)
    far = res.predict(flops=1e30)
    assert far.value == pytest.approx(1.5 + 30.0 * 1e30 ** -0.05, rel=1e-3)
    assert np.all(np.isfinite(far.interval))


def test_huge_and_tiny_loss_scales_do_not_overflow():
    """Loss far from O(1) (a metric in different units): the same exponent is recovered."""
    x = np.logspace(3, 12, 10)
    for scale in (1e-8, 1e8):
        y = scale * (2.0 + 50.0 * x ** -0.3)
        res = fit({"x": x, "loss": y}, "power", x="x")
        assert res.params["alpha"] == pytest.approx(0.3, rel=1e-3), scale
        assert res.params["E"] == pytest.approx(2.0 * scale, rel=1e-3)


# Each degenerate table must raise a FitError that names the reason (not fit, not crash).
DEGENERATE = {
    "one_N": r"variable N \('params'\) has a single distinct value \(1e\+08\)",
    "one_D": r"variable D \('tokens'\) has a single distinct value \(1e\+10\)",
    "two_points": r"2 run\(s\) cannot determine the 5 parameters of law 'chinchilla'",
    "constant_loss": r"all 12 values of 'loss' are equal",
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_near_degenerate_data_says_why(case):
    rng = np.random.default_rng(1)
    if case == "one_N":  # every run at the same model size: N-term not identifiable
        N = np.full(8, 1e8)
        D = np.logspace(8, 11, 8)
    elif case == "one_D":
        N = np.logspace(7, 10, 8)
        D = np.full(8, 1e10)
    elif case == "two_points":
        N = np.array([1e8, 1e9])
        D = np.array([2e9, 2e10])
    else:
        N = np.repeat(np.logspace(7, 10, 4), 3)
        D = np.tile(np.logspace(9, 11, 3), 4)
    L = chinchilla(N, D) * np.exp(rng.normal(0, 0.002, N.size)) if case != "constant_loss" else np.full(N.size, 3.0)
    with pytest.raises(FitError, match=DEGENERATE[case]):
        fit({"params": N, "tokens": D, "loss": L}, "chinchilla")


def test_nearly_degenerate_but_identifiable_data_fits():
    """Two model sizes only (the least that identifies the N-term) with a wide D range: the fit succeeds
    and reproduces its data (the success branch the degenerate cases above must not take)."""
    rng = np.random.default_rng(2)
    N = np.repeat([1e8, 1e9], 6)
    D = np.tile(np.logspace(9, 11.5, 6), 2)
    L = chinchilla(N, D) * np.exp(rng.normal(0, 0.002, N.size))
    res = fit({"params": N, "tokens": D, "loss": L}, "chinchilla")
    assert res.status == "success", (res.status, res.message)
    pred = np.array([res.predict(N=n, D=d).value for n, d in zip(N, D, strict=True)])
    assert np.max(np.abs(np.log(pred / L))) < 0.01
    assert all(np.isfinite(v) for v in res.params.values())


def test_huge_outliers_do_not_move_a_robust_fit():
    N, D, L = grid(7, 10, 9, 12, k=6, noise=0.002, seed=3)
    L_bad = L.copy()
    L_bad[[4, 17, 30]] *= [100.0, 1e-3, 50.0]  # three runs with absurd losses (logging errors)
    res = fit({"params": N, "tokens": D, "loss": L_bad}, "chinchilla")
    _close(res.params, TRUTH, {"E": 0.03, "A": 0.3, "B": 0.3, "alpha": 0.05, "beta": 0.05})


@pytest.fixture(scope="module")
def base_fit():
    N, D, L = grid(7, 10, 9, 12, k=6, noise=0.004, seed=5)
    return N, D, L, fit({"params": N, "tokens": D, "loss": L}, "chinchilla")


def test_results_invariant_to_row_order(base_fit):
    N, D, L, res = base_fit
    perm = np.random.default_rng(7).permutation(N.size)
    res2 = fit({"params": N[perm], "tokens": D[perm], "loss": L[perm]}, "chinchilla")
    for k in TRUTH:
        assert res2.params[k] == pytest.approx(res.params[k], rel=1e-4), k
    for n, d in [(1e9, 2e10), (7e10, 1.4e12)]:
        assert res2.predict(N=n, D=d).value == pytest.approx(res.predict(N=n, D=d).value, rel=1e-5)


def test_results_invariant_to_token_units(base_fit):
    """A law fitted on D in billions of tokens predicts the same loss after rescaling D (B → B·1e9^beta)."""
    N, D, L, res = base_fit
    res_b = fit({"params": N, "tokens": D / 1e9, "loss": L}, "chinchilla")
    for k in ("E", "A", "alpha", "beta"):
        assert res_b.params[k] == pytest.approx(res.params[k], rel=2e-3), k
    assert res_b.params["B"] * 1e9 ** res_b.params["beta"] == pytest.approx(res.params["B"], rel=2e-3)
    for n, d in [(1e8, 1e10), (1e9, 2e10), (7e10, 1.4e12)]:
        assert res_b.predict(N=n, D=d / 1e9).value == pytest.approx(res.predict(N=n, D=d).value, rel=1e-3)


def test_unit_strings_and_raw_numbers_give_the_same_fit(tmp_path, base_fit):
    """tokens written as '20B' in a CSV load and fit exactly like the raw numbers."""
    import pandas as pd

    from scalinglab.data import load_runs
    from scalinglab.units import format_quantity

    N, D, L, res = base_fit
    path = tmp_path / "runs.csv"
    pd.DataFrame({"N": [format_quantity(v, digits=17) for v in N], "D": [format_quantity(v, digits=17) for v in D],
                  "loss": L}).to_csv(path, index=False)
    runs = load_runs(path)
    np.testing.assert_allclose(runs.df["tokens"], D, rtol=1e-12)
    res2 = fit(runs, "chinchilla")
    for k in TRUTH:
        assert res2.params[k] == pytest.approx(res.params[k], rel=1e-6), k


def test_non_finite_and_non_positive_inputs_are_clear_errors():
    N = np.logspace(7, 10, 8)
    D = np.logspace(9, 12, 8)
    L = chinchilla(N, D)
    for bad in (np.nan, np.inf, -1.0, 0.0):
        Nb = N.copy()
        Nb[3] = bad
        with pytest.raises(ScalingLabError) as info:
            fit({"params": Nb, "tokens": D, "loss": L}, "chinchilla")
        assert "params" in str(info.value) or "N" in str(info.value)


def test_predictions_far_outside_never_overflow(base_fit):
    *_, res = base_fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for n, d in [(1e3, 1e3), (1e15, 1e16), (1e20, 1e25)]:
            p = res.predict(N=n, D=d)
            assert np.isfinite(p.value) and all(np.isfinite(p.interval))
            assert p.value > res.params["E"] * 0.99
