"""Administration of the reference platform, shared by the ``central`` CLI and tests."""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from central.app import issue_document
from central.storage import Store, new_token, token_hash

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
STALE_HEARTBEAT_S = 15 * 60
DEFAULT_REGION = "440304"


def create_enroll_code(store: Store, region: str = DEFAULT_REGION, ttl_s: float = 24 * 3600) -> str:
    """A one-time code (shown once; only its hash is kept), e.g. ``K7QM-X2PA-9R``."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    now = time.time()
    with store.write():
        store.execute("INSERT INTO enroll_codes (code_hash, region, created_at, expires_at) VALUES (?,?,?,?)",
                      (token_hash(code), region, now, now + ttl_s))
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def issue_kiosk_token(store: Store, kiosk_id: str, region: str = DEFAULT_REGION, hostname: str | None = None) -> str:
    """Register (or re-key) a kiosk directly, without a code: dev kiosks and tests."""
    token = new_token()
    with store.write():
        store.execute("INSERT INTO kiosks (kiosk_id, token_hash, region, hostname, enrolled_at) VALUES (?,?,?,?,?) "
                      "ON CONFLICT (kiosk_id) DO UPDATE SET token_hash = excluded.token_hash, "
                      "region = excluded.region, revoked = 0",
                      (kiosk_id, token_hash(token), region, hostname, time.time()))
    return token


def revoke_kiosk(store: Store, kiosk_id: str) -> bool:
    with store.write():
        cursor = store.execute("UPDATE kiosks SET revoked = 1 WHERE kiosk_id = ?", (kiosk_id,))
    return cursor.rowcount > 0


def list_applications(store: Store, status: str | None = None, limit: int = 50) -> list[dict]:
    sql = ("SELECT application_no, service_id, service_name, kind, status, kiosk_id, received_at, "
           "expected_completion, offline FROM applications")
    params: tuple = ()
    if status:
        sql += " WHERE status = ?"
        params = (status,)
    return store.all(sql + " ORDER BY received_at DESC LIMIT ?", params + (limit,))


class AdminError(Exception):
    pass


def approve_application(store: Store, application_no: str) -> dict:
    """An officer approves a 承诺件: its document (if any) becomes printable."""
    with store.write():
        row = store.one_for_update("SELECT status FROM applications WHERE application_no = ?", (application_no,))
        if row is None:
            raise AdminError(f"no application {application_no}")
        if row["status"] != "accepted":
            raise AdminError(f"application {application_no} is already {row['status']}")
        store.execute("UPDATE applications SET status = 'approved', decided_at = ? WHERE application_no = ?",
                      (time.time(), application_no))
        issue_document(store, application_no)
    return store.one("SELECT application_no, status FROM applications WHERE application_no = ?", (application_no,))


def publish_menu(store: Store, content: bytes, content_type: str | None = None) -> str:
    """Store the bundle bytes as they are (the menu engineer's format); return its ETag."""
    if content_type is None:
        try:
            json.loads(content)
            content_type = "application/json"
        except ValueError:
            content_type = "application/octet-stream"
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    with store.write():
        store.execute("INSERT INTO menu (slot, etag, content, content_type, published_at) VALUES (1,?,?,?,?) "
                      "ON CONFLICT (slot) DO UPDATE SET etag = excluded.etag, content = excluded.content, "
                      "content_type = excluded.content_type, published_at = excluded.published_at",
                      (etag, content, content_type, time.time()))
    return etag


@dataclass
class KioskHealth:
    kiosk_id: str
    region: str
    last_seen: float | None
    problems: list[str]
    severity: int  # 0 fault … 4 fine; the fleet list sorts on it
    queue_depth: int
    dead: int
    version: str
    menu_version: str


def fleet(store: Store, now: float | None = None) -> list[KioskHealth]:
    """Every kiosk, what needs attention first: faults, paper, dead letters, silence."""
    now = time.time() if now is None else now
    result = []
    for row in store.all("SELECT * FROM kiosks WHERE revoked = 0"):
        beat = json.loads(row["last_heartbeat"]) if row["last_heartbeat"] else {}
        problems: list[str] = []
        severity = 4
        for role, device in sorted((beat.get("devices") or {}).items()):
            state = str(device.get("state", "")).upper()
            reason = device.get("reason") or ""
            code = device.get("code") or ""
            said = f"{reason} ({code})" if reason and code else reason or code
            if state in ("FAULT", "DISCONNECTED"):
                problems.append(f"{role} {state.lower()}: {said}")
                severity = min(severity, 0)
            elif "paper" in (reason + code).lower():
                problems.append(f"{role} paper: {said}")
                severity = min(severity, 1)
            elif state == "WARNING":
                problems.append(f"{role} warning: {said}")
                severity = min(severity, 3)
        queue = beat.get("queue") or {}
        if queue.get("dead"):
            problems.append(f"{queue['dead']} dead letter(s)")
            severity = min(severity, 2)
        if row["last_seen"] is None:
            problems.append("never sent a heartbeat")
            severity = min(severity, 2)
        elif now - row["last_seen"] > STALE_HEARTBEAT_S:
            problems.append(f"silent for {int((now - row['last_seen']) // 60)} min")
            severity = min(severity, 2)
        result.append(KioskHealth(row["kiosk_id"], row["region"], row["last_seen"], problems, severity,
                                  int(queue.get("depth") or 0), int(queue.get("dead") or 0),
                                  str(beat.get("version") or ""), str(beat.get("menu_version") or "")))
    result.sort(key=lambda k: (k.severity, -(k.dead), k.kiosk_id))
    return result
