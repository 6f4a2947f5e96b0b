"""边办边补 on the reference platform (SQLite and PostgreSQL, real HTTP): skipped secondary
materials are owed by the menu's deadline; handed in later, exactly once, from a kiosk that showed
the resident the owed list under their presence grant; past the deadline or no longer needed gets
its own outcome; an officer accepts or rejects with a reason (``central applications supplement``)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

from central import services
from tests.security.conftest import RESIDENT_A, Kiosk, kiosk_a, kiosk_b, platform  # noqa: F401
from tests.test_central_cli import central

SCAN = b"scan of a residence permit"
PERMIT = "深圳经济特区居住证（非深圳户籍申请人提交）"   # the sample menu's name of material residence-permit


def apply_skipping(kiosk: Kiosk, skipped: list[str], service_id: str = "elderly-card") -> dict:
    page = b"scan of a household register"
    body = {"service_id": service_id, "applicant": {"name": "王秀英", "id_number": RESIDENT_A},
            "form": {"phone": "13800138000"},
            "materials": [{"id": "household-register", "name": "户口簿",
                           "pages": [{"sha256": hashlib.sha256(page).hexdigest(),
                                      "content_b64": base64.b64encode(page).decode()}]}],
            "delivery": {"method": "pickup"}, "submitted_at": None, "offline": False, "skipped": skipped}
    answer = kiosk.call("POST", "/v1/applications", body, **{"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    return answer.json()


def supplement(material_id: str = "residence-permit", content: bytes = SCAN) -> dict:
    return {"materials": [{"id": material_id, "name": "居住证",
                           "pages": [{"sha256": hashlib.sha256(content).hexdigest(),
                                      "content_b64": base64.b64encode(content).decode()}]}]}


def hand_in(kiosk: Kiosk, number: str, body: dict, key: str | None = None):
    return kiosk.call("POST", f"/v1/applications/{number}/supplements", body,
                      **{"Idempotency-Key": key or str(uuid.uuid4())})


def shown(kiosk: Kiosk) -> list[dict]:
    """我的办件 at this kiosk under the resident's grant (which lets it hand in)."""
    answer = kiosk.call("POST", "/v1/residents/applications", {}, grant=kiosk.present(RESIDENT_A))
    assert answer.status_code == 200, answer.text
    return answer.json()["applications"]


def test_skipped_secondary_materials_are_owed_by_the_menus_deadline(platform, kiosk_a):
    applied = apply_skipping(kiosk_a, ["residence-permit", "household-register", "no-such-material"])
    deadline = services.add_working_days(dt.date.today(), 10).isoformat()   # sample menu: supplement_days 10
    expected = [{"material_id": "residence-permit", "name": PERMIT, "deadline": deadline,
                 "status": "awaiting_supplement", "reason": None}]
    assert applied["owed"] == expected            # a main material (户口簿) or an unknown id is never owed
    [listed] = shown(kiosk_a)
    assert listed["owed"] == expected
    plain = apply_skipping(kiosk_a, [])
    assert plain["owed"] == []


def test_a_supplement_needs_the_owed_list_shown_at_that_kiosk_and_is_applied_once(platform, kiosk_a, kiosk_b):
    number = apply_skipping(kiosk_a, ["residence-permit"])["application_no"]
    refused = hand_in(kiosk_b, number, supplement())
    assert refused.status_code == 403                       # kiosk B never showed the resident the list
    shown(kiosk_b)                                          # the resident identifies at kiosk B (通办)
    key = str(uuid.uuid4())
    first = hand_in(kiosk_b, number, supplement(), key)
    assert first.status_code == 200, first.text
    assert first.json()["results"] == [{"material_id": "residence-permit", "outcome": "received"}]
    assert first.json()["owed"][0]["status"] == "received"
    again = hand_in(kiosk_b, number, supplement(), key)     # the queue sends it again after a crash
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert hand_in(kiosk_b, number, supplement(content=b"another scan"), key).status_code == 422
    stored = platform.store.all("SELECT pages FROM materials WHERE application_no = ? AND kind = ?",
                                (number, "residence-permit"))
    assert [r["pages"] for r in stored] == [1]              # recorded exactly once
    assert hand_in(kiosk_b, number, supplement()).json()["results"][0]["outcome"] == "not_needed"


def test_past_the_deadline_or_not_owed_is_told_apart(platform, kiosk_a):
    number = apply_skipping(kiosk_a, ["residence-permit"])["application_no"]
    shown(kiosk_a)
    other = hand_in(kiosk_a, number, supplement("business-licence"))
    assert other.json()["results"] == [{"material_id": "business-licence", "outcome": "not_needed"}]
    with platform.store.write():
        platform.store.execute("UPDATE supplements_owed SET deadline = ? WHERE application_no = ?",
                               ((dt.date.today() - dt.timedelta(days=1)).isoformat(), number))
    late = hand_in(kiosk_a, number, supplement())
    assert late.json()["results"] == [{"material_id": "residence-permit", "outcome": "deadline_passed"}]
    assert late.json()["owed"][0]["status"] == "awaiting_supplement"


def test_an_officer_rejects_with_a_reason_then_accepts(platform, central_db, kiosk_a):
    number = apply_skipping(kiosk_a, ["residence-permit"])["application_no"]
    listing = central(central_db, "applications", "list")
    assert f"owes residence-permit {PERMIT} by" in listing.stdout and "awaiting_supplement" in listing.stdout
    nothing = central(central_db, "applications", "supplement", number, "--accept")
    assert nothing.returncode == 2 and "nothing handed in" in nothing.stderr
    shown(kiosk_a)
    hand_in(kiosk_a, number, supplement())
    no_reason = central(central_db, "applications", "supplement", number, "--reject", " ")
    assert no_reason.returncode == 2
    rejected = central(central_db, "applications", "supplement", number, "--reject", "照片不清晰，请重新拍摄")
    assert rejected.returncode == 0 and "rejected (照片不清晰，请重新拍摄)" in rejected.stdout
    [listed] = [a for a in shown(kiosk_a) if a["application_no"] == number]
    assert listed["owed"][0]["status"] == "rejected" and listed["owed"][0]["reason"] == "照片不清晰，请重新拍摄"
    assert hand_in(kiosk_a, number, supplement(content=b"a clearer scan")).json()["results"][0]["outcome"] == "received"
    accepted = central(central_db, "applications", "supplement", number, "--accept")
    assert accepted.returncode == 0 and f"residence-permit {PERMIT}: accepted" in accepted.stdout
    assert hand_in(kiosk_a, number, supplement()).json()["results"][0]["outcome"] == "not_needed"


def test_a_real_sized_scan_fits_the_supplement_endpoint(platform, kiosk_a):
    number = apply_skipping(kiosk_a, ["residence-permit"])["application_no"]
    shown(kiosk_a)
    answer = hand_in(kiosk_a, number, supplement(content=bytes(range(256)) * 2048))   # a 512 KB page
    assert answer.status_code == 200, answer.text[:200]
    assert answer.json()["results"][0]["outcome"] == "received"
