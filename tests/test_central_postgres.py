"""The PostgreSQL dialect against a real server (the session's throwaway cluster): column
types, parameter translation, the row locks that stand in for SQLite's ``BEGIN IMMEDIATE``,
non-durable commits, values PostgreSQL cannot store, broken connections, and the CLI.

Each race test holds a row lock from a second connection -- as a concurrent transaction
would -- and checks the platform waits for it and then sees its change: without ``FOR
UPDATE`` the platform would act on the stale row at once (double enrolment, two take-overs
of one idempotency key, a document approved twice, a print failure counted on a printed
document).  The rest of the platform's behaviour runs on both dialects in
test_central_intake.py, test_central_contract.py, test_central_cli.py and
test_central_fleet_page.py.
"""
from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
import requests

from central import admin, cli, storage
from central.dialect import DataRejected
from central.postgres import redact_url, to_pyformat, translate_schema
from central.sealing import SecretFileError
from central.testing import run_server
from kiosk.platform import FinalError, PlatformClient

ID_NUMBER = "440304194905120026"


@pytest.fixture
def pg(postgres_cluster, tmp_path):
    url = postgres_cluster.create_schema()
    yield url, tmp_path / "central.pepper"
    postgres_cluster.drop(url)


@pytest.fixture
def platform(pg):
    url, pepper = pg
    with run_server(url, pepper_path=pepper) as running:
        yield running


def other_connection(url: str) -> psycopg.Connection:
    """A second session, as another process or thread of the platform would have."""
    return psycopg.connect(url, autocommit=True)


def application(service_id="birth-registration", name="王秀英", form=None):
    return {"service_id": service_id, "applicant": {"name": name, "id_number": ID_NUMBER},
            "form": form or {"phone": "13800138000"}, "materials": [], "delivery": {"method": "self_print"},
            "submitted_at": None, "offline": False}


def blocked_then(action, release, wait: float = 0.4):
    """Start ``action`` in a thread, check it is still waiting after ``wait`` s, then ``release``
    (commit the lock holder) and return what ``action`` returned or raised."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(wait)
    assert thread.is_alive(), f"did not wait for the row lock: {outcome}"
    release()
    thread.join(10)
    assert not thread.is_alive()
    return outcome


# -- schema and statements ------------------------------------------------------------------
def test_schema_types_are_translated(platform):
    columns = {(r["table_name"], r["column_name"]): r["data_type"] for r in platform.store.all(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema()")}
    assert columns[("idempotency", "created_at")] == "double precision"  # not real (float4)
    assert columns[("material_pages", "content")] == "bytea"
    assert columns[("counters", "value")] == "bigint"
    assert "real" not in set(columns.values()) and "integer" not in set(columns.values())
    assert translate_schema("a REAL, b BLOB, c INTEGER, realm TEXT") == \
        "a DOUBLE PRECISION, b BYTEA, c BIGINT, realm TEXT"


def test_timestamps_and_bytes_round_trip_exactly(platform):
    now = 1_767_225_600.123456  # float4 would keep this to within about two minutes
    with platform.store.write():
        platform.store.execute("INSERT INTO menu (slot, etag, content, content_type, published_at) "
                               "VALUES (2, 'e', ?, 'application/octet-stream', ?)", (b"\x00\xff bytes", now))
    row = platform.store.one("SELECT content, published_at FROM menu WHERE slot = 2")
    assert row["published_at"] == now and isinstance(row["content"], bytes) and row["content"] == b"\x00\xff bytes"


def test_parameters_are_translated_outside_literals():
    assert to_pyformat("SELECT ? WHERE a = '?' AND b LIKE '5%' AND c = ?") == \
        "SELECT %s WHERE a = '?' AND b LIKE '5%%' AND c = %s"
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_a_literal_percent_and_question_mark_reach_the_server(platform):
    row = platform.store.one("SELECT '100%' AS pct, 'why?' AS q, ? AS p", ("x",))
    assert row == {"pct": "100%", "q": "why?", "p": "x"}


# -- row locks where SQLite relied on BEGIN IMMEDIATE ---------------------------------------
def test_a_claim_being_taken_over_elsewhere_is_not_taken_over_twice(platform, pg):
    store = platform.store
    assert store.claim_key("k1", "applications", "key-1", "h") == ("new", None)
    with store.write():  # the claim was left by a crash long ago
        store.execute("UPDATE idempotency SET updated_at = ? WHERE idem_key = 'key-1'", (time.time() - 3600,))
    with other_connection(pg[0]) as rival:  # another worker is taking it over right now: it has
        rival.execute("BEGIN")               # read the row (locked) and is about to renew the lease
        rival.execute("SELECT * FROM idempotency WHERE idem_key = 'key-1' FOR UPDATE")

        def rival_takes_over():
            rival.execute("UPDATE idempotency SET updated_at = %s WHERE idem_key = 'key-1'", (time.time(),))
            rival.execute("COMMIT")
        outcome = blocked_then(lambda: store.claim_key("k1", "applications", "key-1", "h"), rival_takes_over)
    assert outcome == {"value": ("processing", None)}  # the rival won; this one must not process it too


def test_an_enrolment_code_used_concurrently_enrols_once(platform, pg):
    code = admin.create_enroll_code(platform.store)
    with other_connection(pg[0]) as rival:
        rival.execute("BEGIN")
        rival.execute("UPDATE enroll_codes SET used_at = %s, used_by = 'rival'", (time.time(),))
        outcome = blocked_then(lambda: PlatformClient(platform.base_url, timeout=10).enroll(code),
                               lambda: rival.execute("COMMIT"))
    assert isinstance(outcome.get("error"), FinalError) and outcome["error"].status == 410


def test_an_application_approved_concurrently_is_approved_once(platform, pg):
    client = PlatformClient(platform.base_url, platform.token, timeout=10)
    created = client.create_application(application("family-planning-certificate"), str(uuid.uuid4()))
    with other_connection(pg[0]) as rival:
        rival.execute("BEGIN")
        rival.execute("UPDATE applications SET status = 'approved' WHERE application_no = %s",
                      (created["application_no"],))
        outcome = blocked_then(lambda: admin.approve_application(platform.store, created["application_no"]),
                               lambda: rival.execute("COMMIT"))
    assert isinstance(outcome.get("error"), admin.AdminError) and "already approved" in str(outcome["error"])


def test_a_print_failure_reported_while_it_is_printed_elsewhere_counts_nothing(platform, pg):
    client = PlatformClient(platform.base_url, platform.token, timeout=10)
    [document] = client.create_application(application("residence-permit-endorsement"),
                                           str(uuid.uuid4()))["documents"]
    with other_connection(pg[0]) as rival:
        rival.execute("BEGIN")
        rival.execute("UPDATE documents SET status = 'printed' WHERE document_id = %s", (document["document_id"],))
        outcome = blocked_then(lambda: client.report_printed(document["document_id"], document["print_token"],
                                                             "failed", "paper jam"),
                               lambda: rival.execute("COMMIT"))
    assert outcome["value"]["status"] == "printed" and outcome["value"]["print_failures"] == 0


def waiting_for_an_advisory_lock(store, timeout: float = 10.0) -> bool:
    """True once some backend waits for an advisory lock (PostgreSQL's own view of it)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(store.dialect.url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            if watcher.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                               ).fetchone()[0]:
                return True
            watcher.execute("SELECT pg_sleep(0.01)")
    return False


def test_a_claim_waits_for_a_batch_recording_the_same_key(platform, monkeypatch):
    """A batch reads its keys and records them in one transaction; on PostgreSQL a single request
    with the same key must not claim it in between (it waits, then replays the batch's answer)."""
    from central import intake as central_intake
    real_intake, first = central_intake.intake, threading.Event()

    def slow_intake(*args, **kwargs):
        if not first.is_set():
            first.set()
            # the batch has read the key (unseen) and holds it: go on once the single request waits for it
            assert waiting_for_an_advisory_lock(platform.store), "the single request never waited for the key"
        return real_intake(*args, **kwargs)
    monkeypatch.setattr(central_intake, "intake", slow_intake)
    key, body = str(uuid.uuid4()), application()
    headers = {"Authorization": f"Bearer {platform.token}"}
    answers = {}

    def batch():
        answers["batch"] = requests.post(platform.base_url + "/v1/applications/batch", headers=headers, timeout=30,
                                         json={"items": [{"idempotency_key": key, "application": body}]})
    thread = threading.Thread(target=batch)
    thread.start()
    assert first.wait(10)
    single = requests.post(platform.base_url + "/v1/applications", json=body, timeout=30,
                           headers={**headers, "Idempotency-Key": key})
    thread.join(30)
    [result] = answers["batch"].json()["results"]
    assert result["status"] == 201 and single.status_code == 201
    assert single.headers.get("Idempotent-Replayed") == "true" and single.json() == result["body"]
    assert platform.count("applications") == 1


def test_concurrent_intake_numbers_are_unique_and_gap_free(platform):
    """No process-wide write lock on PostgreSQL: writers overlap; the counter row orders them."""
    results: list = []

    def submit(n):
        client = PlatformClient(platform.base_url, platform.token, timeout=30)
        for _ in range(n):
            results.append(client.create_application(application(), str(uuid.uuid4()))["application_no"])
    threads = [threading.Thread(target=submit, args=(6,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 24 and len(set(results)) == 24
    assert sorted(int(no[14:-5]) for no in results) == list(range(1, 25))  # the sequence before the random tail
    assert platform.count("applications") == 24 and platform.count("documents") == 24


def test_one_key_sent_by_many_at_once_is_processed_once(platform):
    platform.set_faults(processing_delay_s=0.3)
    key, statuses = str(uuid.uuid4()), []
    barrier = threading.Barrier(6)

    def send():
        barrier.wait()
        statuses.append(requests.post(platform.base_url + "/v1/applications", json=application(), timeout=30,
                                      headers={"Authorization": f"Bearer {platform.token}",
                                               "Idempotency-Key": key}).status_code)
    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    assert platform.count("applications") == 1


# -- durability, bad values, broken connections ---------------------------------------------
def test_only_harmless_commits_are_non_durable(platform):
    store = platform.store
    show = "SELECT current_setting('synchronous_commit') AS v"
    with store.write(durable=False):
        assert store.one(show)["v"] == "off"
    with store.write():
        assert store.one(show)["v"] == "on"
    assert store.one(show)["v"] == "on"  # SET LOCAL: gone with its transaction


def test_a_nul_character_is_stored_as_a_replacement_character(platform):
    """The contract accepts any string and SQLite stores U+0000; PostgreSQL text cannot hold it.
    Sealed texts (an appeal's) keep it: they are stored as ciphertext."""
    headers = {"Authorization": f"Bearer {platform.token}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"category": "complaint", "text": "nul \u0000 here"}
    first = requests.post(platform.base_url + "/v1/appeals", json=body, headers=headers, timeout=10)
    again = requests.post(platform.base_url + "/v1/appeals", json=body, headers=headers, timeout=10)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert platform.store.record("appeals", first.json()["appeal_no"])["text"] == "nul \u0000 here"
    named = application()
    named["materials"] = [{"id": "m", "name": "结婚\u0000证", "pages": []}]
    created = requests.post(platform.base_url + "/v1/applications", json=named, timeout=10,
                            headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201
    assert platform.store.one("SELECT name FROM materials")["name"] == "结婚\ufffd证"


def test_a_value_out_of_range_is_data_rejected_not_a_server_error(platform):
    with pytest.raises(DataRejected) as caught:
        platform.store.one("SELECT CAST(? AS smallint) AS x", (10 ** 6,))
    assert "1000000" not in str(caught.value)  # the value itself is never repeated
    assert platform.store.one("SELECT 1 AS x") == {"x": 1}  # the connection is still usable


def test_a_broken_connection_is_replaced(platform, pg):
    store = platform.store
    assert store.one("SELECT 1 AS x") == {"x": 1}
    pid = store.one("SELECT pg_backend_pid() AS pid")["pid"]
    with other_connection(pg[0]) as admin_conn:
        admin_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.1)
    with pytest.raises(psycopg.OperationalError):
        store.one("SELECT 1 AS x")
    assert store.one("SELECT 1 AS x") == {"x": 1}  # a new connection
    with store.write():
        store.execute("UPDATE settings SET value = value WHERE name = 'none'")


# -- the CLI and the pepper -----------------------------------------------------------------
def run_cli(*args: str):
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_cli_needs_a_pepper_file_for_postgres_and_hides_passwords(pg, monkeypatch):
    url, pepper = pg
    monkeypatch.delenv("CENTRAL_PEPPER", raising=False)
    status, _, err = run_cli("--db", url, "kiosks")
    assert status == 2 and "pepper" in err
    status, _, err = run_cli("--db", "postgresql://central:s3cret@127.0.0.1:1/central", "--pepper-file",
                             str(pepper), "kiosks")
    assert status == 2 and "s3cret" not in err and "central:***@127.0.0.1:1" in err
    assert redact_url("postgresql://u:p@h/db?x=1") == "postgresql://u:***@h/db?x=1"
    monkeypatch.setenv("CENTRAL_PEPPER", str(pepper))
    assert run_cli("--db", url, "kiosk-token", "k-env")[0] == 0 and pepper.exists()


def test_a_wrong_or_lost_pepper_is_refused(central_db, tmp_path):
    """Both dialects: a pepper that is not the database's would silently lose every resident's records."""
    store = storage.Store(central_db.db, central_db.pepper)
    store.close()
    with pytest.raises(SecretFileError, match="does not belong"):
        (tmp_path / "other.pepper").write_text("00" * 32)
        storage.Store(central_db.db, tmp_path / "other.pepper")
    with pytest.raises(SecretFileError, match="missing"):
        storage.Store(central_db.db, tmp_path / "lost.pepper")
    assert not (tmp_path / "lost.pepper").exists()  # no new secret made for an existing database
    storage.Store(central_db.db, central_db.pepper).close()


def test_token_checks_do_not_stall_the_event_loop(central_db, monkeypatch):
    """On PostgreSQL the token lookup is a network round trip: it runs in the thread pool, so
    slow lookups of concurrent requests overlap instead of queueing on the event loop."""
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        real_one = platform.store.one

        def slow_token_lookup(sql, params=()):
            if "FROM kiosk_tokens t" in sql:
                time.sleep(0.5)
            return real_one(sql, params)
        monkeypatch.setattr(platform.store, "one", slow_token_lookup)
        statuses = []

        def get():
            statuses.append(requests.get(platform.base_url + "/v1/menu", timeout=10,  # none published: 404
                                         headers={"Authorization": f"Bearer {platform.token}"}).status_code)
        threads = [threading.Thread(target=get) for _ in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert statuses == [404] * 4
    if central_db.dialect == "postgresql":
        assert elapsed < 1.5, f"4 concurrent 0.5 s token checks took {elapsed:.2f} s: serialised on the loop"
    else:
        assert elapsed >= 2.0  # SQLite: on the loop by design (a local read), so they queue
