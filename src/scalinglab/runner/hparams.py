"""Hyper-parameters as functions of scale, and learning-rate schedules (torch-free).

Published rules (see ``shared/reference/published-laws.md`` §6 and §7a):

* DeepSeek LLM (Bi et al. 2024, Eq. 1), fitted on 1e17–2e19 FLOPs:
  ``eta_opt = 0.3118 · C^-0.125`` (peak learning rate) and ``B_opt = 0.2920 · C^0.3271`` (batch in TOKENS),
  with C the training compute in FLOPs.
* Porian et al. 2024: warmup must scale with model size (and cosine decay match the budget) for small
  models to be compute-optimal; we use ``warmup_tokens = N`` (one token per parameter).

Adaptation for the tiny CPU models of this package (1e10–1e14 FLOPs, far below DeepSeek's range): the
formulas are evaluated as published and then clamped — learning rate to ``[1e-4, 1e-2]`` (AdamW at
larger rates diverges for our ≥2-layer models), batch to ``[4, 256]`` sequences of ``seq_len`` tokens
(rounded to a whole number of sequences), warmup to ``[1 step, 10 % of the steps]``. At 1e12 FLOPs the rules
give lr ≈ 9.9e-3 and B ≈ 2,460 tokens (≈ 38 sequences of 64) — plausible values for such models. Every
value can be overridden in a spec.

Schedules: ``cosine`` (warmup, cosine to ``min_lr_ratio``), ``constant`` (warmup, then flat) and ``wsd``
(warmup-stable-decay: flat, then a linear cooldown over the last ``decay_fraction`` of each token budget).
WSD lets one run yield several budgets: the stable phase is shared and each budget forks its own cooldown
branch (see :mod:`scalinglab.runner.train`).
"""

from __future__ import annotations

import math

from .._errors import InputError

__all__ = ["deepseek_lr", "deepseek_batch_tokens", "suggest", "lr_at", "SCHEDULES"]

SCHEDULES = ("cosine", "constant", "wsd")

LR_CLAMP = (1e-4, 1e-2)
BATCH_SEQ_CLAMP = (4, 256)


def deepseek_lr(flops: float) -> float:
    """DeepSeek 2024 optimal peak learning rate, ``0.3118 · C^-0.125`` (C in FLOPs), unclamped."""
    return 0.3118 * flops ** -0.125


def deepseek_batch_tokens(flops: float) -> float:
    """DeepSeek 2024 optimal batch size in tokens, ``0.2920 · C^0.3271`` (C in FLOPs), unclamped."""
    return 0.2920 * flops ** 0.3271


def suggest(*, params: int, tokens: int, flops: float, seq_len: int) -> dict:
    """Scale-aware defaults for a run of ``params`` parameters on ``tokens`` tokens costing ``flops`` FLOPs.

    Returns ``{"lr", "batch_size" (sequences), "warmup_steps", "steps", "rule"}``.

    Raises
    ------
    InputError
        If ``params``, ``tokens``, ``flops`` or ``seq_len`` is not positive.
    """
    if min(params, tokens, flops, seq_len) <= 0:
        raise InputError("params, tokens, flops and seq_len must be positive")
    lr = min(max(deepseek_lr(flops), LR_CLAMP[0]), LR_CLAMP[1])
    batch = round(deepseek_batch_tokens(flops) / seq_len)
    batch = int(min(max(batch, BATCH_SEQ_CLAMP[0]), BATCH_SEQ_CLAMP[1]))
    steps = max(1, math.ceil(tokens / (batch * seq_len)))
    warmup = int(min(max(1, round(params / (batch * seq_len))), max(1, steps // 10)))
    return {"lr": lr, "batch_size": batch, "warmup_steps": warmup, "steps": steps,
            "rule": "DeepSeek-2024 lr/batch (clamped), Porian-2024 warmup = N tokens (≤10% of steps)"}


def lr_at(step: int, *, lr: float, schedule: str, warmup_steps: int, total_steps: int,
          min_lr_ratio: float = 0.1, decay_steps: int = 0) -> float:
    """Learning rate at optimizer ``step`` (0-based) of a run of ``total_steps`` steps.

    ``decay_steps`` is the WSD cooldown length (linear to ``min_lr_ratio · lr`` over the last
    ``decay_steps`` steps); ignored by the other schedules.

    Raises
    ------
    InputError
        If ``schedule`` is not a known schedule.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    floor = lr * min_lr_ratio
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return floor + 0.5 * (lr - floor) * (1.0 + math.cos(math.pi * progress))
    if schedule == "wsd":
        start = total_steps - decay_steps
        if step < start or decay_steps <= 0:
            return lr
        progress = min(1.0, (step - start + 1) / decay_steps)
        return lr + (floor - lr) * progress
    raise InputError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
