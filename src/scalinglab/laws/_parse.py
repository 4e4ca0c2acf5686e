"""User-defined laws from a formula string, parsed by a whitelist grammar and never executed.

``parse_law("E + A/N**alpha + B/D**beta")`` returns a `Law` whose evaluation walks a validated tree of our
own with numpy. The string goes through ``ast.parse(mode="eval")`` (which only builds a syntax tree) and
every node is checked against a whitelist; nothing is ever passed to ``eval``, ``exec`` or ``compile``.

Grammar (anything else is a :class:`~scalinglab.LawParseError` naming the position and the reason):

* numbers (int or float literals; not bool/complex/str), names, parentheses;
* ``+ - * / **`` and unary ``-``/``+``;
* calls of ``exp log log10 sqrt abs tanh sigmoid softplus`` (one argument) and ``min max`` (two or more),
  by bare name, positional arguments only.

Limits: at most 2,000 characters and nesting depth 50; constant sub-expressions are folded in floating
point and rejected if they overflow (``9**9**9``); names may not start with ``_``.

Variables are the names in ``variables=`` if given, else the known variable names that occur
(``N D C U S S1 S2 x k d``); all other names are parameters, in order of first appearance.

Default parameter bounds (override with ``bounds={"name": (lo, hi)}``; ``lo > 0`` keeps a fit in log space):

* ``E``, ``A``, ``B``, ``L0`` (scales): ``(0, inf)``, fitted in log space, Hoffmann-like start grids;
* a parameter that occurs only in exponents (right of ``**``): ``[0, 5]``, start grid {0, 0.5, ..., 2}.
  Write decays as ``N**(-alpha)`` or ``1/N**alpha``; pass bounds for an exponent that may be negative;
* anything else: unbounded, start value 1.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence

import numpy as np

from .._errors import LawError, LawParseError
from ._base import Law, Param

__all__ = ["parse_law", "ExpressionLaw", "MAX_LENGTH", "MAX_DEPTH", "FUNCTIONS", "KNOWN_VARIABLES"]

MAX_LENGTH = 2000
MAX_DEPTH = 50
#: function name -> number of arguments (None = two or more)
FUNCTIONS: dict[str, int | None] = {"exp": 1, "log": 1, "log10": 1, "sqrt": 1, "abs": 1, "tanh": 1,
                                    "sigmoid": 1, "softplus": 1, "min": None, "max": None}
KNOWN_VARIABLES = ("N", "D", "C", "U", "S", "S1", "S2", "x", "k", "d")
_SCALES = {"E": (-1.0, -0.5, 0.0, 0.5, 1.0), "A": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
           "B": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0), "L0": (0.0, 0.5, 1.0)}
_EXPONENT_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_OP_HINTS = {ast.BitXor: "'^' is not a power here; use '**'", ast.FloorDiv: "use '/' instead of '//'",
             ast.Mod: "'%' is not supported", ast.MatMult: "'@' is not supported"}

# A validated tree is made of tuples:
#   ("const", float) | ("var", name) | ("param", index) | ("neg", t) | (op, t1, t2) for op in _BINOPS values
#   | ("call", fname, (t, ...)) | ("pick", "min"|"max", (args...), (dargs...))  [derivative of min/max]


# --------------------------------------------------------------------------------------------- parsing
class _Validator:
    def __init__(self, expr: str, variables: Sequence[str] | None):
        self.expr = expr
        self.explicit = tuple(variables) if variables is not None else None
        self.names: list[str] = []          # non-function names in order of first appearance
        self.exponent_only: dict[str, bool] = {}
        lines = expr.split("\n")
        self._line_starts = [0]
        for line in lines[:-1]:
            self._line_starts.append(self._line_starts[-1] + len(line) + 1)
        self._lines = lines

    def pos(self, node: ast.AST) -> int | None:
        lineno, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        if lineno is None or col is None:
            return None
        line = self._lines[lineno - 1]
        chars = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))  # col_offset is in bytes
        return self._line_starts[lineno - 1] + chars

    def fail(self, node: ast.AST | None, reason: str) -> LawParseError:
        return LawParseError(reason, expression=self.expr, position=None if node is None else self.pos(node))

    def walk(self, node: ast.AST, depth: int = 0, in_exponent: bool = False):
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression is nested deeper than {MAX_DEPTH} levels (each operator of a long "
                                  f"sum or product counts as one: at most about {MAX_DEPTH} terms)")
        if isinstance(node, ast.Expression):
            return self.walk(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(node, f"only int and float numbers are allowed, not {type(v).__name__} {v!r:.40}")
            try:
                f = float(v)
            except OverflowError:
                f = math.inf
            if not math.isfinite(f):
                raise self.fail(node, "number literal is too large")
            return ("const", f)
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                raise self.fail(node, f"name {name!r} is not allowed (names may not start with '_')")
            if name in FUNCTIONS:
                raise self.fail(node, f"{name!r} is a function; call it as {name}(...)")
            if name not in self.names:
                self.names.append(name)
                self.exponent_only[name] = in_exponent
            elif not in_exponent:
                self.exponent_only[name] = False
            return ("name", name)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _neg(self.walk(node.operand, depth + 1, in_exponent))
            if isinstance(node.op, ast.UAdd):
                return self.walk(node.operand, depth + 1, in_exponent)
            raise self.fail(node, f"unary operator {type(node.op).__name__} is not allowed (only - and +)")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                hint = _OP_HINTS.get(type(node.op), "only + - * / ** are allowed")
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed: {hint}")
            left = self.walk(node.left, depth + 1, in_exponent)
            right = self.walk(node.right, depth + 1, in_exponent or op == "pow")
            return self.fold(node, (op, left, right))
        if isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name):
                raise self.fail(node, "only calls of a bare function name are allowed, e.g. exp(x)")
            fname = func.id
            if fname not in FUNCTIONS:
                raise self.fail(func, f"unknown function {fname!r}; allowed: {', '.join(FUNCTIONS)}")
            if node.keywords:
                raise self.fail(node, f"{fname}() takes no keyword arguments")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    raise self.fail(a, "starred arguments are not allowed")
            arity = FUNCTIONS[fname]
            if arity is None and len(node.args) < 2:
                raise self.fail(node, f"{fname}() needs two or more arguments")
            if arity is not None and len(node.args) != arity:
                raise self.fail(node, f"{fname}() takes exactly {arity} argument, got {len(node.args)}")
            args = tuple(self.walk(a, depth + 1, in_exponent) for a in node.args)
            return self.fold(node, ("call", fname, args))
        what = {ast.Attribute: "attribute access", ast.Subscript: "subscripting", ast.Lambda: "a lambda",
                ast.NamedExpr: "an assignment expression (:=)", ast.JoinedStr: "an f-string",
                ast.Compare: "a comparison", ast.BoolOp: "a boolean operator", ast.IfExp: "a conditional expression",
                ast.Starred: "a starred expression"}.get(type(node), f"a {type(node).__name__} node")
        raise self.fail(node, f"{what} is not allowed; only numbers, names, + - * / **, parentheses and "
                              f"calls of {', '.join(FUNCTIONS)}")

    def fold(self, node: ast.AST, tree: tuple):
        """Fold a sub-tree whose operands are all constants; reject overflowing constants (9**9**9)."""
        kids = tree[2] if tree[0] == "call" else tree[1:]
        if all(k[0] == "const" for k in kids):
            with np.errstate(all="ignore"):
                value = float(_eval(tree, {}, {}))
            if not math.isfinite(value):
                raise self.fail(node, "constant sub-expression overflows or is undefined")
            return ("const", value)
        return tree


def _neg(t):
    return ("const", -t[1]) if t[0] == "const" else ("neg", t)


def _resolve(tree, variables: set[str], index: dict[str, int]):
    kind = tree[0]
    if kind == "name":
        return ("var", tree[1]) if tree[1] in variables else ("param", index[tree[1]])
    if kind == "const":
        return tree
    if kind == "neg":
        return ("neg", _resolve(tree[1], variables, index))
    if kind == "call":
        return ("call", tree[1], tuple(_resolve(a, variables, index) for a in tree[2]))
    return (kind, _resolve(tree[1], variables, index), _resolve(tree[2], variables, index))


# --------------------------------------------------------------------------------------------- evaluation
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


_UNARY = {"exp": np.exp, "log": np.log, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh,
          "sigmoid": _sigmoid, "softplus": lambda z: np.logaddexp(0.0, z), "sign": np.sign}


def _eval(t, P: Mapping[int, np.ndarray], X: Mapping[str, np.ndarray]):
    kind = t[0]
    if kind == "const":
        return t[1]
    if kind == "param":
        return P[t[1]]
    if kind == "var":
        return X[t[1]]
    if kind == "neg":
        return -_eval(t[1], P, X)
    if kind == "call":
        fname, args = t[1], [_eval(a, P, X) for a in t[2]]
        if fname in _UNARY:
            return _UNARY[fname](np.asarray(args[0], dtype=float))
        out = args[0]
        for a in args[1:]:
            out = np.minimum(out, a) if fname == "min" else np.maximum(out, a)
        return out
    if kind == "pick":
        vals = [np.asarray(_eval(a, P, X), dtype=float) for a in t[2]]
        ders = [np.asarray(_eval(a, P, X), dtype=float) for a in t[3]]
        shape = np.broadcast_shapes(*(v.shape for v in vals), *(d.shape for d in ders))
        best = np.broadcast_to(vals[0], shape)
        out = np.broadcast_to(ders[0], shape)
        for v, d in zip(vals[1:], ders[1:], strict=True):
            better = v < best if t[1] == "min" else v > best
            best = np.where(better, v, best)
            out = np.where(better, d, out)
        return out
    a, b = _eval(t[1], P, X), _eval(t[2], P, X)
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "div":
        return np.true_divide(a, b)
    if kind == "pow":
        return np.power(np.asarray(a, dtype=float), b)
    raise LawError(f"internal: unknown node {kind!r}")  # pragma: no cover


# --------------------------------------------------------------------------------------------- derivative
_ZERO, _ONE = ("const", 0.0), ("const", 1.0)


def _is(t, v):
    return t[0] == "const" and t[1] == v


def _add(a, b):
    return b if _is(a, 0.0) else a if _is(b, 0.0) else ("add", a, b)


def _sub(a, b):
    return _neg(b) if _is(a, 0.0) else a if _is(b, 0.0) else ("sub", a, b)


def _mul(a, b):
    if _is(a, 0.0) or _is(b, 0.0):
        return _ZERO
    return b if _is(a, 1.0) else a if _is(b, 1.0) else ("mul", a, b)


def _div(a, b):
    return _ZERO if _is(a, 0.0) else a if _is(b, 1.0) else ("div", a, b)


def _call(f, *args):
    return ("call", f, tuple(args))


def _diff(t, j: int):
    """Symbolic derivative of tree ``t`` with respect to parameter ``j`` (a new tree)."""
    kind = t[0]
    if kind in ("const", "var"):
        return _ZERO
    if kind == "param":
        return _ONE if t[1] == j else _ZERO
    if kind == "neg":
        d = _diff(t[1], j)
        return _ZERO if _is(d, 0.0) else _neg(d)
    if kind == "call":
        fname, args = t[1], t[2]
        if fname in ("min", "max"):
            ders = tuple(_diff(a, j) for a in args)
            return _ZERO if all(_is(d, 0.0) for d in ders) else ("pick", fname, args, ders)
        a = args[0]
        da = _diff(a, j)
        if _is(da, 0.0):
            return _ZERO
        outer = {
            "exp": lambda: t,
            "log": lambda: _div(_ONE, a),
            "log10": lambda: _div(_ONE, _mul(a, ("const", math.log(10.0)))),
            "sqrt": lambda: _div(("const", 0.5), t),
            "abs": lambda: _call("sign", a),
            "tanh": lambda: _sub(_ONE, _mul(t, t)),
            "sigmoid": lambda: _mul(t, _sub(_ONE, t)),
            "softplus": lambda: _call("sigmoid", a),
        }[fname]()
        return _mul(outer, da)
    a, b = t[1], t[2]
    da, db = _diff(a, j), _diff(b, j)
    if kind == "add":
        return _add(da, db)
    if kind == "sub":
        return _sub(da, db)
    if kind == "mul":
        return _add(_mul(da, b), _mul(a, db))
    if kind == "div":
        return _sub(_div(da, b), _div(_mul(a, db), _mul(b, b)))
    if kind == "pow":
        terms = _ZERO
        if not _is(da, 0.0):  # b * a**(b-1) * da
            terms = _mul(_mul(b, ("pow", a, _sub(b, _ONE)) if b[0] != "const" else ("pow", a, ("const", b[1] - 1.0))),
                         da)
        if not _is(db, 0.0):  # a**b * log(a) * db
            terms = _add(terms, _mul(_mul(t, _call("log", a)), db))
        return terms
    raise LawError(f"internal: unknown node {kind!r}")  # pragma: no cover


# --------------------------------------------------------------------------------------------- the law
class ExpressionLaw(Law):
    """A law defined by a user formula (see :func:`parse_law`). Frozen; compares by :meth:`spec`."""

    _frozen = False

    def __init__(self, expression: str, tree, variables: tuple[str, ...], params: tuple[Param, ...],
                 target: str, user_bounds: Mapping[str, tuple]):
        self.name = expression
        self.expression = expression
        self.formula = expression
        self.variables = variables
        self.params = params
        self.target = target
        self.description = "user-defined law"
        self._tree = tree
        self._user_bounds = {k: [float(v) for v in b] for k, b in user_bounds.items()}
        self._dtrees = tuple(_diff(tree, j) for j in range(len(params)))
        self._frozen = True  # the last assignment: from here on __setattr__ refuses

    def __setattr__(self, key, value):
        if self._frozen:
            raise AttributeError(f"law {self.name!r} is frozen")
        super().__setattr__(key, value)

    def spec(self) -> dict:
        """JSON-able ``{"name": ..., options}`` from which ``scalinglab.laws.law_from_spec`` rebuilds this law."""
        return {"expression": self.expression, "variables": list(self.variables),
                "bounds": self._user_bounds or None, "target": self.target}

    def __eq__(self, other):
        return isinstance(other, ExpressionLaw) and other.spec() == self.spec()

    def __hash__(self):
        return hash(self.expression)

    def _env(self, theta, X):
        theta = np.asarray(theta, dtype=float)
        if theta.shape[-1:] != (self.n_params,):
            raise LawError(f"law {self.name!r} has {self.n_params} parameters, got theta of shape {theta.shape}")
        P = {j: theta[..., j, None] for j in range(self.n_params)}
        try:
            Xa = {v: np.asarray(X[v], dtype=float) for v in self.variables}
        except KeyError as exc:
            raise LawError(f"law {self.name!r} needs variable {exc.args[0]!r}") from None
        n = len(next(iter(Xa.values())))
        return theta, P, Xa, theta.shape[:-1] + (n,)

    def evaluate(self, theta, X):
        """Value of the parsed expression, shape ``(..., n)``, for natural-space ``theta`` of shape ``(..., P)``;
        ``X`` maps each variable to a 1-D array of length n.
        """
        theta, P, Xa, shape = self._env(theta, X)
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(_eval(self._tree, P, Xa), dtype=float), shape).copy()

    def jacobian(self, theta, X):
        """Derivative of the value of the parsed expression with respect to natural-space ``theta``, shape ``(...,
        n, P)``.
        """
        theta, P, Xa, shape = self._env(theta, X)
        with np.errstate(all="ignore"):
            cols = [np.broadcast_to(np.asarray(_eval(d, P, Xa), dtype=float), shape) for d in self._dtrees]
        return np.stack(cols, axis=-1)


def _default_param(name: str, exponent_only: bool, bounds: tuple | None) -> Param:
    if bounds is not None:
        if not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise LawError(f"bounds for {name!r} must be a (lower, upper) pair, got {bounds!r}")
        lo, hi = (float(b) for b in bounds)
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise LawError(f"bounds for {name!r}: lower {lo} must be < upper {hi}")
        log = (name in _SCALES) and lo >= 0
        if log:
            grid = tuple(g for g in (math.exp(v) for v in _SCALES[name]) if lo <= g <= hi)
        elif exponent_only:
            grid = tuple(g for g in _EXPONENT_GRID if lo <= g <= hi)
        else:
            grid = ()
        if lo < 1.0 < hi:
            default = 1.0
        elif math.isfinite(lo) and math.isfinite(hi):
            default = math.sqrt(lo * hi) if log and lo > 0 else 0.5 * (lo + hi)
        else:
            default = lo + 1.0 if math.isfinite(lo) else hi - 1.0
        return Param(name, lo, hi, log=log, grid=grid, default=default)
    if name in _SCALES:
        return Param(name, 0.0, math.inf, log=True, grid=tuple(math.exp(v) for v in _SCALES[name]), default=1.0)
    if exponent_only:
        return Param(name, 0.0, 5.0, grid=_EXPONENT_GRID, default=0.5)
    return Param(name, default=1.0)


def parse_law(expression: str, bounds: Mapping[str, tuple[float, float]] | None = None,
              variables: Sequence[str] | None = None, target: str = "loss") -> ExpressionLaw:
    """Build a `Law` from a formula such as ``"E + A/N**alpha + B/D**beta"`` (see the module docstring).

    ``bounds``: ``{name: (lower, upper)}`` per parameter. ``variables``: the input names (default: the
    known variable names that occur). ``target``: ``"loss"`` (positive, fitted on log residuals) or
    ``"value"``. Raises :class:`~scalinglab.LawParseError` for anything outside the grammar.
    """
    if not isinstance(expression, str):
        raise LawParseError(f"a law expression must be a string, got {type(expression).__name__}")
    expr = expression.strip()
    if not expr:
        raise LawParseError("empty expression", expression=expression)
    if len(expr) > MAX_LENGTH:
        raise LawParseError(f"expression is {len(expr)} characters long; the limit is {MAX_LENGTH}",
                            expression=expr[:80], position=MAX_LENGTH)
    if target not in ("loss", "value"):
        raise LawError(f"target must be 'loss' or 'value', got {target!r}")
    for i, ch in enumerate(expr):
        if ch in "\x00\\;'\"`[]{}#@$!?|&~<>=:%^":
            hint = " ('^' is not a power; use '**')" if ch == "^" else ""
            raise LawParseError(f"character {ch!r} is not allowed{hint}", expression=expr, position=i)
    depth = 0
    for i, ch in enumerate(expr):
        depth += (ch == "(") - (ch == ")")
        if depth > MAX_DEPTH:
            raise LawParseError(f"parentheses nested deeper than {MAX_DEPTH}", expression=expr, position=i)
    try:
        node = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        pos = None
        if exc.offset is not None:
            pos = max(0, exc.offset - 1) + sum(len(x) + 1 for x in expr.split("\n")[: (exc.lineno or 1) - 1])
        raise LawParseError(f"syntax error: {exc.msg}", expression=expr, position=pos) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise LawParseError(f"expression cannot be parsed ({type(exc).__name__})", expression=expr) from None

    v = _Validator(expr, variables)
    tree = v.walk(node)
    if variables is not None:
        var_names = tuple(str(x) for x in variables)
        for name in var_names:
            if not name.isidentifier() or name.startswith("_") or name in FUNCTIONS:
                raise LawError(f"variable name {name!r} is not a plain identifier")
        unused = [x for x in var_names if x not in v.names]
        if unused:
            raise LawParseError(f"variable(s) {', '.join(unused)} do not occur in the expression", expression=expr)
    else:
        var_names = tuple(n for n in v.names if n in KNOWN_VARIABLES)
    if not var_names:
        raise LawParseError("the expression has no variable; use one of " + ", ".join(KNOWN_VARIABLES)
                            + " or pass variables=[...]", expression=expr)
    pnames = [n for n in v.names if n not in var_names]
    if not pnames:
        raise LawParseError("the expression has no parameter to fit", expression=expr)
    user_bounds = dict(bounds or {})
    unknown = [k for k in user_bounds if k not in pnames]
    if unknown:
        raise LawError(f"bounds given for {', '.join(map(repr, unknown))}, which are not parameters of this law "
                       f"(parameters: {', '.join(pnames)})")
    params = tuple(_default_param(n, v.exponent_only[n], user_bounds.get(n)) for n in pnames)
    index = {n: j for j, n in enumerate(pnames)}
    resolved = _resolve(tree, set(var_names), index)
    return ExpressionLaw(expr, resolved, var_names, params, target, user_bounds)
