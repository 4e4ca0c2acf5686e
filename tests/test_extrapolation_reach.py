"""Reach in every variable (issue 19 item 5) and the point strictly inside its interval (item 6).

A data-constrained ladder (Muennighoff et al. 2023 law as the known truth) fitted on runs of at most 4
epochs: predictions for runs repeated many more times must widen their interval with the epochs of
extrapolation (not only with compute) and warn; a run at the same compute without repetition must not.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalinglab.fit import fit
from scalinglab.fit._predict import extrapolation
from scalinglab.laws import get_law

LAW = get_law("data-constrained")
TRUTH = np.array([1.87, 520.0, 1500.0, 0.35, 0.35, 15.0, 5.0])


def ladder(seed: int, epochs, noise: float = 0.01, sizes=np.geomspace(3e7, 1e9, 4),
           unique=(3e8, 3e9, 3e10)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for N in sizes:
        for U in unique:
            for ep in epochs:
                D = ep * U
                L = float(LAW.evaluate(TRUTH, {"N": np.array([N]), "D": np.array([D]), "U": np.array([U])})[0])
                rows.append((N, D, U, L * np.exp(noise * rng.standard_normal())))
    return pd.DataFrame(rows, columns=["params", "tokens", "unique_tokens", "loss"])


def test_reach_counts_epochs_and_unique_tokens():
    fitted = {"N": np.array([1e8, 1e9]), "D": np.array([1e9, 4e10]), "U": np.array([1e9, 1e10])}
    X = {"N": np.array([1e8, 1e8]), "D": np.array([1e10, 1e10]), "U": np.array([1e10, 1e8])}
    ext = extrapolation(LAW, fitted, X)
    # fitted epochs: 1 and 4; the points: 1 epoch (inside) and 100 epochs (25x beyond)
    assert ext["reach_epochs"] == pytest.approx([1.0, 25.0])
    # unique tokens: 1e8 is 10x below the smallest fitted 1e9
    assert ext["reach_U"] == pytest.approx([1.0, 10.0])
    # compute 6e18 is below the largest fitted 2.4e20: the reach is the epochs'
    assert ext["reach"] == pytest.approx([1.0, 25.0])
    # a law in N and D only: the largest of the compute, model-size and token ratios (no epochs)
    chin = get_law("chinchilla")
    e2 = extrapolation(chin, {k: fitted[k] for k in ("N", "D")}, {k: X[k] for k in ("N", "D")})
    assert "reach_epochs" not in e2 and e2["reach"] == pytest.approx([0.25, 0.25])  # D 1e10 / 4e10


def test_reach_in_model_size_or_tokens_within_the_fitted_compute():
    """A point within the fitted compute can lie far beyond the fitted model sizes (a large model trained
    briefly) or token counts (a small model over-trained): its reach, interval and warning say so."""
    chin = get_law("chinchilla")
    N = np.geomspace(1e7, 3e8, 6)
    fitted = {"N": N, "D": 20 * N}  # largest run: 3e8 parameters, 6e9 tokens, 1.08e19 FLOPs
    X = {"N": np.array([3e10, 3e6, 3e9, 1e8]), "D": np.array([6e7, 6e11, 6e10, 2e9])}
    ext = extrapolation(chin, fitted, X)
    assert ext["flops"] == pytest.approx([1.0, 1.0, 100.0, 1.0 / 9])
    assert ext["reach"] == pytest.approx([100.0, 100.0, 100.0, 1.0 / 3])
    rng = np.random.default_rng(0)
    runs = pd.DataFrame({"params": np.repeat(N, 3), "tokens": np.repeat(20 * N, 3) * np.tile([0.5, 1, 2], 6)})
    truth = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
    theta = np.array([truth[k] for k in chin.param_names])
    runs["loss"] = chin.evaluate(theta, {"N": runs.params.to_numpy(float), "D": runs.tokens.to_numpy(float)}) \
        * np.exp(0.005 * rng.standard_normal(len(runs)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(runs, "chinchilla", loss="huber", calibrate=False)
    inside = res.predict(N=3e8, D=6e9)
    big, long = res.predict(N=1.2e11, D=1.5e7), res.predict(N=1e6, D=1.8e12)  # N 400x, D 150x
    width = [p.interval[1] / p.interval[0] - 1 for p in (inside, big, long)]
    assert width[1] > 8 * width[0] and width[2] > 8 * width[0]
    for p in (big, long):  # with the compute reach alone (1x) the over-trained point's band missed the truth
        true = float(chin.evaluate(theta, {"N": np.array([p.variables["N"]]), "D": np.array([p.variables["D"]])})[0])
        assert p.interval[0] < true < p.interval[1]
    assert any("400x beyond the largest fitted run in model size N" in w for w in big.warnings)
    assert any("150x beyond the largest fitted run in tokens D" in w for w in long.warnings)


@pytest.fixture(scope="module")
def dc_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(ladder(0, (0.5, 1, 2, 4)), "data-constrained", calibrate=False)


def test_interval_widens_with_epochs_and_warns(dc_fit):
    N, D = 3e8, 3e10
    plain = dc_fit.predict(N=N, D=D, U=3e10)  # 1 epoch, inside the fitted ranges
    rep = dc_fit.predict(N=N, D=D, U=3e8)     # 100 epochs: 25x beyond the fitted 4
    w_plain = np.log(plain.interval[1] / plain.interval[0])
    w_rep = np.log(rep.interval[1] / rep.interval[0])
    assert rep.extrapolation["reach_epochs"] == pytest.approx(25.0)
    # prior rule: sd = noise sqrt(1 + (5 log10 25)^2) ~ 7.1 noise, vs ~1 noise inside: > 4x wider
    assert w_rep > 4 * w_plain
    assert any("epochs" in w for w in rep.warnings)
    assert not any("epochs" in w for w in plain.warnings)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
def test_point_strictly_inside_interval(dc_fit, level):
    te = ladder(1, (1, 16, 256))
    p = dc_fit.predict(level=level, N=te.params.to_numpy(), D=te.tokens.to_numpy(), U=te.unique_tokens.to_numpy())
    lo, hi = p.interval
    assert np.all(lo < p.value) and np.all(p.value < hi)


def test_point_strictly_inside_when_the_band_is_calibrated_on_a_reference():
    """The demo's case: ``loss="auto"`` picks the lower envelope for the point while the band is calibrated
    on the symmetric reference fit, which sits above it; the band used to start exactly at the point."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 10, 8), 8)
    D = np.tile(np.logspace(9, 12, 8), 8) * np.exp(rng.normal(0, 0.1, 64))
    L = 1.69 + 406.4 / N ** 0.34 + 410.7 / D ** 0.28
    bad = rng.random(L.size) < 0.5  # half the runs badly tuned (1..15% worse, never better)
    L = L * np.exp(0.0005 * rng.normal(size=L.size)) * np.where(bad, 1 + rng.uniform(0.01, 0.15, L.size), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit({"params": N, "tokens": D, "loss": L}, "chinchilla")
    assert res.loss["name"] == "asymmetric" and res.calibration.get("reference")
    for level in (0.5, 0.8, 0.95):
        p = res.predict(level=level, N=np.array([1e10, 7e10]), D=np.array([2e11, 1.4e12]))
        lo, hi = p.interval
        assert np.all(lo < p.value) and np.all(p.value < hi)
        # at least the run noise (z x noise in log space) on each side of the point
        from statistics import NormalDist

        m = NormalDist().inv_cdf(0.5 + level / 2) * max(res.calibration["reference"]["noise"], 1e-5)
        assert np.all(np.log(p.value / lo) >= m * (1 - 1e-9)) and np.all(np.log(hi / p.value) >= m * (1 - 1e-9))


# --------------------------------------------------------------------------- the profile envelope (_profile.py)
@pytest.fixture(scope="module")
def saturated_fit():
    """Runs of at most 2 epochs whose fit sends R_D* to infinity (repetition looks free): the truth is 15."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(ladder(5, (0.5, 1, 2)), "data-constrained")


def _without_alternates(res):
    import dataclasses

    return dataclasses.replace(res, calibration={k: v for k, v in res.calibration.items() if k != "alternates"})


def test_a_constant_the_runs_cannot_bound_widens_the_band_where_it_matters(saturated_fit):
    res = saturated_fit
    assert res.params["R_D_star"] > 1e3  # the scenario: the runs of <= 2 epochs cannot see the decay
    assert res.calibration["alternates"]["theta"]
    te = ladder(105, (16, 64, 256), noise=0.0)  # the noise-free truth, repeated far beyond the fitted runs
    X = {"N": te.params.to_numpy(), "D": te.tokens.to_numpy(), "U": te.unique_tokens.to_numpy()}
    y = te.loss.to_numpy()

    def cover(r):
        lo, hi = r.predict(**X).interval
        return np.mean((lo <= y) & (y <= hi))

    assert cover(_without_alternates(res)) < 0.6  # the linearised spread at R_D* = inf sees nothing
    assert cover(res) >= 0.9
    # inside the fitted runs the refits agree: the band barely moves there
    tr = ladder(5, (0.5, 1, 2))
    Xi = {"N": tr.params.to_numpy(), "D": tr.tokens.to_numpy(), "U": tr.unique_tokens.to_numpy()}
    w = [np.median(np.log(r.predict(**Xi).interval[1] / r.predict(**Xi).interval[0]))
         for r in (res, _without_alternates(res))]
    assert w[0] <= 1.15 * w[1]


def test_the_unbounded_constant_has_an_open_interval_that_survives_a_round_trip(saturated_fit, tmp_path):
    from scalinglab.fit import FitResult

    lo, hi = saturated_fit.intervals["R_D_star"]
    assert hi == np.inf and lo <= 15.0  # open above; the truth (15) inside
    assert "profile" in saturated_fit.diagnostics["interval_source"]
    back = FitResult.load(saturated_fit.to_json(tmp_path / "fit.json"))
    assert back.intervals["R_D_star"] == (lo, hi)
    a = saturated_fit.predict(N=3e8, D=3e10, U=3e8)
    b = back.predict(N=3e8, D=3e10, U=3e8)
    assert a.interval == pytest.approx(b.interval, rel=1e-12)


def test_an_interval_with_both_ends_unknown_stays_unknown():
    from scalinglab.fit._result import _interval_from_json

    assert np.isnan(_interval_from_json(LAW, "R_D_star", [None, None])).all()
    assert _interval_from_json(LAW, "R_D_star", [None, 20.0]) == (0.0, 20.0)  # open below: the bound


def test_only_laws_with_coordinates_beyond_compute_are_profiled():
    from scalinglab.fit._profile import needs_profile

    assert needs_profile(LAW) and needs_profile(get_law("precision"))
    # the default forecast stack's laws keep their calibrated band (and speed) untouched
    assert not needs_profile(get_law("chinchilla")) and not needs_profile(get_law("chinchilla-joint"))
    assert not needs_profile(get_law("power"))


def test_an_open_interval_prints_as_infinity_in_the_cli_and_the_report(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app
    from scalinglab.report._inputs import fmt_num

    assert fmt_num(np.inf) == "∞" and fmt_num(-np.inf) == "-∞" and fmt_num(np.nan) == "—"
    ladder(5, (0.5, 1, 2)).to_csv(tmp_path / "runs.csv", index=False)
    out = CliRunner().invoke(app, ["fit", str(tmp_path / "runs.csv"), "--law", "data-constrained"])
    assert out.exit_code == 0, out.output
    row = next(ln for ln in out.output.splitlines() if "R_D_star " in ln and "exp(" not in ln)
    assert "∞" in row and "—" not in row


def test_a_plan_from_such_a_fit_spans_what_the_runs_cannot_rule_out(saturated_fit):
    """Planning a data-constrained run from the fit of runs of <= 2 epochs: the allocation hinges on R_D*, which
    those runs leave open, so N* and D* intervals from the covariance draws alone miss the truth's allocation
    by a factor of two; with the profile refits they span every refit's answer and reach the truth's, and the
    warning says R_D* is open."""
    from scalinglab.plan import compute_optimal

    C, U = 1e21, 2e9  # ~50 epochs at the optimum: far beyond the fitted runs' 2
    res = saturated_fit
    true = compute_optimal(C, law=(LAW, dict(zip(LAW.param_names, TRUTH, strict=True))), unique_tokens=U)
    p = compute_optimal(C, law=res, unique_tokens=U, level=0.8)
    bare = compute_optimal(C, law=_without_alternates(res), unique_tokens=U, level=0.8)
    (nlo, nhi), (dlo, dhi) = p.intervals["N_opt"], p.intervals["D_opt"]
    (blo, bhi), (bdlo, bdhi) = bare.intervals["N_opt"], bare.intervals["D_opt"]
    # the scenario: the draws alone put the truth's allocation far outside (N* ~1.9x above, D* ~1.9x below)
    assert true.N_opt > 1.5 * bhi and true.D_opt < bdlo / 1.5
    # the refits reach it (within a few % : a refit pins R_D* at 15 but its other constants differ from the truth)
    assert nlo <= true.N_opt <= 1.05 * nhi and dlo / 1.05 <= true.D_opt <= dhi
    assert nlo <= blo and nhi >= bhi and dlo <= bdlo and dhi >= bdhi  # a union: never narrower
    # every refit the runs cannot rule out at 80 % plans inside the interval
    from scalinglab.fit._profile import kept_alternates

    for th in kept_alternates(res.calibration["alternates"], 0.8):
        q = compute_optimal(C, law=(LAW, dict(zip(LAW.param_names, th, strict=True))), unique_tokens=U)
        assert nlo * (1 - 1e-6) <= q.N_opt <= nhi * (1 + 1e-6)
    assert "profile refits" in p.assumptions["interval"]
    assert any("leave R_D* anywhere in" in w and "∞" in w for w in p.warnings)


def test_a_prediction_without_unique_tokens_says_what_to_give(dc_fit):
    from scalinglab._errors import InputError

    with pytest.raises(InputError, match=r"needs U \(unique_tokens\) .* e\.g\. N=\.\.\. D=\.\.\. U=\.\.\.; U=D for data"):
        dc_fit.predict(N=1e9, D=1e11)
    # as the message says: data seen once is U = D (no repetition: the law's Chinchilla part)
    once = dc_fit.predict(N=1e9, D=1e11, U=1e11).value
    th = dict(dc_fit.params)
    assert once == pytest.approx(th["E"] + th["A"] / 1e9 ** th["alpha"] + th["B"] / 1e11 ** th["beta"], rel=1e-9)


def test_a_law_without_unique_tokens_warns_when_runs_repeat_their_data(tmp_path):
    """Runs repeated more than 4 epochs, fitted by a law that reads every token as new (Chinchilla, the
    default stack), get one DataWarning naming how many runs and the law that models repetition; the
    data-constrained law, or runs of at most 4 epochs, get none."""
    from scalinglab._errors import DataWarning
    from scalinglab.fit._inputs import repeated_runs

    df = ladder(0, (1.0, 2.0, 8.0, 32.0), unique=(3e8, 3e9))
    ep = df["tokens"] / df["unique_tokens"]
    with pytest.warns(DataWarning, match=r"16 of 32 runs with unique_tokens repeat their data more than 4 times "
                                         r"\(up to 32 epochs\).*--law data-constrained"):
        fit(df, "chinchilla", calibrate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        fit(df, "data-constrained", calibrate=False)
        fit(df[ep <= 4.0], "chinchilla", calibrate=False)
    assert repeated_runs(df.drop(columns="unique_tokens"), None) is None
    assert repeated_runs(df.assign(unique_tokens=np.nan), None) is None


def test_a_decay_constant_the_runs_do_not_constrain_reads_open_above():
    """Runs of 1-4 epochs from muennighoff-2023's law (R_D* = 15.4) at 1 % noise, seed 4: the fit ran R_D* to
    1.4e12 and its interval read [15.0, 1.39e12], the estimate itself as the upper end (the covariance gives
    the saturated constant no width). An unidentified constant whose interval ends at the estimate is open
    there: [15.0, inf], the truth inside."""
    from scalinglab.fit import fit
    from scalinglab.laws import get_preset

    law, preset = get_preset("muennighoff-2023")
    rng = np.random.default_rng(4)
    N, D, U = [], [], []
    for n in np.logspace(7.5, 9, 5):
        for tpp in (10, 20, 40):
            for ep in (1, 2, 4):
                N.append(n)
                D.append(n * tpp)
                U.append(n * tpp / ep)
    N, D, U = map(np.array, (N, D, U))
    L = law(preset.values, N=N, D=D, U=U) * np.exp(rng.normal(0, 0.01, len(N)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fit({"params": N, "tokens": D, "unique_tokens": U, "loss": L}, "data-constrained")
    assert r.params["R_D_star"] > 1e6 and "R_D_star" in r.diagnostics["unidentified"]
    lo, hi = r.intervals["R_D_star"]
    assert hi == np.inf and lo <= 15.39
