"""Runner overhead: tokens/s of `scalinglab.runner.train_run` vs a bare PyTorch loop, same model and data.

Both train the same GPT (from the same `Architecture`, same seed) with AdamW + grad clipping for the same
number of steps (120 × 16 sequences × 64 tokens by default), with the same torch thread count, and both
clocks start after the model is built and stop after the last step's work.

* **bare**: nanoGPT's loop and nothing else: fetch a batch, forward, backward, clip, AdamW step; one
  ``loss.item()`` at the end. No learning-rate schedule, no evaluation, no checkpoint, no store.
* **runner**: ``train_run`` as a sweep runs it, with everything a real run does inside its clock: the
  learning-rate schedule, the per-step loss read and NaN check, the lease heartbeat check, validation evals
  every 50 steps and at the end (32 fixed windows), atomic checksummed checkpoints every 50 steps (fsynced),
  and the metric rows written to a SQLite store. (Its setup, registering/claiming the run, and the final
  store transaction happen outside its clock, like the bare loop's model construction.)

Each trial runs both sides back to back, the order alternating (bare first on even trials, runner first on
odd ones), and the headline is the median over trials of that trial's runner ÷ bare ratio: a paired
comparison, because this machine is shared and its load drifts between trials.

No GPU here: MFU for a ~124M model on a GPU is NOT measured by this script on CPU (on CUDA, train_run reports
achieved FLOP/s and MFU from the hardware catalog).

``--data memmap``: both read a nanoGPT-style flat ``uint16`` ``.bin`` (the bundled text's bytes, written to
a temp folder): the runner through ``data = { path = "tokens.bin", vocab_size = 256 }`` (memory-mapped,
block split, fixed validation windows), the bare loop with nanoGPT's ``get_batch`` (random offsets into an
``np.memmap``). ``--data text`` (default): both use the runner's in-memory text source.

Usage: python bench/runner_overhead.py [--data text|memmap] [--steps 120] [--trials 5]
Last line: ``runner_overhead_ratio: <median over trials of runner tokens/s ÷ bare tokens/s>`` (target ≥ 0.95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from scalinglab.runner.corpus import make_source
from scalinglab.runner.model import GPT
from scalinglab.runner.spec import expand_spec
from scalinglab.runner.train import train_run
from scalinglab.store import Store

DATA = {"name": "text"}


def config(steps: int, batch: int, seed: int):
    spec = {"defaults": {"data": dict(DATA), "seq_len": 64, "schedule": "cosine", "batch_size": batch,
                         "eval_every": 50, "eval_windows": 32, "checkpoint_every": 50, "seed": seed},
            "runs": [{"arch": {"n_layer": 4, "d_model": 96, "n_heads": 6}, "tokens": steps * batch * 64}]}
    return expand_spec(spec).runs[0]


def bare(cfg, threads: int) -> float:
    torch.set_num_threads(threads)
    memmap = "path" in cfg.data
    src = None if memmap else make_source(cfg.data)
    mm = np.memmap(cfg.data["path"], dtype=np.uint16, mode="r") if memmap else None
    offsets = np.arange(cfg.seq_len + 1)

    def get_batch(step: int) -> torch.Tensor:  # nanoGPT's get_batch on the memmap
        ix = np.random.default_rng([cfg.seed, step]).integers(0, len(mm) - cfg.seq_len - 1, cfg.batch_size)
        return torch.from_numpy(mm[ix[:, None] + offsets].astype(np.int64))

    torch.manual_seed(cfg.seed)
    model = GPT(cfg.architecture())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
                            weight_decay=cfg.weight_decay)
    steps = cfg.steps_for(cfg.tokens)
    c0 = time.process_time()
    t0 = time.perf_counter()
    for step in range(steps):
        w = get_batch(step) if memmap else torch.from_numpy(src.train_batch(step, cfg.batch_size, cfg.seq_len,
                                                                             cfg.seed))
        _, loss = model(w[:, :-1], w[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()
    wall = time.perf_counter() - t0
    CPU["bare"] = steps * cfg.batch_tokens / (time.process_time() - c0)
    return steps * cfg.batch_tokens / wall


#: tokens per CPU-second of the last trial of each side (process CPU time: what other processes on a shared
#: machine do not change, but I/O waits such as fsync are not in it either)
CPU: dict[str, float] = {}


def runner(cfg, threads: int) -> float:
    marks = {}

    def progress(ev: dict) -> None:  # CPU time over the runner's own clock: from its start to its last eval
        if ev["event"] == "start":
            marks["start"] = time.process_time()
        elif ev["event"] == "eval" and ev["step"] == ev["total_steps"]:
            marks["end"] = time.process_time()

    with tempfile.TemporaryDirectory() as d:
        store = Store(f"{d}/runs.db")
        res = train_run(cfg, store=store, workdir=f"{d}/ck", threads=threads, progress=progress)
        store.close()
    CPU["runner"] = res.tokens / (marks["end"] - marks["start"])
    return res.tokens_per_second


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", choices=("text", "memmap"), default="text")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    if a.data == "memmap":
        text = make_source({"name": "text"})
        path = os.path.join(tmp.name, "tokens.bin")
        np.concatenate([text.train.ravel(), text.val.ravel()]).astype(np.uint16).tofile(path)
        DATA.clear()
        DATA.update({"path": path, "vocab_size": 256})
        os.environ["SCALINGLAB_DATA_CACHE"] = os.path.join(tmp.name, "cache")
    make_source(dict(DATA), cache_dir=os.environ.get("SCALINGLAB_DATA_CACHE"))  # load once, outside the timings
    n = config(a.steps, a.batch, 0).n_params()
    print(f"model: {n:,} params, seq_len 64, batch {a.batch} sequences, {a.steps} steps, {a.threads} thread(s), "
          f"data: {a.data}")
    r_tps, b_tps, ratios, cpu_ratios = [], [], [], []
    for trial in range(a.trials):
        cfg = config(a.steps, a.batch, seed=trial)  # a new run id each trial (nothing is skipped)
        if trial % 2 == 0:  # alternate which side runs first, so neither always gets the warmer (or quieter) slot
            b_tps.append(bare(cfg, a.threads))
            r_tps.append(runner(cfg, a.threads))
        else:
            r_tps.append(runner(cfg, a.threads))
            b_tps.append(bare(cfg, a.threads))
        ratios.append(r_tps[-1] / b_tps[-1])
        cpu_ratios.append(CPU["runner"] / CPU["bare"])
        print(f"trial {trial} ({'bare' if trial % 2 == 0 else 'runner'} first): bare {b_tps[-1]:,.0f} tok/s   "
              f"runner {r_tps[-1]:,.0f} tok/s   ratio {ratios[-1]:.3f}   (per CPU-second: {cpu_ratios[-1]:.3f})")
    rb, rr = statistics.median(b_tps), statistics.median(r_tps)
    print(f"median: bare {rb:,.0f} tok/s   runner {rr:,.0f} tok/s (incl. evals every 50 steps, checkpoints, "
          f"store writes); ratio of medians {rr / rb:.3f}")
    print(f"best trial: bare {max(b_tps):,.0f} tok/s   runner {max(r_tps):,.0f} tok/s   ratio "
          f"{max(r_tps) / max(b_tps):.3f} (least disturbed by other load on a shared machine)")
    print("GPU MFU (~124M model): see bench/gpu_mfu.py")
    tmp.cleanup()
    print(f"paired ratios: {', '.join(f'{r:.3f}' for r in ratios)}; per CPU-second (unaffected by other "
          f"processes, excludes fsync waits): median {statistics.median(cpu_ratios):.3f}")
    print(f"runner_overhead_ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
