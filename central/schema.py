"""The platform's tables and their versions: a database made by an older platform is migrated
forward when it is opened (:func:`migrate`), one step per version, in one transaction.

Versions (kept in ``settings.schema_version``; a database without one is version 1 if it was
used -- it has a pepper check -- else new):

1. the first schema: residents' fields in plain text, the applicant with the card's birth date
   and address;
2. residents' fields sealed with the data key (:mod:`central.records`), the applicant reduced
   to name, card type and masked ID number.  The tables are those of version 1.
"""
from __future__ import annotations

import json

from central.records import APPLICANT_FIELDS, SEALED
from central.eid_schema import EID_SCHEMA
from central.help_schema import HELP_SCHEMA
from central.supplement_schema import SUPPLEMENT_SCHEMA
from central.trust_schema import TRUST_SCHEMA

SCHEMA_VERSION = 2

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
""" + TRUST_SCHEMA + HELP_SCHEMA + EID_SCHEMA + SUPPLEMENT_SCHEMA  # tokens, grants, releases, rate limits,
# audit, help, e-ID codes used, supplements (边办边补): tables of their own, no migration


class SchemaError(RuntimeError):
    """The database cannot be used by this platform (newer than it knows)."""


def _seal_plain_records(store) -> None:
    """1 -> 2: seal every resident's field in place; keep only what each use needs of the applicant."""
    for table, spec in SEALED.items():
        for row in store.all(f"SELECT {', '.join(spec.key + tuple(spec.columns))} FROM {table}"):
            values = dict(row)
            for column, codec in spec.columns.items():
                if codec == "json" and values[column] is not None:
                    values[column] = json.loads(values[column])
            if table == "applications":
                old = values["applicant"]
                values["applicant"] = {name: old[name] for name in (*APPLICANT_FIELDS, "id_number_masked")
                                       if old.get(name) is not None}
            sealed = store.sealed_row(table, values)
            assignments = ", ".join(f"{column} = ?" for column in spec.columns)
            where = " AND ".join(f"{name} = ?" for name in spec.key)
            store.execute(f"UPDATE {table} SET {assignments} WHERE {where}",
                          tuple(sealed[c] for c in spec.columns) + tuple(values[k] for k in spec.key))


MIGRATIONS = {1: _seal_plain_records}  # from version N to N + 1


def migrate(store, used_before: bool) -> bool:
    """Bring the database to :data:`SCHEMA_VERSION`; True if it changed anything.  ``used_before``:
    the database already had a pepper check (a database without a version is then version 1)."""
    with store.write():
        if store.dialect.schema_lock:  # another process may be migrating the same database
            store.execute(store.dialect.schema_lock)
        version = store.get_setting("schema_version")
        if version is None:
            version = 1 if used_before else SCHEMA_VERSION
        if version > SCHEMA_VERSION:
            raise SchemaError(f"the database has schema {version}, newer than this platform's {SCHEMA_VERSION}: "
                              "run the platform version that wrote it, or a newer one")
        migrated = version < SCHEMA_VERSION
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](store)
        store.execute("INSERT INTO settings (name, value) VALUES ('schema_version', ?) "
                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (json.dumps(SCHEMA_VERSION),))
    return migrated
