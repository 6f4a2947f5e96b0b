"""Tables of the platform's trust model: kiosk tokens, presence grants, print releases, rate
limits and the audit log (docs/security.md).

All of it lives in the database, never in a worker's memory, so it holds when the platform runs as
several worker processes.  Resident keys here are the keyed hash of the ID number
(``Store.resident_key``), never the number.  Registered by :data:`central.schema.SCHEMA`.
"""

TRUST_SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosk_tokens (
    token_hash TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL,
    superseded_at REAL, first_used_at REAL);
CREATE INDEX IF NOT EXISTS kiosk_tokens_by_kiosk ON kiosk_tokens (kiosk_id);
CREATE TABLE IF NOT EXISTS presence_grants (
    grant_hash TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, resident_key TEXT NOT NULL, application_no TEXT,
    basis TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS presence_grants_by_kiosk ON presence_grants (kiosk_id);
CREATE TABLE IF NOT EXISTS print_releases (
    document_id TEXT NOT NULL, kiosk_id TEXT NOT NULL, via TEXT NOT NULL, released_at REAL NOT NULL,
    PRIMARY KEY (document_id, kiosk_id));
CREATE TABLE IF NOT EXISTS rate_limits (
    scope TEXT NOT NULL, subject TEXT NOT NULL, window_start REAL NOT NULL, failures INTEGER NOT NULL,
    locked_until REAL, source TEXT, PRIMARY KEY (scope, subject));
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id TEXT PRIMARY KEY, at REAL NOT NULL, kiosk_id TEXT NOT NULL, resident_key TEXT,
    action TEXT NOT NULL, target TEXT, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at);
"""
