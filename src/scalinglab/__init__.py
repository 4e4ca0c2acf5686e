"""scalinglab: a scaling-law laboratory.

Runs → law → fit → prediction / plan → report. Importing this package is cheap: sub-modules load on first
use, and nothing here imports torch (only ``scalinglab.runner`` does).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._errors import (
    CatalogError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    ExtrapolationWarning,
    FitError,
    InputError,
    LawError,
    LawParseError,
    PlanError,
    ScalingLabError,
    ScalingLabWarning,
    StoreError,
    UnitError,
)
from .units import format_quantity, parse_quantity

__version__ = "0.1.0"

# name -> module that defines it; resolved lazily so `import scalinglab` stays fast (< 0.1 s).
_LAZY: dict[str, str] = {
    "RunTable": "scalinglab.data",
    "load_runs": "scalinglab.data",
    "get_law": "scalinglab.laws",
    "get_preset": "scalinglab.laws",
    "list_presets": "scalinglab.laws",
    "chinchilla_optimum": "scalinglab.laws",
    "pass_at_k": "scalinglab.testtime",
    "Architecture": "scalinglab.flops",
    "training_flops": "scalinglab.flops",
    "get_gpu": "scalinglab.hardware",
    "notable_models": "scalinglab.models",
    "list_laws": "scalinglab.laws",
    "parse_law": "scalinglab.laws",
    "Law": "scalinglab.laws",
    "fit": "scalinglab.fit",
    "FitResult": "scalinglab.fit",
    "estimate_cost": "scalinglab.hardware",
    "flops_per_token": "scalinglab.flops",
    "count_params": "scalinglab.flops",
}

__all__ = [
    "__version__", "ScalingLabError", "InputError", "UnitError", "DataError", "LawError", "LawParseError",
    "FitError", "PlanError", "CatalogError", "StoreError", "ScalingLabWarning", "ConvergenceWarning",
    "ExtrapolationWarning", "DataWarning", "parse_quantity", "format_quantity", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")
