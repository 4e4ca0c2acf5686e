"""A small, clean decoder-only GPT built from a :class:`scalinglab.flops.Architecture`.

Pre-norm transformer blocks (norm → attention → residual, norm → MLP → residual), causal self-attention
with optional grouped-query attention (``n_kv_heads < n_heads``), rotary (RoPE) or learned absolute
positions, a GELU or SwiGLU MLP, LayerNorm or RMSNorm, biases on or off, and optionally tied input/output
embeddings. Read top to bottom like nanoGPT's ``model.py``.

Its parameter count equals ``scalinglab.flops.count_params(arch).total`` exactly (a test checks it for
several configurations): the accounting module is the one source of truth for N and FLOPs per token.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._errors import InputError
from ..flops import Architecture, count_params

__all__ = ["GPT", "resolved_dims"]


def resolved_dims(arch: Architecture) -> dict[str, int]:
    """Head dim, KV heads and MLP width exactly as the accounting module resolves them."""
    return {"head_dim": arch.head_size, "n_kv_heads": arch.kv_heads, "d_ff": arch.ff_size}


def _check(arch: Architecture) -> None:
    dims = resolved_dims(arch)
    if arch.n_experts != 1:
        raise InputError(f"the runner's GPT does not implement mixture-of-experts (n_experts={arch.n_experts})")
    if arch.n_heads % dims["n_kv_heads"]:
        raise InputError(f"n_heads={arch.n_heads} must be a multiple of n_kv_heads={dims['n_kv_heads']}")
    if arch.positional == "rope" and dims["head_dim"] % 2:
        raise InputError(f"RoPE needs an even head_dim, got {dims['head_dim']}")
    if arch.mlp not in ("gelu", "swiglu") or arch.norm not in ("layernorm", "rmsnorm") or \
            arch.positional not in ("learned", "rope"):
        raise InputError(f"unsupported architecture option in {arch}")


def _norm(arch: Architecture) -> nn.Module:
    if arch.norm == "rmsnorm":
        return nn.RMSNorm(arch.d_model, eps=1e-6)
    return nn.LayerNorm(arch.d_model, bias=arch.bias)


def _rope_tables(seq_len: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)  # (T, head_dim/2)
    return angles.cos(), angles.sin()


def _apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: (B, H, T, hd); rotate pairs (x1, x2) of the two halves
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos[: x.shape[-2]].to(x.dtype), sin[: x.shape[-2]].to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention with optional GQA (n_kv_heads < n_heads) and RoPE.

    Input and output: (batch, seq_len, d_model) activations."""

    def __init__(self, arch: Architecture):
        super().__init__()
        dims = resolved_dims(arch)
        self.n_heads, self.n_kv, self.head_dim = arch.n_heads, dims["n_kv_heads"], dims["head_dim"]
        self.q = nn.Linear(arch.d_model, self.n_heads * self.head_dim, bias=arch.bias)
        self.k = nn.Linear(arch.d_model, self.n_kv * self.head_dim, bias=arch.bias)
        self.v = nn.Linear(arch.d_model, self.n_kv * self.head_dim, bias=arch.bias)
        self.o = nn.Linear(self.n_heads * self.head_dim, arch.d_model, bias=arch.bias)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """Causal multi-head (GQA) attention of ``x`` ``(B, T, d_model)``, RoPE applied if given; same shape out."""
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        if rope is not None:
            q, k = _apply_rope(q, *rope), _apply_rope(k, *rope)
        if self.n_kv != self.n_heads:  # grouped-query attention: share each KV head across a group
            rep = self.n_heads // self.n_kv
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class MLP(nn.Module):
    """Position-wise feed-forward block: GELU (2 matrices) or SwiGLU (3 matrices), d_model → d_ff → d_model."""

    def __init__(self, arch: Architecture):
        super().__init__()
        d_ff = resolved_dims(arch)["d_ff"]
        self.swiglu = arch.mlp == "swiglu"
        self.up = nn.Linear(arch.d_model, d_ff, bias=arch.bias)
        self.gate = nn.Linear(arch.d_model, d_ff, bias=arch.bias) if self.swiglu else None
        self.down = nn.Linear(d_ff, arch.d_model, bias=arch.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """GELU or SwiGLU feed-forward of ``x`` ``(B, T, d_model)``; same shape out."""
        h = F.silu(self.gate(x)) * self.up(x) if self.swiglu else F.gelu(self.up(x))
        return self.down(h)


class Block(nn.Module):
    """One pre-norm transformer layer: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.norm1, self.attn = _norm(arch), CausalSelfAttention(arch)
        self.norm2, self.mlp = _norm(arch), MLP(arch)

    def forward(self, x: torch.Tensor, rope) -> torch.Tensor:
        """Pre-norm residual block: ``x + attn(norm1(x))`` then ``+ mlp(norm2(x))``; ``(B, T, d_model)``."""
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    """Decoder-only transformer. ``forward(idx, targets)`` returns ``(logits, loss)``; loss in nats/token."""

    def __init__(self, arch: Architecture):
        super().__init__()
        _check(arch)
        self.arch = arch
        self.tok_emb = nn.Embedding(arch.vocab_size, arch.d_model)
        self.pos_emb = nn.Embedding(arch.seq_len, arch.d_model) if arch.positional == "learned" else None
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch.n_layer))
        self.norm_f = _norm(arch)
        self.head = None if arch.tied_embeddings else nn.Linear(arch.d_model, arch.vocab_size, bias=False)
        if arch.positional == "rope":
            cos, sin = _rope_tables(arch.seq_len, resolved_dims(arch)["head_dim"])
            self.register_buffer("rope_cos", cos, persistent=False)  # buffers, not parameters
            self.register_buffer("rope_sin", sin, persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2 style: N(0, 0.02), residual output projections scaled by 1/sqrt(2 * n_layer).
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * self.arch.n_layer) if name.endswith(("o.weight", "down.weight")) \
                    else 0.02
                nn.init.normal_(p, mean=0.0, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def num_params(self) -> int:
        """Total trainable parameters (tied embeddings counted once) — equals ``count_params(arch).total``."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits ``(B, T, vocab_size)`` for token ids ``idx`` ``(B, T)``, and the mean cross-entropy (nats/token,
        a scalar tensor) against ``targets`` ``(B, T)`` when given, else None.
        """
        B, T = idx.shape
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(T, device=idx.device))
        rope = (self.rope_cos, self.rope_sin) if self.pos_emb is None else None
        for block in self.blocks:
            x = block(x, rope)
        x = self.norm_f(x)
        logits = x @ self.tok_emb.weight.T if self.head is None else self.head(x)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


def check_param_count(model: GPT) -> int:
    """Assert torch's parameter count equals the accounting module's; return it."""
    expected = count_params(model.arch).total
    got = model.num_params()
    if got != expected:  # pragma: no cover - a bug in one side or the other
        raise AssertionError(f"torch model has {got} parameters, scalinglab.flops.count_params says {expected}")
    return got
