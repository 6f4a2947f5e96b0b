"""systemd notification (sd_notify) without libsystemd.

The kiosk unit is ``Type=notify`` with ``WatchdogSec=``: systemd restarts the
app when ``WATCHDOG=1`` stops arriving.  The kicks must come from the Kivy
main loop itself (``screens.bootstrap.kick_from_kivy_clock``), not from a helper thread, so a
frozen UI -- the failure residents actually see -- stops them.

The protocol is one datagram per message on the unix socket named by
``$NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace).  Under
cage the app is a child of the unit's main process, so the unit sets
``NotifyAccess=all`` and we do not insist that ``$WATCHDOG_PID`` is ours.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)


class Watchdog:
    """Sends READY/WATCHDOG/STATUS to systemd; every method is a no-op when
    the app was not started by systemd (no ``$NOTIFY_SOCKET``)."""

    def __init__(self, socket_path: str | None, watchdog_usec: int | None = None):
        self.socket_path = socket_path or None
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.kicks_sent = 0
        self._failing = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Watchdog":
        env = os.environ if environ is None else environ
        usec = env.get("WATCHDOG_USEC", "")
        try:
            watchdog_usec = int(usec) if usec else None
        except ValueError:
            log.warning("ignoring malformed WATCHDOG_USEC=%r", usec)
            watchdog_usec = None
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec)

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    @property
    def kick_interval(self) -> float | None:
        """Seconds between kicks: half the watchdog timeout, as systemd advises."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def notify(self, message: str) -> bool:
        """Send one notification; False if it could not be sent (logged once per outage)."""
        if not self.enabled:
            return False
        address = self.socket_path
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # Never block: this runs on the UI thread, and a full receive queue
                # (systemd busy) must cost one kick, not freeze the kiosk.
                self._sock.sendto(message.encode("utf-8"), socket.MSG_DONTWAIT, address)
        except OSError as exc:
            if not self._failing:   # once per outage: a kick fails every few seconds while it lasts
                log.warning("sd_notify %s failed: %s", message.split("=", 1)[0], exc)
            self._failing = True
            return False
        if self._failing:
            log.info("sd_notify works again")
            self._failing = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def kick(self) -> bool:
        sent = self.notify("WATCHDOG=1")
        if sent:
            self.kicks_sent += 1
        return sent

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
