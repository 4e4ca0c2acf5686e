"""The fit as a pipeline of named stages: results built once, the objective choice one swappable stage, the
point fit of the backtests equal to fit() without its backtest stages, warnings emitted once by fit()."""

from __future__ import annotations

import ast
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from scalinglab._errors import ConvergenceWarning
from scalinglab.fit import _api, _stages, fit
from scalinglab.fit._stages import ObjectiveChoice, fit_point

SRC = Path(__file__).resolve().parents[1] / "src" / "scalinglab"


def _chinchilla(n=40, seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    N, D = 10 ** rng.uniform(7, 9.5, n), 10 ** rng.uniform(8.5, 11, n)
    L = (1.69 + 406.4 * N ** -0.34 + 410.7 * D ** -0.28) * np.exp(noise * rng.standard_normal(n))
    return {"params": N, "tokens": D, "loss": L}


def test_no_object_setattr_on_results_in_fit_and_report():
    """Results are constructed once: no module of fit/ or report/ writes a frozen object's field (Problem's
    derived arrays are functools.cached_property)."""
    offenders = []
    for pkg in ("fit", "report"):
        for path in sorted((SRC / pkg).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr == "__setattr__"
                        and isinstance(node.value, ast.Name) and node.value.id == "object"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_every_stage_value_is_frozen():
    for cls in (_stages.FitOptions, _stages.FitContext, _stages.Solution, _stages.ObjectiveChoice,
                _stages.Diagnosis):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__


def test_point_fit_equals_fit_without_backtest_stages():
    """What backtests refit on each cut is exactly fit(loss=..., calibrate=False): same numbers."""
    data = _chinchilla()
    a = fit(data, "chinchilla", loss="huber", calibrate=False)
    b = fit_point(data, "chinchilla", loss="huber")
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.objective == b.objective and a.status == b.status == "success"
    assert a.intervals == b.intervals and a.conventions == b.conventions


def test_choose_objective_is_one_swappable_stage(monkeypatch):
    """The objective-choice stage (``FitContext``, first ``Solution`` -> ``ObjectiveChoice``) is one function that
    fit() calls by name: replacing it replaces the estimator."""
    seen = {}

    def keep_first(ctx, first):
        seen["law"], seen["objective"] = ctx.law.name, first.objective.name
        return ObjectiveChoice(solution=first, report={"chosen": "stub", "reason": "test"})

    stage = next(n for n in ("choose_stacked", "choose_objective") if hasattr(_api, n))  # the stage fit() runs
    monkeypatch.setattr(_api, stage, keep_first)
    res = fit(_chinchilla(), "chinchilla", calibrate=False)
    assert seen == {"law": "chinchilla", "objective": "huber"}
    assert res.diagnostics["objective_choice"] == {"chosen": "stub", "reason": "test"}
    assert res.loss["name"] == "huber"
    np.testing.assert_array_equal(res.theta, fit(_chinchilla(), "chinchilla", loss="huber", calibrate=False).theta)


def test_auto_records_the_choice_and_calibrates_on_the_reference():
    res = fit(_chinchilla(60, seed=0), "chinchilla")
    choice = res.diagnostics["objective_choice"]
    assert choice["chosen"] in ("huber", "asymmetric") and res.loss["name"] == choice["chosen"]
    assert res.calibration["source"] == "backtest" and res.calibration["n_cuts"] >= 2
    # a reference (symmetric) fit is stored exactly when another objective was chosen
    assert ("reference" in res.calibration) == (choice["chosen"] != "huber")
    assert set(res.intervals) == set(res.law.param_names)


def test_weak_trend_warns_once_at_the_callers_line_and_warn_false_is_silent():
    x = 10 ** np.linspace(6, 10, 25)
    y = 3 + 0.1 * x ** -0.1 + 0.01 * np.random.default_rng(0).standard_normal(25)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        res = fit({"params": x, "loss": y}, "power", x="params")
    conv = [w for w in got if issubclass(w.category, ConvergenceWarning)]
    assert len(conv) == 1 and "weak trend" in str(conv[0].message)
    assert Path(conv[0].filename).name == "test_fit_pipeline.py"  # points at the caller of fit()
    assert res.calibration["source"] == "prior"  # a weak trend gets the wide prior rule, no backtests
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        same = fit({"params": x, "loss": y}, "power", x="params", warn=False)
    assert [w for w in quiet if issubclass(w.category, ConvergenceWarning)] == []
    assert same.status == res.status and "weak trend" in same.message
    np.testing.assert_array_equal(same.theta, res.theta)


def test_no_trend_result_is_complete_without_throw():
    x = 10 ** np.linspace(6, 10, 25)
    y = 3 + 0.01 * np.random.default_rng(1).standard_normal(25)
    with pytest.warns(ConvergenceWarning, match="no detectable power-law trend"):
        res = fit({"params": x, "loss": y}, "power", x="params", throw=False)
    assert res.status == "no_trend" and res.diagnostics["trend_test"]["p_value"] > 0.05
    assert res.n_points == 25 and len(res.residuals) == 25


def test_no_process_wide_warning_filters_in_src():
    """Library code never installs a warnings filter (not thread-safe under Ray or a notebook, and it hides
    convergence warnings from users): internal refits pass fit(warn=False), numeric noise uses np.errstate."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in ("simplefilter", "filterwarnings")
                    and isinstance(node.value, ast.Name) and node.value.id in ("warnings", "_warnings")):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
