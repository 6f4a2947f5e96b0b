"""How long the platform keeps each kind of record, and the purges that enforce it.

The periods are stated, with the reasons, in docs/security.md ("Retention").
Each purge runs in short non-durable transactions (a purge lost in a power cut is done again
at the next round), off the request path (:mod:`central.maintenance`), and returns a count
only.  Erased text is stored as ``''`` (:mod:`central.records`); SQLite's ``secure_delete``
overwrites what a purge removes.
"""
from __future__ import annotations

import time

DAY_S = 86400.0
HEARTBEAT_RETENTION_DAYS = 3     # heartbeat history (samples, see central.app); the latest beat is kept apart
SCAN_RETENTION_DAYS = 90         # scanned pages, after their application was decided (材料复用 until then)
PRINTED_DOCUMENT_DAYS = 30       # a printed document's fields (holder, form); the row stays as the record
APPEAL_RETENTION_DAYS = 365      # an appeal's text and contact phone; category and dates stay
RATING_COMMENT_DAYS = 365        # a rating's free-text comment; the level stays for the statistics
VERIFICATION_RETENTION_DAYS = 180  # identity checks (resident key, score)
CHUNK = 200


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def purge_heartbeats(store, older_than_s: float, now: float | None = None, kiosks_per_commit: int = CHUNK) -> int:
    """Drop heartbeat history samples older than ``older_than_s``.  Kiosk by kiosk along the
    primary key (no extra index), ``kiosks_per_commit`` kiosks per transaction."""
    cutoff = _now(now) - older_than_s
    kiosks = [r["kiosk_id"] for r in store.all("SELECT kiosk_id FROM kiosks ORDER BY kiosk_id")]
    purged = 0
    for start in range(0, len(kiosks), kiosks_per_commit):
        with store.write(durable=False):
            for kiosk_id in kiosks[start:start + kiosks_per_commit]:
                purged += store.execute("DELETE FROM heartbeats WHERE kiosk_id = ? AND received_at < ?",
                                        (kiosk_id, cutoff)).rowcount
    return purged


def purge_scans(store, older_than_s: float, now: float | None = None) -> int:
    """Delete the materials (and their scanned pages) of applications decided more than
    ``older_than_s`` ago; an application still waiting for an officer keeps its scans.
    Returns how many materials went; 材料复用 no longer offers them."""
    rows = store.all("SELECT m.material_id FROM materials m JOIN applications a ON a.application_no = "
                     "m.application_no WHERE a.decided_at IS NOT NULL AND a.decided_at < ?",
                     (_now(now) - older_than_s,))
    ids = [r["material_id"] for r in rows]
    for start in range(0, len(ids), CHUNK):
        chunk = tuple(ids[start:start + CHUNK])
        marks = ", ".join("?" * len(chunk))
        with store.write(durable=False):
            store.execute(f"DELETE FROM material_pages WHERE material_id IN ({marks})", chunk)
            store.execute(f"DELETE FROM materials WHERE material_id IN ({marks})", chunk)
    return len(ids)


def _erase(store, sql: str, cutoff: float) -> int:
    with store.write(durable=False):
        return store.execute(sql, (cutoff,)).rowcount


def erase_printed_documents(store, older_than_s: float, now: float | None = None) -> int:
    """Erase the fields of documents printed more than ``older_than_s`` ago (no reprint exists)."""
    return _erase(store, "UPDATE documents SET data = '' WHERE status = 'printed' AND printed_at < ? "
                         "AND data <> ''", _now(now) - older_than_s)


def erase_appeals(store, older_than_s: float, now: float | None = None) -> int:
    return _erase(store, "UPDATE appeals SET text = '', contact_phone = NULL WHERE created_at < ? "
                         "AND (text <> '' OR contact_phone IS NOT NULL)", _now(now) - older_than_s)


def erase_rating_comments(store, older_than_s: float, now: float | None = None) -> int:
    return _erase(store, "UPDATE ratings SET comment = '' WHERE created_at < ? AND comment <> ''",
                  _now(now) - older_than_s)


def purge_verifications(store, older_than_s: float, now: float | None = None) -> int:
    with store.write(durable=False):
        return store.execute("DELETE FROM verifications WHERE created_at < ?",
                             (_now(now) - older_than_s,)).rowcount
