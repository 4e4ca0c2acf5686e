"""Two-step downstream prediction, as the OLMo 2 ladder (Bhagia et al. 2024) and Llama 3 (Sec 3.2.1) do it:

1. scale -> task loss: ``L_task = E + A * C**(-alpha)`` (``step1="power"``, C = training FLOPs or any
   scale column) or ``E + A/N**alpha + B/D**beta`` (``step1="chinchilla"``, N = params, D = tokens).
   Task loss is the normalized NLL of the correct answer (nats) or bits-per-byte, as in the table.
2. task loss -> accuracy: ``acc = floor + (ceiling - floor) / (1 + exp(k (L - L0)))`` (law
   ``sigmoid-loss``; ``floor`` = chance, e.g. 0.25 for 4-way multiple choice).

Both steps are fitted by `scalinglab.fit.fit`. Prediction intervals propagate both steps: step-1
prediction quantiles (parameter draws + residual noise + the extrapolation reach term, as ``fit``
calibrates them) give task-loss samples, each is pushed through a step-2 parameter draw, and the step-2
residual noise is added. Accuracies are fractions (or percentages, as in the table).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError
from ..fit._accuracy import accuracy_scale, check_floor
from ._common import (
    DownstreamPrediction,
    column,
    compute_of,
    load_frame,
    quantiles,
    scale_arrays,
    squeeze,
    value_samples,
    warn_reach,
)

__all__ = ["TwoStepPredictor", "TwoStepResult"]


@dataclass(frozen=True)
class TwoStepResult:
    """Fitted two-step predictor: ``step1`` (scale -> task loss) and ``step2`` (task loss -> accuracy)
    `FitResult` objects, plus the column names used."""

    step1: object
    step2: object
    scale_columns: tuple
    loss: str
    accuracy: str
    bounded: tuple | None  # (lo, hi) the accuracy is clipped to, or None
    seed: int = 0

    @property
    def method(self) -> str:
        """Always ``"two-step"``."""
        return "two-step"

    def _step1_X(self, variables) -> tuple[dict, np.ndarray]:
        """Step-1 law variables at the requested point (parsed by the fit's own ``_parse_point``) and the
        point's compute relative to the largest fitted model."""
        if not variables:
            raise InputError(f"predict needs the scale of the model, e.g. {self.scale_columns[0]}=1e24")
        X = self.step1._parse_point(variables)
        fitted = {v: np.asarray(a, float) for v, a in self.step1.data["X"].items()}
        cols = self.step1.variables
        comp = compute_of({cols[v]: a for v, a in X.items()})
        comp_fit = compute_of({cols[v]: a for v, a in fitted.items()})
        return X, comp / np.max(comp_fit)

    def _span(self) -> float:
        """Largest / smallest compute of the fitted models."""
        cols = self.step1.variables
        comp = compute_of({cols[v]: np.asarray(a, float) for v, a in self.step1.data["X"].items()})
        return float(np.max(comp) / np.min(comp))

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Accuracy at a scale, e.g. ``predict(flops=1e24)`` or ``predict(params=7e9, tokens=4e12)``
        (FLOPs, parameters, tokens), with an interval at ``level`` and the extrapolation it needs.

        Raises
        ------
        InputError
            If ``level`` is not in (0, 1) or the scale variables do not match the fit.
        """
        if not 0 < float(level) < 1:
            raise InputError(f"level must be between 0 and 1, got {level}")
        X, reach = self._step1_X(variables)
        rng = np.random.default_rng(self.seed)
        Ls = value_samples(self.step1, X, rng)                       # (S, m) task-loss samples
        L_center = self.step1.law.evaluate(self.step1.theta, X)
        law2 = self.step2.law
        var2 = law2.variables[0]
        acc_center = law2.evaluate(self.step2.theta, {var2: L_center})
        draws2 = self.step2.parameter_draws()
        if draws2 is None or not len(draws2):
            draws2 = self.step2.theta[None, :]
        S, m = Ls.shape
        j = rng.integers(0, len(draws2), S)
        acc = np.empty_like(Ls)
        with np.errstate(all="ignore"):
            for u in np.unique(j):
                rows = j == u
                acc[rows] = law2.evaluate(draws2[u], {var2: Ls[rows].ravel()}).reshape(rows.sum(), m)
        acc = acc + rng.standard_normal(acc.shape) * float(self.step2.noise)
        if self.bounded is not None:
            acc = np.clip(acc, *self.bounded)
            acc_center = np.clip(acc_center, *self.bounded)
        lo, hi = quantiles(acc, level)
        llo, lhi = quantiles(Ls, level)
        return DownstreamPrediction(value=squeeze(acc_center), interval=(squeeze(lo), squeeze(hi)),
                                    level=float(level), extrapolation=squeeze(reach), method="two-step",
                                    task_loss=squeeze(L_center), task_loss_interval=(squeeze(llo), squeeze(lhi)),
                                    warnings=warn_reach(reach, self._span()))

    def to_dict(self) -> dict:
        """JSON-able summary: method, column names and both steps' fit summaries."""
        return {"method": "two-step", "loss": self.loss, "accuracy": self.accuracy,
                "scale_columns": list(self.scale_columns), "step1": self.step1.summary(),
                "step2": self.step2.summary()}


@dataclass(frozen=True)
class TwoStepPredictor:
    """Configuration of a two-step downstream predictor (see the module docstring).

    ``loss``: task-loss (or bits-per-byte) column; ``accuracy``: accuracy column; ``x``: scale column(s)
    for step 1 — ``"flops"`` (derived as 6 N D when only params and tokens exist) or any one column with
    ``step1="power"``, or ``("params", "tokens")`` with ``step1="chinchilla"``; ``floor``/``ceiling``:
    fix the step-2 chance level / best accuracy; ``bootstrap``: resamples per step for the intervals;
    ``calibrate``: let step 1 learn its interval widening from internal backtests (``fit(calibrate=True)``;
    slower).
    """

    loss: str
    accuracy: str
    x: str | tuple = "flops"
    step1: str = "power"
    floor: float | None = None
    ceiling: float | None = None
    bootstrap: int = 100
    seed: int = 0
    fit_loss: str = "huber"
    calibrate: bool = False
    #: the floor was checked against the whole table already (`select_downstream`): its warnings not repeated
    floor_checked: bool = field(default=False, repr=False)

    def fit(self, data, *, step2_data=None) -> TwoStepResult:
        """Fit both steps on a run table (path, DataFrame, mapping); ``step2_data`` (optional, with the same
        loss/accuracy columns) adds models to step 2 only (Llama 3 fitted step 2 on ladder models plus
        Llama 2 models). Returns a `TwoStepResult`.

        Raises
        ------
        InputError
            For a bad ``step1`` or ``x``.
        DataError
            For missing or non-numeric columns.
        FitError
            When a step cannot be fitted.
        """
        from ..fit import fit
        from ..laws import get_law

        df, source = load_frame(data)
        if self.step1 == "chinchilla":
            cols = ("params", "tokens") if isinstance(self.x, str) else tuple(self.x)
        elif self.step1 == "power":
            if not isinstance(self.x, str):
                raise InputError("step1='power' takes one scale column in x (e.g. 'flops')")
            cols = (self.x,)
        else:
            raise InputError(f"step1 must be 'power' or 'chinchilla', got {self.step1!r}")
        Xs = scale_arrays(df, cols, source)
        Lt = column(df, self.loss, source, "task-loss")
        acc = column(df, self.accuracy, source, "accuracy")
        ok1 = np.isfinite(Lt) & np.all([np.isfinite(a) for a in Xs.values()], axis=0)
        if self.step1 == "power":
            law1 = get_law("power", variable=cols[0] if cols[0].isidentifier() else "x")
            d1 = {law1.variables[0]: Xs[cols[0]][ok1], "__loss__": Lt[ok1]}
        else:
            law1 = get_law("chinchilla")
            d1 = {"params": Xs[cols[0]][ok1], "tokens": Xs[cols[1]][ok1], "__loss__": Lt[ok1]}
        # warn=False: the weak-trend notes of the steps are in their status and message (summarised by the result)
        r1 = fit(d1, law1, y="__loss__", loss=self.fit_loss, bootstrap=self.bootstrap, seed=self.seed,
                 calibrate=self.calibrate, warn=False)
        if self.step1 == "power":
            r1 = dataclasses.replace(r1, variables={law1.variables[0]: cols[0]})
        L2, a2 = Lt, acc
        if step2_data is not None:
            df2, src2 = load_frame(step2_data)
            L2 = np.concatenate([L2, column(df2, self.loss, src2, "task-loss")])
            a2 = np.concatenate([a2, column(df2, self.accuracy, src2, "accuracy")])
        ok2 = np.isfinite(L2) & np.isfinite(a2)
        check_floor(self.floor, a2[ok2], source, warn=not self.floor_checked)
        law2 = get_law("sigmoid-loss", floor=self.floor, ceiling=self.ceiling)
        r2 = fit({"L": L2[ok2], "__acc__": a2[ok2]}, law2, y="__acc__", loss=self.fit_loss,
                 bootstrap=self.bootstrap, seed=self.seed + 1, calibrate=False, warn=False)
        return TwoStepResult(step1=r1, step2=r2, scale_columns=cols, loss=self.loss, accuracy=self.accuracy,
                             bounded=accuracy_scale(acc[np.isfinite(acc)]), seed=self.seed)
