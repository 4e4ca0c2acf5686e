"""The run ledger: every training run, its loss curve and final evaluations, in SQLite or PostgreSQL.

Built on SQLAlchemy 2.0 Core; no torch. ``Store("runs.db")`` opens (or creates) a SQLite file in WAL mode
with a busy timeout; ``Store("postgresql+psycopg://user:pw@host/db")`` uses PostgreSQL with the same code.

Tables (schema version :data:`SCHEMA_VERSION`, recorded in ``schema_version``):

``runs``         one row per run; ``id`` is the content hash of its config. Config JSON, conventions, the
                 parameter count under every convention, FLOPs per token and planned FLOPs, ``status``
                 (queued → running → done | failed), a lease (``lease_owner`` + ``heartbeat_at``) so two
                 sweeps on one store never train the same run twice, timings and the environment.
``metrics``      loss curve points: (run_id, step, split, branch) is unique; loss in nats/token and bits/byte,
                 learning rate, tokens seen, and ``extra``: a JSON object of any other metric the trainer
                 logged at that step (``grad_norm``, ``mfu``, ...; finite numbers or short strings). Inserts are
                 idempotent (insert-or-ignore), so a resumed run that replays steps never duplicates rows.
``evaluations``  the final (and per-branch) evaluations that become run-table rows: N, D, C, loss, and
                 ``extra``: a JSON object of other final evaluations (``hellaswag_acc``, ...), one run-table
                 column each in :meth:`Store.to_frame`.
``logs``         free-text events per run (start, resume, failure tracebacks).
``attempts``     the attempt history: one row per lease taken on a run (attempt number, worker, host, start and
                 end, outcome ``running | done | failed | interrupted | lost``, the step it resumed from, error).

Crash safety: a run's final evaluations and ``status='done'`` are written in ONE transaction
(:meth:`Store.finish_run`), so a crash leaves the run unfinished (and resumable), never half-finished.

Leases and fencing: :meth:`Store.claim_run` returns the attempt number, the run's *fencing token*. Every write
a worker makes on behalf of a run (heartbeat, metrics with ``owner=``, finish, release) carries ``lease_owner``
AND that attempt number in its UPDATE's WHERE clause, so a worker that lost its lease (paused with SIGSTOP,
cut off from the network) writes nothing after another worker took the run over. A lease is free when its
holder is gone (a dead or stopped local process, or any holder whose heartbeat is older than ``lease_s``).

Transient database faults: every store operation is one transaction, retried as a whole on a lost connection
(PostgreSQL restarted, failover, network blip; ``pool_pre_ping`` drops dead pooled connections) with
exponential backoff and jitter, logged once per outage on ``logging.getLogger("scalinglab.store")``. After
``retry_s`` seconds (``$SCALINGLAB_STORE_RETRY_S``, default 300) it raises :class:`StoreUnavailableError`,
which stops a sweep with one error; rerunning the command resumes it. Every operation is safe to repeat:
inserts are insert-or-ignore, claims and finishes are fenced, and a finish whose commit was acknowledged on a
dropped connection is recognised from the attempt history.

Migrations: the ``schema_version`` table holds one integer. On open, a store with an older version is
upgraded by the functions in :data:`MIGRATIONS` (version n → n+1, each in its own transaction); a store
written by a newer scalinglab is refused with a :class:`StoreError`. To change the schema: bump
``SCHEMA_VERSION``, add ``MIGRATIONS[old] = fn(conn)`` that alters existing tables, and change the table
definitions below to the new shape (fresh stores are created directly at the latest version).

Schema history: v1 (scalinglab 0.1.0) initial tables; v2 adds the ``ix_runs_sweep_status`` index; v3 adds
the ``attempts`` table; v4 adds the JSON ``extra`` column to ``metrics`` and ``evaluations``. Opening is
safe when several processes open (and migrate) one store at once: SQLite serialises them with BEGIN
IMMEDIATE, PostgreSQL with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError

from ._errors import InputError, StoreError
from ._urls import ENCODE_HINT, mask_url, several_ats

__all__ = ["Store", "SCHEMA_VERSION", "MIGRATIONS", "mask_url", "STATUSES", "OUTCOMES", "StoreUnavailableError",
           "LeaseLostError"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
STATUSES = ("queued", "running", "done", "failed")
#: outcome of one attempt (one lease) on a run, as kept in the ``attempts`` table.
OUTCOMES = ("running", "done", "failed", "interrupted", "lost")

#: defaults (seconds), overridable per process by $SCALINGLAB_STORE_RETRY_S and $SCALINGLAB_LEASE_S.
DEFAULT_RETRY_S = 300.0
DEFAULT_LEASE_S = 120.0


def _env_seconds(name: str, default: float) -> float:
    """Seconds from the environment variable ``name`` (``default`` when unset); a clear error when invalid."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects NaN
        raise StoreError(f"${name} must be a number of seconds >= 0, got {raw!r}")
    return value


class StoreUnavailableError(StoreError):
    """The store's database stayed unreachable for longer than the store's ``retry_s`` seconds.

    A sweep stops on it (nothing is lost: rerun the same command once the database is back)."""


class LeaseLostError(StoreError):
    """A write for a run was refused because this worker's lease (owner + attempt number) was taken over."""

metadata = MetaData()
#: 64-bit ids on PostgreSQL; SQLite needs exactly INTEGER for an autoincrementing rowid.
_ID = BigInteger().with_variant(Integer, "sqlite")

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(32), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),          # content hash of the config
    Column("name", String(200), nullable=False, default=""),
    Column("sweep", String(200), nullable=False, default=""),
    Column("config", Text, nullable=False),              # JSON of RunConfig
    Column("dataset", String(200), nullable=False, default=""),
    Column("params", BigInteger),                           # N under param_convention
    Column("param_convention", String(40)),
    Column("params_by_convention", Text),                # JSON {convention: count}
    Column("flops_convention", String(40)),
    Column("flops_per_token", Float),                    # training FLOPs per token under flops_convention
    Column("tokens_planned", BigInteger),                   # tokens of the longest budget
    Column("flops_planned", Float),                      # flops_per_token × tokens_planned
    Column("status", String(16), nullable=False, default="queued"),
    Column("lease_owner", String(200)),
    Column("heartbeat_at", Float),                       # unix seconds
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String(32)),
    Column("started_at", String(32)),
    Column("finished_at", String(32)),
    Column("wall_seconds", Float),                       # training time summed over attempts
    Column("tokens_per_second", Float),
    Column("flops_per_second", Float),                   # achieved model FLOP/s
    Column("final_loss_nats", Float),
    Column("final_loss_bpb", Float),
    Column("error", Text),
    Column("environment", Text),                         # JSON (versions, device, threads, host)
)

metrics = Table(
    "metrics", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("step", BigInteger, nullable=False),
    Column("split", String(16), nullable=False),         # "train" | "val"
    Column("branch", String(64), nullable=False, default=""),  # "" = main trajectory; WSD: cooldown label
    Column("tokens", BigInteger, nullable=False),
    Column("loss_nats", Float),                          # nats/token
    Column("loss_bpb", Float),                           # bits/byte
    Column("lr", Float),
    Column("wall_seconds", Float),
    Column("tokens_per_second", Float),
    Column("extra", Text),                               # v4: JSON {name: number | short string}
    UniqueConstraint("run_id", "step", "split", "branch", name="uq_metrics_point"),
)

evaluations = Table(
    "evaluations", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("branch", String(64), nullable=False, default=""),
    Column("step", BigInteger, nullable=False),
    Column("split", String(16), nullable=False, default="val"),
    Column("params", BigInteger, nullable=False),           # N
    Column("tokens", BigInteger, nullable=False),           # D (the branch's budget)
    Column("flops", Float, nullable=False),              # C = flops_per_token × D
    Column("loss_nats", Float, nullable=False),
    Column("loss_bpb", Float),
    Column("is_final", Boolean, nullable=False, default=True),
    Column("extra", Text),                               # v4: JSON {name: number | short string}
    UniqueConstraint("run_id", "branch", "step", "split", name="uq_evaluations_point"),
)

logs = Table(
    "logs", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), index=True),
    Column("at", String(32), nullable=False),
    Column("level", String(10), nullable=False, default="info"),
    Column("message", Text, nullable=False),
)

attempts = Table(
    "attempts", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),          # = runs.attempts when it was claimed: the fencing token
    Column("worker", String(200), nullable=False),       # lease owner (host:pid:random)
    Column("host", String(200)),
    Column("pid", Integer),
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Column("outcome", String(16), nullable=False, default="running"),  # one of OUTCOMES
    Column("resumed_from_step", BigInteger),             # the checkpoint step this attempt started from
    Column("error", Text),
    UniqueConstraint("run_id", "attempt", name="uq_attempts_run_attempt"),
)

#: v2: runs indexed by (sweep, status) — `runs list --sweep/--status` and every sweep's resume scan use it.
ix_runs_sweep_status = Index("ix_runs_sweep_status", runs.c.sweep, runs.c.status)


def _v1_to_v2(conn) -> None:
    """Schema v1 → v2: add the (sweep, status) index on ``runs``."""
    ix_runs_sweep_status.create(conn, checkfirst=True)


def _v2_to_v3(conn) -> None:
    """Schema v2 → v3: add the ``attempts`` table (attempt history; earlier attempts are not reconstructed)."""
    attempts.create(conn, checkfirst=True)


def _v3_to_v4(conn) -> None:
    """Schema v3 → v4: add the nullable JSON ``extra`` column to ``metrics`` and ``evaluations`` (existing rows
    get NULL: no extra metrics)."""
    for table in (metrics, evaluations):
        if "extra" not in {c["name"] for c in inspect(conn).get_columns(table.name)}:
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN extra TEXT"))


#: version n → callable(conn) migrating a store from n to n+1 (see the module docstring).
MIGRATIONS: dict[int, Any] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def _extra_rows(rows: Iterable[Mapping[str, Any]], run_id: str, defaults: Mapping[str, Any]) -> list[dict]:
    """Rows ready for an executemany INSERT: ``defaults`` filled in, ``run_id`` set, and ``extra`` (a mapping of
    other metrics, or absent) encoded as a JSON object, or NULL when empty (every row gets the key, since one
    statement needs the same columns in every row)."""
    out = []
    for r in rows:
        row = {**defaults, **dict(r), "run_id": run_id}
        extra = row.get("extra")
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(dict(extra), sort_keys=True, allow_nan=False) if extra else None
        row["extra"] = extra
        out.append(row)
    return out


def _decode_extra(row: dict) -> dict:
    """``row`` with its ``extra`` column decoded to a dict (``{}`` when NULL or unreadable)."""
    raw = row.get("extra")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    row["extra"] = value if isinstance(value, dict) else {}
    return row


def _spread_extra(rows: list[dict], cols: list[str]) -> list[str]:
    """Move each row's JSON ``extra`` metrics into keys of their own (``extra_<name>`` when the name is one of
    ``cols``); returns the new column names, sorted."""
    names: set[str] = set()
    for r in rows:
        for k, v in _decode_extra(r).pop("extra").items():
            name = f"extra_{k}" if k in cols else k
            r[name] = v
            names.add(name)
    return sorted(names)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


#: the run settings a run table carries (from each run's config): what tells a learning-rate sweep or a seed
#: replicate apart from one run
_TRAINING_SETTINGS = ("lr", "batch_size", "schedule", "weight_decay", "seed")


def _to_url(location: str | os.PathLike, *, create: bool = True) -> URL:
    """The SQLAlchemy URL of a store location (a URL, or a file path: SQLite, its folder made when ``create``)."""
    s = str(location)
    scheme, sep, rest = s.partition("://")
    if sep and scheme.split("+", 1)[0].lower() == "postgres":  # the spelling of Heroku, RDS and many .env files
        s = "postgresql" + scheme[len("postgres"):] + "://" + rest
    if "://" in s:
        try:
            return make_url(s)
        except Exception:
            raise StoreError("invalid store URL (expected e.g. sqlite:///runs.db or "
                             "postgresql+psycopg://user@host/db)") from None
    path = Path(s).expanduser()
    if create and path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    return make_url(f"sqlite:///{path.resolve()}")


def default_owner() -> str:
    """``host:pid:random`` — identifies a lease holder; the pid lets a local rerun detect a dead owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def _split_owner(owner: str) -> tuple[str | None, int | None]:
    """(host, pid) of a ``host:pid:random`` owner string, or Nones."""
    try:
        host, pid, _ = owner.rsplit(":", 2)
        return host, int(pid)
    except (ValueError, AttributeError):
        return None, None


def _proc_state(pid: int) -> str | None:
    """The one-letter state of a local process from ``/proc`` (``R``, ``S``, ``T`` stopped, ``Z`` zombie...),
    or None where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _owner_alive_here(owner: str) -> bool:
    """True when ``owner`` is a running (not stopped, not zombie) process on this host."""
    host, pid = _split_owner(owner)
    if host != socket.gethostname() or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return _proc_state(pid) not in ("T", "t", "Z", "X")


def _owner_dead(owner: str) -> bool:
    """True when ``owner`` is a process on this host that no longer exists (or is a zombie)."""
    host, pid = _split_owner(owner)
    if host != socket.gethostname() or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return _proc_state(pid) in ("Z", "X")


#: PostgreSQL SQLSTATEs (or classes) worth retrying: connection exceptions, server shutting down / starting
#: up, insufficient resources (disk full, too many connections), serialization failures and deadlocks.
_TRANSIENT_SQLSTATE = ("08", "57P01", "57P02", "57P03", "53", "40001", "40P01")
#: messages of connection failures without a SQLSTATE that retrying cannot fix (configuration errors).
_PERMANENT_MESSAGES = ("does not exist", "authentication", "password", "resolve", "role ", "permission")
#: messages (lowercase) of a connection setting that retrying cannot fix: the URL's options (``sslmode``, ``port``,
#: unknown options) or SSL set up otherwise than the server (no SSL there, a certificate it rejects). Not an SSL
#: session that breaks mid-way ("SSL SYSCALL error", "SSL connection has been closed unexpectedly"): an outage.
_SETTING_MESSAGES = ("does not support ssl", "ssl was required", "ssl support is not compiled", "certificate",
                     "invalid connection option", "invalid sslmode", "invalid integer value", "invalid port",
                     "invalid value for", "invalid gssencmode", "invalid channel_binding",
                     "invalid target_session_attrs", "invalid require_auth", "unsupported protocol")


def _retrying(what: str):
    """Method decorator: run the method (one whole transaction) through :meth:`Store._retry`, so a
    transient database fault is retried and any other database error becomes one `StoreError` line."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            return self._retry(what, fn, self, *args, **kwargs)

        return wrapper

    return deco


class Store:
    """A run ledger at ``location`` (a file path → SQLite, or an SQLAlchemy URL).

    >>> store = Store("runs.db")                  # doctest: +SKIP
    >>> store.to_frame()                          # one row per finished run (and WSD branch)  # doctest: +SKIP
    """

    def __init__(self, location: str | os.PathLike = "scalinglab-runs.db", *, busy_timeout_s: float = 60.0,
                 echo: bool = False, retry_s: float | None = None, lease_s: float | None = None,
                 create: bool = True):
        """Open (or create and migrate) the store.

        ``create=False`` opens only an existing store (what read-only commands use): a missing SQLite file, or
        a database without scalinglab's tables (a mistyped PostgreSQL database name), is refused instead of
        being created.

        ``busy_timeout_s``: seconds a SQLite writer waits for the lock. ``retry_s``: seconds an operation keeps
        retrying while a PostgreSQL server is unreachable (default ``$SCALINGLAB_STORE_RETRY_S`` or 300; 0 = no
        retry). ``lease_s``: seconds without a heartbeat after which a run's lease may be taken over (default
        ``$SCALINGLAB_LEASE_S`` or 120); workers heartbeat every :attr:`heartbeat_s` seconds.

        Raises
        ------
        StoreError
            If the URL is invalid, the driver is missing, or the database cannot be opened or migrated
            (`StoreUnavailableError` when the server stayed unreachable for ``retry_s`` seconds); with
            ``create=False``, if there is no store there.
        """
        self.url = _to_url(location, create=create)
        self.dialect = self.url.get_backend_name()
        self._create = create
        if not create and self.dialect == "sqlite" and self.url.database not in (None, "", ":memory:") \
                and not Path(self.url.database).is_file():
            raise StoreError(f"no run store at {location} (run a sweep first, or pass --store)")
        self._several_ats = several_ats(str(location))  # a password with an unencoded '@' (see _error)
        self.retry_s = _env_seconds("SCALINGLAB_STORE_RETRY_S", DEFAULT_RETRY_S) if retry_s is None else float(retry_s)
        self.lease_s = _env_seconds("SCALINGLAB_LEASE_S", DEFAULT_LEASE_S) if lease_s is None else float(lease_s)
        #: (run_id, owner) → attempt number of the leases this Store object took (fencing tokens).
        self._tokens: dict[tuple[str, str], int] = {}
        self._finishing: set[tuple[str, str]] = set()  # finish_run calls under way (see its retry rule)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            kwargs["connect_args"] = {"timeout": busy_timeout_s, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            if self.dialect == "postgresql":
                # fail a connect to a vanished host in seconds (then retry); a worker paused inside a
                # transaction (SIGSTOP, swapped out) has it aborted after 60 s, so its row locks never block
                # the worker that takes its run over (our transactions last milliseconds)
                kwargs["connect_args"] = {"connect_timeout": 10,
                                          "options": "-c idle_in_transaction_session_timeout=60000"}
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except Exception as exc:  # missing driver, bad URL
            raise StoreError(f"cannot open store {self}: {type(exc).__name__}: {exc}") from None
        if self.dialect == "sqlite":
            self._sqlite_setup(busy_timeout_s)
        self._migrate()

    # ------------------------------------------------------------------ engine setup
    def _sqlite_setup(self, busy_timeout_s: float) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via every connection
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            # the busy timeout first: switching an older store to WAL takes its lock, which a process opening
            # it at the same moment may hold (three openers of an old store: one read 'database is locked')
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn):  # pragma: no cover
            # Write transactions (see _tx) take the write lock up front with BEGIN IMMEDIATE, so two writers
            # never deadlock upgrading a read lock; reads use a plain deferred BEGIN and never block writers.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop("scalinglab_write", False) else "BEGIN")

    def __repr__(self) -> str:
        return f"Store({mask_url(self.url)!r})"

    __str__ = __repr__

    def close(self) -> None:
        """Release the database connections (the store object is unusable afterwards)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self):
        """A write transaction: commits on success, rolls back on any exception."""
        with self.engine.connect() as conn:
            conn.info["scalinglab_write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("scalinglab_write", None)

    # ------------------------------------------------------------------ faults: classify, retry, report
    def _transient(self, exc: SQLAlchemyError) -> bool:
        """True for a fault that retrying the whole transaction can cure: on PostgreSQL a lost or refused
        connection, a server shutting down or starting up, insufficient resources, a serialization failure.
        SQLite (a local file) never retries here: its busy timeout already waits for locks."""
        if self.dialect != "postgresql" or not isinstance(exc, DBAPIError | DisconnectionError):
            return False
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if not isinstance(exc, OperationalError | InterfaceError | DisconnectionError):
            return False
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if code:
            return code.startswith(_TRANSIENT_SQLSTATE)
        msg = str(getattr(exc, "orig", None) or exc).lower()
        return not any(m in msg for m in _PERMANENT_MESSAGES + _SETTING_MESSAGES)

    def _error(self, what: str, exc: BaseException) -> StoreError:
        """One readable line naming the store (password masked) and, for a full disk, what to do."""
        orig = getattr(exc, "orig", None)
        msg = (str(orig) if orig is not None else str(exc)).strip().splitlines()
        msg = msg[0] if msg else type(exc).__name__
        if getattr(self, "_several_ats", False):  # the driver's message names the mis-read host: a piece of the password
            msg = ENCODE_HINT
        hint = ""
        if any(m in msg.lower() for m in _SETTING_MESSAGES):
            hint = " (a connection setting of the store URL or the server's SSL set-up: retrying cannot fix it)"
        if "full" in msg.lower() or "no space" in msg.lower():
            where = self.url.database if self.dialect == "sqlite" else "the database server's data folder"
            hint = (f" (disk full: free space on the disk holding {where}, then rerun; finished runs are kept, "
                    "unfinished ones resume from their checkpoints)")
        return StoreError(f"{what} failed on {self}: {msg}{hint}")

    def _retry(self, what: str, fn, *args, **kwargs):
        """Call ``fn`` (one whole transaction); on a transient fault retry it with exponential backoff (0.2 s
        doubling to 10 s) and jitter (each wait a uniform 50-100 % of that, so workers do not reconnect in
        lockstep) for up to :attr:`retry_s` seconds, logging one warning when the outage starts and one info
        line when the store answers again."""
        t0 = time.monotonic()
        tries, delay = 0, 0.2
        while True:
            try:
                out = fn(*args, **kwargs)
            except SQLAlchemyError as exc:
                if not self._transient(exc):
                    raise self._error(what, exc) from None
                waited = time.monotonic() - t0
                if waited >= self.retry_s:
                    raise StoreUnavailableError(
                        f"{what} failed: {self} was unreachable for {waited:.0f} s (limit {self.retry_s:g} s, "
                        f"$SCALINGLAB_STORE_RETRY_S): {self._error(what, exc).args[0].split(': ', 1)[-1]}. "
                        "Nothing is lost: rerun the same command when the database is back (finished runs are "
                        "kept, unfinished ones resume from their checkpoints)") from None
                if tries == 0:
                    log.warning("store %s unreachable during %s (%s); retrying with backoff for up to %g s",
                                self, what, self._error(what, exc).args[0].split(": ", 1)[-1], self.retry_s)
                tries += 1
                time.sleep(min(random.uniform(0.5, 1.0) * delay, max(0.0, self.retry_s - waited)))
                delay = min(2 * delay, 10.0)
                continue
            if tries:
                log.info("store %s answers again after %.1f s (%d retries of %s)", self,
                         time.monotonic() - t0, tries, what)
            return out

    @property
    def heartbeat_s(self) -> float:
        """Seconds between a worker's lease heartbeats: a quarter of ``lease_s``, at most 10."""
        return min(10.0, self.lease_s / 4)

    # ------------------------------------------------------------------ schema
    def _schema_lock(self, conn) -> None:
        """Serialise schema creation/migration between processes opening the store at the same time
        (SQLite: BEGIN IMMEDIATE already does; PostgreSQL: a transaction-scoped advisory lock)."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7240310501)"))

    @_retrying("opening the store")
    def _migrate(self) -> None:
        with self._tx() as conn:
            self._schema_lock(conn)
            if not getattr(self, "_create", True) and not inspect(conn).has_table(schema_version.name):
                raise StoreError(f"no run store in {self}: the database has no scalinglab tables (is it the right "
                                 "database? `scalinglab run` creates them); nothing was created")
            metadata.create_all(conn, checkfirst=True)
            version = conn.execute(select(func.max(schema_version.c.version))).scalar()
            if version is None:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied_at=_now()))
                log.info("store %s: created the schema (version %d)", self, SCHEMA_VERSION)
                return
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self} has schema version {version}, newer than this scalinglab "
                             f"({SCHEMA_VERSION}); upgrade scalinglab")
        while version < SCHEMA_VERSION:
            with self._tx() as conn:
                self._schema_lock(conn)
                # another process may have migrated while we waited for the lock
                version = conn.execute(select(func.max(schema_version.c.version))).scalar()
                if version >= SCHEMA_VERSION:
                    break
                log.info("store %s: migrating the schema from version %d to %d", self, version, version + 1)
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(schema_version.insert().values(version=version, applied_at=_now()))

    @property
    def schema_version(self) -> int:
        """The highest schema migration applied to this database (an integer)."""
        return self._schema_version()

    @_retrying("reading the schema version")
    def _schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar())

    # ------------------------------------------------------------------ helpers
    def _insert_ignore(self, table: Table, keys: Iterable[str]):
        """An INSERT that silently skips rows clashing on the unique ``keys`` (SQLite and PostgreSQL)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:  # pragma: no cover
            raise StoreError(f"unsupported database backend {self.dialect!r} (use sqlite or postgresql)")
        return insert(table).on_conflict_do_nothing(index_elements=list(keys))

    # ------------------------------------------------------------------ runs
    @_retrying("registering a run")
    def register_run(self, run_id: str, *, config: Mapping[str, Any], name: str = "", sweep: str = "",
                     dataset: str = "", params: int | None = None, param_convention: str | None = None,
                     params_by_convention: Mapping[str, int] | None = None, flops_convention: str | None = None,
                     flops_per_token: float | None = None, tokens_planned: int | None = None) -> bool:
        """Add a run as ``queued`` unless it exists. Returns True if it was new."""
        row = dict(id=run_id, name=name, sweep=sweep, config=json.dumps(config, sort_keys=True),
                   dataset=dataset, params=params, param_convention=param_convention,
                   params_by_convention=json.dumps(dict(params_by_convention or {})),
                   flops_convention=flops_convention, flops_per_token=flops_per_token,
                   tokens_planned=tokens_planned,
                   flops_planned=(flops_per_token * tokens_planned) if flops_per_token and tokens_planned else None,
                   status="queued", attempts=0, created_at=_now())
        with self._tx() as conn:
            res = conn.execute(self._insert_ignore(runs, ["id"]).values(**row))
            return bool(res.rowcount)

    @_retrying("reading a run")
    def get_run(self, run_id: str) -> dict | None:
        """The run row as a dict (``config``/``environment`` decoded), or None. Accepts a unique id prefix.

        Raises
        ------
        StoreError
            If ``run_id`` is a prefix of several run ids, or the database query fails.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.id.startswith(run_id, autoescape=True))).mappings().all()
        if not rows:
            return None
        if len(rows) > 1:
            raise StoreError(f"run id prefix {run_id!r} is ambiguous ({len(rows)} runs)")
        return self._decode(dict(rows[0]))

    def find_run(self, ref: str) -> dict | None:
        """The run ``ref`` names, as :meth:`get_run` returns it: a run id or a unique prefix of one, else a run
        name, whole (``sweep/L2-d48-D1417920``) or without its sweep (``L2-d48-D1417920``); None when nothing
        matches.

        Raises
        ------
        StoreError
            If ``ref`` names several runs (the error lists some of them with their ids), or the query fails.
        """
        run = self.get_run(ref)
        if run is not None:
            return run
        matches = self._named(ref)
        if len(matches) > 1:
            shown = ", ".join(f"{name} ({rid})" for rid, name in matches[:5])
            raise StoreError(f"run name {ref!r} is ambiguous: {len(matches)} runs ({shown}"
                             f"{', ...' if len(matches) > 5 else ''}); give the run id or the full sweep/name")
        return self.get_run(matches[0][0]) if matches else None

    @_retrying("finding a run by name")
    def _named(self, name: str) -> list[tuple[str, str]]:
        """(id, name) of the runs called ``name``, or ``<sweep>/name``; full-name matches first."""
        q = (select(runs.c.id, runs.c.name)
             .where((runs.c.name == name) | runs.c.name.endswith("/" + name, autoescape=True))
             .order_by(runs.c.created_at, runs.c.id))
        with self.engine.connect() as conn:
            rows = [(r.id, r.name) for r in conn.execute(q)]
        exact = [r for r in rows if r[1] == name]
        return exact or rows

    @staticmethod
    def _decode(row: dict) -> dict:
        for k in ("config", "params_by_convention", "environment"):
            if row.get(k):
                try:
                    row[k] = json.loads(row[k])
                except ValueError:
                    pass
        return row

    @_retrying("listing runs")
    def list_runs(self, *, status: str | None = None, sweep: str | None = None) -> list[dict]:
        """Run rows as dicts (``config``/``environment`` decoded), oldest first; optionally only one ``status``
        (``queued``, ``running``, ``done``, ``failed``) and/or one ``sweep``.

        Raises
        ------
        InputError
            If ``status`` is not one of those four.
        StoreError
            If the database query fails.
        """
        if status and status not in STATUSES:
            raise InputError(f"unknown run status {status!r}; one of: {', '.join(STATUSES)}")
        q = select(runs).order_by(runs.c.created_at, runs.c.id)
        if status:
            q = q.where(runs.c.status == status)
        if sweep:
            q = q.where(runs.c.sweep == sweep)
        with self.engine.connect() as conn:
            return [self._decode(dict(r)) for r in conn.execute(q).mappings()]

    @_retrying("reading a run's status")
    def status(self, run_id: str) -> str | None:
        """The run's status (``queued``, ``running``, ``done`` or ``failed``), or None for an unknown id."""
        with self.engine.connect() as conn:
            return conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()

    # ------------------------------------------------------------------ leases (fenced by attempt number)
    def _fence(self, run_id: str, owner: str) -> list:
        """WHERE clauses true only while ``owner`` holds the run's lease under the attempt number it got."""
        clauses = [runs.c.id == run_id, runs.c.lease_owner == owner, runs.c.status != "done"]
        token = self._tokens.get((run_id, owner))
        if token is not None:
            clauses.append(runs.c.attempts == token)
        return clauses

    def _end_attempt(self, conn, run_id: str, attempt: int | None, outcome: str, error: str | None = None,
                     **fields: Any) -> None:
        """Close attempt ``attempt`` of ``run_id`` (if it is still open) with ``outcome``."""
        if attempt is None:
            return
        conn.execute(update(attempts).where(attempts.c.run_id == run_id, attempts.c.attempt == attempt,
                                            attempts.c.outcome == "running")
                     .values(outcome=outcome, ended_at=_now(), error=error, **fields))

    @_retrying("claiming a run")
    def claim_run(self, run_id: str, owner: str, *, lease_s: float | None = None, now: float | None = None) -> int:
        """Take the lease on a run that is not done; returns the attempt number (≥ 1, this lease's fencing
        token) or 0 when the run is done, unknown or held by someone else.

        The lease is free when nobody holds it, the holder is ``owner`` itself, the holder is a dead process on
        this host, or its heartbeat is older than ``lease_s`` seconds (default: the store's ``lease_s``) and it
        is not a running process on this host (a stopped, e.g. SIGSTOPped, local process loses its lease too).
        A taken-over attempt is recorded as ``lost`` in the attempt history.

        Raises
        ------
        StoreError
            If the database write fails (`StoreUnavailableError` after ``retry_s`` seconds unreachable).
        """
        now = time.time() if now is None else now
        lease_s = self.lease_s if lease_s is None else lease_s
        with self._tx() as conn:
            # FOR UPDATE locks the row on PostgreSQL (SQLite: BEGIN IMMEDIATE already serialises writers)
            row = conn.execute(select(runs.c.status, runs.c.lease_owner, runs.c.heartbeat_at, runs.c.attempts)
                               .where(runs.c.id == run_id).with_for_update()).first()
            if row is None or row.status == "done":
                return 0
            holder = row.lease_owner
            dead = holder is not None and _owner_dead(holder)
            stale = (holder is not None and row.heartbeat_at is not None and now - row.heartbeat_at > lease_s
                     and not _owner_alive_here(holder))
            if not (holder is None or holder == owner or row.heartbeat_at is None or dead or stale):
                return 0
            attempt = int(row.attempts or 0) + 1
            if holder is not None:  # the previous attempt did not end cleanly
                why = ("reclaimed by the same worker" if holder == owner else
                       "its worker died" if dead else
                       f"lease expired: no heartbeat for {now - row.heartbeat_at:.0f} s"
                       if row.heartbeat_at is not None else "taken over")
                self._end_attempt(conn, run_id, row.attempts, "lost", f"{why}; taken over by {owner}")
            res = conn.execute(update(runs).where(runs.c.id == run_id, runs.c.attempts == row.attempts).values(
                status="running", lease_owner=owner, heartbeat_at=now, attempts=attempt,
                started_at=func.coalesce(runs.c.started_at, _now()), error=None))
            if not res.rowcount:  # pragma: no cover - the row lock makes this unreachable
                return 0
            host, pid = _split_owner(owner)
            conn.execute(self._insert_ignore(attempts, ["run_id", "attempt"]).values(
                run_id=run_id, attempt=attempt, worker=owner, host=host, pid=pid, started_at=_now(),
                outcome="running"))
        self._tokens[(run_id, owner)] = attempt
        return attempt

    @_retrying("heartbeat")
    def heartbeat(self, run_id: str, owner: str) -> bool:
        """Refresh our lease; False if we lost it (another owner, or a later attempt, took over).

        Raises
        ------
        StoreError
            If the database write fails (`StoreUnavailableError` after ``retry_s`` seconds unreachable).
        """
        with self._tx() as conn:
            res = conn.execute(update(runs).where(*self._fence(run_id, owner)).values(heartbeat_at=time.time()))
            return bool(res.rowcount)

    @_retrying("releasing a run")
    def release_run(self, run_id: str, owner: str, *, status: str = "queued", error: str | None = None) -> None:
        """Give the lease back (e.g. interrupted → queued, or failed with ``error``); a no-op when the lease was
        lost. The attempt is recorded as ``interrupted`` (status queued) or ``failed``.

        Raises
        ------
        StoreError
            If the database write fails (`StoreUnavailableError` after ``retry_s`` seconds unreachable).
        """
        with self._tx() as conn:
            row = conn.execute(select(runs.c.attempts).where(*self._fence(run_id, owner)).with_for_update()).first()
            if row is None:
                return
            conn.execute(update(runs).where(*self._fence(run_id, owner))
                         .values(status=status, lease_owner=None, heartbeat_at=None, error=error))
            self._end_attempt(conn, run_id, row.attempts, "interrupted" if status == "queued" else "failed", error)

    # ------------------------------------------------------------------ metrics and results
    @_retrying("writing metrics")
    def add_metrics(self, run_id: str, rows: Iterable[Mapping[str, Any]], *, owner: str | None = None) -> int:
        """Insert loss-curve points; points already present (same run, step, split, branch) are ignored.
        Returns the number of new rows. A row may carry ``extra``: a mapping of other metrics at that point
        (name → finite number or short string), stored as JSON.

        With ``owner``, the write is fenced: it happens (and refreshes the lease's heartbeat) only while
        ``owner`` holds the run's lease under its attempt number.

        Raises
        ------
        LeaseLostError
            If ``owner`` is given and no longer holds the lease (nothing is written).
        StoreError
            If the database write fails (`StoreUnavailableError` after ``retry_s`` seconds unreachable).
        """
        rows = _extra_rows(rows, run_id, {"branch": ""})
        if not rows:
            return 0
        with self._tx() as conn:
            if owner is not None:
                held = conn.execute(update(runs).where(*self._fence(run_id, owner)).values(heartbeat_at=time.time()))
                if not held.rowcount:
                    raise LeaseLostError(f"run {run_id}: the lease of {owner} was taken over; metrics not written")
            res = conn.execute(self._insert_ignore(metrics, ["run_id", "step", "split", "branch"]), rows)
            return max(0, res.rowcount or 0)

    @_retrying("writing a log line")
    def log(self, run_id: str | None, message: str, level: str = "info") -> None:
        """Append one log line (``level``: ``info``, ``warning``, ``error``, ...) for ``run_id`` (None: store-wide).

        Raises
        ------
        StoreError
            If the write fails.
        """
        with self._tx() as conn:
            conn.execute(logs.insert().values(run_id=run_id, at=_now(), level=level, message=message))

    @_retrying("finishing a run")
    def finish_run(self, run_id: str, owner: str, *, evaluations: Iterable[Mapping[str, Any]],
                   metrics_rows: Iterable[Mapping[str, Any]] = (), summary: Mapping[str, Any] | None = None) -> bool:
        """Write a run's final evaluations (and any last metric rows) and mark it ``done``, atomically.

        The UPDATE to ``done`` is fenced by (``owner``, attempt number) in its WHERE clause; returns False
        (writing nothing) if the run is already done or our lease was taken over. A retry after a commit whose
        acknowledgement was lost returns True (the attempt history shows this attempt finished it).
        ``summary`` may hold run columns (``wall_seconds``, ``final_loss_nats``, ``environment``, ...) and
        ``resumed_from_step`` (kept in the attempt history). An evaluation may carry ``extra``: other final
        evaluations (name → finite number or short string, e.g. ``{"hellaswag_acc": 0.31}``), stored as JSON.

        Raises
        ------
        StoreError
            If the database write fails (`StoreUnavailableError` after ``retry_s`` seconds unreachable).
        """
        summary = dict(summary or {})
        evals = _extra_rows(evaluations, run_id, {"branch": "", "split": "val", "is_final": True})
        mrows = _extra_rows(metrics_rows, run_id, {"branch": ""})
        if "environment" in summary and not isinstance(summary["environment"], str):
            summary["environment"] = json.dumps(summary["environment"], sort_keys=True, default=str)
        allowed = {c.name for c in runs.columns} - {"id", "config", "status", "lease_owner", "attempts"}
        token = self._tokens.get((run_id, owner))
        # a call that finds its own key here is a retry of a try that raised (e.g. the connection dropped)
        retry = (run_id, owner) in self._finishing
        self._finishing.add((run_id, owner))
        with self._tx() as conn:
            row = conn.execute(select(runs.c.attempts).where(*self._fence(run_id, owner)).with_for_update()).first()
            res = conn.execute(update(runs).where(*self._fence(run_id, owner)).values(
                status="done", lease_owner=None, finished_at=_now(), error=None,
                **{k: v for k, v in summary.items() if k in allowed})) if row is not None else None
            if res is None or not res.rowcount:
                self._finishing.discard((run_id, owner))
                if token is None or not retry:
                    return False
                mine = conn.execute(select(attempts.c.outcome).where(
                    attempts.c.run_id == run_id, attempts.c.attempt == token, attempts.c.worker == owner)).scalar()
                return mine == "done"  # our earlier try committed, its acknowledgement was lost
            if mrows:
                conn.execute(self._insert_ignore(metrics, ["run_id", "step", "split", "branch"]), mrows)
            if evals:
                conn.execute(self._insert_ignore(metadata.tables["evaluations"],  # (the argument shadows the table)
                                                 ["run_id", "branch", "step", "split"]), evals)
            resumed = summary.get("resumed_from_step")
            self._end_attempt(conn, run_id, row.attempts, "done",
                              **({"resumed_from_step": int(resumed)} if resumed is not None else {}))
        self._finishing.discard((run_id, owner))
        return True

    @_retrying("reading the attempt history")
    def attempts(self, run_id: str | None = None) -> list[dict]:
        """The attempt history, oldest first: one dict per lease taken on a run (``run_id``, ``attempt``,
        ``worker`` = host:pid:random, ``host``, ``pid``, ``started_at``, ``ended_at``, ``outcome`` — running,
        done, failed, interrupted or lost — ``resumed_from_step`` and ``error``), of one run or of all.

        Raises
        ------
        StoreError
            If the database query fails.
        """
        return self._rows(attempts, run_id, attempts.c.run_id, attempts.c.attempt)

    @_retrying("reading metrics")
    def metrics(self, run_id: str | None = None) -> list[dict]:
        """Logged training/validation curve rows (step, split, branch, tokens, ``loss_nats`` in nats/token,
        ``loss_bpb`` in bits/byte, lr, wall_seconds, tokens_per_second, and ``extra``: a dict of the other
        metrics logged at that point, ``{}`` when none), of one run or of all.

        Raises
        ------
        StoreError
            If the database query fails.
        """
        return [_decode_extra(r) for r in
                self._rows(metrics, run_id, metrics.c.run_id, metrics.c.branch, metrics.c.split, metrics.c.step)]

    @_retrying("reading a run's logged time")
    def logged_wall_seconds(self, run_id: str) -> float:
        """Seconds of training the run's attempts so far logged: the largest ``wall_seconds`` of its metric
        points (0.0 when it has none). A resumed attempt continues its curve's time, and sums its own, from it.

        Raises
        ------
        StoreError
            If the database query fails.
        """
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(metrics.c.wall_seconds)).where(metrics.c.run_id == run_id)).scalar()
        return float(value or 0.0)

    @_retrying("reading evaluations")
    def evaluations(self, run_id: str | None = None) -> list[dict]:
        """Evaluation rows (params N, tokens D, flops C in FLOPs, ``loss_nats`` in nats/token, ``loss_bpb`` in
        bits/byte, ``is_final``, branch, step, and ``extra``: a dict of the other final evaluations, ``{}`` when
        none), of one run or of all, ordered by run and tokens.

        Raises
        ------
        StoreError
            If the database query fails.
        """
        return [_decode_extra(r) for r in self._rows(evaluations, run_id, evaluations.c.run_id, evaluations.c.tokens)]

    @_retrying("reading logs")
    def logs(self, run_id: str | None = None) -> list[dict]:
        """Log lines (``run_id``, ``at`` timestamp, ``level``, ``message``) in the order written, of one run or all."""
        return self._rows(logs, run_id, logs.c.id)

    def _rows(self, table, run_id: str | None, *order) -> list[dict]:
        """Rows of ``table`` (of one run, or of all), as dicts in ``order``; callers add the retry."""
        q = select(table).order_by(*order)
        if run_id:
            q = q.where(table.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    @_retrying("listing sweeps")
    def sweeps(self) -> list[str]:
        """The names of the sweeps that have runs in the store, sorted."""
        with self.engine.connect() as conn:
            return sorted(str(s) for (s,) in conn.execute(select(runs.c.sweep).distinct()) if s is not None)

    @_retrying("counting runs by status")
    def status_counts(self, *, sweep: str | None = None) -> dict[str, int]:
        """How many runs have each status (``queued``, ``running``, ``done``, ``failed``; zeros included),
        optionally of one ``sweep``: what an export of the finished runs leaves out."""
        q = select(runs.c.status, func.count()).group_by(runs.c.status)
        if sweep:
            q = q.where(runs.c.sweep == sweep)
        with self.engine.connect() as conn:
            found = {s: int(n) for s, n in conn.execute(q)}
        return {s: found.get(s, 0) for s in STATUSES}

    @_retrying("counting rows")
    def counts(self) -> dict[str, int]:
        """Row counts per table (handy for tests and `runs list`)."""
        with self.engine.connect() as conn:
            return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar())
                    for t in (runs, metrics, evaluations, logs)}

    # ------------------------------------------------------------------ export
    @_retrying("exporting runs")
    def to_frame(self, *, per_checkpoint: bool = False, sweep: str | None = None):
        """The run table (pandas) that fitting reads: one row per finished run and WSD branch.

        Columns: ``params`` (N, under the run's parameter convention), ``tokens`` (D), ``flops`` (C under
        ``flops_convention``), ``loss`` (validation, nats/token), ``loss_bpb`` (bits/byte), ``run_id``,
        ``branch``, ``step``, ``dataset``, ``name``, ``sweep``, ``param_convention``, ``flops_convention``,
        ``n_layer``, ``d_model`` and the training settings ``lr``, ``batch_size``, ``schedule``, ``weight_decay``,
        ``seed`` (runs that differ in one are a sweep or replicates to the run table, not one run). With
        ``per_checkpoint=True``, also one row per validation eval of done runs
        on the main trajectory (``branch='checkpoint'``, ``tokens`` = tokens seen, ``flops`` =
        flops_per_token × tokens), except at steps that already have a final/branch evaluation, so
        (run_id, step) stays unique.

        Extra evaluations (``track.finish(loss=..., hellaswag_acc=0.31)``; the ``extra`` column) follow as one
        column each, sorted by name (``extra_<name>`` when the name is one of the columns above), empty where a
        run lacks it; checkpoint rows carry the extra metrics logged with that validation point.
        """
        import pandas as pd

        q = (select(evaluations.c.run_id, evaluations.c.branch, evaluations.c.step, evaluations.c.params,
                    evaluations.c.tokens, evaluations.c.flops, evaluations.c.loss_nats, evaluations.c.loss_bpb,
                    runs.c.name, runs.c.sweep, runs.c.dataset, runs.c.param_convention, runs.c.flops_convention,
                    runs.c.config, evaluations.c.extra)
             .join(runs, runs.c.id == evaluations.c.run_id)
             .where(runs.c.status == "done", evaluations.c.is_final.is_(True))
             .order_by(runs.c.params, evaluations.c.tokens))
        if sweep:
            q = q.where(runs.c.sweep == sweep)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
            if per_checkpoint:
                mq = (select(metrics.c.run_id, metrics.c.branch, metrics.c.step, metrics.c.tokens,
                             metrics.c.loss_nats, metrics.c.loss_bpb, runs.c.params, runs.c.flops_per_token,
                             runs.c.name, runs.c.sweep, runs.c.dataset, runs.c.param_convention,
                             runs.c.flops_convention, runs.c.config, metrics.c.extra)
                      .join(runs, runs.c.id == metrics.c.run_id)
                      .where(runs.c.status == "done", metrics.c.split == "val", metrics.c.branch == ""))
                if sweep:
                    mq = mq.where(runs.c.sweep == sweep)
                final_steps = {(r["run_id"], r["step"]) for r in rows}
                for r in conn.execute(mq).mappings():
                    r = dict(r)
                    if (r["run_id"], r["step"]) in final_steps:  # the final/branch evaluation wins
                        continue
                    r["flops"] = (r.pop("flops_per_token") or 0.0) * r["tokens"]
                    r["branch"] = "checkpoint"
                    rows.append(r)
        cols = ["params", "tokens", "flops", "loss", "loss_bpb", "run_id", "branch", "step", "dataset", "name",
                "sweep", "param_convention", "flops_convention", "n_layer", "d_model", *_TRAINING_SETTINGS]
        for r in rows:
            r["loss"] = r.pop("loss_nats")
            cfg = json.loads(r.pop("config") or "{}")
            r["n_layer"] = cfg.get("arch", {}).get("n_layer")
            r["d_model"] = cfg.get("arch", {}).get("d_model")
            for k in _TRAINING_SETTINGS:  # so a table of runs with other settings says so (not replicates)
                r[k] = cfg.get(k)
        df = pd.DataFrame(rows, columns=cols + _spread_extra(rows, cols))
        return df.astype({"params": "int64", "tokens": "int64", "step": "int64"}) if len(df) else df

    @_retrying("exporting curves")
    def curves_frame(self, *, sweep: str | None = None):
        """The loss curves (pandas): one row per logged point of every run (all statuses), ordered by run,
        branch, split and step. Columns: ``run_id``, ``name``, ``sweep``, ``branch``, ``split`` (train | val),
        ``step``, ``tokens`` (seen), ``loss`` (nats/token), ``loss_bpb`` (bits/byte), ``lr``, ``wall_seconds``,
        ``tokens_per_second``, then one column per extra metric logged with the points (``grad_norm``, ...;
        ``extra_<name>`` when the name is one of those columns), sorted by name, empty where a point lacks it.
        """
        import pandas as pd

        q = (select(metrics.c.run_id, runs.c.name, runs.c.sweep, metrics.c.branch, metrics.c.split, metrics.c.step,
                    metrics.c.tokens, metrics.c.loss_nats, metrics.c.loss_bpb, metrics.c.lr, metrics.c.wall_seconds,
                    metrics.c.tokens_per_second, metrics.c.extra)
             .join(runs, runs.c.id == metrics.c.run_id)
             .order_by(metrics.c.run_id, metrics.c.branch, metrics.c.split, metrics.c.step))
        if sweep:
            q = q.where(runs.c.sweep == sweep)
        cols = ["run_id", "name", "sweep", "branch", "split", "step", "tokens", "loss", "loss_bpb", "lr",
                "wall_seconds", "tokens_per_second"]
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            r["loss"] = r.pop("loss_nats")
        return pd.DataFrame(rows, columns=cols + _spread_extra(rows, cols))

    def to_runtable(self, *, per_checkpoint: bool = False, sweep: str | None = None, where: Iterable[str] = (),
                    drop_duplicates: bool = False):
        """:meth:`to_frame` wrapped as a ``scalinglab.data.RunTable`` whose source is the store (its URL, the
        password masked), so a fit of it says where its runs came from.

        ``where``: conditions as :meth:`scalinglab.data.RunTable.where` takes them (``"sweep=ladder"``), applied
        BEFORE the runs are validated, so a problem among the runs they leave out (two runs of another sweep
        with the same values, a teammate's rerun) does not stop a fit of the selected ones.
        ``drop_duplicates``: as `scalinglab.data.load_runs` (drop a run that repeats another's values).

        Raises
        ------
        DataError
            If a row cannot be read as a run (a loss <= 0 recorded by an older scalinglab, ...); each problem
            names its run (``run <id> (<name>)``) rather than a row number of the table.
        InputError
            If a ``where`` condition cannot be read or no run matches.
        """
        from ._errors import DataError
        from .data import load_runs

        df = self.to_frame(per_checkpoint=per_checkpoint, sweep=sweep)
        source = mask_url(self.url)
        where = list(where)
        if where and len(df):  # select on a lenient read (no run-table checks), then check the selection
            rows = load_runs(df.assign(_store_row=range(len(df))), canonical=False, required=(), positive_loss=False,
                             source_name=source).where(*where).df["_store_row"]
            df = df.iloc[[int(i) for i in rows]].reset_index(drop=True)
        try:
            return load_runs(df, source_name=source, drop_duplicates=drop_duplicates)
        except DataError as exc:
            problems = exc.problems or [exc]

            def where(p: DataError) -> str:  # rows are 1-based rows of the frame: each is a run, named
                if p.row is None or not 1 <= p.row <= len(df):
                    return ":".join(str(x) for x in (p.row, p.column) if x is not None)
                r = df.iloc[p.row - 1]
                return f"run {r['run_id']} ({r['name']})" + (f" {p.column}" if p.column else "")

            total = getattr(exc, "n_problems", len(problems))
            lines = [f"{total} problem{'s' * (total != 1)} in {source}:"]
            lines += [f"{where(p)}: {p.reason}" for p in problems]
            lines += [f"... and {total - len(problems)} more"] if total > len(problems) else []
            err = DataError(lines[0], file=source, problems=problems)
            err.args = ("\n".join(lines),)
            err.n_problems = total  # type: ignore[attr-defined]  # the whole count, as every collected error
            raise err from None

    def export(self, path: str | os.PathLike, *, per_checkpoint: bool = False, curves: bool = False) -> Path:
        """Write the run table (with ``curves=True``: the loss curves of :meth:`curves_frame` instead) to
        ``path`` atomically (.csv, .tsv, .parquet, .json, .jsonl or .xlsx by suffix; see
        `scalinglab.data.write_frame`, which raises `InputError` for another suffix or a missing folder)."""
        from .data import write_frame

        return write_frame(self.curves_frame() if curves else self.to_frame(per_checkpoint=per_checkpoint), path)
