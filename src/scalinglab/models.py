"""Notable published language models: parameters, training tokens and training compute.

The table is data (``_data/notable_models.csv``) with a ``source`` for every row. ``flops`` is the
published training compute where the paper states one (``flops_convention == "published"``); otherwise it
is derived here as 6 · N_active · D (``"6ND"``; N_active = active parameters for MoE models) and left
empty when the token count was not disclosed (Mistral 7B, Mixtral). Nothing is invented.

Units: ``params`` and ``active_params`` in parameters, ``tokens`` in training tokens, ``flops`` in training
FLOPs; ``tokens_per_param`` = tokens / params (total parameters).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from ._errors import CatalogError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["notable_models", "get_model", "list_models", "MODEL_COLUMNS"]

MODEL_COLUMNS: tuple[str, ...] = ("name", "family", "params", "active_params", "tokens", "flops",
                                  "flops_convention", "tokens_per_param", "year", "source", "notes")


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    with resources.files("scalinglab").joinpath("_data/notable_models.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"name": str, "family": str, "flops_convention": str, "source": str,
                                    "notes": str})
    for col in ("params", "active_params", "tokens", "flops"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
    df["active_params"] = df["active_params"].fillna(df["params"])
    derive = df["flops"].isna() & df["tokens"].notna()
    df.loc[derive, "flops"] = 6.0 * df.loc[derive, "active_params"] * df.loc[derive, "tokens"]
    df.loc[derive, "flops_convention"] = "6ND"
    df["flops_convention"] = df["flops_convention"].where(df["flops"].notna(), None)
    df["tokens_per_param"] = df["tokens"] / df["params"]
    df["notes"] = df["notes"].fillna("")
    df["year"] = df["year"].astype(np.int64)
    return df[list(MODEL_COLUMNS)]


def notable_models(family: str | None = None) -> pd.DataFrame:
    """The notable-models table as a new DataFrame (optionally one ``family``, case-insensitive).

    Columns: name, family, params, active_params, tokens, flops, flops_convention, tokens_per_param, year,
    source, notes. Rows without disclosed tokens have NaN tokens/flops/tokens_per_param.

    >>> df = notable_models()
    >>> float(df.loc[df.name == "Chinchilla 70B", "tokens_per_param"].iloc[0])
    20.0

    Raises
    ------
    CatalogError
        If ``family`` matches no family of the table.
    """
    df = _table().copy()
    if family is not None:
        df = df[df["family"].str.lower() == family.strip().lower()].reset_index(drop=True)
        if df.empty:
            families = sorted(set(_table()["family"]))
            raise CatalogError(f"unknown model family {family!r}; known: {', '.join(families)}")
    return df


def list_models() -> list[str]:
    """Names of the bundled models, in table order."""
    return list(_table()["name"])


def get_model(name: str) -> dict:
    """One model's row as a dict; the name is matched ignoring case, spaces and dashes.

    Unknown numbers are NaN; ``flops_convention`` is ``None`` when there are no FLOPs.

    Raises
    ------
    CatalogError
        If ``name`` matches no model of the table.
    """
    def key(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    df = _table()
    hits = df[df["name"].map(key) == key(name)]
    if hits.empty:
        raise CatalogError(f"unknown model {name!r}; known: {', '.join(df['name'])}")
    row = hits.iloc[0].to_dict()
    if not isinstance(row["flops_convention"], str):
        row["flops_convention"] = None
    return row
