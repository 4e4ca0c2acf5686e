"""The fit space: each bound kind maps an unconstrained u onto its parameter's range, with its derivative."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.fit._space import FitSpace
from scalinglab.laws import Law, Param


class _FourKinds(Law):
    name = "four-kinds"
    variables = ("x",)
    target = "value"
    params = (Param("free"), Param("above", lower=2.0), Param("below", upper=-1.0),
              Param("between", 0.5, 3.0), Param("scale", 0.0, math.inf, log=True))

    def evaluate(self, theta, X):
        return np.sum(theta, axis=-1, keepdims=True) * np.ones_like(X["x"])


def test_each_bound_kind_maps_u_into_its_range_with_its_derivative():
    fs = FitSpace(_FourKinds())
    assert list(fs.kind) == [0, 1, 2, 3, 0]  # log scale of (0, inf) is unbounded
    u = np.array([[-30.0, -30.0, -30.0, -30.0, -30.0], [0.3, 0.3, 0.3, 0.3, 0.3], [30.0, 30.0, 30.0, 30.0, 30.0]])
    u0 = u.copy()
    theta = fs.to_natural(u)
    sig = 1 / (1 + np.exp(-0.3))
    np.testing.assert_allclose(theta[1], [0.3, 2.0 + math.log1p(math.exp(0.3)), -1.0 - math.log1p(math.exp(-0.3)),
                                          0.5 + 2.5 * sig, math.exp(0.3)], rtol=1e-14)
    assert np.all(theta[:, 1] > 2.0) and np.all(theta[:, 2] < -1.0) and np.all((0.5 <= theta[:, 3]) & (theta[:, 3] <= 3.0))
    assert theta[0, 3] == pytest.approx(0.5) and theta[2, 3] == pytest.approx(3.0)
    # d theta / d u by central differences, per kind
    th, d = fs.dnatural_du(u[1])
    np.testing.assert_allclose(th, theta[1], rtol=1e-15)
    h = 1e-6
    num = (fs.to_natural(u[1] + h) - fs.to_natural(u[1] - h)) / (2 * h)
    np.testing.assert_allclose(d, num, rtol=1e-7)
    # and back: to_fit inverts to_natural inside the bounds
    np.testing.assert_allclose(fs.to_fit(theta[1]), u[1], rtol=1e-9)
    np.testing.assert_array_equal(u, u0)  # the transforms never write into their input
