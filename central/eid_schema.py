"""The table of e-ID codes already used (central.eid): single use across worker processes."""

EID_SCHEMA = """
CREATE TABLE IF NOT EXISTS eid_codes_used (
    code_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, used_at REAL NOT NULL, expires_at REAL NOT NULL);
"""
