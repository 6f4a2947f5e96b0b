"""Help requests: a resident pressed 帮助 at a kiosk, and a member of staff answers.

A kiosk sends ``POST /v1/help`` (through its offline queue, so a request made while the network
was down arrives later, once: the kiosk's request id is the key).  The request carries the
screen's name, the kiosk's clock and the centre -- never anything about the resident.  Staff see
every open request on the fleet page and in ``central kiosks`` with its age, and acknowledge it
(fleet page form, ``central help ack ID``); who and when are recorded and audited.  The kiosk
polls ``GET /v1/help/{id}`` while its help panel is up and tells the resident 工作人员正在赶来.

The table has no migration: like the trust tables it is created (``IF NOT EXISTS``) when a
database is opened, by :data:`central.schema.SCHEMA`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from central import audit
from central.storage import Store


OPEN, ACKNOWLEDGED = "open", "acknowledged"
HELP_RETENTION_DAYS = 180  # then a request (open or answered) is forgotten by central.maintenance
TIMELINE_S = 24 * 3600  # the fleet page's per-kiosk timeline: the last 24 h
_COLUMNS = "request_id, kiosk_id, screen, centre, requested_at, received_at, acknowledged_at, acknowledged_by"


class HelpConflict(Exception):
    """The request id is known with another body, or from another kiosk."""


class HelpNotFound(LookupError):
    pass


@dataclass
class HelpRequest:
    request_id: str
    kiosk_id: str
    screen: str
    centre: str | None
    requested_at: str | None
    received_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None

    @property
    def status(self) -> str:
        return ACKNOWLEDGED if self.acknowledged_at is not None else OPEN

    def response_time_s(self) -> float | None:
        return None if self.acknowledged_at is None else max(0.0, self.acknowledged_at - self.received_at)


def _row(row: dict | None) -> HelpRequest | None:
    return HelpRequest(**row) if row else None


def receive(store: Store, kiosk_id: str, request_id: str, screen: str, centre: str | None,
            requested_at: str | None, now: float | None = None) -> tuple[HelpRequest, bool]:
    """Store a request (once); returns it and whether it is new.  The same id again with the same
    fields is the same request (a retried delivery); with other fields or from another kiosk it
    is refused (HelpConflict)."""
    now = time.time() if now is None else now
    with store.write():
        inserted = store.execute(
            "INSERT INTO help_requests (request_id, kiosk_id, screen, centre, requested_at, received_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (request_id) DO NOTHING",
            (request_id, kiosk_id, screen, centre, requested_at, now)).rowcount == 1
    found = _row(store.one(f"SELECT {_COLUMNS} FROM help_requests WHERE request_id = ?", (request_id,)))
    if not inserted and (found.kiosk_id, found.screen, found.centre, found.requested_at) != (
            kiosk_id, screen, centre, requested_at):
        raise HelpConflict(request_id)
    return found, inserted


def of_kiosk(store: Store, kiosk_id: str, request_id: str) -> HelpRequest | None:
    """The kiosk's own request (None for an unknown id and for another kiosk's alike)."""
    return _row(store.one(f"SELECT {_COLUMNS} FROM help_requests WHERE request_id = ? AND kiosk_id = ?",
                          (request_id, kiosk_id)))


def get(store: Store, request_id: str) -> HelpRequest | None:
    return _row(store.one(f"SELECT {_COLUMNS} FROM help_requests WHERE request_id = ?", (request_id,)))


def find(store: Store, prefix: str) -> HelpRequest:
    """A request by its id or an unambiguous prefix of it (at least 6 characters: what the
    fleet page and ``central kiosks`` show)."""
    prefix = prefix.strip().lower()
    if len(prefix) < 6 or not re.fullmatch(r"[0-9a-f-]+", prefix):
        raise HelpNotFound(f"give at least 6 characters of the request id (got {prefix!r})")
    rows = store.all(f"SELECT {_COLUMNS} FROM help_requests WHERE request_id LIKE ? LIMIT 2", (prefix + "%",))
    if not rows:
        raise HelpNotFound(f"no help request {prefix}")
    if len(rows) > 1:
        raise HelpNotFound(f"{prefix} names more than one help request: give more of its id")
    return HelpRequest(**rows[0])


def acknowledge(store: Store, request_id: str, by: str, via: str, now: float | None = None) -> tuple[HelpRequest, bool]:
    """A member of staff answers: record who and when (once; audited).  Returns the request and
    whether this call acknowledged it (False: it was acknowledged before, left as it was)."""
    now = time.time() if now is None else now
    by = " ".join(by.split())[:80] or "staff"
    with store.write():
        row = store.one_for_update(f"SELECT {_COLUMNS} FROM help_requests WHERE request_id = ?", (request_id,))
        if row is None:
            raise HelpNotFound(f"no help request {request_id}")
        if row["acknowledged_at"] is not None:
            return HelpRequest(**row), False
        store.execute("UPDATE help_requests SET acknowledged_at = ?, acknowledged_by = ? WHERE request_id = ?",
                      (now, by, request_id))
    request = get(store, request_id)
    audit.record(store, request.kiosk_id, "help acknowledged", None,
                 f"help {request_id} by {by} via {via} after {int(request.response_time_s())} s")
    return request, True


def open_requests(store: Store) -> list[HelpRequest]:
    """Every request no one has acknowledged, oldest first."""
    return [HelpRequest(**r) for r in store.all(
        f"SELECT {_COLUMNS} FROM help_requests WHERE acknowledged_at IS NULL ORDER BY received_at")]


def recent(store: Store, since: float) -> list[HelpRequest]:
    """Requests received since ``since`` (open or answered), oldest first: the timelines."""
    return [HelpRequest(**r) for r in store.all(
        f"SELECT {_COLUMNS} FROM help_requests WHERE received_at >= ? ORDER BY received_at", (since,))]


def purge(store: Store, older_than_s: float, now: float | None = None) -> int:
    """Forget requests received more than ``older_than_s`` ago (maintenance); returns how many."""
    cutoff = (time.time() if now is None else now) - older_than_s
    with store.write(durable=False):
        return store.execute("DELETE FROM help_requests WHERE received_at < ?", (cutoff,)).rowcount


def age(seconds: float) -> str:
    """``45 s``, ``3 min``, ``2 h 05 min``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def alert_text(request: HelpRequest, now: float) -> str:
    """The line ``central kiosks`` and the fleet page show for an open request."""
    return (f"求助 help requested {age(now - request.received_at)} ago on screen {request.screen} "
            f"(request {request.request_id[:8]})")


def timeline_text(request: HelpRequest, when) -> str:
    """One request in a kiosk's timeline: when, and how long staff took (or that it is open)."""
    if request.acknowledged_at is None:
        return f"help {when(request.received_at)} open"
    return (f"help {when(request.received_at)} → answered in {age(request.response_time_s())} "
            f"by {request.acknowledged_by}")


# -- CSRF: the fleet page's acknowledge form ------------------------------------------------------
# The page is opened with HTTP Basic, which a browser sends again by itself -- also with a form
# another site posts to it.  Each form therefore carries a token only the page can know: an HMAC,
# under a random key kept in the database, of the request it acknowledges.  The handler also
# refuses a cross-site Origin.

def _csrf_key(store: Store) -> bytes:
    key = store.get_setting("help_csrf_key")
    if key is None:
        with store.write():
            store.execute("INSERT INTO settings (name, value) VALUES ('help_csrf_key', ?) ON CONFLICT (name) DO NOTHING",
                          (f'"{secrets.token_hex(32)}"',))
        key = store.get_setting("help_csrf_key")
    return bytes.fromhex(key)


def csrf_token(store: Store, request_id: str) -> str:
    return hmac.new(_csrf_key(store), f"help-ack:{request_id}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(store: Store, request_id: str, token: str) -> bool:
    return hmac.compare_digest(csrf_token(store, request_id), token or "")
