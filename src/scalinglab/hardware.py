"""Accelerator catalog and training-cost estimates.

The catalog is data, not code: ``_data/hardware.csv`` holds, per accelerator, DENSE (no 2:4 sparsity) peak
throughput per precision in TFLOP/s, memory (GB), memory bandwidth (GB/s), an indicative on-demand/market
price range in USD per GPU-hour (per chip-hour for TPUs), the source of every number and a ``verified`` note.
It is read with the :mod:`csv` module (no pandas), so ``scalinglab cost`` starts fast.

Cost model (:func:`estimate_cost`)::

    wall_seconds = FLOPs / (n_gpus * peak_FLOP/s * MFU)
    gpu_hours    = FLOPs / (peak_FLOP/s * MFU) / 3600
    usd          = gpu_hours * price_per_gpu_hour

MFU (model FLOPs utilisation, PaLM App. B) is a range, default 0.3-0.5; every result is a (low, high) pair:
the low end uses the high MFU and the low price.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from ._errors import CatalogError, InputError

__all__ = ["GPU", "CostEstimate", "get_gpu", "list_gpus", "gpu_catalog", "estimate_cost", "PRECISIONS",
           "parse_range"]

PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8")
_NUMERIC = ("fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops", "fp8_tflops", "memory_gb",
            "memory_bw_gbs", "price_low_usd_per_hour", "price_high_usd_per_hour")


@dataclass(frozen=True)
class GPU:
    """One accelerator of the catalog. Peaks are dense TFLOP/s; ``None`` where the precision is unsupported."""

    name: str
    vendor: str
    peak_tflops: dict[str, float | None]
    memory_gb: float | None
    memory_bw_gbs: float | None
    price_per_hour: tuple[float, float] | None
    year: int | None = None
    aliases: tuple[str, ...] = ()
    source: str = ""
    price_source: str = ""
    verified: str = ""
    notes: str = ""

    def peak_flops(self, precision: str = "bf16") -> float:
        """Dense peak in FLOP/s for ``precision``; raises :class:`InputError` if the chip lacks it.

        Raises
        ------
        InputError
            If ``precision`` is not one of the known precisions or the chip has no dense peak for it.
        """
        p = precision.strip().lower()
        if p not in PRECISIONS:
            raise InputError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
        value = self.peak_tflops.get(p)
        if value is None:
            have = [k for k, v in self.peak_tflops.items() if v is not None]
            raise InputError(f"{self.name} has no published dense {p} peak; available: {', '.join(have)}")
        return value * 1e12

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; keys ``name``, ``vendor``, ``aliases``, ``<precision>_tflops`` (dense TFLOP/s),
        ``memory_gb``, ``memory_bw_gbs`` (GB/s), ``price_per_hour`` ([lo, hi] USD per GPU-hour or None), ``year``,
        ``source``, ``price_source``, ``verified``, ``notes``.
        """
        return {"name": self.name, "vendor": self.vendor, "aliases": list(self.aliases),
                **{f"{k}_tflops": v for k, v in self.peak_tflops.items()},
                "memory_gb": self.memory_gb, "memory_bw_gbs": self.memory_bw_gbs,
                "price_per_hour": list(self.price_per_hour) if self.price_per_hour else None,
                "year": self.year, "source": self.source, "price_source": self.price_source,
                "verified": self.verified, "notes": self.notes}


def _num(row: dict[str, str], col: str, line: int) -> float | None:
    raw = (row.get(col) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise CatalogError(f"hardware.csv:{line}:{col}: not a number: {raw!r}") from None


@lru_cache(maxsize=1)
def _load() -> tuple[GPU, ...]:
    text = resources.files("scalinglab").joinpath("_data/hardware.csv").read_text(encoding="utf-8")
    gpus = []
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        nums = {c: _num(row, c, line) for c in _NUMERIC}
        lo, hi = nums["price_low_usd_per_hour"], nums["price_high_usd_per_hour"]
        gpus.append(GPU(
            name=row["name"].strip(), vendor=row["vendor"].strip(),
            peak_tflops={p: nums[f"{p}_tflops"] for p in PRECISIONS},
            memory_gb=nums["memory_gb"], memory_bw_gbs=nums["memory_bw_gbs"],
            price_per_hour=(lo, hi) if lo is not None and hi is not None else None,
            year=int(row["year"]) if row.get("year", "").strip() else None,
            aliases=tuple(a.strip() for a in row.get("aliases", "").split(";") if a.strip()),
            source=row.get("source", "").strip(), price_source=row.get("price_source", "").strip(),
            verified=row.get("verified", "").strip(), notes=row.get("notes", "").strip()))
    return tuple(gpus)


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def _index() -> dict[str, GPU]:
    idx: dict[str, GPU] = {}
    for g in _load():
        for label in (g.name, *g.aliases):
            idx.setdefault(_key(label), g)
    return idx


def gpu_catalog() -> tuple[GPU, ...]:
    """Every accelerator in the catalog, in file order."""
    return _load()


def list_gpus() -> list[str]:
    """Canonical names of the catalog's accelerators."""
    return [g.name for g in _load()]


def get_gpu(name: str | GPU) -> GPU:
    """Look up an accelerator by name or alias, ignoring case, spaces and dashes.

    ``"A100"`` is the A100 SXM 80GB and ``"H100"`` the H100 SXM. Unknown names raise
    :class:`CatalogError` listing the known ones (never a guess).

    Raises
    ------
    CatalogError
        If ``name`` is not a known accelerator or alias.
    """
    if isinstance(name, GPU):
        return name
    gpu = _index().get(_key(str(name)))
    if gpu is None:
        raise CatalogError(f"unknown GPU {name!r}; known: {', '.join(list_gpus())}")
    return gpu


def parse_range(value: Any, *, what: str, money: bool = False) -> tuple[float, float]:
    """``0.4`` → (0.4, 0.4); ``(0.3, 0.5)`` or ``"0.3-0.5"`` / ``"0.3..0.5"`` / ``"30%-50%"`` → (0.3, 0.5).

    Unit strings are allowed at each end (``"1.5-4"``); ``money``: dollars (``"$2-$3.5"``, `parse_money`); the
    pair is returned sorted.

    Raises
    ------
    InputError
        If ``value`` is not a number, a range string or a (low, high) pair.
    """
    from .units import parse_money, parse_quantity

    def one(v: Any) -> float:
        if isinstance(v, str) and v.strip().endswith("%"):
            return parse_quantity(v.strip()[:-1], what=what) / 100.0
        return parse_money(v, what=what) if money else parse_quantity(v, what=what)

    if isinstance(value, str):
        s = value.strip()
        parts = None
        for sep in ("..", "–", ":", ","):
            if sep in s:
                parts = s.split(sep)
                break
        if parts is None:
            # a '-' that is not a sign and not part of an exponent (1e-3)
            cut = [i for i, ch in enumerate(s) if ch == "-" and i > 0 and s[i - 1] not in "eE"]
            parts = [s[:cut[0]], s[cut[0] + 1:]] if len(cut) == 1 else [s]
        if len(parts) == 1:
            v = one(parts[0])
            return (v, v)
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise InputError(f"{what}: expected a value or a range such as 0.3-0.5, got {value!r}")
        lo, hi = one(parts[0]), one(parts[1])
    elif isinstance(value, Sequence):
        if len(value) != 2:
            raise InputError(f"{what}: expected (low, high), got {value!r}")
        lo, hi = one(value[0]), one(value[1])
    else:
        v = one(value)
        return (v, v)
    return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True)
class CostEstimate:
    """Wall time, GPU-hours and dollars for a training run, each as a (low, high) pair.

    Low ends assume the high MFU (and the low price); high ends the low MFU (and the high price).
    """

    flops: float
    gpu: str
    n_gpus: int
    precision: str
    peak_flops_per_gpu: float
    mfu: tuple[float, float]
    price_per_hour: tuple[float, float] | None
    gpu_hours: tuple[float, float]
    wall_seconds: tuple[float, float]
    usd: tuple[float, float] | None
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def days(self) -> tuple[float, float]:
        """Wall-clock days on ``n_gpus`` accelerators."""
        return (self.wall_seconds[0] / 86400.0, self.wall_seconds[1] / 86400.0)

    @property
    def hours(self) -> tuple[float, float]:
        """Wall-clock hours (low, high) on ``n_gpus`` accelerators."""
        return (self.wall_seconds[0] / 3600.0, self.wall_seconds[1] / 3600.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; keys ``flops`` (FLOPs), ``gpu``, ``n_gpus``, ``precision``, ``peak_flops_per_gpu``
        (FLOP/s), ``mfu``, ``price_per_hour`` (USD), ``gpu_hours``, ``usd``, ``days``, ``wall_seconds`` (each a
        [low, high] list; ``usd`` None without a price) and ``assumptions``.
        """
        return {"flops": self.flops, "gpu": self.gpu, "n_gpus": self.n_gpus, "precision": self.precision,
                "peak_flops_per_gpu": self.peak_flops_per_gpu, "mfu": list(self.mfu),
                "price_per_hour": list(self.price_per_hour) if self.price_per_hour else None,
                "gpu_hours": list(self.gpu_hours), "usd": list(self.usd) if self.usd else None,
                "days": list(self.days), "wall_seconds": list(self.wall_seconds),
                "assumptions": list(self.assumptions)}


def estimate_cost(flops: float | str, gpu: str | GPU, n_gpus: int = 1, mfu: Any = (0.3, 0.5),
                  precision: str = "bf16", price_per_hour: Any = None) -> CostEstimate:
    """Estimate wall time, GPU-hours and USD to spend ``flops`` training FLOPs on ``n_gpus`` × ``gpu``.

    ``mfu`` is a fraction in (0, 1] or a (low, high) range; ``price_per_hour`` (USD per GPU-hour, a value or
    a range) overrides the catalog's indicative range. If the chip has no bf16 peak (V100) the fp16
    tensor-core peak is used and said so in ``assumptions``.

    >>> est = estimate_cost(3.14e23, "A100", n_gpus=1024)
    >>> [round(x) for x in est.gpu_hours]
    [559117, 931861]

    Raises
    ------
    InputError
        If ``flops`` is not positive, ``n_gpus`` not a positive integer, ``mfu`` outside (0, 1], the price
        negative, or ``precision`` unsupported by the chip.
    CatalogError
        If ``gpu`` is an unknown accelerator name.
    """
    from .units import parse_quantity

    C = parse_quantity(flops, what="flops")
    if not math.isfinite(C) or C <= 0:
        raise InputError(f"flops: expected a positive number, got {flops!r}")
    if isinstance(n_gpus, bool) or not isinstance(n_gpus, int | float) or n_gpus < 1 \
            or not float(n_gpus).is_integer():
        raise InputError(f"n_gpus: expected a positive integer, got {n_gpus!r}")
    n_gpus = int(n_gpus)
    lo_mfu, hi_mfu = parse_range(mfu, what="mfu")
    if not (0 < lo_mfu <= hi_mfu <= 1):
        raise InputError(f"mfu: expected a fraction in (0, 1] (e.g. 0.3-0.5), got {mfu!r}")
    g = get_gpu(gpu)
    assumptions = []
    prec = precision.strip().lower()
    if prec == "bf16" and g.peak_tflops.get("bf16") is None and g.peak_tflops.get("fp16") is not None:
        prec = "fp16"
        assumptions.append(f"{g.name} has no bf16 support: used its fp16 tensor-core peak")
    peak = g.peak_flops(prec)
    if price_per_hour is None:
        price = g.price_per_hour
        if price is not None:
            assumptions.append(f"price ${price[0]:g}-{price[1]:g}/GPU-hour: indicative catalog range "
                               f"({g.price_source or 'no source'}); give your quote (--price, price_per_hour=)")
    else:
        price = parse_range(price_per_hour, what="price_per_hour (USD)", money=True)
        if price[0] < 0:
            raise InputError(f"price_per_hour: must be >= 0, got {price_per_hour!r}")
        assumptions.append(f"price ${price[0]:g}-{price[1]:g}/GPU-hour: given")
    gpu_seconds = (C / (peak * hi_mfu), C / (peak * lo_mfu))
    gpu_hours = (gpu_seconds[0] / 3600.0, gpu_seconds[1] / 3600.0)
    wall = (gpu_seconds[0] / n_gpus, gpu_seconds[1] / n_gpus)
    usd = (gpu_hours[0] * price[0], gpu_hours[1] * price[1]) if price is not None else None
    assumptions[:0] = [
        f"dense {prec} peak {peak / 1e12:g} TFLOP/s per {g.name} (no sparsity)",
        f"MFU {lo_mfu:g}-{hi_mfu:g} (model FLOPs / peak); perfect scaling to {n_gpus} GPU(s), "
        "no restarts or idle time",
    ]
    return CostEstimate(flops=C, gpu=g.name, n_gpus=n_gpus, precision=prec, peak_flops_per_gpu=peak,
                        mfu=(lo_mfu, hi_mfu), price_per_hour=price, gpu_hours=gpu_hours,
                        wall_seconds=wall, usd=usd, assumptions=tuple(assumptions))
