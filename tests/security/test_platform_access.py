"""Issue 11.1: a kiosk token alone reveals nothing about any resident; reads need a presence grant
issued to that kiosk for that resident; 通办通取 still works through proof of presence."""
from __future__ import annotations

import pytest

from tests.security.conftest import RESIDENT_A, RESIDENT_B


def test_another_kiosks_token_reads_nothing_of_a_resident(kiosk_a, kiosk_b):
    """The review's attack: kiosk B's token on A's resident's application, documents, materials."""
    applied = kiosk_a.apply(RESIDENT_A)
    [document] = applied["documents"]
    status = kiosk_b.call("GET", f"/v1/applications/{applied['application_no']}")
    assert status.status_code in (403, 404) and applied["pickup_code"] not in status.text
    by_number = kiosk_b.call("POST", "/v1/documents/query", {"id_number": RESIDENT_A})
    by_code = kiosk_b.call("POST", "/v1/documents/query", {"pickup_code": applied["pickup_code"]})
    for answer in (by_number, by_code):
        assert answer.status_code == 403 and document["print_token"] not in answer.text
    read = kiosk_b.call("GET", f"/v1/documents/{document['document_id']}")
    assert read.status_code == 403 and "王秀英" not in read.text
    materials = kiosk_b.call("POST", "/v1/residents/materials", {"id_number": RESIDENT_A})
    assert materials.status_code == 403 and "户口簿" not in materials.text


def test_another_kiosk_cannot_mark_a_residents_licence_printed(platform, kiosk_a, kiosk_b):
    [document] = kiosk_a.apply(RESIDENT_A)["documents"]
    marked = kiosk_b.call("POST", f"/v1/documents/{document['document_id']}/printed",
                          {"print_token": document["print_token"], "result": "printed"})
    assert marked.status_code == 403
    row = platform.store.one("SELECT status FROM documents WHERE document_id = ?", (document["document_id"],))
    assert row["status"] == "ready"  # the resident can still print it


def test_a_grant_works_only_at_its_kiosk_and_for_its_resident(kiosk_a, kiosk_b):
    [mine] = kiosk_a.apply(RESIDENT_A)["documents"]
    [theirs] = kiosk_a.apply(RESIDENT_B)["documents"]
    grant = kiosk_a.present(RESIDENT_A)
    listed = kiosk_a.call("POST", "/v1/documents/query", {}, grant=grant).json()["documents"]
    assert [d["document_id"] for d in listed] == [mine["document_id"]]
    assert kiosk_a.call("GET", f"/v1/documents/{theirs['document_id']}", grant=grant).status_code == 404
    assert kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 403  # not B's grant


def test_a_grant_expires(platform, kiosk_a):
    kiosk_a.apply(RESIDENT_A)
    grant = kiosk_a.present(RESIDENT_A)
    assert kiosk_a.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 200
    with platform.store.write():
        platform.store.execute("UPDATE presence_grants SET expires_at = 0")
    assert kiosk_a.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 403


def test_a_failed_identity_check_grants_nothing(kiosk_a):
    kiosk_a.apply(RESIDENT_A)
    answer = kiosk_a.verify(RESIDENT_A, faces=0).json()
    assert answer["match"] is False and answer["presence_grant"] is None


def test_tongban_tongqu_apply_at_a_print_at_b_after_proving_presence_at_b(platform, kiosk_a, kiosk_b):
    """通办通取 through two kiosk identities: applied at A; at B the resident proves presence (card
    and face, or the receipt's pickup code with the card) and B prints and reports it."""
    applied = kiosk_a.apply(RESIDENT_A)
    [document] = applied["documents"]
    wrong_card = kiosk_b.call("POST", "/v1/presence/pickup",
                              {"pickup_code": applied["pickup_code"], "id_number": RESIDENT_B})
    assert wrong_card.status_code == 404
    grant = kiosk_b.call("POST", "/v1/presence/pickup",
                         {"pickup_code": applied["pickup_code"], "id_number": RESIDENT_A}).json()["presence_grant"]
    [listed] = kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).json()["documents"]
    assert listed["document_id"] == document["document_id"] and listed["print_token"]
    data = kiosk_b.call("GET", f"/v1/documents/{document['document_id']}", grant=grant)
    assert data.status_code == 200 and data.json()["data"]["holder_name"] == "王秀英"
    printed = kiosk_b.call("POST", f"/v1/documents/{document['document_id']}/printed",
                           {"print_token": listed["print_token"], "result": "printed"})
    assert printed.status_code == 200 and printed.json()["status"] == "printed"
    row = platform.store.one("SELECT printed_by FROM documents WHERE document_id = ?", (document["document_id"],))
    assert row["printed_by"] == "kiosk-b"
    # collected: the pickup code is spent
    again = kiosk_b.call("POST", "/v1/presence/pickup", {"pickup_code": applied["pickup_code"], "id_number": RESIDENT_A})
    assert again.status_code == 410
    # and by card + face at B, the same resident sees the document (printed: no token any more)
    [seen] = kiosk_b.call("POST", "/v1/documents/query", {}, grant=kiosk_b.present(RESIDENT_A)).json()["documents"]
    assert seen["status"] == "printed" and seen["print_token"] is None


def test_a_pickup_grant_covers_its_application_only(kiosk_a, kiosk_b):
    first, second = kiosk_a.apply(RESIDENT_A), kiosk_a.apply(RESIDENT_A)
    grant = kiosk_b.call("POST", "/v1/presence/pickup",
                         {"pickup_code": first["pickup_code"], "id_number": RESIDENT_A}).json()["presence_grant"]
    listed = kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).json()["documents"]
    assert [d["application_no"] for d in listed] == [first["application_no"]]
    other = second["documents"][0]["document_id"]
    assert kiosk_b.call("GET", f"/v1/documents/{other}", grant=grant).status_code == 404
    assert kiosk_b.call("POST", "/v1/residents/materials", {}, grant=grant).status_code == 403


def test_a_pickup_code_expires_after_its_time(platform, kiosk_a, kiosk_b):
    applied = kiosk_a.apply(RESIDENT_A)
    with platform.store.write():
        platform.store.execute("UPDATE documents SET created_at = 0")
    late = kiosk_b.call("POST", "/v1/presence/pickup", {"pickup_code": applied["pickup_code"], "id_number": RESIDENT_A})
    assert late.status_code == 410


def test_application_numbers_are_not_enumerable(kiosk_a):
    numbers = [kiosk_a.apply(RESIDENT_A)["application_no"] for _ in range(3)]
    assert all(int(later) - int(earlier) != 1 for earlier, later in zip(numbers, numbers[1:]))
    assert len({n[-5:] for n in numbers}) == 3 and all(len(n) == 24 for n in numbers)  # a random tail


@pytest.mark.parametrize("path", ["/v1/applications/{no}", "/v1/documents/{doc}"])
def test_walking_record_ids_locks_the_kiosk_out(kiosk_a, kiosk_b, path):
    applied = kiosk_a.apply(RESIDENT_A)
    real = path.format(no=applied["application_no"], doc=applied["documents"][0]["document_id"])
    statuses = [kiosk_b.call("GET", path.format(no=f"44030420261203{n:06d}", doc=f"{n:032x}")).status_code
                for n in range(40)]
    assert 429 in statuses[:25]
    assert kiosk_b.call("GET", real, grant=kiosk_b.present(RESIDENT_A)).status_code == 429  # locked, even so


def test_contact_details_on_record_need_the_residents_identity_grant_at_this_kiosk(kiosk_a, kiosk_b):
    """材料复用 of contact details (issue 14): the phone a resident gave is read back only under an
    identity grant for that resident at the kiosk it was issued to."""
    applied = kiosk_a.apply(RESIDENT_A)                       # the form carries 13800138000
    kiosk_a.apply(RESIDENT_B)
    assert kiosk_b.call("POST", "/v1/residents/contact", {}).status_code == 403
    grant = kiosk_a.present(RESIDENT_A)
    stolen = kiosk_b.call("POST", "/v1/residents/contact", {}, grant=grant)   # A's grant at kiosk B
    assert stolen.status_code == 403 and "13800138000" not in stolen.text
    pickup = kiosk_b.call("POST", "/v1/presence/pickup",
                          {"pickup_code": applied["pickup_code"], "id_number": RESIDENT_A}).json()["presence_grant"]
    by_pickup = kiosk_b.call("POST", "/v1/residents/contact", {}, grant=pickup)
    assert by_pickup.status_code == 403 and "13800138000" not in by_pickup.text
    mine = kiosk_a.call("POST", "/v1/residents/contact", {}, grant=grant)
    assert mine.status_code == 200 and mine.json()["phone"] == "13800138000"
