"""Two shapes published tables give runs that are one row per run underneath: a cell holding a mean and its
spread (``3.21 ± 0.02``, as papers print replicated runs), and one column per seed (``loss_seed0``,
``loss (seed 1)``). Both are undone on the raw table, before any column is mapped or checked
(`scalinglab.data.load_runs`), so every later rule sees one number per cell and one run per row.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import UnitError
from ..units import NUMBER, parse_quantity
from .cells import _as_arrow, _to_pandas
from .readers import _Raw
from .schema import PLUS_MINUS, SEED_WORDS, SPREAD_NOTE, canonical_name

logger = logging.getLogger(__name__)

#: a cell ``mean ± spread`` (also ``+/-``, ``+-``)
_SPREAD_CELL = re.compile(rf"^\s*({NUMBER})\s*{PLUS_MINUS}\s*({NUMBER})\s*$")
#: a column of one seed's values: ``loss_seed0``, ``val loss (seed 2)``, ``loss-run3``, ``seed1_loss``
_SEED_AFTER = re.compile(rf"^(?P<base>.*?[^\s_\-(\[])(?:[\s_\-]+[\(\[]?|[\(\[])\s*(?:{SEED_WORDS}|run)"
                         r"[\s_\-#=]*(?P<k>\d+)\s*[\)\]]?$", re.IGNORECASE)
_SEED_BEFORE = re.compile(rf"^(?:{SEED_WORDS}|run)[\s_\-#=]*(?P<k>\d+)[\s_\-:]+(?P<base>.+)$",
                          re.IGNORECASE)


def split_spreads(raw: _Raw) -> _Raw:
    """Each text column whose filled cells are numbers, some of them ``mean ± spread``: the column keeps the
    means (its name, ``Loss ± std`` too, reads as the name less that note: `schema.canonical_name`) and a
    ``<name>_sd`` column (``loss_sd`` for the loss) holds the spreads, in the column's unit, empty where a cell
    had none."""
    names, columns = list(raw.names), list(raw.columns)
    for j in range(len(names)):
        arr = _as_arrow(columns[j])
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            continue
        text = arr.combine_chunks()
        has = pc.match_substring_regex(text, PLUS_MINUS)
        if not pc.any(has).as_py():
            continue
        cells = text.to_pylist()
        means: list[str | None] = []
        spreads: list[float] = []
        for cell in cells:
            m = _SPREAD_CELL.match(cell) if cell is not None else None
            try:
                spread = parse_quantity(m[2]) if m else np.nan
            except UnitError:  # 3.2 ± 1e999
                m = None
            if m is None and cell is not None and re.search(PLUS_MINUS, cell):
                break  # a cell with ± that is not two numbers: left as it is, to be reported as it reads
            means.append(m[1] if m else cell)
            spreads.append(spread)
        else:
            name = SPREAD_NOTE.sub("", str(names[j])) or str(names[j])
            sd = f"{'loss' if canonical_name(name)[0] == 'loss' else name}_sd"
            if sd in names:
                continue
            columns[j] = pd.Series(means, dtype=object)
            names.append(sd)
            columns.append(pd.Series(spreads, dtype=float))
            logger.info("%s: column %r holds 'mean ± spread': the means read as its values, the spreads as %r",
                        raw.file, names[j], sd)
    if len(names) == len(raw.names):
        return raw
    raw.names, raw.columns = names, columns
    return raw


def _seed_columns(names: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Columns that hold one seed's values, by the column they are seeds of: base -> [(seed, index)]."""
    found: dict[str, list[tuple[int, int]]] = {}
    for j, n in enumerate(names):
        m = _SEED_AFTER.match(str(n)) or _SEED_BEFORE.match(str(n))
        if m:
            found.setdefault(m["base"].strip(), []).append((int(m["k"]), j))
    return {b: cols for b, cols in found.items() if len(cols) >= 2 and b not in names
            and len({k for k, _ in cols}) == len(cols)}


def melt_seed_columns(raw: _Raw, keep=()) -> _Raw:
    """One column per seed (``loss_seed0``, ``loss_seed1`` ...) becomes one row per seed: the column of that
    name less its seed (``loss``) and a ``seed`` column (``replicate`` when ``seed`` is taken). A seed whose
    cells are all empty in a row was not run there and gives no row, unless no seed of the row was (then one
    row with the cells empty, to be reported or dropped as any run without a loss); row numbers stay the
    source's. A table where the user maps a seed column himself (``keep``: the names of his mapping) is left as
    it is."""
    groups = _seed_columns(list(raw.names))
    if not groups or any(raw.names[j] in keep for cols in groups.values() for _, j in cols):
        return raw
    seeds = sorted({k for cols in groups.values() for k, _ in cols})
    melted = {j for cols in groups.values() for _, j in cols}
    label = "seed" if "seed" not in raw.names else "replicate"
    n = raw.n_rows
    rows = raw.rows if raw.rows is not None else np.arange(1, n + 1, dtype=np.int64)
    # for each seed, the source row positions where at least one of its cells is filled
    index = {b: dict(cols) for b, cols in groups.items()}
    filled = np.zeros((len(seeds), n), bool)
    for s, k in enumerate(seeds):
        for b in groups:
            if k in index[b]:
                filled[s] |= ~np.asarray(_as_arrow(raw.columns[index[b][k]]).is_null()
                                         .to_numpy(zero_copy_only=False), bool)
    none = ~filled.any(axis=0)
    filled[0] |= none  # a row no seed ran keeps one row, its cells empty
    take_rows, seed_pos = np.nonzero(filled.T)  # each source row's seeds together, in row order
    take_seeds = np.asarray(seeds)[seed_pos]
    names, columns = [], []
    for j, (name, col) in enumerate(zip(raw.names, raw.columns, strict=True)):
        if j not in melted:
            names.append(name)
            columns.append(_to_pandas(col).iloc[take_rows].reset_index(drop=True))
    for b in groups:
        parts = [_to_pandas(raw.columns[index[b][k]]).astype(object) if k in index[b]
                 else pd.Series([None] * n, dtype=object) for k in seeds]
        stacked = np.stack([p.to_numpy(dtype=object) for p in parts])  # (seeds, rows)
        names.append(b)
        columns.append(pd.Series(stacked[seed_pos, take_rows], dtype=object))
    names.append(label)
    columns.append(pd.Series(take_seeds, dtype=np.int64))
    logger.info("%s: one column per seed (%s) read as one row per seed: %d rows from %d", raw.file,
                ", ".join(str(raw.names[j]) for j in sorted(melted)), len(take_rows), n)
    return _Raw(raw.file, names, columns, len(take_rows), rows=rows[take_rows], problems=raw.problems,
                meta=raw.meta, blank_rows=raw.blank_rows, kind=raw.kind)
