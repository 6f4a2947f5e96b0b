"""Administration of the reference platform, shared by the ``central`` CLI and tests."""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

from central import help as help_requests
from central import tokens
from central.intake import issue_document
from central.storage import Store, new_token, token_hash

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
STALE_HEARTBEAT_S = 15 * 60
TREND_WINDOW_S = 24 * 3600  # the fleet list's history: queue trend and silences of the last 24 h
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
        tokens.record_token(store, kiosk_id, token)
    return token


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
    queue_then: int | None = None  # queue depth / dead letters at the first sample of the last 24 h
    dead_then: int | None = None
    silences: list[tuple[float, float]] = field(default_factory=list)  # (last beat, next beat), last 24 h
    help_requests: list = field(default_factory=list)  # central.help.HelpRequest: open ones and the last 24 h's

    def history_note(self, when=None) -> str:
        """E.g. ``queue 3→40, dead 0→2; silent 2× (last 03:10–03:45, 35 min)`` -- empty if nothing moved."""
        when = when or (lambda ts: time.strftime("%m-%d %H:%M", time.localtime(ts)))
        notes = []
        if self.queue_then is not None and self.queue_then != self.queue_depth:
            notes.append(f"queue {self.queue_then}→{self.queue_depth}")
        if self.dead_then is not None and self.dead_then != self.dead:
            notes.append(f"dead {self.dead_then}→{self.dead}")
        if self.silences:
            start, end = self.silences[-1]
            times = f"{len(self.silences)}× (last " if len(self.silences) > 1 else "("
            notes.append(f"silent {times}{when(start)}–{when(end)[-5:]}, {int((end - start) // 60)} min)")
        return "; ".join(notes)

    @property
    def open_help(self) -> list:
        return [r for r in self.help_requests if r.acknowledged_at is None]

    def help_note(self, when=None) -> str:
        """The kiosk's help requests of the last 24 h (and any still open), with staff's response
        time: ``help 10:02 → answered in 3 min by 李 (fleet page); help 10:40 open``."""
        when = when or (lambda ts: time.strftime("%m-%d %H:%M", time.localtime(ts)))
        return "; ".join(help_requests.timeline_text(r, when) for r in self.help_requests)


def fleet(store: Store, now: float | None = None) -> list[KioskHealth]:
    """Every kiosk, what needs attention first: faults, paper, dead letters, silence."""
    now = time.time() if now is None else now
    since = now - TREND_WINDOW_S
    first = {r["kiosk_id"]: r for r in store.all(
        "SELECT h.kiosk_id, h.queue_depth, h.dead FROM heartbeats h JOIN (SELECT kiosk_id, MIN(received_at) AS "
        "first_at FROM heartbeats WHERE received_at >= ? GROUP BY kiosk_id) f "
        "ON h.kiosk_id = f.kiosk_id AND h.received_at = f.first_at", (since,))}
    silences: dict[str, list[tuple[float, float]]] = {}
    for r in store.all(  # gaps between consecutive samples longer than a heartbeat may be late
            "SELECT kiosk_id, prev_at, received_at FROM (SELECT kiosk_id, received_at, LAG(received_at) OVER "
            "(PARTITION BY kiosk_id ORDER BY received_at) AS prev_at FROM heartbeats WHERE received_at >= ?) g "
            "WHERE received_at >= ? AND received_at - prev_at > ? ORDER BY kiosk_id, received_at",
            (since - 6 * 3600, since, STALE_HEARTBEAT_S)):
        silences.setdefault(r["kiosk_id"], []).append((r["prev_at"], r["received_at"]))
    helped: dict[str, list] = {}
    seen = set()
    for request in help_requests.open_requests(store) + help_requests.recent(store, since):
        if request.request_id not in seen:
            seen.add(request.request_id)
            helped.setdefault(request.kiosk_id, []).append(request)
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
        if beat.get("maintenance_pin_failures"):  # someone at the cabinet guessing the technician PIN
            problems.append(f"{beat['maintenance_pin_failures']} wrong maintenance PIN(s)")
            severity = min(severity, 2)
        if row["last_seen"] is None:
            problems.append("never sent a heartbeat")
            severity = min(severity, 2)
        elif now - row["last_seen"] > STALE_HEARTBEAT_S:
            since_when = time.strftime("%m-%d %H:%M", time.localtime(row["last_seen"]))
            problems.append(f"silent for {int((now - row['last_seen']) // 60)} min (since {since_when})")
            severity = min(severity, 2)
        kiosk_help = sorted(helped.get(row["kiosk_id"], []), key=lambda r: r.received_at)
        for request in kiosk_help:
            if request.acknowledged_at is None:  # a resident is waiting for a person: first of all
                problems.insert(0, help_requests.alert_text(request, now))
                severity = min(severity, 0)
        then = first.get(row["kiosk_id"])
        result.append(KioskHealth(row["kiosk_id"], row["region"], row["last_seen"], problems, severity,
                                  int(queue.get("depth") or 0), int(queue.get("dead") or 0),
                                  str(beat.get("version") or ""), str(beat.get("menu_version") or ""),
                                  then["queue_depth"] if then else None, then["dead"] if then else None,
                                  silences.get(row["kiosk_id"], []), kiosk_help))
    result.sort(key=lambda k: (k.severity, -len(k.open_help), -(k.dead), k.kiosk_id))
    return result


@dataclass
class HistoryEvent:
    at: float
    queue_depth: int
    dead: int
    faults: int
    uptime_s: float
    note: str  # "first", "changed", "restarted", "after silence of N min", "latest"


def kiosk_history(store: Store, kiosk_id: str) -> list[HistoryEvent]:
    """One kiosk's heartbeat history (what is kept: retention.HEARTBEAT_RETENTION_DAYS), reduced to
    what happened: the first sample, every change of queue depth, dead letters or faults, each
    restart (uptime went down), each return after a silence, and the latest sample."""
    rows = store.all("SELECT received_at, queue_depth, dead, faults, uptime_s FROM heartbeats "
                     "WHERE kiosk_id = ? ORDER BY received_at", (kiosk_id,))
    events: list[HistoryEvent] = []
    previous = None
    for i, r in enumerate(rows):
        notes = []
        if previous is None:
            notes.append("first")
        else:
            if r["received_at"] - previous["received_at"] > STALE_HEARTBEAT_S:
                notes.append(f"back after {int((r['received_at'] - previous['received_at']) // 60)} min silent")
            if r["uptime_s"] < previous["uptime_s"]:
                notes.append("restarted")
            if (r["queue_depth"], r["dead"], r["faults"]) != (previous["queue_depth"], previous["dead"],
                                                              previous["faults"]):
                notes.append("changed")
        if i == len(rows) - 1 and previous is not None:
            notes.append("latest")
        if notes:
            events.append(HistoryEvent(r["received_at"], r["queue_depth"], r["dead"], r["faults"], r["uptime_s"],
                                       ", ".join(notes)))
        previous = r
    return events
