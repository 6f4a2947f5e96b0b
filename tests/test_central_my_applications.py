"""我的办件 on the reference platform: POST /v1/residents/applications under a presence grant,
over real HTTP (SQLite and PostgreSQL)."""
from __future__ import annotations

from tests.security.conftest import RESIDENT_A, RESIDENT_B, Kiosk, kiosk_a, kiosk_b, platform  # noqa: F401


def test_lists_the_residents_own_applications_newest_first_with_timeline_and_documents(platform, kiosk_a):
    first = kiosk_a.apply(RESIDENT_A)
    second = kiosk_a.apply(RESIDENT_A, service_id="residence-permit-endorsement")
    kiosk_a.apply(RESIDENT_B)  # someone else's: never listed
    grant = kiosk_a.present(RESIDENT_A)
    answer = kiosk_a.call("POST", "/v1/residents/applications", {}, grant=grant)
    assert answer.status_code == 200, answer.text
    listed = answer.json()["applications"]
    assert [a["application_no"] for a in listed] == [second["application_no"], first["application_no"]]
    one = listed[1]
    assert one["service_id"] == "residence-permit-endorsement" and one["status"] == first["status"]
    assert one["expected_completion"] == first["expected_completion"]
    assert one["timeline"][0]["step"] == "received"
    assert first["status"] == "approved"  # 即办件: decided at once, its document printable here
    assert [t["step"] for t in one["timeline"]] == ["received", "approved"]
    assert [d["document_id"] for d in one["documents"]] == [d["document_id"] for d in first["documents"]]
    assert one["documents"][0]["print_token"]
    assert "王秀英" not in answer.text and "13800138000" not in answer.text
    audit = platform.store.all("SELECT target FROM audit_log WHERE action = 'applications listed'")
    assert [a["target"] for a in audit] == ["2 application(s)"]


def test_a_kiosk_token_alone_is_refused_and_audited(platform, kiosk_a):
    kiosk_a.apply(RESIDENT_A)
    answer = kiosk_a.call("POST", "/v1/residents/applications", {"id_number": RESIDENT_A})
    assert answer.status_code == 403 and "residence" not in answer.text
    refused = platform.store.all("SELECT target FROM audit_log WHERE outcome = 'refused'")
    assert any("/v1/residents/applications" in r["target"] for r in refused)


def test_another_kiosks_grant_is_refused(kiosk_a, kiosk_b):
    kiosk_a.apply(RESIDENT_A)
    grant = kiosk_a.present(RESIDENT_A)
    assert kiosk_b.call("POST", "/v1/residents/applications", {}, grant=grant).status_code == 403


def test_a_pickup_grant_lists_only_its_application(kiosk_a, kiosk_b):
    first = kiosk_a.apply(RESIDENT_A)
    kiosk_a.apply(RESIDENT_A)
    grant = kiosk_b.call("POST", "/v1/presence/pickup",
                         {"pickup_code": first["pickup_code"], "id_number": RESIDENT_A}).json()["presence_grant"]
    listed = kiosk_b.call("POST", "/v1/residents/applications", {}, grant=grant).json()["applications"]
    assert [a["application_no"] for a in listed] == [first["application_no"]]


def test_a_printed_document_shows_in_the_timeline_and_is_no_longer_printable(platform, kiosk_a):
    applied = kiosk_a.apply(RESIDENT_A)
    [document] = applied["documents"]
    printed = kiosk_a.call("POST", f"/v1/documents/{document['document_id']}/printed",
                           {"print_token": document["print_token"], "result": "printed"})
    assert printed.status_code == 200, printed.text
    [one] = kiosk_a.call("POST", "/v1/residents/applications", {},
                         grant=kiosk_a.present(RESIDENT_A)).json()["applications"]
    assert [t["step"] for t in one["timeline"]] == ["received", "approved", "printed"]
    assert one["documents"][0]["print_token"] is None and one["documents"][0]["status"] == "printed"
