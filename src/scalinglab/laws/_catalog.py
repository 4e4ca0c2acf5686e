"""The law catalog: catalog name → law factory, read by `scalinglab.laws.get_law`.

The laws live in one module per family (`_power`, `_chinchilla`, `_kaplan`, `_bnsl`, `_data_constrained`,
`_lr_annealing`, `_downstream`; their shared base in `_catalog_base`); this module re-exports them so that
``from scalinglab.laws._catalog import ...`` keeps working.
"""

from __future__ import annotations

import functools

from ._bnsl import BNSLLaw  # noqa: F401
from ._catalog_base import (  # noqa: F401
    CatalogLaw,
    _check_identifier,
    _cols,
    _exp_grid,
    _log,
    _lse,
    _sigmoid,
    _softplus,
    accuracy_range,
)
from ._chinchilla import ChinchillaJointLaw, ChinchillaLaw, chinchilla_optimum  # noqa: F401
from ._data_constrained import DataConstrainedLaw  # noqa: F401
from ._downstream import CoverageLaw, RewardBoNLaw, RewardRLLaw, SigmoidLaw, TransferLaw  # noqa: F401
from ._kaplan import (  # noqa: F401
    PF_DAY,
    KaplanC,
    KaplanD,
    KaplanN,
    KaplanND,
    KaplanNS,
    c_min,
    critical_batch_size,
    s_min,
)
from ._lr_annealing import LRAnnealingLaw  # noqa: F401
from ._power import PowerLaw, PurePowerLaw  # noqa: F401

__all__ = [
    "CatalogLaw", "PowerLaw", "PurePowerLaw", "ChinchillaLaw", "ChinchillaJointLaw", "KaplanN", "KaplanD", "KaplanC",
    "KaplanND",
    "KaplanNS", "BNSLLaw", "DataConstrainedLaw", "LRAnnealingLaw", "SigmoidLaw", "CoverageLaw", "RewardBoNLaw",
    "RewardRLLaw", "TransferLaw", "chinchilla_optimum", "critical_batch_size", "s_min", "c_min", "PF_DAY",
    "CATALOG",
]


#: catalog name -> law factory (class or callable); ``scalinglab.laws.get_law`` reads this.
CATALOG: dict[str, object] = {
    "power": PowerLaw,
    "power-pure": PurePowerLaw,
    "chinchilla": ChinchillaLaw,
    "chinchilla-joint": ChinchillaJointLaw,
    "kaplan-n": KaplanN,
    "kaplan-d": KaplanD,
    "kaplan-c": KaplanC,
    "kaplan-nd": KaplanND,
    "kaplan-ns": KaplanNS,
    "bnsl": BNSLLaw,
    "bnsl-2": functools.partial(BNSLLaw, 2),
    "bnsl-3": functools.partial(BNSLLaw, 3),
    "data-constrained": DataConstrainedLaw,
    "lr-annealing": LRAnnealingLaw,
    "sigmoid": SigmoidLaw,
    "coverage": CoverageLaw,
    "rm-bon": RewardBoNLaw,
    "rm-rl": RewardRLLaw,
    "transfer": TransferLaw,
}
