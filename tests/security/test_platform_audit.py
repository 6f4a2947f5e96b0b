"""Issue 11.1 (audit): every read of a resident's data is recorded -- kiosk, resident key, what,
when -- in the database, refused ones too; `central audit` lists them.  Never the ID number."""
from __future__ import annotations

from tests.security.conftest import RESIDENT_A
from tests.test_central_cli import central


def test_every_read_of_a_residents_data_is_audited(platform, central_db, kiosk_a, kiosk_b):
    applied = kiosk_a.apply(RESIDENT_A)
    document_id = applied["documents"][0]["document_id"]
    grant = kiosk_b.present(RESIDENT_A)
    kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant)
    kiosk_b.call("GET", f"/v1/documents/{document_id}", grant=grant)
    kiosk_b.call("GET", f"/v1/applications/{applied['application_no']}", grant=grant)
    kiosk_b.call("POST", "/v1/residents/materials", {}, grant=grant)
    kiosk_b.call("GET", f"/v1/documents/{document_id}")  # refused: no grant
    rows = platform.store.all("SELECT kiosk_id, resident_key, action, target, outcome, at FROM audit_log "
                              "WHERE kiosk_id = 'kiosk-b' ORDER BY at")
    actions = [(r["action"], r["outcome"]) for r in rows]
    assert actions == [("identity check", "granted"), ("documents listed", "allowed"), ("document read", "allowed"),
                       ("application status", "allowed"), ("materials on record", "allowed"),
                       ("read refused", "refused")]
    resident_key = platform.store.resident_key(RESIDENT_A)
    assert {r["resident_key"] for r in rows[:-1]} == {resident_key} and all(r["at"] > 0 for r in rows)
    listing = central(central_db, "audit", "--kiosk", "kiosk-b")
    assert listing.returncode == 0 and f"document read {document_id}" in listing.stdout
    assert resident_key[:12] in listing.stdout and RESIDENT_A not in listing.stdout
    assert "kiosk-a" not in central(central_db, "audit", "--kiosk", "kiosk-b").stdout.split("\n", 1)[1]
