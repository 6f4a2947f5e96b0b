"""The one interface every device adapter implements.

An adapter owns its connection (serial port, camera, printer) the way
OctoPrint's comm layer owns the printer port: nobody else touches it, and it
reports what it is doing through a :class:`DeviceStatus`.  Work happens on the
adapter's own worker thread; results and status changes are published on the
:class:`~common.events.EventBus` from that thread (the UI re-posts them to its
main thread).  A missing or failing device never raises into the app: its
status says why, in words a technician understands, and a supervisor loop
reconnects with exponential backoff after an unplug.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from common.worker import Worker
from common.backoff import full_jitter
from common.events import EventBus

log = logging.getLogger(__name__)


class State(str, enum.Enum):
    READY = "ready"
    BUSY = "busy"
    WARNING = "warning"            # works, but a technician should look (paper near end)
    FAULT = "fault"                # connected but cannot work (paper out, cover open)
    DISCONNECTED = "disconnected"  # not there / unplugged / cannot open


@dataclass(frozen=True)
class DeviceStatus:
    state: State
    reason: str = ""       # technician-facing cause, e.g. "serial port /dev/ttyUSB0: no such device"
    code: str = ""         # stable machine code for UI wording and heartbeats, e.g. "paper_out"

    @property
    def usable(self) -> bool:
        return self.state in (State.READY, State.BUSY, State.WARNING)

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state.value, "reason": self.reason, "code": self.code}


class DeviceError(Exception):
    """Base of every adapter's own errors; ``code`` matches DeviceStatus.code."""

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.code = code


class Device:
    """Base adapter: status bookkeeping, event publishing, reconnect supervision.

    Subclasses implement ``_connect`` (open the hardware, raise on failure),
    ``_disconnect`` and, if they poll, ``_poll`` (called every
    ``poll_interval`` seconds while connected; raise DeviceError or OSError
    when the device is gone).
    """

    kind = "device"              # "id_reader", "camera", "receipt_printer", ...
    poll_interval = 0.5
    backoff_base = 0.5
    backoff_cap = 30.0

    def __init__(self, role: str, bus: EventBus | None = None):
        self.role = role
        self.bus = bus or EventBus()
        self._status = DeviceStatus(State.DISCONNECTED, "not opened yet", "not_opened")
        self._status_lock = threading.Lock()
        self._supervisor = Worker(f"dev-{role}", self._supervise)

    # -- status ---------------------------------------------------------
    @property
    def status(self) -> DeviceStatus:
        with self._status_lock:
            return self._status

    def set_status(self, state: State, reason: str = "", code: str = "") -> None:
        new = DeviceStatus(state, reason, code)
        with self._status_lock:
            if new == self._status:
                return
            self._status = new
        log.info("device %s: %s %s", self.role, state.value, reason)
        self.publish("device.status", **new.as_dict())

    def publish(self, topic: str, **data: Any) -> None:
        self.bus.publish(topic, self.role, **data)

    # -- lifecycle --------------------------------------------------------
    def open(self) -> None:
        """Start the supervisor thread; returns at once, status follows."""
        self._supervisor.start()

    def close(self) -> None:
        self._supervisor.stop()
        self._safe_disconnect()
        self.set_status(State.DISCONNECTED, "closed", "closed")

    def _safe_disconnect(self) -> None:
        try:
            self._disconnect()
        except Exception:  # closing a dead handle may fail; nothing to do about it
            log.debug("device %s: error while disconnecting", self.role, exc_info=True)

    def _supervise(self, stopping: threading.Event) -> None:
        attempt = 0
        while not stopping.is_set():
            try:
                self._connect()
            except Exception as exc:  # any failure to open is a status, never a crash
                self.set_status(State.DISCONNECTED, _describe(exc), getattr(exc, "code", "open_failed"))
                attempt += 1
                stopping.wait(max(full_jitter(attempt + 1, self.backoff_base, self.backoff_cap), 0.05))
                continue
            attempt = 0
            if self.status.state == State.DISCONNECTED:
                self.set_status(State.READY)
            try:
                while not stopping.is_set():
                    self._poll()
                    stopping.wait(self.poll_interval)
            except Exception as exc:
                self.set_status(State.DISCONNECTED, _describe(exc), getattr(exc, "code", "lost"))
                self._safe_disconnect()

    # -- for subclasses -------------------------------------------------
    def _connect(self) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        pass

    def _poll(self) -> None:
        pass


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if isinstance(exc, DeviceError) else f"{exc.__class__.__name__}: {text}"


def wait_for(predicate, timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout``; for CLIs and tests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
