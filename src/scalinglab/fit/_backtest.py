"""Backtests (fit on the smaller runs, predict the larger ones) and law comparison by backtest error.

Cut rule: runs are ordered by ``by`` (default ``"flops"``: the table's ``budget`` column for IsoFLOP
tables, else its ``flops`` column, else 6 N D or the law's C; for one-variable laws, that variable).
``cutoff_frac = f`` holds out the LARGEST fraction ``f`` of runs: the threshold is the value of the
``ceil(f n)``-th largest run and every run at or above it is held out (ties never straddle the cut, so an
IsoFLOP budget is either all in or all out). ``cutoff_flops = c`` fits on ``by < c`` and predicts the rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._errors import FitError, InputError, ScalingLabError
from ..laws import Law, law_from_spec
from ._api import fit
from ._calibrate import interval_score
from ._inputs import AUTO_LAW, is_auto_law, load_table, prepare_data, resolve_law, warn_table
from ._levels import level_threshold, new_mask
from ._predict import compute_of

__all__ = ["BacktestResult", "backtest", "backtest_sweep", "compare", "COVERAGE_LEVELS"]

COVERAGE_LEVELS = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class BacktestResult:
    """Per-point errors of predicting held-out larger runs, and interval coverage at 50/80/95%."""

    law: str
    by: str
    cutoff: float | list
    n_train: int
    n_predictions: int
    points: list = field(default_factory=list, repr=False)
    median_rel_error: float = math.nan
    max_rel_error: float = math.nan
    mean_rel_error: float = math.nan
    bias: float = math.nan  # the median signed relative error (predicted - actual) / actual
    coverage: dict = field(default_factory=dict)
    max_extrapolation: float = math.nan
    by_extrapolation: list = field(default_factory=list, repr=False)
    fits: list = field(default_factory=list, repr=False)
    loss_unit: str | None = None  # of the actual and predicted losses (the run table's, e.g. bits/byte)
    #: per nominal level: the fraction of held-out runs above and below the interval (which side misses)
    misses: dict = field(default_factory=dict, repr=False)
    #: per nominal level: the median interval width relative to the prediction
    interval_width: dict = field(default_factory=dict, repr=False)
    #: per nominal level: the mean interval score (width plus 2/(1-level) times the miss), relative to the
    #: actual loss: lower is better, and a band that covers by being wide pays for it (Gneiting & Raftery 2007)
    interval_score: dict = field(default_factory=dict, repr=False)
    #: median and largest ``|pred - actual|`` in the fitted column's own unit (accuracy points or fractions,
    #: where a relative error near chance means nothing)
    median_abs_error: float = math.nan
    max_abs_error: float = math.nan

    def to_dict(self) -> dict:
        """JSON-ready summary: every field except ``fits`` (numpy values become plain floats/lists).

        Relative errors are ``(pred - actual) / actual`` (fractions, not percent); ``coverage`` maps each
        nominal level to the fraction of held-out runs inside its interval; ``cutoff`` is in the units of
        the quantity named by ``by`` (training FLOPs for ``"flops"``, parameters for ``"N"``, ...).
        """
        from ._result import _jsonable

        return _jsonable({"law": self.law, "by": self.by, "cutoff": self.cutoff, "n_train": self.n_train,
                          "n_predictions": self.n_predictions, "median_rel_error": self.median_rel_error,
                          "max_rel_error": self.max_rel_error, "mean_rel_error": self.mean_rel_error,
                          "bias": self.bias, "coverage": self.coverage,
                          "max_extrapolation": self.max_extrapolation,
                          "by_extrapolation": self.by_extrapolation, "points": self.points,
                          "loss_unit": self.loss_unit, "misses": self.misses, "interval_width": self.interval_width,
                          "interval_score": self.interval_score, "median_abs_error": self.median_abs_error,
                          "max_abs_error": self.max_abs_error})


def _order_values(fd, law: Law, by: str) -> tuple[np.ndarray, str]:
    df = fd.frame
    if by == "flops":
        if df is not None and "budget" in df.columns and len(df) == fd.n:
            return df["budget"].to_numpy(float), "budget"
        if df is not None and "flops" in df.columns and len(df) == fd.n:
            return df["flops"].to_numpy(float), "flops"
        C = compute_of(law, fd.X)
        if C is not None:
            return C, "flops (6ND)" if "C" not in fd.X else "flops"
        return fd.X[law.variables[0]], law.variables[0]
    if by in fd.X:
        return fd.X[by], by
    if df is not None and by in df.columns and len(df) == fd.n:
        return df[by].to_numpy(float), by
    raise InputError(f"backtest: cannot order runs by {by!r}: not a law variable or a column")


def _split(values: np.ndarray, cutoff_frac: float | None, cutoff: float | None) -> tuple[np.ndarray, float]:
    if cutoff is not None:
        test = values >= float(cutoff)
        return test, float(cutoff)
    f = float(cutoff_frac)
    if not 0 < f < 1:
        raise InputError(f"cutoff_frac must be between 0 and 1 (fraction of the largest runs held out), got {f}")
    n = len(values)
    k = max(1, math.ceil(f * n))
    thr = level_threshold(values, float(np.sort(values)[n - k]))  # never split a compute level
    return values >= thr, thr


def _resolve(law, x, data):
    """``(law, auto, x, data)``: the law to prepare the runs with, whether ``law`` is ``"auto"`` (backtest what
    ``scalinglab fit`` does by default, the forecast stack of ``_lawstack``: then the stack's shared (N, D)
    form, its members being laws of parameters and tokens), the variable column of a one-variable law, and
    the runs (read once here when auto looks at their columns). Auto on a table with compute and neither
    parameters nor tokens backtests the power law in flops (``E + A C^-alpha``, which `fit_auto` ranks beside
    ``kaplan-c`` there)."""
    if not is_auto_law(law):
        return resolve_law(law, x)[0], False, x, data
    if x is not None:
        raise InputError("law 'auto' (the forecast stack) is a law of parameters and tokens; x= is for "
                         "one-variable laws")
    data = load_table(data)
    cols = set(map(str, data.df.columns))
    if "flops" in cols and "params" not in cols:
        return resolve_law("power", "flops")[0], False, "flops", data
    return resolve_law("chinchilla", None)[0], True, None, data


def _y_name(fd, data: dict) -> str:
    """The fitted column's own name for a cut's refit (its messages name it: 'MMLU', not a placeholder), unless a
    variable's column has that name."""
    name = str(fd.y_column or "")
    return name if name and name not in data else "__y__"


def _run_one(fd, law: Law, train: np.ndarray, test: np.ndarray, *, level_set, fit_kwargs,
             auto: bool = False) -> tuple[list, object]:
    if fd.weights is not None:
        fit_kwargs = {**fit_kwargs, "weights": fd.weights[train]}
    if auto:  # the whole stack on the smaller runs: its own internal cuts choose the law and objective
        from ._lawstack import stack_laws

        frame = fd.frame  # the stack orders its cuts by the table's budget / flops columns, as a fit does
        data = {fd.variables.get(v, v): fd.X[v][train] for v in law.variables}
        data.update({c: frame[c].to_numpy()[train] for c in ("budget", "flops")
                     if frame is not None and c in frame.columns and len(frame) == fd.n})
        yname = _y_name(fd, data)
        data[yname] = fd.y[train]
        res = stack_laws(data, y=yname, **{"warn": False, **fit_kwargs})[0]
    else:
        data = {v: fd.X[v][train] for v in law.variables}
        yname = _y_name(fd, data)
        data[yname] = fd.y[train]
        res = fit(data, law, y=yname, **fit_kwargs)
    Xt = {v: fd.X[v][test] for v in law.variables}
    preds = {lv: res.predict(level=lv, warn=False, **Xt) for lv in level_set}
    p0 = preds[level_set[0]]
    val = np.atleast_1d(np.asarray(p0.value, float))
    actual = fd.y[test]
    reach = np.atleast_1d(np.asarray(p0.extrapolation.get("reach", np.nan), float))
    reach = np.broadcast_to(reach, val.shape)
    idx = np.flatnonzero(test)
    pts = []
    for i in range(len(val)):
        row = {"row": int(idx[i]) + 1, **{v: float(Xt[v][i]) for v in law.variables}, "actual": float(actual[i]),
               "predicted": float(val[i]), "rel_error": float((val[i] - actual[i]) / actual[i]),
               "extrapolation": float(reach[i])}
        if auto:
            row["law"] = f"{res.law.name} ({res.loss.get('name')})"
        for lv, p in preds.items():
            lo = float(np.atleast_1d(p.interval[0])[i])
            hi = float(np.atleast_1d(p.interval[1])[i])
            row[f"interval_{lv:g}"] = [lo, hi]
            row[f"covered_{lv:g}"] = bool(lo <= actual[i] <= hi)
        pts.append(row)
    return pts, res


#: extrapolation-factor bins (compute ratio to the largest fitted run) of the error-by-reach table
REACH_BINS = (1.0, 2.0, 4.0, 10.0, 100.0, math.inf)


def _by_reach(pts: list) -> list:
    """Median/max |relative error| and coverage per extrapolation-factor bin."""
    reach = np.array([p["extrapolation"] for p in pts])
    rel = np.abs(np.array([p["rel_error"] for p in pts]))
    rows = []
    for lo, hi in zip(REACH_BINS[:-1], REACH_BINS[1:], strict=True):
        m = (reach >= lo) & (reach < hi) if lo > 1.0 else reach < hi
        if not m.any():
            continue
        sel = [p for p, k in zip(pts, m, strict=True) if k]
        rows.append({"extrapolation_min": lo if lo > 1.0 else 0.0, "extrapolation_max": hi,
                     "n_predictions": int(m.sum()), "median_rel_error": float(np.median(rel[m])),
                     "max_rel_error": float(np.max(rel[m])),
                     "coverage": {f"{lv:g}": float(np.mean([p[f"covered_{lv:g}"] for p in sel]))
                                  for lv in COVERAGE_LEVELS}})
    return rows


def _summarise(law_name: str, by: str, cutoff, n_train: int, pts: list, fits: list,
               loss_unit: str | None = None) -> BacktestResult:
    if not pts:
        return BacktestResult(law=law_name, by=by, cutoff=cutoff, n_train=n_train, n_predictions=0, fits=fits,
                              loss_unit=loss_unit)
    rel = np.array([p["rel_error"] for p in pts])
    cov = {f"{lv:g}": float(np.mean([p[f"covered_{lv:g}"] for p in pts])) for lv in COVERAGE_LEVELS}
    y = np.array([p["actual"] for p in pts])
    pred = np.array([p["predicted"] for p in pts])
    misses, width, score = {}, {}, {}
    for lv in COVERAGE_LEVELS:
        lo, hi = np.array([p[f"interval_{lv:g}"] for p in pts], float).T
        misses[f"{lv:g}"] = {"above": float(np.mean(y > hi)), "below": float(np.mean(y < lo))}
        width[f"{lv:g}"] = float(np.median((hi - lo) / pred))
        score[f"{lv:g}"] = float(np.mean(interval_score(lo, hi, y, lv) / y))
    return BacktestResult(law=law_name, by=by, cutoff=cutoff, n_train=n_train, n_predictions=len(pts),
                          misses=misses, interval_width=width, interval_score=score,
                          points=pts, median_rel_error=float(np.median(np.abs(rel))),
                          max_rel_error=float(np.max(np.abs(rel))), mean_rel_error=float(np.mean(np.abs(rel))),
                          bias=float(np.median(rel)), coverage=cov,
                          max_extrapolation=float(np.max([p["extrapolation"] for p in pts])),
                          by_extrapolation=_by_reach(pts), fits=fits, loss_unit=loss_unit,
                          median_abs_error=float(np.median(np.abs(pred - y))),
                          max_abs_error=float(np.max(np.abs(pred - y))))


def backtest(data, law: Law | str = "auto", *, cutoff_frac: float | None = 0.3, cutoff_flops: float | None = None,
             by: str = "flops", x: str | None = None, y: str | None = "loss", **fit_kwargs) -> BacktestResult:
    """Fit ``law`` on the smaller runs and predict the held-out larger ones (see the module docstring).
    ``law="auto"`` (the default): the forecast stack ``scalinglab fit`` uses by default, chosen on the
    smaller runs alone (each point's ``law`` names the member it chose), so the backtest measures what a
    default fit does.

    ``fit_kwargs`` go to :func:`fit` (``loss``, ``delta``, ``bootstrap``, ``seed`` ...). Returns per-point
    relative errors ``(pred - actual) / actual``, their median/max absolute value, and the fraction of
    held-out runs inside the 50/80/95% prediction intervals.

    Returns
    -------
    BacktestResult
        One point per held-out run (``points``), the pooled error summary and interval coverage.

    Raises
    ------
    InputError
        If ``cutoff_frac`` is not in (0, 1), ``by`` is neither a law variable nor a column, or the runs are
        not usable (its subclass `DataError` names the file and column).
    LawError
        If ``law`` is a name or expression that does not give a valid law.
    FitError
        If the cut leaves fewer runs to fit than the law has parameters, or none to predict.
    """
    law_obj, auto, x, data = _resolve(law, x, data)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=fit_kwargs.pop("weights", None))
    warn_table(fd.frame, fd.source, warn=fit_kwargs.get("warn", True), laws=(law_obj,))  # at our caller
    values, by_name = _order_values(fd, law_obj, by)
    test, thr = _split(values, cutoff_frac if cutoff_flops is None else None, cutoff_flops)
    train = ~test
    if train.sum() < law_obj.n_params or test.sum() == 0:
        raise FitError(f"backtest: the cut at {by_name} = {thr:.4g} leaves {int(train.sum())} run(s) to fit "
                       f"and {int(test.sum())} to predict; law {law_obj.name!r} needs at least "
                       f"{law_obj.n_params} to fit and 1 to predict")
    pts, res = _run_one(fd, law_obj, train, test, level_set=COVERAGE_LEVELS, fit_kwargs=fit_kwargs, auto=auto)
    return _summarise(AUTO_LAW if auto else law_obj.name, by_name, thr, int(train.sum()), pts, [res],
                      loss_unit=fd.conventions.get("loss_unit"))


def backtest_sweep(data, law: Law | str = "auto", *, cutoff_fracs: Sequence[float] = (0.2, 0.3, 0.4),
                   by: str = "flops", x: str | None = None, y: str | None = "loss", **fit_kwargs) -> BacktestResult:
    """Backtests at several cutoffs, pooled (each held-out run counted once per cutoff that predicts it).

    Cutoffs that leave too few runs to fit are skipped. ``law="auto"`` reruns the forecast stack on each
    cut (`backtest`).

    Returns
    -------
    BacktestResult
        Points of every cutoff pooled; ``cutoff`` is the list of cut values used (units of ``by``) and
        ``n_train`` the number of runs below the smallest cut.

    Raises
    ------
    InputError
        If a cutoff fraction is not in (0, 1), ``by`` is neither a law variable nor a column, or the runs
        are not usable (its subclass `DataError` names the file and column).
    LawError
        If ``law`` is a name or expression that does not give a valid law.
    FitError
        If no cutoff in ``cutoff_fracs`` leaves enough runs to fit (more than the law's parameters, and at
        least 3) and at least one to predict.
    """
    law_obj, auto, x, data = _resolve(law, x, data)
    fd = prepare_data(data, law_obj, x=x, y=y, weights=fit_kwargs.pop("weights", None))
    warn_table(fd.frame, fd.source, warn=fit_kwargs.get("warn", True), laws=(law_obj,))  # at our caller
    values, by_name = _order_values(fd, law_obj, by)
    pts_all, fits, cuts = [], [], []
    seen = set()
    for f in cutoff_fracs:
        test, thr = _split(values, f, None)
        if not new_mask(test, seen):  # the same held-out runs: counted once, not pooled as more evidence
            continue
        train = ~test
        if train.sum() < max(law_obj.n_params + 1, 3) or test.sum() == 0:
            continue
        pts, res = _run_one(fd, law_obj, train, test, level_set=COVERAGE_LEVELS, fit_kwargs=fit_kwargs,
                            auto=auto)
        for p in pts:
            p["cutoff"] = thr
        pts_all += pts
        fits.append(res)
        cuts.append(thr)
    if not cuts:
        raise FitError(f"backtest sweep: no cutoff in {list(cutoff_fracs)} leaves enough runs to fit "
                       f"law {law_obj.name!r}")
    return _summarise(AUTO_LAW if auto else law_obj.name, by_name, cuts, int(np.sum(values < min(cuts))), pts_all,
                      fits, loss_unit=fd.conventions.get("loss_unit"))


def _law_for_table(law, data, x):
    """A one-variable law whose variable is not a column is fitted against compute (C -> flops)."""
    law_obj, _ = resolve_law(law, x)
    if x is None and len(law_obj.variables) == 1:
        try:
            prepare_data(data, law_obj)
        except ScalingLabError:
            spec = law_obj.spec()
            if "variable" in spec:
                return law_from_spec({**spec, "variable": "C"})
    return law_obj


def compare(data, laws: Sequence[Law | str] | str, *, cutoff_fracs: Sequence[float] = (0.2, 0.3, 0.4),
            by: str = "flops", x: str | None = None, y: str | None = "loss", **fit_kwargs) -> list[dict]:
    """Rank laws by backtest error (pooled over ``cutoff_fracs``): lowest median relative error first,
    then lowest max error. Laws that cannot be fitted are listed last with their error message. ``"auto"``
    among ``laws`` is the forecast stack of ``scalinglab fit`` (rerun on each cut; its row's ``chosen`` names
    the member it picks on all the runs).

    The ranking needs only point errors, so the backtest fits skip the interval calibration (nested
    backtests) unless ``calibrate=True`` is passed: their ``coverage`` then uses the prior interval rule.

    Returns
    -------
    list of dict
        One row per law, best first: ``law``, ``rank`` (None when it failed), ``median_rel_error``,
        ``max_rel_error`` (fractions), ``coverage``, ``n_predictions``, ``params``, ``status`` and
        ``error`` (the message of a law that could not be fitted, else None).

    Raises
    ------
    InputError
        If ``laws`` is empty. Errors of individual laws do not raise: they are reported in their row.
    """
    if isinstance(laws, str):
        laws = [s.strip() for s in laws.split(",") if s.strip()]
    if not laws:
        raise InputError("compare needs at least one law")
    fit_kwargs = {"calibrate": False, **fit_kwargs}
    rows = []
    from ..data import load_runs

    try:  # read once, as every fit reads it (`load_table`); each law's backtest and fit reuse the table
        runs = load_runs(data, required=(), positive_loss=False)
    except ScalingLabError:  # reported per law below
        runs = None
    if runs is not None:
        said = warn_table(runs.df, runs.source, warn=fit_kwargs.get("warn", True), laws=laws)
        if said:  # said once here, not again by every law's fit: they see the runs without those columns
            runs = load_runs(runs.df.drop(columns=said), required=(), positive_loss=False,
                             source_name=runs.source, flops_convention=runs.flops_convention or "6ND",
                             loss_unit=runs.loss_unit)
        data = runs
    for law in laws:
        name = law if isinstance(law, str) else law.name
        try:
            auto = is_auto_law(law)
            law_obj = law if auto else _law_for_table(law, data, x)
            # the cut fits' convergence notes are in their status; the full fit below warns as usual
            bt = backtest_sweep(data, law_obj, cutoff_fracs=cutoff_fracs, by=by, x=x, y=y,
                                **{"warn": False, **fit_kwargs})
            if auto:  # the forecast stack, as `scalinglab fit` runs it; its row names the member it chose
                from ._lawstack import stack_laws

                full = stack_laws(data, x=x, y=y, **fit_kwargs)[0]
                law_obj = full.law
            else:
                full = fit(data, law_obj, x=x, y=y, **fit_kwargs)
            rows.append({"law": name, "variables": list(law_obj.variables), "n_params": law_obj.n_params,
                         "median_rel_error": bt.median_rel_error, "max_rel_error": bt.max_rel_error,
                         "mean_rel_error": bt.mean_rel_error, "bias": bt.bias, "coverage": bt.coverage,
                         "n_predictions": bt.n_predictions, "cutoffs": bt.cutoff, "objective": full.objective,
                         "by_extrapolation": bt.by_extrapolation,
                         "coverage_intervals": "calibrated" if fit_kwargs["calibrate"] else "prior rule",
                         "params": full.params, "status": full.status, "error": None,
                         **({"chosen": f"{full.law.name} ({full.loss.get('name')})"} if auto else {})})
        except ScalingLabError as exc:
            rows.append({"law": name, "median_rel_error": None, "max_rel_error": None, "coverage": None,
                         "n_predictions": 0, "status": "failed", "error": str(exc)})
    ok = [r for r in rows if r["error"] is None]
    bad = [r for r in rows if r["error"] is not None]
    ok.sort(key=lambda r: (r["median_rel_error"], r["max_rel_error"]))
    ranked = ok + bad
    for i, r in enumerate(ranked, 1):
        r["rank"] = i if r["error"] is None else None
    return ranked
