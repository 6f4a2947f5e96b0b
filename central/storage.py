"""Storage of the reference platform: one database (a SQLite file, or PostgreSQL when given a
``postgresql://`` URL), one connection per thread, plain SQL.

What lives where: engine differences in :mod:`central.dialect` / :mod:`central.postgres`, the
tables and their migrations in :mod:`central.schema`, the secrets and sealing in
:mod:`central.sealing`, residents' sealed records in :mod:`central.records`, idempotency keys
in :mod:`central.idempotency`, retention in :mod:`central.retention`.  :class:`Store` puts
them together and keeps connections and transactions.

Residents are keyed by an HMAC of their ID number (``resident_key``) with the pepper, and
their fields are sealed with the data key; both secrets are kept outside the database, so a
copy of the database alone reveals no resident.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from central import schema
from central.dialect import Dialect, is_database_url
from central.idempotency import IdempotencyKeys
from central.records import ResidentRecords
from central.sealing import Sealer, SecretFileError, fingerprint, load_or_create_secret


def dialect_for(db: str | Path) -> Dialect:
    """A ``postgresql://`` (or ``postgres://``) URL selects PostgreSQL; anything else is a SQLite file."""
    if is_database_url(db):
        from central.postgres import PostgresDialect  # psycopg only when PostgreSQL is used
        return PostgresDialect(str(db))
    return Dialect(Path(db))


def canonical_hash(body: Any) -> str:
    """Hash of a JSON body independent of key order and whitespace."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def token_hash(token: str) -> str:
    """Kiosk tokens are 256-bit random: a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


class Store(IdempotencyKeys, ResidentRecords):
    """One database; one connection per thread (FastAPI runs handlers in a thread pool).

    ``db``: a SQLite file, or a ``postgresql://`` URL.  ``pepper_path``: the resident-key secret;
    default ``<db>.pepper`` beside a SQLite file, required for PostgreSQL.  ``key_path``: the
    data key; default beside the pepper (``.key`` instead of its suffix).  Keep both off the
    database server and out of its backups.  Opening migrates an older database forward.
    """

    def __init__(self, db_path: str | Path, pepper_path: str | Path | None = None, dialect: Dialect | None = None,
                 key_path: str | Path | None = None):
        self.dialect = dialect or dialect_for(db_path)
        if is_database_url(db_path) or self.dialect.name != "sqlite":
            self.db_path = None
            if pepper_path is None:
                raise SecretFileError("a PostgreSQL database needs a pepper file (--pepper-file or $CENTRAL_PEPPER): "
                                      "the resident-key secret is kept outside the database")
        else:
            self.db_path = Path(db_path)
        pepper_path = Path(pepper_path) if pepper_path else self.db_path.with_suffix(".pepper")
        key_path = Path(key_path) if key_path else pepper_path.with_suffix(".key")
        self.pepper_path = pepper_path  # other secrets of this platform live beside it (central.eid)
        self.location = self.dialect.describe()
        self._local = threading.local()
        # One writer at a time inside this process: waiting on a lock is immediate, SQLite's
        # busy handler sleeps in steps (other processes, e.g. the CLI, still use busy_timeout).
        self._write_lock = threading.Lock() if self.dialect.process_write_lock else _NoLock()
        self._all: list = []
        self._all_lock = threading.Lock()
        self.dialect.prepare()
        self.dialect.init_schema(self._conn(), schema.SCHEMA)
        used_before = self.get_setting("pepper_check") is not None
        self._pepper = self._open_secret(pepper_path, "pepper")
        self._sealer = Sealer(self._open_secret(key_path, "data key"))
        if schema.migrate(self, used_before):
            self.dialect.scrub(self._conn())

    def _open_secret(self, path: Path, purpose: str) -> bytes:
        """Load (or, for a database that never had one, create) a secret and check it belongs to
        this database: a wrong or lost pepper would silently stop finding every resident's
        records, a wrong or lost data key would make them unreadable."""
        setting = purpose.replace(" ", "_") + "_check"
        stored = self.get_setting(setting)
        secret = load_or_create_secret(path, create=stored is None)
        check = fingerprint(secret, purpose)
        if stored is None:
            self.set_setting(setting, check)
        elif not hmac.compare_digest(str(stored), check):
            raise SecretFileError(f"{purpose} file {path} does not belong to this database")
        return secret

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.dialect.connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _forget_broken(self) -> None:
        """After an error: drop this thread's connection if it is unusable (server restart,
        network cut), so the next statement connects again."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self.dialect.is_broken(conn):
            self._local.conn = None
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass

    def _failed(self, exc: BaseException) -> BaseException:
        self._forget_broken()
        return self.dialect.translate_error(exc)

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing on shutdown, nothing to do
                    pass
            self._all.clear()
        self._local = threading.local()

    def resident_key(self, id_number: str) -> str:
        return hmac.new(self._pepper, id_number.strip().upper().encode("utf-8"), hashlib.sha256).hexdigest()

    # -- statements ------------------------------------------------------------------------
    def execute(self, sql: str, params: tuple = ()):
        try:
            return self._conn().execute(self.dialect.sql(sql), params)
        except self.dialect.errors as exc:  # SQLite: () -- nothing is caught, nothing is paid
            translated = self._failed(exc)
            if translated is exc:
                raise
            raise translated from None

    def one(self, sql: str, params: tuple = ()) -> dict | None:
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: tuple = ()) -> list[dict]:
        return [dict(r) for r in self.execute(sql, params).fetchall()]

    @contextmanager
    def write(self, durable: bool = True) -> Iterator["Store"]:
        """One write transaction; commits on success, rolls back on any exception.

        ``durable=False`` skips the fsync for state a crash may lose harmlessly (an
        idempotency claim, a heartbeat): one fsync per application instead of two.
        """
        conn = self._conn()
        with self._write_lock:
            if not durable:
                self.dialect.set_durable(conn, False)
            try:
                conn.execute(self.dialect.begin_write if durable else self.dialect.begin_write_nondurable)
                try:
                    yield self
                except BaseException:
                    self._rollback(conn)
                    raise
                conn.execute("COMMIT")
            except self.dialect.errors as exc:
                translated = self._failed(exc)
                if translated is exc:
                    raise
                raise translated from None
            finally:
                if not durable:
                    self.dialect.set_durable(conn, True)

    def _rollback(self, conn) -> None:
        try:
            conn.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the original error matters, not this one
            self._forget_broken()

    def one_for_update(self, sql: str, params: tuple = ()) -> dict | None:
        """Read a row the current write transaction will change (PostgreSQL: ``FOR UPDATE``,
        so a concurrent transaction waits and then sees the change)."""
        return self.one(sql + self.dialect.for_update, params)

    def next_number(self, name: str) -> int:
        """A gap-free sequence; call inside :meth:`write`."""
        row = self.execute("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE "
                           "SET value = counters.value + 1 RETURNING value", (name,)).fetchone()
        return int(row["value"])

    # -- settings --------------------------------------------------------------------------
    def get_setting(self, name: str, default: Any = None) -> Any:
        row = self.one("SELECT value FROM settings WHERE name = ?", (name,))
        return json.loads(row["value"]) if row else default

    def set_setting(self, name: str, value: Any) -> None:
        with self.write():
            self.execute("INSERT INTO settings (name, value) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                         (name, json.dumps(value, ensure_ascii=False)))
