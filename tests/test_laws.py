"""Catalog laws: registry, presets, published numbers, Jacobians and log-evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab import CatalogError, LawError
from scalinglab.laws import (
    chinchilla_optimum,
    get_law,
    get_preset,
    law_from_spec,
    list_laws,
    list_presets,
)


def _fd_jacobian(law, theta, X, rel=1e-6):
    cols = []
    for j in range(law.n_params):
        h = rel * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        cols.append((law.evaluate(up, X) - law.evaluate(dn, X)) / (2 * h))
    return np.stack(cols, axis=-1)


def test_registry_basics():
    names = {d["name"] for d in list_laws()}
    assert {"power", "power-pure", "chinchilla"} <= names
    law = get_law("chinchilla")
    assert law.param_names == ("E", "A", "B", "alpha", "beta")
    assert [p.log for p in law.params] == [True, True, True, False, False]
    assert law.variables == ("N", "D")
    assert get_law("power").variables == ("x",)
    assert get_law("power", variable="N").variables == ("N",)
    assert get_law("power", variable="N") == get_law("power", variable="N")
    assert get_law("power", variable="N") != get_law("power")
    with pytest.raises(LawError, match="did you mean"):
        get_law("chinchila")
    with pytest.raises(CatalogError):
        get_preset("nope")
    with pytest.raises(LawError):
        get_law("power", variable="__class__")


def test_spec_round_trip():
    for law in (get_law("chinchilla"), get_law("power", variable="C"), get_law("power-pure")):
        assert law_from_spec(law.spec()) == law


def test_laws_are_frozen():
    law = get_law("chinchilla")
    with pytest.raises(AttributeError):
        law.formula = "x"


def test_hoffmann_grid_is_4500_starts():
    grid = get_law("chinchilla").start_grid()
    assert grid.shape == (4500, 5)
    np.testing.assert_allclose(np.unique(np.log(grid[:, 0])), [-1, -0.5, 0, 0.5, 1], atol=1e-12)
    np.testing.assert_allclose(np.unique(np.log(grid[:, 1])), [0, 5, 10, 15, 20, 25], atol=1e-12)
    np.testing.assert_allclose(np.unique(grid[:, 3]), [0, 0.5, 1, 1.5, 2])


@pytest.mark.parametrize(("preset", "N", "D"), [
    ("chinchilla-hoffmann", 3.22e10, 2.98e12),
    ("chinchilla-hoffmann-unrounded", 4.04e10, 2.38e12),
    ("chinchilla-epoch", 7.22e10, 1.33e12),
])
def test_chinchilla_compute_optimal(preset, N, D):
    law, p = get_preset(preset)
    n, d = chinchilla_optimum(p.values, 5.76e23)
    assert n == pytest.approx(N, rel=5e-3)
    assert d == pytest.approx(D, rel=5e-3)
    assert 6 * n * d == pytest.approx(5.76e23, rel=1e-12)
    # the closed form is the minimum of L along the budget C = 6 N D
    Ns = n * np.exp(np.linspace(-0.3, 0.3, 61))
    L = law(p.values, N=Ns, D=5.76e23 / (6 * Ns))
    assert np.argmin(L) == 30


def test_epoch_tokens_per_param_and_batch():
    law, p = get_preset("chinchilla-epoch")
    n, d = chinchilla_optimum(p.values, 5.76e23)
    assert 17.5 < d / n < 19.5
    assert 7.0e10 < n < 7.4e10
    theta = np.array([[p.values[k] for k in law.param_names]] * 3)
    nb, db = chinchilla_optimum(theta, np.array([1e21, 1e22, 1e23]))
    assert nb.shape == (3,)
    assert nb[2] / nb[1] == pytest.approx(10 ** (0.3658 / (0.3478 + 0.3658)), rel=1e-9)


def test_presets_have_sources_and_conventions():
    presets = {p["name"]: p for p in list_presets()}
    for name in ("chinchilla-hoffmann", "chinchilla-hoffmann-unrounded", "chinchilla-epoch"):
        assert presets[name]["source"]
        assert presets[name]["conventions"]["loss"] == "nats/token"
    assert presets["chinchilla-hoffmann"]["values"] == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34,
                                                        "beta": 0.28}
    assert "93" in presets["chinchilla-hoffmann"]["notes"] and "20" in presets["chinchilla-hoffmann"]["notes"]
    assert presets["chinchilla-epoch"]["stderr"]["B"] == 1293.23
    unr = presets["chinchilla-hoffmann-unrounded"]["values"]
    assert math.log(unr["E"]) == pytest.approx(0.5267228)
    assert unr["beta"] == 0.2849083


def test_chinchilla_shapes_jacobian_and_lse():
    law = get_law("chinchilla")
    rng = np.random.default_rng(0)
    X = {"N": 10 ** rng.uniform(7, 11, 20), "D": 10 ** rng.uniform(9, 12, 20)}
    theta = np.array([1.8, 480.0, 2000.0, 0.35, 0.37])
    batch = np.stack([theta, theta * 1.1])[None]  # (1, 2, 5)
    assert law.evaluate(batch, X).shape == (1, 2, 20)
    assert law.jacobian(batch, X).shape == (1, 2, 20, 5)
    np.testing.assert_allclose(law.jacobian(theta, X), _fd_jacobian(law, theta, X), rtol=1e-5)
    np.testing.assert_allclose(law.log_evaluate(theta, X), np.log(law.evaluate(theta, X)), rtol=1e-12)
    np.testing.assert_allclose(law.log_jacobian(theta, X),
                               law.jacobian(theta, X) / law.evaluate(theta, X)[:, None], rtol=1e-10)
    # huge start values (log A = 25, alpha = 0): log-sum-exp stays finite where exp overflows
    big = np.array([math.e, math.exp(25), math.exp(25), 0.0, 0.0])
    assert np.all(np.isfinite(law.log_evaluate(big, X)))
    extreme = np.array([1.0, 1e300, 1e300, -1.0, 0.0])
    with np.errstate(all="raise"):
        assert np.all(np.isfinite(law.log_evaluate(extreme, X)))


def test_power_law_jacobian_and_guess():
    law = get_law("power", variable="N")
    x = np.geomspace(1e6, 1e10, 30)
    theta = np.array([2.0, 300.0, 0.3])
    X = {"N": x}
    np.testing.assert_allclose(law.jacobian(theta, X), _fd_jacobian(law, theta, X), rtol=1e-5)
    np.testing.assert_allclose(law.log_evaluate(theta, X), np.log(law.evaluate(theta, X)), rtol=1e-12)
    g = law.guess(X, law.evaluate(theta, X))
    assert g.shape == (3,) and 0.05 < g[2] < 1.0
    pure = get_law("power-pure", variable="C")
    y = 0.3 * np.geomspace(1e18, 1e22, 9) ** 0.5
    A, alpha = pure.guess({"C": np.geomspace(1e18, 1e22, 9)}, y)
    assert A == pytest.approx(0.3, rel=1e-8) and alpha == pytest.approx(-0.5, abs=1e-10)
    np.testing.assert_allclose(pure.jacobian(np.array([0.3, -0.5]), {"C": x}),
                               _fd_jacobian(pure, np.array([0.3, -0.5]), {"C": x}), rtol=1e-5)


def test_call_with_mapping():
    law, p = get_preset("chinchilla-hoffmann")
    L = law(p.values, N=7e10, D=1.4e12)
    assert L.shape == (1,)
    assert L[0] == pytest.approx(1.69 + 406.4 / 7e10 ** 0.34 + 410.7 / 1.4e12 ** 0.28, rel=1e-12)


@pytest.mark.parametrize("name", ["chinchilla", "chinchilla-joint", "power"])
def test_log_evaluate_jacobian_is_both_methods_in_one_call(name):
    """The solvers' fused call equals log(evaluate) and jacobian / evaluate, batched (Chinchilla's laws share
    one log-sum-exp; the power law takes the base class's default)."""
    law = get_law(name) if name != "power" else get_law("power", variable="N")
    rng = np.random.default_rng(3)
    X = {"N": 10 ** rng.uniform(7, 11, 12), "D": 10 ** rng.uniform(9, 12, 12)}
    theta = np.array([p.default for p in law.params])
    batch = np.stack([theta, theta * 1.2, theta * 0.8]).reshape(3, 1, -1) * np.ones((1, 2, 1))  # (3, 2, P)
    logy, J = law.log_evaluate_jacobian(batch, X)
    assert logy.shape == (3, 2, 12) and J.shape == (3, 2, 12, law.n_params)
    np.testing.assert_allclose(logy, np.log(law.evaluate(batch, X)), rtol=1e-12)
    np.testing.assert_allclose(J, law.jacobian(batch, X) / law.evaluate(batch, X)[..., None], rtol=1e-9)
    np.testing.assert_allclose(J[1, 0], _fd_jacobian(law, batch[1, 0], X) / law.evaluate(batch[1, 0], X)[:, None],
                               rtol=1e-5)


def test_lse_sums_directly_and_falls_back_at_extreme_magnitudes():
    from scalinglab.laws._catalog_base import _lse

    a = np.array([0.0, 1.0, -3.0, 800.0, -800.0, -np.inf, 10.0])
    b = np.array([0.0, -2.0, -3.0, 799.0, -801.0, 2.0, -np.inf])
    expect = np.logaddexp(a, b)
    np.testing.assert_allclose(_lse(a, b), expect, rtol=1e-14)  # the extreme rows take the exact path
    np.testing.assert_allclose(_lse(a[:3], b[:3]), expect[:3], rtol=1e-14)  # direct sum
    assert _lse(np.array([-700.0]), np.array([-700.0]))[0] == pytest.approx(-700 + math.log(2), rel=1e-15)
    assert _lse(np.array([2.0]), np.array([3.0]), np.array([[0.5], [-1.0]])).shape == (2, 1)
