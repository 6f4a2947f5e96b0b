"""The help requests' table (central.help): created when a database is opened, no migration.
Registered by :data:`central.schema.SCHEMA`; it names kiosks and screens, never residents."""

HELP_SCHEMA = """
CREATE TABLE IF NOT EXISTS help_requests (
    request_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, screen TEXT NOT NULL, centre TEXT,
    requested_at TEXT, received_at REAL NOT NULL, acknowledged_at REAL, acknowledged_by TEXT);
CREATE INDEX IF NOT EXISTS help_requests_by_time ON help_requests (received_at);
"""
