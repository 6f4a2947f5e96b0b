"""Heartbeat: tell the platform every N seconds how this kiosk is doing.

Central admins watch hundreds of kiosks and send someone when paper runs low
or a reader faults, so each beat carries the device statuses (state, reason,
code), the offline queue's depth and dead letters, the menu version, free disk,
software version and uptime, and how many wrong maintenance PINs were tried
since the last right one (a count: someone at the cabinet guessing) -- never
anything about residents, never a PIN.  Beats are
jittered (±``jitter`` of the interval) so a fleet that rebooted together after
a power cut does not beat in lockstep.  A failed beat is logged and the next
one simply comes on schedule: a heartbeat is a snapshot, not a message to
deliver, so it never goes through the offline queue.
"""
from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from typing import Callable

from common.worker import Worker
from kiosk import __version__
from kiosk.pin import PinGate
from kiosk.platform import AuthError, PlatformError

log = logging.getLogger(__name__)

NOT_ENROLLED = "kiosk not enrolled (no token): nothing reported until `kioskctl enroll`"


def free_disk_mb(path) -> float:
    try:
        return round(shutil.disk_usage(path).free / 2**20, 1)
    except OSError:
        return 0.0


def build_payload(core, started_monotonic: float) -> dict:
    """The heartbeat body (POST /v1/heartbeat) from a running KioskCore."""
    stats = {"depth": 0, "dead": 0}
    outbox = getattr(core, "outbox", None)
    if outbox is not None:
        try:
            counts = outbox.stats()
            stats = {"depth": counts["depth"], "dead": counts["dead"]}
        except Exception:  # a broken queue is itself news, but must not stop the heartbeat
            log.exception("heartbeat: cannot read queue statistics")
    menu = getattr(core, "menu", None)
    return {
        "kiosk_id": core.config.kiosk.id,
        "version": __version__,
        "uptime_s": round(time.monotonic() - started_monotonic, 1),
        "devices": core.device_statuses(),
        "queue": stats,
        "menu_version": str(menu.version) if menu is not None else None,
        "free_disk_mb": free_disk_mb(core.data_dir),
        "maintenance_pin_failures": PinGate.from_config(core.config).failed_attempts(),
    }


class Heartbeat:
    """Worker thread: ``start()`` once the core is started, ``stop()`` on shutdown."""

    def __init__(self, payload: Callable[[], dict], client, interval_s: float = 60.0, jitter: float = 0.2,
                 rng: random.Random | None = None, bus=None):
        self.payload = payload
        self.client = client
        self.interval_s = interval_s
        self.jitter = jitter
        self.rng = rng or random.Random()
        self.bus = bus
        self.last_server_time: str | None = None
        self.last_ok: float | None = None          # wall time of the last accepted beat
        self.last_error: str = ""
        self._worker = Worker("heartbeat", self._run)

    @classmethod
    def for_core(cls, core, started_monotonic: float | None = None) -> "Heartbeat":
        started = time.monotonic() if started_monotonic is None else started_monotonic
        section = core.config.heartbeat
        return cls(lambda: build_payload(core, started), core.platform, float(section.interval_s),
                   float(section.jitter), bus=core.bus)

    def next_delay(self) -> float:
        spread = self.interval_s * self.jitter
        return max(1.0, self.interval_s + self.rng.uniform(-spread, spread))

    def beat(self) -> bool:
        """Send one heartbeat now; True if the platform took it."""
        if not getattr(self.client, "token", None):
            if self.last_error != NOT_ENROLLED:
                log.info("heartbeat: %s", NOT_ENROLLED)
            self.last_error = NOT_ENROLLED
            return False
        try:
            reply = self.client.heartbeat(self.payload())
        except AuthError as exc:
            self.last_error = f"platform refused the kiosk token ({exc}); re-enrol the kiosk"
            log.error("heartbeat: %s", self.last_error)
            return False
        except PlatformError as exc:
            self.last_error = str(exc)
            log.warning("heartbeat not delivered: %s", exc)
            return False
        self.last_server_time = reply.get("server_time")
        self.last_ok, self.last_error = time.time(), ""
        if self.bus is not None:
            self.bus.publish("heartbeat.sent", "heartbeat", server_time=self.last_server_time)
        return True

    def _run(self, stopping: threading.Event) -> None:
        # First beat soon after start (jittered too), then every interval.
        delay = self.rng.uniform(1.0, max(1.0, min(10.0, self.interval_s)))
        while not stopping.wait(delay):
            self.beat()
            delay = self.next_delay()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
