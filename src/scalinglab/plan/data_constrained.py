"""Data-constrained sizing (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv 2305.16264).

With U unique tokens, training on D > U tokens repeats data ``R_D = D/U - 1`` times beyond the first epoch,
and repeated tokens are worth less: the effective data is

    D' = U + U R_D* (1 - exp(-R_D / R_D*))        (R_D* ~ 15.4 for the muennighoff-2023 preset)

so D' can never exceed ``U (1 + R_D*)`` ~ 16.4 U. The paper finds up to ~4 epochs almost as good as fresh
data; beyond ~R_D* + 1 epochs extra repeats add almost nothing.

* :func:`data_constrained_optimum` — the compute-optimal (N, D) for a budget C with U unique tokens under
  the ``data-constrained`` law (preset ``muennighoff-2023``), found numerically along C = 6ND (the repo
  offers no closed form), with the epochs, effective data and the loss penalty against unlimited data.
* :func:`repetition_check` — what the chinchilla route adds with ``--unique-tokens``: epochs, effective
  data D' (and, for the Chinchilla form, effective parameters N'), the loss at them ("repeated-data
  effective loss") and warnings. :class:`RepeatedDataLaw` is the law such a plan optimises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .._errors import PlanError
from ..units import format_quantity
from ._law import DEFAULT_DRAWS, LawSpec, resolve_law
from ._optimum import FLOP_CONVENTION, _positive, optimum

__all__ = ["R_D_STAR", "effective_tokens", "repetition_check", "data_constrained_optimum",
           "DataConstrainedPlan", "DEFAULT_DATA_LAW", "RepeatedDataLaw", "AtUniqueTokens", "with_repetition"]

DEFAULT_DATA_LAW = "muennighoff-2023"
#: Muennighoff et al. 2023 (official repo huggingface/datablations README, "Parametric Fit").
R_D_STAR = 15.387756
#: "up to ~4 epochs of repetition is almost as good as fresh data" (Muennighoff et al. 2023).
GOOD_EPOCHS = 4.0


def effective_tokens(tokens, unique_tokens, r_d_star: float = R_D_STAR):
    """Effective training tokens D' for D tokens drawn from U unique ones (D' = D when D <= U)."""
    from ..laws._data_constrained import effective_data

    out = effective_data(np.asarray(tokens, dtype=float), np.asarray(unique_tokens, dtype=float), r_d_star)
    return float(out) if out.ndim == 0 else out


def _preset_value(name: str) -> float:
    """A constant of the ``muennighoff-2023`` preset (``R_D_star``, ``R_N_star``)."""
    from ..laws import get_preset

    _, preset = get_preset(DEFAULT_DATA_LAW)
    return float(preset.values[name])


def _r_d_star(spec: LawSpec | None) -> tuple[float, str]:
    if spec is not None and "R_D_star" in spec.law.param_names:
        return float(spec.theta[spec.law.param_names.index("R_D_star")]), spec.name
    return _preset_value("R_D_star"), DEFAULT_DATA_LAW


def _r_d_star_interval(spec: LawSpec | None) -> tuple[float, float, float] | None:
    """The fit's interval of R_D* and its level (``(lo, hi, level)``, ``hi`` possibly infinite: the runs do not
    bound it), for a spec made from a fit of a law with ``R_D_star``; None otherwise."""
    fit = getattr(spec, "predictor", None)
    iv = (getattr(fit, "intervals", None) or {}).get("R_D_star")
    if iv is None or len(iv) != 2 or not (iv[0] == iv[0] and iv[1] == iv[1]):  # NaN: unknown
        return None
    return float(iv[0]), float(iv[1]), float(getattr(fit, "level", 0.8))


def _warnings(D: float, U: float, r_star: float, r_interval: tuple[float, float, float] | None = None) -> list[str]:
    epochs = D / U
    out = []
    if epochs > 1:
        msg = (f"data: the plan needs {format_quantity(D)} tokens but only {format_quantity(U)} are unique: "
               f"{epochs:.3g} epochs")
        if epochs > r_star + 1:
            msg += (f"; beyond ~{r_star + 1:.0f} epochs (R_D* + 1) extra repeats add almost nothing — effective "
                    f"data is capped at {1 + r_star:.1f}× the unique tokens")
        elif epochs > GOOD_EPOCHS:
            msg += f"; beyond ~{GOOD_EPOCHS:.0f} epochs returns diminish (Muennighoff et al. 2023)"
        if epochs > GOOD_EPOCHS and r_interval is not None and (r_interval[1] > 2 * r_star
                                                                 or r_interval[0] < r_star / 2):
            lo, hi, level = r_interval
            msg += (f"; but the fit's runs leave R_D* anywhere in [{lo:.3g}, {'∞' if math.isinf(hi) else f'{hi:.3g}'}]"
                    f" ({level:.0%}), so how much these repeats are worth is uncertain (the N and D intervals span "
                    "it)")
        out.append(msg)
    return out


def repetition_check(spec: LawSpec, N: float, D: float, U: float) -> tuple[dict, list[str]]:
    """Epochs, effective data and the repeated-data loss for a plan of (N params, D tokens) with U unique.

    Raises
    ------
    PlanError
        If ``U`` is not positive.
    """
    if not U > 0:
        raise PlanError(f"unique tokens must be positive, got {U!r}")
    r_star, r_src = _r_d_star(spec)
    Dp = effective_tokens(D, U, r_star)
    section = {"unique_tokens": U, "epochs": D / U, "repeats": max(D / U - 1.0, 0.0), "effective_tokens": Dp,
               "R_D_star": r_star, "R_D_star_source": r_src, "effective_cap_tokens": U * (1 + r_star)}
    if "U" not in spec.variables and tuple(spec.variables) == ("N", "D"):
        rep = with_repetition(spec).law
        point = {"N": np.array([N]), "D": np.array([D]), "U": np.array([U])}
        with np.errstate(all="ignore"):
            L_rep = float(rep.evaluate(spec.theta, point)[0])
            L = float(spec.law.evaluate(spec.theta, {"N": point["N"], "D": point["D"]})[0])
        section["loss_with_repetition"] = L_rep
        section["loss_penalty"] = L_rep - L
        if rep.r_n_star is not None:
            Np = float(rep.effective(spec.theta, point)["N"][0])
            section.update(effective_params=Np, R_N_star=rep.r_n_star, R_N_star_source=DEFAULT_DATA_LAW)
            section["method"] = ("the law evaluated at Muennighoff et al.'s effective data D' (R_D* = "
                                 f"{r_star:.4g}) and effective parameters N' (parameters beyond the compute-optimal "
                                 f"size for the unique tokens decay, R_N* = {rep.r_n_star:.4g})")
        else:
            section["method"] = ("the law evaluated at the effective data D' (Muennighoff et al.'s D' with "
                                 f"R_D* = {r_star:.4g}) instead of D")
    warnings = _warnings(D, U, r_star, _r_d_star_interval(spec))
    if "loss_penalty" in section and section["loss_penalty"] > 1e-4:
        warnings.append(f"data: with repetition the predicted loss rises by {section['loss_penalty']:.4f} to "
                        f"{section['loss_with_repetition']:.4f} (effective data {format_quantity(Dp)} tokens"
                        + (f", effective size {format_quantity(section['effective_params'])} parameters"
                           if "effective_params" in section else "") + ")")
    return section, warnings


class RepeatedDataLaw:
    """A law of (N, D) evaluated at Muennighoff et al.'s effective parameters and data: ``L(N', D')``.

    Variables N (parameters), D (training tokens) and U (unique tokens). For the Chinchilla form
    ``E + A/N^alpha + B/D^beta`` this is the ``data-constrained`` law with the base law's constants and
    Muennighoff et al.'s ``R_D*`` and ``R_N*``: repeated tokens decay in value (``D'``) and so do parameters
    beyond the compute-optimal size for the unique data (``N'``, ``U_N = N_opt(U)``); with data short, extra
    compute goes to epochs rather than parameters, as in the paper. For any other (N, D) law only ``D'``
    applies (``r_n_star`` None: the compute-optimal size for U needs the Chinchilla form). Parameters, their
    names and units are the base law's. Planning with ``--unique-tokens`` under a law without U optimises
    this law, so the plan accounts for repetition.
    """

    def __init__(self, base: object, r_d_star: float, r_d_star_source: str = "", r_n_star: float | None = None):
        from ..laws import get_law

        self.base = base
        self.r_d_star = float(r_d_star)
        self.r_d_star_source = r_d_star_source
        self.r_n_star = None if r_n_star is None else float(r_n_star)
        self._dc = get_law("data-constrained") if self.r_n_star is not None else None
        self.variables = (*tuple(base.variables), "U")
        self.param_names = tuple(base.param_names)
        self.name = f"{getattr(base, 'name', 'law')}+repeated-data"
        decay = "" if self.r_n_star is None else f", N -> N'(N, U), R_N* = {self.r_n_star:.4g}"
        self.formula = f"{getattr(base, 'formula', '')} with D -> D'(D, U), R_D* = {self.r_d_star:.4g}{decay}"

    def _dc_theta(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        extra = np.broadcast_to(np.array([self.r_d_star, self.r_n_star]), (*theta.shape[:-1], 2))
        return np.concatenate([theta, extra], axis=-1)

    def effective(self, theta, X) -> dict:
        """The base law's variables at ``X``: ``N'`` (``N`` itself without ``r_n_star``) and ``D'`` for ``U``."""
        X = dict(X)
        U = np.broadcast_to(np.asarray(X.pop("U"), dtype=float), np.shape(X["D"]))
        if self._dc is None:
            return {**X, "D": effective_tokens(np.asarray(X["D"], dtype=float), U, self.r_d_star)}
        Np, Dp = self._dc.effective(self._dc_theta(theta), {**X, "U": U})
        return {**X, "N": Np, "D": Dp}

    def evaluate(self, theta, X):
        """The base law's prediction (its unit) at the effective parameters and data."""
        if self._dc is not None:
            return self._dc.evaluate(self._dc_theta(theta), X)
        return self.base.evaluate(theta, self.effective(theta, X))


class AtUniqueTokens:
    """A :class:`RepeatedDataLaw` with its unique tokens fixed at ``unique_tokens``: a law of N and D again (for
    the solvers that take one, such as the inference-aware plan), whose runs repeat data as the plan's do."""

    def __init__(self, law: RepeatedDataLaw, unique_tokens: float):
        self.repeated = law
        self.unique_tokens = float(unique_tokens)
        self.variables = ("N", "D")
        self.param_names = law.param_names
        self.name = law.name
        self.formula = f"{law.formula}, U = {format_quantity(self.unique_tokens)}"

    def evaluate(self, theta, X):
        """The repeated-data law at ``X`` (N, D) with the fixed unique tokens."""
        D = np.asarray(X["D"], dtype=float)
        return self.repeated.evaluate(theta, {**X, "U": np.full(D.shape, self.unique_tokens)})


def with_repetition(spec: LawSpec) -> LawSpec:
    """``spec`` with its (N, D) law replaced by :class:`RepeatedDataLaw` (same parameters, draws and fit, which
    predicts a run at its effective parameters and data); a Chinchilla-form law takes ``R_N*`` from
    ``muennighoff-2023``."""
    from ..fit._result import is_chinchilla_form

    r_star, r_src = _r_d_star(spec)
    r_n = _preset_value("R_N_star") if is_chinchilla_form(spec.law) else None
    return replace(spec, law=RepeatedDataLaw(spec.law, r_star, r_src, r_n))


@dataclass(frozen=True)
class DataConstrainedPlan:
    """Compute-optimal allocation with U unique tokens (N params, D tokens, loss in the law's unit)."""

    flops: float
    unique_tokens: float
    N_opt: float
    D_opt: float
    epochs: float
    effective_tokens: float
    loss: float
    unconstrained: dict
    warnings: tuple[str, ...] = ()
    assumptions: dict = field(default_factory=dict)

    @property
    def loss_penalty(self) -> float:
        """Loss increase from the limited unique data: ``loss - unconstrained["loss"]`` (law's unit)."""
        return self.loss - self.unconstrained["loss"]

    def to_dict(self) -> dict:
        """JSON-ready dict; keys ``flops`` (FLOPs), ``unique_tokens``, ``N_opt`` (parameters), ``D_opt`` (tokens),
        ``tokens_per_param``, ``epochs``, ``effective_tokens``, ``loss``, ``loss_penalty``, ``unconstrained``,
        ``warnings`` and ``assumptions``.
        """
        return {"flops": self.flops, "unique_tokens": self.unique_tokens, "N_opt": self.N_opt,
                "D_opt": self.D_opt, "tokens_per_param": self.D_opt / self.N_opt, "epochs": self.epochs,
                "effective_tokens": self.effective_tokens, "loss": self.loss,
                "loss_penalty": self.loss_penalty, "unconstrained": dict(self.unconstrained),
                "warnings": list(self.warnings), "assumptions": dict(self.assumptions)}


def data_constrained_optimum(flops: float, unique_tokens: float, law=DEFAULT_DATA_LAW, *,
                             n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> DataConstrainedPlan:
    """Best (N, D) for ``flops`` training FLOPs (C = 6ND) with ``unique_tokens`` unique tokens.

    Numeric: bounded minimisation in log N along C = 6ND of the data-constrained law with U fixed.
    Compared with the same law given unlimited unique data (U >= D), which gives the loss penalty.

    Raises
    ------
    PlanError
        If a number is not positive, ``law`` cannot be resolved or lacks N, D and U, or no optimum is found.
    """
    C = _positive(flops, "compute budget (FLOPs)")
    U = _positive(unique_tokens, "unique tokens")
    spec = resolve_law(law, n_draws=n_draws, seed=seed)
    spec.require("N", "D", "U", what="data-constrained sizing")
    central = LawSpec(law=spec.law, theta=spec.theta, name=spec.name)
    N, D, L = (float(a[0]) for a in optimum(central, C, fixed={"U": U}))
    if not math.isfinite(N):
        raise PlanError(f"no data-constrained optimum found at C = {C:.3g} FLOPs under {spec.name}")
    Nu, Du, Lu = (float(a[0]) for a in optimum(central, C, fixed={"U": 1e300}))
    r_star, _ = _r_d_star(spec)
    warnings = _warnings(D, U, r_star, _r_d_star_interval(spec))
    if L - Lu > 1e-4:
        warnings.append(f"data: {format_quantity(U)} unique tokens cost {L - Lu:.4f} in loss at this budget vs "
                        f"unlimited data (the unconstrained optimum is {format_quantity(Nu)} params on "
                        f"{format_quantity(Du)} tokens)")
    return DataConstrainedPlan(
        flops=C, unique_tokens=U, N_opt=N, D_opt=D, epochs=D / U,
        effective_tokens=effective_tokens(D, U, r_star), loss=L,
        unconstrained={"N_opt": Nu, "D_opt": Du, "loss": Lu}, warnings=tuple(warnings),
        assumptions={"law": spec.name, "law_source": spec.source, "flop_convention": FLOP_CONVENTION,
                     "R_D_star": r_star, "method": "grid minimisation in log N along C = 6ND, U fixed",
                     "caveat": "the authors warn absolute losses of this fit are 'unlikely to be useful': "
                               "compare plans, do not read the loss as a forecast"})
