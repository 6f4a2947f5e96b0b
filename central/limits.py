"""Rate limits with lockout on every lookup an attacker could repeat to guess a secret.

Failures are counted per (scope, subject) in the database -- a kiosk, a resident key, a client
address -- so every worker process sees the same count.  ``MAX`` failures within ``window_s`` lock
the subject for ``lockout_s``; while locked every attempt is refused with 429 before the lookup is
made, so the right answer guessed during a lockout is refused like any other.  Successes do not
reset the count (interleaving one known-good lookup must not buy more guesses).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import HTTPException

from central.storage import Store


@dataclass(frozen=True)
class Limit:
    scope: str
    max_failures: int
    window_s: float
    lockout_s: float


PICKUP_PER_KIOSK = Limit("pickup:kiosk", 10, 900.0, 900.0)
PICKUP_PER_RESIDENT = Limit("pickup:resident", 5, 900.0, 1800.0)
IDENTITY_PER_KIOSK = Limit("identity:kiosk", 20, 900.0, 600.0)
IDENTITY_PER_RESIDENT = Limit("identity:resident", 5, 900.0, 1800.0)
EID_PER_KIOSK = Limit("eid:kiosk", 10, 900.0, 900.0)         # e-ID codes refused (forged, expired, used, region)
LOOKUP_PER_KIOSK = Limit("lookup:kiosk", 20, 900.0, 900.0)   # unknown numbers, reads refused for lack of a grant
ENROLL_PER_CLIENT = Limit("enroll:client", 5, 900.0, 900.0)
ADMIN_PER_CLIENT = Limit("admin:client", 5, 900.0, 900.0)
ALL = (PICKUP_PER_KIOSK, PICKUP_PER_RESIDENT, IDENTITY_PER_KIOSK, IDENTITY_PER_RESIDENT, EID_PER_KIOSK, LOOKUP_PER_KIOSK,
       ENROLL_PER_CLIENT, ADMIN_PER_CLIENT)


def check(store: Store, limit: Limit, subject: str, now: float | None = None) -> None:
    """429 (with Retry-After) while ``subject`` is locked out of ``limit``."""
    now = time.time() if now is None else now
    row = store.one("SELECT locked_until FROM rate_limits WHERE scope = ? AND subject = ?", (limit.scope, subject))
    if row is not None and row["locked_until"] is not None and row["locked_until"] > now:
        wait = int(row["locked_until"] - now) + 1
        raise HTTPException(429, {"message": "too many failed attempts: try again later", "retryable": False},
                            headers={"Retry-After": str(wait)})


def fail(store: Store, limit: Limit, subject: str, source: str, now: float | None = None) -> bool:
    """Count one failure from ``source`` (the kiosk, or the client address); True when it locked
    the subject out."""
    now = time.time() if now is None else now
    stale = now - limit.window_s
    with store.write():
        row = store.execute(
            "INSERT INTO rate_limits (scope, subject, window_start, failures, source) VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT (scope, subject) DO UPDATE SET "
            "failures = CASE WHEN rate_limits.window_start < ? THEN 1 ELSE rate_limits.failures + 1 END, "
            "window_start = CASE WHEN rate_limits.window_start < ? THEN excluded.window_start "
            "ELSE rate_limits.window_start END, source = excluded.source RETURNING failures",
            (limit.scope, subject, now, source, stale, stale)).fetchone()
        if int(row["failures"]) < limit.max_failures:
            return False
        store.execute("UPDATE rate_limits SET locked_until = ?, failures = 0, window_start = ? "
                      "WHERE scope = ? AND subject = ?", (now + limit.lockout_s, now, limit.scope, subject))
    return True


def purge_ended(store: Store, now: float | None = None) -> int:
    """Forget counts whose window and lockout are over (maintenance); returns how many."""
    now = time.time() if now is None else now
    longest = max(limit.window_s for limit in ALL)
    with store.write(durable=False):
        return store.execute("DELETE FROM rate_limits WHERE window_start < ? AND (locked_until IS NULL "
                             "OR locked_until < ?)", (now - longest, now)).rowcount


def lockouts(store: Store, now: float | None = None) -> list[dict]:
    """Lockouts in force (scope, source, locked_until) -- for the fleet page; the subject itself is
    left out (it may be a resident key)."""
    now = time.time() if now is None else now
    return store.all("SELECT scope, source, locked_until FROM rate_limits WHERE locked_until > ? "
                     "ORDER BY locked_until DESC", (now,))
