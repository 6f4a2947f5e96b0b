"""Housekeeping of the reference platform, off the request path.

``central serve`` runs :func:`run` in a background thread shortly after start and then every
``--maintenance-every`` (default 1 h); ``central maintenance`` runs it once.  Each round
enforces the retention of :mod:`central.retention` (docs/security.md): it
forgets idempotency keys and heartbeat history past their retention, deletes the scans of
decided applications, and erases printed documents' fields, old appeals' texts and phones,
old rating comments and old identity checks, and help requests past
``help.HELP_RETENTION_DAYS``; it removes presence grants and rate-limit counts
that ended (central.grants, central.limits) and audit entries older than
``audit.AUDIT_RETENTION_DAYS``.  Logs carry counts only.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from central import audit, eid, grants, limits
from central import help as help_requests
from central import retention as rules
from central.idempotency import KEY_RETENTION_DAYS
from central.retention import DAY_S, HEARTBEAT_RETENTION_DAYS
from central.storage import Store
from common.worker import Worker

log = logging.getLogger("central.maintenance")

LABELS = {"idempotency_keys": "idempotency key(s)", "heartbeats": "heartbeat sample(s)",
          "scans": "scanned material(s) of decided applications", "documents": "printed document(s) erased",
          "appeals": "appeal text(s) erased", "ratings": "rating comment(s) erased",
          "verifications": "identity check(s)", "presence_grants": "ended presence grant(s)",
          "rate_limits": "ended rate-limit count(s)", "audit_entries": "audit entries",
          "help_requests": "help request(s)", "eid_codes_used": "used e-ID code(s) past expiry"}


@dataclass
class Retention:
    keys_s: float = KEY_RETENTION_DAYS * DAY_S
    heartbeats_s: float = HEARTBEAT_RETENTION_DAYS * DAY_S
    scans_s: float = rules.SCAN_RETENTION_DAYS * DAY_S
    printed_documents_s: float = rules.PRINTED_DOCUMENT_DAYS * DAY_S
    appeals_s: float = rules.APPEAL_RETENTION_DAYS * DAY_S
    rating_comments_s: float = rules.RATING_COMMENT_DAYS * DAY_S
    verifications_s: float = rules.VERIFICATION_RETENTION_DAYS * DAY_S
    audit_s: float = audit.AUDIT_RETENTION_DAYS * DAY_S
    help_s: float = help_requests.HELP_RETENTION_DAYS * DAY_S


def run(store: Store, retention: Retention | None = None, now: float | None = None) -> dict[str, int]:
    """One round of housekeeping; returns what was removed or erased, by kind."""
    retention = retention or Retention()
    done = {"idempotency_keys": store.purge_keys(retention.keys_s, now=now),
            "heartbeats": rules.purge_heartbeats(store, retention.heartbeats_s, now=now),
            "scans": rules.purge_scans(store, retention.scans_s, now=now),
            "documents": rules.erase_printed_documents(store, retention.printed_documents_s, now=now),
            "appeals": rules.erase_appeals(store, retention.appeals_s, now=now),
            "ratings": rules.erase_rating_comments(store, retention.rating_comments_s, now=now),
            "verifications": rules.purge_verifications(store, retention.verifications_s, now=now),
            "presence_grants": grants.purge_expired(store, now=now),
            "eid_codes_used": eid.purge_used(store, now=now),
            "rate_limits": limits.purge_ended(store, now=now),
            "audit_entries": audit.purge(store, retention.audit_s, now=now),
            "help_requests": help_requests.purge(store, retention.help_s, now=now)}
    if any(done.values()):
        log.info("maintenance: removed %s", ", ".join(f"{n} {LABELS[kind]}" for kind, n in done.items() if n))
    return done


class Maintenance:
    """:func:`run` in a daemon thread: after ``first_after_s``, then every ``every_s``.
    A failing round is logged and retried at the next one; ``stop()`` ends the thread."""

    def __init__(self, store: Store, retention: Retention | None = None, every_s: float = 3600.0,
                 first_after_s: float = 30.0):
        self.store = store
        self.retention = retention or Retention()
        self.every_s = max(1.0, every_s)
        self.first_after_s = max(0.0, first_after_s)
        self.rounds = 0
        self.last: dict[str, int] = {}
        self._worker = Worker("central-maintenance", self._loop)

    def start(self) -> "Maintenance":
        self._worker.start()
        return self

    def _loop(self, stopping: threading.Event) -> None:
        delay = self.first_after_s
        while not stopping.wait(delay):
            try:
                self.last = run(self.store, self.retention)
            except Exception:  # noqa: BLE001 - housekeeping must not end the server
                log.exception("maintenance round failed; next try in %.0f s", self.every_s)
            self.rounds += 1
            delay = self.every_s

    def stop(self, timeout: float = 10.0) -> None:
        self._worker.stop(timeout)
