"""Issue 11.2: a database written by the platform before data at rest was sealed (schema 1) opens,
is migrated forward in place -- plain fields sealed, the applicant's birth date and address
dropped -- and keeps serving its residents (same resident keys, same documents)."""
from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
import requests

from central import grants, schema
from central.postgres import translate_schema
from central.storage import Store
from central.testing import run_server
from tests.security.test_platform_data import forms_of

# A resident of its own: PostgreSQL's WAL is the whole test cluster's, and the plain values
# written here as schema 1 would stay in it for every later test that scans the files.
ID_NUMBER = "110105194912310021"
MASKED = "110105********0021"
BIRTH_DATE = "19491231"
NAME = "司马青云"
CARD_ADDRESS = "北京市朝阳区建国路八十八号院三号楼"
FORM_ADDRESS = "北京市朝阳区光华路甲十号"
PHONE = "13611112222"
APPEAL_TEXT = "小区门口井盖缺失已两周无人处理"
APPEAL_PHONE = "13633334444"
RATING_COMMENT = "等候时间过长叫号混乱"
PAGE = b"\x89PNG-schema-1-scan-of-a-marriage-certificate"

NUMBER = "110105202612030000001"
SCHEMA_V1 = (Path(__file__).parent / "central_schema_v1.sql").read_text(encoding="utf-8")


def write_schema_1_database(central_db) -> None:
    """Rows as the schema-1 platform wrote them: plain JSON, plain text, plain page bytes."""
    pepper = bytes(range(32))
    central_db.pepper.write_text(pepper.hex())
    resident = hmac.new(pepper, ID_NUMBER.encode(), hashlib.sha256).hexdigest()
    check = hmac.new(pepper, b"central pepper check", hashlib.sha256).hexdigest()[:16]
    applicant = {"name": NAME, "card_type": "resident", "sex": "女", "birth_date": BIRTH_DATE,
                 "address": CARD_ADDRESS, "id_number_masked": MASKED}
    form = {"phone": PHONE, "address": FORM_ADDRESS}
    document = {"title": "生育登记服务单", "serial": NUMBER, "holder_name": NAME,
                "id_number_masked": MASKED, "fields": form}
    now = time.time()
    statements = [
        ("INSERT INTO settings (name, value) VALUES ('pepper_check', ?)", (json.dumps(check),)),
        ("INSERT INTO applications VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
         (NUMBER, "k1", "key-1", "birth-registration", "生育登记", "immediate", "approved",
          resident, json.dumps(applicant, ensure_ascii=False), json.dumps(form, ensure_ascii=False),
          json.dumps({"method": "courier", "address": FORM_ADDRESS}, ensure_ascii=False), None, now, 0, 0,
          "2026-12-03", now, "12345678")),
        ("INSERT INTO materials VALUES (?,?,?,?,?,?,?)",
         ("m1", resident, "household-register", "户口簿", NUMBER, now, 1)),
        ("INSERT INTO material_pages VALUES (?,?,?,?)", ("m1", 0, hashlib.sha256(PAGE).hexdigest(), PAGE)),
        ("INSERT INTO documents (document_id, application_no, resident_key, title, kind, data, pickup_code, "
         "print_token, status, created_at) VALUES (?,?,?,?,?,?,?,?,'ready',?)",
         ("d1", NUMBER, resident, "生育登记服务单", "proof",
          json.dumps(document, ensure_ascii=False), "12345678", "print-token", now)),
        ("INSERT INTO appeals VALUES (?,?,?,?,?,'received',?)",
         ("SQ20261203000001", "k1", "complaint", APPEAL_TEXT, APPEAL_PHONE, now)),
        ("INSERT INTO ratings VALUES (?,?,?,?,?,?,?)",
         ("r1", "k1", NUMBER, 1, RATING_COMMENT, 1, now)),
    ]
    if central_db.cluster is None:
        with sqlite3.connect(central_db.db) as conn:
            conn.executescript(SCHEMA_V1)
            for sql, params in statements:
                conn.execute(sql, params)
        return
    with psycopg.connect(str(central_db.db), autocommit=True) as conn:
        conn.execute(translate_schema(SCHEMA_V1))
        for sql, params in statements:
            conn.execute(sql.replace("?", "%s"), params)


def stored_rows(central_db) -> bytes:
    """Every value of every table, read past the platform (PostgreSQL's WAL still holds what schema 1
    wrote: docs/security.md, "Migrating")."""
    if central_db.cluster is None:
        with sqlite3.connect(central_db.db) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            rows = [row for table in tables for row in conn.execute(f"SELECT * FROM {table}")]
    else:
        with psycopg.connect(str(central_db.db), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_schema = current_schema()")]
            rows = [row for table in tables for row in conn.execute(f"SELECT * FROM {table}")]
    return b"".join(value if isinstance(value, bytes) else str(value).encode() for row in rows for value in row)


def test_a_schema_1_database_is_migrated_and_keeps_serving(central_db):
    write_schema_1_database(central_db)
    with run_server(central_db.db, pepper_path=central_db.pepper) as platform:
        store = platform.store
        assert store.get_setting("schema_version") == schema.SCHEMA_VERSION
        assert store.record("applications", NUMBER)["applicant"] == {
            "name": NAME, "card_type": "resident", "id_number_masked": MASKED}
        assert store.record("appeals", "SQ20261203000001")["contact_phone"] == APPEAL_PHONE
        assert store.record("material_pages", ("m1", 0))["content"] == PAGE
        with store.write():  # the resident proved presence at this kiosk (central.grants)
            grant = grants.issue(store, platform.kiosk_id, store.resident_key(ID_NUMBER), grants.IDENTITY)
        headers = {"Authorization": f"Bearer {platform.token}", "X-Presence-Grant": grant}
        data = requests.get(platform.base_url + "/v1/documents/d1", headers=headers, timeout=10).json()["data"]
        assert data["holder_name"] == NAME and data["fields"]["address"] == FORM_ADDRESS
        reuse = requests.post(platform.base_url + "/v1/residents/materials", json={},
                              headers=headers, timeout=10).json()
        assert [m["material_id"] for m in reuse["materials"]] == ["household-register"]
        copy = stored_rows(central_db)
    if central_db.cluster is None:  # SQLite keeps freed pages until VACUUM: no old plain text in them
        copy += b"".join(p.read_bytes() for p in central_db.files())
    for value in (NAME, CARD_ADDRESS, FORM_ADDRESS, PHONE, APPEAL_TEXT, APPEAL_PHONE, RATING_COMMENT, BIRTH_DATE):
        assert not any(form in copy for form in forms_of(value)), value
    assert PAGE not in copy


def test_a_migrated_database_opens_again_unchanged(central_db):
    write_schema_1_database(central_db)
    Store(central_db.db, central_db.pepper).close()
    store = Store(central_db.db, central_db.pepper)
    try:
        assert store.record("ratings", "r1")["comment"] == RATING_COMMENT
    finally:
        store.close()


def test_a_database_newer_than_the_platform_is_refused_with_what_to_do(central_db):
    Store(central_db.db, central_db.pepper).close()
    store = Store(central_db.db, central_db.pepper)
    store.set_setting("schema_version", schema.SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(schema.SchemaError, match="newer than this platform"):
        Store(central_db.db, central_db.pepper)
