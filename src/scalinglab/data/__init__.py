"""Run tables: one row per training run or checkpoint, in canonical columns with explicit units.

Canonical columns (after loading, every one of them is a plain number or string, never a unit string):

================= ==========================================================================
``params``        N, model parameters (counted under whatever convention the source used)
``tokens``        D, training tokens seen
``flops``         C, training FLOPs; :attr:`RunTable.flops_convention` says how they were counted
``loss``          loss in nats/token unless the source says otherwise
``step``          optimiser step of a checkpoint (a whole number >= 0)
``unique_tokens`` U, unique tokens in the training data (data-constrained laws); may be empty
``dataset``       name of the training/evaluation data set
``run_id``        identifier of the run a checkpoint belongs to
================= ==========================================================================

Every other column (metrics such as downstream accuracy, tags such as ``seed``) is kept unchanged.

:func:`load_runs` is the one validation gate where runs enter scalinglab. It reads CSV/TSV, Parquet, Feather,
JSON Lines, JSON and Excel (``.xlsx``) files, pandas and polars frames, pyarrow tables and dicts of arrays; maps column aliases
(``N``, ``n_params``, ``Model Size`` → ``params``; ``D`` → ``tokens``; ``C``, ``compute``, ``budget`` →
``flops``; ``val_loss`` → ``loss`` ...); parses unit strings (``70B``, ``1.4T``, ``2^20``); derives a
missing ``flops`` (or ``tokens``) column from C = 6·N·D; and checks every cell. All problems are collected
into one :class:`~scalinglab.DataError` whose ``problems`` name file, row and column::

    >>> runs = load_runs({"N": ["70B", "1.3 M"], "D": ["1.4T", "2^20"], "loss": [1.94, 5.1]})
    >>> runs.flops_convention, sorted(runs.derived), runs.df["flops"].iloc[0]
    ('6ND', ['flops'], 5.88e+23)

Loading is columnar: files are read with pyarrow, numeric columns are checked with vectorised numpy, and
unit strings are parsed once per *distinct* string, so a 10M-row Parquet log loads in a few seconds.
"""

from __future__ import annotations

from .duplicates import configuration_columns, identifying_columns
from .load import load_runs
from .readers import readable_file
from .schema import CANONICAL_COLUMNS, COLUMN_ALIASES, FLOPS_CONVENTIONS
from .table import RunTable, dataset_counts, repetition
from .writers import _atomic_write, write_frame  # noqa: F401  (_atomic_write: the one atomic writer)

__all__ = ["RunTable", "dataset_counts", "repetition", "load_runs", "readable_file", "write_frame", "identifying_columns", "configuration_columns", "CANONICAL_COLUMNS",
           "COLUMN_ALIASES", "FLOPS_CONVENTIONS"]
