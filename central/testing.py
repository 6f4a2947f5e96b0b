"""Run the reference platform inside a test: a real uvicorn server on a free loopback port.

    with run_server(tmp_path / "central.db", faults=Faults(error_rate=0.2)) as platform:
        client = PlatformClient(platform.base_url, platform.token)
        platform.set_faults(drop_after_rate=0.3, seed=1)   # change faults while it runs

``platform.token`` belongs to kiosk ``platform.kiosk_id`` (default
"test-kiosk"); ``platform.store`` is the server's database for assertions;
``platform.admin_token`` is the admin password set for the run.  This is the
only way (with ``central serve --faults-file``) a server has fault injection.
"""
from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import uvicorn

from central import credentials
from central.admin import DEFAULT_REGION, issue_kiosk_token
from central.app import create_app
from central.faults import FaultInjector, Faults
from central.platform_key import PlatformIdentity
from central.storage import Store


@dataclass
class LocalPlatform:
    base_url: str
    token: str
    kiosk_id: str
    admin_token: str
    store: Store
    faults: FaultInjector

    def set_faults(self, **fields) -> None:
        """Replace the active faults (no fields: no faults)."""
        self.faults.set(Faults.from_dict(fields))

    def count(self, table: str) -> int:
        return self.store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]


class ServerThread:
    """uvicorn in a daemon thread; ``port`` is known once ``start()`` returns."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, ssl_certfile: str | None = None,
                 ssl_keyfile: str | None = None):
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2, access_log=False,
                                ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="central-server", daemon=True)
        self.host = host
        self.port = port

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; start() reports it
            pass

    def start(self, timeout: float = 15.0) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference platform did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def run_server(db_path: str | Path, faults: Faults | None = None, kiosk_id: str = "test-kiosk",
               region: str = DEFAULT_REGION, pepper_path: str | Path | None = None) -> Iterator[LocalPlatform]:
    """``db_path``: a SQLite file or a ``postgresql://`` URL (which needs ``pepper_path``)."""
    store = Store(db_path, pepper_path)
    injector = FaultInjector(faults)
    admin_token = secrets.token_urlsafe(16)
    credentials.set_password(store, admin_token)
    token = issue_kiosk_token(store, kiosk_id, region)
    platform_key = PlatformIdentity.for_store(store, Path(pepper_path).with_suffix(".identity") if pepper_path else None)
    server = ServerThread(create_app(store, injector, platform_key=platform_key)).start()
    try:
        yield LocalPlatform(f"http://127.0.0.1:{server.port}", token, kiosk_id, admin_token, store, injector)
    finally:
        server.stop()
        store.close()


# -- a throwaway PostgreSQL cluster (tests of the PostgreSQL dialect) ---------------------------
def postgres_bindir() -> Path:
    """Where initdb/pg_ctl live: ``$PG_BINDIR``, else the newest /usr/lib/postgresql/N/bin (Debian's
    ``postgresql`` package), else the PATH."""
    import os
    import shutil
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found (initdb): install Debian's `postgresql` package "
                       "(scripts/bootstrap.sh does) or set PG_BINDIR")


class TempPostgres:
    """A private PostgreSQL cluster in a temporary directory: initdb, pg_ctl start on a free port
    (127.0.0.1 and a unix socket in the directory), ``stop()``.  A test gets a fresh, empty
    namespace with ``create_schema()`` (a schema in database ``central``, selected by the URL's
    ``search_path``; ~10 ms where ``CREATE DATABASE`` takes ~200 ms) or a whole database with
    ``create_database()``; ``drop(url)`` removes either.

    PostgreSQL refuses to run as root: as root, the server binaries run as the ``postgres`` OS
    user (``runuser``) and the directory belongs to it.  Trust authentication, user ``postgres``,
    UTF8 with the C locale (byte order, as SQLite sorts).  ``fsync`` is off: the cluster is
    thrown away, so durability is not what these tests measure.
    """

    def __init__(self) -> None:
        import os
        import tempfile
        self.bindir = postgres_bindir()
        # As root the server runs as `postgres`, which must reach the directory: under /tmp, not
        # under a $TMPDIR that may be root's own.
        as_root = os.geteuid() == 0 and os.path.isdir("/tmp")
        self.root = Path(tempfile.mkdtemp(prefix="central-pg-", dir="/tmp" if as_root else None))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            import pwd
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self.port = 0
        self._serial = 0
        self._lock = threading.Lock()
        self.running = False

    def _run(self, *args: str) -> None:
        import subprocess
        result = subprocess.run([*self._as_postgres, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): "
                               f"{result.stderr.strip()[-2000:]}\n{log}")

    def start(self) -> "TempPostgres":
        import socket
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        for attempt in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                       f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
                       f"-c max_connections=300 -c shared_buffers=32MB")
            try:
                self._run(str(self.bindir / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data),
                          "-l", str(self.log), "-o", options)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
        self.running = True
        import atexit
        atexit.register(self.stop)
        self.admin("CREATE DATABASE central")
        return self

    def url(self, dbname: str = "postgres") -> str:
        """Over the unix socket in the cluster's directory."""
        return f"postgresql://postgres@/{dbname}?host={self.root}&port={self.port}"

    def tcp_url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def _name(self, prefix: str) -> str:
        with self._lock:
            self._serial += 1
            return f"{prefix}{self._serial}"

    def create_schema(self) -> str:
        """A new empty schema in database ``central``; returns a URL whose connections use it."""
        import psycopg
        name = self._name("t")
        with psycopg.connect(self.url("central"), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url("central") + f"&options=-csearch_path%3D{name}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = self._name("central_")
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        """Remove what ``create_schema`` or ``create_database`` made."""
        import psycopg
        if "search_path%3D" in url:
            with psycopg.connect(self.url("central"), autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {url.rsplit('%3D', 1)[1]} CASCADE")
        else:
            self.admin(f"DROP DATABASE IF EXISTS {url.split('/')[3].split('?')[0]} WITH (FORCE)")

    def database_dir(self, url: str) -> Path:
        """The directory holding a database's files (to look for plain text in them)."""
        import psycopg
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        return self.data / "base" / str(oid)

    def stop(self) -> None:
        import shutil
        if self.running:
            self.running = False
            try:
                self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ScratchDatabase:
    """A test's platform database in one dialect (the ``central_db`` fixture of tests/conftest.py)."""
    dialect: str                      # "sqlite" or "postgresql"
    db: str | Path                    # the SQLite file or the PostgreSQL URL
    pepper: Path
    cluster: TempPostgres | None = None

    def cli_args(self) -> list[str]:
        """``--db`` (and for PostgreSQL ``--pepper-file``) for ``central``."""
        args = ["--db", str(self.db)]
        return args + ["--pepper-file", str(self.pepper)] if self.cluster else args

    def files(self) -> list[Path]:
        """Every file the data may be in (to prove a value is not stored in plain text)."""
        if self.cluster is None:
            return sorted(Path(self.db).parent.glob(Path(self.db).name + "*"))
        base = self.cluster.database_dir(str(self.db))  # checkpoints first
        return [p for p in [*base.rglob("*"), *(self.cluster.data / "pg_wal").glob("0*")] if p.is_file()]
