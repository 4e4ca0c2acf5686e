"""pass@k: exact against the combinatorial definition, finite at n = 10,000, and the CLI contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from scalinglab import InputError
from scalinglab.cli import app
from scalinglab.testtime import coverage_curve, mean_pass_at_k, pass_at_k


def _exact(n, c, k):
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def test_matches_combinatorial_definition():
    for n in range(1, 25):
        for c in range(0, n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(_exact(n, c, k), rel=1e-12, abs=1e-15)


def test_edge_cases():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c < k: every k-subset holds a correct sample
    assert pass_at_k(200, 13, 1) == pytest.approx(13 / 200, rel=1e-14)


def test_large_n_is_finite_and_precise():
    v = pass_at_k(10_000, 3, 7)
    exact = _exact(10_000, 3, 7)  # Python integers: exact
    assert math.isfinite(v) and v == pytest.approx(exact, rel=1e-12)
    big = pass_at_k(10_000, 5_000, np.array([1, 100, 5_000]))
    assert np.all(np.isfinite(big)) and big[0] == pytest.approx(0.5) and big[-1] == 1.0
    tiny = pass_at_k(10_000, 1, 1)
    assert tiny == pytest.approx(1e-4, rel=1e-13)


def test_vectorised_broadcasting():
    n = np.array([200, 100, 50])
    c = np.array([13, 0, 50])
    out = pass_at_k(n, c, 10)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [_exact(200, 13, 10), 0.0, 1.0], rtol=1e-12)
    grid = pass_at_k(200, 13, np.array([[1], [10]]))
    assert grid.shape == (2, 1)
    assert mean_pass_at_k(n, c, 1) == pytest.approx((13 / 200 + 0 + 1) / 3)


def test_coverage_curve_is_monotone():
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 3.0, size=300)
    c = rng.binomial(256, p)
    ks, cov = coverage_curve(256, c)
    assert ks[0] == 1 and ks[-1] == 256
    assert np.all(np.diff(cov) >= 0) and cov[0] == pytest.approx(np.mean(c / 256))


@pytest.mark.parametrize(("n", "c", "k"), [(10, 11, 1), (10, -1, 1), (10, 2, 0), (10, 2, 11), (0, 0, 1),
                                           (10, 2.5, 1), (True, 1, 1)])
def test_bad_input(n, c, k):
    with pytest.raises(InputError):
        pass_at_k(n, c, k)


def test_cli_passk_json():
    r = CliRunner().invoke(app, ["passk", "--n", "200", "--c", "13", "--k", "1,10,100", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["n"] == 200 and data["c"] == 13
    assert set(data["pass_at_k"]) == {"1", "10", "100"}
    for k in (1, 10, 100):
        assert data["pass_at_k"][str(k)] == pytest.approx(_exact(200, 13, k), rel=1e-12)
    assert data["pass_at_k"]["1"] == 0.065


def test_cli_passk_table_and_errors():
    r = CliRunner().invoke(app, ["passk", "--n", "200", "--c", "13", "--k", "1,10"])
    assert r.exit_code == 0 and "pass@10" in r.output
    bad = CliRunner().invoke(app, ["passk", "--n", "5", "--c", "13", "--k", "1"])
    assert bad.exit_code == 2 and "0 <= c <= n" in bad.output
    bad = CliRunner().invoke(app, ["passk", "--n", "5", "--c", "1", "--k", "1,x"])
    assert bad.exit_code == 2 and "--k" in bad.output


def test_coverage_cli_says_its_extrapolated_interval_is_a_lower_bound(tmp_path):
    from typer.testing import CliRunner

    from scalinglab.cli import app
    from scalinglab.testtime import COVERAGE_INTERVAL_NOTE

    ks = np.array([1, 2, 4, 8, 16, 32, 64])
    cov = np.exp(-1.2 * ks ** -0.4)
    path = tmp_path / "cov.csv"
    path.write_text("k,coverage\n" + "\n".join(f"{k},{c:.5f}" for k, c in zip(ks, cov, strict=True)) + "\n")
    r = CliRunner().invoke(app, ["coverage", str(path), "--extrapolate", "32,640", "--json"])
    assert r.exit_code == 0, r.output
    import json

    preds = json.loads(r.stdout)["predictions"]
    assert [COVERAGE_INTERVAL_NOTE in p["warnings"] for p in preds] == [False, True]


def test_coverage_in_percent_reads_and_a_bad_point_is_named():
    from scalinglab._errors import InputError
    from scalinglab.testtime import fit_coverage

    ks = np.array([1, 2, 4, 8, 16, 32, 64], float)
    cov = np.exp(-1.2 * ks ** -0.4)
    frac = fit_coverage(ks, cov, bootstrap=20)
    pct = fit_coverage(ks, 100 * cov, bootstrap=20)            # 15.6 meaning 15.6 %
    assert pct.params["a"] == pytest.approx(frac.params["a"], rel=1e-6)
    bad = cov.copy()
    bad[0] = 0.0
    with pytest.raises(InputError, match=r"point 1 \(k = 1\) has 0: the law exp\(a k\^b\) needs some problem solved"):
        fit_coverage(ks, bad)
    bad[0] = np.nan
    with pytest.raises(InputError, match=r"point 1 \(k = 1\) has an empty cell"):
        fit_coverage(ks, bad)
