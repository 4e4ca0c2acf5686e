"""Compute-only downstream prediction: accuracy as a sigmoid in log10 of one scale column (FLOPs by
default), fitted by `scalinglab.fit` (``fit/_accuracy.py``: bounded least squares with a weak slope and
ceiling prior) — the same route as ``fit(..., "sigmoid")`` and ``scalinglab fit --law sigmoid``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._errors import InputError
from ..fit._accuracy import (
    CEILING_PRIOR_SD,
    DEFAULT_REACH,
    SLOPE_PRIOR_CENTER,
    SLOPE_PRIOR_SD,
    accuracy_band,
    accuracy_scale,
    fit_accuracy,
)
from ._common import (
    DownstreamPrediction,
    column,
    load_frame,
    scale_arrays,
    squeeze,
    warn_reach,
)

__all__ = ["SigmoidPredictor", "SigmoidResult", "fit_accuracy_sigmoid", "SLOPE_PRIOR_CENTER", "SLOPE_PRIOR_SD",
           "CEILING_PRIOR_SD"]


@dataclass(frozen=True)
class SigmoidResult:
    """A fitted compute-only sigmoid (``sigmoid`` or ``sigmoid-bounded``) as a downstream predictor.

    ``fit``: a `scalinglab.fit.FitResult` holding the law (variable ``C``), the fitted ``theta``, the
    fitted models (``fit.data``) and the bootstrap draws; ``column``: the scale column (e.g. ``flops``);
    ``bounded``: ``(lo, hi)`` the accuracy is clipped to (``(0, 1)`` for fractions, ``(0, 100)`` for
    percentages) or None; ``residuals``: in-sample errors (accuracy units) that set the model-to-model
    scatter of the interval; ``reach_sd``: extra interval sd per decade of extrapolation beyond the
    largest fitted model (accuracy units).
    """

    fit: object
    column: str
    name: str
    bounded: tuple | None
    seed: int = 0
    residuals: np.ndarray | None = None
    reach_sd: float = 0.0

    @property
    def method(self) -> str:
        """The predictor's name (``"sigmoid"`` or ``"sigmoid-bounded"``)."""
        return self.name

    def _scale(self, variables) -> np.ndarray:
        """Scale values at the requested point (FLOPs; 6 N D from params and tokens when the column is
        ``flops``), parsed by the fit's own ``_parse_point``."""
        from ..units import parse_quantity

        if self.column not in variables and "flops" in self.column and {"params", "tokens"} <= set(variables):
            N, D = (np.atleast_1d(np.asarray(parse_quantity(v, what=k) if isinstance(v, str) else v, float))
                    for k, v in ((k, variables[k]) for k in ("params", "tokens")))
            variables = {self.column: 6.0 * N * D}
        if not variables:
            raise InputError(f"{self.name} predictor takes {self.column}=...")
        return self.fit._parse_point(variables)[self.fit.law.variables[0]]

    def predict(self, level: float = 0.8, **variables) -> DownstreamPrediction:
        """Accuracy at a scale, e.g. ``predict(flops=1e24)`` (or ``params=``, ``tokens=`` when the column is
        ``flops``: C = 6 N D). Arrays give arrays. The interval combines the bootstrap spread of the
        curve, the model-to-model scatter (resampled in-sample residuals) and ``reach_sd`` per decade
        beyond the largest fitted model.

        Raises
        ------
        InputError
            For a wrong variable or a level outside (0, 1).
        """
        if not 0 < float(level) < 1:
            raise InputError(f"level must be between 0 and 1, got {level}")
        xv = self._scale(variables)
        fitted = np.asarray(self.fit.data["X"][self.fit.law.variables[0]], float)
        cmax = float(np.max(fitted))
        reach = xv / cmax
        boot = self.fit.bootstrap
        center, lo, hi = accuracy_band(self.fit.law, self.fit.theta, boot if boot is not None else None,
                                       self.residuals if self.residuals is not None else np.zeros(0), self.reach_sd,
                                       xv, cmax, float(level), bounded=self.bounded, seed=self.seed)
        return DownstreamPrediction(value=squeeze(center), interval=(squeeze(lo), squeeze(hi)), level=float(level),
                                    extrapolation=squeeze(reach), method=self.name,
                                    warnings=warn_reach(reach, cmax / float(np.min(fitted))))

    def to_dict(self) -> dict:
        """JSON-able summary: method, scale column, the fit summary (law, params, data ranges) and the
        interval terms."""
        return {"method": self.name, "column": self.column, "fit": self.fit.summary(),
                "reach_sd_per_decade": float(self.reach_sd)}


@dataclass(frozen=True)
class SigmoidPredictor:
    """Accuracy as a sigmoid in log10 of one scale column (default ``flops``, FLOPs):
    ``acc = floor + (ceiling - floor) / (1 + exp(-k (log10 C - x0)))``.

    ``floor``: chance level (fixed when given, e.g. 0.25 for 4-way multiple choice; else fitted within
    [0, min acc]). ``ceiling``: None fits it (``name == "sigmoid"``), a number fixes it
    (``"sigmoid-bounded"``, e.g. 1.0). ``slope_prior``: sd of ln k of a one-sided log-normal prior that
    acts above ``slope_center`` (per decade of compute); fitted by least squares plus that MAP term, so
    the slope is set by the models where they determine it and kept from becoming a near-vertical step
    where they do not. Slopes below ``slope_center`` (flat benchmarks) are not penalised. None gives plain
    bounded least squares. ``ceiling_prior``: when the ceiling is fitted and the accuracies are fractions
    (percentages), a Gaussian prior centred on 1 (100) with this sd (fraction of the top); None: none.
    ``fit_loss``: ``"ls"`` (default) or ``"huber"`` (scale 0.05 accuracy). ``bootstrap``: resamples of the
    models for the interval. ``calibrate``: also learn the per-decade extrapolation term of the interval
    from internal backtests (fit on the smaller models, predict the larger); else 0.01 of the scale's top
    per decade. The fit is `scalinglab.fit._accuracy.fit_accuracy` (see ``fit/_accuracy.py``).
    """

    accuracy: str
    x: str = "flops"
    floor: float | None = None
    ceiling: float | None = None
    bootstrap: int = 100
    seed: int = 0
    fit_loss: str = "ls"
    calibrate: bool = False
    slope_prior: float | None = SLOPE_PRIOR_SD
    slope_center: float = SLOPE_PRIOR_CENTER
    ceiling_prior: float | None = CEILING_PRIOR_SD
    #: the floor was checked against the whole table already (`select_downstream`): its warnings not repeated
    floor_checked: bool = field(default=False, repr=False)

    @property
    def name(self) -> str:
        """``"sigmoid"`` (ceiling fitted) or ``"sigmoid-bounded"`` (ceiling fixed)."""
        return "sigmoid" if self.ceiling is None else "sigmoid-bounded"

    def _law(self):
        from ..laws import get_law

        return get_law("sigmoid-bounded", variable="C", floor=self.floor, ceiling=self.ceiling)

    def fit_arrays(self, C: np.ndarray, acc: np.ndarray, *, source: str | None = None, level: float = 0.8):
        """Fit on arrays of scale values ``C`` (e.g. FLOPs) and accuracies ``acc``; rows with a missing
        value or a non-positive scale are skipped. Returns a `SigmoidResult`.

        Raises
        ------
        FitError
            With fewer than 3 usable models or when no start converges.
        InputError
            For an unknown ``fit_loss``.
        """
        r = fit_accuracy(self._law(), C, acc, column=self.x, bootstrap=int(self.bootstrap), seed=self.seed,
                         level=level, calibrate=self.calibrate, fit_loss=self.fit_loss, prior_sd=self.slope_prior,
                         prior_center=self.slope_center, ceiling_sd=self.ceiling_prior, source=source,
                         warn_floor=not self.floor_checked)
        bounded = accuracy_scale(r.data["y"])
        reach_sd = float(r.calibration["reach_noise_per_decade"]) * float(r.noise)
        if not self.calibrate:
            reach_sd = DEFAULT_REACH * (1.0 if bounded is None else bounded[1])
        return SigmoidResult(fit=r, column=self.x, name=self.name, bounded=bounded, seed=self.seed,
                             residuals=np.asarray(r.residuals, float), reach_sd=reach_sd)

    def fit(self, data) -> SigmoidResult:
        """Fit on a table (path, DataFrame or mapping) with the scale column ``x`` (or params and tokens
        when ``x == "flops"``) and the ``accuracy`` column; rows with a missing value are skipped.
        Returns a `SigmoidResult`.

        Raises
        ------
        DataError
            For a missing or non-numeric column.
        FitError
            With fewer than 3 usable models or when no start converges.
        """
        df, source = load_frame(data)
        xv = scale_arrays(df, [self.x], source)[self.x]
        acc = column(df, self.accuracy, source, "accuracy")
        return self.fit_arrays(xv, acc, source=source)


def fit_accuracy_sigmoid(data, *, x: str = "flops", y: str, floor: float | None = None,
                         ceiling: float | None = None, bootstrap: int = 100, seed: int = 0,
                         level: float = 0.8, calibrate: bool = True):
    """The accuracy sigmoid of `SigmoidPredictor` as a `scalinglab.fit.FitResult` of the catalog law
    ``sigmoid`` (ceiling fitted) or ``sigmoid-bounded`` (``ceiling`` fixed), variable ``C`` read from
    column ``x``: the result ``scalinglab fit models.csv --law sigmoid --x flops --y MMLU`` gives (one
    route, ``fit/_accuracy.py``), so ``scalinglab predict fit.json flops=1e24`` works from its JSON.

    ``data``: table with the scale column ``x`` (FLOPs by default) and accuracy column ``y`` (fractions
    or percentages; rows with a missing value are skipped); ``floor``: chance level (fixed when given).

    Raises
    ------
    DataError
        For missing or non-numeric columns.
    FitError
        With fewer than 3 usable models.
    InputError
        For a bad ``level``.
    """
    from ..laws import get_law

    df, source = load_frame(data)
    xv = scale_arrays(df, [x], source)[x]
    acc = column(df, y, source, "accuracy")
    law = (get_law("sigmoid", variable="C", floor=floor) if ceiling is None else
           get_law("sigmoid-bounded", variable="C", floor=floor, ceiling=ceiling))
    return fit_accuracy(law, xv, acc, column=x, bootstrap=bootstrap, seed=seed, level=level, calibrate=calibrate,
                        source=source)
