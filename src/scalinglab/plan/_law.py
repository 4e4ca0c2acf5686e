"""Resolve what a plan is computed from: a preset, a fitted law or an explicit (law, params) pair.

Every planning function takes ``law=`` as one of

* a preset name (``"chinchilla-epoch"``, the default; ``"chinchilla-hoffmann"``, ...),
* a ``FitResult`` (``scalinglab.fit``) or the path of a saved fit (``fit.json``),
* a ``(Law, params)`` pair, where ``params`` maps parameter names to natural-space values,
* a :class:`LawSpec` (what this module returns).

and resolves it once, here, into a :class:`LawSpec`: the law, its central parameters and a matrix of
parameter draws that carries the uncertainty into every planned quantity:

* fits with bootstrap draws use them (``interval_method = "bootstrap"``);
* presets with published standard errors (``chinchilla-epoch``) get a seeded *parametric* draw, the one a
  prediction from the preset takes (`scalinglab.fit._result.parameter_draws`): for the Chinchilla form with the
  preset's fitted ranges known, E, alpha, beta from their standard errors with A and B pivoted at the centre
  of the fitted data; otherwise each parameter independently (log-normal for those the law fits in log
  space). Published standard errors come without correlations, so independent draws are conservative (wide);
* anything else plans without an interval (``interval_method = "none"``) and says so in its warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._errors import LawError, PlanError

__all__ = ["LawSpec", "resolve_law", "DEFAULT_LAW", "DEFAULT_DRAWS"]

#: The planning default: Besiroglu et al. 2024's refit reproduces Chinchilla's own ~20 tokens/param
#: (70B params on 1.4T tokens at 5.76e23 FLOPs); Hoffmann's printed constants give ~93 tokens/param there.
DEFAULT_LAW = "chinchilla-epoch"
DEFAULT_DRAWS = 400

@dataclass(frozen=True, eq=False)
class LawSpec:
    """A law with central parameters and draws for intervals.

    ``theta``: natural-space parameters ``(P,)`` in ``law.param_names`` order; ``draws``: ``(B, P)`` or
    ``None``. ``name`` is what the user asked for (a preset name, a fit file); ``source`` the citation or
    file; ``conventions`` what the constants are tied to (FLOP convention, parameter counting, dataset).
    ``predictor``: the fit a spec was resolved from (``None`` for presets and pairs); its ``predict`` gives
    the calibrated prediction interval of an actual run, which a plan's loss interval uses (the draws only
    carry the parameter uncertainty of the law's mean: several times narrower far from the data).
    ``alternates``: parameter vectors ``(K, P)`` that the fit's runs cannot rule out, with their
    ``alternate_deviance`` ``(K,)`` (the profile refits a fit of a law beyond N, D, C stores, such as the
    data-constrained law's decay constants: `scalinglab.fit._profile`); every planned quantity's interval
    spans their answers too (`interval`), as a prediction's band does.
    """

    law: object
    theta: np.ndarray
    draws: np.ndarray | None = None
    name: str = ""
    source: str = ""
    interval_method: str = "none"
    conventions: Mapping[str, str] = field(default_factory=dict)
    data_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    predictor: object | None = None
    alternates: np.ndarray | None = None
    alternate_deviance: np.ndarray | None = None
    #: what a plan from this law must say about the runs behind it (`fit_notes`): every plan repeats them
    notes: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        """Central parameters as ``{name: value}`` (natural space, ``law.param_names`` order)."""
        return {n: float(v) for n, v in zip(self.law.param_names, self.theta, strict=True)}

    @property
    def variables(self) -> tuple[str, ...]:
        """The law's variable names, e.g. ``("N", "D")`` (parameters, tokens)."""
        return tuple(self.law.variables)

    @property
    def is_chinchilla(self) -> bool:
        """True for the ``E + A/N^alpha + B/D^beta`` form, which has closed-form answers."""
        from ..fit._result import is_chinchilla_form

        return is_chinchilla_form(self.law)

    @property
    def flop_convention(self) -> str:
        """FLOP convention the constants are tied to (``conventions["flops"]``; default ``"6ND"``)."""
        conv = self.conventions.get("flops", "") if self.conventions else ""
        return str(conv) or "6ND"

    @property
    def n_alternates(self) -> int:
        """How many rows of `thetas` after the central one are `alternates` (0 without them)."""
        return 0 if self.alternates is None else int(len(self.alternates))

    def thetas(self) -> np.ndarray:
        """Central parameters, then the `alternates`, then the draws: ``(1 + K + B, P)``; row 0 is the
        central fit. Callers that keep only the first rows keep every alternate (``K`` is tens, not hundreds)."""
        rows = [self.theta[None, :]]
        if self.n_alternates:
            rows.append(np.asarray(self.alternates, float))
        if self.draws is not None and len(self.draws):
            rows.append(np.asarray(self.draws, float))
        return rows[0] if len(rows) == 1 else np.vstack(rows)

    def interval(self, values, level: float) -> tuple[float, float]:
        """Central ``level`` interval of a planned quantity from its ``values`` per row of `thetas` (or the
        first rows of it): the central ``level`` of the draws' values, widened to the values of every
        alternate the runs cannot rule out at ``level``."""
        from ._result import interval as central

        v = np.asarray(values, float)
        k = self.n_alternates
        lo, hi = central(v[1 + k:], level)
        if k:
            from ..fit._profile import plausible_at

            alt = v[1:1 + k][plausible_at(self.alternate_deviance, level)[:len(v) - 1]]
            alt = alt[np.isfinite(alt)]
            if alt.size:
                lo = float(alt.min()) if not np.isfinite(lo) else min(lo, float(alt.min()))
                hi = float(alt.max()) if not np.isfinite(hi) else max(hi, float(alt.max()))
        return lo, hi

    def describe(self) -> dict:
        """JSON-able summary for a plan's ``assumptions``."""
        return {"law": self.name or getattr(self.law, "name", "law"),
                "form": getattr(self.law, "name", ""),
                "formula": getattr(self.law, "formula", ""),
                "params": self.params,
                "source": self.source,
                "conventions": dict(self.conventions or {}),
                "interval_method": self.interval_method,
                "n_draws": 0 if self.draws is None else int(len(self.draws))}

    def require(self, *variables: str, what: str = "this query") -> None:
        """Check that the law has all of ``variables`` (e.g. ``"N", "D"``) before a query named ``what``.

        Raises
        ------
        PlanError
            If a variable is missing; the message names the law's variables and suggests a suitable law.
        """
        missing = [v for v in variables if v not in self.variables]
        if missing:
            have = ", ".join(self.variables) or "none"
            raise PlanError(f"law {self.name or self.law.name!r} has variables ({have}); {what} needs a law "
                            f"of {' and '.join(variables)} (e.g. chinchilla-epoch or a fit of the chinchilla law)")


def resolve_law(law: object = None, *, n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> LawSpec:
    """Turn a preset name, fit, fit path or ``(Law, params)`` pair into a :class:`LawSpec` (see module doc).

    Raises
    ------
    PlanError
        If ``law`` is of an unsupported type, names an unknown preset or a law form without constants, or is
        a fit file that does not exist.
    """
    if law is None:
        law = DEFAULT_LAW
    if isinstance(law, LawSpec):
        return law
    if isinstance(law, tuple) and len(law) == 2:
        return _from_pair(*law)
    if hasattr(law, "law") and hasattr(law, "params") and hasattr(law, "theta"):
        return _from_fit(law, name=getattr(law, "name", "") or "fit")
    if isinstance(law, Path) or (isinstance(law, str) and _looks_like_path(law)):
        return _from_fit_file(Path(law))
    if isinstance(law, str):
        return _from_preset(law, n_draws=n_draws, seed=seed)
    raise PlanError(f"cannot plan from a {type(law).__name__}: give a preset name, a FitResult, a fit file "
                    "or a (Law, params) pair")


def _looks_like_path(text: str) -> bool:
    return text.endswith((".json", ".JSON")) or "/" in text or "\\" in text


def _from_pair(law, params) -> LawSpec:
    from ..laws import as_theta, get_law

    law = get_law(law) if isinstance(law, str) else law
    theta = np.asarray(as_theta(law, params), dtype=float)
    return LawSpec(law=law, theta=theta, name=getattr(law, "name", "law"), source="user-supplied parameters")


def _from_preset(name: str, *, n_draws: int, seed: int) -> LawSpec:
    from ..laws import as_theta, get_preset, list_presets

    try:
        law, preset = get_preset(name)
    except LawError:
        raise
    except Exception as exc:  # CatalogError (a KeyError): say what exists
        if str(name).strip().lower() in {d.get("name") for d in _safe_laws()}:
            raise PlanError(f"{name!r} is a law form without constants; plan from a preset "
                            f"({', '.join(p['name'] for p in list_presets())}) or a fit (--fit fit.json)") from None
        raise PlanError(str(exc)) from None
    theta = np.asarray(as_theta(law, preset.values), dtype=float)
    stderr = dict(getattr(preset, "stderr", {}) or {})
    draws, method = None, "none"
    ranges = {k: tuple(map(float, v)) for k, v in dict(getattr(preset, "data_ranges", {}) or {}).items()}
    if stderr and n_draws > 0:
        from ..fit._result import is_chinchilla_form, parameter_draws

        draws = parameter_draws(law, theta, stderr=stderr, n=n_draws, seed=seed, ranges=ranges)
        if is_chinchilla_form(law) and "N" in ranges and "D" in ranges:
            method = (f"parametric: {n_draws} draws (seed {seed}) of E, alpha, beta from the published standard "
                      "errors, with A and B pivoted so every draw keeps the fitted N- and D-terms at the centre "
                      "of the fitted data (scalinglab.fit._result.pivoted_draws)")
        else:
            method = (f"parametric: {n_draws} independent draws from the published standard errors "
                      f"(seed {seed}; log-normal for log-space params; correlations unknown, so conservative)")
    return LawSpec(law=law, theta=theta, draws=draws, name=preset.name, source=preset.source,
                   interval_method=method, conventions=dict(preset.conventions or {}), data_ranges=ranges)


def _safe_laws() -> list[dict]:
    try:
        from ..laws import list_laws

        return list_laws()
    except Exception:  # pragma: no cover - the catalog is part of the package
        return []


def _from_fit(fit, *, name: str) -> LawSpec:
    preset = getattr(fit, "preset", None)
    if preset and getattr(fit, "bootstrap", None) is None:
        return _from_preset(str(preset), n_draws=DEFAULT_DRAWS, seed=0)  # FitResult.load("chinchilla-epoch")
    law = fit.law
    # the constants of the model-size and token terms, which set every allocation
    split = [n for n in ((getattr(fit, "diagnostics", None) or {}).get("unidentified") or ())
             if n in ("A", "alpha", "B", "beta") and n in law.param_names]
    if split and not (getattr(fit, "calibration", None) or {}).get("alternates"):
        # e.g. A N^-alpha vanished from every run: the optimum would come from a bound (a fit that stored
        # profile refits spans what the runs cannot rule out instead, below)
        raise PlanError(f"{name}: the fit leaves {', '.join(split)} undetermined (changing them changes no fitted "
                        "value: a term of the law has vanished from every run), so any split of compute between "
                        "parameters and tokens from it is arbitrary; refit on runs that span more model sizes and "
                        "token counts")
    theta = np.asarray(fit.theta, dtype=float)
    boot = getattr(fit, "bootstrap", None)
    draws, method = None, "none"
    if boot is not None and len(boot):
        draws = np.asarray(boot, dtype=float)
        method = f"bootstrap: {len(draws)} refits on resampled runs"
    elif callable(getattr(fit, "parameter_draws", None)):
        pd_ = fit.parameter_draws()
        if pd_ is not None and len(pd_):
            draws = np.asarray(pd_, dtype=float)
            method = f"{len(draws)} draws from the fit's Gauss-Newton covariance (no bootstrap)"
    conv = dict(getattr(fit, "conventions", {}) or {})
    flops_conv = getattr(fit, "flops_convention", None)
    if flops_conv:
        conv["flops"] = str(flops_conv)
    ranges = dict(getattr(fit, "data_ranges", {}) or {})
    alternates = deviance = None
    if (getattr(fit, "calibration", None) or {}).get("alternates"):
        from ..fit._profile import stored_alternates

        stored = stored_alternates(fit.calibration["alternates"])
        if stored is not None and stored[0].shape[1] == len(theta):
            alternates, deviance = stored[0], stored[1]
            method = (("" if method == "none" else f"{method}; and ") + f"{len(alternates)} profile refits the "
                      "fit's runs cannot rule out (each interval spans their answers)")
    return LawSpec(law=law, theta=theta, draws=draws, name=name, source=getattr(fit, "source", "") or name,
                   interval_method=method, conventions=conv, data_ranges=ranges,
                   predictor=fit if callable(getattr(fit, "predict", None)) else None, alternates=alternates,
                   alternate_deviance=deviance, notes=fit_notes(fit))


def fit_notes(fit) -> tuple[str, ...]:
    """What the fit's runs imply for any plan from it: every run at one tokens per parameter (the split of
    compute comes from the law's form, not the runs), and FLOPs counted otherwise than the plan's C = 6ND."""
    from ..data.schema import flops_factor
    from ..data.table import allocation, describe_allocation

    notes = []
    X = ((getattr(fit, "data", None) or {}).get("X")) or {}
    law = getattr(fit, "law", None)
    if law is not None and {"N", "D"} <= set(law.variables) and "N" in X and "D" in X:
        import pandas as pd

        info = allocation(pd.DataFrame({"params": X["N"], "tokens": X["D"]}))
        if info["single"]:
            notes.append(f"the fit's runs: {describe_allocation(info)}; this plan's split of compute between "
                         "parameters and tokens comes from the law's form, not from them, and its intervals do not "
                         "cover that (runs at other tokens per parameter, as an IsoFLOP sweep has, decide it)")
    k = flops_factor((getattr(fit, "conventions", None) or {}).get("flops"))
    if k is not None and abs(k / 6.0 - 1.0) > 0.05:
        notes.append(f"the fit's run table counts FLOPs as C ≈ {k:.3g}ND; this plan's compute is C = 6ND: a budget "
                     f"counted as the table counts it is {6.0 / k:.3g}x that in 6ND terms (give --compute "
                     "accordingly)")
    return tuple(notes)


def _from_fit_file(path: Path) -> LawSpec:
    if not path.exists():
        raise PlanError(f"fit file not found: {path}")
    from ..fit import FitResult

    return _from_fit(FitResult.load(path), name=path.name)
