"""How the platform's database engines differ: SQLite here, PostgreSQL in :mod:`central.postgres`.

The SQL is the portable subset both share (``INSERT ... ON CONFLICT``, ``RETURNING``, no
AUTOINCREMENT, no engine-only functions); everything that differs -- connecting, the parameter
style, the column types, how a write transaction starts, how a row is locked for a
read-then-write, how a commit is made non-durable -- lives in a :class:`Dialect`.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

PRIVATE_FILE = 0o600  # the database holds residents' (sealed) records: owner only


class DataRejected(ValueError):
    """The engine cannot store a value of the request (PostgreSQL: a number out of range).
    The API answers 422: retrying the same body cannot help."""


def is_database_url(db: str | Path) -> bool:
    return isinstance(db, str) and db.split("://", 1)[0] in ("postgresql", "postgres")


class Dialect:
    """What differs between database engines.  This one is SQLite; the
    PostgreSQL one is :class:`central.postgres.PostgresDialect`.

    ``begin_write`` starts a write transaction, ``begin_write_nondurable`` one whose commit may be
    lost in a power cut.  ``for_update`` is appended to a read whose row the transaction then
    changes (SQLite: nothing, ``BEGIN IMMEDIATE`` already holds the only write lock).
    ``process_write_lock``: serialise writers inside the process (SQLite has one writer anyway;
    PostgreSQL locks rows and lets writers overlap).  ``key_lock``: a statement (one parameter)
    that locks one idempotency key until the transaction ends -- also a key with no row yet,
    which ``FOR UPDATE`` cannot lock (SQLite: None, the write lock covers it).  ``schema_lock``:
    a statement that makes a migration wait for another process migrating the same database
    (SQLite: None, the write lock covers it).  ``errors``: engine exceptions that
    :meth:`translate_error` looks at.
    """

    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"  # take the write lock first: no upgrade deadlocks
    begin_write_nondurable = "BEGIN IMMEDIATE"  # after set_durable(conn, False)
    for_update = ""
    process_write_lock = True
    key_lock: str | None = None
    schema_lock: str | None = None
    errors: tuple = ()

    def __init__(self, path: Path):
        self.path = Path(path)

    def connect(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # NORMAL may roll back the last commits on power loss
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")  # a purged scan or erased text leaves zeros, not the old bytes
        return conn

    def prepare(self) -> None:
        """Before the first connection: create the file 0600 (SQLite gives -wal and -shm the
        database file's mode), and take away what an older platform left readable by others.
        An existing file is never opened here: closing a descriptor of a database file drops
        every POSIX lock this process holds on it, including SQLite's."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
        except FileExistsError:
            pass
        for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            try:
                if path.stat().st_mode & 0o077:
                    os.chmod(path, PRIVATE_FILE)
            except FileNotFoundError:
                pass

    def set_durable(self, conn, durable: bool) -> None:
        """FULL: the commit is on disk when it returns.  NORMAL (WAL): it reaches disk with the
        next FULL commit or checkpoint -- enough for state that a crash may lose harmlessly."""
        conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")

    def sql(self, text: str) -> str:
        """Statements are written with ``?`` parameters; other engines translate here."""
        return text

    def init_schema(self, conn, schema: str) -> None:
        """Run the schema script (``CREATE ... IF NOT EXISTS``, written in SQLite's types)."""
        conn.executescript(schema)

    def scrub(self, conn) -> None:
        """After a migration rewrote values: leave none of the old ones in free pages or the WAL."""
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def is_broken(self, conn) -> bool:
        """After an error: is the connection unusable (to be replaced by a new one)?"""
        return False

    def translate_error(self, exc: BaseException) -> BaseException:
        """An engine's exception (one of ``errors``) as the storage layer's, or itself."""
        return exc

    def describe(self) -> str:
        """Where the data is, for operators (never a password)."""
        return str(self.path)

