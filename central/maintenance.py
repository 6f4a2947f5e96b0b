"""Housekeeping of the reference platform, off the request path.

``central serve`` runs :func:`run` in a background thread shortly after start and then every
``--maintenance-every`` (default 1 h); ``central maintenance`` runs it once.  It forgets
idempotency keys older than the key retention (``storage.KEY_RETENTION_DAYS``, see
docs/platform.md "Retention") and heartbeat history older than its retention
(``storage.HEARTBEAT_RETENTION_DAYS``), presence grants and rate-limit counts that ended
(central.grants, central.limits) and audit entries older than ``audit.AUDIT_RETENTION_DAYS``.
Logs carry counts only.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from central import audit, grants, limits
from central.storage import HEARTBEAT_RETENTION_DAYS, KEY_RETENTION_DAYS, Store

log = logging.getLogger("central.maintenance")

DAY_S = 86400.0
LABELS = {"idempotency_keys": "idempotency key(s)", "heartbeats": "heartbeat sample(s)",
          "presence_grants": "ended presence grant(s)", "rate_limits": "ended rate-limit count(s)",
          "audit_entries": "audit entries"}


@dataclass
class Retention:
    keys_s: float = KEY_RETENTION_DAYS * DAY_S
    heartbeats_s: float = HEARTBEAT_RETENTION_DAYS * DAY_S
    audit_s: float = audit.AUDIT_RETENTION_DAYS * DAY_S


def run(store: Store, retention: Retention | None = None, now: float | None = None) -> dict[str, int]:
    """One round of housekeeping; returns what was removed, by kind."""
    retention = retention or Retention()
    done = {"idempotency_keys": store.purge_keys(retention.keys_s, now=now),
            "heartbeats": store.purge_heartbeats(retention.heartbeats_s, now=now),
            "presence_grants": grants.purge_expired(store, now=now),
            "rate_limits": limits.purge_ended(store, now=now),
            "audit_entries": audit.purge(store, retention.audit_s, now=now)}
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="central-maintenance", daemon=True)

    def start(self) -> "Maintenance":
        self._thread.start()
        return self

    def _loop(self) -> None:
        delay = self.first_after_s
        while not self._stop.wait(delay):
            try:
                self.last = run(self.store, self.retention)
            except Exception:  # noqa: BLE001 - housekeeping must not end the server
                log.exception("maintenance round failed; next try in %.0f s", self.every_s)
            self.rounds += 1
            delay = self.every_s

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
