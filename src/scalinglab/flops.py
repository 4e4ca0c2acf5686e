"""Parameter and FLOP accounting for decoder-only Transformers.

Counting is explicit and itemised (as nanochat's ``estimate_flops`` and nanoGPT's
``transformer_sizing.ipynb`` do): :func:`count_params` returns every parameter group so the caller picks
the convention, and :func:`flops_breakdown` returns every FLOP term of a named convention. All counts are
exact Python integers (parameters) or floats (FLOPs).

Units: parameters are counts of scalars; FLOPs count one multiply-accumulate as 2 FLOPs; "per token"
means per *training* token (forward + backward = 3 x forward) unless the name says ``forward``.

Parameter conventions (:meth:`ParamCount.by_convention`)
    ``total``                 every distinct parameter tensor, i.e. ``sum(p.numel())`` of the model; a tied
                              output head is counted once (it *is* the token embedding).
    ``non_embedding``         Kaplan et al. 2020: total minus the token embedding, the learned position
                              embedding and the output head (the de-embedding; 0 extra when tied). Norms and
                              biases stay in.
    ``without_head``          alias of ``non_embedding``.
    ``with_head``             ``non_embedding`` plus the output-head matrix (vocab x d_model), counted
                              whether or not it is tied: the weights a token passes through, the N for which
                              2N is the forward matmul cost *including* the logits (Porian et al. 2024).
    ``active``                ``total`` with only ``n_active_experts`` of the MoE experts (router included);
                              equals ``total`` for dense models.
    ``active_non_embedding``  ``non_embedding`` with only the active experts.
    ``nanogpt``               nanoGPT's ``get_num_params(non_embedding=True)``: total minus the learned
                              position embedding (the token embedding stays, because it is tied to the head).

FLOP conventions (:func:`flops_breakdown`, :func:`flops_per_token`)
    ``6N``                 6 x N, N under ``param_convention`` (default ``active``, = total for dense models).
    ``kaplan``             Kaplan et al. 2020 Table 1: forward = 2 N_nonemb + 2 n_layer n_ctx d_attn, x 3.
    ``chinchilla``         Hoffmann et al. 2022 App. F as printed: embeddings, QKV, QK logits, softmax
                           (3 heads seq^2), softmax @ V, output projection, dense block, final logits;
                           backward = 2 x forward.
    ``chinchilla-nonemb``  the same without the embedding and final-logit terms. This is what reproduces the
                           paper's Table A4 ratios (per the authors, as reported in nanoGPT's
                           ``scaling_laws.ipynb``; with them the ratios come out 1.2-1.6, not 0.99-1.10).
    ``palm``               Chowdhery et al. 2022 App. B model FLOPs: 6N + 12 L H Q T, with N under
                           ``param_convention`` (default ``non_embedding``; whether PaLM's N excludes the
                           embedding is not verified here, so choose explicitly when it matters).
    ``deepseek``           Bi et al. 2024 eq. 2, M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq
                           (non-embedding FLOPs/token incl. attention). Generalised as
                           6 x (attention + active MLP weight matrices) + 12 n_layer d_attn seq_len, which is
                           exactly eq. 2 for MHA with d_ff = 4 d_model and no biases counted.

Sequence-length terms use the full (non-causal) ``seq_len`` x ``seq_len`` attention, as every paper above does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from ._errors import InputError

__all__ = [
    "Architecture", "ParamCount", "FlopCount", "count_params", "flops_breakdown", "flops_per_token",
    "training_flops", "inference_flops_per_token", "parse_architecture", "get_architecture",
    "list_architectures", "ARCHITECTURES", "PARAM_CONVENTIONS", "FLOP_CONVENTIONS",
]

PARAM_CONVENTIONS: tuple[str, ...] = (
    "total", "non_embedding", "with_head", "without_head", "active", "active_non_embedding", "nanogpt",
)
FLOP_CONVENTIONS: tuple[str, ...] = ("6N", "kaplan", "chinchilla", "chinchilla-nonemb", "palm", "deepseek")

_FLOP_ALIASES = {
    "6n": "6N", "6nd": "6N", "6": "6N", "kaplan": "kaplan", "kaplan2020": "kaplan",
    "chinchilla": "chinchilla", "hoffmann": "chinchilla", "chinchilla-nonemb": "chinchilla-nonemb",
    "chinchilla-a4": "chinchilla-nonemb", "chinchilla_nonemb": "chinchilla-nonemb", "palm": "palm",
    "deepseek": "deepseek",
}
_PARAM_ALIASES = {
    "total": "total", "all": "total", "non_embedding": "non_embedding", "non-embedding": "non_embedding",
    "nonemb": "non_embedding", "kaplan": "non_embedding", "with_head": "with_head", "with-head": "with_head",
    "without_head": "without_head", "without-head": "without_head", "active": "active",
    "active_non_embedding": "active_non_embedding", "active-non-embedding": "active_non_embedding",
    "nanogpt": "nanogpt",
}


# ---------------------------------------------------------------------------------------------- architecture
@dataclass(frozen=True)
class Architecture:
    """A decoder-only Transformer, enough to count its parameters and FLOPs exactly.

    Layout (pre-norm, as nanoGPT / Llama): token embedding (vocab_size x d_model), learned position
    embedding (seq_len x d_model) when ``positional="learned"``, ``n_layer`` blocks of
    [norm, attention (q, k, v, o), norm, MLP], a final norm and an output head (vocab_size x d_model, no
    bias; shares the token embedding when ``tied_embeddings``).

    Attention: q and o are d_model x (n_heads * head_dim); k and v are d_model x (n_kv_heads * head_dim)
    (grouped-query attention when n_kv_heads < n_heads). MLP: ``gelu`` has 2 matrices d_model <-> d_ff,
    ``swiglu`` 3 (gate, up, down). MoE (``n_experts > 1``): ``n_experts`` copies of that MLP plus a router
    d_model x n_experts (no bias); ``n_active_experts`` of them run per token. ``bias=True`` puts a bias on
    every Linear inside the blocks (q, k, v, o and every expert matrix; never the router or the head) and on
    every LayerNorm. Norms: LayerNorm has a weight (+ bias), RMSNorm a weight only.

    ``d_ff`` defaults to ``round(ffn_mult * d_model)``; ``head_dim`` to ``d_model // n_heads``;
    ``n_kv_heads`` to ``n_heads``.
    """

    n_layer: int
    d_model: int
    n_heads: int
    vocab_size: int
    seq_len: int
    n_kv_heads: int | None = None
    d_ff: int | None = None
    ffn_mult: float = 4.0
    mlp: str = "gelu"            # "gelu" (2 matrices) | "swiglu" (3 matrices)
    positional: str = "learned"  # "learned" (a seq_len x d_model table) | "rope" (no parameters)
    tied_embeddings: bool = True
    bias: bool = False
    norm: str = "layernorm"      # "layernorm" | "rmsnorm"
    n_experts: int = 1
    n_active_experts: int = 1
    head_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("n_layer", "d_model", "n_heads", "vocab_size", "seq_len", "n_experts", "n_active_experts"):
            _check_pos_int(name, getattr(self, name))
        for name in ("n_kv_heads", "d_ff", "head_dim"):
            if getattr(self, name) is not None:
                _check_pos_int(name, getattr(self, name))
        for name in ("tied_embeddings", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"Architecture.{name}: expected True or False, got {getattr(self, name)!r}")
        if isinstance(self.ffn_mult, bool) or not isinstance(self.ffn_mult, int | float) \
                or not math.isfinite(self.ffn_mult) or self.ffn_mult <= 0:
            raise InputError(f"Architecture.ffn_mult: expected a positive number, got {self.ffn_mult!r}")
        for name, allowed in (("mlp", ("gelu", "swiglu")), ("positional", ("learned", "rope")),
                              ("norm", ("layernorm", "rmsnorm"))):
            if getattr(self, name) not in allowed:
                raise InputError(f"Architecture.{name}: expected one of {', '.join(allowed)}; "
                                 f"got {getattr(self, name)!r}")
        if self.head_dim is None and self.d_model % self.n_heads:
            raise InputError(f"Architecture.n_heads: d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; give head_dim explicitly")
        if self.n_heads % self.kv_heads:
            raise InputError(f"Architecture.n_kv_heads: {self.kv_heads} does not divide n_heads={self.n_heads}")
        if self.n_active_experts > self.n_experts:
            raise InputError(f"Architecture.n_active_experts: {self.n_active_experts} exceeds "
                             f"n_experts={self.n_experts}")
        if self.d_ff is None and round(self.ffn_mult * self.d_model) < 1:
            raise InputError(f"Architecture.ffn_mult: {self.ffn_mult} x d_model gives an empty MLP")

    # derived sizes ---------------------------------------------------------------------------------------
    @property
    def kv_heads(self) -> int:
        """Number of key/value heads (``n_kv_heads``, default ``n_heads``)."""
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def head_size(self) -> int:
        """Per-head dimension (``head_dim``, default ``d_model // n_heads``)."""
        return self.d_model // self.n_heads if self.head_dim is None else self.head_dim

    @property
    def d_attn(self) -> int:
        """Width of the query/output projection, ``n_heads * head_size``."""
        return self.n_heads * self.head_size

    @property
    def d_kv(self) -> int:
        """Width of the key (and of the value) projection, ``kv_heads * head_size``."""
        return self.kv_heads * self.head_size

    @property
    def ff_size(self) -> int:
        """Hidden width of one MLP (``d_ff``, default ``round(ffn_mult * d_model)``)."""
        return int(round(self.ffn_mult * self.d_model)) if self.d_ff is None else self.d_ff

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model (``n_experts > 1``)."""
        return self.n_experts > 1

    def replace(self, **changes: Any) -> Architecture:
        """A copy with some fields changed (validated again)."""
        return Architecture(**{**asdict(self), **changes})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (``n_layer``, ``d_model``, ``n_heads``, ``vocab_size``, ...)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Build from a mapping; unknown keys raise :class:`InputError` naming them.

        Raises
        ------
        InputError
            If ``data`` has unknown keys or lacks a required field, or a value is invalid.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"Architecture: unknown field(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        try:
            return cls(**dict(data))
        except TypeError as exc:  # missing required fields
            missing = [f.name for f in fields(cls)
                       if f.default is MISSING and f.default_factory is MISSING and f.name not in data]
            raise InputError(f"Architecture: missing required field(s) {', '.join(missing)}") from exc


def _check_pos_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"Architecture.{name}: expected a positive integer, got {value!r}")


# ------------------------------------------------------------------------------------- named architectures
#: Published architectures (hyper-parameters from the cited papers / released configs).
ARCHITECTURES: dict[str, Architecture] = {
    # GPT-2 (Radford et al. 2019; HF config): biases on, LayerNorm, tied, learned positions.
    "gpt2": Architecture(12, 768, 12, 50257, 1024, bias=True),
    "gpt2-medium": Architecture(24, 1024, 16, 50257, 1024, bias=True),
    "gpt2-large": Architecture(36, 1280, 20, 50257, 1024, bias=True),
    "gpt2-xl": Architecture(48, 1600, 25, 50257, 1024, bias=True),
    # GPT-3 175B (Brown et al. 2020, Table 2.1).
    "gpt3-175b": Architecture(96, 12288, 96, 50257, 2048, bias=True),
    # Llama 2 (Touvron et al. 2023; HF configs).
    "llama2-7b": Architecture(32, 4096, 32, 32000, 4096, d_ff=11008, mlp="swiglu", positional="rope",
                              tied_embeddings=False, norm="rmsnorm"),
    "llama2-70b": Architecture(80, 8192, 64, 32000, 4096, n_kv_heads=8, d_ff=28672, mlp="swiglu",
                               positional="rope", tied_embeddings=False, norm="rmsnorm"),
    # Llama 3 8B (Grattafiori et al. 2024; HF config).
    "llama3-8b": Architecture(32, 4096, 32, 128256, 8192, n_kv_heads=8, d_ff=14336, mlp="swiglu",
                              positional="rope", tied_embeddings=False, norm="rmsnorm"),
    # Mixtral 8x7B (Jiang et al. 2024; HF config): 8 experts, top-2.
    "mixtral-8x7b": Architecture(32, 4096, 32, 32000, 32768, n_kv_heads=8, d_ff=14336, mlp="swiglu",
                                 positional="rope", tied_embeddings=False, norm="rmsnorm", n_experts=8,
                                 n_active_experts=2),
}
_ARCH_ALIASES = {"gpt2-small": "gpt2", "gpt-2": "gpt2", "gpt3": "gpt3-175b", "gpt-3": "gpt3-175b"}


def list_architectures() -> list[str]:
    """Names accepted by :func:`get_architecture`."""
    return list(ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    """A published architecture by name (case-insensitive), e.g. ``"gpt2"``, ``"llama2-7b"``.

    Raises
    ------
    InputError
        If ``name`` is not a known architecture (the message lists the known ones).
    """
    key = name.strip().lower()
    key = _ARCH_ALIASES.get(key, key)
    if key not in ARCHITECTURES:
        raise InputError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[key]


_ARCH_KEYS = {
    "n_layer": "n_layer", "n_layers": "n_layer", "layers": "n_layer", "l": "n_layer",
    "d_model": "d_model", "d": "d_model", "n_embd": "d_model", "hidden": "d_model", "hidden_size": "d_model",
    "n_heads": "n_heads", "n_head": "n_heads", "heads": "n_heads", "h": "n_heads",
    "vocab": "vocab_size", "vocab_size": "vocab_size", "v": "vocab_size",
    "seq": "seq_len", "seq_len": "seq_len", "ctx": "seq_len", "n_ctx": "seq_len", "block_size": "seq_len",
    "t": "seq_len",
    "n_kv_heads": "n_kv_heads", "kv_heads": "n_kv_heads", "kv": "n_kv_heads",
    "d_ff": "d_ff", "ffw_size": "d_ff", "ffn": "d_ff", "intermediate_size": "d_ff",
    "ffn_mult": "ffn_mult", "mlp": "mlp", "positional": "positional", "pos": "positional",
    "tied": "tied_embeddings", "tied_embeddings": "tied_embeddings", "bias": "bias", "norm": "norm",
    "n_experts": "n_experts", "experts": "n_experts",
    "n_active_experts": "n_active_experts", "active_experts": "n_active_experts", "top_k": "n_active_experts",
    "head_dim": "head_dim", "kv_size": "head_dim",
}
_BOOL = {"true": True, "1": True, "yes": True, "y": True, "on": True,
         "false": False, "0": False, "no": False, "n": False, "off": False}


def parse_architecture(spec: str | Mapping[str, Any] | Architecture) -> Architecture:
    """An :class:`Architecture` from ``"n_layer=12,d_model=768,n_heads=12,vocab=50257,seq=1024"``.

    A spec may start with a published name and override fields: ``"llama2-7b,seq=2048"``. Integers accept
    unit strings (``vocab=32k`` = 32000, ``seq=2^11`` = 2048). Booleans accept true/false/yes/no/1/0.
    Key aliases: ``vocab``, ``seq``/``ctx``, ``kv``/``n_kv_heads``, ``ffw_size``/``d_ff``, ``tied``, ...

    Raises
    ------
    InputError
        If the spec is malformed, names an unknown key or architecture, lacks a required field, or a value
        is not an integer / boolean where one is needed.
    """
    if isinstance(spec, Architecture):
        return spec
    if isinstance(spec, Mapping):
        return Architecture.from_dict(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("architecture: expected 'key=value,...' or a name such as 'gpt2'")
    base: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for i, part in enumerate(p.strip() for p in re.split(r"[,\s]+", spec.strip()) if p.strip()):
        if "=" not in part:
            if i == 0:
                base = get_architecture(part).to_dict()
                continue
            raise InputError(f"architecture: expected key=value, got {part!r}")
        key, _, raw = part.partition("=")
        key = key.strip().lower()
        if key not in _ARCH_KEYS:
            raise InputError(f"architecture: unknown key {key!r}; use e.g. n_layer, d_model, n_heads, vocab, "
                             f"seq, n_kv_heads, d_ff, mlp, positional, tied, bias, norm, n_experts, "
                             f"n_active_experts, head_dim")
        name = _ARCH_KEYS[key]
        values[name] = _coerce(name, raw.strip())
    merged = {**base, **values}
    required = ("n_layer", "d_model", "n_heads", "vocab_size", "seq_len")
    missing = [r for r in required if r not in merged]
    if missing:
        raise InputError(f"architecture: missing {', '.join(missing)} "
                         f"(e.g. n_layer=12,d_model=768,n_heads=12,vocab=50257,seq=1024)")
    return Architecture(**merged)


def _coerce(name: str, raw: str) -> Any:
    if name in ("mlp", "positional", "norm"):
        return raw.lower()
    if name in ("tied_embeddings", "bias"):
        if raw.lower() not in _BOOL:
            raise InputError(f"architecture: {name} expects true/false, got {raw!r}")
        return _BOOL[raw.lower()]
    from .units import parse_quantity

    value = parse_quantity(raw, what=f"architecture {name}")
    if name == "ffn_mult":
        return value
    if value != int(value):
        raise InputError(f"architecture: {name} must be an integer, got {raw!r}")
    return int(value)


# ------------------------------------------------------------------------------------------------- params
@dataclass(frozen=True)
class ParamCount:
    """An itemised parameter count (exact integers).

    ``items`` maps ``group.part`` to a count, e.g. ``attention.q``, ``mlp.experts``, ``norm.final``; groups
    are ``embedding``, ``position``, ``attention``, ``mlp``, ``norm`` and ``head``. ``head`` is the *extra*
    parameters of the output head (0 when tied). ``mlp_active`` is the MLP count with only the active
    experts (= ``mlp`` for dense models).
    """

    arch: Architecture
    items: Mapping[str, int]
    mlp_active: int
    head_matrix: int  # vocab_size x d_model, whether tied or not

    def group(self, name: str) -> int:
        """Parameters in group ``name`` (``"attention"`` sums ``attention.*``; an exact item name works too); 0 if none."""
        return sum(v for k, v in self.items.items() if k == name or k.startswith(name + "."))

    @property
    def groups(self) -> dict[str, int]:
        """Parameters per group: ``embedding``, ``position``, ``attention``, ``mlp``, ``norm``, ``head``."""
        return {g: self.group(g) for g in ("embedding", "position", "attention", "mlp", "norm", "head")}

    @property
    def embedding(self) -> int:
        """Token-embedding parameters (vocab_size x d_model)."""
        return self.group("embedding")

    @property
    def position(self) -> int:
        """Learned position-embedding parameters (seq_len x d_model; 0 for RoPE)."""
        return self.group("position")

    @property
    def attention(self) -> int:
        """Attention parameters over all layers (Q, K, V, output projection, biases)."""
        return self.group("attention")

    @property
    def mlp(self) -> int:
        """MLP parameters over all layers, all experts included (see ``mlp_active`` for active only)."""
        return self.group("mlp")

    @property
    def norm(self) -> int:
        """Norm weights (and biases) over all layers, the final norm included."""
        return self.group("norm")

    @property
    def head(self) -> int:
        """Extra parameters of an untied output head (vocab_size x d_model, + bias); 0 when tied."""
        return self.group("head")

    @property
    def total(self) -> int:
        """Every distinct parameter: ``sum(p.numel())`` of the model."""
        return sum(self.items.values())

    @property
    def non_embedding(self) -> int:
        """Kaplan's N: total minus token embedding, position embedding and (untied) output head."""
        return self.total - self.embedding - self.position - self.head

    @property
    def active(self) -> int:
        """Parameters used per token (MoE: only the active experts); = total for dense models."""
        return self.total - self.mlp + self.mlp_active

    def by_convention(self, name: str) -> int:
        """The count under a named convention (see the module docstring for the definitions).

        Raises
        ------
        InputError
            If ``name`` is not a known parameter convention.
        """
        conv = _PARAM_ALIASES.get(str(name).strip().lower())
        if conv is None:
            raise InputError(f"unknown parameter convention {name!r}; known: {', '.join(PARAM_CONVENTIONS)}")
        if conv == "total":
            return self.total
        if conv in ("non_embedding", "without_head"):
            return self.non_embedding
        if conv == "with_head":
            return self.non_embedding + self.head_matrix
        if conv == "active":
            return self.active
        if conv == "active_non_embedding":
            return self.non_embedding - self.mlp + self.mlp_active
        return self.total - self.position  # nanogpt

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; keys ``items``, ``groups``, ``total``, ``non_embedding``, ``active``, ``conventions``
        (convention name -> parameters) and ``architecture``.
        """
        return {"items": dict(self.items), "groups": self.groups, "total": self.total,
                "non_embedding": self.non_embedding, "active": self.active,
                "conventions": {c: self.by_convention(c) for c in PARAM_CONVENTIONS},
                "architecture": self.arch.to_dict()}


def count_params(arch: Architecture | str | Mapping[str, Any]) -> ParamCount:
    """Count the parameters of ``arch`` exactly, itemised by group.

    >>> count_params(Architecture(12, 768, 12, 50257, 1024)).total   # GPT-2 small, no biases (nanoGPT)
    124337664
    """
    a = parse_architecture(arch)
    d, L, b = a.d_model, a.n_layer, int(a.bias)
    items: dict[str, int] = {"embedding": a.vocab_size * d}
    items["position"] = a.seq_len * d if a.positional == "learned" else 0
    items["attention.q"] = L * d * a.d_attn
    items["attention.k"] = L * d * a.d_kv
    items["attention.v"] = L * d * a.d_kv
    items["attention.o"] = L * a.d_attn * d
    items["attention.bias"] = L * b * (a.d_attn + 2 * a.d_kv + d)
    n_mats = 3 if a.mlp == "swiglu" else 2
    one_mlp = n_mats * d * a.ff_size + b * ((n_mats - 1) * a.ff_size + d)
    items["mlp.experts" if a.is_moe else "mlp.dense"] = L * a.n_experts * one_mlp
    items["mlp.router"] = L * d * a.n_experts if a.is_moe else 0
    per_norm = d * (2 if (a.norm == "layernorm" and a.bias) else 1)
    items["norm.layers"] = L * 2 * per_norm
    items["norm.final"] = per_norm
    items["head"] = 0 if a.tied_embeddings else a.vocab_size * d
    mlp_active = L * a.n_active_experts * one_mlp + items["mlp.router"]
    pc = ParamCount(arch=a, items=items, mlp_active=mlp_active, head_matrix=a.vocab_size * d)
    # the groups partition the items: they must add up to the total
    assert sum(pc.groups.values()) == pc.total, (pc.groups, pc.total)
    return pc


def _weight_matrices(a: Architecture) -> tuple[int, int]:
    """(attention weight-matrix params, active MLP weight-matrix params) over all layers; no biases/norms."""
    n_mats = 3 if a.mlp == "swiglu" else 2
    attn = a.n_layer * a.d_model * (2 * a.d_attn + 2 * a.d_kv)
    mlp = a.n_layer * (a.n_active_experts * n_mats * a.d_model * a.ff_size
                       + (a.d_model * a.n_experts if a.is_moe else 0))
    return attn, mlp


# -------------------------------------------------------------------------------------------------- flops
@dataclass(frozen=True)
class FlopCount:
    """An itemised FLOP count of one convention.

    ``items`` maps each term to training FLOPs per token (forward + backward); ``per_token`` is their sum
    and ``forward_per_token`` a third of it. ``n_params`` is the N used by N-based conventions (``6N``,
    ``kaplan``, ``palm``) under ``param_convention``, else ``None``.
    """

    convention: str
    items: Mapping[str, float]
    param_convention: str | None = None
    n_params: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def per_token(self) -> float:
        """Training FLOPs per token (forward + backward): the sum of ``items``."""
        return float(sum(self.items.values()))

    @property
    def forward_per_token(self) -> float:
        """Forward-pass FLOPs per token: a third of `per_token`."""
        return self.per_token / 3.0

    def training(self, n_tokens: float) -> float:
        """Training FLOPs for ``n_tokens`` tokens."""
        return self.per_token * float(n_tokens)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; keys ``convention``, ``flops_per_token``, ``forward_flops_per_token`` (FLOPs/token),
        ``items``, ``param_convention``, ``n_params`` and ``notes``.
        """
        return {"convention": self.convention, "flops_per_token": self.per_token,
                "forward_flops_per_token": self.forward_per_token, "items": dict(self.items),
                "param_convention": self.param_convention, "n_params": self.n_params,
                "notes": list(self.notes)}


def normalize_flop_convention(name: str) -> str:
    """Canonical FLOP-convention name (``"6nd"`` → ``"6N"``); :class:`InputError` if unknown.

    Raises
    ------
    InputError
        If ``name`` is not a known FLOP convention.
    """
    conv = _FLOP_ALIASES.get(str(name).strip().lower())
    if conv is None:
        raise InputError(f"unknown FLOP convention {name!r}; known: 6N (6ND), kaplan, chinchilla, "
                         f"chinchilla-nonemb, palm, deepseek")
    return conv


def flops_breakdown(arch: Architecture | str | Mapping[str, Any], convention: str = "6N", *,
                    param_convention: str | None = None) -> FlopCount:
    """Training FLOPs per token of ``arch`` under ``convention``, itemised (see the module docstring)."""
    a = parse_architecture(arch)
    conv = normalize_flop_convention(convention)
    pc = count_params(a)
    S, L, d, V = a.seq_len, a.n_layer, a.d_model, a.vocab_size
    if conv == "6N":
        pconv = param_convention or "active"
        n = pc.by_convention(pconv)
        return FlopCount(conv, {"params": 6.0 * n}, pconv, n, ("6 x N per training token",))
    if conv == "kaplan":
        pconv = param_convention or "active_non_embedding"
        n = pc.by_convention(pconv)
        items = {"params": 3.0 * 2 * n, "attention.context": 3.0 * 2 * L * S * a.d_attn}
        return FlopCount(conv, items, pconv, n, (
            "Kaplan et al. 2020 Table 1: forward 2N + 2 n_layer n_ctx d_attn, backward 2x forward",
            "embedding and de-embedding (2 d_model n_vocab) excluded"))
    if conv == "palm":
        pconv = param_convention or "non_embedding"
        n = pc.by_convention(pconv)
        items = {"params": 6.0 * n, "attention.context": 12.0 * L * a.n_heads * a.head_size * S}
        return FlopCount(conv, items, pconv, n, (
            "PaLM App. B model FLOPs: 6N + 12 L H Q T (rematerialisation not counted)",
            f"N = {pconv} parameters (PaLM's choice of N is not verified here)"))
    if conv == "deepseek":
        attn_w, mlp_w = _weight_matrices(a)
        items = {"attention.proj": 6.0 * attn_w, "mlp": 6.0 * mlp_w,
                 "attention.context": 12.0 * L * a.d_attn * S}
        return FlopCount(conv, items, None, None, (
            "DeepSeek LLM eq. 2: M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq for MHA, d_ff = 4 d_model",
            "generalised: 6 x (attention + active MLP weight matrices) + 12 n_layer d_attn seq_len",
            "embeddings, logits, norms and biases excluded"))
    # chinchilla (App. F), per sequence forward, then / seq_len, x 3
    hd_total = a.d_attn
    n_mats = 3 if a.mlp == "swiglu" else 2
    fwd_seq = {
        "embeddings": 2.0 * S * V * d,
        "attention.qkv": 2.0 * S * d * (a.d_attn + 2 * a.d_kv),
        "attention.logits": 2.0 * S * S * hd_total * L,
        "attention.softmax": 3.0 * a.n_heads * S * S * L,
        "attention.values": 2.0 * S * S * hd_total * L,
        "attention.out": 2.0 * S * hd_total * d * L,
        "mlp": 2.0 * S * a.n_active_experts * n_mats * d * a.ff_size * L,
        "mlp.router": 2.0 * S * d * a.n_experts * L if a.is_moe else 0.0,
        "logits": 2.0 * S * d * V,
    }
    fwd_seq["attention.qkv"] *= L
    notes = ["Hoffmann et al. 2022 App. F; backward = 2 x forward; per token = per sequence / seq_len"]
    if a.kv_heads != a.n_heads or a.mlp != "gelu" or a.is_moe:
        notes.append("generalised to GQA (k, v of n_kv_heads), SwiGLU (3 matrices) and MoE (active experts "
                     "+ router)")
    if conv == "chinchilla-nonemb":
        del fwd_seq["embeddings"], fwd_seq["logits"]
        notes.append("embeddings and final logits excluded, as in the paper's Table A4")
    if not a.is_moe:
        del fwd_seq["mlp.router"]
    items = {k: 3.0 * v / S for k, v in fwd_seq.items()}
    return FlopCount(conv, items, None, None, tuple(notes))


def flops_per_token(arch: Architecture | str | Mapping[str, Any], convention: str = "6N", *,
                    param_convention: str | None = None) -> float:
    """Training FLOPs per token (forward + backward) of ``arch`` under ``convention``."""
    return flops_breakdown(arch, convention, param_convention=param_convention).per_token


def inference_flops_per_token(n_params: float | None = None, *, arch: Any = None) -> float:
    """Forward-only FLOPs per processed/generated token, 2N (Kaplan; Sardana et al. 2024).

    N is ``n_params`` or, from ``arch``, the active parameters including the output head's matmul
    (``with_head`` with active experts), which is what a forward pass multiplies by.

    Raises
    ------
    InputError
        If neither ``n_params`` nor ``arch`` is given, or ``n_params`` is not a positive finite number.
    """
    if n_params is None:
        if arch is None:
            raise InputError("inference_flops_per_token: give n_params or arch")
        pc = count_params(arch)
        return 2.0 * (pc.by_convention("active_non_embedding") + pc.head_matrix)
    return 2.0 * _positive("n_params", n_params)


def training_flops(n_params: float | None, n_tokens: float, convention: str = "6ND",
                   arch: Architecture | str | Mapping[str, Any] | None = None, *,
                   param_convention: str | None = None) -> float:
    """Training FLOPs for ``n_tokens`` tokens.

    ``6ND`` needs only N (parameters) and D (tokens); given ``arch`` and no N, N comes from the architecture
    (``param_convention``, default active = total for dense). Every other convention needs ``arch``, and
    then ``n_params`` is not used.

    >>> training_flops(175e9, 300e9)   # GPT-3
    3.15e+23

    Raises
    ------
    InputError
        If neither ``n_params`` nor ``arch`` is given, a convention other than 6ND has no ``arch``, the
        convention is unknown, or ``n_params``/``n_tokens`` is not a positive finite number.
    """
    from .units import parse_quantity

    D = _positive("n_tokens", parse_quantity(n_tokens, what="n_tokens"))
    conv = normalize_flop_convention(convention)
    if conv == "6N" and n_params is not None:
        return 6.0 * _positive("n_params", parse_quantity(n_params, what="n_params")) * D
    if arch is None:
        if conv == "6N":
            raise InputError("training_flops: give n_params or an architecture")
        raise InputError(f"training_flops: the {conv!r} convention needs an architecture (arch=...); "
                         f"only 6ND works from N and D alone")
    return flops_per_token(arch, conv, param_convention=param_convention) * D


def _positive(name: str, value: Any) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name}: expected a positive finite number, got {value!r}")
    return v
