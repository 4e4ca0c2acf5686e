"""Sweep specifications: a ladder, an IsoFLOP grid or an explicit list of runs (torch-free).

A spec is TOML (read with ``tomllib``), YAML (``yaml.safe_load``) or a Python dict::

    [sweep]
    name = "ladder"
    kind = "ladder"                 # "ladder" | "isoflop" | "list"

    [defaults]                      # applied to every run; any RunConfig field
    data = { name = "markov", alphabet = 32, order = 2 }
    seq_len = 64
    schedule = "wsd"                # "cosine" | "constant" | "wsd"
    flops_convention = "6N"

    [ladder]
    sizes = [ { n_layer = 2, d_model = 32 }, { n_layer = 3, d_model = 64 } ]
    tokens_per_param = [5, 10, 20]  # training tokens D = r × N (N = total parameters)

    # or: [isoflop]  budgets = ["1e11", "3e11"] (FLOPs), sizes = [...]; D = C / (FLOPs per token)
    # or: [[runs]]   arch = {...}, tokens = "1M"

    # optional: your own training script instead of the built-in GPT (scalinglab.runner.external)
    [trainer]
    command = ["python", "train.py", "--n_layer={n_layer}", "--max_tokens={tokens}", "--resume={resume}"]
    metrics_regex = 'step (?P<step>[0-9]+) val (?P<val_loss>[-+0-9.eE]+)'   # optional: parse stdout instead
    timeout_s = 3600                 # optional: per-run wall-clock limit (seconds)
    progress_timeout_s = 600         # optional: kill when nothing is printed or tracked for this long

``data`` may also name your own files: ``{ path = "corpus/**/*.txt", tokenizer = "bytes" }``, token files,
Parquet/JSONL text columns (:mod:`scalinglab.runner.datasets`; relative paths are relative to the spec).

With ``schedule = "wsd"`` all budgets of one size become cooldown *branches* of one run (one stable phase,
one cooldown per budget), so a ladder of S sizes × R budgets costs S runs. With ``cosine``/``constant``
every (size, budget) is its own run.

Every run gets a content-hash id from its full config (:meth:`RunConfig.run_id`), so renaming a sweep or
re-reading the same spec never retrains a finished run. Errors name the spec file and key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .._errors import InputError
from . import hparams

__all__ = ["RunConfig", "SpecError", "Sweep", "load_spec", "expand_spec", "render_command", "placeholder_names"]

logger = logging.getLogger(__name__)

#: RunConfig fields that do not change what is trained (excluded from the content hash).
COSMETIC = ("name", "checkpoint_every", "sweep")
#: ``[trainer]`` keys that do not change what is trained (excluded from the content hash).
TRAINER_COSMETIC = ("timeout_s", "progress_timeout_s")
#: ``[trainer]`` keys.
TRAINER_KEYS = {"command", "metrics_regex", "cwd", "env", "timeout_s", "progress_timeout_s"}
#: words that make a ``[trainer] env`` name secret-looking (case-insensitive, as a word part: ``WANDB_API_KEY``,
#: ``hfToken``, ``PGPASSWORD``): its value is recorded masked (:func:`recorded_config`)
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
#: what a secret-looking ``[trainer] env`` value is recorded as in the store
MASK = "***"
#: named groups of a ``metrics_regex`` with a column of their own; any other group is an extra curve metric
#: (the point's ``extra`` JSON in the store).
REGEX_GROUPS = {"step", "tokens", "loss", "val_loss", "lr"}


def secret_name(name: str) -> bool:
    """True when the environment variable ``name`` looks like it holds a secret: one of its word parts (split at
    ``_``, ``-``, ``.``, digits and camelCase humps) is or ends with one of :data:`SECRET_WORDS`, also plural
    (``WANDB_API_KEY``, ``HF_TOKEN``, ``PGPASSWORD``, ``GOOGLE_APPLICATION_CREDENTIALS``; not
    ``TOKENIZERS_PARALLELISM``)."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", str(name))
    return any(p.upper().endswith(w) or p.upper().endswith(w + "S") for p in parts for w in SECRET_WORDS)


def recorded_config(config: Mapping[str, Any]) -> dict:
    """A run config dict (`RunConfig.to_dict`) as the store records it: the values of secret-looking
    ``[trainer] env`` names (:func:`secret_name`) replaced by :data:`MASK`. The run id still hashes the real
    values (:meth:`RunConfig.run_id`); the trainer gets them too."""
    out = dict(config)
    env = (out.get("trainer") or {}).get("env") or {}
    if any(secret_name(k) for k in env):
        out["trainer"] = {**out["trainer"], "env": {k: MASK if secret_name(k) else v for k, v in env.items()}}
    return out


class SpecError(InputError):
    """A sweep spec is invalid; ``location`` is ``FILE:KEY`` (``FILE:LINE`` where it cannot be parsed, ``FILE``
    for the file as a whole)."""

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None):
        self.reason, self.file, self.key = reason, file, key
        super().__init__(f"{self.location}: {reason}")

    @property
    def location(self) -> str:
        """``FILE:KEY`` of the problem (``<spec>`` when the spec did not come from a file)."""
        return f"{self.file or '<spec>'}" + (f":{self.key}" if self.key else "")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run. Units in the names: tokens, FLOPs, steps.

    ``budgets`` are the token budgets this run reports (WSD: one cooldown branch each; otherwise exactly
    ``(tokens,)``). ``batch_size`` is in sequences of ``arch["seq_len"]`` tokens.
    """

    arch: Mapping[str, Any]                      # scalinglab.flops.Architecture fields
    data: Mapping[str, Any]                      # corpus.make_source spec, e.g. {"name": "markov"}
    tokens: int                                  # training tokens of the longest budget
    budgets: tuple[int, ...] = ()                # token budgets (WSD branches); default (tokens,)
    schedule: str = "wsd"                        # cosine | constant | wsd
    lr: float = 0.0                              # peak learning rate (0 → hparams.suggest)
    batch_size: int = 0                          # sequences per step (0 → hparams.suggest)
    warmup_steps: int = -1                       # (-1 → hparams.suggest)
    min_lr_ratio: float = 0.1                    # final lr / peak lr (cosine, wsd)
    decay_fraction: float = 0.2                  # WSD cooldown length / budget
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 50                         # steps between validation evals
    eval_windows: int = 64                       # validation windows per eval (× seq_len tokens)
    seed: int = 0
    flops_convention: str = "6N"                 # FLOP convention used for the run's C
    param_convention: str = "total"              # parameter convention used for the run's N
    name: str = ""                               # label (cosmetic)
    sweep: str = ""                              # sweep name (cosmetic)
    checkpoint_every: int = 200                  # steps between checkpoints (cosmetic)
    #: external trainer ({} = the built-in GPT): command (argv template), metrics_regex, cwd, env, timeouts
    trainer: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ identity
    def hashed(self) -> dict:
        """The fields that determine the run (cosmetic ones, e.g. ``name``, dropped): the basis of `run_id`.

        An empty ``trainer`` is dropped (so built-in runs keep the ids of earlier versions); a trainer's
        timeouts are not part of what is trained and are dropped too."""
        d = asdict(self)
        for k in COSMETIC:
            d.pop(k)
        if not d["trainer"]:
            d.pop("trainer")
        else:
            d["trainer"] = {k: v for k, v in d["trainer"].items() if k not in TRAINER_COSMETIC}
        return d

    @property
    def run_id(self) -> str:
        """16 hex chars of sha256 over the canonical JSON of every non-cosmetic field."""
        blob = json.dumps(self.hashed(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (``budgets`` as a list, ``arch``/``data`` as plain dicts)."""
        d = asdict(self)
        d["budgets"] = list(self.budgets)
        d["arch"], d["data"], d["trainer"] = dict(self.arch), dict(self.data), dict(self.trainer)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        """Rebuild from `to_dict` output; unknown keys are ignored (specs from older versions load)."""
        d = dict(d)
        d["budgets"] = tuple(int(b) for b in d.get("budgets", ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    # ------------------------------------------------------------------ accounting (scalinglab.flops)
    def architecture(self):
        """The run's `scalinglab.flops.Architecture` (validated; raises `InputError` on bad fields)."""
        from ..flops import Architecture

        return Architecture(**self.arch)

    def n_params(self) -> int:
        """Parameters N of the model under ``param_convention`` (exact integer count)."""
        from ..flops import count_params

        return int(count_params(self.architecture()).by_convention(self.param_convention))

    def flops_per_token(self) -> float:
        """Training FLOPs per token of the model under ``flops_convention``."""
        from ..flops import flops_per_token

        return float(flops_per_token(self.architecture(), self.flops_convention))

    @property
    def seq_len(self) -> int:
        """Sequence length in tokens (``arch["seq_len"]``)."""
        return int(self.arch["seq_len"])

    @property
    def batch_tokens(self) -> int:
        """Tokens per optimiser step: ``batch_size * seq_len``."""
        return self.batch_size * self.seq_len

    def steps_for(self, budget_tokens: int) -> int:
        """Optimiser steps to train on ``budget_tokens`` tokens (rounded up; at least 1)."""
        return max(1, math.ceil(budget_tokens / self.batch_tokens))


@dataclass(frozen=True)
class Sweep:
    """An expanded sweep: its name, kind (ladder, isoflop, list), the runs, and the spec file it came from."""

    name: str
    kind: str
    runs: tuple[RunConfig, ...]
    source: str = "<dict>"
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- loading
def load_spec(spec: str | Path | Mapping[str, Any]) -> Sweep:
    """Read a TOML, YAML (``.yaml``/``.yml``) or JSON (``.json``) file (or take a dict) and expand it into runs.

    Raises
    ------
    SpecError
        If the file does not exist, cannot be parsed, is not a mapping at top level, or a key or value is
        invalid (``location`` names file and key).
    """
    if isinstance(spec, Mapping):
        return expand_spec(spec, source="<dict>")
    path = Path(spec)
    if not path.is_file():
        raise SpecError("spec file not found", file=str(path))
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            import json

            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError(f"cannot parse JSON: {exc.msg} (column {exc.colno})",
                                file=f"{path}:{exc.lineno}") from None
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except SpecError:
        raise
    except Exception as exc:  # tomllib.TOMLDecodeError / yaml.YAMLError
        raise SpecError(f"cannot parse: {exc}", file=str(path)) from None
    if not isinstance(data, Mapping):
        raise SpecError("the spec must be a table/mapping at top level", file=str(path))
    return expand_spec(data, source=str(path))


def _vocab_size(data: Mapping[str, Any], err) -> int:
    if "path" in data:  # the user's own files (runner/datasets.py)
        from .datasets import data_vocab_size

        try:
            return data_vocab_size(data)
        except InputError as exc:
            raise err("defaults.data.path", str(exc)) from None
    name = data.get("name", "markov")
    if name == "text":
        return 256
    if name == "markov":
        return int(data.get("alphabet", 32))
    from .corpus import TASK_SOURCES

    if name in TASK_SOURCES:  # toy tasks (runner/tasks.py)
        from importlib import import_module

        try:
            return int(import_module(TASK_SOURCES[name]).task_vocab_size(name, data))
        except InputError as exc:
            raise err("data", str(exc)) from None
    raise err("data.name", f"unknown data source {name!r}; expected 'text', 'markov', {{ path = ... }} or one of "
                           f"{', '.join(sorted(TASK_SOURCES))}")


def _num(value: Any, err, key: str, *, integer: bool = False, positive: bool = True) -> float:
    from ..units import parse_quantity

    try:
        v = parse_quantity(value) if isinstance(value, str) else float(value)
    except Exception:
        raise err(key, f"expected a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(v) or (positive and v <= 0):
        raise err(key, f"expected a positive finite number, got {value!r}")
    if integer:
        if abs(v - round(v)) > 1e-9 * max(1.0, abs(v)):
            raise err(key, f"expected an integer, got {value!r}")
        return int(round(v))
    return v


_ARCH_KEYS = {"n_layer", "d_model", "n_heads", "vocab_size", "seq_len", "n_kv_heads", "d_ff", "ffn_mult",
              "mlp", "positional", "tied_embeddings", "bias", "norm", "n_experts", "n_active_experts",
              "head_dim"}
_RUN_KEYS = ({f.name for f in fields(RunConfig)} - {"trainer"}) | {"seq_len", "tokens_per_param"}


def _arch(size: Any, base: Mapping[str, Any], vocab: int, seq_len: int, err, key: str) -> dict:
    if not isinstance(size, Mapping):
        raise err(key, f"expected a table of architecture fields, got {size!r}")
    a = {**base, **size}
    unknown = set(a) - _ARCH_KEYS
    if unknown:
        raise err(f"{key}.{sorted(unknown)[0]}", f"unknown architecture field; known: {', '.join(sorted(_ARCH_KEYS))}")
    for k in ("n_layer", "d_model"):
        if k not in a:
            raise err(f"{key}.{k}", "missing (required)")
        a[k] = _num(a[k], err, f"{key}.{k}", integer=True)
    a.setdefault("n_heads", max(1, a["d_model"] // 16))  # default head_dim 16
    a.setdefault("vocab_size", vocab)
    a.setdefault("seq_len", seq_len)
    if a["vocab_size"] != vocab:
        raise err(f"{key}.vocab_size", f"{a['vocab_size']} does not match the data source's vocabulary {vocab}")
    try:
        from ..flops import Architecture, count_params

        count_params(Architecture(**a))
    except InputError as exc:
        raise err(key, str(exc)) from None
    except TypeError as exc:
        raise err(key, str(exc)) from None
    return a


def expand_spec(data: Mapping[str, Any], *, source: str = "<dict>") -> Sweep:
    """Expand a parsed spec into fully resolved :class:`RunConfig`s (hyper-parameters filled in)."""

    def err(key: str, reason: str) -> SpecError:
        return SpecError(reason, file=source, key=key)

    sweep = data.get("sweep", {}) or {}
    if not isinstance(sweep, Mapping):
        raise err("sweep", "expected a table")
    kinds = [k for k in ("ladder", "isoflop", "runs") if k in data]
    kind = sweep.get("kind") or ({"runs": "list"}.get(kinds[0], kinds[0]) if len(kinds) == 1 else None)
    if kind not in ("ladder", "isoflop", "list"):
        raise err("sweep.kind", f"expected 'ladder', 'isoflop' or 'list' (or exactly one of [ladder], "
                                f"[isoflop], [[runs]]), got {kind!r}")
    name = str(sweep.get("name", kind))
    unknown_top = set(data) - {"sweep", "defaults", "ladder", "isoflop", "runs", "trainer"}
    if unknown_top:
        raise err(sorted(unknown_top)[0], "unknown section; expected sweep, defaults, ladder, isoflop, runs, "
                                          "trainer")
    base_dir = None if source.startswith("<") else str(Path(source).resolve().parent)
    trainer = _trainer(data.get("trainer"), base_dir, err)

    defaults = dict(data.get("defaults", {}) or {})
    for k in defaults:
        if k not in _RUN_KEYS:
            raise err(f"defaults.{k}", f"unknown run field; known: {', '.join(sorted(_RUN_KEYS - {'tokens_per_param'}))}")
    dd = defaults.get("data", {} if trainer else {"name": "markov"})
    if not isinstance(dd, dict):
        raise err("defaults.data", f"expected a table such as {{ name = 'markov' }}, got {dd!r}")
    dd = _normalize_data(dd, base_dir, err, "defaults.data")
    if "data" in defaults:
        defaults["data"] = dd
    seq_len = int(_num(defaults.pop("seq_len", 64), err, "defaults.seq_len", integer=True))
    base_arch = dict(defaults.pop("arch", {}) or {})
    if trainer and not dd:  # an external trainer with its own data: the vocabulary comes from the arch
        if "vocab_size" not in base_arch:
            raise err("defaults.arch.vocab_size", "required with [trainer] when the spec has no data table")
        vocab = int(_num(base_arch["vocab_size"], err, "defaults.arch.vocab_size", integer=True))
    else:
        vocab = _vocab_size(dd, err)
    if trainer:
        defaults["trainer"] = trainer
    schedule = defaults.get("schedule", "wsd")
    if schedule not in hparams.SCHEDULES:
        raise err("defaults.schedule", f"expected one of {', '.join(hparams.SCHEDULES)}, got {schedule!r}")

    planned: list[tuple[dict, list[int], dict, str]] = []  # (arch, budgets, overrides, key)

    if kind in ("ladder", "isoflop"):
        sect = data.get(kind)
        if not isinstance(sect, Mapping):
            raise err(kind, "missing section")
        sizes = sect.get("sizes")
        if not isinstance(sizes, list) or not sizes:
            raise err(f"{kind}.sizes", "expected a non-empty list of architectures")
        archs = [_arch(s, base_arch, vocab, seq_len, err, f"{kind}.sizes[{i}]") for i, s in enumerate(sizes)]
        fconv = defaults.get("flops_convention", "6N")
        pconv = defaults.get("param_convention", "total")
        from ..flops import Architecture, count_params, flops_per_token

        if kind == "ladder":
            mults = sect.get("tokens_per_param")
            if not isinstance(mults, list) or not mults:
                raise err("ladder.tokens_per_param", "expected a non-empty list of numbers")
            mults = [_num(m, err, f"ladder.tokens_per_param[{j}]") for j, m in enumerate(mults)]
            for i, a in enumerate(archs):
                n = count_params(Architecture(**a)).by_convention(pconv)
                planned.append((a, [int(round(m * n)) for m in mults], {}, f"ladder.sizes[{i}]"))
        else:
            budgets = sect.get("budgets")
            if not isinstance(budgets, list) or not budgets:
                raise err("isoflop.budgets", "expected a non-empty list of FLOP budgets")
            budgets = [_num(b, err, f"isoflop.budgets[{j}]") for j, b in enumerate(budgets)]
            for i, a in enumerate(archs):
                fpt = flops_per_token(Architecture(**a), fconv)
                planned.append((a, [int(round(c / fpt)) for c in budgets], {"isoflop_budgets": budgets},
                                f"isoflop.sizes[{i}]"))
    else:
        runs = data.get("runs")
        if not isinstance(runs, list) or not runs:
            raise err("runs", "expected a non-empty list of runs ([[runs]])")
        for i, r in enumerate(runs):
            key = f"runs[{i}]"
            if not isinstance(r, Mapping):
                raise err(key, "expected a table")
            r = dict(r)
            for k in r:
                if k not in _RUN_KEYS:
                    raise err(f"{key}.{k}", "unknown run field")
            if isinstance(r.get("data"), dict):
                r["data"] = _normalize_data(r["data"], base_dir, err, f"{key}.data")
            a = _arch(r.pop("arch", None), base_arch, vocab, seq_len, err, f"{key}.arch")
            if "tokens" not in r and "budgets" not in r:
                raise err(f"{key}.tokens", "missing (training tokens)")
            bl = r.pop("budgets", None) or [r.get("tokens")]
            r.pop("tokens", None)
            planned.append((a, [int(_num(b, err, f"{key}.budgets", integer=False)) for b in bl], r, key))

    out: list[RunConfig] = []
    seen: set[str] = set()
    for a, budgets, overrides, key in planned:
        over = {**defaults, **{k: v for k, v in overrides.items() if k != "isoflop_budgets"}}
        over.pop("tokens_per_param", None)
        # WSD branches are the built-in trainer's; an external trainer gets one run per budget
        groups = [sorted(set(budgets))] if over.get("schedule", schedule) == "wsd" and not trainer \
            else [[b] for b in budgets]
        for g in groups:
            cfg = _make_config(a, g, over, name=f"{name}/L{a['n_layer']}-d{a['d_model']}" + (
                "" if len(g) > 1 else f"-D{g[0]}"), sweep=name, err=err, key=key)
            if cfg.run_id not in seen:
                seen.add(cfg.run_id)
                out.append(cfg)
    return Sweep(name=name, kind=kind, runs=tuple(out), source=source)


def _make_config(arch: dict, budgets: list[int], over: dict, *, name: str, sweep: str, err, key: str) -> RunConfig:
    if any(b < 1 for b in budgets):
        raise err(key, f"token budgets must be ≥ 1, got {budgets}")
    over = dict(over)
    for k in ("lr", "batch_size", "warmup_steps", "eval_every", "eval_windows", "seed", "checkpoint_every"):
        if k in over:
            over[k] = _num(over[k], err, f"defaults.{k}", integer=k != "lr", positive=k not in ("seed", "warmup_steps"))
    if "decay_fraction" in over:
        over["decay_fraction"] = _num(over["decay_fraction"], err, f"{key}.decay_fraction")
    if not isinstance(over.get("data", {}), dict):
        raise err(f"{key}.data", f"expected a table such as {{ name = 'markov' }}, got {over['data']!r}")
    default_data = {} if over.get("trainer") else {"name": "markov"}
    cfg = RunConfig(arch=dict(arch), data=dict(over.pop("data", default_data)), tokens=max(budgets),
                    budgets=tuple(budgets), name=over.pop("name", name), sweep=sweep,
                    **{k: v for k, v in over.items() if k in {f.name for f in fields(RunConfig)}})
    if cfg.schedule not in hparams.SCHEDULES:
        raise err(f"{key}.schedule", f"expected one of {', '.join(hparams.SCHEDULES)}, got {cfg.schedule!r}")
    if not 0 < cfg.decay_fraction <= 1:
        raise err(f"{key}.decay_fraction", f"must be in (0, 1], got {cfg.decay_fraction}")
    try:
        n = cfg.n_params()
    except InputError as exc:
        raise err(f"{key}.param_convention", str(exc)) from None
    if cfg.trainer:
        check_placeholders(cfg.trainer["command"], err)
    try:
        cfg.flops_per_token()
    except InputError as exc:
        raise err(f"{key}.flops_convention", str(exc)) from None
    sugg = hparams.suggest(params=n, tokens=cfg.tokens, flops=6.0 * n * cfg.tokens, seq_len=cfg.seq_len)
    changes = {}
    if cfg.lr <= 0:
        changes["lr"] = sugg["lr"]
    if cfg.batch_size <= 0:
        changes["batch_size"] = sugg["batch_size"]
    bs = changes.get("batch_size", cfg.batch_size)
    if cfg.warmup_steps < 0:
        steps = max(1, math.ceil(min(budgets) / (bs * cfg.seq_len)))
        changes["warmup_steps"] = int(min(max(1, round(n / (bs * cfg.seq_len))), max(1, steps // 10)))
    out = replace(cfg, **changes)
    short = [b for b in budgets if b < out.batch_tokens] if not out.trainer else []
    if short:  # one optimiser step is the least a built-in run trains: a smaller budget is not what it trains
        logger.info("%s: token budget(s) %s below one optimiser step (%d tokens = batch_size x seq_len): "
                    "the run trains %d tokens, up to %.3gx its budget and FLOPs (lower batch_size or seq_len, "
                    "or raise the budget)", name, ", ".join(map(str, short)), out.batch_tokens,
                    out.batch_tokens, out.batch_tokens / min(short))
    return out


# ---------------------------------------------------------------------------------------------- trainer
#: placeholders of a trainer command besides the architecture fields and scalar RunConfig fields.
EXTRA_PLACEHOLDERS = {"params", "flops", "budgets", "warmup", "run_id", "run_dir", "device", "resume",
                      "data_path", "val_path", "batch_tokens", "steps"}


def placeholder_names() -> set[str]:
    """Every name a ``[trainer] command`` may use as ``{name}``: architecture fields (``n_layer``,
    ``d_model``, ...), scalar run fields (``tokens``, ``lr``, ``batch_size``, ``warmup_steps``, ``seed``,
    ``schedule``, ``name``, ...) and :data:`EXTRA_PLACEHOLDERS` (``params``, ``flops``, ``run_id``,
    ``run_dir``, ``device``, ``resume``, ``data_path``, ...)."""
    scalars = {f.name for f in fields(RunConfig)} - {"arch", "data", "budgets", "trainer"}
    return _ARCH_KEYS | scalars | EXTRA_PLACEHOLDERS


def check_placeholders(command: list[str], err) -> None:
    """Raise ``err("trainer.command[i]", ...)`` for an unknown or non-plain ``{placeholder}`` (attribute or
    index access such as ``{x.y}`` / ``{x[0]}`` is refused)."""
    import string

    known = placeholder_names()
    for i, part in enumerate(command):
        try:
            parsed = list(string.Formatter().parse(part))
        except ValueError as exc:
            raise err(f"trainer.command[{i}]", f"bad placeholder syntax in {part!r}: {exc} (write {{{{ and }}}} "
                                               f"for literal braces)") from None
        for _, fname, _, _ in parsed:
            if fname is None:
                continue
            if fname not in known:
                raise err(f"trainer.command[{i}]", f"unknown placeholder {{{fname}}} in {part!r}; known: "
                                                   f"{', '.join(sorted(known))}")


def placeholder_values(cfg: RunConfig, *, run_dir: str, device: str, resume: str) -> dict[str, Any]:
    """The value of every placeholder for ``cfg`` (numbers as numbers, so ``{lr:.2e}`` formats)."""
    arch = cfg.architecture()
    vals: dict[str, Any] = {f.name: getattr(arch, f.name) for f in fields(arch)}
    vals.update({k: v for k, v in cfg.arch.items()})
    for f in fields(cfg):
        if f.name not in ("arch", "data", "budgets", "trainer"):
            vals[f.name] = getattr(cfg, f.name)
    budgets = list(cfg.budgets or (cfg.tokens,))
    vals.update(params=cfg.n_params(), flops=cfg.flops_per_token() * cfg.tokens,
                budgets=",".join(str(b) for b in budgets), warmup=cfg.warmup_steps, run_id=cfg.run_id,
                run_dir=run_dir, device=device, resume=resume, data_path=str(cfg.data.get("path", "")),
                val_path=str(cfg.data.get("val_path", "")), batch_tokens=cfg.batch_tokens,
                steps=cfg.steps_for(cfg.tokens), seq_len=cfg.seq_len)
    for k, v in list(vals.items()):
        if isinstance(v, bool):
            vals[k] = str(v).lower()
        elif v is None:
            vals[k] = ""
    return vals


def render_command(cfg: RunConfig, *, run_dir: str, device: str = "cpu", resume: str = "") -> list[str]:
    """The argv list of ``cfg``'s trainer with every placeholder filled in (each stays one argument).

    Raises
    ------
    SpecError
        If a placeholder is unknown (specs are checked at load; this guards configs built by hand).
    """
    cmd = list(cfg.trainer["command"])
    check_placeholders(cmd, lambda key, reason: SpecError(reason, key=key))
    vals = placeholder_values(cfg, run_dir=run_dir, device=device, resume=resume)
    return [part.format_map(vals) for part in cmd]


def _normalize_data(dd: dict, base_dir: str | None, err, key: str) -> dict:
    if "path" not in dd:
        return dict(dd)
    from .datasets import normalize_data

    try:
        return normalize_data(dd, base_dir)
    except InputError as exc:
        raise err(key, str(exc)) from None


def _trainer(t: Any, base_dir: str | None, err) -> dict:
    """Validate and normalise the ``[trainer]`` section ({} when absent)."""
    import re

    if t is None:
        return {}
    if not isinstance(t, Mapping):
        raise err("trainer", "expected a table with command = [...]")
    unknown = set(t) - TRAINER_KEYS
    if unknown:
        raise err(f"trainer.{sorted(unknown)[0]}", f"unknown key; known: {', '.join(sorted(TRAINER_KEYS))}")
    cmd = t.get("command")
    if isinstance(cmd, str):
        raise err("trainer.command", "must be a list of arguments (argv), e.g. [\"python\", \"train.py\", "
                                     "\"--n_layer={n_layer}\"]; it is never passed to a shell")
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
        raise err("trainer.command", f"expected a non-empty list of strings, got {cmd!r}")
    check_placeholders(cmd, err)
    out: dict[str, Any] = {"command": list(cmd)}
    rx = t.get("metrics_regex")
    if rx is not None:
        rxs = [rx] if isinstance(rx, str) else rx
        if not isinstance(rxs, list) or not rxs or not all(isinstance(r, str) for r in rxs):
            raise err("trainer.metrics_regex", "expected a regular expression (or a list of them)")
        for j, r in enumerate(rxs):
            try:
                groups = set(re.compile(r).groupindex)
            except re.error as exc:
                raise err("trainer.metrics_regex", f"not a regular expression ({exc}): {r!r}") from None
            if not groups & {"loss", "val_loss"}:  # other groups are extra metrics
                raise err("trainer.metrics_regex", f"pattern {j} must capture named groups among "
                                                   f"{', '.join(sorted(REGEX_GROUPS))} (others are extra "
                                                   f"metrics), at least loss or val_loss; got {sorted(groups)}")
        out["metrics_regex"] = rxs
    cwd = t.get("cwd", ".")
    if not isinstance(cwd, str):
        raise err("trainer.cwd", f"expected a folder path, got {cwd!r}")
    cwd = os.path.expanduser(cwd)
    if base_dir is not None and not os.path.isabs(cwd):
        cwd = os.path.join(base_dir, cwd)
    out["cwd"] = os.path.normpath(os.path.abspath(cwd))
    env = t.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str | int | float)
                                               for k, v in env.items()):
        raise err("trainer.env", "expected a table of NAME = \"value\"")
    if env:
        out["env"] = {k: str(v) for k, v in env.items()}
    for k in ("timeout_s", "progress_timeout_s"):
        if k in t:
            out[k] = _num(t[k], err, f"trainer.{k}")
    return out
