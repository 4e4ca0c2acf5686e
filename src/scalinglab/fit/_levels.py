"""Compute levels: where a backtest may cut a ladder.

An IsoFLOP ladder is a few compute levels with several runs each, but the runs of one level rarely share
exactly the same FLOPs: parameter counts are snapped to real architectures and token counts to whole
batches, so 6·N·D differs by a few percent inside a level (and a table exported from a store has no
``budget`` column to group by). A cut placed between two runs of one level would put half the level in the
fit and half in the held-out set, which makes the held-out runs look closer than they are and the
internal backtests that calibrate intervals meaningless (2-3x wider intervals were measured in simulation).

``level_threshold`` moves a cut down to the start of the level it falls in: from the threshold it walks
down the sorted values while consecutive runs are within ``LEVEL_GAP_DECADES`` of each other, but never
further than ``LEVEL_SPAN_DECADES`` below the threshold (so a densely, continuously spread ladder is cut
at most ~12 % lower in compute than asked, never merged into one level).
"""

from __future__ import annotations

import numpy as np

#: runs closer than this in log10 compute (~4.7 %) are taken as one level
LEVEL_GAP_DECADES = 0.02
#: a cut never moves more than this many decades (~12 %) below where it was asked
LEVEL_SPAN_DECADES = 0.05

__all__ = ["LEVEL_GAP_DECADES", "LEVEL_SPAN_DECADES", "level_threshold"]


def level_threshold(values: np.ndarray, threshold: float) -> float:
    """The cut ``threshold`` (same unit as ``values``, e.g. FLOPs) moved down to the start of its level.

    ``values`` are positive (FLOPs, tokens…); a run is held out when ``value >= returned threshold``. Runs
    whose compute differs by less than ``LEVEL_GAP_DECADES`` from a held-out neighbour are held out with
    it, up to ``LEVEL_SPAN_DECADES`` below ``threshold``. Non-positive or non-finite inputs return
    ``threshold`` unchanged.
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0 or not (np.isfinite(threshold) and threshold > 0):
        return float(threshold)
    lv = np.sort(np.log10(v))
    t = float(np.log10(threshold))
    floor = t - LEVEL_SPAN_DECADES
    below = lv[lv < t][::-1]  # the runs just under the cut, nearest first
    cur = t
    for x in below:
        if cur - x > LEVEL_GAP_DECADES or x < floor:
            break
        cur = x
    return float(threshold) if cur == t else float(10.0 ** cur) * (1 - 1e-12)
