"""Issue 11.2, data at rest: a copy of the platform's database alone reveals no resident.

Each test runs on SQLite and on PostgreSQL (the ``central_db`` fixture) unless it is about files
only SQLite has.  The database files are read as bytes, the way someone holding a copy would.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import uuid

import pytest
import requests

from central.storage import Store
from central.testing import run_server

ID_NUMBER = "440304194905120026"
BIRTH_DATE = "19490512"
NAME = "欧阳明月"
CARD_ADDRESS = "广东省深圳市福田区华富街道莲花一村十二栋"
FORM_ADDRESS = "深圳市福田区景田北路丰泽湖山庄"
PHONE = "13912345678"
APPEAL_TEXT = "楼下餐馆油烟扰民已三个月请尽快处理"
APPEAL_PHONE = "13712345679"
RATING_COMMENT = "窗口人员态度恶劣不耐烦"
PAGE = b"\x89PNG-scan-of-hukou-register-page-0042"
SECRETS = {"name": NAME, "id number": ID_NUMBER, "card address": CARD_ADDRESS, "form address": FORM_ADDRESS,
           "phone": PHONE, "appeal text": APPEAL_TEXT, "appeal phone": APPEAL_PHONE, "rating": RATING_COMMENT}


def application(service_id: str = "birth-registration") -> dict:
    """What a kiosk sends: the card's fields (birth date and address included), a form, a scan."""
    return {"service_id": service_id,
            "applicant": {"name": NAME, "id_number": ID_NUMBER, "card_type": "resident", "sex": "女",
                          "birth_date": BIRTH_DATE, "address": CARD_ADDRESS},
            "form": {"phone": PHONE, "address": FORM_ADDRESS},
            "materials": [{"id": "household-register", "name": "户口簿",
                           "pages": [{"sha256": hashlib.sha256(PAGE).hexdigest(),
                                      "content_b64": base64.b64encode(PAGE).decode()}]}],
            "delivery": {"method": "courier", "address": FORM_ADDRESS, "phone": PHONE},
            "submitted_at": None, "offline": False}


def post(platform, path: str, body: dict) -> dict:
    reply = requests.post(platform.base_url + path, json=body, timeout=10, headers={
        "Authorization": f"Bearer {platform.token}", "Idempotency-Key": str(uuid.uuid4())})
    assert reply.status_code == 201, reply.text
    return reply.json()


def forms_of(text: str) -> list[bytes]:
    """The ways a value may sit in a file: UTF-8, JSON-escaped ASCII, base64 (not split)."""
    return [text.encode(), json.dumps(text)[1:-1].encode(), base64.b64encode(text.encode())]


def intake_everything(platform) -> dict:
    created = post(platform, "/v1/applications", application())
    post(platform, "/v1/appeals", {"category": "complaint", "text": APPEAL_TEXT, "contact_phone": APPEAL_PHONE})
    post(platform, "/v1/ratings", {"application_no": created["application_no"], "level": 1,
                                   "comment": RATING_COMMENT})
    return created


def test_a_copy_of_the_database_reveals_no_resident(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        created = intake_everything(platform)
        [document] = created["documents"]
        # Through the API the platform still knows what the licence needs.
        data = requests.get(f"{platform.base_url}/v1/documents/{document['document_id']}", timeout=10,
                            headers={"Authorization": f"Bearer {platform.token}"}).json()["data"]
        assert data["holder_name"] == NAME and data["id_number_masked"] == "440304********0026"
        assert data["fields"] == {"phone": PHONE, "address": FORM_ADDRESS}
        copy = b"".join(p.read_bytes() for p in central_db.files())
        assert created["application_no"].encode() in copy  # the files searched do hold the records
        leaked = [what for what, value in SECRETS.items() if any(form in copy for form in forms_of(value))]
        assert leaked == []
        assert PAGE not in copy and base64.b64encode(PAGE) not in copy
        assert "440304********0026".encode() not in copy  # the masked number is the holder's too


def test_the_applicant_record_keeps_no_birth_date_or_address(central_db):
    """First 6 + last 4 digits beside the birth date are the whole ID number."""
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        created = post(platform, "/v1/applications", application("elderly-card"))
        copy = b"".join(p.read_bytes() for p in central_db.files())
        assert not any(form in copy for form in forms_of(BIRTH_DATE))
        assert b"birth_date" not in copy
        record = platform.store.record("applications", created["application_no"])
        assert record["applicant"] == {"name": NAME, "card_type": "resident",
                                       "id_number_masked": "440304********0026"}


def test_sealed_values_are_bound_to_their_row(central_db):
    """Swapping two residents' sealed applicant fields between rows is detected, not served."""
    from central import sealing
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        first = post(platform, "/v1/applications", application("elderly-card"))["application_no"]
        second = post(platform, "/v1/applications", application("elderly-card"))["application_no"]
        store = platform.store
        sealed = store.one("SELECT applicant FROM applications WHERE application_no = ?", (first,))["applicant"]
        with store.write():
            store.execute("UPDATE applications SET applicant = ? WHERE application_no = ?", (sealed, second))
        with pytest.raises(sealing.SecretFileError, match="does not decrypt"):
            store.record("applications", second)


def test_the_key_lives_outside_the_database_and_must_be_the_right_one(central_db, tmp_path):
    from central import sealing
    store = Store(central_db.db, central_db.pepper)
    store.close()
    key_file = central_db.pepper.with_suffix(".key")
    key = key_file.read_bytes()
    assert len(bytes.fromhex(key.decode())) == 32
    copy = b"".join(p.read_bytes() for p in central_db.files())
    assert key.strip() not in copy and bytes.fromhex(key.decode()) not in copy
    with pytest.raises(sealing.SecretFileError, match="missing"):
        Store(central_db.db, central_db.pepper, key_path=tmp_path / "lost.key")
    assert not (tmp_path / "lost.key").exists()  # no new key made for an existing database
    (tmp_path / "other.key").write_text("11" * 32)
    with pytest.raises(sealing.SecretFileError, match="does not belong"):
        Store(central_db.db, central_db.pepper, key_path=tmp_path / "other.key")


def test_database_and_secret_files_are_created_0600_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        with run_server(tmp_path / "central.db") as platform:
            intake_everything(platform)
            files = sorted(p.name for p in tmp_path.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        os.umask(previous)
    assert {"central.db", "central.db-wal", "central.db-shm", "central.pepper", "central.key"} <= set(files)
    assert modes == dict.fromkeys(files, 0o600)


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    Store(tmp_path / "central.db").close()
    os.chmod(tmp_path / "central.db", 0o644)
    Store(tmp_path / "central.db").close()
    assert stat.S_IMODE((tmp_path / "central.db").stat().st_mode) == 0o600


def test_the_cli_takes_the_key_file_from_an_option_or_the_environment(tmp_path, monkeypatch):
    from central import cli
    elsewhere = tmp_path / "secrets" / "central.key"
    assert cli.main(["--db", str(tmp_path / "central.db"), "--key-file", str(elsewhere), "kiosk-token", "k1"]) == 0
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600 and not (tmp_path / "central.key").exists()
    assert cli.main(["--db", str(tmp_path / "central.db"), "kiosks"]) == 2  # the default path holds no key
    monkeypatch.setenv("CENTRAL_KEY", str(elsewhere))
    assert cli.main(["--db", str(tmp_path / "central.db"), "kiosks"]) == 0
