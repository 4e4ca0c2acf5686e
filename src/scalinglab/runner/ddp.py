"""One run, several devices: data-parallel training with ``torch.distributed`` (DDP).

Each of the ``nproc`` processes holds a full copy of the GPT and takes ``batch_size / nproc`` sequences
of every global batch (the batch of step ``i`` is the same pure function of ``(seed, i)`` as in
:func:`~scalinglab.runner.train.train_run`); gradients are averaged across processes, so the update is
the single-process update on the whole global batch and the loss curve matches a 1-process run up to
floating-point summation order. Backends: ``nccl`` on GPUs (one process per GPU), ``gloo`` on CPUs.

Two ways to launch:

* from Python, spawning the processes on this machine::

      from scalinglab.runner.ddp import train_ddp
      result = train_ddp(cfg, nproc=8, store="postgresql+psycopg://lab@db/runs")

* with ``torchrun`` (one node, 8 GPUs; the run is picked from a sweep spec by name or id)::

      torchrun --standalone --nproc_per_node=8 -m scalinglab.runner.ddp ladder.toml --run L24-d2048 \\
          --store postgresql+psycopg://lab@db/runs

Rank 0 claims the run in the store, writes the validation/train curve and finishes the run in one
transaction, like the single-process runner. Scope: one token budget per run (WSD cooldown branches and
mid-run checkpoints are the single-process runner's; a DDP run interrupted mid-way restarts from step 0).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .._errors import InputError
from .spec import RunConfig

__all__ = ["train_ddp", "main"]


def _backend(backend: str, device: str) -> str:
    if backend != "auto":
        return backend
    return "nccl" if device.startswith("cuda") else "gloo"


def _check(cfg: RunConfig, world: int) -> None:
    if world < 1:
        raise InputError(f"nproc must be ≥ 1, got {world}")
    if cfg.batch_size % world:
        raise InputError(f"batch_size={cfg.batch_size} sequences cannot be split evenly over {world} processes")
    if len(set(cfg.budgets or (cfg.tokens,))) > 1:
        raise InputError("DDP runs take one token budget (WSD cooldown branches: use the single-process runner)")


def _rank_main(rank: int, world: int, cfg_dict: dict, init_method: str, backend: str, device: str,
               store_url: str | None, out_path: str | None, threads: int | None) -> dict | None:
    """The body of one process. Returns (rank 0) a dict with the result and the per-step train losses."""
    from ..store import Store, default_owner
    from .corpus import make_source
    from .hparams import lr_at
    from .model import GPT, check_param_count
    from .train import RunResult, environment, register

    cfg = RunConfig.from_dict(cfg_dict)
    on_cuda = device.startswith("cuda")
    if on_cuda:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        dev = f"cuda:{local}"
    else:
        dev = "cpu"
        torch.set_num_threads(threads or 1)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world)
    store = owner = None
    try:
        src = make_source(cfg.data)
        arch = cfg.architecture()
        torch.manual_seed(cfg.seed)
        raw = GPT(arch)
        check_param_count(raw)
        raw.to(dev)
        model = torch.nn.parallel.DistributedDataParallel(raw, device_ids=[dev] if on_cuda else None)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_cuda else contextlib.nullcontext()
        decay = [p for p in raw.parameters() if p.dim() >= 2]
        no_decay = [p for p in raw.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=on_cuda or None)
        total = cfg.steps_for(cfg.tokens)
        per = cfg.batch_size // world
        val = torch.from_numpy(src.val_windows(cfg.eval_windows, cfg.seq_len, seed=cfg.seed)).to(dev)

        def emit(out: dict) -> dict:
            if out_path and rank == 0:
                import json

                Path(out_path).write_text(json.dumps(out))
            return out

        state = "go"
        if rank == 0 and store_url:
            store, owner = Store(store_url), default_owner()
            register(store, cfg)
            if store.status(cfg.run_id) == "done":
                state = "skipped"
            elif not store.claim_run(cfg.run_id, owner):
                state = "leased"
        flag = torch.tensor([("go", "skipped", "leased").index(state)], device=dev)
        dist.broadcast(flag, 0)
        if int(flag.item()):
            status = ("go", "skipped", "leased")[int(flag.item())]
            return emit({"result": RunResult(cfg.run_id, cfg.name, status=status).to_dict(), "train_losses": []})

        @torch.no_grad()
        def evaluate() -> float:
            raw.eval()  # safe: torch Module.eval() (evaluation mode), not Python's eval
            tot, n = 0.0, 0
            for i in range(0, len(val), max(1, cfg.batch_size)):
                w = val[i:i + max(1, cfg.batch_size)]
                with autocast:
                    _, loss = raw(w[:, :-1], w[:, 1:])
                tot += loss.item() * len(w)
                n += len(w)
            raw.train()
            return tot / n

        decay_steps = max(1, round(cfg.decay_fraction * total)) if cfg.schedule == "wsd" else 0
        losses: list[float] = []
        acc = [0.0, 0]
        t0 = time.perf_counter()
        last_beat = time.time()
        for step in range(total):
            lr = lr_at(step, lr=cfg.lr, schedule=cfg.schedule, warmup_steps=cfg.warmup_steps, total_steps=total,
                       min_lr_ratio=cfg.min_lr_ratio, decay_steps=decay_steps)
            for g in opt.param_groups:
                g["lr"] = lr
            w = torch.from_numpy(src.train_batch(step, cfg.batch_size, cfg.seq_len, cfg.seed)[rank * per:(rank + 1) * per])
            w = w.to(dev, non_blocking=True)
            with autocast:
                _, loss = model(w[:, :-1], w[:, 1:])
            loss.backward()  # DDP averages the gradients over processes here
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            mean = loss.detach().float().clone()
            dist.all_reduce(mean)
            gl = mean.item() / world  # loss on the global batch
            if not math.isfinite(gl):
                raise FloatingPointError(f"training loss is {gl} at step {step} (lr={lr:.3g}); lower the lr")
            losses.append(gl)
            acc[0] += gl
            acc[1] += 1
            done = step + 1
            if rank == 0 and store is not None:
                if time.time() - last_beat > 10:
                    store.heartbeat(cfg.run_id, owner)
                    last_beat = time.time()
                if done % cfg.eval_every == 0 or done == total:
                    v = evaluate()
                    tokens = done * cfg.batch_tokens
                    el = time.perf_counter() - t0
                    tps = tokens / max(el, 1e-9)
                    store.add_metrics(cfg.run_id, [
                        {"step": done, "split": "val", "tokens": tokens, "loss_nats": v, "loss_bpb": src.bits_per_byte(v),
                         "lr": lr, "wall_seconds": el, "tokens_per_second": tps},
                        {"step": done, "split": "train", "tokens": tokens, "loss_nats": acc[0] / acc[1],
                         "loss_bpb": src.bits_per_byte(acc[0] / acc[1]), "lr": lr, "wall_seconds": el,
                         "tokens_per_second": tps}])
                    acc = [0.0, 0]
        if rank != 0:
            return None
        final = evaluate()
        wall = time.perf_counter() - t0
        tokens = total * cfg.batch_tokens
        fpt = cfg.flops_per_token()
        n = cfg.n_params()
        ev = {"branch": "", "step": total, "split": "val", "params": n, "tokens": tokens, "flops": fpt * tokens,
              "loss_nats": final, "loss_bpb": src.bits_per_byte(final)}
        status = "done"
        if store is not None:
            env = {**environment(dev), "ddp_world_size": world, "ddp_backend": backend}
            ok = store.finish_run(cfg.run_id, owner, evaluations=[ev], summary={
                "wall_seconds": wall, "tokens_per_second": tokens / wall, "flops_per_second": fpt * tokens / wall,
                "final_loss_nats": final, "final_loss_bpb": src.bits_per_byte(final), "environment": env})
            status = "done" if ok else "leased"
        res = RunResult(cfg.run_id, cfg.name, status=status, evaluations=[ev], final_loss_nats=final,
                        final_loss_bpb=src.bits_per_byte(final), params=n, tokens=tokens, flops=fpt * tokens,
                        wall_seconds=wall, tokens_per_second=tokens / wall, flops_per_second=fpt * tokens / wall)
        return emit({"result": res.to_dict(), "train_losses": losses})
    except BaseException as exc:
        if store is not None:
            with contextlib.suppress(Exception):
                store.release_run(cfg.run_id, owner, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if store is not None:
            store.close()
        dist.destroy_process_group()


def _spawned(rank: int, *args: Any) -> None:
    _rank_main(rank, *args)


def train_ddp(cfg: RunConfig, *, nproc: int = 2, backend: str = "auto", device: str = "auto",
              store: Any = None, threads: int | None = None, return_curve: bool = False):
    """Train ``cfg`` with DDP over ``nproc`` processes on this machine (spawned); record it in ``store``.

    Returns the :class:`~scalinglab.runner.train.RunResult` (losses in nats/token and bits/byte), and with
    ``return_curve=True`` also the per-step training loss on the global batch (nats/token).

    Raises
    ------
    InputError
        If ``nproc`` is below 1 or above the visible CUDA devices (on GPU), ``batch_size`` does not split evenly
        over the processes, or the config has several token budgets (WSD branches).
    """
    import json

    import torch.multiprocessing as tmp

    from .train import RunResult

    _check(cfg, nproc)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and nproc > torch.cuda.device_count():
        raise InputError(f"nproc={nproc} but only {torch.cuda.device_count()} CUDA devices are visible")
    store_url = None
    if store is not None:
        from ..store import Store

        st = store if isinstance(store, Store) else Store(store)
        store_url = st.url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory(prefix="scalinglab-ddp-") as tmpdir:
        init = f"file://{Path(tmpdir) / 'rendezvous'}"
        out = Path(tmpdir) / "rank0.json"
        tmp.spawn(_spawned, args=(nproc, cfg.to_dict(), init, _backend(backend, device), device, store_url,
                                  str(out), threads), nprocs=nproc, join=True)
        data = json.loads(out.read_text())
    res = RunResult(**data["result"])
    return (res, data["train_losses"]) if return_curve else res


def main(argv: list[str] | None = None) -> int:
    """``torchrun … -m scalinglab.runner.ddp SPEC --run NAME|ID [--store URL]`` (env:// rendezvous)."""
    import argparse

    from .spec import load_spec

    p = argparse.ArgumentParser(prog="python -m scalinglab.runner.ddp",
                                description="Train one run of a sweep spec with DDP (launch with torchrun).")
    p.add_argument("spec")
    p.add_argument("--run", required=True, help="run name or id (prefix) within the spec")
    p.add_argument("--store", default=os.environ.get("SCALINGLAB_STORE", "scalinglab-runs.db"))
    p.add_argument("--backend", default="auto")
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    runs = [c for c in load_spec(a.spec).runs if c.name == a.run or c.run_id.startswith(a.run)]
    if len(runs) != 1:
        raise SystemExit(f"--run {a.run!r} matches {len(runs)} runs of {a.spec}")
    cfg = runs[0]
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    _check(cfg, world)
    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    out = _rank_main(rank, world, cfg.to_dict(), "env://", _backend(a.backend, device), device, a.store, None,
                     None)
    if out is not None:
        r = out["result"]
        print(f"{cfg.name or cfg.run_id}: {r['status']}, val loss {r['final_loss_nats']:.4f} nats/token "
              f"({r['final_loss_bpb']:.4f} bits/byte) on {world} processes")
    return 0


if __name__ == "__main__":  # pragma: no cover - torchrun entry point
    raise SystemExit(main())
