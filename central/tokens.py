"""Kiosk tokens: issued at enrolment, expiring, rotated through the heartbeat, revocable.

A token is valid until ``expires_at``; within ``ROTATE_BEFORE_S`` of that the heartbeat answer hands
the kiosk a new one, and the old one is honoured ``GRACE_S`` longer (the answer may be lost: a
heartbeat still signed with the old token gets another new one -- unless the new one has been
used already, which proves the kiosk holds it).
Enrolling again or revoking the kiosk ends every earlier token at once.  Only SHA-256 hashes of
the tokens are stored (they are 256-bit random, central.storage.new_token).
"""
from __future__ import annotations

import time

from central.storage import Store, new_token, token_hash

TOKEN_TTL_S = 30 * 86400.0
ROTATE_BEFORE_S = 7 * 86400.0
GRACE_S = 86400.0


def record_token(store: Store, kiosk_id: str, token: str, now: float | None = None) -> None:
    """The kiosk's only token from now on (enrolment): earlier ones stop working.  Inside a write."""
    now = time.time() if now is None else now
    store.execute("DELETE FROM kiosk_tokens WHERE kiosk_id = ?", (kiosk_id,))
    store.execute("INSERT INTO kiosk_tokens (token_hash, kiosk_id, issued_at, expires_at) VALUES (?,?,?,?)",
                  (token_hash(token), kiosk_id, now, now + TOKEN_TTL_S))


def authenticate(store: Store, token: str, now: float | None = None) -> dict | None:
    """``{kiosk_id, expires_at, superseded_at}`` for a valid token of a kiosk not revoked, else None."""
    now = time.time() if now is None else now
    digest = token_hash(token)
    row = store.one("SELECT t.kiosk_id, t.expires_at, t.superseded_at, t.first_used_at FROM kiosk_tokens t "
                    "JOIN kiosks k ON k.kiosk_id = t.kiosk_id WHERE t.token_hash = ? AND k.revoked = 0", (digest,))
    if row is None or row["expires_at"] <= now:
        return None
    if row["superseded_at"] is not None and row["superseded_at"] + GRACE_S <= now:
        return None
    if row["first_used_at"] is None:  # once per token: the kiosk has it
        with store.write(durable=False):
            store.execute("UPDATE kiosk_tokens SET first_used_at = ? WHERE token_hash = ? AND first_used_at IS NULL",
                          (now, digest))
    return row


def rotate_if_due(store: Store, kiosk_id: str, presented: dict, now: float | None = None) -> str | None:
    """A new token when the presented one is near its end, or superseded by one the kiosk never
    used (it did not get the last hand-over); else None."""
    now = time.time() if now is None else now
    if presented["superseded_at"] is None and presented["expires_at"] - now > ROTATE_BEFORE_S:
        return None
    if presented["superseded_at"] is not None and store.one(
            "SELECT 1 AS x FROM kiosk_tokens WHERE kiosk_id = ? AND superseded_at IS NULL "
            "AND first_used_at IS NOT NULL", (kiosk_id,)) is not None:
        return None
    token = new_token()
    with store.write():
        store.execute("UPDATE kiosk_tokens SET superseded_at = ? WHERE kiosk_id = ? AND superseded_at IS NULL",
                      (now, kiosk_id))
        store.execute("INSERT INTO kiosk_tokens (token_hash, kiosk_id, issued_at, expires_at) VALUES (?,?,?,?)",
                      (token_hash(token), kiosk_id, now, now + TOKEN_TTL_S))
        store.execute("UPDATE kiosks SET token_hash = ? WHERE kiosk_id = ?", (token_hash(token), kiosk_id))
    return token


def revoke(store: Store, kiosk_id: str) -> bool:
    """Cut a kiosk off at once: its tokens and presence grants end now.  False if unknown."""
    with store.write():
        found = store.execute("UPDATE kiosks SET revoked = 1 WHERE kiosk_id = ?", (kiosk_id,)).rowcount > 0
        store.execute("DELETE FROM kiosk_tokens WHERE kiosk_id = ?", (kiosk_id,))
        store.execute("DELETE FROM presence_grants WHERE kiosk_id = ?", (kiosk_id,))
    return found
