"""Reference platform behaviour: idempotent intake, 即办件/承诺件, documents and print
tokens, 材料复用 keyed by a hash, enrolment codes, ratings, heartbeats, identity.

Every test runs twice: on SQLite and on PostgreSQL (a real server, the ``central_db``
fixture of conftest.py)."""
from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid

import cv2
import pytest
import requests

from central import admin, idempotency, storage, tokens
from central.testing import run_server
from kiosk.platform import AuthError, FinalError, PlatformClient, RetryableError

ID_NUMBER = "440304194905120026"


def application(service_id="birth-registration", pages=(b"page one",), id_number=ID_NUMBER, form=None):
    return {"service_id": service_id, "applicant": {"name": "王秀英", "id_number": id_number},
            "form": form or {"phone": "13800138000"},
            "materials": [{"id": "marriage-certificate", "name": "结婚证",
                           "pages": [{"sha256": hashlib.sha256(p).hexdigest(),
                                      "content_b64": base64.b64encode(p).decode()} for p in pages]}],
            "delivery": {"method": "self_print"}, "submitted_at": None, "offline": False}


@pytest.fixture
def platform(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as running:
        yield running


@pytest.fixture
def client(platform):
    return PlatformClient(platform.base_url, platform.token, timeout=10)


def face_jpeg(**scene) -> bytes:
    """A frame of the simulated face camera (devices.camera.FaceScene), as the kiosk sends it."""
    from devices.camera_scenes import FaceScene
    frame = FaceScene()
    for name, value in scene.items():  # e.g. faces=0: nobody in front of the camera
        setattr(frame, name, value)
    return cv2.imencode(".jpg", frame.render(1280, 720))[1].tobytes()


def present(client, id_number=ID_NUMBER) -> str:
    """The resident proves presence at the client's kiosk (人证核验): the presence grant."""
    answer = client.verify_identity({"id_number": id_number, "name": "王秀英"}, bytes(1024), face_jpeg())
    assert answer["match"] and answer["presence_grant"]
    return answer["presence_grant"]


def post(platform, path, body, key=None):
    headers = {"Authorization": f"Bearer {platform.token}"}
    if key:
        headers["Idempotency-Key"] = key
    return requests.post(platform.base_url + path, json=body, headers=headers, timeout=10)


def test_same_key_same_body_returns_the_first_response_once(platform):
    key = str(uuid.uuid4())
    first = post(platform, "/v1/applications", application(), key)
    second = post(platform, "/v1/applications", application(), key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert platform.count("applications") == 1 and platform.count("documents") == 1
    other = post(platform, "/v1/applications", application(), str(uuid.uuid4()))
    assert other.json()["application_no"] != first.json()["application_no"]


def test_same_key_different_body_is_422(platform):
    key = str(uuid.uuid4())
    assert post(platform, "/v1/applications", application(), key).status_code == 201
    changed = post(platform, "/v1/applications", application(form={"phone": "13900139000"}), key)
    assert changed.status_code == 422 and "different body" in changed.json()["detail"]
    assert platform.count("applications") == 1


def claim_event(platform, monkeypatch) -> threading.Event:
    """Set once the server (in this process) has claimed a new Idempotency-Key."""
    claimed, real_claim = threading.Event(), platform.store.claim_key

    def claim_key(*args, **kwargs):
        outcome = real_claim(*args, **kwargs)
        if outcome[0] == "new":
            claimed.set()
        return outcome
    monkeypatch.setattr(platform.store, "claim_key", claim_key)
    return claimed


def test_still_processing_is_409_with_retry_after(platform, monkeypatch):
    platform.set_faults(processing_delay_s=1.0)
    key = str(uuid.uuid4())
    results = {}
    claimed = claim_event(platform, monkeypatch)
    first = threading.Thread(target=lambda: results.setdefault("first", post(platform, "/v1/applications",
                                                                             application(), key)))
    first.start()
    assert claimed.wait(10)  # the first request now holds the key in "processing"
    concurrent = post(platform, "/v1/applications", application(), key)
    first.join()
    assert concurrent.status_code == 409 and concurrent.headers["Retry-After"] == "1"
    assert results["first"].status_code == 201
    platform.set_faults()
    assert post(platform, "/v1/applications", application(), key).json() == results["first"].json()
    assert platform.count("applications") == 1


def test_a_crashed_claim_is_taken_over_after_the_lease(platform, monkeypatch):
    key = str(uuid.uuid4())
    body = application()
    from central.schemas import ApplicationRequest
    digest = storage.canonical_hash(ApplicationRequest.model_validate(body).model_dump(mode="json"))
    assert platform.store.claim_key(platform.kiosk_id, "applications", key, digest) == ("new", None)
    assert post(platform, "/v1/applications", body, key).status_code == 409  # held, as if mid-request
    monkeypatch.setattr(idempotency, "PROCESSING_LEASE_S", 0.0)
    time.sleep(0.01)
    assert post(platform, "/v1/applications", body, key).status_code == 201
    assert platform.count("applications") == 1


def test_failed_processing_releases_the_key(platform):
    key = str(uuid.uuid4())
    bad = application()
    bad["materials"][0]["pages"][0]["sha256"] = "0" * 64
    assert post(platform, "/v1/applications", bad, key).status_code == 422
    assert platform.count("applications") == 0
    assert post(platform, "/v1/applications", application(), key).status_code == 201  # key was not burnt


def test_keys_are_scoped_per_kiosk(platform):
    key = str(uuid.uuid4())
    other_token = admin.issue_kiosk_token(platform.store, "other-kiosk")
    assert post(platform, "/v1/applications", application(), key).status_code == 201
    other = requests.post(platform.base_url + "/v1/applications", json=application(form={"x": "y"}), timeout=10,
                          headers={"Authorization": f"Bearer {other_token}", "Idempotency-Key": key})
    assert other.status_code == 201 and platform.count("applications") == 2


def test_immediate_service_issues_a_printable_document(client):
    created = client.create_application(application("residence-permit-endorsement"), str(uuid.uuid4()))
    assert created["status"] == "approved" and created["kind"] == "immediate" and created["promised_days"] == 0
    [document] = created["documents"]
    assert document["status"] == "ready" and document["print_token"]
    data = client.get_document(document["document_id"], None)  # just issued to this kiosk: no grant needed
    assert data["data"]["holder_name"] == "王秀英"
    assert data["data"]["id_number_masked"] == "440304********0026"  # never the birth date
    assert data["data"]["serial"] == created["application_no"]


def test_promised_service_waits_for_an_officer(platform, client):
    created = client.create_application(application("family-planning-certificate"), str(uuid.uuid4()))
    assert created["status"] == "accepted" and created["documents"] == [] and created["promised_days"] == 3
    with pytest.raises(FinalError) as nothing_yet:
        client.grant_by_pickup(created["pickup_code"], ID_NUMBER)
    assert nothing_yet.value.status == 410
    admin.approve_application(platform.store, created["application_no"])
    assert client.application_status(created["application_no"], present(client))["status"] == "approved"
    [document] = client.query_documents(client.grant_by_pickup(created["pickup_code"], ID_NUMBER))
    assert document["title"] == "计划生育情况证明" and document["status"] == "ready"
    with pytest.raises(admin.AdminError, match="already approved"):
        admin.approve_application(platform.store, created["application_no"])


def test_print_token_lifecycle(client):
    document = client.create_application(application(), str(uuid.uuid4()))["documents"][0]
    doc_id, token = document["document_id"], document["print_token"]
    failed = client.report_printed(doc_id, token, "failed", "paper jam")
    assert failed == {"document_id": doc_id, "status": "ready", "print_failures": 1}  # may be printed again
    assert client.report_printed(doc_id, token, "printed")["status"] == "printed"
    assert client.report_printed(doc_id, token, "printed")["status"] == "printed"  # same token: harmless
    grant = present(client)
    [listed] = client.query_documents(grant)
    assert listed["status"] == "printed" and listed["print_token"] is None  # no second print
    with pytest.raises(FinalError) as caught:
        client.report_printed(doc_id, "someone-elses-token", "printed")
    assert caught.value.status == 409
    with pytest.raises(FinalError) as missing:
        client.get_document("no-such-document", grant)
    assert missing.value.status == 404


def test_materials_are_reused_and_keyed_by_a_hash_not_the_id_number(platform, client, central_db):
    assert client.reusable_materials(present(client)) == []
    client.create_application(application(pages=(b"scan 1", b"scan 2")), str(uuid.uuid4()))
    [material] = client.reusable_materials(present(client, ID_NUMBER.lower()))
    assert material["material_id"] == "marriage-certificate" and material["name"] == "结婚证"
    assert client.reusable_materials(present(client, "11010519491231002X")) == []
    assert platform.store.one("SELECT pages FROM materials")["pages"] == 2
    db_bytes = b"".join(p.read_bytes() for p in central_db.files())
    assert material["name"].encode() in db_bytes  # the files searched do hold the application
    assert ID_NUMBER.encode() not in db_bytes  # not in materials, applications or documents
    assert "440304********0026".encode() not in db_bytes  # sealed (tests/security/test_platform_data.py)
    stored_key = platform.store.one("SELECT resident_key FROM materials")["resident_key"]
    assert stored_key != hashlib.sha256(ID_NUMBER.encode()).hexdigest()  # keyed (HMAC), not a bare hash


def test_ratings_flag_bad_ones_and_link_by_application_key(platform, client):
    key = str(uuid.uuid4())
    created = client.create_application(application(), key)
    good = client.rate({"application_no": created["application_no"], "level": 5}, str(uuid.uuid4()))
    bad = client.rate({"application_key": key, "level": 2, "comment": "等太久"}, str(uuid.uuid4()))
    unlinked = client.rate({"application_key": "never-sent", "level": 1}, str(uuid.uuid4()))
    assert not good["follow_up"] and bad["follow_up"] and bad["application_no"] == created["application_no"]
    assert unlinked["linked"] is False and unlinked["follow_up"]
    with pytest.raises(FinalError):
        client.rate({"level": 6}, str(uuid.uuid4()))
    assert platform.count("ratings") == 3


def test_appeals_are_idempotent(platform, client):
    key = str(uuid.uuid4())
    body = {"category": "complaint", "text": "自助机打印机经常缺纸", "contact_phone": "13800138000"}
    assert client.appeal(body, key) == client.appeal(body, key)
    assert platform.count("appeals") == 1
    with pytest.raises(FinalError):
        client.appeal({**body, "contact_phone": "12345"}, str(uuid.uuid4()))


def test_enrolment_codes(platform):
    anonymous = PlatformClient(platform.base_url, timeout=10)
    code = admin.create_enroll_code(platform.store, region="350102")
    enrolled = anonymous.enroll(code.lower(), kiosk_id="taijiang-07", hostname="k07")
    assert enrolled["kiosk_id"] == "taijiang-07" and enrolled["region"] == "350102"
    assert anonymous.token == enrolled["token"]
    assert anonymous.heartbeat({"kiosk_id": "taijiang-07", "version": "1", "uptime_s": 5})["server_time"]
    stored = platform.store.one("SELECT token_hash FROM kiosks WHERE kiosk_id = 'taijiang-07'")["token_hash"]
    assert stored == storage.token_hash(enrolled["token"]) and enrolled["token"] not in stored
    with pytest.raises(FinalError) as used:
        PlatformClient(platform.base_url).enroll(code)
    assert used.value.status == 410
    with pytest.raises(AuthError) as unknown:
        PlatformClient(platform.base_url).enroll("AAAA-BBBB-CC")
    assert unknown.value.status == 403
    expired = admin.create_enroll_code(platform.store, ttl_s=-1)
    with pytest.raises(FinalError) as caught:
        PlatformClient(platform.base_url).enroll(expired)
    assert caught.value.status == 410
    tokens.revoke(platform.store, "taijiang-07")
    with pytest.raises(AuthError):
        anonymous.heartbeat({"kiosk_id": "taijiang-07", "version": "1", "uptime_s": 5})


def test_fleet_lists_what_needs_attention_first(platform, client):
    tokens = {k: admin.issue_kiosk_token(platform.store, k) for k in ("k-fine", "k-paper", "k-dead", "k-fault")}
    beats = {
        "k-fine": {}, "k-paper": {"devices": {"receipt_printer": {"state": "WARNING", "reason": "paper near end",
                                                                  "code": "paper_near_end"}}},
        "k-dead": {"queue": {"depth": 4, "dead": 2}},
        "k-fault": {"devices": {"id_reader": {"state": "FAULT", "reason": "SAM self-test failed", "code": "sam_60"}}},
    }
    for kiosk_id, extra in beats.items():
        PlatformClient(platform.base_url, tokens[kiosk_id]).heartbeat(
            {"kiosk_id": kiosk_id, "version": "0.1", "uptime_s": 10, **extra})
    order = [k.kiosk_id for k in admin.fleet(platform.store)]
    assert order[:3] == ["k-fault", "k-paper", "k-dead"]
    silent = {k.kiosk_id: k for k in admin.fleet(platform.store, now=time.time() + 3600)}
    assert any("silent" in p for p in silent["k-fine"].problems)
    assert "never sent a heartbeat" in silent[platform.kiosk_id].problems


def test_identity_reference_matcher(client):
    from devices.camera_scenes import FaceScene
    scene = FaceScene()
    card = {"id_number": ID_NUMBER, "name": "王秀英"}

    def jpeg():
        return cv2.imencode(".jpg", scene.render(1280, 720))[1].tobytes()
    good = client.verify_identity(card, bytes(1024), jpeg())
    assert good["match"] and good["score"] >= 0.6 and good["verification_id"]
    scene.faces = 0
    assert client.verify_identity(card, bytes(1024), jpeg())["match"] is False
    scene.faces, scene.blur = 1, 31
    blurred = client.verify_identity(card, bytes(1024), jpeg())
    assert not blurred["match"] and blurred["score"] < good["score"]
    scene.blur = 0
    wrong_wlt = client.verify_identity(card, b"short", jpeg())
    assert not wrong_wlt["match"] and "1024" in wrong_wlt["reason"]
    assert client.verify_identity(card, None, b"not a jpeg")["match"] is False


def test_menu_is_stored_as_published(platform, client):
    etag = admin.publish_menu(platform.store, b"\x00signed-bundle-bytes")
    body, got = client.get_menu()
    assert body == b"\x00signed-bundle-bytes" and got == etag
    assert admin.publish_menu(platform.store, b"\x00signed-bundle-bytes") == etag  # same bytes, same ETag


def test_unknown_service_is_accepted_for_manual_review(client):
    created = client.create_application(application("brand-new-service"), str(uuid.uuid4()))
    assert created["status"] == "accepted" and created["kind"] == "promised" and created["promised_days"] == 5


def test_auth_is_required_everywhere_but_enrol(platform):
    for method, path in [("GET", "/v1/menu"), ("POST", "/v1/applications"), ("POST", "/v1/heartbeat"),
                         ("POST", "/v1/documents/query"), ("GET", "/v1/applications/x")]:
        response = requests.request(method, platform.base_url + path, json={}, timeout=10)
        assert response.status_code == 401, path
    with pytest.raises(RetryableError):  # sanity: faults also reach the enrol path
        platform.set_faults(fail_next=1)
        PlatformClient(platform.base_url).enroll("AAAA-BBBB-CC")
