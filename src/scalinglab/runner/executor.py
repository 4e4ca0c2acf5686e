"""Where runs execute: a small :class:`Executor` interface and the local implementation.

The unit of work is a :class:`RunTask` (plain, picklable data: a run config, a store URL and a checkpoint
folder) executed by :func:`execute_task`, which trains the run and writes it to the store. An executor only
decides *where* tasks run and yields their :class:`~scalinglab.runner.train.RunResult` as they finish;
leases in the store guarantee a run is trained once even if two sweeps share a store. A cluster executor
(e.g. Ray: one remote task per :class:`RunTask`, calling :func:`execute_task`) plugs in by implementing
``map`` without touching the training code, and registering itself in :data:`EXECUTORS`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from .._errors import DiskFullError, InputError, StoreError
from .spec import RunConfig, Sweep, recorded_config, secret_name
from .train import RunResult, register, run_label, train_run

log = logging.getLogger(__name__)

__all__ = ["RunTask", "Executor", "LocalExecutor", "execute_task", "run_sweep", "get_executor", "EXECUTORS",
           "Terminated", "sigterm_interrupts", "sweep_outcome", "EXIT_HELD"]


@dataclass(frozen=True)
class RunTask:
    """One run to execute: its config (as a dict), the store URL (with credentials: never print it) and the
    checkpoint folder."""

    config: dict
    store_url: str = field(repr=False)
    workdir: str
    device: str = "auto"
    threads: int | None = None
    #: external-trainer runs: attempts after a failed one (non-zero exit, timeout, no progress)
    max_retries: int = 0


def execute_task(task: RunTask, progress: Callable[[dict], None] | None = None) -> RunResult:
    """Run one task to completion in this process (used by every executor): the built-in trainer, or the
    spec's ``[trainer]`` command (`scalinglab.runner.external.run_external`)."""
    from ..store import Store

    cfg = RunConfig.from_dict(task.config)
    store = Store(task.store_url)
    try:
        if cfg.trainer:
            from .external import run_external

            return run_external(cfg, store=store, workdir=task.workdir, device=task.device,
                                max_retries=task.max_retries, progress=progress)
        from .external import one_gpu, visible_gpus

        with one_gpu(Path(task.workdir) / ".gpu-locks") as gpu:  # several local GPUs: one per run
            device = task.device if gpu is None or task.device not in ("auto", "cuda") else \
                f"cuda:{visible_gpus().index(gpu)}"
            return train_run(cfg, store=store, workdir=task.workdir, device=device, threads=task.threads,
                             progress=progress)
    except (StoreError, DiskFullError):  # the store or the disk is unusable: stop the sweep with this error
        raise
    except Exception as exc:  # recorded in the store by train_run; report it, keep the sweep going
        return RunResult(cfg.run_id, cfg.name, status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


class Executor(Protocol):
    """Runs tasks somewhere and yields their results as they complete."""

    name: str
    #: True when ``map`` runs tasks in this process (per-step progress callbacks are then delivered).
    in_process: bool

    def submit(self, task: RunTask) -> Future:
        """Start one task; the future's result is its :class:`RunResult`."""
        ...

    def map(self, tasks: Iterable[RunTask], progress: Callable[[dict], None] | None = None) -> Iterator[RunResult]:
        """Run many tasks, yielding results as they complete."""
        ...


class LocalExecutor:
    """Run tasks on this machine: in this process (``workers=1``) or in a process pool.

    With ``workers > 1`` each worker process gets ``cores // workers`` torch threads; per-step progress is
    then not streamed (only per-run completion).
    """

    name = "local"

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise InputError(f"workers must be ≥ 1, got {workers}")
        self.workers = workers
        self.in_process = workers == 1
        self._pool = None

    def submit(self, task: RunTask) -> Future:
        """Start one task (in-process: run it now); the future's result is its `RunResult`."""
        if self.in_process:  # run now, hand back a completed future
            fut: Future = Future()
            try:
                fut.set_result(execute_task(task))
            except BaseException as exc:  # pragma: no cover - execute_task already catches Exception
                fut.set_exception(exc)
            return fut
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init, initargs=(os.getpid(),))
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        return self._pool.submit(_pool_task, replace(task, threads=task.threads or threads))

    def shutdown(self) -> None:
        """Shut the worker pool down (if one was started); a later submit starts a new one."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def map(self, tasks: Iterable[RunTask], progress: Callable[[dict], None] | None = None) -> Iterator[RunResult]:
        """Run many tasks, yielding `RunResult`s as they complete; ``progress`` gets per-step dicts."""
        tasks = list(tasks)
        if self.in_process:
            for t in tasks:
                yield execute_task(t, progress)
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        threads = max(1, (os.cpu_count() or 1) // self.workers)
        tasks = [replace(t, threads=t.threads or threads) for t in tasks]
        pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                   initargs=(os.getpid(),))
        try:
            futures = [pool.submit(_pool_task, t) for t in tasks]
            for f in as_completed(futures):
                yield f.result()
        except BaseException:  # Ctrl-C reaches the workers too; SIGTERM (a scheduler) only this process
            _stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


#: in a pool worker: whether it is running a task now (SIGTERM then interrupts the task, else ends the worker)
_BUSY = threading.Event()


def _pool_task(task: RunTask) -> RunResult:  # pragma: no cover - runs in the pool's worker processes
    _BUSY.set()
    try:
        return execute_task(task)
    finally:
        _BUSY.clear()


def _on_worker_sigterm(signum, frame):  # pragma: no cover - runs in the pool's worker processes
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the attempt's clean-up finish
    if not _BUSY.is_set():
        os._exit(143)
    raise Terminated("SIGTERM")


def _worker_init(parent_pid: int) -> None:  # pragma: no cover - runs in the pool's worker processes
    """A pool worker dies with the sweep's process (Linux: PR_SET_PDEATHSIG), instead of staying behind
    and starting runs nobody is waiting for when the driver is killed (``kill -9``); one whose parent is
    already gone exits at once. SIGTERM (sent by a stopping driver, `_stop_workers`) interrupts its attempt as
    Ctrl-C does: the attempt is marked interrupted, the trainer stopped and the run queued again."""
    from .external import die_with_parent

    die_with_parent()
    if os.getppid() != parent_pid:
        os._exit(1)
    signal.signal(signal.SIGTERM, _on_worker_sigterm)


def _stop_workers(pool) -> None:
    """SIGTERM to each of ``pool``'s worker processes: the driver was stopped (SIGTERM reaches only it, unlike a
    terminal's Ctrl-C), and shutting the pool down would otherwise wait for every running attempt to end."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # ProcessPoolExecutor keeps no public list
        try:
            proc.terminate()
        except (OSError, AttributeError, ValueError):  # already gone
            pass


#: executor name → factory(workers=...) (a Ray executor registers itself here later).
EXECUTORS: dict[str, Callable[..., Any]] = {"local": LocalExecutor}


#: executors that live in their own module (imported on first use; they register themselves in EXECUTORS).
PLUGINS: dict[str, str] = {"ray": "scalinglab.runner.ray_executor"}


def get_executor(name: str = "local", workers: int = 1, **options: Any) -> Executor:
    """The executor called ``name`` (``local``, or ``ray`` when its extra is installed).

    Raises `InputError` for an unknown name."""
    if name not in EXECUTORS and name in PLUGINS:
        import importlib

        importlib.import_module(PLUGINS[name])
    if name not in EXECUTORS:
        raise InputError(f"unknown executor {name!r}; available: {', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name](workers=workers, **options)


def default_workdir(store: Any, spec: str | os.PathLike | None = None) -> Path:
    """The checkpoint folder of a store: ``.scalinglab-checkpoints`` beside a SQLite file (a `Store`, a path or
    a ``sqlite:///`` URL); for a database URL (no file to sit beside) beside the sweep's ``spec`` file, where
    its trainer runs, so a rerun from another folder resumes the same checkpoints; else in the current folder.
    Tokenized user data is cached beside it."""
    from sqlalchemy.engine import make_url

    if isinstance(store, str | os.PathLike) and "://" not in str(store):
        return Path(store).expanduser().resolve().parent / ".scalinglab-checkpoints"
    url = store.url if hasattr(store, "url") else make_url(str(store))
    db = url.database if url.get_backend_name() == "sqlite" and url.database else None
    if db:
        return Path(db).resolve().parent / ".scalinglab-checkpoints"
    if spec is not None and Path(spec).is_file():
        return Path(spec).resolve().parent / ".scalinglab-checkpoints"
    return Path.cwd() / ".scalinglab-checkpoints"


def run_sweep(sweep: Sweep | Iterable[RunConfig], store: Any = "scalinglab-runs.db", *,
              executor: Executor | str = "local", workers: int = 1, workdir: str | os.PathLike | None = None,
              device: str = "auto", console: Any = None, show_progress: bool = True,
              max_retries: int = 0) -> list[RunResult]:
    """Run every run of ``sweep`` that is not done yet, recording them in ``store``; return the results.

    Finished runs are skipped, unfinished ones resume from their last checkpoint (kept in ``workdir``,
    default ``<store folder>/.scalinglab-checkpoints``; for a database URL ``<spec folder>/...``:
    `default_workdir`). User data (``data = { path = ... }``) is tokenized
    and checked first, before anything is written to the store. An external-trainer run that fails is
    retried up to ``max_retries`` times. Shows Rich progress bars (sweep and current run, tokens/s, achieved
    FLOP/s, MFU, ETA) unless ``show_progress=False``.

    Raises
    ------
    InputError
        If a run's data is missing, empty, unreadable, holds ids past the vocabulary or is too small.
    """
    from ..store import Store
    from .datasets import default_cache_dir, prepare_sweep_data

    runs = list(sweep.runs if isinstance(sweep, Sweep) else sweep)
    if workdir is None:
        workdir = default_workdir(store, sweep.source if isinstance(sweep, Sweep) else None)
    sources = prepare_sweep_data(runs, default_cache_dir(workdir))  # data errors before the store is touched
    _warn_epochs(runs, sources)
    if (executor if isinstance(executor, str) else getattr(executor, "name", "")) == "local":
        from .external import check_trainers_found

        check_trainers_found(runs, sweep.source if isinstance(sweep, Sweep) else None)  # a trainer that cannot start: one error before the store is touched
    st = store if isinstance(store, Store) else Store(store)
    ex = get_executor(executor, workers) if isinstance(executor, str) else executor
    _warn_rekeyed(st, runs)
    for cfg in runs:
        register(st, cfg)
    _check_same_data(st, runs, sources)
    url = st.url.render_as_string(hide_password=False)
    tasks = [RunTask(cfg.to_dict(), url, str(workdir), device, max_retries=max_retries)
             for cfg in runs if st.status(cfg.run_id) != "done"]
    done_already = len(runs) - len(tasks)
    log.info("sweep of %d run(s): %d done already, %d to run on the %s executor (store %s)", len(runs),
             done_already, len(tasks), getattr(ex, "name", type(ex).__name__), st)
    try:
        results = _execute(ex, tasks, runs, done_already, console, show_progress)
        log.info("sweep finished: %d of %d run(s) done", sum(r.status == "done" for r in results), len(results))
        return results
    finally:
        try:  # leave no empty checkpoint folder behind
            Path(workdir).rmdir()
        except OSError:
            pass


#: exit code of `scalinglab run` when, at exit, runs of the sweep are not done because another process had them
#: (still training them, or left them unfinished): the sweep is incomplete although nothing failed here
EXIT_HELD = 3


def sweep_outcome(runs: Sweep | Iterable[RunConfig], results: list[RunResult], store: Any) -> dict[str, int]:
    """What became of every run of a sweep, counted once each, after :func:`run_sweep` returned ``results``
    (the runs it did not find done): ``runs``; ``already_done`` (done before the sweep started);
    ``trained`` (finished by this sweep); ``failed``; ``interrupted``; ``finished_elsewhere`` (finished by another
    process meanwhile: found done when claimed, or held by another process and done by now); ``held``
    (held by another process and still not done now: the sweep is incomplete, see :data:`EXIT_HELD`). The
    store is asked again about the held runs, since the other process may have finished them since.

    Raises
    ------
    StoreError
        If the store cannot be read.
    """
    runs = list(runs.runs if isinstance(runs, Sweep) else runs)
    by_status = {s: [r for r in results if r.status == s] for s in ("done", "failed", "interrupted", "skipped",
                                                                    "leased")}
    done_now = [r for r in by_status["leased"] if store.status(r.run_id) == "done"]
    return {"runs": len(runs), "already_done": len(runs) - len(results), "trained": len(by_status["done"]),
            "failed": len(by_status["failed"]), "interrupted": len(by_status["interrupted"]),
            "finished_elsewhere": len(by_status["skipped"]) + len(done_now),
            "held": len(by_status["leased"]) - len(done_now)}


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, a preemption, ``kill``) while :func:`sigterm_interrupts` was active: handled as a
    Ctrl-C (attempts marked ``interrupted``, runs back to the queue), told apart for the exit code (143)."""


@contextlib.contextmanager
def sigterm_interrupts():
    """While active, SIGTERM raises :class:`Terminated` (a `KeyboardInterrupt`) in the main thread, so a sweep
    stopped by a scheduler cleans up as after Ctrl-C; a second SIGTERM during that clean-up is ignored. The
    previous handler is restored on exit. Outside the main thread (where Python cannot set handlers) it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts (``trainer.command``, ``lr``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            out += _changed_keys(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [] if old == new else [prefix.rstrip(".")]


def _warn_rekeyed(st: Any, runs: list[RunConfig]) -> None:
    """Warn when runs of this sweep carry the names of finished runs in the store but another configuration:
    a run's id hashes its whole config, so changing any setting (a trainer flag, the lr) trains it again as a new
    run beside the old one, which a user who meant to resume should hear before the compute is spent."""
    finished = [r for sw in {cfg.sweep for cfg in runs} for r in st.list_runs(status="done", sweep=sw)]
    ids = {r["id"] for r in finished}
    done = {(r.get("sweep"), r.get("name")): r for r in finished}
    changed = []
    for cfg in runs:
        old = done.get((cfg.sweep, cfg.name))
        if old is not None and cfg.run_id not in ids:  # this very config finished before: nothing changed
            keys = _changed_keys(old.get("config") or {}, recorded_config(cfg.to_dict()))  # both masked
            secret = [f"trainer.env.{k} (masked)" for k in (cfg.trainer or {}).get("env", {}) if secret_name(k)]
            changed.append((cfg.name, keys or secret))
    if changed:
        keys = sorted({k for _, ks in changed for k in ks})
        log.warning("%d run(s) of this sweep have the names of finished runs in %s but another configuration "
                    "(changed: %s; e.g. %s): they are new runs, trained beside the old ones; restore the old "
                    "settings to keep the finished runs", len(changed), st, ", ".join(keys[:6]) or "?",
                    changed[0][0])


def _warn_epochs(runs: list[RunConfig], sources: dict) -> None:
    """Warn when built-in runs on the user's data train more tokens than its training split holds: they repeat
    it (epochs > 1), which a law of N and D without unique tokens reads as new data. One warning naming each
    such run and its epochs (trained tokens / unique training tokens)."""
    import json

    over: dict[str, tuple[int, list[str]]] = {}  # data path → (unique training tokens, ["run (E epochs)"])
    bundled: dict[str, object] = {}  # the bundled English text: finite too (a synthetic source never repeats)
    for cfg in runs:
        key = json.dumps(dict(cfg.data), sort_keys=True, default=str)
        src = sources.get(key)
        if src is None and cfg.data.get("name") == "text" and not getattr(cfg, "trainer", None):
            if key not in bundled:
                from .corpus import make_source

                bundled[key] = make_source(dict(cfg.data))
            src = bundled[key]
        unique = src.split_tokens("train") if src is not None else 0
        trained = cfg.steps_for(cfg.tokens) * cfg.batch_tokens  # whole optimiser steps, the longest budget
        if unique and trained > unique:
            over.setdefault(str(cfg.data.get("path") or "the bundled text"), (unique, []))[1].append(
                f"{cfg.name or cfg.run_id} ({trained / unique:.1f} epochs)")
    for path, (unique, names) in over.items():
        log.warning("%d run(s) train more tokens than the training split of %s holds (%s unique tokens), so they "
                    "repeat it: %s%s. A scaling law of N and D reads repeated tokens as new data: give the sweep more "
                    "data or smaller budgets", len(names), path, f"{unique:,}",
                    ", ".join(names[:5]), ", ..." if len(names) > 5 else "")


def _check_same_data(st: Any, runs: list[RunConfig], sources: dict) -> None:
    """Refuse a sweep whose user data changed since some of its runs finished: a finished run is skipped, so
    its loss (measured on the old validation tokens) would sit in one table beside runs scored on the new
    ones. Compares the content hash each finished run recorded (``environment.data``) with the data's now.

    Raises
    ------
    InputError
        Naming the data, how many finished runs were trained on other contents, and what to do.
    """
    import json

    changed: dict[str, list[str]] = {}
    for cfg in runs:
        src = sources.get(json.dumps(dict(cfg.data), sort_keys=True, default=str))
        now = src.info.get("content_sha256") if src is not None else None
        run = st.get_run(cfg.run_id) if now else None  # one query: its status and what it was scored on
        if not run or run.get("status") != "done":
            continue
        was = ((run.get("environment") or {}).get("data") or {}).get("content_sha256")
        if was and was != now:
            changed.setdefault(str(cfg.data.get("path")), []).append(cfg.name or cfg.run_id)
    if changed:
        path, names = next(iter(changed.items()))
        raise InputError(f"the data {path} changed since {len(names)} finished run(s) of this sweep were trained "
                         f"on it ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): their losses were "
                         "measured on other validation tokens and would be mixed with the new runs'. Give the "
                         "sweep a new store (--store) for the new data, or restore the data")


def _logged(res: RunResult) -> RunResult:
    """Log a finished run (INFO when done, or left to another process; WARNING when it failed) and hand it
    back."""
    label = run_label(res.name, res.run_id)
    if res.status == "done":
        log.info("run %s done: val loss %s nats/token", label, res.final_loss_nats)
    elif res.status in ("leased", "skipped"):  # another driver on the store has it: nothing went wrong
        log.info("run %s: %s", label, _outcome(res))
    else:
        log.warning("run %s %s: %s", label, res.status, _outcome(res))
    return res


def _outcome(res: RunResult) -> str:
    """What became of a run that this sweep did not finish, in words."""
    if res.status == "leased":
        return res.error or "taken over by another process"
    if res.status == "skipped":
        return "already done (by another process)"
    return _brief(res.error) or res.status


def _brief(error: str | None) -> str:
    """A failed run's error on one console line: its first line and, when the error goes on (a trainer's
    output tail), its last non-empty line (``trainer failed (exit code 1); last output: … ValueError: boom``);
    ``scalinglab runs show`` prints it all."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"
    return text if len(text) <= 300 else text[:300] + "…"


def _execute(ex: Executor, tasks: list[RunTask], runs: list[RunConfig], done_already: int, console: Any,
             show_progress: bool) -> list[RunResult]:
    results: list[RunResult] = []
    if not show_progress:
        return [_logged(res) for res in ex.map(tasks)]

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console(stderr=True, emoji=False)
    fpt = {cfg.run_id: cfg.flops_per_token() for cfg in runs}
    with Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                  console=console, transient=False) as bar:
        overall = bar.add_task(f"runs ({done_already} {'was' if done_already == 1 else 'were'} done)"
                               if done_already else "runs", total=len(runs),
                               completed=done_already, info="")
        current = {"task": None}

        def on_progress(ev: dict) -> None:
            if ev["event"] == "start":
                if current["task"] is not None:
                    bar.remove_task(current["task"])
                label = (ev["name"] or ev["run_id"]).rsplit("/", 1)[-1]
                current["task"] = bar.add_task(f"  {label}", total=ev["total_steps"],
                                               completed=ev["step"], info="")
            elif ev["event"] == "step" and current["task"] is not None:
                tps = ev.get("tokens_per_second") or 0.0
                mfu = f" | MFU {ev['mfu']:.1%}" if ev.get("mfu") else ""
                bar.update(current["task"], completed=ev["step"],
                           info=f"loss {ev['loss']:.3f} | {tps:,.0f} tok/s | {tps * fpt[ev['run_id']]:.2e} FLOP/s"
                                + mfu)
            elif ev["event"] == "done" and current["task"] is not None:
                bar.update(current["task"], completed=ev["total_steps"])

        for res in ex.map(tasks, on_progress if ex.in_process else None):
            results.append(_logged(res))
            label = (res.name or res.run_id).rsplit("/", 1)[-1]
            if res.final_loss_nats is not None:
                info = f"{label}: {res.status}, val {res.final_loss_nats:.4f} nats/token" + (
                    f" = {res.final_loss_bpb:.4f} bits/byte" if res.final_loss_bpb is not None else "")
            else:
                info = f"{label}: {_outcome(res)}" if res.status in ("leased", "skipped") else \
                    f"{label}: {res.status}, {_outcome(res)}"
            bar.update(overall, advance=1, info=info)
        if current["task"] is not None:
            bar.remove_task(current["task"])
    return results
