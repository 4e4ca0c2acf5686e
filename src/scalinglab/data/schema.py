"""The run-table schema: canonical column names, their accepted aliases, FLOP conventions and limits."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["CANONICAL_COLUMNS", "COLUMN_ALIASES", "FLOPS_CONVENTIONS", "given_convention", "flops_factor",
           "MAX_PROBLEMS", "MAX_LISTED", "named_like", "choose_column_hint", "parse_column_map", "PERPLEXITY_NAMES",
           "is_perplexity", "scale_note", "scaled_alias", "count_scale", "path_alias", "canonical_name",
           "qualified_alias", "column_holding"]


#: Canonical column names, in the order a loaded table lists them.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "params", "tokens", "flops", "loss", "step", "unique_tokens", "dataset", "run_id",
)

_COUNTS = ("params", "tokens", "flops", "unique_tokens")  # > 0, unit strings allowed

_NUMERIC = (*_COUNTS, "loss", "step")

_MAY_BE_EMPTY = ("unique_tokens",)

#: Conventions under which a missing flops/tokens/params column can be derived: C = factor · N · D.
FLOPS_CONVENTIONS: dict[str, float] = {"6ND": 6.0}

#: a table's own FLOPs within this fraction of 6ND (median over its runs) are labelled 6ND
_SIX_ND_TOLERANCE = 0.02
_GIVEN = re.compile(r"as given \(C = ([0-9.eE+-]+)ND median\)")


def given_convention(params, tokens, flops) -> str:
    """The FLOP convention of a table that gives params, tokens and FLOPs itself (arrays): ``"6ND"`` when its
    FLOPs are within 2 % of 6·N·D (median over the runs), else ``"as given (C = 6.3ND median)"`` (counts with
    attention or embeddings ...): a report and a prediction carry the table's convention, not the default the
    loader would use to derive a missing column. `flops_factor` reads the factor back."""
    with np.errstate(all="ignore"):
        ratio = np.asarray(flops, float) / (np.asarray(params, float) * np.asarray(tokens, float))
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.size == 0:
        return "6ND"
    med = float(np.median(ratio))
    if abs(med / FLOPS_CONVENTIONS["6ND"] - 1.0) <= _SIX_ND_TOLERANCE:
        return "6ND"
    return f"as given (C = {med:.3g}ND median)"


def flops_factor(convention: str | None) -> float | None:
    """FLOPs per parameter per token of a run table's convention (6 for ``"6ND"``, the median factor of an
    ``"as given (C = ...ND median)"`` label); None for a convention that is not ``factor x N x D``."""
    if convention in FLOPS_CONVENTIONS:
        return FLOPS_CONVENTIONS[convention]
    m = _GIVEN.fullmatch(str(convention or ""))
    return float(m.group(1)) if m else None

MAX_PROBLEMS = 1000  # DataError.problems keeps at most this many (the message says how many in all)

MAX_LISTED = 20  # lines listed in the error message

_ALIASES: dict[str, tuple[str, ...]] = {
    "params": ("params", "param", "n", "n_params", "nparams", "num_params", "n_param", "num_parameters",
               "n_parameters", "parameters", "parameter_count", "param_count", "model_size", "model_params",
               "number_of_parameters"),
    "tokens": ("tokens", "d", "n_tokens", "ntokens", "num_tokens", "train_tokens", "training_tokens",
               "tokens_seen", "data", "n_train_tokens", "data_size", "training_data_size", "pretraining_tokens",
               "pretraining_data_size", "num_input_tokens_seen"),
    "flops": ("flops", "flop", "c", "compute", "training_flops", "training_flop", "train_flops",
              "total_flops", "budget", "compute_budget", "flops_budget"),
    "loss": ("loss", "val_loss", "eval_loss", "test_loss", "valid_loss", "validation_loss", "loss_nats",
             "final_loss"),
    "step": ("step", "steps", "iter", "iteration", "global_step", "train_step", "current_step", "current_steps"),
    "unique_tokens": ("unique_tokens", "u", "n_unique_tokens", "unique_data", "u_d"),
    "dataset": ("dataset", "data_set", "corpus"),
    # a tracker's run label (W&B's runs export: Name, ID; MLflow: run_uuid; a study's job_name): one per run in
    # every public table at hand. Not "model" or "experiment": those group many runs (OpenAthena's 947 runs
    # carry 4 model and 8 experiment labels)
    "run_id": ("run_id", "runid", "run", "run_name", "name", "id", "job_name", "run_uuid", "wandb_id"),
}

#: Accepted column names (lower-cased, punctuation and spaces collapsed to ``_``) → canonical name.
COLUMN_ALIASES: dict[str, str] = {alias: canon for canon, names in _ALIASES.items() for alias in names}

#: The unit of a ``loss`` column named in the loss list above: the source's own, nats/token unless it says so.
DEFAULT_LOSS_UNIT = "nats/token"
#: Loss columns in other units, by unit. A table with no column from the loss list and one column with one of
#: these names (``val_bpb`` from nanoGPT-style or OLMo logs, ``bpc`` from enwik8; or a name ending in ``_bpb``
#: or ``_bpc``) reads it as ``loss`` and records the unit; beside a column from the loss list, or beside
#: another such column (which one is the loss is the user's choice), it keeps its own name.
LOSS_UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "bits/byte": ("bpb", "val_bpb", "eval_bpb", "valid_bpb", "validation_bpb", "test_bpb", "loss_bpb",
                  "bits_per_byte", "val_bits_per_byte", "eval_bits_per_byte"),
    "bits/char": ("bpc", "val_bpc", "test_bpc", "bits_per_char", "bits_per_character"),
    "bits/token": ("bits_per_token", "loss_bits", "val_loss_bits", "loss_bits_per_token"),
}
_LOSS_UNIT_OF: dict[str, str] = {alias: unit for unit, names in LOSS_UNIT_ALIASES.items() for alias in names}
#: a tracker's per-dataset metric ending in the unit (``eval/paloma/c4_en/bpb``, ``val/enwik8_bpc``)
_LOSS_UNIT_SUFFIX = (("_bpb", "bits/byte"), ("_bits_per_byte", "bits/byte"), ("_bpc", "bits/char"),
                     ("_bits_per_char", "bits/char"),
                     # a header's unit note: Loss (bits/byte), loss (bits/token), val loss (nats)
                     ("_bits_byte", "bits/byte"), ("_bits_char", "bits/char"), ("_bits_token", "bits/token"),
                     ("_bits_per_token", "bits/token"), ("_nats_token", "nats/token"), ("_nats", "nats/token"))


def loss_unit_of(name: str) -> str | None:
    """The unit a loss column's name says (``"bits/byte"`` for ``val_bpb`` or ``eval/c4_en/bpb``...); None
    when the name says none."""
    norm = _norm(name)
    if norm in _LOSS_UNIT_OF:
        return _LOSS_UNIT_OF[norm]
    return next((unit for end, unit in _LOSS_UNIT_SUFFIX if norm.endswith(end)), None)


#: perplexity columns (a name in this list, or ending in ``_ppl`` / ``_perplexity``): the loss is the natural log
#: of a per-token perplexity, in nats/token
PERPLEXITY_NAMES = ("ppl", "perplexity", "val_ppl", "eval_ppl", "valid_ppl", "validation_ppl", "test_ppl",
                    "val_perplexity", "eval_perplexity", "valid_perplexity", "validation_perplexity",
                    "test_perplexity")


def is_perplexity(name: str) -> bool:
    """Whether a column's name says it holds a perplexity (``ppl``, ``val_ppl``, ``wikitext_perplexity``)."""
    norm = _norm(name)
    return norm in PERPLEXITY_NAMES or norm.endswith(("_ppl", "_perplexity"))


#: names of a tokens-per-parameter column (D/N, what Chinchilla's "20 tokens per parameter" counts)
TOKENS_PER_PARAM_NAMES = ("tokens_per_param", "tokens_per_parameter", "tokens_per_params", "tpp",
                          "tokens_param", "token_param_ratio", "tokens_params_ratio", "token_to_param_ratio",
                          "tokens_to_params_ratio", "d_n", "d_over_n", "data_to_model_ratio",
                          "tokens_per_param_ratio")


def is_tokens_per_param(name: str) -> bool:
    """Whether a column's name says it holds training tokens per parameter (``tokens_per_param``, ``D/N``,
    ``TPP``): with parameters and no token column, tokens are parameters × it."""
    return _norm(name) in TOKENS_PER_PARAM_NAMES


#: a scale written as a word (the keys of `_SCALE_WORDS` longer than one letter)
_SCALE_WORD = r"thousands?|millions?|mn|billions?|bn|trillions?|tn"
#: a unit in brackets at the end of a column name: ``Params (M)``, ``Training tokens [B]``, ``FLOPs (1e18)``
_SCALE_NOTE = re.compile(rf"^(?P<base>.*?)[\s_]*[(\[]\s*(?:x|×|in)?\s*(?P<unit>{_SCALE_WORD}|k|m|b|t|1e\d{{1,2}}|"
                         r"10\^\d{1,2})\s*[)\]]\s*$", re.IGNORECASE)
#: ... or a scale word after it: ``params_millions``, ``tokens in billions``
_SCALE_SUFFIX = re.compile(rf"^(?P<base>.*?\w)[\s_\-]+(?:in[\s_\-]+)?(?P<unit>{_SCALE_WORD})\s*$", re.IGNORECASE)
#: ... or one letter after an underscore or space: ``params_M``, ``tokens_B``, ``Params M`` (k, M, B, T)
_SCALE_LETTER = re.compile(r"^(?P<base>.*?\w)[\s_]+(?P<unit>[kmbt])\s*$", re.IGNORECASE)
_SCALE_WORDS = {"k": 1e3, "thousand": 1e3, "thousands": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6,
                "millions": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9, "t": 1e12, "tn": 1e12,
                "trillion": 1e12, "trillions": 1e12}


def scale_note(name: str) -> tuple[str, float] | None:
    """``(name without the note, factor)`` for a count column whose name ends in its unit in brackets, as
    papers' tables write them: ``Params (M)`` (1e6), ``Tokens [B]`` (1e9), ``Training FLOPs (1e18)``,
    ``Parameters (millions)``, or in a unit word or letter after it (``params_millions``, ``tokens in billions``,
    ``params_M``, ``tokens_B``); None otherwise. A number in such a column is that many units."""
    m = (_SCALE_NOTE.match(str(name).strip()) or _SCALE_SUFFIX.match(str(name).strip())
         or _SCALE_LETTER.match(str(name).strip()))
    if not m or not m["base"].strip():
        return None
    unit = m["unit"].lower()
    if unit in _SCALE_WORDS:
        return m["base"].strip(), _SCALE_WORDS[unit]
    return m["base"].strip(), float("1e" + unit.split("^")[1]) if "^" in unit else float(unit)


def path_alias(name: str) -> str | None:
    """The canonical count column a tracker's flattened config path names in its last part (W&B's
    ``model.n_params``, ``data/tokens``: params, tokens); None otherwise. Single-letter names and ``data``
    do not count (``model.d`` is a width; ``config.data`` a path to the corpus), nor a ratio of two counts
    (``Tokens/param``)."""
    parts = re.split(r"[./]", str(name).strip())
    if len(parts) < 2 or len(_norm(parts[-1])) < 2 or _norm(parts[-1]) == "data":
        return None
    canon = COLUMN_ALIASES.get(_norm(parts[-1]))
    if any(COLUMN_ALIASES.get(_norm(p)) in set(_COUNTS) - {canon} for p in parts[:-1]):  # Tokens/param: a ratio
        return None
    return canon if canon in _COUNTS else None


#: compute in petaflop/s-days (Kaplan et al. 2020, OpenAI's AI-and-compute): ``Compute (PF-days)``, ``pf_days``
_PF_DAYS = re.compile(r"^(?P<base>.*?)[\s_]*[(\[]?\s*(?:pf|petaflops?)(?:[\s_\-]*/?s)?[\s_\-]*days?\s*[)\]]?\s*$",
                      re.IGNORECASE)
#: FLOPs in one petaflop/s-day: 1e15 FLOP/s for 86,400 s
PF_DAY = 1e15 * 86_400


def count_scale(name: str, canonical: str) -> float | None:
    """The factor a count column's name gives its numbers when read as ``canonical``: its unit note
    (`scale_note`: ``Params (M)`` 1e6), petaflop/s-days for FLOPs (``Compute (PF-days)`` 8.64e19); None
    without one. A column mapped by hand (``--column 'Compute (PF-days)=flops'``) keeps its unit too."""
    if canonical == "flops" and _PF_DAYS.match(str(name).strip()):
        return PF_DAY
    note = scale_note(name)
    return None if note is None else note[1]


def scaled_alias(name: str) -> tuple[str, float] | None:
    """``(canonical count column, factor)`` for a name that is an accepted name plus a unit note
    (`scale_note`: ``Params (M)`` -> ``("params", 1e6)``; ``Compute (PF-days)`` -> ``("flops", 8.64e19)``);
    None otherwise."""
    pf = _PF_DAYS.match(str(name).strip())
    if pf and (not _norm(pf["base"]) or COLUMN_ALIASES.get(_norm(pf["base"])) == "flops"
               or _norm(pf["base"]).endswith("compute")):
        return "flops", PF_DAY
    note = scale_note(name)
    if note is None:
        return None
    canon = COLUMN_ALIASES.get(_norm(note[0]))
    return (canon, note[1]) if canon in _COUNTS else None


#: plus-or-minus as tables write it (``±``, ``+/-``, ``+-``)
PLUS_MINUS = r"(?:±|\+/-|\+-)"
#: a header's note that its cells are ``mean ± spread``: ``Loss ± std``, ``loss (mean ± s.d.)``, ``loss +/- se``
SPREAD_NOTE = re.compile(rf"\s*[\(\[]?\s*(?:mean\s*)?{PLUS_MINUS}\s*(?:std|sd|s\.d\.|stdev|se|s\.e\.|sem|stderr)?"
                         r"\.?\s*[\)\]]?\s*$", re.IGNORECASE)


#: the sections a tracker's nested run record keeps its metrics under (W&B API ``summary``, MLflow ``metrics``)
_SECTIONS = frozenset({"summary", "summary_metrics", "metrics"})


def canonical_name(name: str) -> tuple[str | None, float]:
    """The canonical column a source column's name says it holds, and the factor its unit note gives: an
    accepted name (``Model Size``: params, 1), a count with its unit (`scaled_alias`: ``Params (M)``: params,
    1e6), a tracker's config path (`path_alias`: ``model.n_params``: params, 1); ``(None, 1.0)`` otherwise.
    A note that the cells are ``mean ± spread`` (``Loss ± std``) is read past; a loss under a tracker's metric
    section (``summary.eval/loss``, ``metrics.val_loss``) is the loss. The one rule `load_runs` and the
    downstream readers map names by."""
    name = SPREAD_NOTE.sub("", str(name)) or str(name)
    alias = COLUMN_ALIASES.get(_norm(name))
    if alias is not None:
        return alias, 1.0
    scaled = scaled_alias(name)
    if scaled is not None:
        return scaled
    section, dot, rest = name.partition(".")
    if dot and _norm(section) in _SECTIONS and COLUMN_ALIASES.get(_norm(rest)) == "loss":
        return "loss", 1.0  # a tracker dump's metric: W&B's summary.eval/loss, MLflow's metrics.val_loss
    return path_alias(name), 1.0


def column_holding(names, canonical: str) -> tuple[str, float] | None:
    """The first of the column ``names`` that holds ``canonical`` under an accepted name (`canonical_name`), and
    its unit factor: ``Model Size`` (params, 1), ``FLOPs (1E21)`` (flops, 1e21), ``Model Size (B)`` (params,
    1e9); None when none does. How the downstream and emergence readers find a scale column."""
    for name in map(str, names):
        canon, factor = canonical_name(name)
        if canon == canonical:
            return name, factor
    return None


#: the letter papers write each count as (Kaplan et al. 2020, Hoffmann et al. 2022, Muennighoff et al. 2023)
_SYMBOLS = {"params": "n", "tokens": "d", "flops": "c", "unique_tokens": "u"}
#: words that say a loss column holds the run's last value (``final_val_loss``, ``last_eval_loss``)
_FINAL_WORDS = ("final", "last")


def qualified_alias(name: str) -> str | None:
    """The canonical column a name gives with a qualifier around an accepted name: a count with its paper's
    letter (``params_N``, ``N_params``, ``tokens_D``, ``unique_tokens_U``, ``compute_C``) or a loss named as
    the run's last value (``final_val_loss``, ``last_eval_loss``); None otherwise. Weaker than an accepted
    name: `load_runs` reads such a column as its canonical name only where no other column claims it and it
    is the one such column (a table with ``loss`` and ``final_val_loss`` keeps both names)."""
    norm = _norm(name)
    for canon, sym in _SYMBOLS.items():
        for alias in _ALIASES[canon]:
            if len(alias) >= 3 and norm in (f"{alias}_{sym}", f"{sym}_{alias}"):
                return canon
    word, _, rest = norm.partition("_")
    if word in _FINAL_WORDS and COLUMN_ALIASES.get(rest) == "loss":
        return "loss"
    return None


#: a column whose name says it holds a loss on some validation set (c4_val, eval/paloma_ce, xent ...)
_LOSS_LIKE = re.compile(r"(^|_)(loss|val|valid|validation|eval|test|ppl|perplexity|nll|xent|ce|crossentropyloss)"
                        r"($|_)")


def named_like(canonical: str, names) -> list[str]:
    """The columns of ``names`` whose name suggests the canonical column ``canonical`` without being one of its
    accepted names, in table order: for ``loss`` a loss on some validation set (``c4_val``, ``eval/paloma_ce``);
    otherwise an accepted name of at least three letters with a word before or after it (``params_N``,
    ``model_params_m``, ``tokens_D``, ``unique_tokens_U``), not a ratio (``tokens_per_param``). Which one, if
    any, is the column is the user's to say (``--column`` / ``columns=``): `choose_column_hint`."""
    out = []
    for n in names:
        norm = _norm(n)
        if canonical_name(n)[0] is not None or loss_unit_of(n):
            continue
        if canonical == "loss":
            if _LOSS_LIKE.search(norm):
                out.append(str(n))
        elif "per" not in norm.split("_") and any(
                len(a) >= 3 and (norm.startswith(a + "_") or norm.endswith("_" + a))
                for a in _ALIASES.get(canonical, (canonical,))):
            out.append(str(n))
    return out


def choose_column_hint(canonical: str, names) -> str:
    """``"; columns named like a <canonical> here: ...: choose one with ..."`` for an error about a missing
    column (`named_like`), or ``""`` when none is."""
    named = named_like(canonical, names)
    if not named:
        return ""
    listed = ", ".join(map(repr, named[:8])) + (", ..." if len(named) > 8 else "")
    first = named[0]
    import shlex

    # a perplexity mapped to the loss reads as its log; --y would fit the perplexity itself
    y = (f"--y {shlex.quote(str(first))} (fit, backtest, compare; y={str(first)!r} in Python), "
         if canonical == "loss" and not is_perplexity(first) else "")
    if canonical == "loss" and is_perplexity(first):
        listed += " (perplexities: mapped to the loss, one reads as its natural log)"
    return (f"; columns named like {'a loss' if canonical == 'loss' else repr(canonical)} here: {listed}: choose "
            f"one with {y}--column {shlex.quote(f'{first}={canonical}')} (any command that reads a table) or "
            f"load_runs(..., columns={{{first!r}: {canonical!r}}}) in Python")


def parse_column_map(specs) -> dict[str, str | None]:
    """``{source column: name}`` from ``SRC=NAME`` strings (the CLI's repeatable ``--column``; ``SRC=`` drops
    the column), the ``columns=`` mapping of `scalinglab.data.load_runs`.

    Raises
    ------
    InputError
        If a spec has no ``=`` or no source name, or names a source column twice.
    """
    from .._errors import InputError

    out: dict[str, str | None] = {}
    for spec in specs or ():
        src, eq, name = str(spec).partition("=")
        src, name = src.strip(), name.strip()
        if not eq or not src:
            raise InputError(f"--column {spec!r}: expected SRC=NAME, e.g. --column params_N=params (a source "
                             "column read under a canonical name; SRC= drops the column)")
        if src in out:
            raise InputError(f"--column: source column {src!r} mapped twice ({out[src]!r} and {name!r})")
        out[src] = name or None
    return out


_META_KEY = b"scalinglab.run_table"


#: Words that name a training hyperparameter (on a lower-cased name with ``_`` separators): runs of one size
#: that differ in such a column are a hyperparameter sweep (`scalinglab.data.sweeps`), and the column is a
#: tag of the run rather than a measurement (`identifying_columns`).
HYPERPARAMETER_WORDS = (r"lr|learning_rate|peak_lr|max_lr|min_lr|lr_max|lr_peak|lr_min|batch_size|bs|bsz|gbsz|"
                        r"global_batch_size|micro_batch_size|mbs|warmup\w*|weight_decay|wd|beta_?1|beta_?2|"
                        r"adam_beta\w*|adam_eps\w*|eps|epsilon|dropout|grad_clip\w*|clip_grad\w*|"
                        r"gradient_clip\w*|momentum|lr_schedule|schedule|cooldown\w*|decay_\w*|init_std|"
                        r"label_smoothing|z_loss\w*")

#: Words that name a replicate's seed: runs differing only in it are replicates, not a sweep.
SEED_WORDS = r"seed|seeds|replicate|rep|trial"
_SEED_NAME = re.compile(rf"(^|_)({SEED_WORDS})($|_)")


def is_seed_name(name: str) -> bool:
    """Whether a column's name says it holds a replicate's seed (``seed``, ``data_seed``, ``replicate``)."""
    return bool(_SEED_NAME.search(_norm(name)))


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
