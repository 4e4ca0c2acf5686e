"""A minimal plain-PyTorch GPT trainer that reports to scalinglab through ``scalinglab.track``.

It does not import ``scalinglab.runner``: this is what *your* training script looks like after adding four
lines (``track.log``, ``track.checkpoint``, ``track.finish`` and reading ``--resume``). Run it on its own::

    python examples/trainers/gpt_track.py --data corpus.txt --n_layer 2 --d_model 64 --max_tokens 200000

or as the trainer of a sweep (``scalinglab run ladder.toml``)::

    [trainer]
    command = ["python", "gpt_track.py", "--data={data_path}", "--n_layer={n_layer}", "--d_model={d_model}",
               "--n_heads={n_heads}", "--seq_len={seq_len}", "--vocab_size={vocab_size}",
               "--max_tokens={tokens}", "--batch_size={batch_size}", "--lr={lr}", "--warmup={warmup}",
               "--seed={seed}", "--out_dir={run_dir}", "--resume={resume}"]

Data: a text file / glob (byte-level tokens, vocabulary 256) or a flat ``uint16`` ``.bin`` of token ids; the
last 10 % of it is the validation split. Batches are a pure function of ``(seed, step)`` and the checkpoint
holds model, optimizer and step, so a resumed run continues exactly where it stopped. Losses: nats/token.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from scalinglab import track


class Block(nn.Module):
    def __init__(self, d: int, h: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.h = h

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, seq_len: int, n_layer: int, d: int, h: int):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(seq_len, d)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(n_layer))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight  # tied embeddings

    def forward(self, idx, targets):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def load_tokens(pattern: str) -> np.ndarray:
    files = sorted(glob.glob(pattern, recursive=True))
    if not files:
        raise SystemExit(f"no data file matches {pattern}")
    if files[0].endswith(".bin"):
        return np.concatenate([np.memmap(f, dtype=np.uint16, mode="r") for f in files]).astype(np.int64)
    return np.frombuffer(b"\n".join(open(f, "rb").read() for f in files), dtype=np.uint8).astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--n_layer", type=int, default=2)
    ap.add_argument("--d_model", type=int, default=64)
    ap.add_argument("--n_heads", type=int, default=4)
    ap.add_argument("--seq_len", type=int, default=64)
    ap.add_argument("--vocab_size", type=int, default=256)
    ap.add_argument("--max_tokens", type=int, default=100_000)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval_every", type=int, default=20)
    ap.add_argument("--ckpt_every", type=int, default=20)
    ap.add_argument("--out_dir", default="gpt_track_out")
    ap.add_argument("--resume", default="")
    ap.add_argument("--step_delay", type=float, default=0.0, help="seconds to sleep per step (demos and tests)")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    tokens = load_tokens(a.data)
    n_val = max(a.seq_len + 1, len(tokens) // 10)
    train, val = tokens[:-n_val], tokens[-n_val:]
    model = GPT(a.vocab_size, a.seq_len, a.n_layer, a.d_model, a.n_heads)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    steps = max(1, math.ceil(a.max_tokens / (a.batch_size * a.seq_len)))
    step = 0
    if a.resume:  # the last checkpoint this run reported (scalinglab passes it as {resume})
        state = torch.load(a.resume, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        print(f"resumed from {a.resume} at step {step}", flush=True)

    def batch(s: int, data: np.ndarray, n: int, rng_key) -> tuple[torch.Tensor, torch.Tensor]:
        starts = np.random.default_rng(rng_key).integers(0, len(data) - a.seq_len - 1, size=n)
        w = torch.from_numpy(np.stack([data[i:i + a.seq_len + 1] for i in starts]))
        return w[:, :-1], w[:, 1:]

    vx, vy = batch(0, val, 32, [a.seed, 12345])

    @torch.no_grad()
    def val_loss() -> float:
        model.eval()
        loss = model(vx, vy).item()
        model.train()
        return loss

    def save(s: int) -> None:
        os.makedirs(a.out_dir, exist_ok=True)
        path = os.path.join(a.out_dir, f"ckpt_{s}.pt")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": s}, path + ".tmp")
        os.replace(path + ".tmp", path)  # atomic: a killed run never leaves half a checkpoint
        track.checkpoint(path, step=s, tokens=s * a.batch_size * a.seq_len)

    while step < steps:
        lr = a.lr * min(1.0, (step + 1) / max(1, a.warmup)) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch(step, train, a.batch_size, [a.seed, step])
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        if a.step_delay:
            time.sleep(a.step_delay)
        if step % a.eval_every == 0 or step == steps:
            v = val_loss()
            track.log(step=step, tokens=step * a.batch_size * a.seq_len, loss=loss.item(), val_loss=v, lr=lr)
            print(f"step {step}/{steps} loss {loss.item():.4f} val {v:.4f}", flush=True)
        if step % a.ckpt_every == 0 and step < steps:
            save(step)
    final = val_loss()
    # byte-level tokens on text: one byte per token, so bits/byte = nats/token / ln 2 (unknown for a .bin of ids;
    # scalinglab records bits/byte only when the trainer reports it or the spec gives data.bytes_per_token)
    bpb = None if a.data.endswith(".bin") else final / math.log(2)
    track.finish(loss=final, params=sum(p.numel() for p in model.parameters()),
                 tokens=steps * a.batch_size * a.seq_len, **({"loss_bpb": bpb} if bpb is not None else {}))
    print(f"final val loss {final:.4f} nats/token", flush=True)


if __name__ == "__main__":
    main()
