"""Scaling laws: the catalog, published presets, a safe parser for user formulas, and helpers.

>>> from scalinglab.laws import get_law, get_preset, chinchilla_optimum
>>> law, preset = get_preset("chinchilla-epoch")
>>> float(law(preset.values, N=7e10, D=1.4e12)[0])  # nats/token on MassiveText    # doctest: +ELLIPSIS
1.9...
>>> N_opt, D_opt = chinchilla_optimum(preset.values, 5.76e23)   # params, tokens under C = 6ND

Laws follow the shapes contract of :mod:`scalinglab.laws._base` (``theta (..., P)``, ``X`` a mapping of
1-D arrays, ``evaluate -> (..., n)``, ``jacobian -> (..., n, P)``).
"""

from . import _beyond  # noqa: F401  (registers sigmoid-loss, sigmoid-bounded, moe-clark, precision)
from ._base import VARIABLE_COLUMNS, Law, Param, Preset, as_theta
from ._bnsl import BNSLLaw
from ._catalog import CATALOG
from ._catalog_base import CatalogLaw
from ._chinchilla import ChinchillaJointLaw, ChinchillaLaw, chinchilla_optimum
from ._data_constrained import DataConstrainedLaw
from ._downstream import CoverageLaw, RewardBoNLaw, RewardRLLaw, SigmoidLaw, TransferLaw
from ._kaplan import PF_DAY, KaplanC, KaplanD, KaplanN, KaplanND, KaplanNS, c_min, critical_batch_size, s_min
from ._lr_annealing import LRAnnealingLaw
from ._parse import ExpressionLaw, parse_law
from ._power import PowerLaw, PurePowerLaw
from ._registry import get_law, get_preset, law_from_spec, list_laws, list_presets, register_law
from ._schedules import annealing_areas, constant, cosine, wsd

__all__ = [
    "Law", "Param", "Preset", "VARIABLE_COLUMNS", "as_theta",
    "get_law", "get_preset", "list_laws", "list_presets", "register_law", "law_from_spec",
    "CATALOG", "CatalogLaw", "PowerLaw", "PurePowerLaw", "ChinchillaLaw", "ChinchillaJointLaw", "KaplanN", "KaplanD", "KaplanC",
    "KaplanND", "KaplanNS", "BNSLLaw", "DataConstrainedLaw", "LRAnnealingLaw", "SigmoidLaw", "CoverageLaw",
    "RewardBoNLaw", "RewardRLLaw", "TransferLaw",
    "chinchilla_optimum", "critical_batch_size", "s_min", "c_min", "PF_DAY",
    "annealing_areas", "constant", "cosine", "wsd", "parse_law", "ExpressionLaw",
]
