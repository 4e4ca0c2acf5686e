"""One engine for downstream accuracy (issues 17.2 and 18.2): ``scalinglab fit --law sigmoid``,
``scalinglab.fit.fit(..., "sigmoid")``, `fit_accuracy_sigmoid` and `SigmoidPredictor` give the same fit
from one library function (``fit/_accuracy.py``), which runs on the fit engine with its prior (penalty)
and bounds hooks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab.cli import app
from scalinglab.downstream import SigmoidPredictor, fit_accuracy_sigmoid
from scalinglab.fit import fit
from scalinglab.fit._multistart import multistart
from scalinglab.fit._objectives import LeastSquares, Penalty
from scalinglab.fit._solvers import Problem
from scalinglab.laws import get_law, parse_law


def _table(tmp_path, n=14, seed=0):
    rng = np.random.default_rng(seed)
    C = np.logspace(20, 24, n)
    acc = get_law("sigmoid", floor=0.25)({"ceiling": 0.9, "k": 1.5, "x0": 22.3}, C=C) + rng.normal(0, 0.01, n)
    csv = tmp_path / "models.csv"
    csv.write_text("model,flops,MMLU\n" + "\n".join(f"m{i},{float(c)!r},{float(a)!r}" for i, (c, a) in
                                                    enumerate(zip(C, acc, strict=True))))
    return csv, C, acc


def test_cli_library_and_downstream_give_the_same_sigmoid(tmp_path):
    csv, C, acc = _table(tmp_path)
    r = CliRunner().invoke(app, ["fit", str(csv), "--law", "sigmoid", "--y", "MMLU", "--json"])
    assert r.exit_code == 0, r.output
    cli = json.loads(r.stdout)["params"]
    lib = fit({"flops": C, "MMLU": acc}, "sigmoid", y="MMLU").params
    ds = fit_accuracy_sigmoid(csv, y="MMLU", bootstrap=0).params
    pred = SigmoidPredictor("MMLU", bootstrap=0).fit(csv).fit.params
    assert set(cli) == {"floor", "ceiling", "k", "x0"}
    for name in cli:
        assert lib[name] == pytest.approx(cli[name], rel=1e-9, abs=1e-12)
        assert ds[name] == pytest.approx(cli[name], rel=1e-9, abs=1e-12)
        assert pred[name] == pytest.approx(cli[name], rel=1e-9, abs=1e-12)
    assert cli["x0"] == pytest.approx(22.3, abs=0.15)
    # the library's answer is the accuracy route (bounded least squares + prior), not the generic engine
    res = fit({"flops": C, "MMLU": acc}, "sigmoid", y="MMLU")
    assert res.diagnostics["method"] == "accuracy-sigmoid" and res.status == "success"


def test_near_chance_table_is_not_refused():
    """A benchmark that stays at chance: the accuracy route returns a flat-ish curve (no 'no trend' error)."""
    rng = np.random.default_rng(3)
    C = np.logspace(19, 23, 12)
    acc = 0.25 + rng.normal(0, 0.01, 12)
    res = fit({"flops": C, "acc": acc}, "sigmoid", y="acc")
    assert res.status == "success"
    p = res.predict(flops=1e24)
    assert abs(p.value - 0.25) < 0.05 and p.interval[0] < p.value < p.interval[1]


def test_penalty_hook_is_a_gaussian_map_term():
    """Least squares plus one penalty row ``lam * (b - b0)`` on a straight line equals the closed-form
    ridge solution (normal equations with the prior row appended)."""
    rng = np.random.default_rng(0)
    x = np.linspace(1.0, 10.0, 25)
    y = 2.0 + 0.5 * x + rng.normal(0, 0.3, 25)
    law = parse_law("a + b * x", variables=["x"], target="value")
    ib = law.param_names.index("b")
    lam, b0 = 3.0, 0.0

    def terms(theta):
        theta = np.asarray(theta, float)
        dp = np.zeros(theta.shape[:-1] + (1, theta.shape[-1]))
        dp[..., 0, ib] = lam
        return lam * (theta[..., ib:ib + 1] - b0), dp

    problem = Problem(law, {"x": x}, y, LeastSquares(), "linear", penalty=Penalty(terms, 1, "ridge on b"))
    ms = multistart(problem, starts=np.zeros((1, 2)), method="grid")
    A = np.zeros((26, 2))
    A[:25, law.param_names.index("a")] = 1.0
    A[:25, ib] = x
    A[25, ib] = lam
    rhs = np.append(y, lam * b0)
    exact = np.linalg.lstsq(A, rhs, rcond=None)[0]
    np.testing.assert_allclose(ms.theta, exact, rtol=1e-7, atol=1e-9)
    plain = np.polyfit(x, y, 1)[0]
    assert abs(ms.theta[ib]) < abs(plain)  # the prior pulls b toward 0


def test_bounds_hook_keeps_the_solution_inside():
    """Bounded least squares: a slope whose unbounded optimum is ~0.5 stays at or below an upper bound of 0.3."""
    x = np.linspace(1.0, 10.0, 25)
    y = 2.0 + 0.5 * x
    law = parse_law("a + b * x", variables=["x"], target="value")
    ib = law.param_names.index("b")
    lo, hi = np.full(2, -np.inf), np.full(2, np.inf)
    hi[ib] = 0.3
    problem = Problem(law, {"x": x}, y, LeastSquares(), "linear", bounds=(lo, hi))
    ms = multistart(problem, starts=np.zeros((1, 2)), method="grid")
    assert 0.29 < ms.theta[ib] <= 0.3


def test_a_candidate_as_good_as_the_route_widens_its_band():
    """A task whose ceiling is 0.70: the fitted-ceiling sigmoid had the lower backtest error but weight 0, and
    the band (the plain form's alone) covered the truth 5-8 times in 20; it now spans both, and says why."""
    from scalinglab.downstream import select_downstream

    rng = np.random.default_rng(4000)
    C = np.logspace(18, 21, 12)
    truth = 0.25 + 0.45 / (1 + np.exp(-1.5 * (np.log10(C) - 20.5)))
    table = {"flops": C, "acc": rng.binomial(1000, truth) / 1000}
    sel = select_downstream(table, "acc", floor=0.25)
    assert sel.method == "sigmoid-bounded" and list(sel.alternates) == ["sigmoid"]
    assert sel.scores["sigmoid"]["mean_abs_error"] <= sel.scores["sigmoid-bounded"]["mean_abs_error"]
    p = sel.predict(flops=1e22)
    own = sel.result.predict(flops=1e22)
    alt = sel.alternates["sigmoid"].predict(flops=1e22)
    assert p.value == own.value  # the forecast is the route's
    assert p.interval == (min(own.interval[0], alt.interval[0]), max(own.interval[1], alt.interval[1]))
    assert p.interval[0] < own.interval[0]
    assert any("sigmoid did as well in the internal backtests" in w for w in p.warnings)
    assert sel.to_dict()["alternates"] == ["sigmoid"]
