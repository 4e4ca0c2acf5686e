"""GPU MFU of the built-in trainer on a GPT-2-small-sized model (~124M parameters).

Trains a 12-layer, 768-wide, 12-head GPT (vocabulary 50,304, context 1,024; nanoGPT's GPT-2 small) with
``scalinglab.runner.train.train_run`` on a nanoGPT-style ``uint16`` ``.bin`` memmap of random token ids: CUDA,
bf16 autocast, fused AdamW, SDPA (flash) attention, ``torch.compile`` (``--no-compile`` to skip it). The
model FLOPs per token are PaLM's ``6N + 12 L H Q T`` (nanoGPT's MFU formula; N = non-embedding parameters) and
the peak is the GPU's dense BF16 peak from scalinglab's hardware catalog, so

    MFU = tokens/s × FLOPs/token ÷ peak FLOP/s,

measured over the steps after ``--warmup`` (the first steps include compilation). Goal: ≥ 40 % on one H100
(the level nanoGPT reports on an A100).

Without CUDA nothing is measured; the script says so and ends with ``gpu_mfu: not measured``.

Usage: python bench/gpu_mfu.py [--steps 60] [--warmup 15] [--batch 16] [--no-compile]
Last line: ``gpu_mfu: <fraction>`` or ``gpu_mfu: not measured``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=15, help="steps excluded from the timing (compilation)")
    ap.add_argument("--batch", type=int, default=16, help="sequences of 1,024 tokens per step")
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        print("no CUDA GPU on this machine: MFU of the ~124M model not measured (the CPU path is the tested "
              "default; run this script on a GPU machine)")
        print("gpu_mfu: not measured")
        return

    from scalinglab.runner.spec import expand_spec
    from scalinglab.runner.train import _peak_flops, train_run
    from scalinglab.store import Store

    name = torch.cuda.get_device_name(0)
    peak = _peak_flops("cuda")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tokens.bin")
        rng = np.random.default_rng(0)
        rng.integers(0, 50304, size=40_000_000, dtype=np.uint16).tofile(path)
        seq = 1024
        spec = {"defaults": {"data": {"path": path, "vocab_size": 50304}, "seq_len": seq, "schedule": "cosine",
                             "batch_size": a.batch, "lr": 6e-4, "warmup_steps": 10, "eval_every": 10**9,
                             "eval_windows": 8, "checkpoint_every": 10**9, "flops_convention": "palm",
                             "param_convention": "non_embedding"},
                "runs": [{"arch": {"n_layer": 12, "d_model": 768, "n_heads": 12, "vocab_size": 50304},
                          "tokens": a.steps * a.batch * seq}]}
        cfg = expand_spec(spec).runs[0]
        fpt = cfg.flops_per_token()
        times: list[float] = []

        def progress(ev: dict) -> None:
            if ev["event"] == "step":
                torch.cuda.synchronize()
                times.append(time.perf_counter())

        store = Store(os.path.join(d, "runs.db"))
        os.environ["SCALINGLAB_DATA_CACHE"] = os.path.join(d, "cache")
        res = train_run(cfg, store=store, workdir=os.path.join(d, "ck"), device="cuda", progress=progress,
                        compile_model=not a.no_compile)
        store.close()
    steady = times[a.warmup:]
    tps = (len(steady) - 1) * cfg.batch_tokens / (steady[-1] - steady[0])
    print(f"GPU: {name}; peak dense BF16 {peak / 1e12:.0f} TFLOP/s (catalog)" if peak else f"GPU: {name}")
    print(f"model: {cfg.n_params():,} non-embedding params ({res.params:,} under the run's convention), "
          f"seq_len {seq}, batch {a.batch} × {seq} tokens, compile {not a.no_compile}")
    print(f"steady state over {len(steady) - 1} steps: {tps:,.0f} tokens/s, {tps * fpt / 1e12:.1f} TFLOP/s "
          f"({fpt:.3g} FLOPs/token, PaLM 6N + 12LHQT)")
    print(f"runner-reported (whole run incl. compilation): {res.tokens_per_second:,.0f} tokens/s, MFU "
          f"{res.mfu if res.mfu is None else f'{res.mfu:.1%}'}")
    if peak is None:
        print("gpu_mfu: not measured")
        return
    print(f"gpu_mfu: {tps * fpt / peak:.3f}")


if __name__ == "__main__":
    main()
