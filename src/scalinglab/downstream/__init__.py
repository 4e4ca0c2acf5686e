"""Downstream (benchmark accuracy) prediction: two-step ladders, compute-only sigmoids, selection by
backtest and observational scaling — a small package that reads tables through `scalinglab.data` and
fits through `scalinglab.fit`.

* `two_step` — scale -> task loss -> accuracy (OLMo 2 ladder, Llama 3): `TwoStepPredictor`;
* `sigmoid` — accuracy as a sigmoid in log-compute (`SigmoidPredictor`, `fit_accuracy_sigmoid`), the
  same fit as ``fit(..., "sigmoid")`` and ``scalinglab fit --law sigmoid`` (``fit/_accuracy.py``);
* `select` — `backtest_downstream` (fit on the smaller models, predict the larger) and
  `select_downstream`, which keeps the plain sigmoid unless another predictor wins every internal
  backtest by a margin, and then stacks the two (`stack_weights`, `StackedResult`);
* `observational` — `fit_observational` (Ruan et al. 2024): a hard benchmark from cheap ones.

>>> from scalinglab.downstream import TwoStepPredictor
>>> res = TwoStepPredictor(loss="arc_bpb", accuracy="arc", floor=0.25).fit("ladder.csv")  # doctest: +SKIP
>>> res.predict(flops=1e24).interval                                                       # doctest: +SKIP
"""

from __future__ import annotations

from ._common import DownstreamPrediction, load_frame
from ._common import column as _column
from .observational import ObservationalResult, fit_observational
from .select import DownstreamSelection, StackedResult, backtest_downstream, select_downstream, stack_weights
from .sigmoid import (
                      CEILING_PRIOR_SD,
                      SLOPE_PRIOR_CENTER,
                      SLOPE_PRIOR_SD,
                      SigmoidPredictor,
                      SigmoidResult,
                      fit_accuracy_sigmoid,
)
from .two_step import TwoStepPredictor, TwoStepResult

__all__ = ["TwoStepPredictor", "TwoStepResult", "DownstreamPrediction", "SigmoidPredictor", "SigmoidResult",
           "fit_accuracy_sigmoid", "select_downstream", "DownstreamSelection", "backtest_downstream", "load_frame",
           "stack_weights", "StackedResult",
           "fit_observational", "ObservationalResult", "SLOPE_PRIOR_CENTER", "SLOPE_PRIOR_SD", "CEILING_PRIOR_SD"]

#: kept for callers of the former single module (``scalinglab.downstream._column``)
_column = _column
