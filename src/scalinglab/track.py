"""Report a training run to scalinglab from your own training script (torch-free, stdlib only).

When ``scalinglab run`` launches your trainer (a ``[trainer] command = [...]`` in the sweep spec), it sets
``$SCALINGLAB_RUN_DIR``; these functions append one JSON line per call to ``$SCALINGLAB_RUN_DIR/track.jsonl``
(append-only, flushed at once, fsynced for checkpoints and the final result). The runner follows that file
and streams it into the run store: :func:`log` calls become the run's loss curve, :func:`finish` its final
evaluation, and the last :func:`checkpoint` is what a relaunched run gets as ``{resume}``
(``$SCALINGLAB_RESUME``). Outside scalinglab (no ``$SCALINGLAB_RUN_DIR``) every call is a no-op, so the
script runs unchanged on its own.

>>> from scalinglab import track
>>> track.log(step=100, tokens=409_600, loss=3.21, val_loss=3.35, lr=6e-4)   # doctest: +SKIP
>>> track.checkpoint("ckpt/step100.pt", step=100)                            # doctest: +SKIP
>>> track.finish(loss=3.30, params=1_234_567, tokens=2_048_000)               # doctest: +SKIP

Units: losses in nats/token (natural log, mean over predicted tokens), ``tokens`` = training tokens seen,
``params`` = parameters N, ``flops`` = training FLOPs C.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

__all__ = ["log", "checkpoint", "finish", "resume_path", "run_dir", "enabled", "TRACK_FILE"]

#: name of the JSONL file under ``$SCALINGLAB_RUN_DIR``.
TRACK_FILE = "track.jsonl"


def run_dir() -> str | None:
    """The run folder scalinglab gave this process (``$SCALINGLAB_RUN_DIR``), or None when run standalone."""
    return os.environ.get("SCALINGLAB_RUN_DIR") or None


def enabled() -> bool:
    """True when this process was launched by the scalinglab runner (calls are recorded)."""
    return run_dir() is not None


def resume_path() -> str | None:
    """The checkpoint to resume from (the last one this run reported before it was interrupted), or None."""
    return os.environ.get("SCALINGLAB_RESUME") or None


def _clean(value: Any) -> Any:
    """A JSON-safe form of one value: numbers (numpy / torch scalars too) as numbers, NaN/inf as the strings
    ``"nan"``, ``"inf"``, ``"-inf"`` (a loss that is one fails the run as diverged; an extra metric that is one
    is skipped with a warning naming the key), containers as ``{"unsupported": type}`` (skipped likewise),
    other objects as their ``str``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, list | tuple | dict | set):
        return {"unsupported": type(value).__name__}
    try:
        f = float(value)  # numpy / torch scalars
    except (TypeError, ValueError):
        return str(value)
    return f if math.isfinite(f) else str(f)


def _write(record: dict, *, sync: bool = False) -> None:
    d = run_dir()
    if d is None:
        return
    line = json.dumps({k: _clean(v) for k, v in record.items()}, allow_nan=False) + "\n"
    with open(os.path.join(d, TRACK_FILE), "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def log(step: int, tokens: int | None = None, loss: float | None = None, **metrics: Any) -> None:
    """Record one point of the curve: optimiser ``step``, training ``tokens`` seen so far, training ``loss``
    (nats/token) and any other metrics; ``val_loss`` (validation, nats/token), ``lr`` and ``tokens_per_second``
    are stored as such, every other keyword (``grad_norm=``, ``mfu=``, ...) in the point's ``extra`` metrics
    (finite numbers or strings of at most 200 characters; others are skipped with a warning naming the key)."""
    _write({"event": "log", "t": time.time(), "step": int(step), "tokens": tokens, "loss": loss, **metrics})


def checkpoint(path: str | os.PathLike, step: int | None = None, tokens: int | None = None) -> None:
    """Record that a complete checkpoint was written at ``path`` (write it atomically first); a relaunch of
    this run gets it as ``{resume}`` / ``$SCALINGLAB_RESUME``."""
    _write({"event": "checkpoint", "t": time.time(), "path": os.path.abspath(os.fspath(path)), "step": step,
            "tokens": tokens}, sync=True)


def finish(loss: float, params: int | None = None, tokens: int | None = None, flops: float | None = None,
           **evals: Any) -> None:
    """Record the run's final validation ``loss`` (nats/token) and, if the trainer knows them, its
    ``params`` N, ``tokens`` D and ``flops`` C (kept beside the values scalinglab computes from the
    architecture) and other evaluations (e.g. ``loss_bpb`` in bits/byte; accuracies such as
    ``hellaswag_acc=0.31``, stored as the final evaluation's ``extra`` metrics and exported as one run-table
    column each, so ``scalinglab fit --y hellaswag_acc --law sigmoid`` can fit them)."""
    _write({"event": "finish", "t": time.time(), "loss": loss, "params": params, "tokens": tokens, "flops": flops,
            **evals}, sync=True)
