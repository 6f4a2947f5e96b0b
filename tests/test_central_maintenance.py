"""Housekeeping (central/maintenance.py), on SQLite and PostgreSQL: idempotency keys are
forgotten after their retention -- by the server's periodic round and by
``central maintenance`` -- and never on the request path."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from central import maintenance, storage
from central.testing import run_server
from tests.test_central_cli import central, wait_for
from tests.test_central_intake import application

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400.0
NOTHING = dict.fromkeys(maintenance.LABELS, 0)


def key_rows(store, now: float, rows: list[tuple[str, str, str, str, float]]) -> None:
    """(kiosk, scope, key, state, age in days) as idempotency rows."""
    with store.write():
        for kiosk_id, scope, key, state, age_days in rows:
            when = now - age_days * DAY
            store.execute("INSERT INTO idempotency (kiosk_id, scope, idem_key, body_hash, state, status_code, "
                          "response, created_at, updated_at) VALUES (?, ?, ?, 'h', ?, 201, '{}', ?, ?)",
                          (kiosk_id, scope, key, state, when, when))


def keys(store) -> set[str]:
    return {r["idem_key"] for r in store.all("SELECT idem_key FROM idempotency")}


def test_purge_forgets_old_keys_only(central_db):
    store = storage.Store(central_db.db, central_db.pepper)
    try:
        now = time.time()
        old = [(f"k{i % 3}", ("applications", "ratings")[i % 2], f"old-{i}", "done", 200 + i) for i in range(11)]
        young = [(f"k{i % 3}", "applications", f"young-{i}", "done", 179) for i in range(4)]
        key_rows(store, now, old + young + [
            ("k1", "appeals", "abandoned", "processing", 365),      # a claim whose request never came back
            ("k2", "appeals", "in-flight", "processing", 0.0001),   # still within its lease
        ])
        assert store.purge_keys(180 * DAY, now=now, chunk=4) == 12  # several chunks, across kiosks and scopes
        assert keys(store) == {f"young-{i}" for i in range(4)} | {"in-flight"}
        assert store.purge_keys(0, now=now, chunk=4) == 4  # retention 0: every finished key, not the in-flight one
        assert keys(store) == {"in-flight"}
        assert store.purge_keys(0, now=now) == 0
    finally:
        store.close()


def test_a_purged_key_is_a_new_key_and_a_kept_one_still_replays(central_db):
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        headers = {"Authorization": f"Bearer {platform.token}"}

        def send(key):
            return requests.post(platform.base_url + "/v1/applications", json=application(), timeout=10,
                                 headers={**headers, "Idempotency-Key": key})
        kept, purged = str(uuid.uuid4()), str(uuid.uuid4())
        first_kept, first_purged = send(kept).json(), send(purged).json()
        with platform.store.write():  # the second one was last used 181 days ago
            platform.store.execute("UPDATE idempotency SET updated_at = updated_at - ? WHERE idem_key = ?",
                                   (181 * DAY, purged))
        assert maintenance.run(platform.store) == {**NOTHING, "idempotency_keys": 1}
        again = send(kept)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first_kept
        assert send(purged).json()["application_no"] != first_purged["application_no"]  # why retention is long
        assert platform.count("applications") == 3


def test_residents_data_is_removed_after_its_retention(central_db):
    """Scans of decided applications, printed documents' fields, old appeals' texts and phones,
    old rating comments and identity checks go; what is still needed stays."""
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        headers = {"Authorization": f"Bearer {platform.token}"}

        def send(path, body):
            reply = requests.post(platform.base_url + path, json=body, timeout=10,
                                  headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
            assert reply.status_code == 201, reply.text
            return reply.json()
        decided = send("/v1/applications", application())                       # 即办件: decided at once
        waiting = send("/v1/applications", application(service_id="elderly-card"))  # waits for an officer
        [document] = decided["documents"]
        report = {"print_token": document["print_token"], "result": "printed"}
        assert requests.post(f"{platform.base_url}/v1/documents/{document['document_id']}/printed", json=report,
                             headers=headers, timeout=10).status_code == 200
        appeal = send("/v1/appeals", {"category": "complaint", "text": "噪音", "contact_phone": "13800138000"})
        rating = send("/v1/ratings", {"application_no": decided["application_no"], "level": 2, "comment": "慢"})
        store = platform.store
        fresh = maintenance.run(store)
        assert fresh == {**NOTHING, "idempotency_keys": fresh["idempotency_keys"]} and fresh["idempotency_keys"] == 0
        later = time.time() + 400 * DAY
        assert maintenance.run(store, now=later) == {**NOTHING, "idempotency_keys": 4, "scans": 1, "documents": 1,
                                                     "appeals": 1, "ratings": 1}
        assert [r["application_no"] for r in store.all("SELECT application_no FROM materials")] == [
            waiting["application_no"]]
        assert platform.count("material_pages") == 1
        assert store.record("documents", document["document_id"])["data"] == {}
        assert store.record("documents", document["document_id"])["status"] == "printed"  # the record stays
        kept_appeal = store.record("appeals", appeal["appeal_no"])
        assert (kept_appeal["text"], kept_appeal["contact_phone"], kept_appeal["category"]) == ("", None, "complaint")
        kept_rating = store.record("ratings", rating["rating_id"])
        assert (kept_rating["comment"], kept_rating["level"]) == ("", 2)
        assert maintenance.run(store, now=later) == NOTHING  # erased once


def test_ended_grants_rate_limits_and_old_audit_entries_are_forgotten(central_db):
    from central import audit, grants, limits
    store = storage.Store(central_db.db, central_db.pepper)
    try:
        now = time.time()
        with store.write():
            grants.issue(store, "k", "resident", grants.IDENTITY, now=now - grants.GRANT_TTL_S - 1)
            grants.issue(store, "k", "resident", grants.IDENTITY, now=now)
        limits.fail(store, limits.PICKUP_PER_KIOSK, "k", "k", now=now - 2 * 3600)   # window long over
        limits.fail(store, limits.PICKUP_PER_KIOSK, "k2", "k2", now=now)            # still counting
        audit.record(store, "k", "documents listed", "resident")
        with store.write():
            store.execute("UPDATE audit_log SET at = ?", (now - 181 * DAY,))
        audit.record(store, "k", "documents listed", "resident")
        assert maintenance.run(store, now=now) == {**NOTHING, "presence_grants": 1, "rate_limits": 1,
                                                   "audit_entries": 1}
        assert store.one("SELECT COUNT(*) AS n FROM audit_log")["n"] == 1
    finally:
        store.close()


def test_maintenance_thread_runs_rounds_until_stopped(central_db):
    store = storage.Store(central_db.db, central_db.pepper)
    try:
        key_rows(store, time.time(), [("k", "appeals", "ancient", "done", 400)])
        housekeeping = maintenance.Maintenance(store, every_s=1, first_after_s=0).start()
        deadline = time.monotonic() + 10
        while housekeeping.rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        housekeeping.stop()
        assert housekeeping.rounds >= 1 and housekeeping.last == {**NOTHING, "idempotency_keys": 1}
        assert keys(store) == set()
        assert not housekeeping._worker.running
    finally:
        store.close()


def test_cli_maintenance_once(central_db):
    store = storage.Store(central_db.db, central_db.pepper)
    try:
        key_rows(store, time.time(), [("k", "ratings", "a", "done", 40), ("k", "ratings", "b", "done", 10)])
    finally:
        store.close()
    default = central(central_db, "maintenance")
    assert default.returncode == 0 and "removed 0 idempotency key(s) unused for 180 days" in default.stdout
    shorter = central(central_db, "maintenance", "--key-retention", "30d")
    assert shorter.returncode == 0 and "removed 1 idempotency key(s) unused for 30 days" in shorter.stdout


def test_serve_runs_maintenance_in_the_background(central_db, tmp_path):
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "central", *central_db.cli_args(), "serve", "--port", "0", "--port-file",
         str(port_file), "--maintenance-every", "1s", "--key-retention", "0s"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base_url = f"http://127.0.0.1:{int(wait_for(port_file))}"
        token = central(central_db, "kiosk-token", "k-maint").stdout.strip()
        created = requests.post(base_url + "/v1/appeals", json={"category": "help", "text": "纸张不足"}, timeout=10,
                                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "one"})
        assert created.status_code == 201
        store = storage.Store(central_db.db, central_db.pepper)
        try:
            assert keys(store) == {"one"}
            deadline = time.monotonic() + 15
            while keys(store) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert keys(store) == set()  # forgotten by the server's own round
            assert store.one("SELECT COUNT(*) AS n FROM appeals")["n"] == 1  # the work itself stays
        finally:
            store.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    logs = process.stderr.read()
    assert "maintenance: removed 1 idempotency key(s)" in logs and "纸张不足" not in logs
