"""The safe law parser: hostile strings are rejected without executing anything; accepted formulas
evaluate (and differentiate) exactly like the catalog laws they spell out."""

from __future__ import annotations

import ast
import builtins
import contextlib

import numpy as np
import pytest

from scalinglab import LawError, LawParseError
from scalinglab.laws import get_law, law_from_spec, parse_law
from scalinglab.laws._parse import MAX_DEPTH, MAX_LENGTH

HOSTILE = [
    "__import__('os').system('touch {sentinel}')",
    '__import__("os").system("touch {sentinel}")',
    "open('{sentinel}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "N.__class__", "N.real", "exp.__globals__", "N.__dict__", "A.__init__.__globals__",
    "lambda: 0", "(lambda N: N)(1)", "[x for x in (1, 2)]", "(x for x in N)", "{{1: 2}}", "{{1, 2}}",
    "(N, D)", "N[0]", "N[1:2]", "(y := 3)", "f'{{N}}'", "'abc'", "b'abc'", "None", "True + N",
    "1j * N", "...", "*N", "exp(*N)", "exp(x=N)", "max(*[N, D])", "eval(N)", "exec(N)", "compile(N)",
    "getattr(N, D)", "globals()", "locals()", "vars()", "__builtins__", "_secret + N", "__import__",
    "9**9**9", "N + 9**9**9**9", "10**400 * N", "1e999 * N", "N ** (10.0**400)", "N if D else 1",
    "N < D", "N and D", "not N", "~N", "N ^ 2", "N // 2", "N % 2", "N @ D", "N << 2", "N | D", "N & D",
    "'x' * 10**9", "N; import os", "import os", "N\nimport os", "x = 1", "N +", "A * N ** ",
    "(" * (MAX_DEPTH + 10) + "N" + ")" * (MAX_DEPTH + 10), "-" * (MAX_LENGTH + 1) + "N",
    "N + " * 600 + "N", "-" * 60 + "N + a", "exp(N)(D)", "exp", "sin(N)", "print(N)", "await N",
    "yield N", "# comment", "", "   ", "max(N)", "exp(N, D)", "log()", "N\x00", "N \\\n + D",
    "\uff45\uff56\uff41\uff4c(N)", "\uff3f\uff3fimport\uff3f\uff3f(N)", "N.__class__.__mro__[1]",
    "sigmoid(N).conjugate()", "breakpoint()", "input()", "A if N else B", "a + b",
]


@contextlib.contextmanager
def no_execution(calls):
    """While active, eval/exec/__import__ record and explode; compile() may only build an AST."""

    def boom(name):
        def f(*a, **k):
            calls.append(name)
            raise AssertionError(f"{name} was called during parsing")
        return f

    real = {k: getattr(builtins, k) for k in ("eval", "exec", "__import__", "compile")}

    def only_ast(source, filename, mode, flags=0, *a, **k):
        if not flags & ast.PyCF_ONLY_AST:
            calls.append("compile")
            raise AssertionError("compile() called for code, not an AST")
        return real["compile"](source, filename, mode, flags, *a, **k)

    def guarded_import(name, *a, **k):
        if name == "unicodedata":  # CPython's own NFKC normalisation of non-ASCII identifiers
            return real["__import__"](name, *a, **k)
        return boom("__import__")(name)

    builtins.eval, builtins.exec, builtins.__import__ = boom("eval"), boom("exec"), guarded_import
    builtins.compile = only_ast
    try:
        yield
    finally:
        for k, v in real.items():
            setattr(builtins, k, v)


def test_at_least_fifty_hostile_strings():
    assert len(HOSTILE) >= 50


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_strings_rejected_without_executing(expr, tmp_path):
    sentinel = tmp_path / "pwned"
    expr = expr.replace("{sentinel}", str(sentinel)).replace("{{", "{").replace("}}", "}")
    calls, error = [], None
    with no_execution(calls):
        try:
            parse_law(expr)
        except LawParseError as exc:
            error = exc
    assert error is not None, f"accepted {expr!r}"
    assert "invalid law expression" in str(error)
    assert calls == []
    assert not sentinel.exists()


def test_accepted_formula_parses_without_executing():
    calls = []
    with no_execution(calls):
        law = parse_law("E + A/N**alpha + B/D**beta + max(0, log(sqrt(D)))")
        law.evaluate(np.ones(law.n_params), {"N": np.array([1e9]), "D": np.array([1e10])})
    assert calls == []


def test_error_positions_and_reasons():
    with pytest.raises(LawParseError, match="position 4.*attribute access") as e:
        parse_law("E + N.real")
    assert e.value.position == 4
    with pytest.raises(LawParseError, match=r"use '\*\*'"):
        parse_law("A * N^alpha")
    with pytest.raises(LawParseError, match="unknown function 'sin'.*exp, log"):
        parse_law("E + sin(N)")
    with pytest.raises(LawParseError, match="limit is 2000"):
        parse_law("N" + " + a" * 700)
    with pytest.raises(LawParseError, match="overflows"):
        parse_law("a * N ** 9**9**9")
    with pytest.raises(LawParseError, match="no variable"):
        parse_law("a + b")
    with pytest.raises(LawParseError, match="no parameter"):
        parse_law("N * 2")
    with pytest.raises(LawParseError, match="syntax error"):
        parse_law("E + (A")


def _chin_X(n=64, seed=0):
    r = np.random.default_rng(seed)
    return {"N": 10 ** r.uniform(6, 12, n), "D": 10 ** r.uniform(8, 13, n)}


def test_user_chinchilla_equals_catalog():
    user = parse_law("E + A/N**alpha + B/D**beta")
    cat = get_law("chinchilla")
    assert set(user.param_names) == set(cat.param_names) and user.variables == ("N", "D")
    for p in user.params:
        q = cat.param(p.name)
        assert (p.lower, p.upper, p.log) == (q.lower, q.upper, q.log)
    r = np.random.default_rng(1)
    X = _chin_X()
    order = [user.param_names.index(n) for n in cat.param_names]
    for _ in range(10):
        theta_c = np.array([r.uniform(1, 3), 10 ** r.uniform(1, 4), 10 ** r.uniform(1, 4),
                            r.uniform(0.1, 0.8), r.uniform(0.1, 0.8)])
        theta_u = np.empty(5)
        theta_u[order] = theta_c
        np.testing.assert_allclose(user.evaluate(theta_u, X), cat.evaluate(theta_c, X), rtol=1e-13)
        np.testing.assert_allclose(user.jacobian(theta_u, X)[:, order], cat.jacobian(theta_c, X), rtol=1e-11)
    batch = np.broadcast_to(theta_u, (3, 2, 5))
    assert user.evaluate(batch, X).shape == (3, 2, 64)
    assert user.jacobian(batch, X).shape == (3, 2, 64, 5)
    # same default Hoffmann start grid (4,500 starts) for E, A, B, alpha, beta
    assert user.start_grid().shape == (4500, 5)


def test_user_bnsl_equals_catalog():
    user = parse_law("a + b * x**(-c0) * (1 + (x/d1)**(1/f1))**(-c1*f1)",
                     bounds={"c0": (-5, 5), "c1": (-5, 5)})
    cat = get_law("bnsl")
    theta = {"a": 0.5, "b": 20.0, "c0": 0.1, "c1": 0.5, "d1": 1e5, "f1": 0.3}
    x = np.geomspace(10, 1e9, 50)
    np.testing.assert_allclose(user(theta, x=x), cat(theta, x=x), rtol=1e-12)


def test_symbolic_jacobian_matches_finite_differences():
    law = parse_law("L0 + A*exp(-alpha*log(N)) + sqrt(abs(B))*tanh(D/1e9) + softplus(c*log10(D)) "
                    "+ max(N/1e9, c) - min(g, D/1e12) + sigmoid(g*N/1e9) - 2**(-c) / (1 + N/D)**2")
    X = {"N": np.geomspace(1e8, 1e10, 25), "D": np.geomspace(1e10, 1e13, 25)}
    theta = np.array([1.5, 30.0, 0.3, 4.0, 0.7, 1.3])
    assert law.param_names == ("L0", "A", "alpha", "B", "c", "g")
    J = law.jacobian(theta, X)
    fd = []
    for j in range(6):
        h = 1e-6 * max(1.0, abs(theta[j]))
        up, dn = theta.copy(), theta.copy()
        up[j] += h
        dn[j] -= h
        fd.append((law.evaluate(up, X) - law.evaluate(dn, X)) / (2 * h))
    np.testing.assert_allclose(J, np.stack(fd, -1), rtol=1e-5, atol=1e-9)


def test_defaults_bounds_and_variables():
    law = parse_law("L0 + A * S1**(-alpha) - C * S2", variables=["S1", "S2"])
    assert law.variables == ("S1", "S2") and law.param_names == ("L0", "A", "alpha", "C")
    assert law.param("L0").log and law.param("A").log and not law.param("C").log
    assert (law.param("alpha").lower, law.param("alpha").upper) == (0.0, 5.0)
    assert law.param("C").lower == -np.inf
    law2 = parse_law("A * C**a", bounds={"a": (-2, 2), "A": (1e-3, 1e3)})
    assert law2.variables == ("C",)
    assert (law2.param("a").lower, law2.param("a").upper) == (-2.0, 2.0)
    assert law2.param("A").log and law2.param("A").lower == 1e-3
    with pytest.raises(LawError, match="not parameters"):
        parse_law("A * C**a", bounds={"zz": (0, 1)})
    with pytest.raises(LawError, match="must be <"):
        parse_law("A * C**a", bounds={"a": (1, 0)})
    with pytest.raises(LawParseError, match="do not occur"):
        parse_law("A * C**a", variables=["N"])
    # target "value" for laws that are not positive
    assert parse_law("a + b * log10(C)", target="value").target == "value"


def test_get_law_accepts_expressions_and_spec_round_trip():
    law = get_law("E + A/N**alpha", bounds={"alpha": (0, 2)})
    assert law.variables == ("N",)
    again = law_from_spec(law.spec())
    assert again == law and again.param("alpha").upper == 2.0
    assert get_law(law.name).param("alpha").upper == 5.0  # name alone: default bounds
    with pytest.raises(AttributeError):
        law.formula = "x"


def test_evaluation_never_warns():
    law = parse_law("E + A/N**alpha + log(N - D) + sqrt(-N) + exp(N)")
    with np.errstate(all="raise"):
        y = law.evaluate(np.array([1.0, 1.0, 0.5]), {"N": np.array([0.0, 1e300, 1.0]), "D": np.array([1, 1, 2])})
    assert y.shape == (3,) and not np.isfinite(y).any()


def test_a_constant_named_like_a_column_is_refused_at_fit_time():
    """'B/tokens**beta' fitted 'tokens' as a constant (7.456): the law lost its D dependence, 34x the noise,
    status success, no warning. A formula constant that names a column of the table (by its canonical name
    here) is refused with the variable to write; an ordinary constant is not."""
    import pandas as pd

    from scalinglab.fit import fit

    N = np.repeat(np.logspace(7, 9, 5), 4)
    D = N * np.tile([5, 10, 20, 40], 5)
    df = pd.DataFrame({"params": N, "Training tokens": D, "loss": 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28})
    with pytest.raises(LawError, match=r"'tokens' is a column of .*write it as D"):  # read from 'Training tokens'
        fit(df, "E + A/N**alpha + B/tokens**beta", calibrate=False)
    with pytest.raises(LawError, match=r"'params' is a column"):
        fit(df, "E + A/params**alpha + B/D**beta", calibrate=False)
    res = fit(df, "E + A/N**alpha + B/D**beta", calibrate=False)
    assert res.params["beta"] == pytest.approx(0.28, abs=0.01)
