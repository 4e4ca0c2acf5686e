"""A throwaway PostgreSQL server for tests: ``initdb`` into a temp folder, ``pg_ctl start`` on a free port.

Uses the Debian ``postgresql`` package's binaries (``/usr/lib/postgresql/<v>/bin``) or any ``initdb`` on
PATH. PostgreSQL refuses to run as root, so under root (CI) the server runs as the ``postgres`` user via
``runuser``. Trust authentication on 127.0.0.1 only; fsync off (the machine does not crash in a test);
asynchronous commits unless ``durable=True`` (the fault tests, which stop the server like a crash).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def pg_bindir() -> Path | None:
    """Folder with ``initdb`` and ``pg_ctl``, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
                   if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def why_unavailable() -> str | None:
    """A reason to skip PostgreSQL tests, or None when a server can be started."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'scalinglab[postgres]')"
    if pg_bindir() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``with PgServer() as pg: Store(pg.new_database())``."""

    def __init__(self, durable: bool = False) -> None:
        #: durable=True keeps synchronous_commit on, so a commit that was acknowledged survives an immediate
        #: (crash-like) shutdown — what the fault tests need; the default trades that for speed.
        self.durable = durable
        self.bindir = pg_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="scalinglab-pg-"))
        self.data = self.base / "data"
        self.port = 0
        self._as: list[str] = []
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.base)

    def start(self) -> PgServer:
        r = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync", "--locale=C")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr[-2000:]}")
        for _ in range(5):  # the free port may be taken between choosing and binding it: retry
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c synchronous_commit={'on' if self.durable else 'off'} -c full_page_writes=off "
                    "-c max_connections=100")
            r = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts,
                          "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")
            if r.returncode == 0:
                self._opts = opts
                return self
        raise RuntimeError(f"pg_ctl start failed: {r.stderr[-1000:]} "
                           f"{(self.base / 'server.log').read_text(errors='replace')[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database with a unique name and return its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def halt(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions terminated; ``immediate``: as a crash), keeping its data."""
        r = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        if r.returncode:
            raise RuntimeError(f"pg_ctl stop failed: {r.stderr[-1000:]}")

    def resume(self) -> None:
        """Start a halted server again on the same port."""
        r = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", self._opts,
                      "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")
        if r.returncode:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr[-1000:]}")

    def stop(self) -> None:
        if self.bindir is not None and self.data.exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
