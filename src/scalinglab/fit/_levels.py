"""Compute levels: where a backtest may cut a ladder.

An IsoFLOP ladder is a few compute levels with several runs each, but the runs of one level rarely share
exactly the same FLOPs: parameter counts are snapped to real architectures and token counts to whole
batches, so 6·N·D differs by a few percent inside a level (and a table exported from a store has no
``budget`` column to group by). A cut placed between two runs of one level would put half the level in the
fit and half in the held-out set, which makes the held-out runs look closer than they are and the
internal backtests that calibrate intervals meaningless (2-3x wider intervals were measured in simulation).

``level_threshold`` moves a cut down to the start of the level it falls in: from the threshold it walks
down the sorted values while consecutive runs are within ``LEVEL_GAP_DECADES`` of each other, but never
further than ``LEVEL_SPAN_DECADES`` below the threshold, and only when the group found is set apart from
the runs below it by a gap ``LEVEL_SEPARATION`` times its widest inner gap and at least
``LEVEL_MIN_GAP_DECADES``: a densely, continuously spread
ladder has no levels, and its cuts stay exactly where they were asked.
"""

from __future__ import annotations

import numpy as np

#: runs closer than this in log10 compute (~4.7 %) are taken as one level
LEVEL_GAP_DECADES = 0.02
#: a cut never moves more than this many decades (~12 %) below where it was asked
LEVEL_SPAN_DECADES = 0.05
#: the gap below a level is at least this many times its widest inner gap (else: no level, no snapping)
LEVEL_SEPARATION = 3.0
#: ...and at least this many decades (~26 %; IsoFLOP levels are usually 2x-10x apart)
LEVEL_MIN_GAP_DECADES = 0.1

__all__ = ["LEVEL_GAP_DECADES", "LEVEL_MIN_GAP_DECADES", "LEVEL_SEPARATION", "LEVEL_SPAN_DECADES", "level_threshold",
           "new_mask"]


def level_threshold(values: np.ndarray, threshold: float) -> float:
    """The cut ``threshold`` (same unit as ``values``, e.g. FLOPs) moved down to the start of its level.

    ``values`` are positive (FLOPs, tokens…); a run is held out when ``value >= returned threshold``. Runs
    whose compute differs by less than ``LEVEL_GAP_DECADES`` from a held-out neighbour are held out with
    it, up to ``LEVEL_SPAN_DECADES`` below ``threshold``, when they form a level (a gap of at least
    ``LEVEL_SEPARATION`` times their widest inner gap, and at least ``LEVEL_MIN_GAP_DECADES``, below
    them). Non-positive or non-finite inputs return
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
    cur, widest, gap_below = t, 0.0, np.inf
    for x in below:
        if cur - x > LEVEL_GAP_DECADES or x < floor:
            gap_below = cur - x
            break
        widest = max(widest, cur - x)
        cur = x
    # a level is a tight group set apart from the runs below it; in a continuously spread ladder the
    # next gap is no wider than the ones inside the chain, and the cut stays where it was asked
    if cur == t or gap_below < max(LEVEL_SEPARATION * widest, LEVEL_MIN_GAP_DECADES):
        return float(threshold)
    return float(10.0 ** cur) * (1 - 1e-12)


def new_mask(mask: np.ndarray, seen: set) -> bool:
    """Whether the held-out ``mask`` (booleans over runs) differs from every one in ``seen``; records it.

    Two cut thresholds snapped to one level (they differ only in their last digits) hold out the same runs:
    such a cut is one piece of evidence, not two, so backtests and the calibration count it once.
    """
    key = np.asarray(mask, bool).tobytes()
    if key in seen:
        return False
    seen.add(key)
    return True
