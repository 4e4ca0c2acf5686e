"""Test-time scaling: the unbiased pass@k estimator and coverage curves from repeated sampling.

``pass_at_k(n, c, k)`` is Chen et al. 2021's unbiased estimator (Codex / HumanEval, arXiv 2107.03374)::

    pass@k = 1 - C(n - c, k) / C(n, k) = 1 - prod_{i = n-c+1}^{n} (1 - k / i)

computed as ``-expm1(sum(log1p(-k / i)))`` so it is exact to rounding for small cases, never overflows
(n = 10,000 and beyond) and keeps full relative precision when pass@k is tiny. ``coverage_curve`` averages
it over problems for a range of k; fit the result with the ``coverage`` law (Brown et al. 2024,
``c(k) = exp(a k**b)``) to extrapolate to more samples.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ._errors import InputError

log = logging.getLogger(__name__)

__all__ = ["pass_at_k", "mean_pass_at_k", "coverage_curve", "fit_coverage", "majority_vote_curve",
           "fit_reasoning_tokens", "LogLinearFit", "plan_tradeoff", "TradeoffPlan"]


def _as_int_array(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise InputError(f"pass_at_k: {name} must be integer(s), got {value!r:.60}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError(f"pass_at_k: {name} must be whole numbers, got {value!r:.60}")
        arr = arr.astype(np.int64)
    return arr.astype(np.int64)


def _one(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    if c == 0:
        return 0.0
    if k == 1:
        return c / n  # the identity pass@1 = c/n, exact rather than rounded through the product
    i = np.arange(n - c + 1, n + 1, dtype=float)
    return float(-np.expm1(np.sum(np.log1p(-k / i))))


def pass_at_k(n, c, k):
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021).

    ``n``, ``c`` and ``k`` broadcast against each other (e.g. per-problem arrays of n and c against a
    scalar k, or one problem against many k). Requires ``0 <= c <= n`` and ``1 <= k <= n``. Returns a float
    for scalar inputs, else a float array of the broadcast shape.

    Raises
    ------
    InputError
        If ``n``, ``c`` or ``k`` is not integer-valued, their shapes do not broadcast, or ``n < 1``,
        ``c`` is outside ``[0, n]`` or ``k`` outside ``[1, n]``.
    """
    n_, c_, k_ = (_as_int_array(nm, v) for nm, v in (("n", n), ("c", c), ("k", k)))
    try:
        n_, c_, k_ = np.broadcast_arrays(n_, c_, k_)
    except ValueError:
        raise InputError(f"pass_at_k: shapes of n {np.shape(n)}, c {np.shape(c)}, k {np.shape(k)} "
                         "do not broadcast") from None
    if np.any(n_ < 1):
        raise InputError("pass_at_k: n (samples per problem) must be >= 1")
    if np.any((c_ < 0) | (c_ > n_)):
        raise InputError("pass_at_k: c (correct samples) must satisfy 0 <= c <= n")
    if np.any((k_ < 1) | (k_ > n_)):
        raise InputError("pass_at_k: k must satisfy 1 <= k <= n (the estimator needs n >= k samples)")
    out = np.array([_one(int(a), int(b), int(d)) for a, b, d in zip(n_.ravel(), c_.ravel(), k_.ravel(),
                                                                   strict=True)]).reshape(n_.shape)
    return float(out) if out.ndim == 0 else out


def mean_pass_at_k(n, c, k) -> float:
    """pass@k averaged over problems: ``n``, ``c`` are per-problem arrays (or scalars), ``k`` a scalar."""
    return float(np.mean(pass_at_k(n, c, k)))


def coverage_curve(n, c, ks=None) -> tuple[np.ndarray, np.ndarray]:
    """Estimated coverage (fraction of problems solved by at least one of k samples) for each k.

    ``n``, ``c``: per-problem sample and correct counts; ``ks``: the k values (default: powers of two up to
    ``min(n)``, plus ``min(n)``). Returns ``(ks, coverage)`` arrays, ready to fit with the ``coverage`` law.
    """
    n_arr = np.atleast_1d(_as_int_array("n", n))
    c_arr = np.atleast_1d(_as_int_array("c", c))
    n_arr, c_arr = np.broadcast_arrays(n_arr, c_arr)
    kmax = int(n_arr.min())
    if ks is None:
        ks = sorted({2 ** i for i in range(int(np.log2(kmax)) + 1)} | {kmax})
    ks = np.asarray(ks, dtype=np.int64).ravel()
    cov = np.array([mean_pass_at_k(n_arr, c_arr, int(k)) for k in ks])
    return ks, cov


# --------------------------------------------------------------------------------------------- coverage fits
#: what a coverage forecast's interval leaves out, said beside every extrapolated prediction
COVERAGE_INTERVAL_NOTE = ("the points of a coverage curve are estimated from the same samples, not independent runs: "
                          "the interval is the fit's spread over them and misses a bend of the curve beyond the "
                          "largest k (on 15 simulated sets of 400 problems with a logistic spread of difficulty, its "
                          "80 % band covered the true coverage at 10x the largest k in 6); read it as a lower bound "
                          "on the uncertainty")


def fit_coverage(ks, coverage, *, bootstrap: int = 200, seed: int = 0, level: float = 0.8):
    """Fit Brown et al.'s exponentiated power law ``c(k) = exp(a k**b)`` to a coverage curve.

    ``ks``: numbers of samples per problem; ``coverage``: fraction of problems solved by any of k samples
    (in (0, 1]; use :func:`coverage_curve` to get it from per-problem counts). Returns a
    :class:`scalinglab.fit.FitResult` whose ``predict(k=...)`` extrapolates with an interval.
    ``bootstrap`` resamples and ``seed`` go to :func:`scalinglab.fit.fit`; ``level`` is the interval level.

    Raises
    ------
    InputError
        If ``ks`` and ``coverage`` differ in length, a coverage is not a fraction in (0, 1], or a k is < 1.
    FitError
        If the fit itself fails (e.g. too few points for the law's two parameters, see
        :func:`scalinglab.fit.fit`).
    """
    from .fit import fit

    k = np.asarray(ks, float).ravel()
    c = np.asarray(coverage, float).ravel()
    if k.shape != c.shape:
        raise InputError(f"fit_coverage: ks ({k.size}) and coverage ({c.size}) differ in length")
    finite = c[np.isfinite(c)]
    if finite.size and finite.max() > 1 and finite.max() <= 100 and finite.min() >= 0:  # percent: 15.6 is 15.6 %
        log.info("fit_coverage: coverage read as percent (largest %.4g): divided by 100", finite.max())
        c = c / 100.0
    bad = np.flatnonzero(~np.isfinite(c) | (c <= 0) | (c > 1))
    if bad.size:
        i = int(bad[0])
        why = ("an empty cell" if not np.isfinite(c[i]) else
               "0: the law exp(a k^b) needs some problem solved; leave that k out" if c[i] <= 0 else f"{c[i]:g}")
        raise InputError(f"fit_coverage: coverage values must be fractions in (0, 1] (or percent); point {i + 1} "
                         f"(k = {k[i]:g}) has {why}")
    if np.any(k < 1):
        raise InputError("fit_coverage: k (samples per problem) must be >= 1")
    return fit({"k": k, "coverage": c}, "coverage", x="k", y="coverage", bootstrap=bootstrap, seed=seed,
               level=level)


# --------------------------------------------------------------------------------------------- majority vote
def majority_vote_curve(answers, correct, ks=None, *, n_draws: int = 200, seed: int = 0):
    """Majority-vote (self-consistency) accuracy as a function of the number of samples k.

    ``answers``: per-problem sequences of sampled final answers (hashable: strings, numbers); ``correct``:
    the reference answer of each problem. For each k, ``n_draws`` random k-subsets (without replacement)
    are drawn per problem; the most common answer wins, ties split evenly (a tie between the correct answer
    and t others counts 1/(t+1)). Returns ``(ks, accuracy)``; ``ks`` defaults to powers of two up to the
    smallest number of samples. Deterministic for a given ``seed``.

    Both returned arrays have shape ``(n_k,)``; accuracies are fractions of problems in [0, 1]. A problem
    whose reference answer was never sampled counts as 0.

    Raises
    ------
    InputError
        If ``answers`` and ``correct`` differ in length, there are no problems, a problem has no samples,
        or a k is outside ``1..min samples per problem``.
    """
    if len(answers) != len(correct):
        raise InputError(f"majority_vote_curve: {len(answers)} answer lists for {len(correct)} references")
    if not len(answers):
        raise InputError("majority_vote_curve: no problems")
    rng = np.random.default_rng(seed)
    coded = []
    for a, ref in zip(answers, correct, strict=True):
        a = list(a)
        if not a:
            raise InputError("majority_vote_curve: every problem needs at least one sample")
        labels = {v: i for i, v in enumerate(dict.fromkeys(a))}
        codes = np.array([labels[v] for v in a])
        coded.append((codes, labels.get(ref, -1), len(labels)))
    kmax = min(len(c[0]) for c in coded)
    if ks is None:
        ks = sorted({2 ** i for i in range(int(np.log2(kmax)) + 1)} | {kmax})
    ks = np.asarray(ks, dtype=np.int64).ravel()
    if np.any(ks < 1) or np.any(ks > kmax):
        raise InputError(f"majority_vote_curve: k must be in 1..{kmax} (the fewest samples of any problem)")
    acc = np.zeros(len(ks))
    for codes, ref, m in coded:
        n = len(codes)
        for j, k in enumerate(ks):
            if ref < 0:
                continue
            # random k-subsets via argsort of uniforms: (draws, k) indices
            idx = np.argsort(rng.random((n_draws, n)), axis=1)[:, :k]
            votes = np.zeros((n_draws, m))
            np.add.at(votes, (np.repeat(np.arange(n_draws), k), codes[idx].ravel()), 1.0)
            top = votes.max(axis=1)
            winners = (votes == top[:, None]).sum(axis=1)
            acc[j] += float(np.mean((votes[:, ref] == top) / winners))
    return ks, acc / len(coded)


# --------------------------------------------------------------------------------------------- reasoning tokens
@dataclass(frozen=True)
class LogLinearFit:
    """``accuracy = intercept + slope * log10(tokens)``: ordinary least squares with a t-interval.

    ``slope`` is accuracy gained per 10x reasoning tokens (test-time compute). ``predict`` gives a
    prediction interval for a new measurement; log-linear trends must saturate, so extrapolating far
    beyond ``x_range`` is flagged in ``warnings``.
    """

    intercept: float
    slope: float
    slope_interval: tuple
    level: float
    n: int
    sigma: float
    x_range: tuple
    _xtx_inv: tuple = ((0.0, 0.0), (0.0, 0.0))

    def predict(self, tokens, level: float | None = None) -> dict:
        """Predicted accuracy at ``tokens`` reasoning tokens per query, with a t prediction interval.

        ``tokens``: a positive scalar or array of shape ``(n,)``; ``level`` defaults to the fit's level.
        Returns a dict with ``value`` and ``interval`` ``[lo, hi]`` (floats for one point, else arrays of
        shape ``(n,)``; in the units the accuracy was fitted in, fraction or percent), ``level`` and
        ``warnings`` (set when a point lies more than 10x beyond the largest fitted token budget).
        """
        from scipy.stats import t as student_t

        level = self.level if level is None else float(level)
        x = np.log10(np.atleast_1d(np.asarray(tokens, float)))
        X = np.column_stack([np.ones_like(x), x])
        M = np.asarray(self._xtx_inv)
        se = self.sigma * np.sqrt(1.0 + np.einsum("ni,ij,nj->n", X, M, X))
        q = student_t.ppf(0.5 + level / 2.0, max(self.n - 2, 1))
        val = self.intercept + self.slope * x
        warns = []
        if np.max(x) > self.x_range[1] + 1.0:
            warns.append("extrapolates more than 10x beyond the largest token budget: log-linear gains "
                         "saturate; treat with care")
        def sq(a):
            return (float(a[0]) if a.size == 1 else a)
        return {"value": sq(val), "interval": [sq(val - q * se), sq(val + q * se)], "level": level,
                "warnings": warns}

    def to_dict(self) -> dict:
        """JSON-ready mapping: ``intercept``, ``slope_per_decade`` (accuracy gained per 10x tokens),
        ``slope_interval``, ``level``, ``n`` (points), ``sigma`` (residual scale) and ``log10_tokens_range``."""
        return {"intercept": self.intercept, "slope_per_decade": self.slope,
                "slope_interval": list(self.slope_interval), "level": self.level, "n": self.n,
                "sigma": self.sigma, "log10_tokens_range": list(self.x_range)}


def fit_reasoning_tokens(tokens, accuracy, *, level: float = 0.8) -> LogLinearFit:
    """Fit accuracy vs reasoning (test-time) tokens as a straight line in log10(tokens), as reported for
    o1-style models. ``tokens``: tokens generated per query (> 0); ``accuracy``: fraction or percent.

    Both are arrays of shape ``(n_points,)``; ``level`` is the level of the slope and prediction
    intervals (Student t with ``n_points - 2`` degrees of freedom).

    Raises
    ------
    InputError
        If there are fewer than 3 pairs or the arrays differ in length, a token count is not positive, an
        accuracy is not finite, or all token budgets are equal.
    """
    from scipy.stats import t as student_t

    x = np.asarray(tokens, float).ravel()
    y = np.asarray(accuracy, float).ravel()
    if x.shape != y.shape or x.size < 3:
        raise InputError("fit_reasoning_tokens: need >= 3 (tokens, accuracy) pairs of equal length")
    if np.any(~np.isfinite(x)) or np.any(x <= 0) or np.any(~np.isfinite(y)):
        raise InputError("fit_reasoning_tokens: tokens must be positive and accuracy finite")
    lx = np.log10(x)
    if np.ptp(lx) == 0:
        raise InputError("fit_reasoning_tokens: all token budgets are equal")
    X = np.column_stack([np.ones_like(lx), lx])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ coef
    dof = max(len(y) - 2, 1)
    sigma = float(np.sqrt(np.sum(r ** 2) / dof))
    inv = np.linalg.inv(X.T @ X)
    q = student_t.ppf(0.5 + level / 2.0, dof)
    se = sigma * math.sqrt(inv[1, 1])
    return LogLinearFit(intercept=float(coef[0]), slope=float(coef[1]),
                        slope_interval=(float(coef[1] - q * se), float(coef[1] + q * se)), level=float(level),
                        n=int(len(y)), sigma=sigma, x_range=(float(lx.min()), float(lx.max())),
                        _xtx_inv=tuple(map(tuple, inv.tolist())))


# --------------------------------------------------------------------------------------------- trade-off
@dataclass(frozen=True)
class TradeoffPlan:
    """Optimum and frontier of the training vs test-time compute trade-off (see :func:`plan_tradeoff`).

    ``best``: the (params, tokens, samples, accuracy, ...) row with the highest accuracy; ``frontier``:
    for each number of samples k, the best model size and its accuracy. FLOPs follow 6ND for training and
    2N per generated token for inference.
    """

    best: dict
    frontier: list
    total_flops: float
    queries: float
    tokens_per_sample: float

    def to_dict(self) -> dict:
        """JSON-ready mapping: ``total_flops`` (FLOPs), ``queries``, ``tokens_per_sample`` (tokens), ``best``
        and ``frontier`` (rows with ``params``, ``tokens``, ``samples``, ``accuracy``, FLOP split, ...)."""
        return {"total_flops": self.total_flops, "queries": self.queries,
                "tokens_per_sample": self.tokens_per_sample, "best": self.best, "frontier": self.frontier}


def plan_tradeoff(total_flops: float, *, queries: float, tokens_per_sample: float, loss_law="chinchilla-epoch",
                  accuracy_of_loss, coverage_exponent: float, ks=None, n_grid: int = 400,
                  params_range: tuple = (1e7, 1e13)) -> TradeoffPlan:
    """A bigger model vs more samples per query, for a fixed total compute.

    Budget: ``total_flops = 6 N D + 2 N * tokens_per_sample * k * queries`` (training + inference
    FLOPs). For each number of samples k and model size N on a log grid, D is what the budget leaves for
    training, the loss comes from ``loss_law`` (a preset name, a ``FitResult`` of a law in N and D, or a
    callable ``(N, D) -> loss``), the single-sample success rate from ``accuracy_of_loss`` (a callable
    ``loss -> p1``, e.g. a fitted ``sigmoid-loss`` via ``lambda L: res.predict(L=L).value``) and the
    k-sample coverage from Brown et al.'s law written through p1: ``c(k) = exp(log(p1) * k**b)`` with
    ``b = coverage_exponent`` (< 0; ``c(1) = p1``). Returns the best (N, D, k) and, for each k, the best N.
    N is in parameters, D in training tokens; ``n_grid`` model sizes span ``params_range`` (parameters).

    Raises
    ------
    InputError
        If ``total_flops``, ``queries`` or ``tokens_per_sample`` is not positive, ``coverage_exponent`` is
        not in (-5, 0), a k is < 1, ``loss_law`` is not a preset name, a `FitResult` of a law in N and D
        or a callable, or inference alone exceeds the budget for every model size and k.
    CatalogError
        If ``loss_law`` is a string that names no preset.
    """
    if not (total_flops > 0 and queries > 0 and tokens_per_sample > 0):
        raise InputError("plan_tradeoff: total_flops, queries and tokens_per_sample must be positive")
    if not -5.0 < coverage_exponent < 0:
        raise InputError(f"plan_tradeoff: coverage_exponent must be in (-5, 0), got {coverage_exponent}")
    loss_fn = _loss_callable(loss_law)
    ks = np.asarray([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] if ks is None else ks, float)
    if np.any(ks < 1):
        raise InputError("plan_tradeoff: ks must be >= 1")
    N = np.logspace(math.log10(params_range[0]), math.log10(params_range[1]), int(n_grid))
    best = None
    frontier = []
    for k in ks:
        infer = 2.0 * N * tokens_per_sample * k * queries
        train = total_flops - infer
        ok = train > 0
        if not ok.any():
            continue
        Nk = N[ok]
        D = train[ok] / (6.0 * Nk)
        loss = np.asarray(loss_fn(Nk, D), float)
        p1 = np.clip(np.asarray(accuracy_of_loss(loss), float), 1e-12, 1.0)
        cov = np.exp(np.log(p1) * k ** coverage_exponent)
        i = int(np.nanargmax(cov))
        row = {"samples": int(k), "params": float(Nk[i]), "tokens": float(D[i]),
               "tokens_per_param": float(D[i] / Nk[i]), "loss": float(loss[i]), "p1": float(p1[i]),
               "accuracy": float(cov[i]), "train_flops": float(train[ok][i]), "inference_flops": float(infer[ok][i]),
               "inference_share": float(infer[ok][i] / total_flops),
               "at_grid_edge": bool(i in (0, len(Nk) - 1))}
        frontier.append(row)
        if best is None or row["accuracy"] > best["accuracy"]:
            best = row
    if best is None:
        raise InputError("plan_tradeoff: inference alone exceeds the budget for every model size and k; raise "
                         "total_flops or lower queries / tokens_per_sample")
    return TradeoffPlan(best=best, frontier=frontier, total_flops=float(total_flops), queries=float(queries),
                        tokens_per_sample=float(tokens_per_sample))


def _loss_callable(loss_law):
    if callable(loss_law) and not hasattr(loss_law, "predict"):
        return loss_law
    if isinstance(loss_law, str):
        from .laws import get_preset

        law, preset = get_preset(loss_law)
        theta = np.array([preset.values[p] for p in law.param_names], float)
    elif hasattr(loss_law, "theta") and hasattr(loss_law, "law"):
        law, theta = loss_law.law, np.asarray(loss_law.theta, float)
    else:
        raise InputError("loss_law must be a preset name, a FitResult or a callable (N, D) -> loss")
    if set(law.variables) != {"N", "D"}:
        raise InputError(f"loss_law must be a law in N and D, got {law.name!r} in {', '.join(law.variables)}")
    return lambda N, D: law.evaluate(theta, {"N": N, "D": D})
