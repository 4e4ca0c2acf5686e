"""Data quality vs quantity: effective-data multipliers from a joint fit across datasets.

Runs trained on several datasets are fitted jointly with SHARED exponents (and, by default, a shared
irreducible loss E); each dataset k only gets its own data-efficiency multiplier ``m_k``:

    L = E + A / N**alpha + B / (m_k * D)**beta          (form "chinchilla"; N params, D tokens)
    L = E + B / (m_k * D)**beta                         (form "data"; runs of one model size)

with ``m = 1`` for the reference dataset. ``m_k = 3`` reads "a token of dataset k is worth 3 tokens of
the reference" (it reaches the reference's loss with a third of the tokens). With ``shared_E=False`` each
dataset also gets its own E (a different floor, e.g. a different validation distribution). Intervals
come from a bootstrap over runs. This is the "effective data" view of Hernandez et al. 2021 applied to
data quality; losses must be measured on the SAME validation set for the multipliers to mean anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import DataError, InputError
from .laws._base import Param
from .laws._catalog import CatalogLaw, _log, _lse

__all__ = ["QualityLaw", "fit_quality", "QualityResult"]


class QualityLaw(CatalogLaw):
    """Joint law over ``n_datasets`` datasets; variable ``g`` is the 1-based dataset index (1 = reference).

    Parameters: E (or E1..EK), A, B, alpha, beta (form "chinchilla"; "data" drops A and alpha), then
    ``m2..mK`` (multipliers, positive, fitted in log space).
    """

    name = "quality"
    target = "loss"

    def __init__(self, n_datasets: int = 2, form: str = "chinchilla", shared_E: bool = True) -> None:
        K = int(n_datasets)
        if K < 2:
            raise InputError(f"quality: need at least 2 datasets, got {K}")
        if form not in ("chinchilla", "data"):
            raise InputError(f"quality: form must be 'chinchilla' or 'data', got {form!r}")
        self.K, self.form, self.shared_E = K, form, bool(shared_E)
        self.variables = ("N", "D", "g") if form == "chinchilla" else ("D", "g")
        ps = ([Param("E", 0.0, math.inf, log=True, default=1.7, unit="nats/token")] if shared_E else
              [Param(f"E{k}", 0.0, math.inf, log=True, default=1.7, unit="nats/token") for k in range(1, K + 1)])
        if form == "chinchilla":
            ps += [Param("A", 0.0, math.inf, log=True, default=400.0)]
        ps += [Param("B", 0.0, math.inf, log=True, default=400.0)]
        if form == "chinchilla":
            ps += [Param("alpha", 0.0, 5.0, default=0.34)]
        ps += [Param("beta", 0.0, 5.0, default=0.28)]
        ps += [Param(f"m{k}", 0.0, math.inf, log=True, default=1.0,
                     description=f"effective-data multiplier of dataset {k} vs dataset 1") for k in range(2, K + 1)]
        self.params = tuple(ps)
        dterm = "B / (m_g * D)**beta"
        self.formula = ("E + A / N**alpha + " if form == "chinchilla" else "E + ") + dterm
        self._freeze()

    def spec(self) -> dict:
        """JSON-able spec of this law: ``name`` plus ``n_datasets``, ``form`` and ``shared_E``."""
        return {"name": self.name, "n_datasets": self.K, "form": self.form, "shared_E": self.shared_E}

    def _unpack(self, theta, X):
        theta = np.asarray(theta, float)
        P = {n: theta[..., j, None] for j, n in enumerate(self.param_names)}
        g = np.rint(self._x(X, "g")).astype(int)
        if np.any((g < 1) | (g > self.K)):
            raise InputError(f"quality: dataset index g must be 1..{self.K}")
        logm = np.zeros(theta.shape[:-1] + (self.K,))
        for k in range(2, self.K + 1):
            logm[..., k - 1] = np.log(theta[..., self.param_names.index(f"m{k}")])
        lm = np.take(logm, g - 1, axis=-1)
        if self.shared_E:
            E = P["E"]
        else:
            Es = np.stack([theta[..., self.param_names.index(f"E{k}")] for k in range(1, self.K + 1)], axis=-1)
            E = np.take(Es, g - 1, axis=-1)
        return P, E, lm

    def log_evaluate(self, theta, X):
        """Log-loss, shape ``(..., n)``: log-sum-exp of the E, A/N**alpha and B/(m_g D)**beta terms (stable in log space)."""
        P, E, lm = self._unpack(theta, X)
        lD = _log(self._x(X, "D"))
        terms = [_log(P["B"]) - P["beta"] * (lm + lD), _log(E)]
        if self.form == "chinchilla":
            terms.append(_log(P["A"]) - P["alpha"] * _log(self._x(X, "N")))
        return _lse(*terms)

    def evaluate(self, theta, X):
        """Loss in nats/token, shape ``(..., n)``: ``exp(log_evaluate(theta, X))``."""
        with np.errstate(over="ignore"):
            return np.exp(self.log_evaluate(theta, X))


@dataclass(frozen=True)
class QualityResult:
    """Joint fit (``fit``: a `FitResult` of :class:`QualityLaw`), the dataset names in index order
    (reference first), and each dataset's multiplier with an interval at ``level``."""

    fit: object
    datasets: list
    reference: str
    multipliers: dict
    level: float

    @property
    def params(self) -> dict:
        """Fitted parameters of the joint law (name -> natural-space value), as ``fit.params``."""
        return self.fit.params

    def ratio(self, a: str, b: str) -> tuple[float, tuple[float, float]]:
        """How many tokens of ``b`` one token of ``a`` is worth: ``m_a / m_b`` with an interval.

        Raises
        ------
        InputError
            If ``a`` or ``b`` is not one of the fitted datasets.
        """
        for d in (a, b):
            if d not in self.datasets:
                raise InputError(f"unknown dataset {d!r}; have {', '.join(self.datasets)}")

        def m(p, d):
            i = self.datasets.index(d) + 1
            return 1.0 if i == 1 else p[f"m{i}"]

        der = self.fit.derived(lambda p: m(p, a) / m(p, b), self.level)
        return der.value, der.interval

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``reference``, ``datasets``, ``level``, ``multipliers``, ``params``, ``intervals``
        (name -> [lo, hi]), ``formula`` and ``n_points``.
        """
        from .fit._result import _jsonable

        return _jsonable({"reference": self.reference, "datasets": self.datasets, "level": self.level,
                          "multipliers": self.multipliers, "params": self.fit.params,
                          "intervals": {k: list(v) for k, v in self.fit.intervals.items()},
                          "formula": self.fit.law.formula, "n_points": self.fit.n_points})


def fit_quality(data, *, dataset_col: str = "dataset", reference: str | None = None, form: str | None = None,
                shared_E: bool = True, bootstrap: int = 100, seed: int = 0, level: float = 0.8) -> QualityResult:
    """Fit one law jointly on runs from several datasets and report effective-data multipliers.

    ``data``: run table with ``tokens``, ``loss`` (nats/token, same validation set for all runs), a
    ``dataset_col`` column and (form "chinchilla") ``params``. ``form``: "chinchilla" when the table has
    ``params`` with at least two sizes, else "data". ``reference``: dataset with multiplier 1 (default:
    the first in the table). Intervals: bootstrap over runs.

    Raises
    ------
    InputError
        If the table has fewer than 2 datasets, ``reference`` is not one of them, or the table cannot be read.
    DataError
        If the dataset, ``tokens``, ``loss`` or (form "chinchilla") ``params`` column is missing or not
        numeric (names the file and column).
    FitError
        If the joint fit fails.
    """
    from .data import load_runs
    from .downstream import _column
    from .fit import fit

    # the run-table reader, as fit reads it: N / Params (M) / val_loss / corpus under their canonical names
    rt = data if hasattr(data, "df") and hasattr(data, "source") else load_runs(data, required=("tokens", "loss"))
    df, source = rt.df, rt.source
    if dataset_col not in df.columns:  # named as in the file, read under its canonical name (corpus: dataset)
        dataset_col = (getattr(rt, "column_map", None) or {}).get(dataset_col, dataset_col)
    if dataset_col not in df.columns:
        raise DataError(f"no dataset column {dataset_col!r} (columns: {', '.join(map(str, df.columns))})",
                        file=source, column=dataset_col)
    names = [str(v) for v in dict.fromkeys(df[dataset_col].astype(str))]
    if len(names) < 2:
        raise InputError(f"fit_quality: need runs from at least 2 datasets, {dataset_col!r} has {len(names)}")
    if reference is not None:
        if str(reference) not in names:
            raise InputError(f"reference dataset {reference!r} not in {', '.join(names)}")
        names.remove(str(reference))
        names.insert(0, str(reference))
    g = np.array([names.index(v) + 1 for v in df[dataset_col].astype(str)], float)
    D = _column(df, "tokens", source, "tokens")
    L = _column(df, "loss", source, "loss")
    if form is None:
        form = "chinchilla" if "params" in df.columns and df["params"].nunique() > 1 else "data"
    arrays = {"tokens": D, "g": g, "loss": L}
    if form == "chinchilla":
        arrays["params"] = _column(df, "params", source, "params")
    law = QualityLaw(len(names), form=form, shared_E=shared_E)
    starts = _starts(arrays, law)
    res = fit(arrays, law, starts=starts, bootstrap=bootstrap, seed=seed, level=level, calibrate=False)
    mult = {names[0]: {"value": 1.0, "interval": [1.0, 1.0], "reference": True}}
    for k in range(2, len(names) + 1):
        lo, hi = res.intervals.get(f"m{k}", (math.nan, math.nan))
        mult[names[k - 1]] = {"value": res.params[f"m{k}"], "interval": [lo, hi], "reference": False}
    return QualityResult(fit=res, datasets=names, reference=names[0], multipliers=mult, level=float(level))


def _starts(arrays: dict, law: QualityLaw) -> np.ndarray:
    """Starts: a pooled fit of the same form (multipliers 1) crossed with a grid of multipliers."""
    import itertools

    from .fit import fit

    pooled_law = "chinchilla" if law.form == "chinchilla" else "power"
    pooled = {k: v for k, v in arrays.items() if k != "g"}
    try:  # a pooled fit only seeds the starts: its convergence notes are not the user's
        if law.form == "chinchilla":
            p = fit(pooled, pooled_law, calibrate=False, warn=False).params
        else:
            p = fit(pooled, pooled_law, x="tokens", calibrate=False, warn=False).params
            p = {"E": p["E"], "B": p["A"], "beta": p["alpha"]}
    except Exception:  # noqa: BLE001 - fall back to the law's defaults
        p = {q.name: q.default for q in law.params}
    base = []
    for q in law.params:
        if q.name.startswith("E"):
            base.append(max(p.get("E", 1.7), 1e-3))
        elif q.name.startswith("m"):
            base.append(1.0)
        else:
            base.append(max(p.get(q.name, q.default), 1e-6))
    base = np.asarray(base)
    m_idx = [j for j, n in enumerate(law.param_names) if n.startswith("m")]
    grid = (0.3, 1.0, 3.0) if len(m_idx) <= 3 else (0.5, 2.0)
    out = []
    for combo in itertools.product(grid, repeat=len(m_idx)):
        th = base.copy()
        th[m_idx] = combo
        out.append(th)
    return np.asarray(out)
