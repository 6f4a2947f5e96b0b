"""Storage of the reference platform: plain SQL behind a small dialect seam.

SQLite (WAL, ``synchronous=FULL``) is the default; PostgreSQL (psycopg 3,
:mod:`central.postgres`) is chosen by giving a ``postgresql://`` URL instead
of a file.  The SQL is the portable subset both share (``INSERT ... ON
CONFLICT``, ``RETURNING``, no AUTOINCREMENT, no engine-only functions);
everything that differs -- connecting, the parameter style, the column types,
how a write transaction starts, how a row is locked for a read-then-write,
how a commit is made non-durable -- lives in :class:`Dialect`.

Residents are keyed by an HMAC of their ID number (``resident_key``) with a
secret kept outside the database, so a copy of the database alone does not
reveal who submitted which material.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from central.trust_schema import TRUST_SCHEMA

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, region TEXT NOT NULL,
    hostname TEXT, enrolled_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
    last_seen REAL, last_heartbeat TEXT);
CREATE TABLE IF NOT EXISTS enroll_codes (
    code_hash TEXT PRIMARY KEY, region TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL NOT NULL, used_at REAL, used_by TEXT);
CREATE TABLE IF NOT EXISTS idempotency (
    kiosk_id TEXT NOT NULL, scope TEXT NOT NULL, idem_key TEXT NOT NULL, body_hash TEXT NOT NULL,
    state TEXT NOT NULL, status_code INTEGER, response TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (kiosk_id, scope, idem_key));
CREATE TABLE IF NOT EXISTS applications (
    application_no TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, idem_key TEXT, service_id TEXT NOT NULL,
    service_name TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, resident_key TEXT NOT NULL,
    applicant TEXT NOT NULL, form TEXT NOT NULL, delivery TEXT NOT NULL, submitted_at TEXT,
    received_at REAL NOT NULL, offline INTEGER NOT NULL, promised_days INTEGER NOT NULL,
    expected_completion TEXT NOT NULL, decided_at REAL, pickup_code TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS applications_by_resident ON applications (resident_key);
CREATE TABLE IF NOT EXISTS materials (
    material_id TEXT PRIMARY KEY, resident_key TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    application_no TEXT NOT NULL, submitted_at REAL NOT NULL, pages INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS materials_by_resident ON materials (resident_key);
CREATE TABLE IF NOT EXISTS material_pages (
    material_id TEXT NOT NULL, page_no INTEGER NOT NULL, sha256 TEXT NOT NULL, content BLOB NOT NULL,
    PRIMARY KEY (material_id, page_no));
CREATE TABLE IF NOT EXISTS documents (
    document_id TEXT PRIMARY KEY, application_no TEXT, resident_key TEXT NOT NULL, title TEXT NOT NULL,
    kind TEXT NOT NULL, data TEXT NOT NULL, pickup_code TEXT NOT NULL, print_token TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, printed_at REAL, printed_by TEXT,
    print_failures INTEGER NOT NULL DEFAULT 0, last_detail TEXT);
CREATE INDEX IF NOT EXISTS documents_by_resident ON documents (resident_key);
CREATE INDEX IF NOT EXISTS documents_by_pickup ON documents (pickup_code);
CREATE TABLE IF NOT EXISTS ratings (
    rating_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, application_no TEXT, level INTEGER NOT NULL,
    comment TEXT NOT NULL, follow_up INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS appeals (
    appeal_no TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, category TEXT NOT NULL, text TEXT NOT NULL,
    contact_phone TEXT, status TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS verifications (
    verification_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, resident_key TEXT NOT NULL,
    matched INTEGER NOT NULL, score REAL NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS menu (
    slot INTEGER PRIMARY KEY, etag TEXT NOT NULL, content BLOB NOT NULL, content_type TEXT NOT NULL,
    published_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats (
    kiosk_id TEXT NOT NULL, received_at REAL NOT NULL, queue_depth INTEGER NOT NULL, dead INTEGER NOT NULL,
    faults INTEGER NOT NULL, uptime_s REAL NOT NULL, PRIMARY KEY (kiosk_id, received_at));
""" + TRUST_SCHEMA

PROCESSING_LEASE_S = 60.0  # a "processing" key older than this was left by a crash: take it over
# Idempotency keys are forgotten this long after their last use (docs/platform.md, "Retention"):
# twice the 90 days a kiosk keeps its delivered items' tombstones (offline_queue.outbox.TOMBSTONE_DAYS).
KEY_RETENTION_DAYS = 180
HEARTBEAT_RETENTION_DAYS = 3  # heartbeat history (samples, see central.app); the latest beat is kept apart


class Dialect:
    """What differs between database engines.  This one (also ``SQLiteDialect``) is SQLite; the
    PostgreSQL one is :class:`central.postgres.PostgresDialect`.

    ``begin_write`` starts a write transaction, ``begin_write_nondurable`` one whose commit may be
    lost in a power cut.  ``for_update`` is appended to a read whose row the transaction then
    changes (SQLite: nothing, ``BEGIN IMMEDIATE`` already holds the only write lock).
    ``process_write_lock``: serialise writers inside the process (SQLite has one writer anyway;
    PostgreSQL locks rows and lets writers overlap).  ``key_lock``: a statement (one parameter)
    that locks one idempotency key until the transaction ends -- also a key with no row yet,
    which ``FOR UPDATE`` cannot lock (SQLite: None, the write lock covers it).  ``errors``:
    engine exceptions that :meth:`translate_error` looks at.
    """

    name = "sqlite"
    begin_write = "BEGIN IMMEDIATE"  # take the write lock first: no upgrade deadlocks
    begin_write_nondurable = "BEGIN IMMEDIATE"  # after set_durable(conn, False)
    for_update = ""
    process_write_lock = True
    key_lock: str | None = None
    errors: tuple = ()

    def __init__(self, path: Path):
        self.path = Path(path)

    def connect(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # NORMAL may roll back the last commits on power loss
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def set_durable(self, conn, durable: bool) -> None:
        """FULL: the commit is on disk when it returns.  NORMAL (WAL): it reaches disk with the
        next FULL commit or checkpoint -- enough for state that a crash may lose harmlessly."""
        conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")

    def sql(self, text: str) -> str:
        """Statements are written with ``?`` parameters; other engines translate here."""
        return text

    def init_schema(self, conn) -> None:
        conn.executescript(SCHEMA)

    def is_broken(self, conn) -> bool:
        """After an error: is the connection unusable (to be replaced by a new one)?"""
        return False

    def translate_error(self, exc: BaseException) -> BaseException:
        """An engine's exception (one of ``errors``) as the storage layer's, or itself."""
        return exc

    def describe(self) -> str:
        """Where the data is, for operators (never a password)."""
        return str(self.path)


SQLiteDialect = Dialect


class DataRejected(ValueError):
    """The engine cannot store a value of the request (PostgreSQL: a number out of range).
    The API answers 422: retrying the same body cannot help."""


def is_database_url(db: str | Path) -> bool:
    return isinstance(db, str) and db.split("://", 1)[0] in ("postgresql", "postgres")


def dialect_for(db: str | Path) -> Dialect:
    """A ``postgresql://`` (or ``postgres://``) URL selects PostgreSQL; anything else is a SQLite file."""
    if is_database_url(db):
        from central.postgres import PostgresDialect
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


def load_pepper(path: Path) -> bytes:
    """The resident-key secret, created (mode 0600) beside the database on first use."""
    path = Path(path)
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return bytes.fromhex(path.read_text().strip())
    with open(fd, "w") as handle:
        handle.write(value.hex())
    return value


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


class PepperError(RuntimeError):
    """The pepper file does not belong to this database (or is missing for an existing one)."""


class Store:
    """One database; one connection per thread (FastAPI runs handlers in a thread pool).

    ``db``: a SQLite file, or a ``postgresql://`` URL.  ``pepper_path``: the resident-key secret;
    default ``<db>.pepper`` beside a SQLite file, required for PostgreSQL (keep it off the
    database server).
    """

    def __init__(self, db_path: str | Path, pepper_path: str | Path | None = None, dialect: Dialect | None = None):
        self.dialect = dialect or dialect_for(db_path)
        if is_database_url(db_path) or self.dialect.name != "sqlite":
            self.db_path = None
            if pepper_path is None:
                raise PepperError("a PostgreSQL database needs a pepper file (--pepper-file or $CENTRAL_PEPPER): "
                                  "the resident-key secret is kept outside the database")
        else:
            self.db_path = Path(db_path)
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.location = self.dialect.describe()
        self._local = threading.local()
        # One writer at a time inside this process: waiting on a lock is immediate, SQLite's
        # busy handler sleeps in steps (other processes, e.g. the CLI, still use busy_timeout).
        self._write_lock = threading.Lock() if self.dialect.process_write_lock else _NoLock()
        self._all: list = []
        self._all_lock = threading.Lock()
        self._sql_claimed = ("SELECT * FROM idempotency WHERE kiosk_id = ? AND scope = ? AND idem_key = ?"
                             + self.dialect.for_update)
        self._key_lock = self.dialect.key_lock
        self.dialect.init_schema(self._conn())
        self._pepper = self._open_pepper(Path(pepper_path) if pepper_path else self.db_path.with_suffix(".pepper"))

    def _open_pepper(self, path: Path) -> bytes:
        """Load (or, for a new database, create) the pepper and check it belongs to this database:
        a wrong or lost pepper would silently stop finding every resident's records."""
        stored = self.get_setting("pepper_check")
        if stored is not None and not path.exists():
            raise PepperError(f"pepper file {path} is missing, but this database was used with one")
        pepper = load_pepper(path)
        check = hmac.new(pepper, b"central pepper check", hashlib.sha256).hexdigest()[:16]
        if stored is None:
            self.set_setting("pepper_check", check)
        elif not hmac.compare_digest(str(stored), check):
            raise PepperError(f"pepper file {path} does not belong to this database")
        return pepper

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

    # -- idempotency -----------------------------------------------------------------------
    def claim_key(self, kiosk_id: str, scope: str, key: str, body_hash: str) -> tuple[str, Any]:
        """Claim an Idempotency-Key.

        Returns ``("new", None)`` (the caller processes and then calls
        :meth:`finish_key` in its own transaction), ``("replay", (status, body))``,
        ``("mismatch", None)`` (same key, different body) or ``("processing", None)``.
        """
        known = self.one("SELECT body_hash, state, status_code, response FROM idempotency "
                         "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?", (kiosk_id, scope, key))
        if known is not None and known["state"] == "done":  # finished rows never change: no write needed
            if known["body_hash"] != body_hash:
                return "mismatch", None
            return "replay", (known["status_code"], json.loads(known["response"]))
        now = time.time()
        with self.write(durable=False):  # a claim lost in a power cut only means the work is redone
            if self._key_lock is not None:  # PostgreSQL: wait for a batch recording this key right now
                self.lock_key(kiosk_id, scope, key)
            # The usual case is a new key: insert it; only a key someone else holds needs a read.
            if self.execute("INSERT INTO idempotency (kiosk_id, scope, idem_key, body_hash, state, "
                            "created_at, updated_at) VALUES (?, ?, ?, ?, 'processing', ?, ?) "
                            "ON CONFLICT (kiosk_id, scope, idem_key) DO NOTHING",
                            (kiosk_id, scope, key, body_hash, now, now)).rowcount == 1:
                return "new", None
            row = self.one(self._sql_claimed, (kiosk_id, scope, key))  # locked: two take-overs cannot both win
            if row["body_hash"] != body_hash:
                return "mismatch", None
            if row["state"] == "done":
                return "replay", (row["status_code"], json.loads(row["response"]))
            if now - row["updated_at"] > PROCESSING_LEASE_S:
                self.execute("UPDATE idempotency SET updated_at = ? WHERE kiosk_id = ? AND scope = ? "
                             "AND idem_key = ?", (now, kiosk_id, scope, key))
                return "new", None
            return "processing", None

    def finish_key(self, kiosk_id: str, scope: str, key: str, status: int, response: Any,
                   response_json: str | None = None) -> None:
        """Record the response; call inside the same write transaction as the work itself.
        ``response_json``: the response already serialised (saves encoding it twice)."""
        if response_json is None:
            response_json = json.dumps(response, ensure_ascii=False)
        self.execute("UPDATE idempotency SET state = 'done', status_code = ?, response = ?, updated_at = ? "
                     "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?",
                     (status, response_json, time.time(), kiosk_id, scope, key))

    def lock_key(self, kiosk_id: str, scope: str, key: str) -> None:
        """Hold one key until the write transaction ends (PostgreSQL; SQLite's write lock already
        holds everything)."""
        if self._key_lock is not None:
            self.execute(self._key_lock, (f"{kiosk_id}\x1f{scope}\x1f{key}",))

    def key_state(self, kiosk_id: str, scope: str, key: str) -> dict | None:
        """The key's row (body_hash, state, status_code, response, updated_at), or None if unseen.
        Inside :meth:`write` before :meth:`record_key`: on PostgreSQL the key is held (``lock_key``)
        until the transaction ends, so no claim of it can slip in between."""
        if self._key_lock is not None:
            self.lock_key(kiosk_id, scope, key)
        return self.one("SELECT body_hash, state, status_code, response, updated_at FROM idempotency "
                        "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?", (kiosk_id, scope, key))

    def record_key(self, kiosk_id: str, scope: str, key: str, body_hash: str, status: int,
                   response_json: str) -> None:
        """Record a finished key in one step (a batch item: the batch's own transaction is the
        claim); takes over a claim whose processing lease ran out.  Call inside :meth:`write`."""
        now = time.time()
        self.execute("INSERT INTO idempotency (kiosk_id, scope, idem_key, body_hash, state, status_code, "
                     "response, created_at, updated_at) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?) "
                     "ON CONFLICT (kiosk_id, scope, idem_key) DO UPDATE SET state = 'done', "
                     "status_code = excluded.status_code, response = excluded.response, "
                     "updated_at = excluded.updated_at",
                     (kiosk_id, scope, key, body_hash, status, response_json, now, now))

    def release_key(self, kiosk_id: str, scope: str, key: str) -> None:
        """The work failed: forget the claim so a retry can do it."""
        with self.write(durable=False):
            self.execute("DELETE FROM idempotency WHERE kiosk_id = ? AND scope = ? AND idem_key = ? "
                         "AND state = 'processing'", (kiosk_id, scope, key))

    def purge_keys(self, older_than_s: float, now: float | None = None, chunk: int = 1000) -> int:
        """Forget idempotency keys last used more than ``older_than_s`` ago; returns how many.

        Finished keys, and claims abandoned that long ago (never one still within its lease,
        whatever ``older_than_s``: its request may yet finish).
        Walks the primary key in chunks of ``chunk`` rows, one short non-durable transaction
        each (a purge lost in a power cut is done again next time), so requests keep flowing
        and no per-request index is needed.  Maintenance only: never on the request path.
        """
        now = time.time() if now is None else now
        cutoff, abandoned = now - older_than_s, now - 2 * PROCESSING_LEASE_S
        columns = "(kiosk_id, scope, idem_key)"
        after: tuple | None = None
        purged = 0
        while True:
            where, params = (f"WHERE {columns} > (?, ?, ?) ", after) if after else ("", ())
            bound = self.one(f"SELECT kiosk_id, scope, idem_key FROM idempotency {where}"
                             f"ORDER BY kiosk_id, scope, idem_key LIMIT 1 OFFSET ?", params + (chunk - 1,))
            last = (bound["kiosk_id"], bound["scope"], bound["idem_key"]) if bound else None
            conditions = [f"{columns} > (?, ?, ?)"] if after else []
            if last:
                conditions.append(f"{columns} <= (?, ?, ?)")
            with self.write(durable=False):
                purged += self.execute(
                    "DELETE FROM idempotency WHERE " + " AND ".join(
                        conditions + ["updated_at < ?", "(state = 'done' OR updated_at < ?)"]),
                    (after or ()) + (last or ()) + (cutoff, abandoned)).rowcount
            if last is None:
                return purged
            after = last

    def purge_heartbeats(self, older_than_s: float, now: float | None = None, kiosks_per_commit: int = 200) -> int:
        """Drop heartbeat history samples older than ``older_than_s``; returns how many.  Kiosk by
        kiosk along the primary key (no extra index), a short non-durable transaction per
        ``kiosks_per_commit`` kiosks.  Maintenance only."""
        cutoff = (time.time() if now is None else now) - older_than_s
        kiosks = [r["kiosk_id"] for r in self.all("SELECT kiosk_id FROM kiosks ORDER BY kiosk_id")]
        purged = 0
        for start in range(0, len(kiosks), kiosks_per_commit):
            with self.write(durable=False):
                for kiosk_id in kiosks[start:start + kiosks_per_commit]:
                    purged += self.execute("DELETE FROM heartbeats WHERE kiosk_id = ? AND received_at < ?",
                                           (kiosk_id, cutoff)).rowcount
        return purged
