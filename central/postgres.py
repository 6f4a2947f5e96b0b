"""The PostgreSQL dialect of the reference platform's storage (psycopg 3).

Selected by a URL instead of a file: ``central --db postgresql://central@db.example/central
--pepper-file /etc/central/pepper serve``.  What differs from SQLite:

* parameters: statements are written with ``?``; they become ``%s`` here (once per statement
  text, cached; a literal ``%`` is doubled);
* types: SQLite's ``REAL`` timestamps become ``DOUBLE PRECISION`` (PostgreSQL's ``real`` is a
  4-byte float: epoch seconds would lose minutes), ``BLOB`` becomes ``BYTEA``, ``INTEGER``
  becomes ``BIGINT`` (SQLite integers are 64-bit);
* write transactions: plain ``BEGIN`` (READ COMMITTED) and no process-wide write lock.  Where
  the SQLite code relied on ``BEGIN IMMEDIATE`` holding the only write lock -- a read whose
  row the transaction then changes (an idempotency claim being taken over, an enrolment code
  being used, an application being approved, a print being reported) -- the read carries
  ``FOR UPDATE`` (``Store.one_for_update``), so a concurrent transaction waits and then sees
  the change.  An idempotency key is also held with a transaction-scoped advisory lock while
  it is claimed or recorded by a batch (a key with no row yet cannot be locked ``FOR
  UPDATE``), so a claim waits for a batch recording the same key and then replays it.
  Inserts race safely through ``ON CONFLICT`` and unique keys, and the gap-free counters are
  single-row upserts (the row lock orders them);
* durability: commits that may be lost harmlessly run ``SET LOCAL synchronous_commit = off``
  (the WAL is flushed shortly after; nothing is ever half-applied);
* rows come back as dicts; ``BYTEA`` as ``bytes``;
* text: PostgreSQL cannot hold U+0000 in ``text``; SQLite can, and the contract accepts any
  string, so a NUL character in a plain text column (a material's name, a kiosk's hostname)
  is stored as U+FFFD (the replacement character) instead of refusing the request for it;
  residents' sealed texts (central.records) are ciphertext and keep it.  Any other value PostgreSQL cannot store (a
  number out of range) raises :class:`central.dialect.DataRejected` (the API answers 422)
  instead of a 500;
* a connection broken by a server restart is dropped after the error, and the next
  statement on that thread connects again.

The schema is created (``IF NOT EXISTS``) and migrated under a transaction-scoped advisory
lock, so several ``central`` processes may start against one new (or old) database at once.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg.types.string import StrDumperUnknown

from central.dialect import DataRejected, Dialect

SCHEMA_LOCK = 0x63656E74  # "cent": advisory lock held while the schema is created

_TYPES = {"REAL": "DOUBLE PRECISION", "BLOB": "BYTEA", "INTEGER": "BIGINT"}
_TYPE_WORDS = re.compile(r"\b(REAL|BLOB|INTEGER)\b")
_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|%")


def translate_schema(schema: str) -> str:
    """SQLite column types -> PostgreSQL ones (the schema uses them only as types)."""
    return _TYPE_WORDS.sub(lambda m: _TYPES[m.group(1)], schema)


def to_pyformat(sql: str) -> str:
    """``?`` -> ``%s`` outside string literals; every literal ``%`` -> ``%%``."""
    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")  # a quoted literal: its ? stays, its % is escaped
    return _TOKENS.sub(replace, sql)


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0] + ":***"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{netloc[1]}"))


class NulSafeStrDumper(StrDumperUnknown):
    """psycopg's default str dumper, storing U+0000 as U+FFFD instead of raising DataError."""

    def dump(self, obj: str):
        if "\x00" in obj:
            obj = obj.replace("\x00", "\ufffd")
        return obj.encode(self._encoding)


class PostgresDialect(Dialect):
    name = "postgresql"
    begin_write = "BEGIN"
    begin_write_nondurable = "BEGIN; SET LOCAL synchronous_commit = off"
    for_update = " FOR UPDATE"
    process_write_lock = False
    key_lock = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"
    schema_lock = f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"
    errors = (psycopg.Error,)

    def __init__(self, url: str):
        self.url = url
        self._sql: dict[str, str] = {}

    def connect(self):
        conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, application_name="central")
        conn.adapters.register_dumper(str, NulSafeStrDumper)
        return conn

    def prepare(self) -> None:
        """Nothing to do: the server keeps its files private."""

    def set_durable(self, conn, durable: bool) -> None:
        """Nothing to do: ``begin_write_nondurable`` sets it for one transaction."""

    def sql(self, text: str) -> str:
        translated = self._sql.get(text)
        if translated is None:
            translated = self._sql[text] = to_pyformat(text)
        return translated

    def init_schema(self, conn, schema: str) -> None:
        # One simple-protocol script runs as one transaction: the lock is held until its end.
        conn.execute(f"{self.schema_lock};\n" + translate_schema(schema))

    def scrub(self, conn) -> None:
        """Nothing that helps: VACUUM frees dead row versions without erasing them, and the WAL
        (and any base backup) keeps what was written before -- see docs/security.md."""

    def is_broken(self, conn) -> bool:
        return bool(conn.broken or conn.closed)

    def translate_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, psycopg.DataError):
            # The class name only: a server message may quote the value (residents' data).
            return DataRejected(f"a value cannot be stored ({type(exc).__name__})")
        return exc

    def describe(self) -> str:
        return redact_url(self.url)
