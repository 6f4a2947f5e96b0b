"""Issue 11.1 (rate limits): every lookup that guards a secret locks out after a few failures --
per kiosk and per resident key -- and the fleet page raises an alert."""
from __future__ import annotations

import base64
import secrets

import requests

from central.admin import create_enroll_code
from tests.security.conftest import RESIDENT_A, RESIDENT_B, Kiosk

CHALLENGE = base64.b64encode(bytes(32)).decode()  # enrolment answers are signed over one (central.platform_key)


def guess_pickup(kiosk: Kiosk, code: str, id_number: str = RESIDENT_A) -> tuple[int, bool]:
    """One guess of the review's attack, on both ways a pickup code is looked up: (status, found)."""
    grant = kiosk.call("POST", "/v1/presence/pickup", {"pickup_code": code, "id_number": id_number})
    listed = kiosk.call("POST", "/v1/documents/query", {"pickup_code": code})
    found = (grant.status_code == 200
             or (listed.status_code == 200 and bool(listed.json().get("documents"))))
    return grant.status_code, found


def test_2000_pickup_code_guesses_from_one_kiosk_are_refused_long_before_success(kiosk_a, kiosk_b):
    """The review found the real code in 2,000 guesses from one kiosk; now the kiosk is locked out
    after a handful and the real code, guessed at 1,500, is refused like the rest."""
    real = kiosk_a.apply(RESIDENT_A)["pickup_code"]
    guesses = [f"{secrets.randbelow(10**8):08d}" for _ in range(2000)]
    guesses = [g for g in guesses if g != real]
    guesses.insert(1500, real)
    statuses, found = [], []
    for code in guesses:
        status, hit = guess_pickup(kiosk_b, code)
        statuses.append(status)
        found.append(hit)
    assert not any(found)
    first_refusal = statuses.index(429)
    assert first_refusal <= 10 and set(statuses[first_refusal:]) == {429}


def test_guessing_one_residents_code_locks_that_resident_from_every_kiosk(platform, kiosk_a, kiosk_b):
    from central.admin import issue_kiosk_token
    real = kiosk_a.apply(RESIDENT_A)["pickup_code"]
    kiosk_c = Kiosk(platform.base_url, issue_kiosk_token(platform.store, "kiosk-c"), "kiosk-c")
    wrong = [f"{(int(real) + n) % 10**8:08d}" for n in range(1, 4)]
    for guesser, code in zip((kiosk_b, kiosk_c, kiosk_b, kiosk_c, kiosk_b), wrong + wrong):
        guess_pickup(guesser, code)
    locked = kiosk_a.call("POST", "/v1/presence/pickup", {"pickup_code": real, "id_number": RESIDENT_A})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    other = kiosk_a.apply(RESIDENT_B)["pickup_code"]  # another resident is not affected
    assert kiosk_a.call("POST", "/v1/presence/pickup", {"pickup_code": other, "id_number": RESIDENT_B}).status_code == 200


def test_failed_identity_checks_lock_out_the_resident(kiosk_a, kiosk_b):
    for _ in range(5):
        assert kiosk_b.verify(RESIDENT_A, faces=0).json()["match"] is False
    refused = kiosk_a.verify(RESIDENT_A)  # a real face now: still refused while locked
    assert refused.status_code == 429 and "presence_grant" not in refused.text


def test_enrolment_code_guessing_is_locked_out(platform):
    real = create_enroll_code(platform.store)
    statuses = [requests.post(platform.base_url + "/v1/enroll", json={"code": f"AAAA-BBBB-{n:02d}", "challenge": CHALLENGE}, timeout=10
                              ).status_code for n in range(10)]
    assert statuses[:5] == [403] * 5 and set(statuses[5:]) == {429}
    assert requests.post(platform.base_url + "/v1/enroll", json={"code": real, "challenge": CHALLENGE}, timeout=10).status_code == 429


def test_admin_password_guessing_is_locked_out_and_the_fleet_page_alerts(platform, kiosk_b):
    url = platform.base_url + "/admin/fleet"
    statuses = [requests.get(url, auth=("admin", f"guess-{n}"), timeout=10).status_code for n in range(8)]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert requests.get(url, auth=("admin", platform.admin_token), timeout=10).status_code == 429
    for n in range(12):  # meanwhile kiosk B guesses pickup codes, for ever other ID numbers
        guess_pickup(kiosk_b, f"{n:08d}", id_number=f"4403041950010100{n:02d}")
    with platform.store.write():  # the admin's lockout ends (as after its 15 minutes)
        platform.store.execute("UPDATE rate_limits SET locked_until = 0 WHERE scope = 'admin:client'")
    page = requests.get(url, auth=("admin", platform.admin_token), timeout=10)
    assert page.status_code == 200 and 'id="lockouts"' in page.text
    assert "pickup-code guessing, kiosk: kiosk-b" in page.text
    assert RESIDENT_A not in page.text and "resident_key" not in page.text
