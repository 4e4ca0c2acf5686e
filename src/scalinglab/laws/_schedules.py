"""Learning-rate schedules and the areas S1, S2 of Tissue et al. 2024's annealing law.

Fit ``lr-annealing`` on one curve (its schedule's S1, S2 at each logged step), then predict another
schedule's curve from that schedule's areas::

    lrs = cosine(10_000, peak=3e-4, final=3e-5, warmup=500)
    S1, S2 = annealing_areas(lrs)            # arrays of length 10_000 (value after step s at index s-1)
    law(params, S1=S1[steps - 1], S2=S2[steps - 1])
"""

from __future__ import annotations

import numpy as np

from .._errors import InputError

__all__ = ["annealing_areas", "constant", "cosine", "wsd", "linear_warmup"]


def annealing_areas(lrs, decay: float = 0.999) -> tuple[np.ndarray, np.ndarray]:
    """Forward area ``S1`` and annealing area ``S2`` after each step of a learning-rate schedule.

    ``lrs[i]`` is the learning rate used at step ``i + 1``. ``S1_s = sum_{i<=s} eta_i``;
    ``m_i = decay * m_{i-1} + (eta_{i-1} - eta_i)`` (with ``m_1 = 0``) and ``S2_s = sum_{i<=s} m_i``
    (Tissue et al. 2024; ``decay`` = lambda, default 0.999). Warmup steps rising in LR make
    ``m`` negative; the paper ignores warmup, so pass the schedule after warmup if you follow it.
    Returns two float arrays of the same length as ``lrs``.

    Raises
    ------
    InputError
        If ``lrs`` is empty or holds negative or non-finite learning rates, or ``decay`` is not in [0, 1).
    """
    eta = np.asarray(lrs, dtype=float).ravel()
    if eta.size == 0:
        raise InputError("annealing_areas: empty learning-rate schedule")
    if not np.all(np.isfinite(eta)) or np.any(eta < 0):
        raise InputError("annealing_areas: learning rates must be finite and non-negative")
    if not 0.0 <= decay < 1.0:
        raise InputError(f"annealing_areas: decay must be in [0, 1), got {decay}")
    from scipy.signal import lfilter

    drops = np.concatenate([[0.0], eta[:-1] - eta[1:]])
    m = lfilter([1.0], [1.0, -decay], drops)
    return np.cumsum(eta), np.cumsum(m)


def _check(steps: int, peak: float, warmup: int) -> None:
    if int(steps) < 1:
        raise InputError(f"schedule: steps must be >= 1, got {steps}")
    if not peak > 0:
        raise InputError(f"schedule: peak learning rate must be > 0, got {peak}")
    if not 0 <= int(warmup) < int(steps):
        raise InputError(f"schedule: warmup must be in [0, steps), got {warmup}")


def linear_warmup(lrs: np.ndarray, warmup: int) -> np.ndarray:
    """Replace the first ``warmup`` steps by a linear ramp up to ``lrs[warmup]``."""
    lrs = np.array(lrs, dtype=float)
    if warmup > 0:
        lrs[:warmup] = lrs[warmup] * np.arange(1, warmup + 1) / (warmup + 1)
    return lrs


def constant(steps: int, peak: float, *, warmup: int = 0) -> np.ndarray:
    """Constant learning rate ``peak`` (after an optional linear warmup), one value per step."""
    _check(steps, peak, warmup)
    return linear_warmup(np.full(int(steps), float(peak)), int(warmup))


def cosine(steps: int, peak: float, *, final: float = 0.0, warmup: int = 0) -> np.ndarray:
    """Cosine decay from ``peak`` to ``final`` over the steps after ``warmup`` (one value per step)."""
    _check(steps, peak, warmup)
    n = int(steps) - int(warmup)
    t = np.arange(n) / max(n - 1, 1)
    body = final + 0.5 * (peak - final) * (1.0 + np.cos(np.pi * t))
    return linear_warmup(np.concatenate([np.full(int(warmup), peak), body]), int(warmup))


def wsd(steps: int, peak: float, *, decay_frac: float = 0.2, final: float = 0.0, warmup: int = 0,
        shape: str = "linear") -> np.ndarray:
    """Warmup-stable-decay: constant ``peak``, then a cooldown over the last ``decay_frac`` of the steps.

    ``shape`` is the cooldown form: ``"linear"`` or ``"cosine"``. The cooldown goes from ``peak`` to
    ``final`` over ``round(decay_frac * steps)`` steps (at least 1); ``warmup`` steps ramp up linearly.
    Returns the learning rate of each step, shape ``(steps,)``.

    Raises
    ------
    InputError
        If ``steps`` < 1, ``peak`` <= 0, ``warmup`` is not in [0, steps), ``decay_frac`` is not in (0, 1],
        or ``shape`` is neither ``"linear"`` nor ``"cosine"``.
    """
    _check(steps, peak, warmup)
    if not 0.0 < decay_frac <= 1.0:
        raise InputError(f"wsd: decay_frac must be in (0, 1], got {decay_frac}")
    steps = int(steps)
    n_decay = max(1, round(decay_frac * steps))
    n_stable = steps - n_decay
    t = np.arange(1, n_decay + 1) / n_decay
    if shape == "linear":
        tail = peak + (final - peak) * t
    elif shape == "cosine":
        tail = final + 0.5 * (peak - final) * (1.0 + np.cos(np.pi * t))
    else:
        raise InputError(f"wsd: shape must be 'linear' or 'cosine', got {shape!r}")
    lrs = np.concatenate([np.full(n_stable, float(peak)), tail])
    return linear_warmup(lrs, int(warmup))
