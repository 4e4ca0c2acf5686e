"""The training loop: one function, read top to bottom (nanoGPT's ``train.py`` in spirit).

:func:`train_run` trains one :class:`~scalinglab.runner.spec.RunConfig` and records it in a
:class:`~scalinglab.store.Store`:

1. build the data source and the GPT (its parameter count is checked against ``scalinglab.flops``);
2. resume from the last good checkpoint of this run id, if any (checksummed, ``torch.load(weights_only=True)``);
3. AdamW with gradient clipping; the learning rate follows the run's schedule; the batch of step ``i`` is a
   pure function of ``(seed, i)``, so a resumed run is step-for-step the same as an uninterrupted one;
4. WSD runs fork one cooldown *branch* per smaller token budget from the shared stable phase (weights and
   optimizer state are restored afterwards), so one run yields several (N, D, loss) points;
5. validation loss (nats/token and bits/byte) every ``eval_every`` steps → ``metrics`` (insert-or-ignore);
6. checkpoints every ``checkpoint_every`` steps and after each branch, written atomically
   (temp file + fsync + ``os.replace``, previous one kept as a fallback);
7. the final evaluations and ``status='done'`` in ONE store transaction; then the checkpoints are removed.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import hashlib
import io
import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._errors import DiskFullError, StoreError
from ..flops import count_params
from .corpus import make_source
from .datasets import check_source_fits, default_cache_dir
from .hparams import lr_at
from .model import GPT, check_param_count
from .spec import RunConfig, recorded_config

log = logging.getLogger(__name__)

__all__ = ["train_run", "RunResult", "save_checkpoint", "load_checkpoint", "register", "environment"]

_MAGIC = b"SCALINGLAB-CKPT-1\n"
#: on a GPU, the training loss is read back (a device sync) every this many steps, and at every eval,
#: checkpoint and branch; on a CPU every step (reading it costs nothing there).
_SYNC_EVERY = 16


@dataclass
class RunResult:
    """What happened to one run. ``status``: done | skipped (already done) | leased (someone else has it)
    | failed | interrupted. Losses in nats/token and bits/byte."""

    run_id: str
    name: str = ""
    status: str = "done"
    evaluations: list[dict] = field(default_factory=list)
    final_loss_nats: float | None = None
    final_loss_bpb: float | None = None
    params: int | None = None
    tokens: int | None = None
    flops: float | None = None
    wall_seconds: float = 0.0
    tokens_per_second: float | None = None
    flops_per_second: float | None = None
    mfu: float | None = None
    resumed_from_step: int = 0
    error: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict of every field: ``run_id``, ``name``, ``status``, ``evaluations``, ``final_loss_nats``
        (nats/token), ``final_loss_bpb`` (bits/byte), ``params``, ``tokens``, ``flops`` (FLOPs),
        ``wall_seconds``, ``tokens_per_second``, ``flops_per_second``, ``mfu``, ``resumed_from_step``, ``error``, ...
        """
        return dict(self.__dict__)


# ------------------------------------------------------------------------------------------ checkpoints
def save_checkpoint(path: Path, state: dict, *, still_ours: Callable[[], bool] | None = None) -> None:
    """Write ``state`` atomically: header + sha256 + torch payload to a temp file, fsync, ``os.replace``.

    The previous checkpoint is kept as ``<name>.prev`` so a damaged latest file still leaves a good one.
    ``still_ours`` (e.g. a lease heartbeat) is asked right before the rename: when it returns False the temp
    file is removed and `_LeaseLost` raised, so a superseded worker does not replace a newer attempt's file.

    Raises
    ------
    DiskFullError
        If the disk (or quota) is full; it names ``path``, and the previous checkpoint is left intact.
    """
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC + digest + b"\n" + payload)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # the previous checkpoint is untouched: only the temp file was being written
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(exc.errno, f"cannot write checkpoint {path}: {exc.strerror} (needs "
                                f"{len(payload) / 1e6:.1f} MB; the previous checkpoint is intact: free space "
                                "and rerun to resume)") from exc
        raise
    if still_ours is not None and not still_ours():
        tmp.unlink(missing_ok=True)
        raise _LeaseLost(f"checkpoint {path} not written: the run was taken over by another process")
    if path.exists():
        os.replace(path, path.with_name(path.name + ".prev"))
    os.replace(tmp, path)
    try:  # make the rename durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # pragma: no cover - e.g. Windows
        pass


def _read_checkpoint(path: Path) -> dict | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not raw.startswith(_MAGIC):
        return None
    head, sep, payload = raw[len(_MAGIC):].partition(b"\n")
    if not sep or hashlib.sha256(payload).hexdigest().encode() != head:
        return None  # truncated or corrupt: reject
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception:
        return None


def load_checkpoint(path: Path, run_id: str | None = None) -> dict | None:
    """The newest valid checkpoint at ``path`` (or its ``.prev``), or None. Corrupt files are ignored."""
    for p in (path, path.with_name(path.name + ".prev")):
        state = _read_checkpoint(p)
        if state is not None and (run_id is None or state.get("run_id") == run_id):
            return state
    return None


def run_label(name: str | None, run_id: str) -> str:
    """How messages name a run: ``sweep/name (run id)``, or the id alone for an unnamed run."""
    return f"{name} ({run_id})" if name else run_id


def set_aside(run_dir: Path, store, run_id: str, why: str, name: str = "") -> Path | None:
    """Rename a run's checkpoint folder ``run_dir`` to ``<run_id>.stale-<UTC time>`` beside it (nothing is
    deleted), logging ``why`` (in the store too), so the run starts from step 0. Returns the new path, or None
    when the folder is missing or empty."""
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return None
    aside = run_dir.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    n = 1
    while aside.exists():
        aside, n = aside.with_name(f"{aside.name.split('~')[0]}~{n}"), n + 1
    run_dir.rename(aside)
    msg = f"{why}: not resumed; set aside as {aside} (training starts at step 0)"
    log.warning("run %s: %s", run_label(name, run_id), msg)
    if store is not None:
        with contextlib.suppress(StoreError):
            store.log(run_id, msg, level="warning")
    return aside


#: file in a run folder naming the store (and its first attempt at the run) that wrote the folder.
STORE_MARK = ".scalinglab-store"


def _store_mark(store, run_id: str) -> str | None:
    """What tells this store's run folder apart from another store's for the same run id: the worker and the
    start time of the store's first attempt at the run (None when the store keeps no attempt history)."""
    first = next((a for a in store.attempts(run_id) if a["attempt"] == 1), None)
    return None if first is None else f"{first['worker']} {first['started_at']}"


def held_by(store, run_id: str) -> str:
    """Why a run could not be claimed: ``being trained by another process (host:pid:…)``."""
    try:
        owner = (store.get_run(run_id) or {}).get("lease_owner")
    except StoreError:
        owner = None
    return "being trained by another process" + (f" ({owner})" if owner else "")


def set_aside_stale(run_dir: Path, attempt: int, store, run_id: str, name: str = "") -> Path | None:
    """Keep a run folder to the store that wrote it, then mark it as this store's (:data:`STORE_MARK`).

    Run ids hash the config, not the store, the data or the trainer, so two stores beside one checkpoint folder
    (or a deleted store and its successor) share ``run_dir``. Resuming from another store's checkpoints or
    ``track.jsonl`` would record that store's training as this one's, so the folder is set aside (`set_aside`)
    on this store's first attempt at the run (``attempt`` 1, what `Store.claim_run` returned) whatever it holds,
    and on a later attempt when its mark names another store. Returns the set-aside path, or None."""
    hint = "give each store its own --workdir"
    mark, aside, found = _store_mark(store, run_id), None, None
    if attempt == 1:
        aside = set_aside(run_dir, store, run_id, "its checkpoint folder holds files from a run this store never "
                          f"trained (a deleted store, or another store beside it; {hint})", name)
    elif mark is not None:
        try:
            found = (run_dir / STORE_MARK).read_text(encoding="utf-8").strip()
        except OSError:  # no mark: a folder from before marks were written, trusted as this store's
            found = None
        if found is not None and found != mark:
            aside = set_aside(run_dir, store, run_id, "its checkpoint folder was written by another store "
                              f"beside this one since this store's last attempt ({hint})", name)
    if mark is not None and (aside is not None or found != mark):
        from .._io import atomic_write_text

        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run_dir / STORE_MARK, mark + "\n")
        except OSError as exc:  # a full disk: the run's own writes report it, naming the path
            log.warning("run %s: cannot mark its checkpoint folder as this store's (%s)", run_id, exc)
    return aside


# ------------------------------------------------------------------------------------------ helpers
def environment(device: str) -> dict:
    """What a run was trained with (versions, device, threads), stored with each run for provenance."""
    from .. import __version__

    env = {"scalinglab": __version__, "torch": torch.__version__, "python": platform.python_version(),
           "platform": platform.platform(), "device": device, "threads": torch.get_num_threads(),
           "host": platform.node()}
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def _data_provenance(src) -> dict:
    """What the run was scored on: split sizes (tokens), bytes per token and hashes of the validation tokens."""
    keep = ("content_sha256", "val_sha256", "train_tokens", "val_tokens", "block", "cache")
    return {"source": src.name, "vocab_size": src.vocab_size, "bytes_per_token": src.bytes_per_token,
            **{k: src.info[k] for k in keep if k in src.info}}


def _peak_flops(device: str) -> float | None:
    """Peak dense BF16 FLOP/s of the GPU from scalinglab's hardware catalog (None on CPU / unknown GPU)."""
    if not device.startswith("cuda"):
        return None
    return peak_flops_for(torch.cuda.get_device_name(0))


def peak_flops_for(device_name: str) -> float | None:
    """Catalog BF16 peak for a CUDA device name such as ``"NVIDIA H100 80GB HBM3"`` (longest matching
    prefix of its words, without the vendor), or None when the catalog does not know it."""
    try:
        from ..hardware import get_gpu
    except ImportError:  # pragma: no cover
        return None
    words = device_name.replace("NVIDIA", "").split()
    for n in range(len(words), 0, -1):
        try:
            return float(get_gpu(" ".join(words[:n])).peak_flops("bf16"))
        except Exception:  # noqa: S112 - unknown name: try a shorter one
            continue
    return None


def register(store, cfg: RunConfig) -> None:
    """Add ``cfg`` to the store as a queued run with its parameter counts and FLOP convention."""
    from ..flops import flops_per_token

    arch = cfg.architecture()
    pc = count_params(arch)
    conventions = {}
    for conv in ("total", "non_embedding", "with_head", "active", "nanogpt"):
        try:
            conventions[conv] = int(pc.by_convention(conv))
        except Exception:  # pragma: no cover - a convention the accounting module lacks
            pass
    store.register_run(
        cfg.run_id, config=recorded_config(cfg.to_dict()), name=cfg.name, sweep=cfg.sweep,
        dataset=_dataset_label(cfg.data), params=pc.by_convention(cfg.param_convention),
        param_convention=cfg.param_convention, params_by_convention=conventions,
        flops_convention=cfg.flops_convention, flops_per_token=float(flops_per_token(arch, cfg.flops_convention)),
        # the built-in trainer trains whole batches; an external one is given {tokens} as the spec states it
        tokens_planned=int(cfg.tokens) if cfg.trainer else int(cfg.steps_for(cfg.tokens) * cfg.batch_tokens))


def _dataset_label(data: dict) -> str:
    d = dict(data)
    name = d.pop("name", "files" if "path" in d else "markov" if d or not data else "markov")
    if not data:
        return "external"
    label = name + ("" if not d else "(" + ",".join(f"{k}={v}" for k, v in sorted(d.items())) + ")")
    return label if len(label) <= 200 else label[:180] + "…" + hashlib.sha256(label.encode()).hexdigest()[:12] + ")"


# ------------------------------------------------------------------------------------------ training
def train_run(cfg: RunConfig, *, store=None, workdir: str | os.PathLike = ".scalinglab-checkpoints",
              owner: str | None = None, device: str = "auto", threads: int | None = None,
              progress: Callable[[dict], None] | None = None, stop_after_steps: int | None = None,
              keep_checkpoints: bool = False, compile_model: bool | None = None) -> RunResult:
    """Train one run (resuming it if a checkpoint exists) and record it in ``store``.

    ``stop_after_steps`` interrupts the run after that many optimizer steps in this call (for tests),
    leaving a checkpoint and status ``interrupted``. ``progress`` gets a dict after every step (with
    ``tokens_per_second`` and, on a GPU the hardware catalog knows, ``mfu``). On CUDA the step runs in bf16
    autocast with fused AdamW and SDPA (flash) attention; ``compile_model=True`` (or
    ``$SCALINGLAB_COMPILE=1``) also wraps the model in ``torch.compile`` (opt-in: compiling costs minutes).
    User data (``data = { path = ... }``) is tokenized once into ``.scalinglab-cache`` beside ``workdir``.
    """
    if compile_model is None:
        compile_model = os.environ.get("SCALINGLAB_COMPILE", "") == "1"
    from ..store import LeaseLostError, default_owner

    run_id = cfg.run_id
    owner = owner or default_owner()
    if store is not None:
        register(store, cfg)
        if store.status(run_id) == "done":
            return RunResult(run_id, cfg.name, status="skipped")
        attempt = store.claim_run(run_id, owner)
        if not attempt:
            return RunResult(run_id, cfg.name, status="leased", error=held_by(store, run_id))
        set_aside_stale(Path(workdir) / run_id, attempt, store, run_id, cfg.name)
    try:
        result = _train(cfg, store=store, workdir=Path(workdir), owner=owner, device=device, threads=threads,
                        progress=progress, stop_after_steps=stop_after_steps, keep_checkpoints=keep_checkpoints,
                        compile_model=compile_model)
    except (_LeaseLost, LeaseLostError):  # a later attempt owns the run: write nothing more
        return RunResult(run_id, cfg.name, status="leased")
    except Exception as exc:
        if store is not None and not isinstance(exc, StoreError) and not _holds_lease(store, run_id, owner):
            return RunResult(run_id, cfg.name, status="leased")  # superseded mid-step (e.g. its files removed)
        _record_failure(store, run_id, owner, exc)
        raise
    except BaseException as exc:
        _record_failure(store, run_id, owner, exc)
        raise
    return result


def _holds_lease(store, run_id: str, owner: str) -> bool:
    """True while ``owner`` still holds the run's lease (or the store cannot tell)."""
    try:
        return store.heartbeat(run_id, owner)
    except StoreError:
        return True


def _record_failure(store, run_id: str, owner: str, exc: BaseException) -> None:
    """Log a failed (or interrupted: Ctrl-C → queued) attempt and give the lease back, unless the store is away."""
    from ..store import StoreUnavailableError

    if store is None or isinstance(exc, StoreUnavailableError):  # (the store is away: nothing to write)
        return
    interrupted = isinstance(exc, KeyboardInterrupt)
    try:
        store.log(run_id, f"{'interrupted' if interrupted else 'failed'}: {type(exc).__name__}: {exc}",
                  level="error")
        store.release_run(run_id, owner, status="queued" if interrupted else "failed",
                          error=None if interrupted else f"{type(exc).__name__}: {exc}")
    except StoreError:
        pass


class _LeaseLost(Exception):
    """Another process took over this run's lease: stop without writing anything more."""


def _train(cfg: RunConfig, *, store, workdir: Path, owner: str, device: str, threads: int | None,
           progress, stop_after_steps: int | None, keep_checkpoints: bool, compile_model: bool = False) -> RunResult:
    run_id = cfg.run_id
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    on_cuda = device.startswith("cuda")
    if threads is None and not on_cuda:
        # Tiny models gain nothing from intra-op threads, and on a busy machine OpenMP's spin-waiting makes
        # 2 threads up to 10-40x slower than 1; use all cores only for models of >= 2M parameters.
        threads = 1 if cfg.n_params() < 2_000_000 else (os.cpu_count() or 1)
    if threads:
        torch.set_num_threads(threads)

    # --- data and model ------------------------------------------------------------------------------
    user_data = "path" in cfg.data
    src = make_source(cfg.data, cache_dir=str(default_cache_dir(workdir)) if user_data else None)
    arch = cfg.architecture()
    if arch.vocab_size != src.vocab_size:
        raise ValueError(f"arch.vocab_size={arch.vocab_size} but the data source has {src.vocab_size} tokens")
    if user_data:
        check_source_fits(src, batch_size=cfg.batch_size, seq_len=cfg.seq_len, eval_windows=cfg.eval_windows,
                          what=str(cfg.data["path"]))
    torch.manual_seed(cfg.seed)
    raw_model = GPT(arch)
    n_params_total = check_param_count(raw_model)
    n_params = cfg.n_params()
    fpt = cfg.flops_per_token()
    raw_model.to(device)
    model = torch.compile(raw_model) if (on_cuda and compile_model) else raw_model
    peak = _peak_flops(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if on_cuda else contextlib.nullcontext()

    decay, no_decay = [], []
    for p in raw_model.parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=on_cuda or None)

    # --- budgets / branches --------------------------------------------------------------------------
    budgets = sorted(set(cfg.budgets or (cfg.tokens,)))
    steps_b = [cfg.steps_for(b) for b in budgets]
    total = steps_b[-1]
    wsd = cfg.schedule == "wsd"
    decay_b = [max(1, round(cfg.decay_fraction * s)) for s in steps_b] if wsd else [0] * len(budgets)
    fork_b = [s - d for s, d in zip(steps_b, decay_b, strict=True)]
    labels = [f"D={s * cfg.batch_tokens}" for s in steps_b] if len(budgets) > 1 else [""]

    val = torch.from_numpy(src.val_windows(cfg.eval_windows, cfg.seq_len, seed=cfg.seed)).to(device)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.from_numpy(src.train_batch(step, cfg.batch_size, cfg.seq_len, cfg.seed))
        if on_cuda:
            w = w.pin_memory().to(device, non_blocking=True)
        return w[:, :-1], w[:, 1:]

    lease = {"last": time.time()}

    def train_step(step: int, lr: float) -> torch.Tensor:
        if store is not None and time.time() - lease["last"] > store.heartbeat_s:  # keep our lease fresh
            if not store.heartbeat(run_id, owner):
                raise _LeaseLost(f"run {run_id} was taken over by another process")
            lease["last"] = time.time()
        for g in optimizer.param_groups:
            g["lr"] = lr
        x, y = batch(step)
        with autocast:
            _, loss = model(x, y)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(raw_model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        weights["version"] += 1
        return loss.detach()  # read (.item(), a device sync) by the caller only every few steps on a GPU

    # the last evaluation, reused while the weights are unchanged (e.g. the final eval right after the last
    # step's): "weights" counts optimizer steps and weight restores
    evaluated = {"weights": -1, "loss": math.nan}
    weights = {"version": 0}

    @torch.no_grad()
    def evaluate() -> float:
        if evaluated["weights"] == weights["version"]:  # these weights were scored already
            return evaluated["loss"]
        model.eval()  # safe: torch Module.eval() (evaluation mode), not Python's eval
        total_loss, n = torch.zeros((), device=device), 0
        for i in range(0, len(val), max(1, cfg.batch_size)):
            w = val[i:i + max(1, cfg.batch_size)]
            with autocast:
                _, loss = model(w[:, :-1], w[:, 1:])
            total_loss += loss.detach().float() * len(w)  # summed on the device: one sync per evaluation
            n += len(w)
        model.train()
        evaluated.update(weights=weights["version"], loss=total_loss.item() / n)
        return evaluated["loss"]

    def point(step: int, tokens: int, loss: float, branch: str) -> dict:
        return {"branch": branch, "step": step, "split": "val", "params": n_params, "tokens": tokens,
                "flops": fpt * tokens, "loss_nats": loss, "loss_bpb": src.bits_per_byte(loss)}

    # --- resume --------------------------------------------------------------------------------------
    ckpt_path = workdir / run_id / "last.pt"
    step, branch_results, train_acc, prior_wall = 0, {}, [0.0, 0], 0.0
    data_sha = src.info.get("content_sha256")
    state = load_checkpoint(ckpt_path, run_id)
    if state is not None and data_sha and state.get("data_sha256") not in (None, data_sha):
        set_aside(ckpt_path.parent, store, run_id, f"its checkpoint was trained on other data (content sha256 "
                  f"{str(state['data_sha256'])[:12]}…, the data now {data_sha[:12]}…)")
        state = None
    if state is not None:
        raw_model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        branch_results = {k: dict(v) for k, v in state["branches"].items()}
        train_acc = [float(state["train_acc"][0]), int(state["train_acc"][1])]
        prior_wall = float(state["wall_seconds"])
    resumed_from = step
    if store is not None:
        store.log(run_id, f"start at step {step}/{total} on {device} ({n_params_total} params)"
                  + (" (resumed)" if resumed_from else ""))

    def checkpoint() -> None:  # fenced: never replaces the file of an attempt that took the run over
        save_checkpoint(ckpt_path, {
            "run_id": run_id, "step": step, "model": raw_model.state_dict(), "optimizer": optimizer.state_dict(),
            "branches": branch_results, "train_acc": [train_acc[0], train_acc[1]],
            "wall_seconds": prior_wall + (time.perf_counter() - t0), "data_sha256": data_sha},
            still_ours=(lambda: store.heartbeat(run_id, owner)) if store is not None else None)

    def emit(**info: Any) -> None:
        if progress is not None:
            progress({"run_id": run_id, "name": cfg.name, "total_steps": total, **info})

    t0 = time.perf_counter()
    steps_this_call = 0
    pending: list[torch.Tensor] = []  # training losses not yet read back from the device
    fork_steps = set(fork_b[:-1]) if wsd else set()
    loss = math.nan
    emit(step=step, event="start")
    raw_model.train()
    while True:
        # fork WSD cooldown branches whose stable phase ends here
        for i in range(len(budgets) - 1):
            if wsd and fork_b[i] == step and labels[i] not in branch_results:
                saved_model = copy.deepcopy(raw_model.state_dict())
                saved_opt = copy.deepcopy(optimizer.state_dict())
                for s in range(fork_b[i], steps_b[i]):
                    train_step(s, lr_at(s, lr=cfg.lr, schedule="wsd", warmup_steps=cfg.warmup_steps,
                                        total_steps=steps_b[i], min_lr_ratio=cfg.min_lr_ratio,
                                        decay_steps=decay_b[i]))
                loss = evaluate()
                branch_results[labels[i]] = point(steps_b[i], steps_b[i] * cfg.batch_tokens, loss, labels[i])
                raw_model.load_state_dict(saved_model)
                optimizer.load_state_dict(saved_opt)
                weights["version"] += 1
                emit(step=step, event="branch", branch=labels[i], loss=loss)
                checkpoint()
        if step >= total:
            break
        if stop_after_steps is not None and steps_this_call >= stop_after_steps:
            checkpoint()
            if store is not None:
                store.release_run(run_id, owner, status="queued")
            return RunResult(run_id, cfg.name, status="interrupted", resumed_from_step=resumed_from)

        lr = lr_at(step, lr=cfg.lr, schedule=cfg.schedule, warmup_steps=cfg.warmup_steps, total_steps=total,
                   min_lr_ratio=cfg.min_lr_ratio, decay_steps=decay_b[-1])
        pending.append(train_step(step, lr))
        step += 1
        steps_this_call += 1
        if (not on_cuda or len(pending) >= _SYNC_EVERY or step % cfg.eval_every == 0 or step == total
                or step % cfg.checkpoint_every == 0 or step in fork_steps
                or (stop_after_steps is not None and steps_this_call >= stop_after_steps)):
            # the training losses since the last read, in one device → host copy (every step on a CPU)
            values = [pending[0].item()] if len(pending) == 1 else torch.stack(pending).float().tolist()
            for j, v in enumerate(values):
                if not math.isfinite(v):
                    raise FloatingPointError(f"training loss is {v} at step {step - len(values) + j} "
                                             f"(lr={lr:.3g}); lower the lr")
            pending.clear()
            train_acc[0] += sum(values)
            train_acc[1] += len(values)
            loss = values[-1]
        elapsed = time.perf_counter() - t0
        tps = steps_this_call * cfg.batch_tokens / max(elapsed, 1e-9)
        emit(step=step, event="step", loss=loss, lr=lr, tokens_per_second=tps,
             mfu=(tps * fpt / peak) if peak else None)

        if step % cfg.eval_every == 0 or step == total:
            vloss = evaluate()
            tokens = step * cfg.batch_tokens
            rows = [{"step": step, "split": "val", "tokens": tokens, "loss_nats": vloss,
                     "loss_bpb": src.bits_per_byte(vloss), "lr": lr, "wall_seconds": prior_wall + elapsed,
                     "tokens_per_second": tps},
                    {"step": step, "split": "train", "tokens": tokens, "loss_nats": train_acc[0] / train_acc[1],
                     "loss_bpb": src.bits_per_byte(train_acc[0] / train_acc[1]), "lr": lr,
                     "wall_seconds": prior_wall + elapsed, "tokens_per_second": tps}]
            train_acc = [0.0, 0]
            if store is not None:
                store.add_metrics(run_id, rows, owner=owner)  # fenced: refused once the lease is lost
            emit(step=step, event="eval", val_loss=vloss, val_bpb=src.bits_per_byte(vloss))
        if step % cfg.checkpoint_every == 0 and step < total:
            checkpoint()

    # --- finish: one transaction ---------------------------------------------------------------------
    final = evaluate()
    branch_results[labels[-1]] = point(total, total * cfg.batch_tokens, final, labels[-1])
    if keep_checkpoints:  # keep the final weights too (e.g. for task evaluations, runner/tasks.py)
        checkpoint()
    wall = prior_wall + (time.perf_counter() - t0)
    trained_tokens = total * cfg.batch_tokens + sum(
        (steps_b[i] - fork_b[i]) * cfg.batch_tokens for i in range(len(budgets) - 1) if wsd)
    tps = (steps_this_call * cfg.batch_tokens) / max(time.perf_counter() - t0, 1e-9) if steps_this_call else None
    fps = tps * fpt if tps else None
    evals = [branch_results[k] for k in labels]
    summary = {"wall_seconds": wall, "tokens_per_second": tps, "flops_per_second": fps, "resumed_from_step": resumed_from,
               "final_loss_nats": final, "final_loss_bpb": src.bits_per_byte(final),
               "environment": {**environment(device), "trained_tokens_incl_branches": trained_tokens,
                               "mfu": (fps / peak) if (fps and peak) else None, "compiled": model is not raw_model,
                               "data": _data_provenance(src)}}
    if store is not None:
        if not store.finish_run(run_id, owner, evaluations=evals, summary=summary):
            return RunResult(run_id, cfg.name, status="leased")
        bpb = src.bits_per_byte(final)
        store.log(run_id, f"done: val loss {final:.4f} nats/token = " + (
            f"{bpb:.4f} bits/byte" if bpb is not None else "bits/byte unknown (bytes per token not known for "
                                                          "token-id data; state data.bytes_per_token)"))
    if not keep_checkpoints:
        for p in sorted((workdir / run_id).glob("*")) if (workdir / run_id).exists() else []:
            p.unlink(missing_ok=True)
        try:
            (workdir / run_id).rmdir()
        except OSError:
            pass
    emit(step=total, event="done", val_loss=final)
    return RunResult(run_id, cfg.name, status="done", evaluations=evals, final_loss_nats=final,
                     final_loss_bpb=src.bits_per_byte(final), params=n_params, tokens=total * cfg.batch_tokens,
                     flops=fpt * total * cfg.batch_tokens, wall_seconds=wall, tokens_per_second=tps,
                     flops_per_second=fps, mfu=(fps / peak) if (fps and peak) else None,
                     resumed_from_step=resumed_from)
