"""The forecast stack of ``fit --law auto`` for tables with parameters N and tokens D: laws and objectives
chosen together by internal backtests.

Why. On public IsoFLOP ladders the Chinchilla form fitted with Huber on log loss overpredicts the
near-optimal runs of the larger budgets and underpredicts the far-off-optimal ones (its IsoFLOP curvature
is tied to its exponents); the asymmetric lower-envelope fit (the ``chinchilla`` package's objective)
halves the median error on some ladders and doubles the worst one on others; and
``E + (A/N^alpha + B/D^beta)^gamma`` (``chinchilla-joint``: Chinchilla at ``gamma = 1``, Kaplan et al.
2020's joint form nested) decouples that curvature. Which one forecasts best differs per ladder, so the
choice is made on the user's own runs (Li et al. 2025, "(Mis)fitting": the form, objective and data
selection each flip conclusions; Porian et al. 2024; Besiroglu et al. 2024).

Method (``"lawstack/v1"``).

1. Members (``MEMBERS``): Chinchilla with Huber (delta 1e-3 on log loss), Chinchilla with the asymmetric
   objective (warm-started from the Huber fit) and ``chinchilla-joint`` with Huber (warm-started from the
   Chinchilla fit at ``gamma`` in ``JOINT_GAMMA_STARTS``). With ``loss`` other than ``"auto"`` only that
   objective's members are tried.
2. Internal backtests: the interval calibration's cuts (the largest 10..50 % of runs held out, compute levels
   never split; ``_calibrate._cuts``); each member is refitted on the smaller runs, warm-started from its
   whole-table fit and from the cut's Chinchilla-Huber fit (cold multi-start only when that fails).
3. Criterion (``CRITERION``). ``"wins"``: the member that most often forecasts the held-out runs of a cut
   as well as the bare Chinchilla fits (the members with Chinchilla's law: Huber and asymmetric) both in
   median and in worst |relative error| (each within ``WIN_TOLERANCE`` of the better bare fit's: the
   yardstick of the forecast goal) wins; ties go to the lower score below, then to the first member. ``"score"``:
   the lowest score wins outright. Score: the mean over cuts of ``(1 - MAX_WEIGHT) * median + MAX_WEIGHT *
   max`` |relative error|; a member replaces the first only when its score is lower by ``SHRINK`` or its
   win count is higher. Fewer than ``MIN_CUTS`` usable cuts keep the first member. Gate: the other members
   are considered only when the first member's backtest forecasts err by more than the run noise (their
   median |relative error|, averaged over the cuts, at least ``ERROR_NOISE`` times the robust residual sd
   of the first member's whole-table fit) and, optionally, the same way (median signed error above zero,
   or below) on at least ``AGREEMENT`` of the usable cuts (0.5, the default, leaves that condition out). A misspecified law extrapolates with a consistent
   error well beyond the noise (Chinchilla-Huber overpredicts the larger budgets of the Marin, Llama 3 and
   "(Mis)fitting" ladders on every cut); backtest errors that scatter both ways, or stay within the noise,
   are what a well-specified law gives, and on them the comparison of members on a handful of held-out
   budgets picks the wrong member as often as not.
4. The chosen member is refitted by :func:`scalinglab.fit.fit` with its law and objective (warm-started from
   its member fit, with its backtest cut fits handed to the interval calibration so they are not made
   twice), so its intervals are calibrated as every fit's are; the ranking, win counts, scores and
   runner-up are reported in ``choice``.

What the harness showed (``bench/extrapolation.py``, leave one dataset out, 93 (ladder, cut) pairs: eleven
public ladders from five studies and five synthetic families x 4 seeds): median |relative error| 0.70 % and
worst 2.28 % (means over pairs) against 0.84 / 2.38 % for Huber alone, 0.85 / 2.75 % for the asymmetric fit
and 0.74 / 2.42 % for ``fit(..., "chinchilla")``'s objective choice; within 5 % of the better bare fit on
both on 58 % of pairs (55 % without the gate, 56 % when the lowest score alone decided, 49 % for Huber
alone). Chosen on the other datasets: ``CRITERION = "wins"`` and ``SHRINK = 0`` for every held-out dataset,
``ERROR_NOISE = 1.25`` for 8 of 10; ``MAX_WEIGHT`` 0.25 and 0.5 tie. ``AGREEMENT`` is the one constant not
shipped as chosen: the rule picks 1.0 (the sign condition on every cut) for 9 of 10 held-out datasets, by
0.8 % in the mean error, where without the (Mis)fitting study's raw table it picked 0.5 by 0.6 %: a margin
one ladder flips. 0.5 is kept because 1.0 keeps Chinchilla-Huber on a law with joint curvature whenever one
backtest cut errs the other way (2 of 4 seeds in ``tests/test_lawstack.py``, forecasting the held-out
budget 4-5x worse: 1.1-1.3 % against 0.24-0.26 % median error). Held at 0.5, with the other constants chosen
leave one dataset out, the same pairs give 0.70 / 2.27 %, 81 % coverage and 57 % of pairs won. What is
left is mostly chance: on the synthetic families, where Chinchilla with Huber is right by construction, the
asymmetric fit still forecasts a cut's held-out runs better on both counts about one time in six, and no
backtest on the smaller runs can see that coming. Scored by the same yardstick, the noise-free true law of
the synthetic ladders meets it on 58 % of their 60 pairs (the default: 58 %): the better of two fits is
often the one luckier with the held-out runs' own noise.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .._errors import FitError, InputError, ScalingLabError
from ._ensemble import error_noise_ratio, passes_noise_gate

__all__ = ["LAWSTACK_METHOD", "MEMBERS", "CRITERION", "CRITERION_CHOICES", "WIN_TOLERANCE", "MAX_WEIGHT", "SHRINK",
           "MIN_CUTS", "JOINT_GAMMA_STARTS", "stack_laws", "restack_laws", "SHRINK_CHOICES", "MAX_WEIGHT_CHOICES",
           "AGREEMENT", "AGREEMENT_CHOICES", "ERROR_NOISE", "ERROR_NOISE_CHOICES", "sign_agreement"]

log = logging.getLogger(__name__)

LAWSTACK_METHOD = "lawstack/v1"
#: (law, objective) members, the first is the fallback
MEMBERS = (("chinchilla", "huber"), ("chinchilla", "asymmetric"), ("chinchilla-joint", "huber"))
#: how the members are ranked (module docstring, step 3): "wins" or "score"
CRITERION = "wins"
#: the values of CRITERION that bench/extrapolation.py chooses from, leave one dataset out
CRITERION_CHOICES = ("wins", "score")
#: a member "wins" a cut when its median and max |relative error| are each within this factor of the better
#: bare Chinchilla fit's (the yardstick of the forecast goal: 5 %)
WIN_TOLERANCE = 1.05
#: weight of the max error in the backtest score (module docstring, step 3)
MAX_WEIGHT = 0.5
#: a member must score this fraction below the first member to replace it
SHRINK = 0.0
#: the values of SHRINK and MAX_WEIGHT that bench/extrapolation.py chooses from, leave one dataset out
SHRINK_CHOICES = (0.0, 0.1)
MAX_WEIGHT_CHOICES = (0.25, 0.5)
#: fewer usable backtest cuts than this: keep the first member
MIN_CUTS = 2
#: the other members are considered only when the first member's backtest forecasts err the same way (their
#: median signed error above zero, or below) on at least this share of the usable cuts (module docstring,
#: step 3); 0.5 considers them always
AGREEMENT = 0.5
#: the values of AGREEMENT that bench/extrapolation.py chooses from, leave one dataset out
AGREEMENT_CHOICES = (0.5, 0.75, 1.0)
#: ... and only when the first member's backtest errors (the mean over cuts of the median |relative error|)
#: are at least this many times its run noise (the robust residual sd of its whole-table fit, in the same
#: relative units): errors the noise cannot explain. 0 drops this condition
ERROR_NOISE = 1.25
#: the values of ERROR_NOISE that bench/extrapolation.py chooses from, leave one dataset out
ERROR_NOISE_CHOICES = (0.0, 1.0, 1.25, 1.5)
#: joint exponents the chinchilla-joint member starts from (with the Chinchilla fit's other constants)
JOINT_GAMMA_STARTS = (1.0, 0.6, 1.5)


def _warm(law_name: str, theta_chin) -> np.ndarray:
    """Start rows for ``law_name`` from a Chinchilla parameter vector."""
    t = np.asarray(theta_chin, float)
    if law_name == "chinchilla-joint":
        return np.array([np.r_[t, g] for g in JOINT_GAMMA_STARTS])
    return t[None, :]


def stack_laws(data, *, loss: str = "auto", x: str | None = None, y: str | None = "loss", delta: float = 1e-3,
               weights=None, method: str = "auto", space: str = "auto", criterion: str | None = None,
               shrink: float | None = None, max_weight: float | None = None, agreement: float | None = None,
               error_noise: float | None = None, keep_members: bool = False, stacklevel: int = 6, **fit_kwargs):
    """Fit every member (module docstring), choose by internal backtests and refit the winner.

    ``data``: a run table with parameters and tokens (``params``, ``tokens``); ``loss``: ``"auto"`` (all
    members) or one objective (its members only); ``criterion`` / ``shrink`` / ``max_weight`` / ``agreement``
    / ``error_noise`` override ``CRITERION`` / ``SHRINK`` / ``MAX_WEIGHT`` / ``AGREEMENT`` / ``ERROR_NOISE``;
    ``keep_members`` keeps the member fits and backtest errors in ``choice["_state"]`` for
    :func:`restack_laws` (not JSON-able); ``stacklevel``: where the final fit's warnings point, counted as
    ``_stages.emit_warnings`` does (6: at the caller of ``stack_laws``; `fit_auto` passes 7, its caller);
    other keyword arguments go to the final :func:`scalinglab.fit.fit` (``bootstrap``, ``seed``, ``level``,
    ``calibrate``...).

    Returns
    -------
    tuple
        ``(FitResult, choice)``: the chosen member's calibrated fit (its ``law`` is the chosen law) and
        ``choice`` with ``law``, ``objective``, ``runner_up``, ``ranking`` (one row per member, best first:
        ``rank``, ``law``, ``objective``, ``median_rel_error``, ``max_rel_error`` (fractions, means over the
        backtest cuts), ``bias`` (the mean over the cuts of the median signed relative error: > 0 when the
        member forecast the held-out runs too high), ``wins`` (cuts won, module docstring step 3), ``score``,
        ``coverage`` (None: not computed) and ``error``), ``criterion``, ``n_cuts``, ``method``,
        ``sign_agreement`` (the share of the usable cuts on which the first member's backtest forecasts erred
        its majority way: above or below; None without cuts), ``min_sign_agreement`` (``AGREEMENT``: below it
        only the first member is considered), ``error_noise_ratio`` (the first member's backtest median
        |relative error| over its run noise; None without cuts), ``min_error_noise_ratio`` (``ERROR_NOISE``),
        ``others_considered`` (whether the gate let the other members be ranked at all) and ``first_member``
        (``[law, objective]``).

    Raises
    ------
    InputError
        For bad options (as :func:`scalinglab.fit.fit`), before anything is fitted.
    FitError
        If no member can be fitted on the whole table.
    """
    from ._calibrate import _cuts, _order
    from ._ensemble import _rel_err
    from ._inputs import prepare_data, resolve_law
    from ._stages import check_options, fit_warm

    check_options(delta=delta, method=method, space=space,
                  **{k: fit_kwargs[k] for k in ("bootstrap", "seed", "level") if k in fit_kwargs})
    criterion = CRITERION if criterion is None else str(criterion)
    if criterion not in CRITERION_CHOICES:
        raise InputError(f"criterion={criterion!r}: expected one of {', '.join(CRITERION_CHOICES)}")

    objective = str(loss).strip().lower()
    members = [m for m in MEMBERS if objective == "auto" or m[1] == objective]
    if not members:
        members = [(law_name, objective) for law_name in dict.fromkeys(m[0] for m in MEMBERS)]
    kw = {"x": x, "y": y, "delta": delta, "weights": weights, "method": method, "space": space}
    laws = {name: resolve_law(name, x)[0] for name in dict.fromkeys(m[0] for m in members)}
    law_c = laws["chinchilla"]
    fd = prepare_data(data, law_c, x=x, y=y, weights=weights)  # read once; members fit its arrays
    arrays = {**{v: fd.X[v] for v in law_c.variables}, "__y__": fd.y}
    wkw = {**kw, "y": "__y__", "x": None, "weights": fd.weights}
    base = fit_warm(arrays, "chinchilla", loss="huber", **wkw)
    if base is None:
        raise FitError(f"--law auto: the Chinchilla law could not be fitted to these runs ({_why_not(data, kw)}); "
                       "a law in compute alone has fewer parameters to fit: --law power --x flops (its predict "
                       "takes N=... D=... too)")
    whole = {}
    for law_name, obj in members:
        whole[(law_name, obj)] = (base if (law_name, obj) == ("chinchilla", "huber") else
                                  fit_warm(arrays, law_name, loss=obj, starts=_warm(law_name, base.theta), **wkw))
    n_min = max(max(law.n_params for law in laws.values()) + 2, 2 * law_c.n_params, 8)
    cuts = _cuts(_order(fd, law_c), n_min)
    errs = {m: {} for m in members}  # member -> {cut index: (median, max) |relative error|}
    bias = {m: {} for m in members}  # member -> {cut index: median signed relative error}
    cut_fits = {m: {} for m in members}  # member -> {cut index: FitResult}, reused by the final calibration
    for k, test in enumerate(cuts):
        train = ~test
        sub = {v: fd.X[v][train] for v in law_c.variables}
        sub["__y__"] = fd.y[train]
        ckw = {**kw, "y": "__y__", "x": None, "weights": None if fd.weights is None else fd.weights[train]}
        cut_base = fit_warm(sub, "chinchilla", loss="huber", starts=base.theta[None, :], **ckw)
        Xt = {v: fd.X[v][test] for v in law_c.variables}
        yt = fd.y[test]
        for m in members:
            law_name, obj = m
            if whole[m] is None:
                continue
            starts = [np.asarray(whole[m].theta, float)[None, :]]
            if cut_base is not None:
                starts.append(_warm(law_name, cut_base.theta))
            res = cut_base if m == ("chinchilla", "huber") else fit_warm(sub, law_name, loss=obj,
                                                                          starts=np.vstack(starts), **ckw)
            if res is None:
                continue
            cut_fits[m][k] = res
            signed = _rel_err(laws[law_name], res.theta, Xt, yt)
            e = np.abs(signed)
            if np.all(np.isfinite(e)):
                errs[m][k] = (float(np.median(e)), float(np.max(e)))
                bias[m][k] = float(np.median(signed))
    state = {"data": data, "fd": fd, "laws": laws, "members": members, "whole": whole, "errs": errs, "bias": bias,
             "cuts": cuts, "cut_fits": cut_fits, "kw": kw, "fit_kwargs": fit_kwargs, "stacklevel": stacklevel}
    final, choice = _choose(state, criterion, SHRINK if shrink is None else float(shrink),
                            MAX_WEIGHT if max_weight is None else float(max_weight),
                            agreement=AGREEMENT if agreement is None else float(agreement),
                            error_noise=ERROR_NOISE if error_noise is None else float(error_noise))
    if keep_members:
        choice["_state"] = state
    return final, choice


def _why_not(data, kw: dict) -> str:
    """Why the Chinchilla law cannot be fitted to the user's runs: the error of a plain Huber fit, in the names
    of their table (the failure path only; `fit_warm` keeps its refits quiet)."""
    from ._stages import fit_point

    try:
        fit_point(data, "chinchilla", loss="huber", warn=False, **kw)
    except ScalingLabError as exc:
        return str(exc)
    return "no finite fit"


def restack_laws(choice: dict, *, shrink: float, max_weight: float, criterion: str = CRITERION,
                 agreement: float = AGREEMENT, error_noise: float = ERROR_NOISE, refit: dict | None = None):
    """The choice of ``stack_laws(..., keep_members=True)`` with other ``criterion`` / ``shrink`` /
    ``max_weight`` / ``agreement`` / ``error_noise`` (no backtest refits); ``refit``: a cache
    ``{(law, objective): FitResult}`` of final fits shared between calls.

    Returns
    -------
    tuple
        ``(FitResult, choice)`` as :func:`stack_laws`.

    Raises
    ------
    FitError
        If the chosen member cannot be refitted on the whole table.
    """
    return _choose(choice["_state"], criterion, shrink, max_weight, refit, agreement=agreement,
                   error_noise=error_noise)


def _gate_text(agreement: float, error_noise: float) -> str:
    """The gate's conditions (module docstring, step 3) in words, for ``choice["criterion"]``."""
    conds = ([f"have a median |relative error| of at least {error_noise:g} x its run noise"] if error_noise > 0
             else []) + ([f"err the same way on at least {agreement:.0%} of the cuts"] if agreement > 0.5 else [])
    return "; the other members only when the first member's backtest forecasts " + " and ".join(conds) if conds else ""


def sign_agreement(biases) -> float:
    """The share of ``biases`` (signed backtest errors, one per cut) on the majority side of zero (NaN when
    empty): 1.0 when every cut erred the same way, about 0.5 when they scatter as noise does."""
    b = np.asarray(list(biases), float)
    if b.size == 0:
        return math.nan
    return float(max(np.mean(b > 0), np.mean(b < 0)))


def _choose(state: dict, criterion: str, shrink: float, max_weight: float, refit: dict | None = None, *,
            agreement: float = AGREEMENT, error_noise: float = ERROR_NOISE):
    """Rank the members by their backtests, refit the winner (module docstring, steps 3-4)."""
    members, whole, errs = state["members"], state["whole"], state["errs"]
    fitted = [m for m in members if whole[m] is not None]
    common = sorted(set.intersection(*(set(errs[m]) for m in fitted))) if fitted else []  # cuts every member scored
    usable = len(common)
    refs = [m for m in fitted if m[0] == "chinchilla"] or fitted[:1]  # the bare Chinchilla fits
    rows = []
    for m in members:
        law_name, obj = m
        if whole[m] is None:
            rows.append({"law": law_name, "objective": obj, "median_rel_error": None, "max_rel_error": None,
                         "bias": None, "wins": None, "score": None, "coverage": None, "error": "could not be fitted"})
            continue
        v = [errs[m][k] for k in common]
        med = float(np.mean([a for a, _ in v])) if v else math.nan
        mx = float(np.mean([b for _, b in v])) if v else math.nan
        wins = sum(errs[m][k][0] <= WIN_TOLERANCE * min(errs[r][k][0] for r in refs)
                   and errs[m][k][1] <= WIN_TOLERANCE * min(errs[r][k][1] for r in refs) for k in common)
        signed = [state["bias"][m][k] for k in common]  # recorded with errs (stack_laws)
        rows.append({"law": law_name, "objective": obj, "median_rel_error": med, "max_rel_error": mx,
                     "bias": float(np.mean(signed)) if signed else None, "wins": int(wins),
                     "score": (1 - max_weight) * med + max_weight * mx, "coverage": None,
                     "error": None if m == members[0] else _undetermined(whole[m], whole[members[0]])})
    first = rows[0]
    ok = [r for r in rows if r["error"] is None and math.isfinite(r["score"])]
    first_bias = [state["bias"][members[0]][k] for k in common]
    agree = sign_agreement(first_bias)
    ratio = (error_noise_ratio([errs[members[0]][k][0] for k in common], whole[members[0]].noise)
             if whole[members[0]] is not None else math.nan)
    considered = False  # whether the gate let the other members be ranked

    def key(r):
        return (-r["wins"], r["score"]) if criterion == "wins" else (r["score"],)

    if usable < MIN_CUTS or not any(r is first for r in ok):
        chosen, reason = first, f"{usable} usable backtest cut(s): kept {first['law']} ({first['objective']})"
    elif not agree >= agreement:
        chosen, reason = first, (f"kept {first['law']} ({first['objective']}): its backtest forecasts erred both "
                                 f"ways (the same way on {agree:.0%} of {usable} cuts, under {agreement:.0%}): "
                                 "no sign that its law is misspecified")
    elif not passes_noise_gate(ratio, error_noise):
        chosen, reason = first, (f"kept {first['law']} ({first['objective']}): its backtest errors are "
                                 f"{ratio:.2g} x its run noise, under {error_noise:g} x: no sign that its law is "
                                 "misspecified")
    else:
        considered = True
        best = min(ok, key=key)
        more_wins = criterion == "wins" and best["wins"] > first["wins"]
        same_wins = criterion == "score" or best["wins"] == first["wins"]
        chosen = best if more_wins or (same_wins and best["score"] < first["score"] * (1 - shrink)) else first
        reason = (f"{chosen['law']} ({chosen['objective']}) won {chosen['wins']} of {usable} backtest cuts and "
                  f"scored {chosen['score']:.3%} (first member: {first['wins']}, {first['score']:.3%})")
    ranked = sorted(ok, key=lambda r: (r is not chosen, key(r))) + [r for r in rows if all(r is not o for o in ok)]
    for i, r in enumerate(ranked, 1):
        r["rank"] = i if any(r is o for o in ok) else None
    log.info("--law auto: %s", reason)
    m = (chosen["law"], chosen["objective"])
    final = None if refit is None else refit.get(m)
    if final is None:
        final = _refit(state, m)
        if refit is not None:
            refit[m] = final
    runner = next((r for r in ranked[1:] if r["error"] is None), None)
    score = f"mean over backtest cuts of ({1 - max_weight:g} x median + {max_weight:g} x max) |relative error|"
    choice = {"law": chosen["law"], "objective": chosen["objective"], "method": LAWSTACK_METHOD,
              "runner_up": None if runner is None else runner["law"],
              "runner_up_objective": None if runner is None else runner["objective"],
              "n_cuts": usable, "reason": reason, "ranking": ranked,
              "shrink": shrink, "max_weight": max_weight, "rule": criterion, "win_tolerance": WIN_TOLERANCE,
              "first_member": [first["law"], first["objective"]],
              "sign_agreement": None if math.isnan(agree) else agree, "min_sign_agreement": agreement,
              "error_noise_ratio": None if math.isnan(ratio) else ratio, "min_error_noise_ratio": error_noise,
              "others_considered": considered,
              "criterion": (f"most backtest cuts won (median and max |relative error| each within "
                            f"{WIN_TOLERANCE:g} x the better bare Chinchilla fit's), then the lowest {score}"
                            if criterion == "wins" else f"the lowest {score}") + " of the held-out largest runs"
                            + _gate_text(agreement, error_noise)}
    choice["_runner_up_fit"] = None if runner is None else whole[(runner["law"], runner["objective"])]
    return final, choice


def _undetermined(res, first) -> str | None:
    """Why a member other than the first cannot be chosen: its whole-table fit leaves parameters that the
    runs do not determine (at a bound, or exploding: `_degenerate.pinned_parameters`) beyond those of the
    first member's fit (a joint exponent run to its bound is a law the runs do not support, whatever its
    backtests scored: its compute-optimal split then comes from the bound); None when it can be."""
    def undetermined(r) -> set:
        d = getattr(r, "diagnostics", None) or {}
        # (not `unidentified`: measured on the harness it moved the leave-one-dataset-out choices, interval
        # score 4.87 -> 5.18 %; a member's flat directions are judged by its backtests)
        return set(d.get("pinned") or ()) | set(d.get("exploding") or ())

    extra = sorted(undetermined(res) - (undetermined(first) if first is not None else set()))
    return f"parameters not determined by the data ({', '.join(extra)}): not eligible" if extra else None


def _refit(state: dict, member: tuple[str, str]):
    """The chosen member refitted by `fit` on the whole table, warm-started from its member fit, its interval
    calibration reusing the member's backtest cut fits where the cuts are the calibration's own."""
    import inspect

    from ._api import fit, fit_reusing
    from ._calibrate import _order, law_cuts

    law_name, obj = member
    defaults = {k: p.default for k, p in inspect.signature(fit).parameters.items()
                if p.default is not inspect.Parameter.empty}
    args = {**defaults, **state["kw"], **state["fit_kwargs"], "loss": obj}
    index = {t.tobytes(): k for k, t in enumerate(state["cuts"])}
    law = state["laws"][law_name]
    mine = law_cuts(_order(state["fd"], law), law)
    fits = ([state["cut_fits"][member].get(index[t.tobytes()]) for t in mine]
            if all(t.tobytes() in index for t in mine) else None)
    try:
        warm = np.asarray(state["whole"][member].theta, float)[None, :]
        return fit_reusing(state["data"], law_name, **{**args, "starts": warm}, cut_fits=fits,
                           stacklevel=state["stacklevel"])
    except ScalingLabError:
        return fit(state["data"], law_name, **args)
