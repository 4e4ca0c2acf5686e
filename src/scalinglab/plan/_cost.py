"""Hardware cost of a plan, through the foundation's catalog (``scalinglab.hardware``).

Defaults (stated in every plan's ``assumptions``): ``H100`` (SXM, 989 dense BF16 TFLOP/s), 1,024 GPUs,
MFU 0.3-0.5 (the common planning range; Llama 3 405B reported 38-43% on H100s).
"""

from __future__ import annotations

import re

from .. import hardware
from .._errors import InputError, PlanError

__all__ = ["DEFAULT_GPU", "DEFAULT_N_GPUS", "DEFAULT_MFU", "parse_mfu", "plan_cost", "usd_to_flops"]

DEFAULT_GPU = "H100"
DEFAULT_N_GPUS = 1024
DEFAULT_MFU = (0.3, 0.5)

_RANGE = re.compile(r"^\s*([0-9.]+)\s*(%?)\s*(?:-|–|\.\.|,|:)\s*([0-9.]+)\s*(%?)\s*$")


def parse_mfu(value: object) -> tuple[float, float]:
    """``"0.3-0.5"``, ``"30-50%"``, ``"0.4"``, ``0.4`` or ``(0.3, 0.5)`` → ``(lo, hi)`` as fractions in (0, 1].

    Raises
    ------
    InputError
        If ``value`` cannot be parsed or is outside (0, 1].
    """
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise InputError(f"mfu: expected one value or a (lo, hi) pair, got {value!r}")
        lo, hi = float(value[0]), float(value[1])
    elif isinstance(value, int | float):
        lo = hi = float(value)
    else:
        text = str(value).strip()
        m = _RANGE.match(text)
        try:
            if m:
                lo, hi = float(m[1]), float(m[3])
                if m[2] or m[4]:
                    lo, hi = lo / 100, hi / 100
            elif text.endswith("%"):
                lo = hi = float(text[:-1]) / 100
            else:
                lo = hi = float(text)
        except ValueError:
            raise InputError(f"mfu: cannot parse {value!r}; write 0.4 or a range such as 0.3-0.5") from None
    if lo > hi:
        lo, hi = hi, lo
    if not (0 < lo <= hi <= 1):
        raise InputError(f"mfu must be a fraction in (0, 1] (model FLOPs utilisation), got {value!r}")
    return (lo, hi)


def plan_cost(flops: float, gpu: str = DEFAULT_GPU, n_gpus: int = DEFAULT_N_GPUS,
              mfu: tuple[float, float] = DEFAULT_MFU, price_per_hour=None) -> dict:
    """Cost estimate dict: ``gpu_hours``, ``days``, ``usd`` as ``[lo, hi]``, plus what it assumed;
    ``price_per_hour`` (USD per GPU-hour, a value or a range) replaces the catalog's indicative range.

    Raises :class:`~scalinglab.CatalogError` for an unknown GPU.
    """
    if not n_gpus or n_gpus < 1:
        raise InputError(f"number of GPUs must be a positive integer, got {n_gpus!r}")
    est = hardware.estimate_cost(float(flops), gpu, n_gpus=int(n_gpus), mfu=tuple(mfu),
                                 price_per_hour=price_per_hour)
    d = dict(est.to_dict())
    d.setdefault("flops", float(flops))
    d.setdefault("gpu", gpu)
    d.setdefault("n_gpus", int(n_gpus))
    d.setdefault("mfu", list(mfu))
    return d


def usd_to_flops(usd: float, gpu: str = DEFAULT_GPU, n_gpus: int = DEFAULT_N_GPUS,
                 mfu: tuple[float, float] = DEFAULT_MFU, price_per_hour=None) -> tuple[float, float]:
    """Training FLOPs a dollar budget buys, as ``(lo, hi)`` over the MFU range and the price range (the
    catalog's, or ``price_per_hour`` USD per GPU-hour: a quote, a value or a range).

    Cost is linear in FLOPs, so a reference estimate at 1e24 FLOPs gives FLOPs per dollar at both ends:
    the low end pairs the high price with the low MFU, the high end the low price with the high MFU.

    Raises
    ------
    PlanError
        If ``usd`` is not a positive number.
    """
    if not usd > 0:
        raise PlanError(f"budget must be a positive number of US dollars, got {usd!r}")
    ref = 1e24
    est = hardware.estimate_cost(ref, gpu, n_gpus=int(n_gpus), mfu=tuple(mfu), price_per_hour=price_per_hour)
    usd_lo, usd_hi = (float(x) for x in est.usd)
    return (usd * ref / usd_hi, usd * ref / usd_lo)
