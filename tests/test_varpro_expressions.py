"""One engine for every law: a catalog law rewritten as a user expression fits as well as the catalog law
(issue 17 item 2), because the variable-projection linearity probe is verified at data-scaled points and
parameters without a start grid get data-driven starts (``fit/_varpro.py``, ``fit/_starts.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalinglab.fit import fit
from scalinglab.fit._starts import param_axis
from scalinglab.fit._varpro import linear_structure
from scalinglab.laws import get_law, parse_law

#: relative multiplicative noise on the synthetic targets
NOISE = 1e-4
#: a parameter is "recovered" within this relative error (noise 1e-4 on 20-36 points; the catalog laws
#: recover theirs within 2.5e-2, the worst being lr-annealing's small C)
TOL = 5e-2


def _grid2(a, b):
    A, B = np.meshgrid(a, b)
    return A.ravel(), B.ravel()


def _cases():
    N, D = _grid2(np.geomspace(1e7, 1e10, 6), np.geomspace(1e9, 1e12, 6))
    S1, S2 = _grid2(np.geomspace(1e3, 1e5, 6), np.linspace(10, 300, 6))
    Dt, Nt = _grid2(np.geomspace(1e6, 1e9, 6), np.geomspace(1e7, 1e9, 5))
    return {
        "power": ({"x": np.geomspace(1e6, 1e10, 20)}, {"E": 1.7, "A": 400.0, "alpha": 0.3}),
        "power-pure": ({"x": np.geomspace(1e6, 1e10, 20)}, {"A": 400.0, "alpha": 0.3}),
        "chinchilla": ({"N": N, "D": D}, {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}),
        "kaplan-n": ({"N": np.geomspace(1e6, 1e10, 20)}, {"Nc": 8.8e13, "alpha_N": 0.076}),
        "kaplan-d": ({"D": np.geomspace(1e8, 1e12, 20)}, {"Dc": 5.4e13, "alpha_D": 0.095}),
        "lr-annealing": ({"S1": S1, "S2": S2}, {"L0": 2.0, "A": 3.0, "alpha": 0.5, "C": 0.001}),
        "sigmoid": ({"C": np.geomspace(1e18, 1e26, 30)}, {"floor": 0.25, "ceiling": 0.85, "k": 1.5, "x0": 22.0}),
        "coverage": ({"k": np.geomspace(1, 1000, 20)}, {"a": -2.0, "b": -0.4}),
        "rm-bon": ({"d": np.linspace(0.1, 10, 20)}, {"alpha": 1.2, "beta": 0.08}),
        "rm-rl": ({"d": np.linspace(0.1, 10, 20)}, {"alpha": 1.2, "beta": 0.2}),
        "transfer": ({"D": Dt, "N": Nt}, {"k": 19000.0, "alpha": 0.18, "beta": 0.38}),
    }


CASES = _cases()


def _max_rel_err(res, truth) -> float:
    return max(abs(res.params[p] / truth[p] - 1.0) for p in truth)


@pytest.mark.parametrize("name", sorted(CASES))
def test_catalog_law_as_expression_recovers_parameters(name):
    """The catalog law and the same formula typed by a user (with the domain of each parameter stated as
    bounds, as a user states the sign of an exponent) recover the generating parameters equally well."""
    X, truth = CASES[name]
    law = get_law(name)
    theta = np.array([truth[p] for p in law.param_names])
    n = len(next(iter(X.values())))
    y = law.evaluate(theta, X) * (1.0 + np.random.default_rng(1).normal(0.0, NOISE, n))
    expr = parse_law(law.formula, variables=law.variables, target=law.target,
                     bounds={p.name: (p.lower, p.upper) for p in law.params})
    errs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, L in (("catalog", law), ("expression", expr)):
            res = fit({**X, "yy": y}, L, y="yy", loss="huber", calibrate=False)
            assert res.status == "success", (label, res.message)
            errs[label] = _max_rel_err(res, truth)
    assert errs["catalog"] < TOL
    assert errs["expression"] < TOL
    assert errs["expression"] <= 2.0 * errs["catalog"] + 1e-6, errs


def _sigmoid_data():
    lc = np.linspace(18, 26, 30)
    acc = 0.25 + 0.6 / (1 + np.exp(-1.5 * (lc - 22))) + np.random.default_rng(0).normal(0, 0.002, 30)
    return 10 ** lc, lc, acc


def test_user_sigmoid_without_bounds_fits():
    """Issue 17's reproduction: before the fix this returned not_converged, lo = -0.43, m = 10.8."""
    C, lc, acc = _sigmoid_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning, no weak-trend warning
        res = fit({"C": C, "acc": acc}, "lo + s/(1+exp(-k2*(log10(C)-m)))", y="acc")
    assert res.status == "success"
    p = res.params
    assert abs(p["m"] - 22.0) < 0.05
    assert abs(abs(p["k2"]) - 1.5) < 0.05
    assert abs(abs(p["s"]) - 0.6) < 0.01
    # lo + s sigmoid(z) == (lo + s) - s sigmoid(-z): the floor is lo, or lo + s for the mirrored solution
    assert min(abs(p["lo"] - 0.25), abs(p["lo"] + p["s"] - 0.25)) < 0.01
    truth = 0.25 + 0.6 / (1 + np.exp(-1.5 * (lc - 22)))
    assert np.max(np.abs(res.law.evaluate(res.theta, {"C": C}) - truth)) < 0.004


def test_linearity_probe_is_verified():
    """Offsets and heights are linear, a midpoint and slope are not, a product of two coefficients is not
    jointly linear: the probe finds exactly that."""
    C, _, acc = _sigmoid_data()
    law = parse_law("lo + s/(1+exp(-k2*(log10(C)-m)))")
    lin, nl = linear_structure(law, {"C": C}, acc)
    assert [law.param_names[j] for j in lin] == ["lo", "s"]
    assert [law.param_names[j] for j in nl] == ["k2", "m"]
    chin = get_law("chinchilla")
    N, D = _grid2(np.geomspace(1e7, 1e10, 4), np.geomspace(1e9, 1e12, 4))
    lin, _ = linear_structure(chin, {"N": N, "D": D}, 2 + 0 * N)
    assert sorted(chin.param_names[j] for j in lin) == ["A", "B", "E"]
    prod = parse_law("a * b * N + c / N**alpha", bounds={"alpha": (0, 5)})
    lin, _ = linear_structure(prod, {"N": N}, 2 + 0 * N)
    names = [prod.param_names[j] for j in lin]
    assert "c" in names and not {"a", "b"} <= set(names)


def test_data_axis_spans_the_data():
    """A grid-less parameter's start axis holds the data's log10 quantiles (a sigmoid midpoint) and stays
    inside stated bounds."""
    C, lc, acc = _sigmoid_data()
    law = parse_law("lo + s/(1+exp(-k2*(log10(C)-m)))", bounds={"k2": (0.0, 10.0)})
    m_axis = param_axis(law, law.param_names.index("m"), {"C": C}, acc)
    assert np.any(np.abs(m_axis - 22.0) < 1.0)
    k_axis = param_axis(law, law.param_names.index("k2"), {"C": C}, acc)
    assert k_axis.min() > 0.0 and k_axis.max() < 10.0
