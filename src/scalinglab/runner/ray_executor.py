"""Run sweeps on a Ray cluster: one Ray task per run, each writing its own results to the shared store.

>>> from scalinglab.runner import load_spec, run_sweep
>>> from scalinglab.runner.ray_executor import RayExecutor
>>> ex = RayExecutor(address="auto", num_cpus=4, num_gpus=1, max_retries=3)      # doctest: +SKIP
>>> run_sweep(load_spec("ladder.toml"), "postgresql+psycopg://lab@db/runs", executor=ex)  # doctest: +SKIP

Each :class:`~scalinglab.runner.executor.RunTask` becomes one Ray task with its own resource request
(CPUs, GPUs, memory). The task calls :func:`~scalinglab.runner.executor.execute_task`, so training,
checkpointing and the store writes are exactly those of the local executor. Exactly-once comes from the
store, not from Ray: run ids are content hashes, a run is trained only by the holder of its lease, metric
inserts are idempotent and a run's final rows plus ``status='done'`` are one transaction. So:

* a worker killed mid-run → Ray retries the task (``max_retries``) in a new worker process; the new attempt
  takes over the dead worker's lease (at once on the same host, after the lease expires on another one),
  the store records the killed attempt as ``lost`` in its attempt history (``Store.attempts``), and the run
  resumes from the last checkpoint if ``workdir`` is shared between nodes (otherwise it restarts the run from
  step 0, which gives the same losses because batches are a pure function of ``(seed, step)``);
* the store unreachable past its retry limit, or a full disk → the sweep stops with that one error (as on
  the local executor); rerun the command to resume;
* the driver killed → rerun the same ``scalinglab run SPEC --executor ray`` command: finished runs are
  skipped, unfinished ones resume.

Every node must have scalinglab (with its ``runner`` extra) installed and reach the store. Use a
PostgreSQL store for multi-node clusters; a SQLite file works only on one node or a shared file system.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from .._errors import DiskFullError, InputError, StoreError
from .executor import EXECUTORS, RunTask, execute_task
from .train import RunResult

log = logging.getLogger(__name__)

__all__ = ["RayExecutor", "parse_memory"]

_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_memory(value: int | float | str | None) -> int | None:
    """Bytes from ``4GiB``, ``512MiB``, ``2GB``, ``1e9`` or an int (None stays None).

    Raises
    ------
    InputError
        If ``value`` cannot be read as a size, or is not positive.
    """
    if value is None:
        return None
    if isinstance(value, int | float):
        if value <= 0:
            raise InputError(f"memory must be > 0 bytes, got {value}")
        return int(value)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).upper() not in _UNITS:
        raise InputError(f"cannot read memory {value!r} (expected e.g. 4GiB, 512MiB, 2GB or a number of bytes)")
    n = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if n <= 0:
        raise InputError(f"memory must be > 0 bytes, got {value!r}")
    return int(n)


class RunFailedError(RuntimeError):
    """Raised inside a Ray task for a failed run when ``retry_failures=True`` (so Ray retries it)."""


def _run_on_worker(task: RunTask, retry_failures: bool, lease_wait_s: float, poll_s: float) -> RunResult:
    """The body of the Ray task: train ``task`` and write it to the store.

    A run still leased by someone else (typically a killed worker on another host whose lease has not
    expired yet) is retried until ``lease_wait_s`` has passed; if the holder is alive and keeps its lease
    the result is ``leased`` (that other sweep trains the run).
    """
    deadline = time.monotonic() + lease_wait_s
    while True:
        res = execute_task(task)
        if res.status == "failed" and retry_failures:
            raise RunFailedError(res.error or "run failed")
        if res.status != "leased" or time.monotonic() >= deadline:
            return res
        time.sleep(poll_s)


class RayExecutor:
    """Run each task as a Ray task on a Ray cluster.

    Parameters
    ----------
    address:
        ``None`` starts a local Ray instance (or joins the one named by ``$RAY_ADDRESS``); ``"auto"`` joins
        the cluster this machine belongs to (``ray start --head`` / ``ray start --address=…``);
        ``"ray://host:10001"`` connects through Ray Client.
    num_cpus, num_gpus, memory:
        Resources reserved per run (``memory`` in bytes or a string such as ``"4GiB"``). Ray schedules as
        many runs at once as the cluster's resources allow. Torch uses ``max(1, int(num_cpus))`` threads.
    max_retries:
        Times Ray re-runs a task whose worker process died (killed, OOM, node lost).
    retry_failures:
        Also retry runs that failed with a Python exception (off by default: most are deterministic).
    max_in_flight:
        Cap on tasks submitted at once (None: all; Ray queues what does not fit).
    init_kwargs:
        Extra keyword arguments for ``ray.init`` (e.g. ``runtime_env``, ``num_cpus`` of a local instance).
    lease_wait_s:
        How long a task waits for a run leased by another (possibly dead, remote) holder.
    """

    name = "ray"
    in_process = False

    def __init__(self, workers: int = 1, *, address: str | None = None, num_cpus: float = 1.0,
                 num_gpus: float = 0.0, memory: int | float | str | None = None, max_retries: int = 3,
                 retry_failures: bool = False, max_in_flight: int | None = None,
                 init_kwargs: dict[str, Any] | None = None, lease_wait_s: float = 180.0, poll_s: float = 5.0):
        if num_cpus < 0 or num_gpus < 0:
            raise InputError(f"CPUs and GPUs per run must be ≥ 0, got {num_cpus} and {num_gpus}")
        if max_retries < 0:
            raise InputError(f"max_retries must be ≥ 0, got {max_retries}")
        if max_in_flight is None and workers > 1:  # --workers N caps the runs in flight
            max_in_flight = workers
        if max_in_flight is not None and max_in_flight < 1:
            raise InputError(f"max_in_flight must be ≥ 1, got {max_in_flight}")
        self.address = address or None
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.memory = parse_memory(memory)
        self.max_retries = int(max_retries)
        self.retry_failures = bool(retry_failures)
        self.max_in_flight = max_in_flight
        self.init_kwargs = dict(init_kwargs or {})
        self.lease_wait_s = float(lease_wait_s)
        self.poll_s = float(poll_s)
        self._owns_ray = False
        self._remote = None

    # ------------------------------------------------------------------ Ray session
    def _ray(self):
        try:
            import ray
        except ImportError:
            raise InputError("the Ray executor needs Ray: pip install 'scalinglab[ray]'") from None
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "logging_level": "warning", **self.init_kwargs}
            if self.address and self.address.startswith("ray://"):
                kwargs.pop("include_dashboard", None)
            log.info("connecting to Ray at %s", self.address or "a new local instance")
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InputError(f"cannot connect to the Ray cluster at {self.address or 'a new local instance'}: "
                                 f"{exc}") from None
            self._owns_ray = True
        if self._remote is None:
            self._remote = ray.remote(_run_on_worker)
        return ray

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus,
                                "max_retries": self.max_retries,
                                "retry_exceptions": [RunFailedError] if self.retry_failures else False}
        if self.memory:
            opts["memory"] = self.memory
        return opts

    def _launch(self, task: RunTask):
        threads = task.threads or max(1, int(self.num_cpus))
        device = "cuda" if (self.num_gpus > 0 and task.device == "auto") else task.device
        t = RunTask(task.config, task.store_url, task.workdir, device, threads, task.max_retries)
        return self._remote.options(**self._options()).remote(t, self.retry_failures, self.lease_wait_s,
                                                              self.poll_s)

    @staticmethod
    def _failed(task: RunTask, exc: BaseException) -> RunResult:
        from .spec import RunConfig

        cfg = RunConfig.from_dict(task.config)
        cause = getattr(exc, "cause", None) or exc
        msg = str(cause).strip().splitlines()[-1] if str(cause).strip() else ""
        log.warning("run %s failed on Ray: %s: %s", cfg.run_id, type(cause).__name__, msg)
        return RunResult(cfg.run_id, cfg.name, status="failed", error=f"{type(cause).__name__}: {msg}"[:2000])

    @staticmethod
    def _fatal(exc: BaseException) -> BaseException | None:
        """The store or disk error inside a Ray task error, which stops the sweep (as it does locally)."""
        cause = getattr(exc, "cause", None) or exc
        return cause if isinstance(cause, StoreError | DiskFullError) else None

    def _get(self, ray, ref, task: RunTask) -> RunResult:
        try:
            return ray.get(ref)
        except Exception as exc:  # RayTaskError, WorkerCrashedError after max_retries, TaskCancelledError
            fatal = self._fatal(exc)
            if fatal is not None:
                raise fatal from None
            return self._failed(task, exc)

    # ------------------------------------------------------------------ Executor protocol
    def submit(self, task: RunTask) -> Future:
        """Start one task on the cluster; the future's result is its RunResult (failures → status 'failed')."""
        self._ray()
        ref = self._launch(task)
        out: Future = Future()

        def _done(f: Future) -> None:
            exc = f.exception()
            out.set_result(self._failed(task, exc) if exc is not None else f.result())

        ref.future().add_done_callback(_done)
        return out

    def map(self, tasks: Iterable[RunTask], progress: Callable[[dict], None] | None = None) -> Iterator[RunResult]:
        """Run many tasks on the cluster (at most ``max_in_flight`` at once), yielding `RunResult`s as they
        complete; a task that fails on Ray yields a result with status ``failed``.

        Raises
        ------
        InputError
            If Ray is not installed or the cluster cannot be reached.
        StoreError
            If a task found the store unusable (e.g. `StoreUnavailableError`): the sweep stops; rerun it.
        DiskFullError
            If a task could not write a checkpoint because its disk is full.
        """
        ray = self._ray()
        todo = iter(list(tasks))
        pending: dict[Any, RunTask] = {}

        def fill() -> None:
            while self.max_in_flight is None or len(pending) < self.max_in_flight:
                t = next(todo, None)
                if t is None:
                    return
                pending[self._launch(t)] = t

        finished = False
        try:
            fill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    yield self._get(ray, ref, pending.pop(ref))
                fill()
            finished = True
        finally:
            if not finished:  # interrupted driver: stop our tasks (their runs go back to 'queued')
                if pending:
                    log.warning("sweep interrupted: cancelling %d Ray task(s); their runs go back to 'queued'",
                                len(pending))
                for ref in pending:
                    try:
                        ray.cancel(ref)
                    except Exception:  # noqa: S110 - best effort
                        pass
            self.shutdown()

    def shutdown(self) -> None:
        """Disconnect from Ray (and stop the local instance) if this executor started the session."""
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False
            self._remote = None


def _factory(workers: int = 1, **options: Any) -> RayExecutor:
    return RayExecutor(workers=workers, **options)


EXECUTORS.setdefault("ray", _factory)
