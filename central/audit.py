"""The audit log: every read of a resident's data, and every presence grant, in the database.

Which kiosk, which resident key (the keyed hash, never the ID number), what (the action and the
record read), when, and whether it was allowed.  ``central audit`` lists it.
"""
from __future__ import annotations

import time
import uuid

from central.storage import Store

# Kept six months: the minimum the Cybersecurity Law (网络安全法 art. 21) asks of network logs.
AUDIT_RETENTION_DAYS = 180


def record(store: Store, kiosk_id: str, action: str, resident_key: str | None, target: str | None = None,
           outcome: str = "allowed") -> None:
    """One entry, committed on its own (a refused read is audited too)."""
    with store.write():
        store.execute("INSERT INTO audit_log (audit_id, at, kiosk_id, resident_key, action, target, outcome) "
                      "VALUES (?,?,?,?,?,?,?)",
                      (uuid.uuid4().hex, time.time(), kiosk_id, resident_key, action, target, outcome))


def purge(store: Store, older_than_s: float, now: float | None = None) -> int:
    """Forget entries older than ``older_than_s`` (maintenance); returns how many."""
    cutoff = (time.time() if now is None else now) - older_than_s
    with store.write(durable=False):
        return store.execute("DELETE FROM audit_log WHERE at < ?", (cutoff,)).rowcount


def entries(store: Store, kiosk_id: str | None = None, resident_key: str | None = None,
            limit: int = 100) -> list[dict]:
    """Newest first."""
    conditions, params = [], []
    if kiosk_id:
        conditions.append("kiosk_id = ?")
        params.append(kiosk_id)
    if resident_key:
        conditions.append("resident_key = ?")
        params.append(resident_key)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return store.all(f"SELECT at, kiosk_id, resident_key, action, target, outcome FROM audit_log{where} "
                     "ORDER BY at DESC LIMIT ?", (*params, limit))
