"""Idempotency keys: a kiosk's retry of a request it already made gets the first answer again.

A key is claimed (``processing``) before the work and finished (``done``, with the response)
in the work's own transaction; a claim left by a crash is taken over after its lease.  Keys
are forgotten after :data:`KEY_RETENTION_DAYS` (:mod:`central.maintenance`).  The request body
is kept only as a SHA-256 (``body_hash``), the response as sent (no resident's fields: numbers,
statuses, pickup codes).
"""
from __future__ import annotations

import json
import time
from typing import Any

PROCESSING_LEASE_S = 60.0  # a "processing" key older than this was left by a crash: take it over
# Idempotency keys are forgotten this long after their last use (docs/platform.md, "Retention"):
# twice the 90 days a kiosk keeps its delivered items' tombstones (offline_queue.outbox.TOMBSTONE_DAYS).
KEY_RETENTION_DAYS = 180


class IdempotencyKeys:
    """Store methods for the ``idempotency`` table (a mixin of :class:`central.storage.Store`)."""

    def claim_key(self, kiosk_id: str, scope: str, key: str, body_hash: str) -> tuple[str, Any]:
        """Claim an Idempotency-Key.

        Returns ``("new", None)`` (the caller processes and then calls
        :meth:`finish_key` in its own transaction), ``("replay", (status, body))``,
        ``("mismatch", None)`` (same key, different body) or ``("processing", None)``.
        """
        known = self.one("SELECT body_hash, state, status_code, response FROM idempotency "
                         "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?", (kiosk_id, scope, key))
        if known is not None and known["state"] == "done":  # finished rows never change: no write needed
            if known["body_hash"] != body_hash:
                return "mismatch", None
            return "replay", (known["status_code"], json.loads(known["response"]))
        now = time.time()
        with self.write(durable=False):  # a claim lost in a power cut only means the work is redone
            if self.dialect.key_lock is not None:  # PostgreSQL: wait for a batch recording this key right now
                self.lock_key(kiosk_id, scope, key)
            # The usual case is a new key: insert it; only a key someone else holds needs a read.
            if self.execute("INSERT INTO idempotency (kiosk_id, scope, idem_key, body_hash, state, "
                            "created_at, updated_at) VALUES (?, ?, ?, ?, 'processing', ?, ?) "
                            "ON CONFLICT (kiosk_id, scope, idem_key) DO NOTHING",
                            (kiosk_id, scope, key, body_hash, now, now)).rowcount == 1:
                return "new", None
            # Locked: two take-overs cannot both win.
            row = self.one_for_update("SELECT * FROM idempotency WHERE kiosk_id = ? AND scope = ? AND idem_key = ?",
                                      (kiosk_id, scope, key))
            if row["body_hash"] != body_hash:
                return "mismatch", None
            if row["state"] == "done":
                return "replay", (row["status_code"], json.loads(row["response"]))
            if now - row["updated_at"] > PROCESSING_LEASE_S:
                self.execute("UPDATE idempotency SET updated_at = ? WHERE kiosk_id = ? AND scope = ? "
                             "AND idem_key = ?", (now, kiosk_id, scope, key))
                return "new", None
            return "processing", None

    def finish_key(self, kiosk_id: str, scope: str, key: str, status: int, response: Any,
                   response_json: str | None = None) -> None:
        """Record the response; call inside the same write transaction as the work itself.
        ``response_json``: the response already serialised (saves encoding it twice)."""
        if response_json is None:
            response_json = json.dumps(response, ensure_ascii=False)
        self.execute("UPDATE idempotency SET state = 'done', status_code = ?, response = ?, updated_at = ? "
                     "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?",
                     (status, response_json, time.time(), kiosk_id, scope, key))

    def lock_key(self, kiosk_id: str, scope: str, key: str) -> None:
        """Hold one key until the write transaction ends (PostgreSQL; SQLite's write lock already
        holds everything)."""
        if self.dialect.key_lock is not None:
            self.execute(self.dialect.key_lock, (f"{kiosk_id}\x1f{scope}\x1f{key}",))

    def key_state(self, kiosk_id: str, scope: str, key: str) -> dict | None:
        """The key's row (body_hash, state, status_code, response, updated_at), or None if unseen.
        Inside :meth:`write` before :meth:`record_key`: on PostgreSQL the key is held (``lock_key``)
        until the transaction ends, so no claim of it can slip in between."""
        if self.dialect.key_lock is not None:
            self.lock_key(kiosk_id, scope, key)
        return self.one("SELECT body_hash, state, status_code, response, updated_at FROM idempotency "
                        "WHERE kiosk_id = ? AND scope = ? AND idem_key = ?", (kiosk_id, scope, key))

    def record_key(self, kiosk_id: str, scope: str, key: str, body_hash: str, status: int,
                   response_json: str) -> None:
        """Record a finished key in one step (a batch item: the batch's own transaction is the
        claim); takes over a claim whose processing lease ran out.  Call inside :meth:`write`."""
        now = time.time()
        self.execute("INSERT INTO idempotency (kiosk_id, scope, idem_key, body_hash, state, status_code, "
                     "response, created_at, updated_at) VALUES (?, ?, ?, ?, 'done', ?, ?, ?, ?) "
                     "ON CONFLICT (kiosk_id, scope, idem_key) DO UPDATE SET state = 'done', "
                     "status_code = excluded.status_code, response = excluded.response, "
                     "updated_at = excluded.updated_at",
                     (kiosk_id, scope, key, body_hash, status, response_json, now, now))

    def release_key(self, kiosk_id: str, scope: str, key: str) -> None:
        """The work failed: forget the claim so a retry can do it."""
        with self.write(durable=False):
            self.execute("DELETE FROM idempotency WHERE kiosk_id = ? AND scope = ? AND idem_key = ? "
                         "AND state = 'processing'", (kiosk_id, scope, key))

    def purge_keys(self, older_than_s: float, now: float | None = None, chunk: int = 1000) -> int:
        """Forget idempotency keys last used more than ``older_than_s`` ago; returns how many.

        Finished keys, and claims abandoned that long ago (never one still within its lease,
        whatever ``older_than_s``: its request may yet finish).
        Walks the primary key in chunks of ``chunk`` rows, one short non-durable transaction
        each (a purge lost in a power cut is done again next time), so requests keep flowing
        and no per-request index is needed.  Maintenance only: never on the request path.
        """
        now = time.time() if now is None else now
        cutoff, abandoned = now - older_than_s, now - 2 * PROCESSING_LEASE_S
        columns = "(kiosk_id, scope, idem_key)"
        after: tuple | None = None
        purged = 0
        while True:
            where, params = (f"WHERE {columns} > (?, ?, ?) ", after) if after else ("", ())
            bound = self.one(f"SELECT kiosk_id, scope, idem_key FROM idempotency {where}"
                             f"ORDER BY kiosk_id, scope, idem_key LIMIT 1 OFFSET ?", params + (chunk - 1,))
            last = (bound["kiosk_id"], bound["scope"], bound["idem_key"]) if bound else None
            conditions = [f"{columns} > (?, ?, ?)"] if after else []
            if last:
                conditions.append(f"{columns} <= (?, ?, ?)")
            with self.write(durable=False):
                purged += self.execute(
                    "DELETE FROM idempotency WHERE " + " AND ".join(
                        conditions + ["updated_at < ?", "(state = 'done' OR updated_at < ?)"]),
                    (after or ()) + (last or ()) + (cutoff, abandoned)).rowcount
            if last is None:
                return purged
            after = last
