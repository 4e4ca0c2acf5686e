"""Fitting: pluggable robust objectives, batched multi-start solvers, bootstrap intervals, prediction
intervals, Chinchilla's three approaches, backtests and law comparison.

>>> from scalinglab.fit import fit
>>> result = fit("runs.csv", "chinchilla", bootstrap=1000)            # doctest: +SKIP
>>> result.predict(N="70B", D="1.4T").interval                          # doctest: +SKIP
>>> result, choice = fit_auto("runs.csv")   # the forecast stack (`scalinglab fit`'s default)  # doctest: +SKIP
"""

from ._api import DEFAULT_LOSS, fit
from ._objectives import Asymmetric, Huber, LeastSquares, Objective, get_objective
from ._result import Derived, FitResult, Prediction

__all__ = [
    "fit", "FitResult", "Prediction", "Derived", "DEFAULT_LOSS",
    "Objective", "Huber", "LeastSquares", "Asymmetric", "get_objective",
    "backtest", "backtest_sweep", "compare", "BacktestResult",
    "approach1_envelope", "approach2_isoflop", "approach3_parametric", "suggest", "Suggestion", "fit_auto",
    "fit_optimum",
]


def __getattr__(name):
    if name == "fit_optimum":
        from ._hparams import fit_optimum

        return fit_optimum
    if name in ("backtest", "backtest_sweep", "compare", "BacktestResult"):
        from . import _backtest

        return getattr(_backtest, name)
    if name in ("approach1_envelope", "approach2_isoflop", "approach3_parametric"):
        from . import _approaches

        return getattr(_approaches, name)
    if name == "fit_auto":
        from ._auto import fit_auto

        return fit_auto
    if name in ("suggest", "Suggestion"):
        from . import _suggest

        return getattr(_suggest, name)
    raise AttributeError(f"module 'scalinglab.fit' has no attribute {name!r}")
