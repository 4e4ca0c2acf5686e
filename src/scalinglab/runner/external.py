"""Run the user's own training script as a run of a sweep (``[trainer] command = [...]`` in the spec).

:func:`run_external` gives an external trainer the guarantees of built-in runs, on the local and the Ray
executor (both call it through :func:`~scalinglab.runner.executor.execute_task`):

* **Launch.** The command is an argv list: each ``{placeholder}`` (architecture fields, ``tokens``,
  ``budgets``, ``lr``, ``batch_size``, ``warmup``, ``seed``, ``run_id``, ``run_dir``, ``device``, ``resume``,
  ...; see :func:`~scalinglab.runner.spec.placeholder_names`) is replaced inside its own argument and the
  process is started without a shell, so a value holding ``;``, ``$(...)`` or quotes stays one argument.
  It runs in its own process group (killed as a whole), dies with the runner (``PR_SET_DEATHSIG`` on Linux),
  and gets ``$SCALINGLAB_RUN_DIR``, ``$SCALINGLAB_RUN_ID``, ``$SCALINGLAB_RESUME`` and, when this machine
  has several GPUs, its own ``CUDA_VISIBLE_DEVICES`` (one GPU per run, allocated with file locks); not the
  store's location or password (``$SCALINGLAB_STORE``; ``$PGPASSWORD`` with a PostgreSQL store:
  :func:`trainer_environ`). Secret-looking ``[trainer] env`` values are recorded masked in the store
  (`scalinglab.runner.spec.recorded_config`).
* **Metrics.** Either the trainer calls :mod:`scalinglab.track` (JSON lines in ``track.jsonl`` under the
  run folder), or a ``metrics_regex`` with named groups ``step``, ``tokens``, ``loss``, ``val_loss``, ``lr``
  is matched on each stdout line. Points stream into the store's ``metrics`` table as they appear
  (idempotent inserts); the final evaluation is ``track.finish(loss=...)`` or the last ``val_loss`` matched.
  Any other key of ``track.log`` (``grad_norm``, ``mfu``, ...) or other named group of the regex is kept in
  the point's ``extra`` JSON, and any other keyword of ``track.finish`` (``hellaswag_acc``, ...) in the final
  evaluation's ``extra`` (one run-table column each in ``scalinglab runs export``). Values must be finite
  numbers or strings of at most :data:`MAX_EXTRA_STR` characters (regex captures that parse as numbers are
  numbers); any other value is skipped with one warning per key and run, in the log and the store.
* **Exactly once.** The run is leased in the store (heartbeat while the process lives); final rows and
  ``status='done'`` are one transaction. A relaunch gets ``{resume}`` = the last checkpoint the trainer
  reported with ``track.checkpoint(path)`` (``""`` when none).
* **Faults.** Non-zero exit, the per-run ``timeout_s`` or no output / tracked progress for
  ``progress_timeout_s`` → the process group is killed, the attempt is logged with the tail of its output,
  and the run is retried up to ``max_retries`` times (resuming from its last checkpoint); after that it is
  ``failed`` with the stderr tail in ``runs.error`` (``scalinglab runs show`` prints it).
* **Accounting.** N, D, C come from the architecture under the spec's conventions; values the trainer
  reports (``track.finish(params=, tokens=, flops=)``) are kept beside them (``environment.reported``;
  ``params_by_convention.trainer``). D is the trainer's token count when it reports one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._errors import StoreError
from ..store import LeaseLostError
from .spec import RunConfig, SpecError, render_command
from .train import RunResult, environment, held_by, register, run_label, set_aside_stale

__all__ = ["run_external", "render_command", "last_checkpoint", "output_log", "check_trainers_found", "one_gpu", "visible_gpus", "TRACK_FILE",
           "MAX_EXTRA_STR", "trainer_environ"]

log = logging.getLogger(__name__)

TRACK_FILE = "track.jsonl"
LN2 = math.log(2.0)
_TAIL_LINES = 40
#: longest string value (characters) kept as an extra metric; longer ones are skipped.
MAX_EXTRA_STR = 200
_MAX_EXTRA_NAME = 64
#: keys of a ``track.log`` record / regex match with a column of their own (the rest are extra metrics).
_LOG_KEYS = frozenset({"event", "t", "step", "tokens", "loss", "val_loss", "lr", "val_bpb", "loss_bpb",
                       "tokens_per_second"})
#: keywords of ``track.finish`` with a place of their own (the rest are extra evaluations).
_FINISH_KEYS = frozenset({"event", "t", "loss", "params", "tokens", "flops", "step", "loss_bpb"})


def _extra_value(v: Any) -> float | int | str | None:
    """``v`` as an extra metric: a finite number (a numeric string becomes one) or a short string; None when
    it is neither (NaN/inf, None, lists, dicts, long strings)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, str):
        text = v.strip()
        try:
            f = float(text)
        except ValueError:
            return v if len(v) <= MAX_EXTRA_STR else None
        if not math.isfinite(f):
            return None
        return int(f) if f.is_integer() and text.lstrip("+-").isdigit() else f
    return None


def _extras(rec: dict, reserved: frozenset, warn: Callable[[str], None]) -> dict:
    """The extra metrics of ``rec`` (keys not in ``reserved``), cleaned by :func:`_extra_value`; each rejected
    key is passed to ``warn`` with the reason (None included; ``scalinglab.track`` writes NaN/inf as ``"nan"``,
    ``"inf"``)."""
    out = {}
    for k, v in rec.items():
        if k in reserved:
            continue
        if not isinstance(k, str) or not k or len(k) > _MAX_EXTRA_NAME:
            warn(f"{str(k)[:_MAX_EXTRA_NAME]!r}: a metric name must be 1-{_MAX_EXTRA_NAME} characters")
            continue
        clean = _extra_value(v)
        if clean is None:
            warn(f"{k!r}: {_describe(v)} is not a finite number or a string of <= {MAX_EXTRA_STR} characters")
            continue
        out[k] = clean
    return out


def _describe(v: Any) -> str:
    if v is None:
        return "null (None)"
    text = repr(v)
    return f"{type(v).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


def check_trainers_found(runs, source: str | None = None) -> None:
    """Check, before a store is touched, that each external trainer's program (the first argument of
    ``[trainer] command``) can be started on this machine: a name found on the trainer's ``PATH``
    (``[trainer] env`` may set one) or a file relative to its ``cwd`` (the spec's folder by default). Only for
    trainers that run here (the local executor): a Ray node has its own ``PATH``.

    Raises
    ------
    SpecError
        ``SOURCE:trainer.command`` (``source``: the spec file), naming the program, the run and where it was
        looked for.
    """
    seen: set[tuple] = set()
    for cfg in runs:
        tr = cfg.trainer
        if not tr or "{" in str(tr["command"][0]):  # a placeholder: known only at launch
            continue
        prog, cwd = str(tr["command"][0]), tr["cwd"]
        path = tr.get("env", {}).get("PATH", os.environ.get("PATH", os.defpath))
        if (prog, cwd, path) in seen:
            continue
        seen.add((prog, cwd, path))
        as_file = os.path.join(cwd, os.path.expanduser(prog))
        if os.path.isfile(as_file) or (os.sep not in prog and shutil.which(prog, path=path)):
            continue
        where = f"on PATH nor in {cwd}" if os.sep not in prog else f"(looked for {as_file})"
        raise SpecError(f"the trainer {prog!r} of run {cfg.name or cfg.run_id} is not found {where}; install it, "
                        "or give its path", file=source, key="trainer.command")


#: variables of the driver's environment that name or unlock the run store; a trainer needs none of them
#: (`scalinglab.track` writes to $SCALINGLAB_RUN_DIR only), so they are not passed on (``[trainer] env`` may
#: set them). $PGPASSWORD is the store's password only when the store is PostgreSQL.
STORE_ENV = ("SCALINGLAB_STORE",)
STORE_ENV_POSTGRESQL = ("PGPASSWORD",)


def trainer_environ(environ: Mapping[str, str], *, postgresql: bool = False) -> dict[str, str]:
    """The driver's ``environ`` as a trainer inherits it: without the store's location and password
    (:data:`STORE_ENV`; with a PostgreSQL store also :data:`STORE_ENV_POSTGRESQL`)."""
    drop = STORE_ENV + (STORE_ENV_POSTGRESQL if postgresql else ())
    return {k: v for k, v in environ.items() if k not in drop}


# ------------------------------------------------------------------------------------------ GPUs
def visible_gpus() -> list[str]:
    """Ids of the GPUs this process may use: ``$CUDA_VISIBLE_DEVICES`` if set, else one per ``nvidia-smi -L``
    line (none without an NVIDIA driver)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


@contextlib.contextmanager
def one_gpu(lock_dir: Path, wait_s: float = 0.5):
    """With several visible GPUs (``$CUDA_VISIBLE_DEVICES``, else ``nvidia-smi -L``): hold an exclusive file
    lock in ``lock_dir`` on one of them, waiting for a free one, and yield its id; with one GPU or none: yield
    None (the run inherits the environment). Locks are per machine, so concurrent sweeps share the GPUs."""
    gpus = visible_gpus()
    if len(gpus) <= 1:
        yield None
        return
    import fcntl

    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for g in gpus:
            f = open(lock_dir / f"gpu{g}.lock", "w")  # noqa: SIM115 - held for the run
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            try:
                yield g
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
            return
        time.sleep(wait_s)


# ------------------------------------------------------------------------------------------ process
def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGKILL this process when its parent dies (a trainer when the driver is killed, a pool
    worker when the sweep is); elsewhere nothing (the process group kill still applies to trainers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_DEATHSIG
    except Exception:  # noqa: S110 - not Linux: the process group kill still applies
        pass


def _kill_group(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _pump(stream, name: str, q: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        q.put((name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
    stream.close()
    q.put((name, None))


class _Follower:
    """Reads complete new lines of the track file as the trainer appends them; ``on_bad(line_number, text)`` is
    called for a line that is not a JSON object (a torn line of a killed attempt, a hand-written record)."""

    def __init__(self, path: Path, on_bad: Callable[[int, str], None] | None = None):
        self.path, self.offset, self.buf, self.lineno, self.on_bad = path, 0, b"", 0, on_bad

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        out = []
        for line in lines:
            self.lineno += 1
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                out.append(rec)
            elif self.on_bad is not None and line.strip():
                self.on_bad(self.lineno, line.decode("utf-8", errors="replace"))
        return out


def output_log(run_dir: Path, attempt: int) -> Path:
    """The file that keeps everything attempt ``attempt`` of a run printed (stdout and stderr, in the order the
    lines came); the store keeps only the tail of a failed attempt's output."""
    return run_dir / f"attempt-{attempt}.log"


def last_checkpoint(run_dir: Path) -> tuple[str, int]:
    """(path, step) of the last checkpoint the trainer reported in ``run_dir`` that still exists
    (``("", 0)`` if none)."""
    best: tuple[str, int] = ("", 0)
    for rec in _Follower(run_dir / TRACK_FILE).read():
        if rec.get("event") == "checkpoint" and rec.get("path") and os.path.exists(rec["path"]):
            best = (str(rec["path"]), int(rec.get("step") or 0))
    return best


class _AttemptFailed(Exception):
    """An attempt that failed; ``final``: retrying cannot help (a diverged run), so it is not retried."""

    def __init__(self, reason: str, tail: str, final: bool = False):
        super().__init__(reason)
        self.reason, self.tail, self.final = reason, tail, final


#: a loss printed as NaN or infinite (``val_loss nan``, ``loss: inf``): a diverged run, also where the
#: ``metrics_regex`` (``[-+0-9.eE]+``) does not match such a line
_NONFINITE_LOSS = re.compile(r"(?i)\b(?:val_?loss|loss)\b[^\w\n]{0,3}[-+]?(?:nan|inf(?:inity)?)\b")


def _nonfinite(v: Any) -> bool:
    """True for a value that reads as NaN or an infinity (``float("nan")``, ``"nan"``, ``"-inf"``)."""
    try:
        return not math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _printable(line: str, limit: int = 500) -> str:
    """An output line as it may be stored and printed: control characters and undecodable bytes shown as
    ``?``, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() or c == "\t" else "?" for c in line.replace("\ufffd", "?"))
    return text if len(text) <= limit else text[:limit] + "…"


class _LeaseLost(Exception):
    pass


# ------------------------------------------------------------------------------------------ run
def run_external(cfg: RunConfig, *, store, workdir: str | os.PathLike, owner: str | None = None,
                 device: str = "auto", max_retries: int = 0, progress: Callable[[dict], None] | None = None,
                 poll_s: float = 0.1, heartbeat_s: float | None = None) -> RunResult:
    """Run ``cfg``'s external trainer as one run of the store (see the module docstring), retrying a failed
    attempt up to ``max_retries`` times. Returns its `RunResult` (status done / skipped / leased / failed).

    Raises
    ------
    StoreError
        If the store cannot be written.
    """
    from ..store import default_owner

    run_id = cfg.run_id
    owner = owner or default_owner()
    register(store, cfg)
    if store.status(run_id) == "done":
        return RunResult(run_id, cfg.name, status="skipped")
    attempt = store.claim_run(run_id, owner)  # the store's attempt number: what its history and log say
    if not attempt:
        return RunResult(run_id, cfg.name, status="leased", error=held_by(store, run_id))
    run_dir = (Path(workdir) / run_id).resolve()
    set_aside_stale(run_dir, attempt, store, run_id, cfg.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    tries = 0
    # the time earlier drivers' attempts trained (killed, interrupted, failed): this call's attempts add to it
    t_start = time.time() - store.logged_wall_seconds(run_id)
    while True:
        tries += 1
        try:
            return _attempt(cfg, store=store, owner=owner, run_dir=run_dir, workdir=Path(workdir), device=device,
                            progress=progress, poll_s=poll_s, heartbeat_s=heartbeat_s, attempt=attempt,
                            t_start=t_start)
        except _LeaseLost:
            return RunResult(run_id, cfg.name, status="leased")
        except _AttemptFailed as exc:
            full = output_log(run_dir, attempt)  # named whenever it exists (a hung trainer's may be empty)
            reason = (exc.reason if not full.is_file() else f"{exc.reason}; full output in {full}"
                      + ("" if full.stat().st_size else " (empty: the trainer printed nothing)"))
            msg = f"{reason}; last output:\n{exc.tail}" if exc.tail else reason
            last = tries > max_retries or exc.final
            with contextlib.suppress(StoreError):
                store.log(run_id, f"attempt {attempt} failed: {msg}", level="error")
                store.release_run(run_id, owner, status="failed", error=msg[-4000:])
            if last:
                return RunResult(run_id, cfg.name, status="failed", error=msg[-4000:])
            log.warning("run %s: attempt %d failed (%s); retrying (%d/%d)", _label(cfg), attempt, exc.reason,
                        tries, max_retries)
            attempt = store.claim_run(run_id, owner)
            if not attempt:
                return RunResult(run_id, cfg.name, status="leased")
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            with contextlib.suppress(StoreError):
                store.log(run_id, f"{'interrupted' if interrupted else 'failed'}: {type(exc).__name__}: {exc}",
                          level="error")
                store.release_run(run_id, owner, status="queued" if interrupted else "failed",
                                  error=None if interrupted else f"{type(exc).__name__}: {exc}")
            raise


def _attempt(cfg: RunConfig, *, store, owner: str, run_dir: Path, workdir: Path, device: str, progress,
             poll_s: float, heartbeat_s: float | None, attempt: int, t_start: float) -> RunResult:
    run_id, tr = cfg.run_id, cfg.trainer
    warned: set[tuple[str, str]] = set()

    def warn_once(kind: str, key: str, message: str) -> None:  # one line per kind, key and run attempt
        if (kind, key) in warned:
            return
        warned.add((kind, key))
        log.warning("run %s: %s", _label(cfg), message)
        with contextlib.suppress(StoreError):
            store.log(run_id, message, level="warning")

    def warn_extra(message: str) -> None:
        warn_once("extra", message.split(":", 1)[0], f"extra metric {message}; skipped")

    def warn_value(key: str, value: Any, where: str) -> None:
        warn_once("value", key, f"{key} {_printable(str(value), 60)!r} {where} is not a number; skipped")

    def bad_track_line(lineno: int, text: str) -> None:
        warn_once("track", TRACK_FILE, f"{TRACK_FILE} line {lineno} is not a JSON object "
                                       f"({_printable(text, 80)!r}); skipped (and any later such line)")

    resume, resume_step = last_checkpoint(run_dir)
    follower = _Follower(run_dir / TRACK_FILE, on_bad=bad_track_line)
    earlier = [r for r in follower.read() if r.get("event") == "log"]  # replayed below (idempotent inserts)
    regexes = [re.compile(r) for r in tr.get("metrics_regex", [])]
    timeout_s, idle_s = tr.get("timeout_s"), tr.get("progress_timeout_s")
    total_steps = cfg.steps_for(cfg.tokens)

    def emit(**info: Any) -> None:
        if progress is not None:
            progress({"run_id": run_id, "name": cfg.name, "total_steps": total_steps, **info})

    with one_gpu(workdir / ".gpu-locks") as gpu, \
            open(output_log(run_dir, attempt), "a", encoding="utf-8", buffering=1) as out_log:
        dev = device
        if dev == "auto":
            dev = "cuda" if (gpu is not None or visible_gpus()) else "cpu"
        argv = render_command(cfg, run_dir=str(run_dir), device=dev, resume=resume)
        env = {**trainer_environ(os.environ, postgresql=getattr(store, "dialect", "") == "postgresql"),
               **tr.get("env", {}), "SCALINGLAB_RUN_DIR": str(run_dir), "SCALINGLAB_RUN_ID": run_id,
               "SCALINGLAB_RESUME": resume, "PYTHONUNBUFFERED": "1"}
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        store.log(run_id, f"attempt {attempt}: launching {argv[0]} ({len(argv) - 1} args) in {tr['cwd']}"
                  + (f", resuming from {resume}" if resume else "") + (f" on GPU {gpu}" if gpu is not None else ""))
        try:
            proc = subprocess.Popen(argv, cwd=tr["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True,
                                    preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
        except OSError as exc:
            raise _AttemptFailed(f"cannot start the trainer {argv[0]!r}: {exc}", "") from None
        q: queue.Queue = queue.Queue()
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            threading.Thread(target=_pump, args=(stream, name, q), daemon=True).start()
        tails = {"stdout": deque(maxlen=_TAIL_LINES), "stderr": deque(maxlen=_TAIL_LINES)}
        open_streams = 2
        t0 = last_activity = last_beat = time.time()
        final: dict | None = None
        last_val: dict | None = None
        last_tokens = 0
        emit(step=0, event="start")

        def tail() -> str:
            t = list(tails["stderr"]) or list(tails["stdout"])
            return "\n".join(_printable(line) for line in t[-20:])

        def diverged(what: str) -> _AttemptFailed:
            return _AttemptFailed(f"the trainer reported {what}: the run diverged (lower the lr); not retried",
                                  tail(), final=True)

        def record(rec: dict) -> None:
            nonlocal last_val, last_tokens
            if rec.get("step") is None:
                return
            step = _whole(rec["step"])
            if step is None:
                warn_value("step", rec["step"], "of a metric point")
                return
            for key in ("val_loss", "loss"):
                if _nonfinite(rec.get(key)):
                    raise diverged(f"{key} = {rec[key]} at step {step}")
            for key in ("val_loss", "loss", "lr", "tokens_per_second", "val_bpb", "loss_bpb"):
                if rec.get(key) is not None and _f(rec[key]) is None:
                    warn_value(key, rec[key], f"at step {step}")
            tokens = _whole(rec["tokens"]) if rec.get("tokens") is not None else None
            if rec.get("tokens") is not None and tokens is None:
                warn_value("tokens", rec["tokens"], f"at step {step}")
            tokens = tokens if tokens is not None else step * cfg.batch_tokens
            last_tokens = max(last_tokens, tokens)
            elapsed = max(time.time() - t_start, 1e-9)  # all attempts: the tokens are all attempts'
            base = {"step": step, "tokens": tokens, "lr": _f(rec.get("lr")), "wall_seconds": time.time() - t_start,
                    "tokens_per_second": _f(rec.get("tokens_per_second"))}
            extra = _extras(rec, _LOG_KEYS, warn_extra)
            if extra:
                base["extra"] = extra
            rows = []
            if _f(rec.get("val_loss")) is not None:
                v = _f(rec["val_loss"])
                rows.append({**base, "split": "val", "loss_nats": v, "loss_bpb": _bpb(cfg, v, rec.get("val_bpb"))})
                last_val = {"step": step, "tokens": tokens, "loss": v}
            if _f(rec.get("loss")) is not None:
                v = _f(rec["loss"])
                rows.append({**base, "split": "train", "loss_nats": v, "loss_bpb": _bpb(cfg, v, rec.get("loss_bpb"))})
            if not rows and extra:  # metrics without a loss (e.g. a downstream eval): a train point, loss NULL
                rows.append({**base, "split": "train", "loss_nats": None, "loss_bpb": None})
            if rows:
                try:
                    store.add_metrics(run_id, rows, owner=owner)  # fenced: refused once the lease is lost
                except LeaseLostError:
                    raise _LeaseLost() from None
                if rows[-1]["loss_nats"] is not None:
                    emit(step=step, event="step", loss=rows[-1]["loss_nats"], tokens_per_second=tokens / elapsed)

        try:
            for rec in earlier:  # points an interrupted driver may not have stored yet
                record(rec)
            while True:
                now = time.time()
                for rec in follower.read():
                    last_activity = time.time()
                    ev = rec.get("event")
                    if ev == "log":
                        record(rec)
                    elif ev == "finish":
                        final = rec
                    elif ev == "checkpoint":
                        store.log(run_id, f"checkpoint at step {rec.get('step')}: {rec.get('path')}")
                try:
                    while True:
                        name, line = q.get(timeout=poll_s)
                        if line is None:
                            open_streams -= 1
                            if open_streams == 0:
                                break
                            continue
                        last_activity = time.time()
                        tails[name].append(line)
                        out_log.write(line + "\n")  # stdout and stderr as they came (line-buffered append)
                        if name == "stdout" and regexes:
                            matched = False
                            for rx in regexes:
                                m = rx.search(line)
                                if m:
                                    matched = True
                                    for key in _cut_short(m):
                                        warn_once("cut", key, f"metrics_regex read {key} = {m.group(key)!r} from "
                                                  f"a longer value in the line {_printable(line, 160)!r} (use a "
                                                  r"float pattern such as (?P<val_loss>[-+0-9.eE]+))")
                                    record({k: v for k, v in m.groupdict().items() if v is not None})
                            if not matched and _NONFINITE_LOSS.search(line):
                                raise diverged(f"a non-finite loss ({_printable(line, 120)!r})")
                except queue.Empty:
                    pass
                if open_streams == 0 and proc.poll() is not None:
                    break
                if now - last_beat > (heartbeat_s if heartbeat_s is not None else
                                      float(getattr(store, "heartbeat_s", 10.0))):
                    if not store.heartbeat(run_id, owner):
                        _kill_group(proc)
                        raise _LeaseLost()
                    last_beat = now
                if timeout_s and now - t0 > timeout_s:
                    _kill_group(proc)
                    raise _AttemptFailed(f"timed out after {timeout_s:g} s (trainer.timeout_s); killed", tail())
                if idle_s and now - last_activity > idle_s:
                    _kill_group(proc)
                    raise _AttemptFailed(f"no progress for {idle_s:g} s (no output, no tracked metric; "
                                         f"trainer.progress_timeout_s); killed", tail())
        except BaseException:
            if proc.poll() is None:
                _kill_group(proc)
            raise
        rc = proc.wait()
        for rec in follower.read():  # records written just before exit
            if rec.get("event") == "log":
                record(rec)
            elif rec.get("event") == "finish":
                final = rec
    if rc != 0:
        how = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
        raise _AttemptFailed(f"trainer failed ({how})", tail())
    if final is None and last_val is not None and regexes:
        final = {"loss": last_val["loss"], "step": last_val["step"], "tokens": last_val["tokens"]}
    if final is not None and _nonfinite(final.get("loss")):
        raise _AttemptFailed(f"the trainer's final loss is {final['loss']}: the run diverged (lower the lr); not "
                             "retried", "", final=True)
    if final is None or final.get("loss") is None:
        raise _AttemptFailed("trainer exited 0 without a final loss: call scalinglab.track.finish(loss=...) or "
                             "print a line that metrics_regex matches with val_loss", tail())
    if _f(final.get("loss")) is None:
        raise _AttemptFailed(f"the trainer's final loss {_printable(str(final.get('loss')), 60)!r} is not a number "
                             "(scalinglab.track.finish(loss=...) takes the validation loss in nats/token)", tail())
    if _f(final["loss"]) <= 0:  # a cross-entropy in nats is > 0: a bug in the trainer, which a retry repeats
        raise _AttemptFailed(f"the trainer reported loss {final['loss']} as the final loss: a cross-entropy in "
                             "nats/token is > 0 (a sign or unit bug in the trainer); not retried", tail(), final=True)
    if final.get("step") is None and last_val is not None:  # the trainer's own step count, not the runner's
        final = {**final, "step": last_val["step"]}
    return _finish(cfg, store=store, owner=owner, final=final, last_tokens=last_tokens, device=device,
                   wall=time.time() - t_start, emit=emit, resumed_step=resume_step, run_dir=run_dir,
                   extra=_extras(final, _FINISH_KEYS, warn_extra))


def _label(cfg: RunConfig) -> str:
    """How messages name a run (`scalinglab.runner.train.run_label`)."""
    return run_label(cfg.name, cfg.run_id)


def _cut_short(m: re.Match) -> list[str]:
    """Named groups of a ``metrics_regex`` match whose value goes on right after the group in the line (a
    letter, digit or dot: ``2.073`` of ``2.073e+01``, ``3.2`` of ``3.2.1``): the regex read part of a number."""
    line = m.string
    return [k for k, v in m.groupdict().items()
            if v is not None and m.end(k) < len(line) and (line[m.end(k)].isalnum() or line[m.end(k)] == ".")]


def _whole(v: Any) -> int | None:
    """``v`` as a whole number (``5``, ``"5"``, ``5.0``), or None when it is not one (``5.7``, ``inf``, ``"x"``,
    a bool)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    f = None if isinstance(v, bool) else _f(v)
    return int(f) if f is not None and f.is_integer() else None


def _f(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _bytes_per_token(cfg: RunConfig) -> float | None:
    """Bytes per token of an external trainer's tokens: only what the spec states (``data.bytes_per_token``).
    scalinglab never tokenizes for such a trainer, so a text ``data.path`` says nothing about its tokenizer."""
    d = cfg.data
    return float(d["bytes_per_token"]) if d.get("bytes_per_token") else None


def _bpb(cfg: RunConfig, nats: float, reported: Any) -> float | None:
    """Bits/byte of a loss of ``nats`` nats/token: the trainer's ``reported`` value, else from the spec's
    ``data.bytes_per_token``, else None (unknown)."""
    if _f(reported) is not None:
        return _f(reported)
    bpt = _bytes_per_token(cfg)
    return None if bpt is None else nats / (LN2 * bpt)


def _finish(cfg: RunConfig, *, store, owner: str, final: dict, last_tokens: int, device: str, wall: float,
            emit, resumed_step: int, run_dir: Path, extra: dict | None = None) -> RunResult:
    run_id = cfg.run_id
    n = cfg.n_params()
    fpt = cfg.flops_per_token()
    rep_tokens = final.get("tokens")
    tokens = int(rep_tokens) if rep_tokens is not None else int(cfg.tokens)
    loss = float(final["loss"])
    bpb = _bpb(cfg, loss, final.get("loss_bpb"))
    step = int(final["step"]) if final.get("step") is not None else cfg.steps_for(tokens)
    reported = {k: final.get(k) for k in ("params", "tokens", "flops") if final.get(k) is not None}
    evals_extra = {k: v for k, v in final.items() if k not in _FINISH_KEYS}
    conv = store.get_run(run_id) or {}
    by_conv = conv.get("params_by_convention") or {}
    if isinstance(by_conv, dict) and final.get("params") is not None:
        by_conv = {**by_conv, "trainer": int(final["params"])}
    tps = tokens / wall if wall > 0 else None
    summary = {"wall_seconds": wall, "tokens_per_second": tps, "flops_per_second": tps * fpt if tps else None,
               "final_loss_nats": loss, "final_loss_bpb": bpb, "resumed_from_step": resumed_step,
               "params_by_convention": json.dumps(by_conv, sort_keys=True),
               "environment": {**_env(device), "trainer": "external", "command": list(cfg.trainer["command"]),
                               "reported": reported, "evaluations": evals_extra,
                               "by_architecture": {"params": n, "tokens": int(cfg.tokens),
                                                   "flops": fpt * int(cfg.tokens)},
                               "run_dir": str(run_dir),
                               "output_logs": sorted((str(p) for p in run_dir.glob("attempt-*.log")),
                                                     key=lambda p: int(p.rsplit("-", 1)[1][:-4]))}}
    ev = {"branch": "", "step": step, "split": "val", "params": n, "tokens": tokens, "flops": fpt * tokens,
          "loss_nats": loss, "loss_bpb": bpb}
    if extra:
        ev["extra"] = dict(extra)
    if not store.finish_run(run_id, owner, evaluations=[ev], summary=summary):
        return RunResult(run_id, cfg.name, status="leased")
    if tokens < 0.9 * cfg.tokens:  # stopped early, or the last metric lines were not read
        short = (f"trained {tokens:,} tokens, {tokens / cfg.tokens:.0%} of the {int(cfg.tokens):,} planned: did the "
                 "trainer stop early, or was its last metric line not read?")
        log.warning("run %s: %s", _label(cfg), short)
        store.log(run_id, short, level="warning")
    disagree = {k: (reported[k], ev[k]) for k in reported if reported[k] and abs(float(reported[k]) - ev[k])
                > 1e-6 * max(1.0, abs(ev[k]))}
    store.log(run_id, f"done: val loss {loss:.4f} nats/token" + (f" = {bpb:.4f} bits/byte" if bpb is not None else
                                                                  " (bits/byte unknown)")
              + (f"; trainer-reported values differ from the architecture's: {disagree}" if disagree else ""))
    emit(step=step, event="done", val_loss=loss)
    return RunResult(run_id, cfg.name, status="done", evaluations=[ev], final_loss_nats=loss, final_loss_bpb=bpb,
                     params=n, tokens=tokens, flops=fpt * tokens, wall_seconds=wall, tokens_per_second=tps,
                     flops_per_second=tps * fpt if tps else None, resumed_from_step=resumed_step)


def _env(device: str) -> dict:
    try:
        return environment("cpu" if device == "auto" else device)
    except Exception:  # pragma: no cover - e.g. CUDA named but absent in the driver process
        return {"device": device}
