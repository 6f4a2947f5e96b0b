"""The tables of 边办边补 (central.supplements): new tables, so no migration step."""

SUPPLEMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS supplements_owed (
    application_no TEXT NOT NULL, material_id TEXT NOT NULL, name TEXT NOT NULL, deadline TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, received_at REAL, received_from TEXT, decided_at REAL,
    PRIMARY KEY (application_no, material_id));
CREATE TABLE IF NOT EXISTS supplement_releases (
    application_no TEXT NOT NULL, kiosk_id TEXT NOT NULL, released_at REAL NOT NULL,
    PRIMARY KEY (application_no, kiosk_id));
"""
