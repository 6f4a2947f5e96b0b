"""Issue 15, e-ID QR identity: the reference platform plays the identity service (``central eid
issue``) and verifies codes shown at a kiosk (POST /v1/eid/verify), SQLite and PostgreSQL.

Codes are sealed by the identity service's key (a forged or altered one does not open), expire,
are single-use (also when two store connections -- as two worker processes have -- race for the
same code), and are region-bound; each refusal has a machine code, is audited and counts against
the kiosk; the grant an e-ID gives works at its kiosk only, for its resident only."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from central import audit, eid, grants, limits
from central.admin import issue_kiosk_token
from central.storage import Store
from tests.security.conftest import RESIDENT_A, RESIDENT_B, Kiosk
from tests.security.test_platform_workers import four_workers  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]


def issue(platform, id_number: str = RESIDENT_A, name: str = "王秀英", ttl_s: float = 60.0,
          region: str = "440304", now: float | None = None) -> str:
    return eid.EidKey.for_store(platform.store).issue(id_number, name, region, ttl_s, now=now)[0]


def show(kiosk: Kiosk, code: str):
    return kiosk.call("POST", "/v1/eid/verify", {"code": code})


def refused(answer, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == code and detail["retryable"] is False
    assert "440304194905120026" not in answer.text and "王秀英" not in answer.text


def test_a_code_issued_by_the_cli_in_another_process_identifies_the_resident(platform, central_db, kiosk_a,
                                                                              tmp_path):
    """`central eid issue` (its own process) prints the code and writes the QR; the server verifies it."""
    png = tmp_path / "eid.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "central", *central_db.cli_args(), "eid", "issue",
                           "--id-number", RESIDENT_A, "--name", "王秀英", "--ttl", "60s", "--png", str(png)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    code = done.stdout.strip()
    assert code.startswith("EID1.") and RESIDENT_A not in code and "one use" in done.stderr
    import cv2
    from devices.qr import decode_image
    assert [d.text for d in decode_image(cv2.imread(str(png)))] == [code]   # the PNG is that code
    # sealed: the number is not readable from the code itself
    body = code[5:]
    assert RESIDENT_A.encode() not in base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    answer = show(kiosk_a, code)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert got["identity"] == {"name": "王秀英", "id_number": RESIDENT_A}
    assert got["carries"] == ["name", "id_number"] and got["grant_expires_in_s"] == int(grants.GRANT_TTL_S)
    row = platform.store.one("SELECT kiosk_id, resident_key, basis, application_no FROM presence_grants")
    assert row == {"kiosk_id": "kiosk-a", "resident_key": platform.store.resident_key(RESIDENT_A),
                   "basis": "eid", "application_no": None}


def test_the_cli_refuses_a_bad_number_and_a_long_ttl(central_db):
    from tests.test_central_cli import central
    bad = central(central_db, "eid", "issue", "--id-number", "440304194905120027")
    assert bad.returncode == 2 and "check digit" in bad.stderr
    long = central(central_db, "eid", "issue", "--id-number", RESIDENT_A, "--ttl", "1h")
    assert long.returncode == 2 and "--ttl" in long.stderr


def test_a_code_is_single_use(platform, kiosk_a, kiosk_b):
    code = issue(platform)
    assert show(kiosk_a, code).status_code == 200
    refused(show(kiosk_a, code), 410, "eid_used")
    refused(show(kiosk_b, code), 410, "eid_used")      # nor at another kiosk


def test_single_use_holds_across_two_store_connections_racing(platform, central_db):
    """Two store connections (what two worker processes have) verify the same code at once:
    exactly one wins, whatever the dialect."""
    code = issue(platform)
    key = eid.EidKey.for_store(platform.store)
    other = Store(central_db.db, central_db.pepper)
    try:
        outcomes, start = [], threading.Barrier(2)

        def attempt(store):
            start.wait()
            try:
                with store.write():
                    eid.verify(store, key, code, "kiosk-a")
                outcomes.append("granted")
            except eid.EidRefused as exc:
                outcomes.append(exc.code)
        threads = [threading.Thread(target=attempt, args=(s,)) for s in (platform.store, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["eid_used", "granted"]
    finally:
        other.close()


def test_an_expired_code_is_refused(platform, kiosk_a):
    refused(show(kiosk_a, issue(platform, ttl_s=60, now=time.time() - 61)), 410, "eid_expired")
    assert show(kiosk_a, issue(platform, ttl_s=60, now=time.time() - 50)).status_code == 200


def test_forged_and_altered_codes_are_refused(platform, kiosk_a, tmp_path):
    genuine = issue(platform)
    flipped = genuine[:20] + ("A" if genuine[20] != "A" else "B") + genuine[21:]
    stranger = eid.EidKey(os.urandom(32)).issue(RESIDENT_A, "王秀英", "440304")[0]   # another key
    for code in (flipped, stranger, "EID1.", "EID1.!!!", "https://example.com/eid?id=" + RESIDENT_A, "王秀英"):
        refused(show(kiosk_a, code), 404, "eid_forged")
    assert platform.store.one("SELECT COUNT(*) AS n FROM presence_grants")["n"] == 0


def test_a_code_of_another_region_is_refused(platform, kiosk_a):
    refused(show(kiosk_a, issue(platform, region="110105")), 403, "eid_wrong_region")
    other_region = Kiosk(platform.base_url, issue_kiosk_token(platform.store, "kiosk-bj", "110105"), "kiosk-bj")
    assert show(other_region, issue(platform, region="110105")).status_code == 200


def test_refusals_lock_the_kiosk_out_after_ten(platform, kiosk_a, kiosk_b):
    for _ in range(limits.EID_PER_KIOSK.max_failures):
        assert show(kiosk_a, "EID1.forged").status_code == 404
    good = issue(platform)
    locked = show(kiosk_a, good)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert show(kiosk_b, good).status_code == 200   # the limit is kiosk A's; the code was not spent


def test_the_eid_grant_reads_this_residents_records_at_this_kiosk_only(platform, kiosk_a, kiosk_b):
    [mine] = kiosk_a.apply(RESIDENT_A)["documents"]
    [theirs] = kiosk_a.apply(RESIDENT_B)["documents"]
    grant = show(kiosk_a, issue(platform)).json()["presence_grant"]
    listed = kiosk_a.call("POST", "/v1/documents/query", {}, grant=grant)
    assert [d["document_id"] for d in listed.json()["documents"]] == [mine["document_id"]]
    assert kiosk_a.call("GET", f"/v1/documents/{theirs['document_id']}", grant=grant).status_code == 404
    assert kiosk_b.call("POST", "/v1/documents/query", {}, grant=grant).status_code == 403   # A's grant, B asks


def test_every_outcome_is_audited_without_the_number(platform, kiosk_a):
    assert show(kiosk_a, issue(platform)).status_code == 200
    show(kiosk_a, "EID1.forged")
    show(kiosk_a, issue(platform, region="110105"))
    entries = [e for e in audit.entries(platform.store, kiosk_id="kiosk-a") if e["action"] == "e-ID code"]
    assert sorted(e["outcome"] for e in entries) == ["eid_forged", "eid_wrong_region", "granted"]
    key = platform.store.resident_key(RESIDENT_A)
    assert {e["resident_key"] for e in entries} == {key, None}   # forged: nobody known
    assert all(RESIDENT_A not in str(e) for e in entries)


def test_maintenance_forgets_the_uses_of_expired_codes(platform, kiosk_a):
    assert show(kiosk_a, issue(platform)).status_code == 200
    assert eid.purge_used(platform.store) == 0
    assert eid.purge_used(platform.store, now=time.time() + 3600) == 1


def test_single_use_across_four_worker_processes(four_workers, tmp_path):
    """`central serve --workers 4` on PostgreSQL: one code sent by 8 threads at once, each on its own
    connection (so over several worker processes) identifies the resident once; the rest are told
    it was used."""
    from central.sealing import load_or_create_secret
    kiosks, _workers = four_workers
    key = eid.EidKey(load_or_create_secret(tmp_path / "central.eid", create=True))  # beside the pepper
    code = key.issue(RESIDENT_A, "王秀英", "440304", 60.0)[0]
    answers, start = [], threading.Barrier(8)

    def attempt():
        start.wait()
        answers.append(show(kiosks["kiosk-a"], code))
    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [410] * 7, [a.text for a in answers]
    assert {a.json()["detail"]["code"] for a in answers if a.status_code == 410} == {"eid_used"}
